//! Acknowledged writes are never lost: not when the leader dies mid-load, not when every
//! member dies at once and is reopened from disk, not when the leader is partitioned
//! away, not when a member must catch up from a snapshot. Run over the in-process
//! router; `quic.rs` runs the same bodies (`common::suite`) over QUIC.

mod common;

use std::collections::BTreeMap;

use common::suite::{self, assert_all_acked_readable};
use common::*;

/// 10,000 concurrent puts on a 3-member shard with the leader killed mid-way: every
/// acknowledged put is readable afterwards, at the revision it was acknowledged with.
#[actix_rt::test]
async fn acknowledged_puts_survive_the_leader_being_killed_mid_way() {
    suite::acknowledged_puts_survive_the_leader_being_killed_mid_way(Backend::Local, 10_000, 64)
        .await;
}

/// Every member dropped without a clean shutdown, then reopened from disk: all
/// acknowledged writes are there and revisions continue upwards.
#[actix_rt::test]
async fn acknowledged_writes_survive_all_members_dying_at_once() {
    suite::acknowledged_writes_survive_all_members_dying_at_once(Backend::Local, 2_000, 32).await;
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

/// A leader cut off from the majority: the majority elects a new leader and takes
/// writes, the old leader acknowledges nothing, and after healing it steps down and
/// catches up without any acknowledged write lost.
#[actix_rt::test]
async fn a_partitioned_leader_steps_down_and_catches_up_after_healing() {
    suite::a_partitioned_leader_steps_down_and_catches_up(Backend::Local).await;
}

/// A member restarted after the others purged their logs past it catches up from a
/// snapshot sent in chunks, and then serves every acknowledged write itself.
#[actix_rt::test]
async fn a_member_behind_the_purged_log_catches_up_from_a_snapshot() {
    suite::a_member_behind_the_purged_log_catches_up_from_a_snapshot(Backend::Local).await;
}
