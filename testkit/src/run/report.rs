//! The report of a chaos run: serde for machines, `Display` as kubectl-like plain text
//! for people, ending in the command that replays the run.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::checker::history::{Call, History, Outcome};
use crate::checker::CheckReport;
use crate::nemesis::{AppliedFault, FaultResult, LeaderChange, NemesisKind};
use crate::workload::WorkloadKind;

/// Counts of the kv workload's operations.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpStats {
    /// Every operation.
    pub total: u64,
    /// Answered by the store.
    pub ok: u64,
    /// Definitely not applied.
    pub fail: u64,
    /// Outcome unknown (timeouts, lost members).
    pub unknown: u64,
    /// Reads.
    pub gets: u64,
    /// Unconditional writes.
    pub puts: u64,
    /// Compare-and-swaps.
    pub cas: u64,
}

impl OpStats {
    /// Counts the operations of `history`.
    pub fn of(history: &History) -> OpStats {
        let mut s = OpStats::default();
        for op in &history.ops {
            s.total += 1;
            match op.outcome {
                Outcome::Ok(_) => s.ok += 1,
                Outcome::Fail => s.fail += 1,
                Outcome::Unknown => s.unknown += 1,
            }
            match op.call {
                Call::Get => s.gets += 1,
                Call::Put { .. } => s.puts += 1,
                Call::Cas { .. } => s.cas += 1,
                Call::Delete => {}
            }
        }
        s
    }
}

/// Counts of the watch workload.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchStats {
    /// Watchers recorded.
    pub watchers: usize,
    /// Writes acknowledged under the watched prefix.
    pub writes: u64,
    /// Events delivered to all watchers.
    pub events: u64,
    /// Times a watcher reopened its watch.
    pub resumes: u64,
    /// Compactions that succeeded.
    pub compactions: u64,
}

/// The outcome of one chaos run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosReport {
    /// The seed.
    pub seed: u64,
    /// Configured duration of faults and load, in milliseconds.
    pub duration_ms: u64,
    /// Cluster size.
    pub members: u64,
    /// Nemesis kinds drawn from.
    pub nemesis: Vec<NemesisKind>,
    /// Workloads run.
    pub workload: WorkloadKind,
    /// The backend the run used.
    pub backend: String,
    /// Hash of the fault schedule (FNV-1a, hex): equal seeds give equal hashes.
    pub schedule_hash: String,
    /// The kv workload's operations.
    pub ops: OpStats,
    /// The watch workload's counts, if it ran.
    pub watch: Option<WatchStats>,
    /// Every scheduled fault and what became of it.
    pub faults: Vec<AppliedFault>,
    /// Every change of leader seen.
    pub leader_changes: Vec<LeaderChange>,
    /// Changes from one leader to a different one.
    pub leader_handovers: usize,
    /// When everything was healed, in milliseconds since the start.
    pub healed_at_ms: u64,
    /// How long after healing the first write succeeded.
    pub write_after_heal_ms: Option<u64>,
    /// One report per check run.
    pub checks: Vec<CheckReport>,
    /// The command that replays this run.
    pub replay: String,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: u64,
}

impl ChaosReport {
    /// Violations found by every check together.
    pub fn violations(&self) -> usize {
        self.checks.iter().map(|c| c.violations.len()).sum()
    }

    /// True when every check ran to completion and found nothing.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(CheckReport::passed)
    }

    /// Faults actually applied.
    pub fn faults_applied(&self) -> usize {
        self.faults
            .iter()
            .filter(|f| f.result == FaultResult::Applied)
            .count()
    }
}

fn secs(ms: u64) -> String {
    format!("{:.2}s", ms as f64 / 1000.0)
}

fn node(n: Option<u64>) -> String {
    n.map(|n| format!("n{n}")).unwrap_or_else(|| "-".into())
}

impl fmt::Display for ChaosReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let verdict = if self.passed() {
            "PASS"
        } else if self.violations() > 0 {
            "FAIL"
        } else {
            "INCONCLUSIVE"
        };
        writeln!(f, "Result:           {verdict}")?;
        writeln!(f, "Seed:             {}", self.seed)?;
        writeln!(f, "Duration:         {}", secs(self.duration_ms))?;
        writeln!(f, "Members:          {}", self.members)?;
        writeln!(f, "Backend:          {}", self.backend)?;
        writeln!(
            f,
            "Nemesis:          {}",
            NemesisKind::list_to_string(&self.nemesis)
        )?;
        writeln!(f, "Workload:         {}", self.workload)?;
        writeln!(f, "Schedule hash:    fnv1a64:{}", self.schedule_hash)?;
        let o = &self.ops;
        writeln!(
            f,
            "Operations:       {} (ok {}, fail {}, unknown {}; get {}, put {}, cas {})",
            o.total, o.ok, o.fail, o.unknown, o.gets, o.puts, o.cas
        )?;
        if let Some(w) = &self.watch {
            writeln!(
                f,
                "Watch:            {} watchers, {} writes, {} events, {} resumes, {} compactions",
                w.watchers, w.writes, w.events, w.resumes, w.compactions
            )?;
        }
        writeln!(
            f,
            "Faults:           {} scheduled, {} applied",
            self.faults.len(),
            self.faults_applied()
        )?;
        writeln!(f, "Leader changes:   {}", self.leader_handovers)?;
        let live = self
            .write_after_heal_ms
            .map(|ms| format!("{ms}ms after heal"))
            .unwrap_or_else(|| "none".into());
        writeln!(
            f,
            "Healed at:        {} (first write {live})",
            secs(self.healed_at_ms)
        )?;
        writeln!(f, "Elapsed:          {}", secs(self.elapsed_ms))?;

        writeln!(f, "\nFAULTS")?;
        writeln!(
            f,
            "{:<8} {:<8} {:<26} {:<10} RESULT",
            "AT", "UNTIL", "FAULT", "HIT"
        )?;
        for a in &self.faults {
            let hit: Vec<String> = a.hit.iter().map(|n| format!("n{n}")).collect();
            let result = match &a.result {
                FaultResult::Applied => "applied".to_string(),
                FaultResult::Skipped(why) => format!("skipped: {why}"),
                FaultResult::Failed(why) => format!("failed: {why}"),
            };
            writeln!(
                f,
                "{:<8} {:<8} {:<26} {:<10} {result}",
                secs(a.at_ms),
                secs(a.healed_at_ms),
                a.fault.to_string(),
                if hit.is_empty() {
                    "-".into()
                } else {
                    hit.join(",")
                },
            )?;
        }

        writeln!(f, "\nLEADERS")?;
        writeln!(f, "{:<8} {:<6} TO", "AT", "FROM")?;
        for c in &self.leader_changes {
            writeln!(f, "{:<8} {:<6} {}", secs(c.at_ms), node(c.from), node(c.to))?;
        }

        writeln!(f, "\nCHECKS")?;
        writeln!(
            f,
            "{:<16} {:<13} {:<9} {:<9} VIOLATIONS",
            "NAME", "RESULT", "OPS", "EVENTS"
        )?;
        for c in &self.checks {
            let result = if c.passed() {
                "ok"
            } else if c.violations.is_empty() {
                "INCONCLUSIVE"
            } else {
                "VIOLATED"
            };
            writeln!(
                f,
                "{:<16} {:<13} {:<9} {:<9} {}",
                c.name,
                result,
                c.ops_checked,
                c.events_checked,
                c.violations.len()
            )?;
        }
        let troubles: Vec<&CheckReport> = self.checks.iter().filter(|c| !c.passed()).collect();
        if !troubles.is_empty() {
            writeln!(f, "\nVIOLATIONS")?;
            for c in troubles {
                if let Some(why) = &c.inconclusive {
                    writeln!(f, "{}: inconclusive: {why}", c.name)?;
                }
                for v in &c.violations {
                    writeln!(f, "{} [{}] {}:", c.name, v.property, v.subject)?;
                    for line in v.detail.lines() {
                        writeln!(f, "    {line}")?;
                    }
                }
            }
        }
        write!(f, "\nReplay:           {}", self.replay)
    }
}
