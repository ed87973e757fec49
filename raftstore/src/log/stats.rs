//! Counters a benchmark reads to report fsyncs per put, and tests read to check group
//! commit.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::Arc;

/// A snapshot of what a log store has done since it was opened.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Calls to `append` (each one a batch of entries with one callback).
    pub appends: u64,
    /// Entries appended.
    pub entries: u64,
    /// Bytes of records written to segments.
    pub bytes: u64,
    /// fdatasync calls on segment data (group commits, segment seals, truncations).
    pub fsyncs: u64,
    /// fsync calls on the log directory (segment create/delete, meta replace).
    pub dir_syncs: u64,
    /// Atomic replacements of the meta file (vote, committed, last purged).
    pub meta_writes: u64,
    /// The highest log index the flusher has made durable and acknowledged, if any.
    pub durable_index: Option<u64>,
    /// Whether segments are preallocated to the segment size (fallocate), so that a
    /// group commit's fdatasync has no file size change to journal. False until the
    /// first segment is created or recovered, and on filesystems without fallocate,
    /// where segments grow with each append instead.
    pub preallocated: bool,
}

/// A cloneable handle that reads a store's counters, usable after the store itself has
/// been handed to openraft.
#[derive(Clone, Debug, Default)]
pub struct LogStatsHandle(pub(crate) Arc<Counters>);

impl LogStatsHandle {
    /// The counters as they are now.
    pub fn get(&self) -> LogStats {
        self.0.snapshot()
    }
}

const NO_INDEX: u64 = u64::MAX;

/// [`Counters::prealloc`]: fallocate not tried yet.
pub(crate) const PREALLOC_UNTRIED: u8 = 0;
/// [`Counters::prealloc`]: fallocate works; segments are preallocated.
pub(crate) const PREALLOC_ON: u8 = 1;
/// [`Counters::prealloc`]: the filesystem does not support fallocate; segments grow.
pub(crate) const PREALLOC_OFF: u8 = 2;

#[derive(Debug)]
pub(crate) struct Counters {
    pub(crate) appends: AtomicU64,
    pub(crate) entries: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) fsyncs: AtomicU64,
    pub(crate) dir_syncs: AtomicU64,
    pub(crate) meta_writes: AtomicU64,
    durable_index: AtomicU64,
    /// One of `PREALLOC_*`: whether segments are preallocated.
    pub(crate) prealloc: AtomicU8,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            appends: AtomicU64::new(0),
            entries: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            fsyncs: AtomicU64::new(0),
            dir_syncs: AtomicU64::new(0),
            meta_writes: AtomicU64::new(0),
            durable_index: AtomicU64::new(NO_INDEX),
            prealloc: AtomicU8::new(PREALLOC_UNTRIED),
        }
    }
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn set_durable_index(&self, index: Option<u64>) {
        self.durable_index
            .store(index.unwrap_or(NO_INDEX), Ordering::Release);
    }

    pub(crate) fn snapshot(&self) -> LogStats {
        let durable = self.durable_index.load(Ordering::Acquire);
        LogStats {
            appends: self.appends.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed),
            bytes: self.bytes.load(Ordering::Relaxed),
            fsyncs: self.fsyncs.load(Ordering::Relaxed),
            dir_syncs: self.dir_syncs.load(Ordering::Relaxed),
            meta_writes: self.meta_writes.load(Ordering::Relaxed),
            durable_index: (durable != NO_INDEX).then_some(durable),
            preallocated: self.prealloc.load(Ordering::Relaxed) == PREALLOC_ON,
        }
    }
}
