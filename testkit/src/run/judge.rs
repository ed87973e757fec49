//! Judging a recording: the checkers the run wires in (linearizability, watch
//! guarantees, durability, liveness), and the report built from their verdicts.

use std::collections::BTreeMap;

use super::report::{ChaosReport, OpStats, WatchStats};
use super::ChaosRecording;
use crate::checker::history::{Call, History, OpIndex, Outcome, Reply, Revision};
use crate::checker::watch::WatchMessage;
use crate::checker::{linearizable, watch, CheckReport, ReportedViolation};

/// Runs every check that applies to `rec` and summarises the run.
pub fn judge(rec: &ChaosRecording) -> ChaosReport {
    let mut checks = Vec::new();
    if rec.config.workload.kv() {
        let result = linearizable::check(&rec.history, &linearizable::Options::default());
        checks.push(result.report(&rec.history));
        checks.push(durability(&rec.history, &rec.final_reads));
    }
    if let Some(out) = &rec.watch {
        let mut committed = out.committed.clone();
        committed.add_observed(&out.recordings);
        let mut report = watch::check(&committed, &out.recordings).report();
        report.ops_checked = out.writes;
        for w in &out.lagging {
            report.violations.push(ReportedViolation {
                property: "caught-up".into(),
                subject: w.clone(),
                detail: format!(
                    "did not reach the final revision within {:?} of healing",
                    rec.config.catch_up
                ),
            });
        }
        checks.push(report);
    }
    checks.push(liveness(rec));

    let watch = rec.watch.as_ref().map(|out| WatchStats {
        watchers: out.recordings.len(),
        writes: out.writes,
        events: out
            .recordings
            .iter()
            .flat_map(|r| &r.messages)
            .map(|m| match m {
                WatchMessage::Events { events, .. } => events.len() as u64,
                _ => 0,
            })
            .sum(),
        resumes: out
            .recordings
            .iter()
            .flat_map(|r| &r.messages)
            .filter(|m| matches!(m, WatchMessage::Resumed { .. }))
            .count() as u64,
        compactions: out.compactions,
    });
    ChaosReport {
        seed: rec.config.seed,
        duration_ms: rec.config.duration.as_millis() as u64,
        members: rec.config.members,
        nemesis: rec.config.nemesis.clone(),
        workload: rec.config.workload,
        backend: rec.backend.clone(),
        schedule_hash: rec.schedule.hash_hex(),
        ops: OpStats::of(&rec.history),
        watch,
        faults: rec.nemesis.faults.clone(),
        leader_changes: rec.nemesis.leader_changes.clone(),
        leader_handovers: rec.nemesis.leader_handovers(),
        healed_at_ms: rec.nemesis.healed_at_ms,
        write_after_heal_ms: rec.write_after_heal_ms,
        checks,
        replay: rec.config.replay_command(),
        elapsed_ms: rec.elapsed_ms,
    }
}

/// Every acknowledged write is still there after healing: each key's final read shows
/// the last acknowledged write to it, or a later write (acknowledged or not).
pub fn durability(history: &History, final_reads: &[OpIndex]) -> CheckReport {
    let mut report = CheckReport::new("durability");
    // Per key: the acknowledged write with the highest revision, and every value written.
    let mut last_acked: BTreeMap<&str, (Revision, OpIndex)> = BTreeMap::new();
    let mut written: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        let value = match &op.call {
            Call::Put { value } | Call::Cas { value, .. } => value.as_str(),
            _ => continue,
        };
        if op.outcome != Outcome::Fail {
            written.entry(op.key.as_str()).or_default().push(value);
        }
        if let Some(r) = op.returned_revision() {
            report.ops_checked += 1;
            let slot = last_acked.entry(op.key.as_str()).or_insert((r, OpIndex(i)));
            if r > slot.0 {
                *slot = (r, OpIndex(i));
            }
        }
    }
    for idx in final_reads {
        let Some(read) = history.ops.get(idx.0) else {
            continue;
        };
        let key = read.key.as_str();
        let Some(&(rev, w)) = last_acked.get(key) else {
            continue;
        };
        let acked = &history.ops[w.0];
        let fail = |detail: String| ReportedViolation {
            property: "durable".into(),
            subject: key.to_string(),
            detail: format!("{detail}\n  acknowledged {w}: {acked}\n  final read {idx}: {read}"),
        };
        match &read.outcome {
            Outcome::Ok(Reply::Got(Some(v))) if v.mod_revision < rev => {
                report.violations.push(fail(format!(
                    "reads revision {} older than acknowledged revision {rev}",
                    v.mod_revision
                )))
            }
            Outcome::Ok(Reply::Got(Some(v))) if v.mod_revision == rev => {
                let expected = match &acked.call {
                    Call::Put { value } | Call::Cas { value, .. } => value.as_str(),
                    _ => "",
                };
                if v.value != expected {
                    report.violations.push(fail(format!(
                        "revision {rev} holds {:?}, not the acknowledged value",
                        v.value
                    )));
                }
            }
            Outcome::Ok(Reply::Got(Some(v))) => {
                let known = written
                    .get(key)
                    .is_some_and(|vs| vs.contains(&v.value.as_str()));
                if !known {
                    report
                        .violations
                        .push(fail(format!("holds {:?}, which no client wrote", v.value)));
                }
            }
            Outcome::Ok(Reply::Got(None)) => {
                report.violations.push(fail("the key is gone".to_string()))
            }
            other => report
                .violations
                .push(fail(format!("the final read did not succeed ({other})"))),
        }
    }
    report
}

/// After healing, a write succeeded within the bound.
fn liveness(rec: &ChaosRecording) -> CheckReport {
    let mut report = CheckReport::new("liveness");
    report.ops_checked = 1;
    let bound = format!(
        "{} election timeouts ({}ms)",
        rec.config.liveness_election_timeouts, rec.liveness_limit_ms
    );
    if rec.write_after_heal_ms.is_none() {
        report.violations.push(ReportedViolation {
            property: "live".into(),
            subject: "write after heal".into(),
            detail: format!("no write succeeded within {bound} of healing"),
        });
    }
    if let Some(e) = &rec.nemesis.heal_error {
        report.violations.push(ReportedViolation {
            property: "healable".into(),
            subject: "heal".into(),
            detail: e.clone(),
        });
    }
    report
}
