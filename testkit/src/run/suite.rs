//! A suite: many seeded runs per nemesis, each judged on its own and against the
//! thresholds that make a run count (enough operations checked, enough leader changes),
//! summarised one line per run. This is what `hive chaos suite` runs for the long
//! acceptance runs; every line carries the command that replays that run alone.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{format_duration, BackendKind, ChaosConfig, ChaosReport};
use crate::nemesis::NemesisKind;
use crate::workload::WorkloadKind;

/// What a suite runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteConfig {
    /// The first seed; runs use `first_seed .. first_seed + seeds`.
    pub first_seed: u64,
    /// Seeds per nemesis.
    pub seeds: u64,
    /// The nemeses, each run on its own.
    pub nemeses: Vec<NemesisKind>,
    /// Duration of each run's fault phase.
    pub duration: Duration,
    /// Members of each cluster.
    pub members: u64,
    /// Workloads of each run.
    pub workload: WorkloadKind,
    /// A run counts only if its checkers examined at least this many operations.
    pub min_ops: u64,
    /// A run counts only if it saw at least this many changes of leader.
    pub min_leader_changes: usize,
    /// The cluster backend.
    pub backend: BackendKind,
}

impl SuiteConfig {
    /// The acceptance suite: 20 seeds of 30 s for every nemesis on 3 members with both
    /// workloads, each run checking at least 2,000 operations across 3 leader changes.
    pub fn acceptance() -> SuiteConfig {
        SuiteConfig {
            first_seed: 1,
            seeds: 20,
            nemeses: NemesisKind::ALL.to_vec(),
            duration: Duration::from_secs(30),
            members: 3,
            workload: WorkloadKind::Both,
            min_ops: 2_000,
            min_leader_changes: 3,
            backend: BackendKind::Local,
        }
    }

    /// Every run of the suite, nemesis by nemesis, seed by seed.
    pub fn runs(&self) -> Vec<ChaosConfig> {
        let mut out = Vec::new();
        for &kind in &self.nemeses {
            for seed in self.first_seed..self.first_seed + self.seeds {
                let mut c = ChaosConfig::new(seed, self.duration);
                c.members = self.members;
                c.nemesis = vec![kind];
                c.workload = self.workload;
                c.leader_churn = !moves_leadership(kind);
                c.backend = self.backend;
                out.push(c);
            }
        }
        out
    }
}

/// Whether faults of `kind` move leadership by themselves. Those that do not are
/// interleaved with leader kills in a suite, so every run sees leader changes.
pub fn moves_leadership(kind: NemesisKind) -> bool {
    matches!(
        kind,
        NemesisKind::Partition | NemesisKind::Kill | NemesisKind::Pause
    )
}

/// One run of a suite, as a line of its summary.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteRun {
    /// The nemesis under test.
    pub nemesis: NemesisKind,
    /// Whether leader kills were interleaved.
    pub leader_churn: bool,
    /// The seed.
    pub seed: u64,
    /// Violations found by every check.
    pub violations: usize,
    /// Whether every check completed and found nothing.
    pub checks_passed: bool,
    /// kv operations recorded (and checked for linearizability).
    pub kv_ops: u64,
    /// Operations examined by all checkers: the kv history plus acknowledged watch writes.
    pub ops_checked: u64,
    /// Watch events delivered to the watchers.
    pub watch_events: u64,
    /// Changes from one leader to another.
    pub leader_changes: usize,
    /// Faults applied.
    pub faults_applied: usize,
    /// Faults the backend could not inject.
    pub faults_skipped: usize,
    /// Hash of the fault schedule.
    pub schedule_hash: String,
    /// Wall time of the run, in milliseconds.
    pub elapsed_ms: u64,
    /// Why the run does not count, if it does not: violations, or a threshold missed.
    pub problems: Vec<String>,
    /// The command that replays this run.
    pub replay: String,
    /// The full report, kept for runs with problems.
    pub report: Option<ChaosReport>,
}

impl SuiteRun {
    /// Summarises `report` against the suite's thresholds.
    pub fn of(report: ChaosReport, leader_churn: bool, suite: &SuiteConfig) -> SuiteRun {
        let ops_checked: u64 = report
            .checks
            .iter()
            .filter(|c| c.name == "linearizability" || c.name == "watch")
            .map(|c| c.ops_checked)
            .sum();
        let skipped = report
            .faults
            .iter()
            .filter(|f| matches!(f.result, crate::nemesis::FaultResult::Skipped(_)))
            .count();
        let mut problems = Vec::new();
        if report.violations() > 0 {
            problems.push(format!("{} violations", report.violations()));
        } else if !report.passed() {
            problems.push("a check was inconclusive".to_string());
        }
        if ops_checked < suite.min_ops {
            problems.push(format!(
                "{ops_checked} operations checked, fewer than {}",
                suite.min_ops
            ));
        }
        if report.leader_handovers < suite.min_leader_changes {
            problems.push(format!(
                "{} leader changes, fewer than {}",
                report.leader_handovers, suite.min_leader_changes
            ));
        }
        if report.faults_applied() == 0 {
            problems.push("no fault was applied".to_string());
        }
        let keep = !problems.is_empty();
        SuiteRun {
            nemesis: report.nemesis.first().copied().unwrap_or(NemesisKind::Kill),
            leader_churn,
            seed: report.seed,
            violations: report.violations(),
            checks_passed: report.passed(),
            kv_ops: report.ops.total,
            ops_checked,
            watch_events: report.watch.as_ref().map(|w| w.events).unwrap_or(0),
            leader_changes: report.leader_handovers,
            faults_applied: report.faults_applied(),
            faults_skipped: skipped,
            schedule_hash: report.schedule_hash.clone(),
            elapsed_ms: report.elapsed_ms,
            problems,
            replay: report.replay.clone(),
            report: keep.then_some(report),
        }
    }

    /// A run that could not even complete (the cluster did not start, ...).
    pub fn broken(config: &ChaosConfig, error: String) -> SuiteRun {
        SuiteRun {
            nemesis: config.nemesis.first().copied().unwrap_or(NemesisKind::Kill),
            leader_churn: config.leader_churn,
            seed: config.seed,
            violations: 0,
            checks_passed: false,
            kv_ops: 0,
            ops_checked: 0,
            watch_events: 0,
            leader_changes: 0,
            faults_applied: 0,
            faults_skipped: 0,
            schedule_hash: config.schedule().hash_hex(),
            elapsed_ms: 0,
            problems: vec![format!("the run did not complete: {error}")],
            replay: config.replay_command(),
            report: None,
        }
    }

    /// True when the run found nothing wrong and met every threshold.
    pub fn counts(&self) -> bool {
        self.problems.is_empty()
    }

    /// The header of [`SuiteRun::row`].
    pub fn header() -> String {
        format!(
            "{:<10} {:<6} {:<7} {:<10} {:<8} {:<8} {:<8} {:<7} {:<8} {:<17} RESULT",
            "NEMESIS",
            "SEED",
            "CHURN",
            "VIOLATIONS",
            "KV-OPS",
            "CHECKED",
            "EVENTS",
            "LEADERS",
            "ELAPSED",
            "SCHEDULE"
        )
    }

    /// One line of the summary table.
    pub fn row(&self) -> String {
        let result = if self.counts() {
            "ok".to_string()
        } else {
            format!("FAIL: {}", self.problems.join("; "))
        };
        format!(
            "{:<10} {:<6} {:<7} {:<10} {:<8} {:<8} {:<8} {:<7} {:<8} {:<17} {result}",
            self.nemesis.name(),
            self.seed,
            if self.leader_churn { "yes" } else { "no" },
            self.violations,
            self.kv_ops,
            self.ops_checked,
            self.watch_events,
            self.leader_changes,
            format!("{:.1}s", self.elapsed_ms as f64 / 1000.0),
            self.schedule_hash,
        )
    }
}

/// The outcome of a suite.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuiteReport {
    /// What was run.
    pub config: SuiteConfig,
    /// One entry per run, in the order run.
    pub runs: Vec<SuiteRun>,
}

impl SuiteReport {
    /// Runs that found nothing wrong and met every threshold.
    pub fn counted(&self) -> usize {
        self.runs.iter().filter(|r| r.counts()).count()
    }

    /// Violations over every run.
    pub fn violations(&self) -> usize {
        self.runs.iter().map(|r| r.violations).sum()
    }

    /// True when every planned run ran and counts.
    pub fn passed(&self) -> bool {
        let planned = self.config.seeds as usize * self.config.nemeses.len();
        self.runs.len() == planned && self.counted() == planned
    }
}

impl fmt::Display for SuiteReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.config;
        let planned = c.seeds as usize * c.nemeses.len();
        writeln!(
            f,
            "Suite:            {} seeds from {} x {} on {} members, {} each, workload {}, backend {}",
            c.seeds,
            c.first_seed,
            NemesisKind::list_to_string(&c.nemeses),
            c.members,
            format_duration(c.duration),
            c.workload,
            c.backend
        )?;
        writeln!(
            f,
            "Thresholds:       >= {} operations checked, >= {} leader changes, 0 violations",
            c.min_ops, c.min_leader_changes
        )?;
        writeln!(
            f,
            "Result:           {} of {planned} runs count ({} run, {} violations)",
            self.counted(),
            self.runs.len(),
            self.violations()
        )?;
        writeln!(f, "\n{}", SuiteRun::header())?;
        for r in &self.runs {
            writeln!(f, "{}", r.row())?;
        }
        writeln!(f, "\nPER NEMESIS")?;
        writeln!(
            f,
            "{:<10} {:<6} {:<7} {:<10} {:<12} {:<12}",
            "NEMESIS", "RUNS", "COUNT", "VIOLATIONS", "MIN-CHECKED", "MIN-LEADERS"
        )?;
        for kind in &c.nemeses {
            let runs: Vec<&SuiteRun> = self.runs.iter().filter(|r| r.nemesis == *kind).collect();
            writeln!(
                f,
                "{:<10} {:<6} {:<7} {:<10} {:<12} {:<12}",
                kind.name(),
                runs.len(),
                runs.iter().filter(|r| r.counts()).count(),
                runs.iter().map(|r| r.violations).sum::<usize>(),
                runs.iter().map(|r| r.ops_checked).min().unwrap_or(0),
                runs.iter().map(|r| r.leader_changes).min().unwrap_or(0),
            )?;
        }
        let failed: Vec<&SuiteRun> = self.runs.iter().filter(|r| !r.counts()).collect();
        if !failed.is_empty() {
            writeln!(f, "\nREPLAY")?;
            for r in failed {
                writeln!(f, "{}", r.replay)?;
            }
        }
        Ok(())
    }
}

/// Replays of a suite's runs must see the same schedule: equal hashes per run.
#[cfg(test)]
mod tests {
    use super::*;

    /// The suite plans seeds x nemeses runs, interleaves leader kills only for faults
    /// that do not move leadership, and each run's replay command names the churn.
    #[test]
    fn the_acceptance_suite_plans_every_seed_for_every_nemesis() {
        let s = SuiteConfig::acceptance();
        let runs = s.runs();
        assert_eq!(runs.len(), 120);
        for r in &runs {
            assert_eq!(r.nemesis.len(), 1);
            assert_eq!(r.leader_churn, !moves_leadership(r.nemesis[0]));
            assert_eq!(
                r.replay_command().contains("--leader-churn"),
                r.leader_churn,
                "{}",
                r.replay_command()
            );
        }
        let skew = runs
            .iter()
            .find(|r| r.nemesis == [NemesisKind::Skew])
            .expect("a skew run");
        assert!(
            skew.replay_command()
                .starts_with("hive chaos run --seed 1 --duration 30s --nemesis skew"),
            "{}",
            skew.replay_command()
        );
    }
}
