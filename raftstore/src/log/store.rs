//! [`LogStore`], openraft's `RaftLogStorage` over our segments, and [`LogReader`], the
//! cloneable read side handed to replication tasks.

use std::fmt::Debug;
use std::fs::{self, File};
use std::io;
use std::ops::{Bound, RangeBounds};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::{LogFlushed, LogState, RaftLogStorage};
use openraft::{OptionalSend, RaftLogReader};
use parking_lot::RwLock;

use super::error::LogError;
use super::faults::Faults;
use super::flusher::{Completion, Flusher, SyncTarget};
use super::index::LogIndex;
use super::io::{self as disk_io, Disk};
use super::meta::MetaFile;
use super::stats::{Counters, LogStats, LogStatsHandle};
use super::{record, recovery, segment, LogOptions};
use crate::raft_types::{Entry, LogId, StorageError, TypeConfig, Vote};

/// The subdirectory of the store's directory that holds the log.
const LOG_SUBDIR: &str = "log";

/// The durable Raft log of one shard: segments, vote, committed and purged pointers.
///
/// Open it with [`LogStore::open`] and hand it to openraft. Writes go through `&mut self`
/// (openraft serializes them); reads may also go through any number of [`LogReader`]s.
pub struct LogStore {
    dir: PathBuf,
    opts: LogOptions,
    index: Arc<RwLock<LogIndex>>,
    meta: Arc<MetaFile>,
    flusher: Flusher,
    disk: Disk,
    /// Held for the flock on `LOCK`; released when the store is dropped.
    _lock: File,
}

/// A cheap, cloneable reader of a [`LogStore`]'s entries, for openraft's replication.
#[derive(Clone)]
pub struct LogReader {
    index: Arc<RwLock<LogIndex>>,
    stats: Arc<Counters>,
}

impl LogStore {
    /// Opens (creating if needed) the log under `<dir>/log`, recovering from whatever a
    /// crash left behind. Synchronous: it reads every segment once.
    pub fn open(dir: &Path, opts: LogOptions) -> Result<LogStore, LogError> {
        let log_dir = dir.join(LOG_SUBDIR);
        let disk = Disk {
            faults: Faults::from_options(&opts),
            stats: Arc::new(Counters::default()),
        };
        if !log_dir.is_dir() {
            fs::create_dir_all(&log_dir).map_err(|e| LogError::io(&log_dir, e))?;
            disk.sync_dir(dir)?;
        }
        let lock = disk_io::lock_dir(&log_dir)?;
        let meta = Arc::new(MetaFile::load(&log_dir, disk.clone())?);
        let stored = meta.get();
        let index = recovery::recover(&log_dir, stored.last_purged, opts.segment_size, &disk)?;

        // A member never resumes leading across a restart without an election. openraft
        // 0.9 restores a member whose stored vote is its own committed vote as leader at
        // once (openraft#1511), with a read index of max(its term's first entry, the
        // committed id); the committed id here is a lazily persisted hint, so such a
        // leader served linearizable reads that missed writes it had acknowledged before
        // the restart (chaos: `--nemesis disk --seed 3`, after a power cut of every
        // member). Uncommitted, the vote still binds this member to its candidate for the
        // term, but leading again takes an election, whose blank entry re-establishes
        // the commit point before any read is served.
        if let Some(vote) = meta.uncommit_vote().filter(|v| v.is_committed()) {
            tracing::info!(%vote, "opened with a committed vote; leading again takes an election");
        }

        // What we recovered may so far live only in the page cache (the process died,
        // the machine did not). Make it durable before openraft builds on it.
        if let Some(seg) = index.segments.last() {
            disk.sync_data(&seg.file, &seg.path)?;
        }

        // The committed id is written lazily and may point past what survived; it is
        // only a hint, and every entry we still have below it is committed too.
        let (_, last) = index.log_state();
        if let Some(committed) = stored.committed {
            if last.is_none_or(|l| committed.index > l.index) {
                tracing::warn!(
                    committed = %committed,
                    last = ?last,
                    "persisted committed id is past the end of the log; lowering it"
                );
                meta.set_committed(last);
            }
        }

        let index = Arc::new(RwLock::new(index));
        let flusher = Flusher::spawn(disk.clone(), meta.clone(), sync_target(&index.read()))?;
        {
            let index = index.read();
            tracing::info!(
                dir = %log_dir.display(),
                segments = index.segments.len(),
                last_purged = ?index.last_purged,
                last = ?index.last_log_id,
                "opened raft log"
            );
        }
        Ok(LogStore {
            dir: log_dir,
            opts,
            index,
            meta,
            flusher,
            disk,
            _lock: lock,
        })
    }

    /// The counters as they are now.
    pub fn stats(&self) -> LogStats {
        self.disk.stats.snapshot()
    }

    /// A handle that keeps reading the counters after the store is moved into openraft.
    pub fn stats_handle(&self) -> LogStatsHandle {
        LogStatsHandle(self.disk.stats.clone())
    }

    /// A reader of this log's entries.
    pub fn reader(&self) -> LogReader {
        LogReader {
            index: self.index.clone(),
            stats: self.disk.stats.clone(),
        }
    }

    /// Writes `entries` and returns once they are readable; `on_durable` runs on the
    /// flusher thread once they are fsynced (`Ok`) or cannot be (`Err`). This is
    /// openraft's `append` without openraft's callback type, for benchmarks and tests.
    pub fn append_entries<I>(
        &mut self,
        entries: I,
        on_durable: impl FnOnce(io::Result<()>) + Send + 'static,
    ) -> Result<(), LogError>
    where
        I: IntoIterator<Item = Entry>,
    {
        self.append_inner(entries, Box::new(on_durable))
    }

    /// Waits until every entry appended so far is durable and acknowledged, and the
    /// committed id is persisted.
    pub async fn flush(&mut self) -> Result<(), LogError> {
        self.flusher.barrier().await
    }

    fn append_inner<I>(&mut self, entries: I, done: Completion) -> Result<(), LogError>
    where
        I: IntoIterator<Item = Entry>,
    {
        self.flusher.check()?;
        // Check the whole batch first, so that a rejected append writes nothing.
        let (mut expected, mut active_len, first_live) = {
            let index = self.index.read();
            let active_len = index.segments.last().map(|s| s.len);
            (index.expected_next(), active_len, index.first_live())
        };
        // Entries at or below the purge point are already covered by a snapshot; they
        // would never be read, so they are not written. openraft does not send them in
        // practice, but its storage suite does.
        let mut entries: Vec<Entry> = entries.into_iter().collect();
        let before = entries.len();
        entries.retain(|e| e.log_id.index >= first_live);
        if entries.len() < before {
            tracing::warn!(
                dropped = before - entries.len(),
                first_live,
                "ignoring appended entries at or below the purge point"
            );
        }
        for entry in &entries {
            let got = entry.log_id.index;
            if let Some(want) = expected.filter(|&want| want != got) {
                return Err(LogError::NotContiguous {
                    expected: want,
                    got,
                });
            }
            expected = Some(got.saturating_add(1));
        }
        Counters::add(&self.disk.stats.appends, 1);

        let mut batch = Batch::default();
        let mut record_buf = Vec::new();
        for entry in entries {
            let index = entry.log_id.index;
            record_buf.clear();
            let log_id = record::encode(entry, &mut record_buf)?;
            let full = match active_len {
                None => true,
                Some(len) => {
                    let used = len + batch.bytes.len() as u64;
                    used > 0 && used + record_buf.len() as u64 > self.opts.segment_size
                }
            };
            if full {
                self.write_batch(&mut batch)?;
                self.roll(index)?;
                active_len = Some(0);
            }
            batch.starts.push(batch.bytes.len() as u64);
            batch.bytes.extend_from_slice(&record_buf);
            batch.last = Some(log_id);
        }
        self.write_batch(&mut batch)?;
        let target = self.sync_target();
        self.flusher.enqueue_append(target, done);
        Ok(())
    }

    fn sync_target(&self) -> Option<SyncTarget> {
        sync_target(&self.index.read())
    }

    /// Writes the batch to the last segment, then publishes its entries to readers.
    fn write_batch(&mut self, batch: &mut Batch) -> Result<(), LogError> {
        if batch.starts.is_empty() {
            return Ok(());
        }
        let (file, path, at) = {
            let index = self.index.read();
            let seg = index.segments.last().ok_or_else(|| {
                LogError::io(&self.dir, io::Error::other("no segment to append to"))
            })?;
            (seg.file.clone(), seg.path.clone(), seg.len)
        };
        let written = self.disk.write_at(&file, &path, &batch.bytes, at);
        self.poison_on_err(written)?;
        {
            let mut index = self.index.write();
            if let Some(seg) = index.segments.last_mut() {
                seg.offsets.extend(batch.starts.iter().map(|s| at + s));
                seg.len = at + batch.bytes.len() as u64;
            }
            index.last_log_id = batch.last.or(index.last_log_id);
        }
        Counters::add(&self.disk.stats.entries, batch.starts.len() as u64);
        *batch = Batch::default();
        Ok(())
    }

    /// Seals the last segment (fdatasync, so that only the last segment can ever have an
    /// unsynced tail) and starts a new one at `first_index`.
    fn roll(&mut self, first_index: u64) -> Result<(), LogError> {
        let sealed = self
            .index
            .read()
            .segments
            .last()
            .map(|s| (s.file.clone(), s.path.clone()));
        if let Some((file, path)) = sealed {
            let synced = self.disk.sync_data(&file, &path);
            self.poison_on_err(synced)?;
        }
        let created = segment::create(&self.dir, first_index, self.opts.segment_size, &self.disk);
        let seg = self.poison_on_err(created)?;
        self.index.write().segments.push(seg);
        Ok(())
    }

    fn poison_on_err<T>(&self, result: Result<T, LogError>) -> Result<T, LogError> {
        if let Err(e) = &result {
            self.flusher.poison(e);
        }
        result
    }

    async fn truncate_inner(&mut self, log_id: LogId) -> Result<(), LogError> {
        self.flusher.check()?;
        // Acknowledge everything in flight before any of it can disappear.
        self.flusher.barrier().await?;
        let removed = {
            let mut index = self.index.write();
            // Purged entries are never truncated; keeping them keeps segments contiguous.
            let since = log_id.index.max(index.first_live());
            if since >= index.end_index() {
                return Ok(());
            }
            let new_last = match since.checked_sub(1) {
                Some(prev) if prev >= index.first_live() => {
                    let got = index.read(prev, since).map(|v| v.first().map(|e| e.log_id));
                    self.poison_on_err(got)?
                }
                _ => None,
            };
            let keep = index.segments.partition_point(|s| s.first_index < since);
            let removed: Vec<_> = index.segments.drain(keep..).collect();
            let shortened = index.segments.last_mut().map(|seg| {
                let len = seg.forget_from(since);
                (seg.file.clone(), seg.path.clone(), len)
            });
            index.last_log_id = new_last.or_else(|| {
                // Only purged entries (if any) remain below `since`.
                index.segments.last().and(index.last_purged)
            });
            (removed, shortened)
        };
        let (removed, shortened) = removed;
        tracing::info!(since = %log_id, segments_removed = removed.len(), "truncating log");
        // Newest first, each durable before the next: a crash leaves a shorter log, never
        // one with a hole.
        for seg in removed.iter().rev() {
            let gone = segment::remove(&self.dir, &seg.path, &self.disk);
            self.poison_on_err(gone)?;
        }
        // The segment may be preallocated: zero what follows the cut (rather than only
        // forget it), durably, so that no later recovery finds the truncated records.
        if let Some((file, path, len)) = &shortened {
            let cut = self
                .disk
                .zero_from(file, path, *len, self.opts.segment_size)
                .and_then(|()| self.disk.sync_data(file, path));
            self.poison_on_err(cut)?;
        }
        self.flusher.reset(self.sync_target());
        Ok(())
    }

    fn purge_inner(&mut self, log_id: LogId) -> Result<(), LogError> {
        self.flusher.check()?;
        if self
            .index
            .read()
            .last_purged
            .is_some_and(|p| p.index >= log_id.index)
        {
            return Ok(());
        }
        // Persist the pointer first: once it is durable, recovery finishes the deletes.
        let saved = self.meta.update(|m| m.last_purged = Some(log_id));
        self.poison_on_err(saved)?;
        let doomed: Vec<_> = {
            let mut index = self.index.write();
            index.last_purged = Some(log_id);
            let count = index
                .segments
                .partition_point(|s| s.end_index() <= log_id.index.saturating_add(1));
            let doomed = index.segments.drain(..count).collect();
            if index.segments.is_empty() {
                index.last_log_id = None;
            }
            doomed
        };
        if doomed.is_empty() {
            return Ok(());
        }
        tracing::debug!(upto = %log_id, segments = doomed.len(), "purging log segments");
        for seg in &doomed {
            let gone = fs::remove_file(&seg.path).map_err(|e| LogError::io(&seg.path, e));
            self.poison_on_err(gone)?;
        }
        let synced = self.disk.sync_dir(&self.dir);
        self.poison_on_err(synced)
    }

    /// Pauses or resumes the flusher, so a test can pile appends up deterministically.
    #[cfg(test)]
    pub(crate) fn pause_flusher(&self, paused: bool) {
        (self.flusher.pause_switch())(paused);
    }

    /// The same switch, usable while the store is borrowed by a pending operation.
    #[cfg(test)]
    pub(crate) fn flusher_pause_switch(&self) -> impl Fn(bool) + Send + Sync + 'static {
        self.flusher.pause_switch()
    }
}

impl Drop for LogStore {
    fn drop(&mut self) {
        let kill = self.disk.faults.lose_unsynced();
        let tail = self.flusher.stop(kill);
        if let (true, Some((file, path, durable_len))) = (kill, tail) {
            tracing::warn!(
                path = %path.display(),
                durable_len,
                "simulated kill: dropping unsynced log data"
            );
            // What a power cut leaves of a preallocated segment: zeros after the synced
            // part, the file still preallocated (without preallocation: the file cut).
            let zeroed = self
                .disk
                .zero_from(&file, &path, durable_len, self.opts.segment_size);
            if let Err(e) = zeroed {
                tracing::error!(path = %path.display(), error = %e, "simulated kill failed to cut the log");
            }
        }
    }
}

/// What the flusher must sync to cover everything written: the last segment.
fn sync_target(index: &LogIndex) -> Option<SyncTarget> {
    index.segments.last().map(|seg| SyncTarget {
        file: seg.file.clone(),
        path: seg.path.clone(),
        first_index: seg.first_index,
        len: seg.len,
        last_index: index.last_log_id.map(|l| l.index),
    })
}

/// Records waiting to be written with one write call.
#[derive(Default)]
struct Batch {
    bytes: Vec<u8>,
    /// Start of each record within `bytes`.
    starts: Vec<u64>,
    last: Option<LogId>,
}

/// `[start, end)` of an openraft range over indexes.
fn bounds(range: &impl RangeBounds<u64>) -> (u64, u64) {
    let start = match range.start_bound() {
        Bound::Included(&s) => s,
        Bound::Excluded(&s) => s.saturating_add(1),
        Bound::Unbounded => 0,
    };
    let end = match range.end_bound() {
        Bound::Included(&e) => e.saturating_add(1),
        Bound::Excluded(&e) => e,
        Bound::Unbounded => u64::MAX,
    };
    (start, end)
}

impl LogReader {
    /// The counters of the store this reads.
    pub fn stats(&self) -> LogStats {
        self.stats.snapshot()
    }
}

impl RaftLogReader<TypeConfig> for LogReader {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = bounds(&range);
        self.index
            .read()
            .read(start, end)
            .map_err(LogError::read_logs)
    }
}

impl RaftLogReader<TypeConfig> for LogStore {
    async fn try_get_log_entries<RB: RangeBounds<u64> + Clone + Debug + OptionalSend>(
        &mut self,
        range: RB,
    ) -> Result<Vec<Entry>, StorageError> {
        let (start, end) = bounds(&range);
        self.index
            .read()
            .read(start, end)
            .map_err(LogError::read_logs)
    }
}

impl RaftLogStorage<TypeConfig> for LogStore {
    type LogReader = LogReader;

    async fn get_log_state(&mut self) -> Result<LogState<TypeConfig>, StorageError> {
        let (last_purged_log_id, last_log_id) = self.index.read().log_state();
        Ok(LogState {
            last_purged_log_id,
            last_log_id,
        })
    }

    async fn get_log_reader(&mut self) -> LogReader {
        self.reader()
    }

    async fn save_vote(&mut self, vote: &Vote) -> Result<(), StorageError> {
        let vote = *vote;
        self.flusher.check().map_err(LogError::write_vote)?;
        let saved = self.meta.update(|m| m.vote = Some(vote));
        self.poison_on_err(saved).map_err(LogError::write_vote)
    }

    async fn read_vote(&mut self) -> Result<Option<Vote>, StorageError> {
        Ok(self.meta.get().vote)
    }

    async fn save_committed(&mut self, committed: Option<LogId>) -> Result<(), StorageError> {
        self.flusher.check().map_err(LogError::write_store)?;
        if self.meta.set_committed(committed) {
            self.flusher.committed_changed();
        }
        Ok(())
    }

    async fn read_committed(&mut self) -> Result<Option<LogId>, StorageError> {
        Ok(self.meta.get().committed)
    }

    async fn append<I>(
        &mut self,
        entries: I,
        callback: LogFlushed<TypeConfig>,
    ) -> Result<(), StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        self.append_inner(entries, Box::new(move |res| callback.log_io_completed(res)))
            .map_err(LogError::write_logs)
    }

    async fn truncate(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.truncate_inner(log_id)
            .await
            .map_err(LogError::write_logs)
    }

    async fn purge(&mut self, log_id: LogId) -> Result<(), StorageError> {
        self.purge_inner(log_id).map_err(LogError::write_logs)
    }
}
