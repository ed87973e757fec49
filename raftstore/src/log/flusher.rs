//! Group commit: one thread that makes everything written so far durable with a single
//! fdatasync, then acknowledges every append that was waiting for it.
//!
//! Appends that arrive while an fdatasync runs queue up and share the next one. A failed
//! fdatasync is never retried (after fsyncgate the page cache cannot be trusted): every
//! waiter gets the error and the store is poisoned.

use std::fs::File;
use std::io;
use std::mem;
use std::path::PathBuf;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex, MutexGuard};

use super::error::LogError;
use super::io::Disk;
use super::meta::MetaFile;

/// Under sustained load the committed id is persisted at most this often. It is only a
/// restart hint (openraft re-applies up to it), so lagging is safe, while a meta write
/// costs two fsyncs that would otherwise delay the next group commit.
const COMMIT_PERSIST_INTERVAL: Duration = Duration::from_millis(500);

/// What runs when the data it waits for is durable (or cannot be made so).
pub(crate) type Completion = Box<dyn FnOnce(io::Result<()>) + Send + 'static>;

/// The segment being appended to and how much of it has been written.
#[derive(Clone, Debug)]
pub(crate) struct SyncTarget {
    pub(crate) file: Arc<File>,
    pub(crate) path: PathBuf,
    pub(crate) first_index: u64,
    pub(crate) len: u64,
    /// The last log index written to the log (in any segment).
    pub(crate) last_index: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Shutdown {
    /// Finish queued work, then stop.
    Clean,
    /// Stop now without syncing: a simulated kill.
    Kill,
}

#[derive(Default)]
struct Queue {
    appends: Vec<Completion>,
    barriers: Vec<Completion>,
    target: Option<SyncTarget>,
    /// Generation of the latest enqueued append.
    written: u64,
    /// Generation known durable.
    durable: u64,
    /// (segment first index, length) known durable.
    durable_at: Option<(u64, u64)>,
    commit_dirty: bool,
    in_flight: bool,
    failed: Option<String>,
    shutdown: Option<Shutdown>,
    paused: bool,
    /// Waiters of syncs that a simulated power cut made void: never completed, dropped
    /// with the store (as a dead machine answers no one).
    unpowered: Vec<Completion>,
}

impl Queue {
    /// Appends or barriers waiting. A dirty committed id alone is not urgent: it is
    /// persisted on a timer (see [`COMMIT_PERSIST_INTERVAL`]), never per commit.
    fn has_work(&self) -> bool {
        !self.appends.is_empty() || !self.barriers.is_empty()
    }
}

struct Inner {
    queue: Mutex<Queue>,
    wake: Condvar,
    disk: Disk,
    meta: Arc<MetaFile>,
    /// The disk faults' power epoch when the log was opened (chaos tests only): once
    /// it moves on, this log's disk has lost power (see `DiskFaults::cut_power`).
    power_epoch: u64,
}

impl Inner {
    /// False once a simulated power cut hit this log: nothing syncs or completes after.
    fn powered(&self) -> bool {
        self.disk.faults.power_epoch() == self.power_epoch
    }
}

/// Handle to the flusher thread; stopping it (or dropping this) joins the thread.
pub(crate) struct Flusher {
    inner: Arc<Inner>,
    thread: Option<JoinHandle<()>>,
}

impl Flusher {
    /// Starts the flusher. `target`, the last segment as recovered, is durable already.
    pub(crate) fn spawn(
        disk: Disk,
        meta: Arc<MetaFile>,
        target: Option<SyncTarget>,
    ) -> Result<Flusher, LogError> {
        let queue = Queue {
            durable_at: target.as_ref().map(|t| (t.first_index, t.len)),
            target,
            ..Queue::default()
        };
        disk.stats
            .set_durable_index(queue.target.as_ref().and_then(|t| t.last_index));
        let inner = Arc::new(Inner {
            queue: Mutex::new(queue),
            wake: Condvar::new(),
            power_epoch: disk.faults.power_epoch(),
            disk,
            meta,
        });
        let thread = std::thread::Builder::new()
            .name("hive-log-flusher".into())
            .spawn({
                let inner = inner.clone();
                move || run(&inner)
            })
            .map_err(|e| LogError::io("<flusher thread>", e))?;
        Ok(Flusher {
            inner,
            thread: Some(thread),
        })
    }

    /// Fails if an earlier write or sync failed.
    pub(crate) fn check(&self) -> Result<(), LogError> {
        match &self.inner.queue.lock().failed {
            Some(reason) => Err(LogError::Poisoned(reason.clone())),
            None => Ok(()),
        }
    }

    /// Marks the store failed: no further write is accepted or acknowledged.
    pub(crate) fn poison(&self, reason: &LogError) {
        let mut q = self.inner.queue.lock();
        if q.failed.is_none() {
            tracing::error!(error = %reason, "log store failed; refusing further writes");
            q.failed = Some(reason.to_string());
        }
        self.inner.wake.notify_all();
    }

    /// Queues `done` to run once everything written so far (up to `target`) is durable.
    pub(crate) fn enqueue_append(&self, target: Option<SyncTarget>, done: Completion) {
        let mut q = self.inner.queue.lock();
        if let Some(reason) = q.failed.clone() {
            drop(q);
            done(Err(io::Error::other(reason)));
            return;
        }
        if target.is_some() {
            q.target = target;
        }
        q.written += 1;
        q.appends.push(done);
        self.inner.wake.notify_all();
    }

    /// The committed id changed in memory; persist it after the next data sync.
    pub(crate) fn committed_changed(&self) {
        let mut q = self.inner.queue.lock();
        q.commit_dirty = true;
        self.inner.wake.notify_all();
    }

    /// Waits until every append queued so far is durable and acknowledged, and the
    /// committed id is persisted.
    pub(crate) async fn barrier(&self) -> Result<(), LogError> {
        let rx = {
            let mut q = self.inner.queue.lock();
            if let Some(reason) = &q.failed {
                return Err(LogError::Poisoned(reason.clone()));
            }
            if !q.in_flight && !q.has_work() && !q.commit_dirty && q.written == q.durable {
                return Ok(());
            }
            let (tx, rx) = tokio::sync::oneshot::channel();
            q.barriers.push(Box::new(move |res| {
                let _ = tx.send(res);
            }));
            self.inner.wake.notify_all();
            rx
        };
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(LogError::Poisoned(e.to_string())),
            Err(_) => Err(LogError::FlusherGone),
        }
    }

    /// After the writer made everything durable itself (truncate): start from `target`.
    pub(crate) fn reset(&self, target: Option<SyncTarget>) {
        let mut q = self.inner.queue.lock();
        q.durable = q.written;
        q.durable_at = target.as_ref().map(|t| (t.first_index, t.len));
        self.inner
            .disk
            .stats
            .set_durable_index(target.as_ref().and_then(|t| t.last_index));
        q.target = target;
    }

    /// A switch that holds queued work (`true`) until released (`false`), so a test can
    /// pile appends up deterministically, even while the store is borrowed elsewhere.
    #[cfg(test)]
    pub(crate) fn pause_switch(&self) -> impl Fn(bool) + Send + Sync + 'static {
        let inner = self.inner.clone();
        move |paused| {
            inner.queue.lock().paused = paused;
            inner.wake.notify_all();
        }
    }

    /// Stops the thread. A clean stop syncs and acknowledges what is queued; a kill drops
    /// it unacknowledged and returns the active segment with the length last made
    /// durable, for the caller to cut it back to.
    pub(crate) fn stop(&mut self, kill: bool) -> Option<(Arc<File>, PathBuf, u64)> {
        {
            let mut q = self.inner.queue.lock();
            q.shutdown = Some(if kill {
                Shutdown::Kill
            } else {
                Shutdown::Clean
            });
            self.inner.wake.notify_all();
        }
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("log flusher thread panicked");
            }
        }
        // Read what is durable only once the thread is gone: a group commit in flight
        // when the kill arrived finishes its fdatasync and acknowledges its appends, so
        // its bytes are durable and must survive the simulated power cut. (Reading it
        // before the join cut back acknowledged entries: false "lost writes" in chaos.)
        let q = self.inner.queue.lock();
        q.target.as_ref().map(|t| {
            let durable_len = match q.durable_at {
                Some((first, len)) if first == t.first_index => len,
                _ => 0,
            };
            (t.file.clone(), t.path.clone(), durable_len)
        })
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.stop(false);
        }
    }
}

fn run(inner: &Inner) {
    let mut last_commit_persist = Instant::now();
    let mut q = inner.queue.lock();
    loop {
        match q.shutdown {
            Some(Shutdown::Kill) => {
                let dropped = (mem::take(&mut q.appends), mem::take(&mut q.barriers));
                drop(q);
                drop(dropped);
                return;
            }
            Some(Shutdown::Clean) if !q.has_work() && !q.commit_dirty => return,
            Some(Shutdown::Clean) => {}
            None if q.paused => {
                inner.wake.wait(&mut q);
                continue;
            }
            None if !q.has_work() => {
                if !q.commit_dirty {
                    inner.wake.wait(&mut q);
                    continue;
                }
                // Only the committed id is dirty: persist it when it is due, not per
                // commit, so a lone client pays one fdatasync per write, not three.
                let due = COMMIT_PERSIST_INTERVAL.saturating_sub(last_commit_persist.elapsed());
                if !due.is_zero() {
                    inner.wake.wait_for(&mut q, due);
                    continue;
                }
            }
            None => {}
        }
        round(inner, &mut q, &mut last_commit_persist);
    }
}

/// One group commit: take everything queued, sync once, acknowledge all of it; then
/// persist the committed id if it changed and a barrier asks for it, the store is
/// stopping or failed, or it was not persisted for [`COMMIT_PERSIST_INTERVAL`].
fn round(inner: &Inner, q: &mut MutexGuard<'_, Queue>, last_commit_persist: &mut Instant) {
    let mut appends = mem::take(&mut q.appends);
    let urgent = !q.barriers.is_empty() || q.shutdown.is_some() || q.failed.is_some();
    if inner.powered()
        && crate::planted::ack_before_fsync(&mut appends, |a| complete(a, &Ok(())))
        && !urgent
    {
        // Planted bug: the appends are acknowledged and their fsync is left to a later
        // round, so acknowledged data sits unsynced.
        return;
    }
    let barriers = mem::take(&mut q.barriers);
    let commit = q.commit_dirty
        && (!barriers.is_empty()
            || q.failed.is_some()
            || q.shutdown.is_some()
            || last_commit_persist.elapsed() >= COMMIT_PERSIST_INTERVAL);
    if commit {
        q.commit_dirty = false;
    }
    let target = q.target.clone();
    let generation = q.written;
    let need_sync = generation != q.durable;
    let failed = q.failed.clone();
    q.in_flight = true;

    MutexGuard::unlocked(q, || {
        if !inner.powered() {
            // The machine lost power before this sync could finish: nothing it covers
            // is durable, and no one waiting on it hears back.
            let mut q = inner.queue.lock();
            q.unpowered.extend(appends);
            q.unpowered.extend(barriers);
            return;
        }
        let synced = match (failed, &target) {
            (Some(reason), _) => Err(reason),
            (None, Some(t)) if need_sync => inner
                .disk
                .sync_data(&t.file, &t.path)
                .map_err(|e| e.to_string()),
            (None, _) => Ok(()),
        };
        if let Err(reason) = &synced {
            poison(inner, reason);
        } else {
            let mut q = inner.queue.lock();
            if !inner.powered() {
                // Power went while the fdatasync ran: treat it as never done.
                q.unpowered.extend(appends);
                q.unpowered.extend(barriers);
                return;
            }
            q.durable = generation;
            if let Some(t) = &target {
                q.durable_at = Some((t.first_index, t.len));
                inner.disk.stats.set_durable_index(t.last_index);
            }
        }
        complete(appends, &synced);
        let persisted = match synced {
            Ok(()) if commit => {
                *last_commit_persist = Instant::now();
                inner.meta.persist().map_err(|e| {
                    let reason = e.to_string();
                    poison(inner, &reason);
                    reason
                })
            }
            other => other,
        };
        complete(barriers, &persisted);
    });
    q.in_flight = false;
}

fn poison(inner: &Inner, reason: &str) {
    let mut q = inner.queue.lock();
    if q.failed.is_none() {
        tracing::error!(error = %reason, "log sync failed; refusing further writes");
        q.failed = Some(reason.to_string());
    }
}

fn complete(waiters: Vec<Completion>, result: &Result<(), String>) {
    for done in waiters {
        done(match result {
            Ok(()) => Ok(()),
            Err(reason) => Err(io::Error::other(reason.clone())),
        });
    }
}
