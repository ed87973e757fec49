//! The pipeline's sanity check: a chaos run's recording, with one acknowledged read
//! corrupted after the fact, is judged a violation. This proves `judge` really feeds
//! the recorded history to the linearizability checker (it says nothing about the
//! store, whose real recording passes).

use std::time::Duration;

use hive_testkit::checker::history::{Outcome, Reply};
use hive_testkit::{judge, record, ChaosConfig, LocalBackend, LocalOptions, WorkloadKind};

/// A recording that passes is judged a linearizability violation once one acknowledged
/// read in it is changed to a value nobody wrote, and the report quotes that read.
#[actix_rt::test]
async fn a_corrupted_acknowledged_read_is_reported_as_a_violation() {
    let mut config = ChaosConfig::new(3, Duration::from_secs(2));
    config.nemesis = Vec::new();
    config.workload = WorkloadKind::Kv;
    let mut backend = LocalBackend::start(3, LocalOptions::default())
        .await
        .expect("cluster starts");
    let mut recording = record(&mut backend, &config).await;
    drop(backend);
    let clean = judge(&recording);
    assert!(clean.passed(), "the real recording passes\n{clean}");

    // Corrupt an acknowledged read of a key that was written before it was read.
    let victim = recording
        .history
        .ops
        .iter()
        .position(|op| matches!(&op.outcome, Outcome::Ok(Reply::Got(Some(_)))))
        .expect("some read saw a value");
    if let Outcome::Ok(Reply::Got(Some(v))) = &mut recording.history.ops[victim].outcome {
        v.value = "planted-corruption".to_string();
    }
    let report = judge(&recording);
    eprintln!("{report}");
    let lin = report
        .checks
        .iter()
        .find(|c| c.name == "linearizability")
        .expect("linearizability was checked");
    assert_eq!(lin.violations.len(), 1, "{report}");
    assert!(!report.passed() && report.violations() >= 1);
    let text = report.to_string();
    assert!(
        text.contains("VIOLATED") && text.contains("planted-corruption"),
        "the report quotes the corrupted read\n{text}"
    );
}
