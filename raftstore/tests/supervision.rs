//! A shard member whose disk fails is not left half-alive: the failed fsync poisons the
//! log, Raft stops with a fatal error, the shard actor fails, and its supervisor starts
//! a fresh incarnation from what is on disk. Nothing acknowledged is lost.
#![cfg(feature = "failpoints")]

mod common;

use common::*;
use hive_raftstore::log::DiskFaults;
use hive_raftstore::StoreError;

/// After a failed fsync the member is restarted by its supervisor and serves again;
/// writes acknowledged before the fault are intact and the failed write was not acked.
#[actix_rt::test]
async fn a_failed_fsync_restarts_the_member_from_disk() {
    let faults = DiskFaults::default();
    let mut o = opts();
    o.log.faults = faults.clone();
    o.store.deadline = std::time::Duration::from_secs(2);
    let (_dir, c) = cluster_with(1, o).await;
    let store = c.store();
    for i in 0..20 {
        store
            .put(key(i), "before")
            .await
            .expect("put before the fault");
    }

    faults.fail_next_fsync();
    match store.put("/during", "x").await {
        Ok(r) => panic!(
            "a write whose fsync failed was acknowledged at {}",
            r.revision
        ),
        // Either the member answers with the storage error before it stops, or it stops
        // first and the caller learns the outcome is unknown. Both are honest: the bytes
        // of the failed write may still sit in the page cache and be replayed on restart.
        Err(e) => assert!(
            matches!(e, StoreError::Fatal(_) | StoreError::Indeterminate(_)),
            "the failed fsync surfaces as fatal or indeterminate: {e}"
        ),
    }

    // A poisoned log refuses every later write, so a write succeeding again proves the
    // supervisor started a fresh incarnation from disk.
    let deadline = tokio::time::Instant::now() + LONG;
    let after = loop {
        match store.put("/after", "y").await {
            Ok(r) => break r,
            Err(e) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "member never came back: {e}"
                );
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            }
        }
    };
    for i in 0..20 {
        let kv = store
            .get(key(i))
            .await
            .expect("get")
            .expect("acknowledged write survived");
        assert_eq!(kv.value, b"before");
        assert!(kv.mod_revision < after.revision);
    }
}
