//! The client end of watch sessions: [`Session`], one bidi stream to a member carrying
//! many watches, and [`RemoteWatch`], one watch on it.
//!
//! A session has two tasks, whatever its number of watches: a writer that sends the
//! creations and cancellations queued by any number of callers as one `Create` and one
//! `Cancel` message per wake-up (so creating many watches at once is a few frames, not a
//! round trip each), and a reader that hands each item to the watches it names. An
//! `Events` item for many watches is decoded once (its events validated and aligned
//! once) and every watch gets clones of the same `SharedEvent`s, reference-counted
//! bytes. A watch's queue holds `watch_queue` responses; a watch whose caller does not
//! keep up is canceled alone with `Canceled(Slow { resume_from })`, its first revision
//! not queued, and the member is told to drop it, while the session's other watches
//! continue.
//!
//! A [`RemoteWatch`] yields what an in-process `WatchReceiver` yields — one message per
//! revision with all of its matching events, progress bookmarks, a final `Canceled` —
//! and keeps the first revision it has not delivered, so that a caller whose session was
//! lost (member gone, connection lost, nothing heard for the idle timeout) can watch
//! again from there without a gap, as it would after etcd's client reports a broken
//! watch. The revision bookkeeping is a pure function of the items seen ([`Cursor`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use hive_transport::{Endpoint, MemberName, Received, RequestSink, ResponseStream};
use parking_lot::Mutex;
use rkyv::util::AlignedVec;
use tokio::sync::{mpsc, oneshot};

use super::client::rpc_error;
use super::services;
use super::wire::{ArchivedSessionItem, CreateWatch, SessionItem, SessionRequest};
use crate::error::{StoreError, StoreResult};
use crate::types::{KeyRange, Revision, ShardId};
use crate::watch::{CancelReason, SharedEvent, WatchResponse};

/// The first revision a watch has not delivered, moved along by what it delivers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cursor {
    next: Revision,
}

impl Cursor {
    /// A watch that delivers from `start` on.
    pub(crate) fn new(start: Revision) -> Self {
        Cursor { next: start }
    }

    /// Where to resume.
    pub(crate) fn next(&self) -> Revision {
        self.next
    }

    /// Accounts for one delivered response.
    pub(crate) fn saw(&mut self, resp: &WatchResponse) {
        let after = match resp {
            WatchResponse::Events { revision, .. } | WatchResponse::Progress { revision } => {
                revision.next()
            }
            WatchResponse::Canceled {
                reason: CancelReason::Slow { resume_from },
            } => *resume_from,
            WatchResponse::Canceled { .. } => return,
        };
        self.next = self.next.max(after);
    }
}

/// What a caller queued for the session's writer.
enum Control {
    Create(CreateWatch),
    Cancel(u64),
}

/// How a session ended.
#[derive(Clone, Debug)]
enum Ended {
    /// The stream was lost or went quiet: why.
    Lost(String),
    /// The member stopped serving it, saying why.
    Failed(StoreError),
}

/// One watch as the session's reader sees it.
struct Slot {
    tx: mpsc::Sender<WatchResponse>,
    /// Until the member confirmed the watch: who waits for that.
    created: Option<oneshot::Sender<StoreResult<Revision>>>,
}

#[derive(Default)]
struct State {
    watches: HashMap<u64, Slot>,
    ended: Option<Ended>,
}

/// A watch session to one member: one bidi stream carrying many watches. Cheap to share;
/// it ends when its stream does or when the last handle (the client's and its watches')
/// is dropped.
pub(crate) struct Session {
    peer: MemberName,
    control: mpsc::UnboundedSender<Control>,
    state: Arc<Mutex<State>>,
    next_id: AtomicU64,
    queue: usize,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.state.lock();
        f.debug_struct("Session")
            .field("peer", &self.peer)
            .field("watches", &st.watches.len())
            .field("ended", &st.ended)
            .finish()
    }
}

/// Copies an event's bytes out of the received item into a buffer aligned for rkyv and
/// validates them as an archived `WireEvent`.
fn shared_event(bytes: &[u8]) -> Result<SharedEvent, String> {
    let mut buf = AlignedVec::<16>::with_capacity(bytes.len());
    buf.extend_from_slice(bytes);
    SharedEvent::from_bytes(Bytes::from_owner(buf)).map_err(|e| format!("watch event: {e}"))
}

impl Session {
    /// Opens a session on `shard` at `peer` (waiting at most `wait` for the stream).
    /// `idle_timeout`: silence after which the session is taken for lost; `queue`:
    /// responses a watch may have waiting.
    pub(crate) async fn open(
        endpoint: &Endpoint,
        peer: &MemberName,
        shard: ShardId,
        wait: Duration,
        idle_timeout: Duration,
        queue: usize,
    ) -> StoreResult<Arc<Session>> {
        let open = SessionRequest::Open { shard };
        let opened = endpoint.bidi_stream::<services::WatchSession>(peer, &open);
        let (requests, items) = tokio::time::timeout(wait, opened)
            .await
            .map_err(|_| StoreError::Timeout(wait))?
            .map_err(|e| rpc_error(peer, e, wait).0)?;
        let (control, control_rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(State::default()));
        let session = Arc::new(Session {
            peer: peer.clone(),
            control: control.clone(),
            state: state.clone(),
            next_id: AtomicU64::new(1),
            queue: queue.max(1),
        });
        let reader = Reader {
            peer: peer.clone(),
            state: state.clone(),
            control: control.downgrade(),
        };
        let writer = tokio::spawn(write_requests(requests, control_rx));
        tokio::spawn(async move {
            let ended = reader.run(items, idle_timeout).await;
            reader.end(ended);
            writer.abort();
        });
        Ok(session)
    }

    /// Whether the session still serves watches.
    pub(crate) fn is_open(&self) -> bool {
        self.state.lock().ended.is_none() && !self.control.is_closed()
    }

    /// Registers a watch and waits (at most `wait`) for the member to confirm it.
    pub(crate) async fn watch(
        self: &Arc<Self>,
        range: KeyRange,
        start_revision: Option<Revision>,
        progress_notify: bool,
        wait: Duration,
    ) -> StoreResult<RemoteWatch> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        // One slot more than the queue, kept for the final `Canceled`.
        let (tx, rx) = mpsc::channel(self.queue + 1);
        let (created_tx, created) = oneshot::channel();
        {
            let mut st = self.state.lock();
            if let Some(ended) = &st.ended {
                return Err(self.ended_error(ended, None));
            }
            st.watches.insert(
                id,
                Slot {
                    tx,
                    created: Some(created_tx),
                },
            );
        }
        let create = CreateWatch {
            id,
            range,
            start_revision,
            progress_notify,
        };
        if self.control.send(Control::Create(create)).is_err() {
            self.state.lock().watches.remove(&id);
            return Err(StoreError::Unavailable(format!(
                "the watch session to {} ended",
                self.peer
            )));
        }
        let start = match tokio::time::timeout(wait, created).await {
            Ok(Ok(Ok(start))) => start,
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(_)) => {
                let ended = self.state.lock().ended.clone();
                let e = ended.map_or_else(
                    || StoreError::Indeterminate(format!("{} dropped the watch", self.peer)),
                    |ended| self.ended_error(&ended, None),
                );
                return Err(e);
            }
            Err(_) => {
                self.cancel(id);
                return Err(StoreError::Timeout(wait));
            }
        };
        Ok(RemoteWatch {
            id,
            rx,
            session: self.clone(),
            cursor: Cursor::new(start),
            done: false,
        })
    }

    /// Forgets watch `id` here and asks the member to end it.
    fn cancel(&self, id: u64) {
        self.state.lock().watches.remove(&id);
        // A session that ended has no member to tell.
        let _ = self.control.send(Control::Cancel(id));
    }

    /// The error a watch of this session reports once it ended, with where to resume.
    fn ended_error(&self, ended: &Ended, resume_from: Option<Revision>) -> StoreError {
        let resume = resume_from
            .map(|r| format!("; resume from revision {r}"))
            .unwrap_or_default();
        match ended {
            Ended::Lost(why) => {
                StoreError::Unavailable(format!("watch stream lost ({why}){resume}"))
            }
            Ended::Failed(StoreError::Unavailable(m)) => {
                StoreError::Unavailable(format!("{}: {m}{resume}", self.peer))
            }
            Ended::Failed(e) => e.clone(),
        }
    }
}

/// The session's writer: sends what callers queued, batched per wake-up, until every
/// handle is gone (then finishes the stream, which ends the session at the member).
async fn write_requests(
    mut requests: RequestSink<SessionRequest>,
    mut control: mpsc::UnboundedReceiver<Control>,
) {
    while let Some(first) = control.recv().await {
        let (mut creates, mut cancels) = (Vec::new(), Vec::new());
        let mut next = Some(first);
        while let Some(c) = next {
            match c {
                Control::Create(w) => creates.push(w),
                Control::Cancel(id) => cancels.push(id),
            }
            next = control.try_recv().ok();
        }
        if !creates.is_empty()
            && requests
                .send(&SessionRequest::Create(creates))
                .await
                .is_err()
        {
            return; // the reader sees the stream end too
        }
        if !cancels.is_empty()
            && requests
                .send(&SessionRequest::Cancel(cancels))
                .await
                .is_err()
        {
            return;
        }
    }
    requests.finish();
}

/// The session's reader: hands items to the watches they name.
struct Reader {
    peer: MemberName,
    state: Arc<Mutex<State>>,
    /// To tell the member about watches dropped here (slow, or given up on); weak, so
    /// the session ends once every handle is gone.
    control: mpsc::WeakUnboundedSender<Control>,
}

impl Reader {
    /// Reads until the session ends; returns how.
    async fn run(&self, mut items: ResponseStream<SessionItem>, idle: Duration) -> Ended {
        loop {
            let item = match tokio::time::timeout(idle, items.next()).await {
                Err(_) => return Ended::Lost(format!("nothing from {} for {idle:?}", self.peer)),
                Ok(None) => return Ended::Lost(format!("{} ended the stream", self.peer)),
                Ok(Some(Err(e))) => {
                    return Ended::Lost(rpc_error(&self.peer, e, idle).0.to_string())
                }
                Ok(Some(Ok(item))) => item,
            };
            if let Err(ended) = self.deliver(&item) {
                return ended;
            }
        }
    }

    /// Hands one item to its watches.
    fn deliver(&self, item: &Received<SessionItem>) -> Result<(), Ended> {
        let fatal =
            |what: String| Ended::Failed(StoreError::Fatal(format!("{}: {what}", self.peer)));
        match item.get() {
            ArchivedSessionItem::Events {
                revision,
                watches,
                events,
            } => {
                let revision = Revision(revision.0.to_native());
                let events = events
                    .iter()
                    .map(|e| shared_event(e.as_slice()))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(fatal)?;
                let resp = WatchResponse::Events { revision, events };
                self.give(watches.iter().map(|id| id.to_native()), &resp, revision);
            }
            ArchivedSessionItem::Progress { revision, watches } => {
                let revision = Revision(revision.0.to_native());
                let resp = WatchResponse::Progress { revision };
                self.give(watches.iter().map(|id| id.to_native()), &resp, revision);
            }
            ArchivedSessionItem::Heartbeat => {}
            _ => match item.deserialize() {
                Ok(SessionItem::Created(created)) => {
                    let mut st = self.state.lock();
                    for c in created {
                        let start = c.start.into_result();
                        let Some(slot) = st.watches.get_mut(&c.id) else {
                            // Its caller gave up waiting; the member need not keep it.
                            if start.is_ok() {
                                self.tell(Control::Cancel(c.id));
                            }
                            continue;
                        };
                        let failed = start.is_err();
                        if let Some(waiter) = slot.created.take() {
                            let _ = waiter.send(start);
                        }
                        if failed {
                            st.watches.remove(&c.id);
                        }
                    }
                }
                Ok(SessionItem::Canceled { id, reason }) => {
                    if let Some(slot) = self.state.lock().watches.remove(&id) {
                        // The slot kept for it is free: the reader never fills it.
                        let _ = slot.tx.try_send(WatchResponse::Canceled {
                            reason: CancelReason::from(reason),
                        });
                    }
                }
                Ok(SessionItem::Failed(e)) => return Err(Ended::Failed(StoreError::from(e))),
                Ok(other) => return Err(fatal(format!("unexpected {other:?}"))),
                Err(e) => return Err(fatal(format!("unreadable watch session item: {e}"))),
            },
        }
        Ok(())
    }

    /// Queues `resp` (of `revision`) for each watch in `ids`; a watch without room is
    /// canceled as slow, resuming from `revision`.
    fn give(&self, ids: impl Iterator<Item = u64>, resp: &WatchResponse, revision: Revision) {
        let mut st = self.state.lock();
        for id in ids {
            let Some(slot) = st.watches.get(&id) else {
                continue; // canceled here; the member has not heard yet
            };
            if slot.tx.capacity() > 1 && slot.tx.try_send(resp.clone()).is_ok() {
                continue;
            }
            if let Some(slot) = st.watches.remove(&id) {
                let _ = slot.tx.try_send(WatchResponse::Canceled {
                    reason: CancelReason::Slow {
                        resume_from: revision,
                    },
                });
                self.tell(Control::Cancel(id));
            }
        }
    }

    /// Queues a request for the writer, if the session still has handles.
    fn tell(&self, c: Control) {
        if let Some(control) = self.control.upgrade() {
            let _ = control.send(c);
        }
    }

    /// Ends the session: every watch and waiting caller learns it.
    fn end(&self, ended: Ended) {
        match &ended {
            Ended::Lost(why) => tracing::debug!(peer = %self.peer, why, "watch session lost"),
            Ended::Failed(e) => {
                tracing::debug!(peer = %self.peer, error = %e, "watch session ended by the member")
            }
        }
        let watches = {
            let mut st = self.state.lock();
            st.ended = Some(ended);
            std::mem::take(&mut st.watches)
        };
        // Dropping the senders closes every watch's queue after what it holds.
        drop(watches);
    }
}

/// A watch served by a member over a watch session. Dropping it ends the watch on the
/// member (the session's other watches continue).
pub struct RemoteWatch {
    id: u64,
    rx: mpsc::Receiver<WatchResponse>,
    session: Arc<Session>,
    cursor: Cursor,
    done: bool,
}

impl std::fmt::Debug for RemoteWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWatch")
            .field("id", &self.id)
            .field("peer", &self.session.peer)
            .field("resume_from", &self.cursor.next())
            .field("done", &self.done)
            .finish()
    }
}

impl RemoteWatch {
    /// The next response; `Some(Err(..))` once if the session was lost or the member
    /// ended it with an error (resume from [`RemoteWatch::resume_from`]); `None` after
    /// that, and after a `Canceled`.
    pub async fn recv(&mut self) -> Option<StoreResult<WatchResponse>> {
        if self.done {
            return None;
        }
        match self.rx.recv().await {
            Some(resp) => {
                self.cursor.saw(&resp);
                self.done = matches!(resp, WatchResponse::Canceled { .. });
                Some(Ok(resp))
            }
            None => {
                self.done = true;
                let ended = self.session.state.lock().ended.clone();
                let ended = ended.unwrap_or_else(|| {
                    Ended::Lost(format!("{} dropped the watch", self.session.peer))
                });
                Some(Err(self
                    .session
                    .ended_error(&ended, Some(self.cursor.next()))))
            }
        }
    }

    /// The first revision this watch has not delivered: watching again from it
    /// continues without a gap or a repeat.
    pub fn resume_from(&self) -> Revision {
        self.cursor.next()
    }

    /// The member serving the watch.
    pub fn member(&self) -> &MemberName {
        &self.session.peer
    }
}

impl Drop for RemoteWatch {
    fn drop(&mut self) {
        if !self.done {
            self.session.cancel(self.id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events and bookmarks move the resume point past them; a slow cancel moves it to
    /// the revision the member named; nothing moves it backwards.
    #[test]
    fn the_resume_point_follows_what_was_delivered() {
        let mut c = Cursor::new(Revision(5));
        assert_eq!(c.next(), Revision(5));
        c.saw(&WatchResponse::Events {
            revision: Revision(7),
            events: vec![],
        });
        assert_eq!(c.next(), Revision(8));
        c.saw(&WatchResponse::Progress {
            revision: Revision(10),
        });
        assert_eq!(c.next(), Revision(11));
        c.saw(&WatchResponse::Progress {
            revision: Revision(3),
        });
        assert_eq!(c.next(), Revision(11));
        c.saw(&WatchResponse::Canceled {
            reason: CancelReason::Slow {
                resume_from: Revision(12),
            },
        });
        assert_eq!(c.next(), Revision(12));
        c.saw(&WatchResponse::Canceled {
            reason: CancelReason::Compacted {
                compacted: Revision(40),
            },
        });
        assert_eq!(c.next(), Revision(12));
    }
}
