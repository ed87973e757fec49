//! A recorded history of client operations against a key-value register store: who
//! called what on which key, when the call started and ended, and what came back.
//!
//! These types are the checkers' own, deliberately independent of the store crate, so a
//! history can be written out as JSON from a failing run and re-checked offline. Times
//! are monotonic nanoseconds (or any index order) chosen by the recorder; only their
//! order matters.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The store's logical clock as a client observed it: bumped once by every write across
/// all keys. Revision 0 means "never written" (what a compare sees on a missing key).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Revision(pub u64);

impl fmt::Display for Revision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The identity of one client process: its operations never overlap each other.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct ClientId(pub u64);

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

/// The position of an operation in its [`History`].
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct OpIndex(pub usize);

impl fmt::Display for OpIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// What a client asked of one key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Call {
    /// Read the key's value and mod revision.
    Get,
    /// Write a value unconditionally.
    Put {
        /// The value written.
        value: String,
    },
    /// Write a value if the key's mod revision equals `expected_mod_revision` (0 for a
    /// missing key), as an etcd transaction comparing `ModRevision`.
    Cas {
        /// The mod revision the key must have for the write to happen.
        expected_mod_revision: Revision,
        /// The value written on success.
        value: String,
    },
    /// Remove the key.
    Delete,
}

/// A value together with the revision of the write that produced it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Versioned {
    /// The value read.
    pub value: String,
    /// The revision of the last write to the key.
    pub mod_revision: Revision,
}

/// What the store answered to a [`Call`] that completed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Reply {
    /// Answer to [`Call::Get`]: the key's value, or `None` if it does not exist.
    Got(Option<Versioned>),
    /// Answer to [`Call::Put`] and [`Call::Delete`]: the store revision after the call.
    /// A delete of a missing key writes nothing and returns the current revision.
    Written(Revision),
    /// Answer to a successful [`Call::Cas`]: the revision of its write.
    Swapped(Revision),
    /// Answer to a [`Call::Cas`] whose comparison failed: nothing was written.
    Conflict,
}

/// How an operation ended, from the client's point of view.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Outcome {
    /// The store answered.
    Ok(Reply),
    /// The store definitely did not apply the call (e.g. `NotLeader` before proposing).
    Fail,
    /// The client does not know (timeout, lost connection): the call may take effect at
    /// any time after its invocation, or never. Its completion time counts as infinity.
    Unknown,
}

/// One client operation: a call on a key, its invocation and completion, and outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Operation {
    /// The client that issued it.
    pub client: ClientId,
    /// The key it touched.
    pub key: String,
    /// What was asked.
    pub call: Call,
    /// When the client sent it.
    pub invoked_at: u64,
    /// When the client received the answer or gave up; `None` while still outstanding.
    /// Ignored for [`Outcome::Unknown`].
    pub completed_at: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
}

impl Operation {
    /// The revision this operation returned, if it returned one.
    pub fn returned_revision(&self) -> Option<Revision> {
        match &self.outcome {
            Outcome::Ok(Reply::Written(r)) | Outcome::Ok(Reply::Swapped(r)) => Some(*r),
            _ => None,
        }
    }

    /// Why this record cannot be a real operation (a reply of the wrong kind for its
    /// call, or a completion before its invocation), or `None` if it is well formed.
    pub fn malformation(&self) -> Option<String> {
        if let Outcome::Ok(reply) = &self.outcome {
            let fits = matches!(
                (&self.call, reply),
                (Call::Get, Reply::Got(_))
                    | (Call::Put { .. }, Reply::Written(_))
                    | (Call::Delete, Reply::Written(_))
                    | (Call::Cas { .. }, Reply::Swapped(_))
                    | (Call::Cas { .. }, Reply::Conflict)
            );
            if !fits {
                return Some(format!(
                    "reply {reply:?} does not answer call {:?}",
                    self.call
                ));
            }
        }
        match (&self.outcome, self.completed_at) {
            (Outcome::Unknown, _) => None,
            (_, None) => Some("completed operation has no completion time".to_string()),
            (_, Some(done)) if done < self.invoked_at => Some(format!(
                "completed at {done} before it was invoked at {}",
                self.invoked_at
            )),
            _ => None,
        }
    }
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Call::Get => write!(f, "get"),
            Call::Put { value } => write!(f, "put {value:?}"),
            Call::Cas {
                expected_mod_revision,
                value,
            } => write!(f, "cas if mod_rev={expected_mod_revision} then {value:?}"),
            Call::Delete => write!(f, "delete"),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(Reply::Got(None)) => write!(f, "absent"),
            Outcome::Ok(Reply::Got(Some(v))) => write!(f, "{:?}@{}", v.value, v.mod_revision),
            Outcome::Ok(Reply::Written(r)) => write!(f, "rev {r}"),
            Outcome::Ok(Reply::Swapped(r)) => write!(f, "swapped rev {r}"),
            Outcome::Ok(Reply::Conflict) => write!(f, "conflict"),
            Outcome::Fail => write!(f, "FAIL"),
            Outcome::Unknown => write!(f, "UNKNOWN"),
        }
    }
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let done = match (&self.outcome, self.completed_at) {
            (Outcome::Unknown, _) | (_, None) => "inf".to_string(),
            (_, Some(t)) => t.to_string(),
        };
        write!(
            f,
            "{} [{}..{}] {:?} {} -> {}",
            self.client, self.invoked_at, done, self.key, self.call, self.outcome
        )
    }
}

/// Every operation of a test run, in the order they were invoked.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct History {
    /// The operations; [`OpIndex`] is a position in this list.
    pub ops: Vec<Operation>,
}

impl History {
    /// An empty history.
    pub fn new() -> Self {
        History::default()
    }

    /// Records that `client` sent `call` on `key` at time `at`. The operation counts as
    /// [`Outcome::Unknown`] until [`History::complete`] records its answer.
    pub fn invoke(
        &mut self,
        client: ClientId,
        key: impl Into<String>,
        call: Call,
        at: u64,
    ) -> OpIndex {
        self.ops.push(Operation {
            client,
            key: key.into(),
            call,
            invoked_at: at,
            completed_at: None,
            outcome: Outcome::Unknown,
        });
        OpIndex(self.ops.len() - 1)
    }

    /// Records how the operation `op` ended at time `at`. Returns false, changing
    /// nothing, if there is no such operation.
    pub fn complete(&mut self, op: OpIndex, at: u64, outcome: Outcome) -> bool {
        match self.ops.get_mut(op.0) {
            Some(rec) => {
                rec.completed_at = Some(at);
                rec.outcome = outcome;
                true
            }
            None => false,
        }
    }

    /// Appends a whole operation record.
    pub fn push(&mut self, op: Operation) -> OpIndex {
        self.ops.push(op);
        OpIndex(self.ops.len() - 1)
    }

    /// The number of operations.
    pub fn len(&self) -> usize {
        self.ops.len()
    }

    /// Whether there are no operations.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The history as pretty JSON, to be written next to a failing test's seed.
    pub fn to_json(&self) -> serde_json::Result<String> {
        serde_json::to_string_pretty(self)
    }

    /// Reads a history written by [`History::to_json`].
    pub fn from_json(text: &str) -> serde_json::Result<History> {
        serde_json::from_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A history survives a JSON round trip unchanged, so a failing run can be replayed.
    #[test]
    fn a_history_round_trips_through_json() {
        let mut h = History::new();
        let a = h.invoke(ClientId(1), "k", Call::Put { value: "v".into() }, 10);
        h.complete(a, 20, Outcome::Ok(Reply::Written(Revision(3))));
        let b = h.invoke(
            ClientId(2),
            "k",
            Call::Cas {
                expected_mod_revision: Revision(3),
                value: "w".into(),
            },
            15,
        );
        h.complete(b, 30, Outcome::Unknown);
        let c = h.invoke(ClientId(3), "k", Call::Get, 40);
        h.complete(
            c,
            50,
            Outcome::Ok(Reply::Got(Some(Versioned {
                value: "v".into(),
                mod_revision: Revision(3),
            }))),
        );
        h.invoke(ClientId(4), "j", Call::Delete, 41);
        let text = h.to_json().expect("serializes");
        assert_eq!(History::from_json(&text).expect("parses"), h);
    }

    /// A reply that cannot answer its call, or a completion before the invocation, is
    /// reported as malformed instead of being trusted.
    #[test]
    fn a_mismatched_reply_is_reported_as_malformed() {
        let op = Operation {
            client: ClientId(1),
            key: "k".into(),
            call: Call::Get,
            invoked_at: 5,
            completed_at: Some(6),
            outcome: Outcome::Ok(Reply::Conflict),
        };
        assert!(op.malformation().is_some());
        let backwards = Operation {
            completed_at: Some(1),
            outcome: Outcome::Ok(Reply::Got(None)),
            ..op
        };
        assert!(backwards.malformation().is_some());
    }
}
