//! Members come and go: a lagging member whose log was purged catches up by snapshot
//! install; members are removed and added while the shard keeps serving.

mod common;

use std::collections::BTreeSet;

use common::*;
use hive_raftstore::{Consistency, KeyRange, NodeId, RangeRequest};

/// A follower that was down while the leader snapshotted and purged its log is brought
/// up to date by a snapshot install, and then serves every key.
#[actix_rt::test]
async fn a_lagging_member_catches_up_by_snapshot_install() {
    let mut o = opts();
    o.raft.snapshot_policy = openraft::SnapshotPolicy::LogsSinceLast(50);
    o.raft.max_in_snapshot_log_to_keep = 5;
    o.raft.purge_batch_size = 1;
    let (_dir, mut c) = cluster_with(3, o).await;
    let store = c.store();
    let leader = c.leader().expect("leader");
    let lagging = c
        .running()
        .into_iter()
        .find(|&n| n != leader)
        .expect("a follower");
    c.kill(lagging);
    for i in 0..300 {
        store
            .put(key(i), format!("v{i}"))
            .await
            .expect("put while a follower is down");
    }
    let raft = c.raft(leader).expect("leader running");
    wait_until(LONG, "the leader purges its log behind a snapshot", || {
        let m = raft.metrics().borrow().clone();
        (m.snapshot.is_some() && m.purged.is_some_and(|p| p.index > 10)).then_some(())
    })
    .await
    .unwrap();

    c.start_member(lagging, false);
    let target = applied(&raft);
    c.wait_applied(target, LONG)
        .await
        .expect("the lagging member catches up");
    let follower = c.raft(lagging).expect("restarted");
    assert!(
        follower.metrics().borrow().snapshot.is_some(),
        "caught up through a snapshot, not the log"
    );

    // Read from the caught-up member itself.
    c.kill(leader);
    c.wait_for_new_leader(leader, LONG)
        .await
        .expect("new leader");
    let all = store
        .range(
            RangeRequest {
                range: KeyRange::prefix("/k/"),
                ..Default::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("range");
    assert_eq!(all.kvs.len(), 300);
}

/// Removing a voter shrinks the group and the shard keeps serving; a new member joins
/// as a learner, catches up and becomes a voter.
#[actix_rt::test]
async fn members_are_removed_and_added_while_the_shard_serves() {
    let (_dir, mut c) = cluster(3).await;
    let store = c.store();
    store.put("/m/a", "1").await.expect("put");
    let leader = c.leader().expect("leader");
    let victim = c
        .running()
        .into_iter()
        .find(|&n| n != leader)
        .expect("follower");
    store.remove_member(victim).await.expect("remove a member");
    let voters = |c: &hive_raftstore::cluster::LocalCluster| -> BTreeSet<NodeId> {
        let raft = c.raft(c.leader().expect("leader")).expect("running");
        let m = raft.metrics().borrow().clone();
        m.membership_config.membership().voter_ids().collect()
    };
    assert!(
        !voters(&c).contains(&victim),
        "removed member is no longer a voter"
    );
    c.kill(victim);
    store
        .put("/m/b", "2")
        .await
        .expect("two voters of two still commit");

    let newcomer = NodeId(4);
    c.start_member(newcomer, false);
    store
        .add_member(newcomer, "local://4".into())
        .await
        .expect("add a member");
    assert!(
        voters(&c).contains(&newcomer),
        "the newcomer became a voter"
    );
    let target = applied(&c.raft(c.leader().expect("leader")).expect("running"));
    c.wait_applied(target, LONG)
        .await
        .expect("newcomer catches up");
    let got = store.get("/m/b").await.expect("get").expect("present");
    assert_eq!(got.value, b"2");
}
