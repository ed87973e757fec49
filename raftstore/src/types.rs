//! The store's data model: identities, keys and values, the replicated commands and
//! their responses, and watch events.
//!
//! Everything that goes into the Raft log derives both serde (openraft requires it for
//! `AppData`) and rkyv (what we actually write to disk and to the wire).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An identity or counter newtype: copyable, ordered, hashable, and stored and sent
/// as its one number.
macro_rules! id {
    ($(#[$meta:meta])* $name:ident($inner:ty)) => {
        $(#[$meta])*
        #[derive(
            Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
            rkyv::Archive, rkyv::Serialize, rkyv::Deserialize,
        )]
        pub struct $name(pub $inner);
    };
}

/// Derives shared by every type that is stored in the log, in snapshots or on the wire.
macro_rules! wire {
    ($($item:item)*) => {
        $(
            #[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
            $item
        )*
    };
}

id! {
    /// A member of a Raft group: one process of the control plane.
    NodeId(u64)
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "n{}", self.0)
    }
}

impl From<u64> for NodeId {
    fn from(v: u64) -> Self {
        NodeId(v)
    }
}

id! {
    /// One shard of the keyspace: its own Raft group, its own revision counter.
    ShardId(u32)
}

impl fmt::Display for ShardId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard-{}", self.0)
    }
}

id! {
    /// A shard's logical clock: bumped once by every write that changes the keyspace.
    /// Revision 0 is "before anything"; the first write is revision 1.
    Revision(u64)
}

impl Revision {
    pub const ZERO: Revision = Revision(0);

    pub fn next(self) -> Revision {
        Revision(self.0 + 1)
    }
}

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

id! {
    /// A lease identity; `LeaseId(0)` means "no lease".
    LeaseId(i64)
}

impl LeaseId {
    pub const NONE: LeaseId = LeaseId(0);

    pub fn is_none(self) -> bool {
        self.0 == 0
    }
}

wire! {
    /// A key with its value and MVCC metadata, as etcd's `mvccpb.KeyValue`.
    #[derive(Default)]
    pub struct KeyValue {
        pub key: Vec<u8>,
        pub value: Vec<u8>,
        /// Revision of the write that created this key (since its last delete).
        pub create_revision: Revision,
        /// Revision of the last write to this key.
        pub mod_revision: Revision,
        /// Number of writes since creation; 1 after the creating put.
        pub version: u64,
        pub lease: LeaseId,
    }

    /// A contiguous range of keys in etcd's encoding: `end` empty means the single key
    /// `start`; `end == [0]` means every key `>= start`; otherwise `[start, end)`.
    #[derive(Default)]
    pub struct KeyRange {
        pub start: Vec<u8>,
        pub end: Vec<u8>,
    }

    /// Read keys.
    #[derive(Default)]
    pub struct RangeRequest {
        pub range: KeyRange,
        /// Read at this revision; `None` reads the latest.
        pub revision: Option<Revision>,
        /// At most this many keys (0 = no limit); `more` tells whether keys were left out.
        pub limit: u64,
        pub keys_only: bool,
        pub count_only: bool,
        /// Do not count the whole range: the read stops one key past `limit`, and
        /// `count` is then only the keys it looked at. A paginated reader that already
        /// knows the total (or does not need it) asks for this, so that each page costs
        /// its own size, not the collection's.
        pub skip_count: bool,
    }

    pub struct RangeResponse {
        pub kvs: Vec<KeyValue>,
        /// True when `limit` cut the result; continue from the last key + `\0`.
        pub more: bool,
        /// The number of keys in the range (ignoring `limit`), unless the request
        /// asked to `skip_count`.
        pub count: u64,
        /// The store revision the read was served at.
        pub revision: Revision,
    }

    pub struct PutRequest {
        pub key: Vec<u8>,
        pub value: Vec<u8>,
        pub lease: LeaseId,
        pub prev_kv: bool,
    }

    pub struct DeleteRequest {
        pub range: KeyRange,
        pub prev_kv: bool,
    }

    /// What a compare reads from a key.
    pub enum CompareTarget {
        Value(Vec<u8>),
        Version(u64),
        CreateRevision(Revision),
        ModRevision(Revision),
        Lease(LeaseId),
    }

    pub enum CompareOp {
        Equal,
        NotEqual,
        Greater,
        Less,
    }

    /// A guard of a transaction; a missing key has version, create and mod revision 0
    /// and no lease, as in etcd. As in etcd too, a `Value` compare on a missing key is
    /// false whatever the operator (there is no value to compare).
    pub struct Compare {
        pub key: Vec<u8>,
        pub op: CompareOp,
        pub target: CompareTarget,
    }

    pub enum TxnOp {
        Range(RangeRequest),
        Put(PutRequest),
        Delete(DeleteRequest),
    }

    /// A transaction: if every compare holds, `success` runs, else `failure`; all of its
    /// writes share one revision.
    #[derive(Default)]
    pub struct TxnRequest {
        pub compare: Vec<Compare>,
        pub success: Vec<TxnOp>,
        pub failure: Vec<TxnOp>,
    }

    pub enum TxnOpResponse {
        Range(RangeResponse),
        Put { prev_kv: Option<KeyValue> },
        Delete { deleted: u64, prev_kvs: Vec<KeyValue> },
    }

    pub struct TxnResponse {
        pub succeeded: bool,
        pub responses: Vec<TxnOpResponse>,
        /// The store revision after the transaction (unchanged if it wrote nothing).
        pub revision: Revision,
    }

    /// A command replicated through Raft and applied by every member's state machine.
    pub enum Command {
        Txn(TxnRequest),
        LeaseGrant { id: LeaseId, ttl_secs: u64 },
        LeaseRevoke { id: LeaseId },
        /// Proposed by the leader when it sees leases past their deadline; applied as a
        /// revoke of each one that still exists. All their keys go in one revision.
        LeaseExpire { ids: Vec<LeaseId> },
        Compact { revision: Revision },
    }

    /// What one Raft log entry carries: commands of concurrent clients proposed together,
    /// so that they share one append and one fsync (openraft 0.9 waits for each append's
    /// flush before the next). Applied in order, each command with its own revision.
    #[derive(Default)]
    pub struct Proposal {
        pub commands: Vec<Command>,
    }

    /// The responses to a proposal's commands, in order.
    #[derive(Default)]
    pub struct ProposalResponse {
        pub responses: Vec<CommandResponse>,
    }

    /// A deterministic error of applying a command: every member computes the same one.
    pub enum ApplyError {
        /// The requested revision is below the compaction point.
        Compacted { compacted: Revision },
        /// The requested revision is in the future.
        FutureRevision { current: Revision },
        LeaseNotFound { id: LeaseId },
        LeaseExists { id: LeaseId },
        /// A transaction touches a key more than once with writes.
        DuplicateKey { key: Vec<u8> },
    }

    /// The result of applying one command.
    #[derive(Default)]
    pub enum CommandResponse {
        Txn(TxnResponse),
        LeaseGranted { id: LeaseId, ttl_secs: u64, revision: Revision },
        LeaseRevoked { revision: Revision },
        Compacted { revision: Revision },
        Error(ApplyError),
        /// Blank and membership entries answer nothing.
        #[default]
        None,
    }

    pub enum EventKind {
        Put,
        Delete,
    }

    /// One change of one key. For a delete, `kv` carries the key and the deleting
    /// revision as `mod_revision`, and `prev_kv` the value that was deleted.
    pub struct Event {
        pub kind: EventKind,
        pub kv: KeyValue,
        pub prev_kv: Option<KeyValue>,
    }
}

impl Proposal {
    /// A proposal of a single command.
    pub fn one(cmd: Command) -> Self {
        Proposal {
            commands: vec![cmd],
        }
    }

    /// About how many bytes the proposal takes once encoded: its keys and values plus
    /// a fixed allowance per item. Cheap (no encoding); used to bound AppendEntries
    /// messages by size, not only by entry count.
    pub fn size_hint(&self) -> usize {
        self.commands.iter().map(Command::size_hint).sum()
    }
}

/// The fixed allowance per encoded item (tags, lengths, revisions, padding).
const ITEM_OVERHEAD: usize = 32;

impl Command {
    /// See [`Proposal::size_hint`].
    pub fn size_hint(&self) -> usize {
        ITEM_OVERHEAD
            + match self {
                Command::Txn(t) => t.size_hint(),
                Command::LeaseExpire { ids } => ids.len() * 8,
                Command::LeaseGrant { .. }
                | Command::LeaseRevoke { .. }
                | Command::Compact { .. } => 0,
            }
    }
}

impl TxnRequest {
    /// See [`Proposal::size_hint`].
    pub fn size_hint(&self) -> usize {
        let compares: usize = self
            .compare
            .iter()
            .map(|c| {
                ITEM_OVERHEAD
                    + c.key.len()
                    + match &c.target {
                        CompareTarget::Value(v) => v.len(),
                        _ => 0,
                    }
            })
            .sum();
        let ops = self.success.iter().chain(&self.failure).map(|op| {
            ITEM_OVERHEAD
                + match op {
                    TxnOp::Range(r) => r.range.start.len() + r.range.end.len(),
                    TxnOp::Put(p) => p.key.len() + p.value.len(),
                    TxnOp::Delete(d) => d.range.start.len() + d.range.end.len(),
                }
        });
        compares + ops.sum::<usize>()
    }
}

impl KeyRange {
    /// Exactly one key.
    pub fn key(key: impl Into<Vec<u8>>) -> Self {
        KeyRange {
            start: key.into(),
            end: Vec::new(),
        }
    }

    /// Every key that starts with `prefix`.
    pub fn prefix(prefix: impl Into<Vec<u8>>) -> Self {
        let start = prefix.into();
        let end = prefix_end(&start);
        KeyRange { start, end }
    }

    /// Every key `>= start`.
    pub fn from_key(start: impl Into<Vec<u8>>) -> Self {
        KeyRange {
            start: start.into(),
            end: vec![0],
        }
    }

    pub fn is_single(&self) -> bool {
        self.end.is_empty()
    }

    /// Whether `key` lies in this range.
    pub fn contains(&self, key: &[u8]) -> bool {
        if self.end.is_empty() {
            return key == self.start.as_slice();
        }
        if key < self.start.as_slice() {
            return false;
        }
        self.end == [0] || key < self.end.as_slice()
    }
}

/// The smallest key greater than every key with this prefix (etcd's `GetPrefixRangeEnd`):
/// `[0]` ("to the end") when the prefix is empty or all `0xff`.
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.last_mut() {
        if *last < 0xff {
            *last += 1;
            return end;
        }
        end.pop();
    }
    vec![0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_range_contains_exactly_the_keys_with_that_prefix() {
        let r = KeyRange::prefix("/registry/pods/");
        assert!(r.contains(b"/registry/pods/default/a"));
        assert!(r.contains(b"/registry/pods/"));
        assert!(!r.contains(b"/registry/pods"));
        assert!(!r.contains(b"/registry/podsx"));
        assert!(!r.contains(b"/registry/pods0"));
        assert_eq!(prefix_end(&[0x61, 0xff]), vec![0x62]);
        assert_eq!(prefix_end(&[0xff, 0xff]), vec![0]);
        assert!(KeyRange::prefix(Vec::new()).contains(b"anything"));
    }

    #[test]
    fn single_key_range_contains_only_that_key() {
        let r = KeyRange::key("a");
        assert!(r.contains(b"a"));
        assert!(!r.contains(b"ab"));
        assert!(KeyRange::from_key("b").contains(b"zzz"));
        assert!(!KeyRange::from_key("b").contains(b"a"));
    }
}
