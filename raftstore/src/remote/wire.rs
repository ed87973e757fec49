//! What the store's client API puts on the wire: one rkyv request and answer type per
//! service, the watch stream's items, and the stable error form every answer can carry.
//! Pure conversions to and from the store's own types; no I/O.
//!
//! Keys, values, ranges and transactions travel as the store's own rkyv types
//! (`crate::types`), so a request is archived the way the Raft log archives the command
//! it becomes. Every request names its shard. A unary answer is a [`Reply`]: the result,
//! or a [`RemoteError`] with a stable numeric [`codes`] value, a message, and the
//! structured detail a client acts on (the leader to redirect to, the compaction
//! revision to relist at). Watches travel on watch sessions ([`SessionRequest`] in,
//! [`SessionItem`] out); their events as the hub's encoded `SharedEvent` bytes, unchanged,
//! once per group of watches they are for.

use rkyv::{Archive, Deserialize, Serialize};

use crate::error::StoreError;
use crate::types::{KeyRange, LeaseId, NodeId, RangeRequest, Revision, ShardId, TxnRequest};
use crate::watch::CancelReason;

/// The answer to a unary call: the result, or why there is none.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum Reply<T> {
    /// The call succeeded.
    Ok(T),
    /// The store refused or failed the call.
    Err(RemoteError),
}

impl<T> Reply<T> {
    /// The reply as the client API's result.
    pub fn into_result(self) -> Result<T, StoreError> {
        match self {
            Reply::Ok(v) => Ok(v),
            Reply::Err(e) => Err(e.into()),
        }
    }
}

impl<T> From<Result<T, StoreError>> for Reply<T> {
    fn from(r: Result<T, StoreError>) -> Self {
        match r {
            Ok(v) => Reply::Ok(v),
            Err(e) => Reply::Err(RemoteError::from(&e)),
        }
    }
}

/// Stable error codes of the store's client API. They cross the wire and never change
/// meaning; [`StoreError::code`] names the same kinds.
pub mod codes {
    /// This member does not lead the shard; nothing was applied (retry at the leader).
    pub const NOT_LEADER: u32 = 1;
    /// The member is starting, restarting or stopped; nothing was applied.
    pub const UNAVAILABLE: u32 = 2;
    /// The requested revision was compacted.
    pub const COMPACTED: u32 = 3;
    /// The requested revision is in the future.
    pub const FUTURE_REVISION: u32 = 4;
    /// A compare-and-swap lost.
    pub const CONFLICT: u32 = 5;
    /// No such lease.
    pub const LEASE_NOT_FOUND: u32 = 6;
    /// The lease id is taken.
    pub const LEASE_EXISTS: u32 = 7;
    /// The request is malformed or names something that does not exist (e.g. a shard).
    pub const INVALID: u32 = 8;
    /// The operation timed out; its outcome is unknown.
    pub const TIMEOUT: u32 = 9;
    /// The member went away mid-request; the outcome is unknown.
    pub const INDETERMINATE: u32 = 10;
    /// The member hit an unrecoverable error.
    pub const FATAL: u32 = 11;
}

/// A leader as a client reaches it: its node id and the address of its endpoint
/// (`quic://<member-name>@<ip>:<port>`, the address the shard membership records; the
/// member serves the client API on the endpoint it speaks Raft on).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MemberAddr {
    /// The member's node id.
    pub node: NodeId,
    /// Where clients reach it.
    pub addr: String,
}

/// What a client needs beyond the code to act on an error.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum ErrorDetail {
    /// Nothing beyond the message.
    None,
    /// `NOT_LEADER`: the leader, if the member knows one.
    Leader(Option<MemberAddr>),
    /// `COMPACTED`: the compaction revision; `CONFLICT`: the key's current revision.
    Revision(Revision),
    /// `FUTURE_REVISION`: what was asked and what exists.
    FutureRevision {
        /// The revision asked for.
        requested: Revision,
        /// The store's revision.
        current: Revision,
    },
    /// `LEASE_NOT_FOUND` / `LEASE_EXISTS`: the lease.
    Lease(LeaseId),
    /// `TIMEOUT`: how long the member waited, in milliseconds.
    TimeoutMs(u64),
}

/// A store error on the wire: a stable code, a message for people, and the detail.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RemoteError {
    /// One of [`codes`].
    pub code: u32,
    /// The error as the member described it.
    pub message: String,
    /// What the client acts on.
    pub detail: ErrorDetail,
}

impl From<&StoreError> for RemoteError {
    fn from(e: &StoreError) -> Self {
        let (code, detail, message) = match e {
            StoreError::NotLeader { leader } => (
                codes::NOT_LEADER,
                ErrorDetail::Leader(leader.as_ref().map(|(node, addr)| MemberAddr {
                    node: *node,
                    addr: addr.clone(),
                })),
                String::new(),
            ),
            StoreError::Unavailable(m) => (codes::UNAVAILABLE, ErrorDetail::None, m.clone()),
            StoreError::Compacted { compacted } => (
                codes::COMPACTED,
                ErrorDetail::Revision(*compacted),
                String::new(),
            ),
            StoreError::FutureRevision { requested, current } => (
                codes::FUTURE_REVISION,
                ErrorDetail::FutureRevision {
                    requested: *requested,
                    current: *current,
                },
                String::new(),
            ),
            StoreError::Conflict { current } => (
                codes::CONFLICT,
                ErrorDetail::Revision(*current),
                String::new(),
            ),
            StoreError::LeaseNotFound(id) => (
                codes::LEASE_NOT_FOUND,
                ErrorDetail::Lease(*id),
                String::new(),
            ),
            StoreError::LeaseExists(id) => {
                (codes::LEASE_EXISTS, ErrorDetail::Lease(*id), String::new())
            }
            StoreError::Invalid(m) => (codes::INVALID, ErrorDetail::None, m.clone()),
            StoreError::Timeout(d) => (
                codes::TIMEOUT,
                ErrorDetail::TimeoutMs(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)),
                String::new(),
            ),
            StoreError::Indeterminate(m) => (codes::INDETERMINATE, ErrorDetail::None, m.clone()),
            StoreError::Fatal(m) => (codes::FATAL, ErrorDetail::None, m.clone()),
        };
        // Variants whose meaning lives in the detail still carry their text, for logs.
        let message = if message.is_empty() {
            e.to_string()
        } else {
            message
        };
        RemoteError {
            code,
            message,
            detail,
        }
    }
}

impl From<RemoteError> for StoreError {
    /// The store error a code stands for. A code this client does not know (a newer
    /// member), or a detail that does not fit its code, becomes `Fatal` naming it: the
    /// client cannot know whether retrying is safe.
    fn from(e: RemoteError) -> Self {
        let RemoteError {
            code,
            message,
            detail,
        } = e;
        match (code, detail) {
            (codes::NOT_LEADER, ErrorDetail::Leader(l)) => StoreError::NotLeader {
                leader: l.map(|m| (m.node, m.addr)),
            },
            (codes::NOT_LEADER, _) => StoreError::NotLeader { leader: None },
            (codes::UNAVAILABLE, _) => StoreError::Unavailable(message),
            (codes::COMPACTED, ErrorDetail::Revision(compacted)) => {
                StoreError::Compacted { compacted }
            }
            (codes::FUTURE_REVISION, ErrorDetail::FutureRevision { requested, current }) => {
                StoreError::FutureRevision { requested, current }
            }
            (codes::CONFLICT, ErrorDetail::Revision(current)) => StoreError::Conflict { current },
            (codes::LEASE_NOT_FOUND, ErrorDetail::Lease(id)) => StoreError::LeaseNotFound(id),
            (codes::LEASE_EXISTS, ErrorDetail::Lease(id)) => StoreError::LeaseExists(id),
            (codes::INVALID, _) => StoreError::Invalid(message),
            (codes::TIMEOUT, ErrorDetail::TimeoutMs(ms)) => {
                StoreError::Timeout(std::time::Duration::from_millis(ms))
            }
            (codes::INDETERMINATE, _) => StoreError::Indeterminate(message),
            (codes::FATAL, _) => StoreError::Fatal(message),
            (code, detail) => StoreError::Fatal(format!(
                "member answered error code {code} ({detail:?}) this client does not know: {message}"
            )),
        }
    }
}

/// How fresh a read must be, on the wire (`crate::Consistency`).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadConsistency {
    /// Read index on the leader.
    Linearizable,
    /// The receiving member's applied state.
    Serializable,
}

impl From<crate::Consistency> for ReadConsistency {
    fn from(c: crate::Consistency) -> Self {
        match c {
            crate::Consistency::Linearizable => ReadConsistency::Linearizable,
            crate::Consistency::Serializable => ReadConsistency::Serializable,
        }
    }
}

/// Read keys (answered with `Reply<RangeResponse>`).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct RangeMsg {
    /// The shard to read.
    pub shard: ShardId,
    /// What to read.
    pub request: RangeRequest,
    /// How fresh.
    pub consistency: ReadConsistency,
}

/// Run a transaction: every put, delete and compare-and-swap is one (answered with
/// `Reply<TxnResponse>`).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct TxnMsg {
    /// The shard holding every key of the transaction.
    pub shard: ShardId,
    /// The transaction.
    pub request: TxnRequest,
}

/// Grant a lease with a client-chosen id (answered with `Reply<LeaseGranted>`).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct LeaseGrantMsg {
    /// The shard whose lease table holds the lease.
    pub shard: ShardId,
    /// The id; taken ids are refused with `LEASE_EXISTS`.
    pub id: LeaseId,
    /// Time to live without keep-alives.
    pub ttl_secs: u64,
}

/// A granted lease.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseGranted {
    /// Its id.
    pub id: LeaseId,
    /// Its time to live.
    pub ttl_secs: u64,
    /// The revision of the grant.
    pub revision: Revision,
}

/// Keep a lease alive (answered with `Reply<u64>`, the TTL in milliseconds) or revoke it
/// (answered with `Reply<Revision>`, the revision that deleted its keys).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct LeaseMsg {
    /// The shard whose lease table holds the lease.
    pub shard: ShardId,
    /// The lease.
    pub id: LeaseId,
}

/// Discard history below a revision (answered with `Reply<Revision>`).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompactMsg {
    /// The shard to compact.
    pub shard: ShardId,
    /// Reads and watches below this revision fail with `COMPACTED` afterwards.
    pub revision: Revision,
}

/// Ask a member about itself (answered with `Reply<MemberStatus>`, never redirected).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatusMsg {
    /// The shard asked about.
    pub shard: ShardId,
}

/// A member's Raft role.
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberRole {
    /// Leads the shard.
    Leader,
    /// A voter following the leader.
    Follower,
    /// A voter asking for votes.
    Candidate,
    /// Receives the log, does not vote (or is not a member yet).
    Learner,
    /// Stopping.
    Shutdown,
}

/// One member's view of its shard.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct MemberStatus {
    /// The member answering.
    pub node: NodeId,
    /// Its Raft role.
    pub role: MemberRole,
    /// The leader it knows of, with its client address.
    pub leader: Option<MemberAddr>,
    /// Its current term.
    pub term: u64,
    /// The last log index it applied.
    pub applied_index: u64,
    /// The store revision of its applied state.
    pub revision: Revision,
    /// The voters of the membership it knows.
    pub voters: Vec<NodeId>,
    /// Every member of that membership (voters and learners) with its address.
    pub members: Vec<MemberAddr>,
}

/// Add a member: as a learner until it caught up, then as a voter (answered with
/// `Reply<()>`).
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct AddMemberMsg {
    /// The shard to grow.
    pub shard: ShardId,
    /// The new member.
    pub node: NodeId,
    /// Its address, `quic://<member-name>@<ip>:<port>`.
    pub addr: String,
}

/// Remove a member (answered with `Reply<()>`).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub struct RemoveMemberMsg {
    /// The shard to shrink.
    pub shard: ShardId,
    /// The member to remove.
    pub node: NodeId,
}

/// A client's message on a watch session: the opening `Open`, then any number of
/// `Create` and `Cancel` batches, in the order the client made them.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum SessionRequest {
    /// Opens the session on a shard (the first message, and only the first).
    Open {
        /// The shard every watch of the session watches.
        shard: ShardId,
    },
    /// Registers watches, answered by one [`SessionItem::Created`] in the same order.
    Create(Vec<CreateWatch>),
    /// Ends watches; each is answered by `Canceled(Requested)` unless it ended already.
    Cancel(Vec<u64>),
}

/// One watch to register on a session.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct CreateWatch {
    /// The client's id for the watch, unique on its session; every item for it names it.
    pub id: u64,
    /// The keys.
    pub range: KeyRange,
    /// The first revision to deliver; `None`: only changes after the current revision.
    pub start_revision: Option<Revision>,
    /// Whether to send progress bookmarks.
    pub progress_notify: bool,
}

/// The member's answer to one [`CreateWatch`].
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Created {
    /// The watch.
    pub id: u64,
    /// The first revision it delivers (writes acknowledged after the client saw this are
    /// never missed), or why it could not be registered.
    pub start: Reply<Revision>,
}

/// Why the member ended a watch (`crate::watch::CancelReason`).
#[derive(Archive, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum WireCancel {
    /// The client canceled it.
    Requested,
    /// It could not keep up; watching again from `resume_from` continues without a gap.
    Slow {
        /// The first revision it did not get.
        resume_from: Revision,
    },
    /// Compaction removed revisions it still needed; relist at or after `compacted`.
    Compacted {
        /// The compaction revision.
        compacted: Revision,
    },
    /// The events of `revision` could not be encoded.
    Unencodable {
        /// The revision.
        revision: Revision,
    },
}

impl From<&CancelReason> for WireCancel {
    fn from(r: &CancelReason) -> Self {
        match *r {
            CancelReason::Requested => WireCancel::Requested,
            CancelReason::Slow { resume_from } => WireCancel::Slow { resume_from },
            CancelReason::Compacted { compacted } => WireCancel::Compacted { compacted },
            CancelReason::Unencodable { revision } => WireCancel::Unencodable { revision },
        }
    }
}

impl From<WireCancel> for CancelReason {
    fn from(r: WireCancel) -> Self {
        match r {
            WireCancel::Requested => CancelReason::Requested,
            WireCancel::Slow { resume_from } => CancelReason::Slow { resume_from },
            WireCancel::Compacted { compacted } => CancelReason::Compacted { compacted },
            WireCancel::Unencodable { revision } => CancelReason::Unencodable { revision },
        }
    }
}

/// One item of a watch session, from the member. Items naming a watch arrive in that
/// watch's order; items of different watches interleave.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub enum SessionItem {
    /// The answers to one `Create` batch, in its order.
    Created(Vec<Created>),
    /// Every matching event of one revision, for each watch in `watches` (they all match
    /// exactly these events): each the hub's encoded `SharedEvent` bytes (an archived
    /// `WireEvent`), sent once for all of them.
    Events {
        /// The revision.
        revision: Revision,
        /// The watches the events are for.
        watches: Vec<u64>,
        /// The encoded events, in the order they were made.
        events: Vec<Vec<u8>>,
    },
    /// Every matching event up to and including `revision` was delivered to `watches`.
    Progress {
        /// The revision.
        revision: Revision,
        /// The watches the bookmark is for.
        watches: Vec<u64>,
    },
    /// The member ended one watch; nothing follows for it.
    Canceled {
        /// The watch.
        id: u64,
        /// Why.
        reason: WireCancel,
    },
    /// The member stopped serving the whole session (restarting, stopping, or the
    /// session broke its protocol); nothing follows. Each watch resumes from its own
    /// first undelivered revision.
    Failed(RemoteError),
    /// Nothing happened for a while: the member is alive and the client still listening.
    Heartbeat,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hive_transport::{Received, Wire};

    use super::*;

    fn through_the_wire<T: Wire>(msg: &T) -> T {
        Received::<T>::from_value(msg)
            .and_then(|r| r.deserialize())
            .expect("round trip")
    }

    fn every_error() -> Vec<StoreError> {
        vec![
            StoreError::NotLeader {
                leader: Some((NodeId(2), "quic://member-2@127.0.0.1:7002".into())),
            },
            StoreError::NotLeader { leader: None },
            StoreError::Unavailable("starting".into()),
            StoreError::Compacted {
                compacted: Revision(40),
            },
            StoreError::FutureRevision {
                requested: Revision(9),
                current: Revision(3),
            },
            StoreError::Conflict {
                current: Revision(12),
            },
            StoreError::LeaseNotFound(LeaseId(77)),
            StoreError::LeaseExists(LeaseId(78)),
            StoreError::Invalid("no shard".into()),
            StoreError::Timeout(Duration::from_millis(1500)),
            StoreError::Indeterminate("member lost".into()),
            StoreError::Fatal("disk".into()),
        ]
    }

    /// Every store error crosses the wire and comes back as the same error, the leader's
    /// address of a redirect included.
    #[test]
    fn every_store_error_survives_the_wire_unchanged() {
        for e in every_error() {
            let wire = through_the_wire(&RemoteError::from(&e));
            assert_eq!(StoreError::from(wire), e);
        }
    }

    /// The codes are part of the protocol: each kind keeps its number, and the numbers
    /// are distinct.
    #[test]
    fn error_codes_are_stable_and_distinct() {
        let got: Vec<(String, u32)> = every_error()
            .iter()
            .map(|e| (e.code().to_string(), RemoteError::from(e).code))
            .collect();
        let want = [
            ("NotLeader", 1),
            ("NotLeader", 1),
            ("Unavailable", 2),
            ("Compacted", 3),
            ("FutureRevision", 4),
            ("Conflict", 5),
            ("LeaseNotFound", 6),
            ("LeaseExists", 7),
            ("Invalid", 8),
            ("Timeout", 9),
            ("Indeterminate", 10),
            ("Fatal", 11),
        ];
        let want: Vec<(String, u32)> = want.iter().map(|(n, c)| (n.to_string(), *c)).collect();
        assert_eq!(got, want);
    }

    /// A code this client does not know is not guessed at: it becomes `Fatal` (not
    /// retried) and names the code.
    #[test]
    fn an_unknown_error_code_becomes_fatal_and_names_the_code() {
        let e = StoreError::from(RemoteError {
            code: 4242,
            message: "from the future".into(),
            detail: ErrorDetail::None,
        });
        assert!(
            matches!(&e, StoreError::Fatal(m) if m.contains("4242")),
            "{e}"
        );
        assert!(!e.is_retryable());
    }

    /// Replies, watch items and cancel reasons keep their variant and contents.
    #[test]
    fn replies_and_watch_items_arrive_unchanged() {
        let r: Reply<Revision> = Reply::Ok(Revision(5));
        assert_eq!(through_the_wire(&r), r);
        let r: Reply<()> = Err(StoreError::LeaseNotFound(LeaseId(3))).into();
        assert_eq!(
            through_the_wire(&r).into_result(),
            Err(StoreError::LeaseNotFound(LeaseId(3)))
        );
        for item in [
            SessionItem::Created(vec![
                Created {
                    id: 1,
                    start: Reply::Ok(Revision(4)),
                },
                Created {
                    id: 2,
                    start: Err(StoreError::Compacted {
                        compacted: Revision(3),
                    })
                    .into(),
                },
            ]),
            SessionItem::Events {
                revision: Revision(4),
                watches: vec![1, 7, 9],
                events: vec![vec![1, 2, 3], vec![]],
            },
            SessionItem::Progress {
                revision: Revision(9),
                watches: vec![2],
            },
            SessionItem::Canceled {
                id: 3,
                reason: WireCancel::Slow {
                    resume_from: Revision(7),
                },
            },
            SessionItem::Failed(RemoteError::from(&StoreError::Compacted {
                compacted: Revision(2),
            })),
            SessionItem::Heartbeat,
        ] {
            assert_eq!(through_the_wire(&item), item);
        }
        for req in [
            SessionRequest::Open { shard: ShardId(3) },
            SessionRequest::Create(vec![CreateWatch {
                id: 5,
                range: KeyRange::prefix("/a/"),
                start_revision: Some(Revision(2)),
                progress_notify: true,
            }]),
            SessionRequest::Cancel(vec![5, 6]),
        ] {
            assert_eq!(through_the_wire(&req), req);
        }
        for reason in [
            CancelReason::Requested,
            CancelReason::Slow {
                resume_from: Revision(3),
            },
            CancelReason::Compacted {
                compacted: Revision(8),
            },
            CancelReason::Unencodable {
                revision: Revision(1),
            },
        ] {
            assert_eq!(CancelReason::from(WireCancel::from(&reason)), reason);
        }
    }
}
