//! The shard over QUIC: every member its own endpoint and certificate on loopback. The
//! bodies are the ones `durability.rs` runs over the in-process router
//! (`common::suite`); the partition test needs `--features hive-raftstore/faults`.

mod common;

use std::time::Duration;

use common::quic::member_name;
use common::suite;
use common::Backend;
use futures::FutureExt;
use hive_raftstore::network::{NetError, QuicRaftNetwork, RaftRpcTimeouts, RaftTransport};
use hive_raftstore::{NodeId, ShardId};
use hive_transport::{ClusterCa, EndpointConfig, Role};
use openraft::raft::VoteRequest;

/// 10,000 concurrent puts (the raftstore issue's figure) over QUIC with the leader killed mid-way: every acknowledged
/// put is readable afterwards at its acknowledged revision, and the killed member
/// restarts at its old address and catches up.
#[actix_rt::test]
async fn acknowledged_puts_survive_the_leader_being_killed_mid_way_over_quic() {
    suite::acknowledged_puts_survive_the_leader_being_killed_mid_way(Backend::Quic, 10_000, 64)
        .await;
}

/// Every member killed and restarted from disk, rebinding the addresses the membership
/// records: all acknowledged writes are there and revisions continue upwards.
#[actix_rt::test]
async fn acknowledged_writes_survive_all_members_dying_at_once_over_quic() {
    suite::acknowledged_writes_survive_all_members_dying_at_once(Backend::Quic, 2_000, 32).await;
}

/// A member restarted after the others purged their logs past it catches up from a
/// snapshot sent over QUIC in many chunks, and then serves every acknowledged write.
#[actix_rt::test]
async fn a_member_behind_the_purged_log_catches_up_from_a_snapshot_over_quic() {
    suite::a_member_behind_the_purged_log_catches_up_from_a_snapshot(Backend::Quic).await;
}

/// The leader partitioned away by the transport's fault filters: the majority elects a
/// new leader and takes writes, the old leader acknowledges nothing; after healing it
/// steps down to the new term and catches up, and no acknowledged write is lost.
#[cfg(feature = "faults")]
#[actix_rt::test]
async fn a_partitioned_leader_steps_down_and_catches_up_after_healing_over_quic() {
    suite::a_partitioned_leader_steps_down_and_catches_up(Backend::Quic).await;
}

/// A Raft message for a member the receiving process does not host comes back as
/// `Unreachable` (openraft backs off), not as a Raft error; a member address that is not
/// `quic://<name>@<ip>:<port>` is refused before anything is sent.
#[actix_rt::test]
async fn a_message_for_a_member_not_hosted_there_is_unreachable() {
    let ca = ClusterCa::generate().expect("CA");
    let bind = |node: u64| {
        let identity = ca
            .issue(&member_name(NodeId(node)), Role::Member)
            .expect("identity");
        QuicRaftNetwork::bind(
            &identity,
            EndpointConfig::default(),
            RaftRpcTimeouts {
                append: Duration::from_secs(5),
                vote: Duration::from_secs(5),
                snapshot_chunk: Duration::from_secs(5),
            },
        )
        .expect("bind")
    };
    let (a, b) = (bind(1), bind(2));
    let b_addr = b.local_peer_addr().expect("address").to_string();
    let vote = || VoteRequest::new(openraft::Vote::new(1, NodeId(1)), None);

    let err = a
        .vote(ShardId(1), NodeId(1), NodeId(2), &b_addr, vote())
        .await
        .expect_err("nobody is registered at member-2");
    assert!(
        matches!(err, NetError::Unreachable(NodeId(2), ref m) if m.contains("no member")),
        "{err}"
    );

    let err = a
        .vote(ShardId(1), NodeId(1), NodeId(2), "local://2", vote())
        .now_or_never()
        .expect("refused without waiting")
        .expect_err("not a QUIC address");
    assert!(
        matches!(err, NetError::Unreachable(NodeId(2), ref m) if m.contains("quic://")),
        "{err}"
    );
}
