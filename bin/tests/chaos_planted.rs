//! A member that serves linearizable reads without a read index (planted bug
//! `stale-read`) answers stale reads once deposed; a short partition run on member
//! processes, with clients pinned to different members and a read-only client pinned
//! to each member, catches it within five seeds.
//! Needs root, `ip netns` and `nft` (skipped with the reason otherwise) and a `hive`
//! built with `hive-raftstore/failpoints` (the CI feature set).

use std::time::Duration;

use hive_raftstore::planted::{self, Bug};
use hive_testkit::harness::process::unavailable;
use hive_testkit::harness::{ProcessBackend, ProcessOptions};
use hive_testkit::nemesis::{Fault, Target};
use hive_testkit::run::BackendKind;
use hive_testkit::{judge, record, ChaosConfig, NemesisKind, WorkloadKind};

/// Stale reads from a deposed leader are reported as linearizability violations.
///
/// The window is a leader cut off from the majority (isolated, or alone on the minority
/// side): it still believes it leads, and with the bug answers reads from its own state
/// while the majority's new leader takes writes. A writing client pinned to it soon
/// times out and moves elsewhere, so detection used to depend on timing; the read-only
/// clients (one pinned to each member) keep reading through the deposed leader for the
/// whole fault. Only seeds whose schedule cuts the leader off are run.
#[test]
fn stale_reads_from_a_deposed_leader_are_caught_within_five_seeds() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    if !planted::AVAILABLE {
        eprintln!("skipped: planted bugs need hive-raftstore's `failpoints` feature");
        return;
    }
    actix::System::new().block_on(async {
        let mut caught = None;
        for seed in 1..=5 {
            let mut config = ChaosConfig::new(seed, Duration::from_secs(8));
            config.nemesis = vec![NemesisKind::Partition];
            config.workload = WorkloadKind::Kv;
            config.backend = BackendKind::Process;
            config.kv_readers = 3;
            let cuts_off_the_leader = config.schedule().faults.iter().any(|f| {
                matches!(
                    f.fault,
                    Fault::Isolate {
                        target: Target::Leader
                    } | Fault::LeaderMinority
                )
            });
            if !cuts_off_the_leader {
                eprintln!("seed {seed}: its schedule never cuts the leader off; not run");
                continue;
            }
            let mut opts = ProcessOptions::new(env!("CARGO_BIN_EXE_hive"));
            opts.planted = vec![Bug::StaleRead];
            let mut b = ProcessBackend::start(3, opts)
                .await
                .expect("member processes start");
            let report = judge(&record(&mut b, &config).await);
            drop(b);
            eprintln!("---- stale-read, seed {seed} ----\n{report}");
            let lin = report
                .checks
                .iter()
                .find(|c| c.name == "linearizability")
                .expect("linearizability was checked");
            if !lin.violations.is_empty() {
                caught = Some(seed);
                break;
            }
        }
        let seed = caught.expect("stale reads are caught within 5 seeds");
        eprintln!("caught at seed {seed}");
    });
}
