//! Acknowledged writes are never lost: not when the leader dies mid-load, not when every
//! member dies at once and is reopened from disk.

mod common;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::*;
use hive_raftstore::{Consistency, KeyRange, RangeRequest, Revision, StoreError};
use parking_lot::Mutex;

/// Puts `total` distinct keys from `workers` concurrent clients; returns what was
/// acknowledged (key index -> revision). `on_progress` runs once when `trigger_at`
/// acknowledgements have been seen.
async fn load(
    store: hive_raftstore::Store,
    total: usize,
    workers: usize,
) -> (
    Arc<Mutex<BTreeMap<usize, Revision>>>,
    Arc<AtomicUsize>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (store, next, acked, failed) =
            (store.clone(), next.clone(), acked.clone(), failed.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return;
                }
                match store.put(key(i), format!("v{i}")).await {
                    Ok(r) => {
                        acked.lock().insert(i, r.revision);
                    }
                    Err(
                        StoreError::Timeout(_)
                        | StoreError::Indeterminate(_)
                        | StoreError::Unavailable(_),
                    ) => {
                        failed.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(e) => panic!("unexpected put error: {e}"),
                }
            }
        }));
    }
    (acked, failed, tasks)
}

/// Reads every key under /k/ linearizably and checks each acknowledged put is there
/// with its value, and that revisions of acknowledged puts are unique.
async fn assert_all_acked_readable(
    store: &hive_raftstore::Store,
    acked: &BTreeMap<usize, Revision>,
) {
    let got = store
        .range(
            RangeRequest {
                range: KeyRange::prefix("/k/"),
                ..Default::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("range after recovery");
    let by_key: BTreeMap<Vec<u8>, (Vec<u8>, Revision)> = got
        .kvs
        .into_iter()
        .map(|kv| (kv.key, (kv.value, kv.mod_revision)))
        .collect();
    for (i, rev) in acked {
        let (value, mod_rev) = by_key
            .get(&key(*i))
            .unwrap_or_else(|| panic!("acknowledged put {i} lost"));
        assert_eq!(value, format!("v{i}").as_bytes(), "value of key {i}");
        assert_eq!(
            mod_rev, rev,
            "key {i} was acknowledged at revision {rev} but reads {mod_rev}"
        );
    }
    let mut revs: Vec<_> = acked.values().copied().collect();
    revs.sort();
    revs.dedup();
    assert_eq!(
        revs.len(),
        acked.len(),
        "two acknowledged puts share a revision"
    );
}

/// 10,000 concurrent puts on a 3-member shard with the leader killed mid-way: every
/// acknowledged put is readable afterwards, at the revision it was acknowledged with.
#[actix_rt::test]
async fn acknowledged_puts_survive_the_leader_being_killed_mid_way() {
    let (_dir, mut c) = cluster(3).await;
    let store = c.store();
    let (acked, failed, tasks) = load(store.clone(), 10_000, 64).await;

    wait_until(LONG, "3,000 puts acknowledged", || {
        (acked.lock().len() >= 3_000).then_some(())
    })
    .await
    .unwrap();
    let old = c.leader().expect("a leader");
    c.kill(old);
    let new = c
        .wait_for_new_leader(old, LONG)
        .await
        .expect("the survivors elect a leader");
    assert_ne!(new, old);
    for t in tasks {
        t.await.expect("worker");
    }
    let acked = acked.lock().clone();
    assert!(
        acked.len() >= 9_000,
        "most puts acknowledged: {} (failed {})",
        acked.len(),
        failed.load(Ordering::SeqCst)
    );
    assert_all_acked_readable(&store, &acked).await;

    // The killed member comes back from its disk and catches up.
    c.start_member(old, false);
    let leader_applied = applied(&c.raft(new).expect("leader"));
    c.wait_applied(leader_applied, LONG)
        .await
        .expect("restarted member catches up");
}

/// Every member dropped without a clean shutdown, then reopened from disk: all
/// acknowledged writes are there and revisions continue upwards.
#[actix_rt::test]
async fn acknowledged_writes_survive_all_members_dying_at_once() {
    let (_dir, mut c) = cluster(3).await;
    let store = c.store();
    let (acked, _failed, tasks) = load(store.clone(), 2_000, 32).await;
    for t in tasks {
        t.await.expect("worker");
    }
    let acked = acked.lock().clone();
    assert_eq!(acked.len(), 2_000, "no faults yet, every put acknowledged");
    let max_rev = *acked.values().max().expect("some");

    for id in c.running() {
        c.kill(id);
    }
    for id in [1, 2, 3] {
        c.start_member(hive_raftstore::NodeId(id), false);
    }
    c.wait_for_leader(LONG)
        .await
        .expect("leader after full restart");
    assert_all_acked_readable(&store, &acked).await;
    let next = store
        .put("/after-restart", "x")
        .await
        .expect("write after restart");
    assert!(
        next.revision > max_rev,
        "revision went backwards: {} after {}",
        next.revision,
        max_rev
    );
}

/// A single member dropped and reopened, repeatedly, keeps every write (the log tail
/// plus snapshot path, with snapshots forced often).
#[actix_rt::test]
async fn a_member_reopens_from_snapshot_plus_log_tail() {
    let mut o = opts();
    o.raft.snapshot_policy = openraft::SnapshotPolicy::LogsSinceLast(100);
    o.raft.max_in_snapshot_log_to_keep = 10;
    let (_dir, mut c) = cluster_with(1, o).await;
    let store = c.store();
    let mut acked = BTreeMap::new();
    for round in 0..3 {
        for i in round * 150..(round + 1) * 150 {
            let r = store.put(key(i), format!("v{i}")).await.expect("put");
            acked.insert(i, r.revision);
        }
        c.restart(hive_raftstore::NodeId(1));
        c.wait_for_leader(LONG).await.expect("leader after restart");
        assert_all_acked_readable(&store, &acked).await;
    }
}
