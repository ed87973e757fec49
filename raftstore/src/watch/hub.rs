//! The hub: the registry of watches and the rules that move revisions into their queues.
//!
//! A watch is either synced (it has every matching revision up to `published` and gets
//! new ones from `publish`) or unsynced (it has a cursor into history and is filled by
//! `pump_unsynced`). `Watcher::next` is the first revision it has not been given, and no
//! revision below it is ever sent again: that one number is what keeps the stream
//! ordered and free of duplicates across the switch between the two states.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use tokio::sync::mpsc::error::TrySendError;
use tokio::sync::{mpsc, Notify, Semaphore};

use super::event::SharedEvent;
use super::receiver::{HubSignal, WatcherFlags};
use super::{
    CancelReason, SlowPolicy, WatchConfig, WatchId, WatchReceiver, WatchRequest, WatchResponse,
};
use crate::mvcc::{Mvcc, RevisionBatch};
use crate::types::{ApplyError, Event, KeyRange, Revision};

/// One registered watch.
#[derive(Debug)]
struct Watcher {
    range: KeyRange,
    progress_notify: bool,
    tx: mpsc::Sender<WatchResponse>,
    flags: Arc<WatcherFlags>,
    /// The first revision not yet given to this watch.
    next: Revision,
    synced: bool,
}

/// What happened to a message offered to a watch's queue.
enum Offer {
    Sent,
    Full,
    Closed,
}

/// Offers `msg` without touching the slot kept for `Canceled`.
fn offer(tx: &mpsc::Sender<WatchResponse>, msg: WatchResponse) -> Offer {
    if tx.is_closed() {
        return Offer::Closed;
    }
    if tx.capacity() <= 1 {
        return Offer::Full;
    }
    match tx.try_send(msg) {
        Ok(()) => Offer::Sent,
        Err(TrySendError::Full(_)) => Offer::Full,
        Err(TrySendError::Closed(_)) => Offer::Closed,
    }
}

/// The shared encodings of the events at `picked`, encoding each at most once.
fn encode_picked(
    revision: Revision,
    events: &[Event],
    picked: &[usize],
    cache: &mut [Option<SharedEvent>],
) -> Option<Vec<SharedEvent>> {
    picked
        .iter()
        .map(|&i| {
            if cache[i].is_none() {
                cache[i] = Some(SharedEvent::encode(revision, &events[i]).ok()?);
            }
            cache[i].clone()
        })
        .collect()
}

/// Where one history fill left a catching-up watch.
enum Fill {
    /// Its queue is full (or the page was all it needed for now): its receiver wakes us.
    Waiting,
    /// It has room and history left; the scan budget stopped us.
    Pending,
    /// It has every revision up to the mvcc's current one.
    CaughtUp,
    /// It must end (compaction overtook it, or an event could not be encoded).
    End(CancelReason),
    /// Its receiver is gone.
    Closed,
}

/// Moves up to `catch_up_chunk` matching batches from history into `w`'s queue.
fn fill_from_history(w: &mut Watcher, mvcc: &Mvcc, config: &WatchConfig) -> Fill {
    if w.tx.is_closed() {
        return Fill::Closed;
    }
    let room =
        w.tx.capacity()
            .saturating_sub(1)
            .min(config.catch_up_chunk.max(1));
    if room == 0 {
        return Fill::Waiting;
    }
    let page = match mvcc.events_page(&w.range, w.next, room, config.max_scan_revisions.max(1)) {
        Ok(page) => page,
        Err(_) => {
            return Fill::End(CancelReason::Compacted {
                compacted: mvcc.compacted(),
            })
        }
    };
    for batch in &page.batches {
        let all: Vec<usize> = (0..batch.events.len()).collect();
        let mut cache = vec![None; batch.events.len()];
        let Some(events) = encode_picked(batch.revision, &batch.events, &all, &mut cache) else {
            return Fill::End(CancelReason::Unencodable {
                revision: batch.revision,
            });
        };
        match offer(
            &w.tx,
            WatchResponse::Events {
                revision: batch.revision,
                events,
            },
        ) {
            Offer::Sent => w.next = batch.revision.next(),
            // We are the only sender and asked for at most `room` batches.
            Offer::Full => return Fill::Waiting,
            Offer::Closed => return Fill::Closed,
        }
    }
    w.next = w.next.max(page.next);
    if w.next > mvcc.revision() {
        Fill::CaughtUp
    } else if w.tx.capacity() > 1 {
        Fill::Pending
    } else {
        Fill::Waiting
    }
}

/// Registry and fan-out of every watch on one shard. See the module docs for the
/// locking contract.
#[derive(Debug)]
pub struct WatchHub {
    config: WatchConfig,
    next_id: u64,
    watchers: BTreeMap<WatchId, Watcher>,
    /// Synced single-key watches by key.
    synced_keys: HashMap<Vec<u8>, BTreeSet<WatchId>>,
    /// Synced range and prefix watches (scanned linearly for now; see `synced_matching`).
    synced_ranges: BTreeSet<WatchId>,
    unsynced: BTreeSet<WatchId>,
    /// Synced watches have every matching revision up to this one.
    published: Revision,
    signal: Arc<HubSignal>,
    dropped: mpsc::UnboundedReceiver<WatchId>,
}

impl Default for WatchHub {
    fn default() -> Self {
        WatchHub::new(WatchConfig::default())
    }
}

impl WatchHub {
    /// An empty hub with the given limits.
    pub fn new(config: WatchConfig) -> Self {
        let (dropped_tx, dropped) = mpsc::unbounded_channel();
        let signal = Arc::new(HubSignal {
            wakeup: Arc::new(Notify::new()),
            dropped: dropped_tx,
        });
        WatchHub {
            config: WatchConfig {
                // tokio's bound; one permit is the cancel slot.
                queue_capacity: config.queue_capacity.clamp(1, Semaphore::MAX_PERMITS - 1),
                ..config
            },
            next_id: 1,
            watchers: BTreeMap::new(),
            synced_keys: HashMap::new(),
            synced_ranges: BTreeSet::new(),
            unsynced: BTreeSet::new(),
            published: Revision::ZERO,
            signal,
            dropped,
        }
    }

    /// Fires when a catching-up receiver made room or a receiver was dropped: the caller
    /// should then take the lock and call `pump_unsynced`.
    pub fn wakeup(&self) -> Arc<Notify> {
        Arc::clone(&self.signal.wakeup)
    }

    /// Registers a watch. From the past it first replays history (at most a queue's worth
    /// now, the rest as it drains), then continues live. A start at or below the
    /// compaction point fails with `Compacted`.
    pub fn watch(
        &mut self,
        mvcc: &Mvcc,
        req: WatchRequest,
    ) -> Result<(WatchId, WatchReceiver), ApplyError> {
        self.reap_dropped();
        self.resync_if_behind(mvcc.revision());
        let current = mvcc.revision();
        let next = match req.start_revision {
            None | Some(Revision::ZERO) => current.next(),
            Some(start) => start,
        };
        if mvcc.compacted() > Revision::ZERO && next <= mvcc.compacted() {
            return Err(ApplyError::Compacted {
                compacted: mvcc.compacted(),
            });
        }
        let id = WatchId(self.next_id);
        self.next_id += 1;
        let (tx, rx) = mpsc::channel(self.config.queue_capacity + 1);
        let flags = Arc::new(WatcherFlags::default());
        let watcher = Watcher {
            range: req.range,
            progress_notify: req.progress_notify,
            tx,
            flags: Arc::clone(&flags),
            next,
            synced: false,
        };
        self.watchers.insert(id, watcher);
        if next > current {
            self.mark_synced(id);
        } else {
            self.mark_unsynced(id);
            self.pump_one(mvcc, id);
        }
        let receiver = WatchReceiver {
            id,
            rx,
            flags,
            hub: Arc::clone(&self.signal),
        };
        Ok((id, receiver))
    }

    /// Delivers one applied revision to every synced watch it matches. Call it for each
    /// batch `Mvcc::apply` returns, in order, under the lock; then `pump_unsynced`.
    pub fn publish(&mut self, mvcc: &Mvcc, batch: &RevisionBatch) {
        self.reap_dropped();
        let rev = batch.revision;
        if rev <= self.published {
            return;
        }
        if rev != self.published.next() {
            // Revisions were skipped (not published, or a snapshot was installed): the
            // history has them, so live watches catch up from there.
            self.resync_to(mvcc.revision());
            return;
        }
        self.published = rev;

        let mut picked: BTreeMap<WatchId, Vec<usize>> = BTreeMap::new();
        for (i, event) in batch.events.iter().enumerate() {
            self.synced_matching(&event.kv.key, |id| picked.entry(id).or_default().push(i));
        }
        let mut cache = vec![None; batch.events.len()];
        for (id, events) in picked {
            let Some(w) = self.watchers.get_mut(&id) else {
                continue;
            };
            if w.next > rev || crate::planted::drop_watch_event(rev) {
                continue; // starts in the future, or already has it from history
            }
            let Some(events) = encode_picked(rev, &batch.events, &events, &mut cache) else {
                self.terminate(id, CancelReason::Unencodable { revision: rev });
                continue;
            };
            match offer(
                &w.tx,
                WatchResponse::Events {
                    revision: rev,
                    events,
                },
            ) {
                Offer::Sent => w.next = rev.next(),
                Offer::Full => self.on_slow(id, rev),
                Offer::Closed => self.remove(id),
            }
        }
    }

    /// Fills catching-up watches from history, as far as their queues allow, and moves
    /// those that caught up to the live set. Returns true when some watch still has room
    /// and history left (its scan budget ran out): call again after releasing the lock.
    pub fn pump_unsynced(&mut self, mvcc: &Mvcc) -> bool {
        self.reap_dropped();
        self.resync_if_behind(mvcc.revision());
        let ids: Vec<WatchId> = self.unsynced.iter().copied().collect();
        let mut again = false;
        for id in ids {
            again |= self.pump_one(mvcc, id);
        }
        again
    }

    /// Sends a `Progress` bookmark at the current revision to every synced watch that
    /// asked for them. A watch whose queue is full skips this one (bookmarks may be
    /// dropped; the next carries a later revision).
    /// `current` is the mvcc's revision, read under the same lock.
    pub fn progress(&mut self, current: Revision) {
        self.reap_dropped();
        self.resync_if_behind(current);
        let ids: Vec<WatchId> = self
            .watchers
            .iter()
            .filter(|(_, w)| w.synced && w.progress_notify)
            .map(|(id, _)| *id)
            .collect();
        for id in ids {
            self.send_progress(id);
        }
    }

    /// Sends one `Progress` bookmark to watch `id` on request (etcd's RequestProgress),
    /// if it is synced and has room. Returns whether it was sent.
    pub fn request_progress(&mut self, id: WatchId, current: Revision) -> bool {
        self.reap_dropped();
        self.resync_if_behind(current);
        self.send_progress(id)
    }

    /// Ends watch `id` with `Canceled { Requested }`. Returns whether it existed.
    pub fn cancel(&mut self, id: WatchId) -> bool {
        self.reap_dropped();
        self.terminate(id, CancelReason::Requested)
    }

    /// Makes every live watch catch up from history again. Call after installing a
    /// snapshot, whose revisions were never published one by one.
    pub fn resync(&mut self, mvcc: &Mvcc) {
        self.resync_to(mvcc.revision());
    }

    /// `resync` for an mvcc whose revision is `current`.
    fn resync_to(&mut self, current: Revision) {
        let synced: Vec<WatchId> = self
            .watchers
            .iter()
            .filter(|(_, w)| w.synced)
            .map(|(id, _)| *id)
            .collect();
        let first_unpublished = self.published.next();
        for id in synced {
            if let Some(w) = self.watchers.get_mut(&id) {
                // It has every matching revision up to `published`: no need to rescan them.
                w.next = w.next.max(first_unpublished);
            }
            self.mark_unsynced(id);
        }
        self.published = current;
    }

    /// Number of registered watches.
    pub fn len(&self) -> usize {
        self.watchers.len()
    }

    /// Whether no watch is registered.
    pub fn is_empty(&self) -> bool {
        self.watchers.is_empty()
    }

    /// Whether watch `id` is live (`Some(true)`), catching up (`Some(false)`) or gone.
    pub fn is_synced(&self, id: WatchId) -> Option<bool> {
        self.watchers.get(&id).map(|w| w.synced)
    }

    /// Calls `found` with every synced watch whose range holds `key`. The only place
    /// that decides matching, so it can be indexed (e.g. an interval tree) later.
    fn synced_matching(&self, key: &[u8], mut found: impl FnMut(WatchId)) {
        for id in self.synced_keys.get(key).into_iter().flatten() {
            found(*id);
        }
        for id in &self.synced_ranges {
            if self.watchers.get(id).is_some_and(|w| w.range.contains(key)) {
                found(*id);
            }
        }
    }

    /// Moves up to a queue's worth of history into watch `id`. Returns true when it has
    /// room and history left but stopped at its scan budget.
    fn pump_one(&mut self, mvcc: &Mvcc, id: WatchId) -> bool {
        let Some(w) = self.watchers.get_mut(&id) else {
            return false;
        };
        match fill_from_history(w, mvcc, &self.config) {
            Fill::Waiting => false,
            Fill::Pending => true,
            Fill::CaughtUp => {
                self.mark_synced(id);
                false
            }
            Fill::End(reason) => {
                self.terminate(id, reason);
                false
            }
            Fill::Closed => {
                self.remove(id);
                false
            }
        }
    }

    /// Sends a bookmark at `published` to `id` if it is synced and has room.
    fn send_progress(&mut self, id: WatchId) -> bool {
        let Some(w) = self.watchers.get(&id).filter(|w| w.synced) else {
            return false;
        };
        match offer(
            &w.tx,
            WatchResponse::Progress {
                revision: self.published,
            },
        ) {
            Offer::Sent => true,
            Offer::Full => false,
            Offer::Closed => {
                self.remove(id);
                false
            }
        }
    }

    /// A live watch had no room for revision `rev`.
    fn on_slow(&mut self, id: WatchId, rev: Revision) {
        match self.config.on_slow {
            SlowPolicy::Cancel => {
                self.terminate(id, CancelReason::Slow { resume_from: rev });
            }
            SlowPolicy::CatchUp => {
                if let Some(w) = self.watchers.get_mut(&id) {
                    w.next = rev;
                }
                self.mark_unsynced(id);
            }
        }
    }

    /// If revisions were applied but not published, live watches catch up from history.
    fn resync_if_behind(&mut self, current: Revision) {
        if self.published != current {
            self.resync_to(current);
        }
    }

    fn mark_synced(&mut self, id: WatchId) {
        let Some(w) = self.watchers.get_mut(&id) else {
            return;
        };
        w.synced = true;
        w.flags.unsynced.store(false, Ordering::SeqCst);
        self.unsynced.remove(&id);
        if w.range.is_single() {
            self.synced_keys
                .entry(w.range.start.clone())
                .or_default()
                .insert(id);
        } else {
            self.synced_ranges.insert(id);
        }
    }

    fn mark_unsynced(&mut self, id: WatchId) {
        let Some(w) = self.watchers.get_mut(&id) else {
            return;
        };
        w.synced = false;
        w.flags.unsynced.store(true, Ordering::SeqCst);
        self.unsynced.insert(id);
        Self::unindex(&mut self.synced_keys, &mut self.synced_ranges, id, &w.range);
    }

    fn unindex(
        keys: &mut HashMap<Vec<u8>, BTreeSet<WatchId>>,
        ranges: &mut BTreeSet<WatchId>,
        id: WatchId,
        range: &KeyRange,
    ) {
        if range.is_single() {
            if let Some(ids) = keys.get_mut(&range.start) {
                ids.remove(&id);
                if ids.is_empty() {
                    keys.remove(&range.start);
                }
            }
        } else {
            ranges.remove(&id);
        }
    }

    /// Forgets watch `id` without telling its receiver (it is gone or told already).
    fn remove(&mut self, id: WatchId) {
        self.take(id);
    }

    fn take(&mut self, id: WatchId) -> Option<Watcher> {
        let w = self.watchers.remove(&id)?;
        self.unsynced.remove(&id);
        Self::unindex(&mut self.synced_keys, &mut self.synced_ranges, id, &w.range);
        Some(w)
    }

    /// Removes watch `id` and sends its final message into the slot kept for it.
    fn terminate(&mut self, id: WatchId, reason: CancelReason) -> bool {
        let Some(w) = self.take(id) else { return false };
        // Fails only if the receiver is gone, which is fine.
        let _ = w.tx.try_send(WatchResponse::Canceled { reason });
        true
    }

    /// Forgets watches whose receivers were dropped.
    fn reap_dropped(&mut self) {
        while let Ok(id) = self.dropped.try_recv() {
            self.remove(id);
        }
    }
}
