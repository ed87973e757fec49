//! What the QUIC Raft network puts on the wire: rkyv mirrors of openraft's
//! AppendEntries, Vote and InstallSnapshot messages and their answers, and the pure
//! conversions to and from openraft's types. No I/O.
//!
//! Every request starts with a [`Route`] (shard, sender, receiver). Log entries travel as
//! the log's own record mirror ([`EntryRecord`]), so an entry is encoded the same way on
//! disk and on the wire; votes and log ids are small fixed structs. Snapshot metadata
//! travels as serde_json bytes inside the archive: it is small, sent once per chunk, and
//! openraft owns its shape (the same choice the log makes for membership payloads).

use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::LeaderId;
use rkyv::{Archive, Deserialize, Serialize};

use crate::log::record::{self, EntryRecord};
use crate::raft_types::{LogId, SnapshotMeta, TypeConfig, Vote};
use crate::types::{NodeId, ShardId};

/// A message could not be turned into (or back from) its wire form.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// A log entry's membership payload could not be (de)serialized.
    #[error("log entry {index}: {reason}")]
    Entry {
        /// The entry's log index.
        index: u64,
        /// What went wrong.
        reason: String,
    },
    /// The snapshot metadata could not be (de)serialized.
    #[error("snapshot metadata: {0}")]
    SnapshotMeta(String),
}

/// Which shard member a message is for and who sent it.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) shard: ShardId,
    pub(crate) from: NodeId,
    pub(crate) to: NodeId,
}

/// openraft's `LogId` (leader term and node, index).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireLogId {
    term: u64,
    node: u64,
    index: u64,
}

impl From<&LogId> for WireLogId {
    fn from(id: &LogId) -> Self {
        WireLogId {
            term: id.leader_id.term,
            node: id.leader_id.node_id.0,
            index: id.index,
        }
    }
}

impl From<WireLogId> for LogId {
    fn from(w: WireLogId) -> Self {
        record::log_id(w.term, w.node, w.index)
    }
}

fn log_id_out(id: &Option<LogId>) -> Option<WireLogId> {
    id.as_ref().map(WireLogId::from)
}

fn log_id_in(id: Option<WireLogId>) -> Option<LogId> {
    id.map(LogId::from)
}

/// openraft's `Vote`: the leader id it names and whether a quorum granted it.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WireVote {
    term: u64,
    node: u64,
    committed: bool,
}

impl From<&Vote> for WireVote {
    fn from(v: &Vote) -> Self {
        WireVote {
            term: v.leader_id.term,
            node: v.leader_id.node_id.0,
            committed: v.committed,
        }
    }
}

impl From<WireVote> for Vote {
    fn from(w: WireVote) -> Self {
        openraft::Vote {
            leader_id: LeaderId::new(w.term, NodeId(w.node)),
            committed: w.committed,
        }
    }
}

/// An AppendEntries request (also the heartbeat).
#[derive(Archive, Serialize, Deserialize, Debug)]
pub(crate) struct AppendMsg {
    pub(crate) route: Route,
    vote: WireVote,
    prev_log_id: Option<WireLogId>,
    leader_commit: Option<WireLogId>,
    entries: Vec<EntryRecord>,
}

impl AppendMsg {
    pub(crate) fn encode(
        route: Route,
        req: AppendEntriesRequest<TypeConfig>,
    ) -> Result<Self, CodecError> {
        let entries = req
            .entries
            .into_iter()
            .map(|e| {
                let index = e.log_id.index;
                EntryRecord::from_entry(e).map_err(|reason| CodecError::Entry { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(AppendMsg {
            route,
            vote: WireVote::from(&req.vote),
            prev_log_id: log_id_out(&req.prev_log_id),
            leader_commit: log_id_out(&req.leader_commit),
            entries,
        })
    }

    pub(crate) fn decode(self) -> Result<(Route, AppendEntriesRequest<TypeConfig>), CodecError> {
        let entries = self
            .entries
            .into_iter()
            .map(|r| {
                let index = r.index;
                r.into_entry().map_err(|e| CodecError::Entry {
                    index,
                    reason: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let req = AppendEntriesRequest {
            vote: self.vote.into(),
            prev_log_id: log_id_in(self.prev_log_id),
            leader_commit: log_id_in(self.leader_commit),
            entries,
        };
        Ok((self.route, req))
    }
}

/// The answer to an AppendEntries request.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) enum AppendReply {
    Success,
    PartialSuccess(Option<WireLogId>),
    Conflict,
    HigherVote(WireVote),
}

impl From<AppendEntriesResponse<NodeId>> for AppendReply {
    fn from(r: AppendEntriesResponse<NodeId>) -> Self {
        match r {
            AppendEntriesResponse::Success => AppendReply::Success,
            AppendEntriesResponse::PartialSuccess(id) => {
                AppendReply::PartialSuccess(log_id_out(&id))
            }
            AppendEntriesResponse::Conflict => AppendReply::Conflict,
            AppendEntriesResponse::HigherVote(v) => AppendReply::HigherVote(WireVote::from(&v)),
        }
    }
}

impl From<AppendReply> for AppendEntriesResponse<NodeId> {
    fn from(r: AppendReply) -> Self {
        match r {
            AppendReply::Success => AppendEntriesResponse::Success,
            AppendReply::PartialSuccess(id) => AppendEntriesResponse::PartialSuccess(log_id_in(id)),
            AppendReply::Conflict => AppendEntriesResponse::Conflict,
            AppendReply::HigherVote(v) => AppendEntriesResponse::HigherVote(v.into()),
        }
    }
}

/// A RequestVote request.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct VoteMsg {
    pub(crate) route: Route,
    vote: WireVote,
    last_log_id: Option<WireLogId>,
}

impl VoteMsg {
    pub(crate) fn encode(route: Route, req: &VoteRequest<NodeId>) -> Self {
        VoteMsg {
            route,
            vote: WireVote::from(&req.vote),
            last_log_id: log_id_out(&req.last_log_id),
        }
    }

    pub(crate) fn decode(self) -> (Route, VoteRequest<NodeId>) {
        (
            self.route,
            VoteRequest::new(self.vote.into(), log_id_in(self.last_log_id)),
        )
    }
}

/// The answer to a RequestVote request.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct VoteReply {
    vote: WireVote,
    vote_granted: bool,
    last_log_id: Option<WireLogId>,
}

impl From<&VoteResponse<NodeId>> for VoteReply {
    fn from(r: &VoteResponse<NodeId>) -> Self {
        VoteReply {
            vote: WireVote::from(&r.vote),
            vote_granted: r.vote_granted,
            last_log_id: log_id_out(&r.last_log_id),
        }
    }
}

impl From<VoteReply> for VoteResponse<NodeId> {
    fn from(r: VoteReply) -> Self {
        VoteResponse {
            vote: r.vote.into(),
            vote_granted: r.vote_granted,
            last_log_id: log_id_in(r.last_log_id),
        }
    }
}

/// One chunk of a snapshot (openraft's chunked InstallSnapshot request).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotChunkMsg {
    pub(crate) route: Route,
    vote: WireVote,
    /// `SnapshotMeta` as serde_json.
    meta: Vec<u8>,
    offset: u64,
    data: Vec<u8>,
    done: bool,
}

impl SnapshotChunkMsg {
    pub(crate) fn encode(
        route: Route,
        req: InstallSnapshotRequest<TypeConfig>,
    ) -> Result<Self, CodecError> {
        let meta =
            serde_json::to_vec(&req.meta).map_err(|e| CodecError::SnapshotMeta(e.to_string()))?;
        Ok(SnapshotChunkMsg {
            route,
            vote: WireVote::from(&req.vote),
            meta,
            offset: req.offset,
            data: req.data,
            done: req.done,
        })
    }

    pub(crate) fn decode(self) -> Result<(Route, InstallSnapshotRequest<TypeConfig>), CodecError> {
        let meta: SnapshotMeta = serde_json::from_slice(&self.meta)
            .map_err(|e| CodecError::SnapshotMeta(e.to_string()))?;
        let req = InstallSnapshotRequest {
            vote: self.vote.into(),
            meta,
            offset: self.offset,
            data: self.data,
            done: self.done,
        };
        Ok((self.route, req))
    }
}

/// The answer to a snapshot chunk: the receiver's vote.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub(crate) struct SnapshotChunkReply {
    vote: WireVote,
}

impl From<&InstallSnapshotResponse<NodeId>> for SnapshotChunkReply {
    fn from(r: &InstallSnapshotResponse<NodeId>) -> Self {
        SnapshotChunkReply {
            vote: WireVote::from(&r.vote),
        }
    }
}

impl From<SnapshotChunkReply> for InstallSnapshotResponse<NodeId> {
    fn from(r: SnapshotChunkReply) -> Self {
        InstallSnapshotResponse {
            vote: r.vote.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use hive_transport::{Received, Wire};
    use openraft::{BasicNode, CommittedLeaderId, EntryPayload, Membership, StoredMembership};

    use super::*;
    use crate::raft_types::Entry;
    use crate::types::{Command, LeaseId, Proposal};

    /// Encodes to bytes and validates them as the receiver does.
    fn through_the_wire<T: Wire>(msg: &T) -> T {
        Received::<T>::from_value(msg)
            .and_then(|r| r.deserialize())
            .expect("round trip")
    }

    fn lid(term: u64, node: u64, index: u64) -> LogId {
        LogId::new(CommittedLeaderId::new(term, NodeId(node)), index)
    }

    fn membership() -> Membership<NodeId, BasicNode> {
        let nodes = BTreeMap::from([
            (NodeId(1), BasicNode::new("quic://member-1@127.0.0.1:7001")),
            (NodeId(2), BasicNode::new("quic://member-2@127.0.0.1:7002")),
        ]);
        Membership::new(vec![BTreeSet::from([NodeId(1), NodeId(2)])], nodes)
    }

    const ROUTE: Route = Route {
        shard: ShardId(3),
        from: NodeId(1),
        to: NodeId(2),
    };

    /// Every kind of entry, the vote and the log ids of an AppendEntries request arrive
    /// exactly as sent.
    #[test]
    fn an_append_entries_request_arrives_unchanged() {
        let entries = vec![
            Entry {
                log_id: lid(2, 1, 10),
                payload: EntryPayload::Blank,
            },
            Entry {
                log_id: lid(2, 1, 11),
                payload: EntryPayload::Normal(Proposal::one(Command::LeaseGrant {
                    id: LeaseId(7),
                    ttl_secs: 30,
                })),
            },
            Entry {
                log_id: lid(2, 1, 12),
                payload: EntryPayload::Membership(membership()),
            },
        ];
        let req = AppendEntriesRequest::<TypeConfig> {
            vote: openraft::Vote::new_committed(2, NodeId(1)),
            prev_log_id: Some(lid(1, 3, 9)),
            entries: entries.clone(),
            leader_commit: None,
        };
        let msg = AppendMsg::encode(ROUTE, req).expect("encode");
        let (route, got) = through_the_wire(&msg).decode().expect("decode");
        assert_eq!(route, ROUTE);
        assert_eq!(got.vote, openraft::Vote::new_committed(2, NodeId(1)));
        assert_eq!(got.prev_log_id, Some(lid(1, 3, 9)));
        assert_eq!(got.leader_commit, None);
        assert_eq!(got.entries, entries);
    }

    /// Each AppendEntries answer keeps its variant and contents.
    #[test]
    fn every_append_entries_answer_arrives_unchanged() {
        for resp in [
            AppendEntriesResponse::Success,
            AppendEntriesResponse::PartialSuccess(Some(lid(4, 2, 100))),
            AppendEntriesResponse::PartialSuccess(None),
            AppendEntriesResponse::Conflict,
            AppendEntriesResponse::HigherVote(openraft::Vote::new(9, NodeId(3))),
        ] {
            let expected = format!("{resp:?}");
            let got: AppendEntriesResponse<NodeId> =
                through_the_wire(&AppendReply::from(resp)).into();
            assert_eq!(format!("{got:?}"), expected);
        }
    }

    /// A vote request and its answer arrive unchanged, committed flag included.
    #[test]
    fn a_vote_and_its_answer_arrive_unchanged() {
        let req = VoteRequest::new(openraft::Vote::new(5, NodeId(2)), Some(lid(4, 1, 77)));
        let (route, got) = through_the_wire(&VoteMsg::encode(ROUTE, &req)).decode();
        assert_eq!((route, got), (ROUTE, req));
        let resp = VoteResponse {
            vote: openraft::Vote::new_committed(5, NodeId(2)),
            vote_granted: true,
            last_log_id: None,
        };
        let got: VoteResponse<NodeId> = through_the_wire(&VoteReply::from(&resp)).into();
        assert_eq!(got, resp);
    }

    /// A snapshot chunk arrives with its metadata, offset, bytes and end marker.
    #[test]
    fn a_snapshot_chunk_arrives_unchanged() {
        let req = InstallSnapshotRequest::<TypeConfig> {
            vote: openraft::Vote::new_committed(6, NodeId(1)),
            meta: SnapshotMeta {
                last_log_id: Some(lid(6, 1, 500)),
                last_membership: StoredMembership::new(Some(lid(1, 1, 3)), membership()),
                snapshot_id: "6-1-500-1".into(),
            },
            offset: 4096,
            data: (0..=255u8).cycle().take(1000).collect(),
            done: true,
        };
        let msg = SnapshotChunkMsg::encode(ROUTE, req.clone()).expect("encode");
        let (route, got) = through_the_wire(&msg).decode().expect("decode");
        assert_eq!((route, got), (ROUTE, req));
        let resp = InstallSnapshotResponse {
            vote: openraft::Vote::new(7, NodeId(3)),
        };
        let got: InstallSnapshotResponse<NodeId> =
            through_the_wire(&SnapshotChunkReply::from(&resp)).into();
        assert_eq!(got, resp);
    }

    /// Metadata that is not valid JSON is refused with a codec error, not a panic.
    #[test]
    fn a_snapshot_chunk_with_garbage_metadata_is_refused() {
        let msg = SnapshotChunkMsg {
            route: ROUTE,
            vote: WireVote::from(&openraft::Vote::new(1, NodeId(1))),
            meta: b"{not json".to_vec(),
            offset: 0,
            data: Vec::new(),
            done: false,
        };
        assert!(matches!(msg.decode(), Err(CodecError::SnapshotMeta(_))));
    }
}
