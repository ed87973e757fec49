//! The segmented, checksummed, group-committed Raft log: this shard's durable copy of
//! the replicated log, its vote, and the log pointers openraft asks us to remember.
//!
//! Layout under `<dir>/log/`:
//!
//! - `00000000000000000001.seg`, … — append-only segments named by the index of their
//!   first entry, rolled at [`LogOptions::segment_size`]. Each record is
//!   `[body len: u32 LE][crc32 of body: u32 LE][body]`, the body an rkyv archive of
//!   `record`'s mirror of openraft's `Entry`. A segment is preallocated (fallocate) to
//!   the segment size when created, so that a group commit's fdatasync has no file size
//!   change to journal; where the filesystem cannot, it grows with each append instead
//!   ([`LogStats::preallocated`] says which). Either way a segment's records end where
//!   a zero length field and nothing but zeros follow, never at the file size.
//! - `meta` — vote, committed and last purged log id, replaced atomically.
//! - `LOCK` — held (flock) while a [`LogStore`] has the directory open.
//!
//! Durability rules, in one place:
//!
//! - An append is acknowledged only after an fdatasync that covers it; the flusher
//!   thread shares one fdatasync among every append written while the previous one ran.
//! - A segment is fdatasynced before its successor is created, so only the last
//!   segment can hold an unsynced (possibly torn) tail.
//! - A failed write or fsync poisons the store: it never retries an fsync and refuses
//!   every later write, since the page cache can no longer be trusted.
//! - Recovery truncates a damaged tail of the last segment; damage anywhere else is an
//!   error that names the file and byte offset. Nothing is ever skipped. Zero-filled
//!   space after the last record of any segment is its normal end, not damage.
//! - Whatever must stop being part of the log (a torn tail, entries truncated by
//!   openraft) is zeroed, durably, before the operation returns: with preallocated
//!   segments, forgetting an offset is not enough to keep recovery from finding the
//!   records past it.
//! - The committed id is a restart hint: the flusher persists it lazily, after a data
//!   sync, and opening lowers it to the last entry that survived.
//! - Because of that, a committed vote reads back uncommitted after a reopen: a member
//!   that led before a restart leads again only after an election (whose blank entry
//!   re-establishes the commit point), never straight away with a stale read index.
//! - Known limit: a power cut can persist a later page of an unacknowledged write but
//!   not an earlier one. Recovery then finds a valid record after a damaged one and
//!   refuses to open (fail-safe) instead of guessing that the damage is a torn write.
//!
//! What does not live here: the state machine and snapshots (`crate::mvcc`), and the
//! decision of when to purge (openraft makes it).

mod error;
mod faults;
mod flusher;
mod index;
mod io;
mod meta;
pub(crate) mod record;
mod recovery;
mod segment;
mod stats;
mod store;

#[cfg(test)]
mod tests;

pub use error::LogError;
#[cfg(feature = "failpoints")]
pub use faults::DiskFaults;
pub use stats::{LogStats, LogStatsHandle};
pub use store::{LogReader, LogStore};

/// Default size at which the active segment is sealed and a new one started.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// How a [`LogStore`] lays out and syncs its files.
#[derive(Clone, Debug)]
pub struct LogOptions {
    /// Roll to a new segment once appending the next record would take the active one
    /// past this many bytes. A record larger than this still gets a segment of its own.
    pub segment_size: u64,
    /// Disk faults to inject (chaos tests only).
    #[cfg(feature = "failpoints")]
    pub faults: DiskFaults,
}

impl Default for LogOptions {
    fn default() -> Self {
        LogOptions {
            segment_size: DEFAULT_SEGMENT_SIZE,
            #[cfg(feature = "failpoints")]
            faults: DiskFaults::default(),
        }
    }
}

impl LogOptions {
    /// These options with segments rolled at `bytes`.
    pub fn with_segment_size(mut self, bytes: u64) -> Self {
        self.segment_size = bytes;
        self
    }
}
