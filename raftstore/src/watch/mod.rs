//! The native watch hub: fans each applied revision out to the watches that match it,
//! with etcd's guarantees.
//!
//! What lives here: `WatchHub`, a pure, synchronous core driven by the state machine
//! (no tasks, no clocks), the `WatchReceiver` a client awaits, and `SharedEvent`, the
//! encode-once form of an event. What does not: timers for progress notifications, the
//! task that pumps catching-up watchers, and the wire protocol; those live with the
//! caller.
//!
//! # The caller's contract
//!
//! One lock covers the `Mvcc` and the hub. Under it, the state machine applies a
//! command and, if it produced a `RevisionBatch`, calls `publish` with it before
//! releasing the lock; `watch`, `progress`, `cancel` and `pump_unsynced` are called under
//! the same lock. That makes "the revisions the mvcc has" and "the revisions the hub has
//! published" the same set at every point a watch can register, which is what lets a
//! watch switch from history to live events without losing or repeating a revision.
//! The hub also defends itself: a publish that skips revisions (or a snapshot install,
//! see `resync`) moves live watchers back to catching up from history, and a revision a
//! watcher already has is never sent again.
//!
//! After `publish` and `watch`, and whenever the `wakeup()` notify fires (a catching-up
//! receiver made room, or a receiver was dropped), the caller calls `pump_unsynced`;
//! while it returns true, call it again after releasing the lock for a moment. A timer
//! alone also works, at the cost of catch-up latency.
//!
//! # Guarantees
//!
//! * Ordered and unique: a watch gets revisions in increasing order, each at most once.
//! * Reliable: no matching revision is skipped; a watch that cannot keep up is canceled
//!   with the first revision it did not get, never silently dropped behind.
//! * Atomic: all matching events of one revision arrive in one `Events` message.
//! * Resumable: a watch can start at any revision above the compaction point; at or
//!   below it, it fails with `ApplyError::Compacted` carrying the compaction revision.
//! * Bookmarkable: `Progress { revision }` means every matching event up to `revision`
//!   was delivered before it.
//!
//! # Memory
//!
//! Each watch has a queue of `WatchConfig::queue_capacity` messages plus one slot kept
//! for the final `Canceled`. A watch that starts in the past is filled from the mvcc's
//! history a chunk at a time as it drains, never all at once.

mod event;
mod hub;
mod receiver;

#[cfg(test)]
mod tests;

pub use event::{ArchivedWireEvent, SharedEvent, WatchError, WireEvent};
pub use hub::WatchHub;
pub use receiver::WatchReceiver;
pub use tokio::sync::mpsc::error::TryRecvError;

use crate::types::{KeyRange, Revision};

/// Identifies one watch within its hub; never reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct WatchId(pub u64);

/// What a client asks to watch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WatchRequest {
    /// The keys to watch, in etcd's range encoding.
    pub range: KeyRange,
    /// The first revision to deliver; `None` or `Some(Revision(0))` means only changes
    /// after the current revision.
    pub start_revision: Option<Revision>,
    /// Whether this watch wants the periodic bookmarks sent by `WatchHub::progress`.
    pub progress_notify: bool,
}

/// One message of a watch stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WatchResponse {
    /// Every event of `revision` that matches the watch, in the order they were made.
    Events {
        revision: Revision,
        events: Vec<SharedEvent>,
    },
    /// Every matching event up to and including `revision` has been delivered.
    Progress { revision: Revision },
    /// The watch ended; nothing follows.
    Canceled { reason: CancelReason },
}

/// Why a watch ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CancelReason {
    /// The client canceled it.
    Requested,
    /// Its queue was full when a revision had to be delivered; watching again from
    /// `resume_from` continues without a gap.
    Slow { resume_from: Revision },
    /// It was catching up from history and compaction removed the revisions it still
    /// needed; the client must re-list at or after `compacted`.
    Compacted { compacted: Revision },
    /// The events of `revision` could not be encoded (larger than rkyv can address).
    Unencodable { revision: Revision },
}

/// What the hub does with a live watch whose queue is full.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum SlowPolicy {
    /// Cancel it with `CancelReason::Slow` (the client re-watches from `resume_from`).
    #[default]
    Cancel,
    /// Move it back to catching up from history (etcd's "victim" handling); it is only
    /// canceled if compaction overtakes it.
    CatchUp,
}

/// Limits of the hub.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchConfig {
    /// Messages a watch may have queued (at least 1); one more slot is kept for `Canceled`.
    pub queue_capacity: usize,
    /// Most batches moved from history into one watch's queue per pump.
    pub catch_up_chunk: usize,
    /// Most history revisions looked at for one watch per pump, bounding the time the
    /// lock is held for a watch on rarely written keys.
    pub max_scan_revisions: usize,
    /// What to do with a live watch that cannot keep up.
    pub on_slow: SlowPolicy,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            queue_capacity: 128,
            catch_up_chunk: 32,
            max_scan_revisions: 4096,
            on_slow: SlowPolicy::Cancel,
        }
    }
}
