//! A short seeded chaos run on the real store — kills and partitions on three in-process
//! members under both workloads — finds no violation, sees the leader change, and does
//! real work. A failure prints the report, which ends in the command that replays it.

use std::time::Duration;

use hive_testkit::{run, ChaosConfig, NemesisKind, WorkloadKind};

/// Under kills and partitions the store stays linearizable, keeps etcd's watch
/// guarantees, loses no acknowledged write, and accepts writes again soon after the
/// faults heal; the faults really did move leadership and the clients really did work.
#[actix_rt::test]
async fn a_short_kill_and_partition_run_finds_no_violation() {
    let mut config = ChaosConfig::new(4, Duration::from_secs(8));
    config.nemesis = vec![NemesisKind::Kill, NemesisKind::Partition];
    config.workload = WorkloadKind::Both;
    let report = run(&config).await.expect("the run completes");
    eprintln!("{report}");
    assert!(
        report.passed(),
        "violations found; replay: {}\n{report}",
        report.replay
    );
    assert!(report.leader_handovers >= 1, "no leader change\n{report}");
    assert!(report.ops.ok >= 200, "too few operations\n{report}");
    let watch = report.watch.as_ref().expect("the watch workload ran");
    assert!(watch.events >= 100 && watch.compactions >= 1, "{report}");
}
