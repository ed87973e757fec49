//! Behaviour tests of the log store: durability, recovery, group commit, disk faults,
//! and openraft's own storage suite.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

use openraft::storage::{RaftLogStorage, RaftLogStorageExt};
use openraft::{EntryPayload, RaftLogReader};
use tempfile::TempDir;

use super::record::{self, HEADER_LEN};
use super::{LogOptions, LogStore};
use crate::raft_types::{Entry, LogId, Membership};
use crate::types::{Command, LeaseId, Proposal};

mod durability;
#[cfg(feature = "failpoints")]
mod faults;
mod prealloc;
mod recovery;
mod suite;

/// How long a test waits for a callback before declaring it lost.
pub(super) const CALLBACK_TIMEOUT: Duration = Duration::from_secs(10);

/// A log id with leader node 1.
pub(super) fn log_id(term: u64, index: u64) -> LogId {
    record::log_id(term, 1, index)
}

/// A normal entry carrying a lease grant whose id is the index.
pub(super) fn normal(term: u64, index: u64) -> Entry {
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Normal(Proposal::one(Command::LeaseGrant {
            id: LeaseId(index as i64),
            ttl_secs: 30,
        })),
    }
}

/// A membership entry with voters {1, 2, 3}.
pub(super) fn membership(term: u64, index: u64) -> Entry {
    let voters: BTreeSet<crate::NodeId> = [1, 2, 3].into_iter().map(crate::NodeId).collect();
    Entry {
        log_id: log_id(term, index),
        payload: EntryPayload::Membership(Membership::new(vec![voters], ())),
    }
}

/// Normal entries of one term over a range of indexes.
pub(super) fn normals(term: u64, indexes: impl IntoIterator<Item = u64>) -> Vec<Entry> {
    indexes.into_iter().map(|i| normal(term, i)).collect()
}

/// Segments small enough that a few entries fill one.
pub(super) fn tiny() -> LogOptions {
    LogOptions::default().with_segment_size(200)
}

pub(super) fn must_open(dir: &TempDir, opts: LogOptions) -> LogStore {
    LogStore::open(dir.path(), opts).expect("open log store")
}

/// Appends and waits for the flush acknowledgement, as openraft's blocking append does.
pub(super) async fn must_append(store: &mut LogStore, entries: Vec<Entry>) {
    store.blocking_append(entries).await.expect("append");
}

/// Every live entry.
pub(super) async fn read_all(store: &mut LogStore) -> Vec<Entry> {
    store.try_get_log_entries(..).await.expect("read log")
}

/// The (term, index) of each entry, for compact assertions.
pub(super) fn ids(entries: &[Entry]) -> Vec<(u64, u64)> {
    entries
        .iter()
        .map(|e| (e.log_id.leader_id.term, e.log_id.index))
        .collect()
}

pub(super) async fn last_log_id(store: &mut LogStore) -> Option<LogId> {
    store.get_log_state().await.expect("log state").last_log_id
}

/// The segment files of a store directory, in index order.
pub(super) fn segment_files(dir: &TempDir) -> Vec<PathBuf> {
    super::segment::list(&dir.path().join("log"))
        .expect("list segments")
        .into_iter()
        .map(|(_, path)| path)
        .collect()
}

/// Byte offset of each record in a segment file, by walking the length fields up to the
/// zero-filled (preallocated) space after the last record.
pub(super) fn record_offsets(path: &Path) -> Vec<u64> {
    walk_records(path).0
}

/// One past the last record of a segment file (where the next one would be written).
pub(super) fn records_end(path: &Path) -> u64 {
    walk_records(path).1
}

fn walk_records(path: &Path) -> (Vec<u64>, u64) {
    let bytes = std::fs::read(path).expect("read segment");
    let mut offsets = Vec::new();
    let mut pos = 0usize;
    while pos + HEADER_LEN <= bytes.len() {
        let len = u32::from_le_bytes([bytes[pos], bytes[pos + 1], bytes[pos + 2], bytes[pos + 3]]);
        if len == 0 {
            break;
        }
        offsets.push(pos as u64);
        pos += HEADER_LEN + len as usize;
    }
    (offsets, pos.min(bytes.len()) as u64)
}

/// Asserts that every byte of `path` from `from` on is zero: it reads as end-of-log.
pub(super) fn assert_zero_from(path: &Path, from: u64) {
    let bytes = std::fs::read(path).expect("read segment");
    let tail = &bytes[(from as usize).min(bytes.len())..];
    if let Some(at) = tail.iter().position(|&b| b != 0) {
        panic!(
            "{}: non-zero byte at offset {} (expected zeros from {from})",
            path.display(),
            from as usize + at
        );
    }
}

/// The size of a file.
pub(super) fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).expect("stat").len()
}

/// Flips one bit of the byte at `offset` in `path`.
pub(super) fn flip_byte(path: &Path, offset: u64) {
    let mut bytes = std::fs::read(path).expect("read segment");
    bytes[offset as usize] ^= 0x20;
    std::fs::write(path, bytes).expect("write segment");
}
