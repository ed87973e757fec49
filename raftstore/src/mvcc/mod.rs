//! The MVCC keyspace with etcd's semantics: the pure core of a shard's state machine.
//!
//! What lives here: `Mvcc`, a deterministic function of the commands applied to it
//! (no I/O, no clocks, no async), answering reads at the latest or any retained past
//! revision, keeping per-revision history since the compaction point for watchers, and
//! encoding itself into an rkyv snapshot. What does not: the Raft glue that feeds it
//! commands, lease deadlines (the leader tracks them from `leases()`), and watch fan-out
//! (`crate::watch`).
//!
//! Revisions follow etcd. Every command that changes at least one key bumps the revision
//! by exactly one and all its changes share it; reads, lease grants, compactions, and
//! writes that change nothing (a delete that matches no key, a revoke of a lease that
//! holds no key) do not. Revisions are therefore dense: each revision in
//! `compacted+1 ..= revision` has a non-empty batch of events in history.
//!
//! Paging a range: when `more` is set, re-issue the request with `range.start` set to the
//! last returned key followed by a `\0` byte (the smallest key after it), the same `end`,
//! and `revision` pinned to the response's revision so the pages form one consistent view.

mod history;
mod index;
mod lease;
mod snapshot;
mod txn;

#[cfg(test)]
mod lease_history_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;

use std::sync::Arc;

pub use history::EventsPage;
pub use snapshot::MvccError;

use crate::types::{
    ApplyError, Command, CommandResponse, Event, KeyRange, KeyValue, LeaseId, RangeRequest,
    RangeResponse, Revision,
};
use history::{HistEvent, History};
use index::{KeyIndex, Version};
use lease::Leases;

/// All changes made at one revision, in the order the command made them: what the state
/// machine hands to the watch hub after applying a command.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevisionBatch {
    /// The revision every event in this batch was written at.
    pub revision: Revision,
    /// The changes, in op order (a range delete or lease revoke contributes in key order).
    pub events: Vec<Event>,
}

/// A shard's MVCC keyspace: current and past versions of keys, leases, and the change
/// history since the compaction point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mvcc {
    revision: Revision,
    compacted: Revision,
    index: KeyIndex,
    history: History,
    leases: Leases,
}

impl Default for Mvcc {
    fn default() -> Self {
        Mvcc::new()
    }
}

/// Changes of the write in progress; they become a revision only if there is at least one.
struct Pending {
    rev: Revision,
    events: Vec<HistEvent>,
}

impl Pending {
    /// The revision a "latest" read sees: the pending one once something was written.
    fn read_revision(&self, current: Revision) -> Revision {
        if self.events.is_empty() {
            current
        } else {
            self.rev
        }
    }
}

impl Mvcc {
    /// An empty keyspace at revision 0 with nothing compacted.
    pub fn new() -> Self {
        Mvcc {
            revision: Revision::ZERO,
            compacted: Revision::ZERO,
            index: KeyIndex::default(),
            history: History::starting_at(Revision(1)),
            leases: Leases::default(),
        }
    }

    /// The revision of the last write.
    pub fn revision(&self) -> Revision {
        self.revision
    }

    /// The compaction point: reads below it and watches from at or below it fail.
    pub fn compacted(&self) -> Revision {
        self.compacted
    }

    /// Applies one replicated command. The batch is `Some` exactly when the command
    /// changed keys, i.e. when it created a new revision. Errors are returned as
    /// `CommandResponse::Error` and leave the keyspace untouched.
    pub fn apply(&mut self, cmd: &Command) -> (CommandResponse, Option<RevisionBatch>) {
        match cmd {
            Command::Txn(req) => self.apply_txn(req),
            Command::LeaseGrant { id, ttl_secs } => {
                if !self.leases.grant(*id, *ttl_secs) {
                    return (
                        CommandResponse::Error(ApplyError::LeaseExists { id: *id }),
                        None,
                    );
                }
                let granted = CommandResponse::LeaseGranted {
                    id: *id,
                    ttl_secs: *ttl_secs,
                    revision: self.revision,
                };
                (granted, None)
            }
            Command::LeaseRevoke { id } => {
                if !self.leases.contains(*id) {
                    return (
                        CommandResponse::Error(ApplyError::LeaseNotFound { id: *id }),
                        None,
                    );
                }
                self.revoke(std::slice::from_ref(id))
            }
            Command::LeaseExpire { ids } => self.revoke(ids),
            Command::Compact { revision } => (self.compact(*revision), None),
        }
    }

    /// Reads keys at the latest or a past revision. `revision: Some(Revision(0))` means
    /// the latest, as etcd's 0. The response's `revision` is the store's current revision.
    pub fn range(&self, req: &RangeRequest) -> Result<RangeResponse, ApplyError> {
        let at = self.resolve_read(req.revision, self.revision)?;
        Ok(self.read_at(req, at, self.revision))
    }

    /// The history batches with revision `>= from` that change keys in `range`, filtered
    /// to those keys, oldest first, at most `max_batches` of them. `from` at or below the
    /// compaction point fails with `Compacted` (nothing compacted yet: any `from` works).
    pub fn events_in(
        &self,
        range: &KeyRange,
        from: Revision,
        max_batches: usize,
    ) -> Result<Vec<RevisionBatch>, ApplyError> {
        Ok(self
            .events_page(range, from, max_batches, usize::MAX)?
            .batches)
    }

    /// Like `events_in`, but also stops after looking at `max_revisions` revisions, so a
    /// caller holding a lock bounds its work, and says where to continue.
    pub fn events_page(
        &self,
        range: &KeyRange,
        from: Revision,
        max_batches: usize,
        max_revisions: usize,
    ) -> Result<EventsPage, ApplyError> {
        if self.compacted > Revision::ZERO && from <= self.compacted {
            return Err(ApplyError::Compacted {
                compacted: self.compacted,
            });
        }
        Ok(self.history.page(range, from, max_batches, max_revisions))
    }

    /// Every granted lease with its TTL in seconds, by id: what a new leader needs to
    /// start tracking deadlines.
    pub fn leases(&self) -> Vec<(LeaseId, u64)> {
        self.leases
            .iter()
            .map(|(id, lease)| (id, lease.ttl_secs))
            .collect()
    }

    /// The live keys held by lease `id`, in key order (none if it is not granted).
    pub fn lease_keys(&self, id: LeaseId) -> Vec<Vec<u8>> {
        self.leases
            .get(id)
            .map(|l| l.keys.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Which revision a read asked for resolves to, given what "latest" is.
    fn resolve_read(
        &self,
        asked: Option<Revision>,
        latest: Revision,
    ) -> Result<Revision, ApplyError> {
        match asked {
            None | Some(Revision::ZERO) => Ok(latest),
            Some(r) if r < self.compacted => Err(ApplyError::Compacted {
                compacted: self.compacted,
            }),
            Some(r) if r > latest => Err(ApplyError::FutureRevision { current: latest }),
            Some(r) => Ok(r),
        }
    }

    /// Serves a read at the already validated revision `at`.
    fn read_at(&self, req: &RangeRequest, at: Revision, served: Revision) -> RangeResponse {
        let limit = if req.limit == 0 { u64::MAX } else { req.limit };
        let mut kvs = Vec::new();
        let mut count = 0u64;
        for v in self.index.visible(&req.range, at) {
            count += 1;
            if req.count_only || kvs.len() as u64 >= limit {
                if req.skip_count && !req.count_only {
                    break;
                }
                continue;
            }
            kvs.push(if req.keys_only {
                KeyValue {
                    key: v.key.clone(),
                    value: Vec::new(),
                    ..KeyValue::clone(v)
                }
            } else {
                KeyValue::clone(v)
            });
        }
        let more = !req.count_only && count > kvs.len() as u64;
        RangeResponse {
            kvs,
            more,
            count,
            revision: served,
        }
    }

    /// Revokes every listed lease that exists; all their keys are deleted at one revision.
    fn revoke(&mut self, ids: &[LeaseId]) -> (CommandResponse, Option<RevisionBatch>) {
        let mut pending = Pending {
            rev: self.revision.next(),
            events: Vec::new(),
        };
        for id in ids {
            let Some(lease) = self.leases.remove(*id) else {
                continue;
            };
            for key in &lease.keys {
                self.delete_key(&mut pending, key);
            }
        }
        let batch = self.commit(pending);
        (
            CommandResponse::LeaseRevoked {
                revision: self.revision,
            },
            batch,
        )
    }

    /// Forgets history below `rev`, keeping what reads at `rev` need.
    fn compact(&mut self, rev: Revision) -> CommandResponse {
        if rev > self.revision {
            return CommandResponse::Error(ApplyError::FutureRevision {
                current: self.revision,
            });
        }
        if rev <= self.compacted {
            return CommandResponse::Error(ApplyError::Compacted {
                compacted: self.compacted,
            });
        }
        self.index.compact(rev);
        self.history.compact(rev);
        self.compacted = rev;
        CommandResponse::Compacted { revision: rev }
    }

    /// Deletes `key` if it is live, recording a delete event. Returns the deleted version.
    fn delete_key(&mut self, pending: &mut Pending, key: &[u8]) -> Option<Version> {
        let prev = Arc::clone(self.index.latest(key)?);
        let tombstone = Arc::new(KeyValue {
            key: key.to_vec(),
            mod_revision: pending.rev,
            ..KeyValue::default()
        });
        self.leases.detach(prev.lease, key);
        self.index.push(Arc::clone(&tombstone));
        pending.events.push(HistEvent {
            kv: tombstone,
            prev: Some(Arc::clone(&prev)),
        });
        Some(prev)
    }

    /// Turns the pending changes into a new revision, if there are any.
    fn commit(&mut self, pending: Pending) -> Option<RevisionBatch> {
        if pending.events.is_empty() {
            return None;
        }
        let batch = RevisionBatch {
            revision: pending.rev,
            events: pending.events.iter().map(HistEvent::to_event).collect(),
        };
        self.history
            .push(pending.rev, pending.events.into_boxed_slice());
        self.revision = pending.rev;
        Some(batch)
    }
}
