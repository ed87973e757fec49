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

/// A power cut of every member, then the member that led comes back first, with a
/// follower that had missed the last writes: its first linearizable read must see every
/// write acknowledged before the cut. openraft 0.9 restored such a member as leader of
/// its old term at once, with the lazily persisted committed id as its read index, and
/// it answered a value older than ones it had acknowledged (issue 7, `hive chaos run
/// --seed 3 --nemesis disk`). Needs failpoints: the kill must lose the unsynced tail and
/// skip the clean shutdown that would persist the committed id. Before the fix the old
/// leader led again at once, alone (checked first, deterministic), and the read's stale
/// answer came in most tries (so the test makes three).
#[cfg(feature = "failpoints")]
#[actix_rt::test]
async fn a_leader_restarted_after_a_power_cut_serves_no_stale_read() {
    for attempt in 1..=3 {
        tracing::info!(attempt, "power cut, old leader back first");
        power_cut_then_read_from_the_old_leader().await;
    }
}

#[cfg(feature = "failpoints")]
async fn power_cut_then_read_from_the_old_leader() {
    use std::time::Duration;

    let mut o = opts();
    // Long enough that the lagging member does not start an election (which would
    // depose the old leader, with or without the bug) before the read is answered.
    o.raft.election_timeout_min = 1500;
    o.raft.election_timeout_max = 2000;
    let disk = hive_raftstore::planted::disk_switch(&mut o.log).expect("a failpoints build");
    disk.lose_unsynced_on_kill();
    let (_dir, mut c) = cluster_with(3, o).await;
    let store = c.store();
    let leader = c.wait_for_leader(LONG).await.expect("a leader");
    store.put("/k", "v0").await.expect("put");
    let members = c.running();
    let lagging = *members.iter().find(|&&n| n != leader).expect("a follower");
    c.router().isolate(lagging, &members);
    let mut last = String::new();
    for i in 1..=20 {
        last = format!("v{i}");
        store
            .put("/k", last.as_str())
            .await
            .expect("put without the lagging member");
    }
    let term = c
        .raft(leader)
        .expect("the leader runs")
        .metrics()
        .borrow()
        .current_term;
    for id in members {
        c.kill(id);
    }
    c.router().heal();
    // As after the chaos run's power cut: the old leader comes up first, its attempts
    // to replicate to the lagging member fail and back off (500 ms), so its commit point
    // cannot move before the read below, sent as soon as the lagging member is up.
    c.try_start_member(leader, false)
        .expect("the old leader restarts");
    let raft = wait_until(LONG, "the old leader runs", || c.raft(leader))
        .await
        .expect("running");
    // Its core has started once it reports the vote it stored (the metrics it starts
    // with say term 0); the state in that same report is what it restored.
    let state = raft
        .wait(Some(LONG))
        .metrics(
            |m| m.current_term >= term,
            "the old leader restored its vote",
        )
        .await
        .expect("the restarted core reports its stored term")
        .state;
    // Alone it cannot have won an election; leading now means it took the old term's
    // leadership back without one.
    assert_ne!(
        state,
        openraft::ServerState::Leader,
        "the old leader leads again, alone, without an election"
    );
    c.try_start_member(lagging, false)
        .expect("the lagging member restarts");
    wait_until(LONG, "the lagging member runs", || c.raft(lagging))
        .await
        .expect("running");

    // The first answer counts; errors while leadership settles are retried.
    let deadline = tokio::time::Instant::now() + LONG;
    let got = loop {
        match store.get("/k").await {
            Ok(kv) => break kv,
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::info!(error = %e, "read after restart failed; retrying");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("read after restart: {e}"),
        }
    };
    let got = got.map(|kv| String::from_utf8_lossy(&kv.value).into_owned());
    assert_eq!(
        got.as_deref(),
        Some(last.as_str()),
        "a linearizable read after the restart missed acknowledged writes"
    );
}
