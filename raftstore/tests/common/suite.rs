//! Test bodies every network backend runs: the in-process router (`durability.rs`) and
//! QUIC (`quic.rs`) call the same functions, so a property proven on one is proven on
//! the other with the same assertions.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use hive_raftstore::{Consistency, KeyRange, NodeId, RangeRequest, Revision, Store, StoreError};
use openraft::ServerState;
use parking_lot::Mutex;

use super::{applied, key, opts, wait_until, Backend, LONG};

/// What a load run acknowledged (key index -> revision), how many puts failed, and the
/// workers to join.
pub struct Load {
    pub acked: Arc<Mutex<BTreeMap<usize, Revision>>>,
    pub failed: Arc<AtomicUsize>,
    pub tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Load {
    /// Waits for every worker; returns what was acknowledged.
    pub async fn join(self) -> BTreeMap<usize, Revision> {
        for t in self.tasks {
            t.await.expect("worker");
        }
        let acked = self.acked.lock().clone();
        acked
    }
}

/// Puts the distinct keys `keys` from `workers` concurrent clients. A put that times out
/// or finds no leader counts as failed (its outcome is unknown); any other error fails
/// the test.
pub fn load(store: Store, keys: Range<usize>, workers: usize) -> Load {
    let next = Arc::new(AtomicUsize::new(keys.start));
    let acked = Arc::new(Mutex::new(BTreeMap::new()));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (store, next, acked, failed) =
            (store.clone(), next.clone(), acked.clone(), failed.clone());
        let end = keys.end;
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= end {
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
    Load {
        acked,
        failed,
        tasks,
    }
}

/// Reads every key under /k/ with `consistency` and checks each acknowledged put is
/// there with its value, and that revisions of acknowledged puts are unique.
pub async fn assert_all_acked_readable_with(
    store: &Store,
    acked: &BTreeMap<usize, Revision>,
    consistency: Consistency,
) {
    let got = store
        .range(
            RangeRequest {
                range: KeyRange::prefix("/k/"),
                ..Default::default()
            },
            consistency,
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

/// [`assert_all_acked_readable_with`], reading linearizably.
pub async fn assert_all_acked_readable(store: &Store, acked: &BTreeMap<usize, Revision>) {
    assert_all_acked_readable_with(store, acked, Consistency::Linearizable).await
}

/// `total` concurrent puts from `workers` clients on a 3-member shard, the leader killed
/// once 30% are acknowledged: at least 90% are acknowledged, every acknowledged put is
/// readable afterwards at the revision it was acknowledged with, and the killed member
/// comes back from its disk and catches up.
pub async fn acknowledged_puts_survive_the_leader_being_killed_mid_way(
    backend: Backend,
    total: usize,
    workers: usize,
) {
    let mut t = backend.start(3, opts()).await;
    let store = t.c.store();
    let run = load(store.clone(), 0..total, workers);

    let kill_at = total * 3 / 10;
    wait_until(LONG, &format!("{kill_at} puts acknowledged"), || {
        (run.acked.lock().len() >= kill_at).then_some(())
    })
    .await
    .unwrap();
    let old = t.c.leader().expect("a leader");
    t.c.kill(old);
    let new =
        t.c.wait_for_new_leader(old, LONG)
            .await
            .expect("the survivors elect a leader");
    assert_ne!(new, old);
    let failed = run.failed.clone();
    let acked = run.join().await;
    assert!(
        acked.len() >= total * 9 / 10,
        "most puts acknowledged: {} of {total} (failed {})",
        acked.len(),
        failed.load(Ordering::SeqCst)
    );
    assert_all_acked_readable(&store, &acked).await;

    // The killed member comes back from its disk and catches up.
    t.c.try_start_member(old, false)
        .expect("killed member restarts");
    let leader_applied = applied(&t.c.raft(new).expect("leader"));
    t.c.wait_applied(leader_applied, LONG)
        .await
        .expect("restarted member catches up");
}

/// Every member dropped without a clean shutdown, then reopened from disk: all
/// acknowledged writes are there and revisions continue upwards.
pub async fn acknowledged_writes_survive_all_members_dying_at_once(
    backend: Backend,
    total: usize,
    workers: usize,
) {
    let mut t = backend.start(3, opts()).await;
    let store = t.c.store();
    let acked = load(store.clone(), 0..total, workers).join().await;
    assert_eq!(acked.len(), total, "no faults yet, every put acknowledged");
    let max_rev = *acked.values().max().expect("some");

    for id in t.c.running() {
        t.c.kill(id);
    }
    for id in [1, 2, 3] {
        t.c.try_start_member(NodeId(id), false)
            .expect("member restarts");
    }
    t.c.wait_for_leader(LONG)
        .await
        .expect("leader after full restart");
    assert_all_acked_readable(&store, &acked).await;
    // Right after a full restart, on a loaded machine, a first attempt may time out
    // while leadership settles; the write must succeed within the long deadline.
    let deadline = tokio::time::Instant::now() + LONG;
    let next = loop {
        match store.put("/after-restart", "x").await {
            Ok(r) => break r,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::info!(error = %e, "write after restart failed; retrying");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            Err(e) => panic!("write after restart: {e}"),
        }
    };
    assert!(
        next.revision > max_rev,
        "revision went backwards: {} after {}",
        next.revision,
        max_rev
    );
}

/// The leader of a 3-member shard cut off from the other two: the majority elects a new
/// leader and keeps accepting writes; a write sent to the old leader is not
/// acknowledged. After healing, the old leader steps down to follow the new leader's
/// term, catches up to its applied index, and no acknowledged write is lost (the old
/// leader's unacknowledged write is not visible either).
pub async fn a_partitioned_leader_steps_down_and_catches_up(backend: Backend) {
    let t = backend.start(3, opts()).await;
    let store = t.c.store();
    let mut acked = load(store.clone(), 0..200, 8).join().await;
    assert_eq!(acked.len(), 200, "no faults yet, every put acknowledged");

    let old = t.c.leader().expect("a leader");
    let majority: Vec<NodeId> = t.c.running().into_iter().filter(|n| *n != old).collect();
    t.isolate(old);
    let new =
        t.c.wait_for_new_leader(old, LONG)
            .await
            .expect("the majority elects a leader");

    // The old leader cannot commit: a write sent to it alone is not acknowledged.
    let minority = t.c.store_of(&[old]);
    let lost = tokio::time::timeout(Duration::from_secs(1), minority.put("/minority", "x")).await;
    assert!(
        !matches!(lost, Ok(Ok(_))),
        "the isolated old leader acknowledged a write: {lost:?}"
    );

    // The majority keeps going.
    let during = load(t.c.store_of(&majority), 200..600, 8).join().await;
    assert_eq!(
        during.len(),
        400,
        "every write to the majority acknowledged"
    );
    acked.extend(during);

    t.heal();
    let (new_term, new_applied) = {
        let raft = t.c.raft(new).expect("new leader runs");
        let m = raft.metrics().borrow().clone();
        (m.current_term, m.last_applied.map(|l| l.index).unwrap_or(0))
    };
    let old_raft = t.c.raft(old).expect("old leader runs");
    wait_until(LONG, "the old leader steps down to the new term", || {
        let m = old_raft.metrics().borrow().clone();
        (m.state == ServerState::Follower
            && m.current_term >= new_term
            && m.current_leader.is_some_and(|l| l != old))
        .then_some(())
    })
    .await
    .unwrap();
    wait_until(LONG, "the old leader applies what the new one had", || {
        (applied(&old_raft) >= new_applied).then_some(())
    })
    .await
    .unwrap();

    assert_all_acked_readable(&store, &acked).await;
    let stray = store.get("/minority").await.expect("read after heal");
    assert!(
        stray.is_none(),
        "a write the old leader never committed became visible: {stray:?}"
    );
}

/// A member down while the others write enough to snapshot and purge their logs past
/// its last entry: restarted, it can only catch up from a snapshot, sent in many small
/// chunks; afterwards its own state machine serves every acknowledged write.
pub async fn a_member_behind_the_purged_log_catches_up_from_a_snapshot(backend: Backend) {
    let mut o = opts();
    o.raft.snapshot_policy = openraft::SnapshotPolicy::LogsSinceLast(100);
    o.raft.max_in_snapshot_log_to_keep = 10;
    o.raft.snapshot_max_chunk_size = 4096;
    let mut t = backend.start(3, o).await;
    let store = t.c.store();
    let mut acked = load(store.clone(), 0..100, 8).join().await;

    let lagging =
        t.c.running()
            .into_iter()
            .find(|n| Some(*n) != t.c.leader())
            .expect("a follower");
    let behind = applied(&t.c.raft(lagging).expect("follower runs"));
    t.c.kill(lagging);
    acked.extend(load(store.clone(), 100..1_100, 16).join().await);
    assert_eq!(
        acked.len(),
        1_100,
        "two of three members accept every write"
    );
    let leader = t.c.leader().expect("a leader");
    let leader_raft = t.c.raft(leader).expect("leader runs");
    wait_until(
        LONG,
        "the leader purges its log past the stopped member",
        || {
            let purged = leader_raft.metrics().borrow().purged.map(|l| l.index);
            purged.is_some_and(|p| p > behind).then_some(())
        },
    )
    .await
    .unwrap();

    t.c.try_start_member(lagging, false)
        .expect("lagging member restarts");
    let target = applied(&leader_raft);
    let lagging_raft = wait_until(LONG, "the lagging member opens", || t.c.raft(lagging))
        .await
        .unwrap();
    wait_until(
        LONG,
        "the lagging member installs a snapshot and catches up",
        || {
            let m = lagging_raft.metrics().borrow().clone();
            let installed = m.snapshot.is_some_and(|s| s.index > behind);
            (installed && applied(&lagging_raft) >= target).then_some(())
        },
    )
    .await
    .unwrap();
    let own = t.c.store_of(&[lagging]);
    assert_all_acked_readable_with(&own, &acked, Consistency::Serializable).await;
}
