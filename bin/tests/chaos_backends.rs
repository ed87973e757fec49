//! Both cluster backends pass the same behaviour suite (`hive_testkit::harness::suite`),
//! and a short chaos run on the multi-process backend finds no violation. The process
//! backend needs root, `ip netns` and `nft`; without them its tests say why and pass
//! without running (CI runs as root).

use std::time::Duration;

use hive_testkit::harness::process::unavailable;
use hive_testkit::harness::suite::behaviour_suite;
use hive_testkit::harness::{ClusterBackend, ProcessBackend, ProcessOptions};
use hive_testkit::run::BackendKind;
use hive_testkit::{
    judge, record, ChaosConfig, LocalBackend, LocalOptions, NemesisKind, WorkloadKind,
};

fn process_options() -> ProcessOptions {
    ProcessOptions::new(env!("CARGO_BIN_EXE_hive"))
}

/// Prints each member's log tail when a process-backend test fails.
fn dump_logs(b: &ProcessBackend) {
    for node in b.members() {
        if let Some(path) = b.log_path(node) {
            let log = std::fs::read_to_string(&path).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(30).collect();
            eprintln!("---- last lines of {node} ({}) ----", path.display());
            for line in tail.iter().rev() {
                eprintln!("{line}");
            }
        }
    }
}

/// The in-process backend elects, serves, survives kills, pauses, partitions and
/// membership changes, as the suite demands.
#[test]
fn the_in_process_backend_passes_the_behaviour_suite() {
    actix::System::new().block_on(async {
        let mut b = LocalBackend::start(3, LocalOptions::default())
            .await
            .expect("cluster starts");
        behaviour_suite(&mut b).await.expect("the suite passes");
    });
}

/// The multi-process backend (hive server processes in network namespaces) passes the
/// very same suite.
#[test]
fn the_process_backend_passes_the_behaviour_suite() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    actix::System::new().block_on(async {
        let mut b = ProcessBackend::start(3, process_options())
            .await
            .expect("member processes start");
        if let Err(e) = behaviour_suite(&mut b).await {
            dump_logs(&b);
            panic!("the suite fails on the process backend: {e:#}");
        }
    });
}

/// A short seeded run on member processes — partitions through nftables, SIGKILL,
/// SIGSTOP and a member joining and leaving — under both workloads finds no violation,
/// and the faults really were applied.
#[test]
fn a_short_chaos_run_on_member_processes_finds_no_violation() {
    if let Some(why) = unavailable() {
        eprintln!("skipped: {why}");
        return;
    }
    actix::System::new().block_on(async {
        let mut config = ChaosConfig::new(11, Duration::from_secs(10));
        config.nemesis = vec![
            NemesisKind::Partition,
            NemesisKind::Kill,
            NemesisKind::Pause,
            NemesisKind::Member,
        ];
        config.workload = WorkloadKind::Both;
        config.backend = BackendKind::Process;
        let mut b = ProcessBackend::start(3, process_options())
            .await
            .expect("member processes start");
        let rec = record(&mut b, &config).await;
        let report = judge(&rec);
        eprintln!("{report}");
        if !report.passed() {
            dump_logs(&b);
        }
        assert!(report.passed(), "replay: {}\n{report}", report.replay);
        assert!(report.faults_applied() >= 2, "{report}");
        assert!(report.ops.ok >= 100, "{report}");
    });
}
