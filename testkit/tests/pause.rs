//! The in-process backend's pause freezes a member the way SIGSTOP freezes a process.

use std::time::Duration;

use hive_testkit::harness::{ClusterBackend, KvClient};
use hive_testkit::{LocalBackend, LocalOptions};

/// A paused leader stops leading in practice: another member is elected and writes
/// succeed without it; once resumed it rejoins, and the cluster still writes.
#[actix_rt::test]
async fn pausing_the_leader_elects_another_and_resuming_it_rejoins() {
    let mut b = LocalBackend::start(3, LocalOptions::default())
        .await
        .expect("cluster starts");
    let old = b.leader().await.expect("a leader");
    b.pause(old).await.expect("pause");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let new = loop {
        match b.leader().await {
            Some(l) if l != old => break l,
            _ if std::time::Instant::now() > deadline => {
                panic!("no new leader while {old} is paused")
            }
            _ => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    };
    assert_ne!(new, old);
    // The in-process `Store` tries members in order without a per-member timeout, so a
    // client that knows the frozen member would wait on it; this one knows the others.
    let others: Vec<_> = b.members().into_iter().filter(|n| *n != old).collect();
    let other = b.cluster().store_of(&others);
    let written = loop {
        match tokio::time::timeout(Duration::from_secs(1), KvClient::put(&other, "/p/k", "v")).await
        {
            Ok(Ok(r)) => break r,
            _ if std::time::Instant::now() > deadline => panic!("no write while {old} is paused"),
            _ => {}
        }
    };
    b.resume(old).await.expect("resume");
    let after = KvClient::put(&b.client(), "/p/k", "w")
        .await
        .expect("write after resume");
    assert!(after > written);
}
