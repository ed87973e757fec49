//! The change history since the compaction point, one batch per revision, kept for
//! watchers that start in the past.
//!
//! Revisions are dense (every revision is one write with at least one event), so the
//! batch for revision `r` sits at index `r - first` of a deque: lookup is O(1), appending
//! and compaction are pops and pushes at the ends. Events hold the same `Arc`s as the key
//! index, so history costs pointers, not copies of values.

use std::collections::VecDeque;

use super::index::{is_tombstone, Version};
use super::RevisionBatch;
use crate::types::{Event, EventKind, KeyRange, KeyValue, Revision};

/// One change of one key, sharing its versions with the key index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct HistEvent {
    /// The version written (a tombstone for a delete).
    pub kv: Version,
    /// The live version it replaced, if any.
    pub prev: Option<Version>,
}

impl HistEvent {
    /// The owned event as watchers see it.
    pub(super) fn to_event(&self) -> Event {
        let kind = if is_tombstone(&self.kv) {
            EventKind::Delete
        } else {
            EventKind::Put
        };
        Event {
            kind,
            kv: KeyValue::clone(&self.kv),
            prev_kv: self.prev.as_deref().cloned(),
        }
    }
}

/// Per-revision batches for revisions `first ..= first + len - 1`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct History {
    first: Revision,
    batches: VecDeque<Box<[HistEvent]>>,
}

/// What one scan of history found, and where the next scan should start.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventsPage {
    /// Matching batches in revision order; revisions without a matching event are left out.
    pub batches: Vec<RevisionBatch>,
    /// The first revision this scan did not look at: pass it as `from` to continue.
    pub next: Revision,
}

impl History {
    /// An empty history whose first batch will be revision `first`.
    pub(super) fn starting_at(first: Revision) -> Self {
        History {
            first,
            batches: VecDeque::new(),
        }
    }

    /// Appends the batch of revision `first + len` (the caller's next revision).
    pub(super) fn push(&mut self, rev: Revision, events: Box<[HistEvent]>) {
        debug_assert_eq!(rev.0, self.first.0 + self.batches.len() as u64);
        self.batches.push_back(events);
    }

    /// Drops every batch at or below `rev`.
    pub(super) fn compact(&mut self, rev: Revision) {
        while self.first <= rev && self.batches.pop_front().is_some() {
            self.first = self.first.next();
        }
        if self.first <= rev {
            self.first = rev.next();
        }
    }

    /// The batch of revision `rev`, if it is retained.
    pub(super) fn get(&self, rev: Revision) -> Option<&[HistEvent]> {
        let i = usize::try_from(rev.0.checked_sub(self.first.0)?).ok()?;
        self.batches.get(i).map(|b| &**b)
    }

    /// All retained batches with their revisions, oldest first.
    pub(super) fn iter(&self) -> impl Iterator<Item = (Revision, &[HistEvent])> {
        let first = self.first.0;
        self.batches
            .iter()
            .enumerate()
            .map(move |(i, b)| (Revision(first + i as u64), &**b))
    }

    /// Scans from `from` (which must be `>= first`) for batches with events in `range`:
    /// stops after `max_batches` matches or `max_revisions` revisions looked at.
    pub(super) fn page(
        &self,
        range: &KeyRange,
        from: Revision,
        max_batches: usize,
        max_revisions: usize,
    ) -> EventsPage {
        let mut batches = Vec::new();
        let mut next = from.max(self.first);
        let mut scanned = 0usize;
        while batches.len() < max_batches && scanned < max_revisions {
            let Some(events) = self.get(next) else { break };
            let matching: Vec<Event> = events
                .iter()
                .filter(|e| range.contains(&e.kv.key))
                .map(HistEvent::to_event)
                .collect();
            if !matching.is_empty() {
                batches.push(RevisionBatch {
                    revision: next,
                    events: matching,
                });
            }
            next = next.next();
            scanned += 1;
        }
        EventsPage { batches, next }
    }
}
