//! The consuming end of one watch: an async queue plus the signals back to the hub.

use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, Notify};

use super::{WatchId, WatchResponse};

/// State a watcher shares with its receiver.
#[derive(Debug, Default)]
pub(super) struct WatcherFlags {
    /// Set while the hub fills this watcher from history: consuming then makes room the
    /// hub should fill, so the receiver wakes the hub's pump.
    pub unsynced: AtomicBool,
}

/// How receivers reach the hub without holding its lock.
#[derive(Debug)]
pub(super) struct HubSignal {
    /// Woken when a catching-up receiver made room or a receiver was dropped.
    pub wakeup: Arc<Notify>,
    /// Ids of dropped receivers, drained by the hub on its next call.
    pub dropped: mpsc::UnboundedSender<WatchId>,
}

/// Receives one watch's responses in order: event batches (one per revision, all of
/// its matching events), progress bookmarks, and at most one final `Canceled`.
/// Dropping it cancels the watch.
#[derive(Debug)]
pub struct WatchReceiver {
    pub(super) id: WatchId,
    pub(super) rx: mpsc::Receiver<WatchResponse>,
    pub(super) flags: Arc<WatcherFlags>,
    pub(super) hub: Arc<HubSignal>,
}

impl WatchReceiver {
    /// The watch this receiver belongs to.
    pub fn id(&self) -> WatchId {
        self.id
    }

    /// The next response; `None` once the watch ended and everything was received.
    pub async fn recv(&mut self) -> Option<WatchResponse> {
        let resp = self.rx.recv().await;
        self.consumed();
        resp
    }

    /// Polls for the next response (what `recv` awaits), for callers that poll many
    /// receivers in one task.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<WatchResponse>> {
        let resp = std::task::ready!(self.rx.poll_recv(cx));
        self.consumed();
        Poll::Ready(resp)
    }

    /// The next response if one is queued, without waiting.
    pub fn try_recv(&mut self) -> Result<WatchResponse, TryRecvError> {
        let resp = self.rx.try_recv();
        if resp.is_ok() {
            self.consumed();
        }
        resp
    }

    /// How many responses are queued (never more than the hub's capacity plus one).
    pub fn len(&self) -> usize {
        self.rx.len()
    }

    /// Whether no response is queued.
    pub fn is_empty(&self) -> bool {
        self.rx.is_empty()
    }

    /// Tells the hub there is room to fill from history, if this watcher is catching up.
    fn consumed(&self) {
        if self.flags.unsynced.load(Ordering::SeqCst) {
            self.hub.wakeup.notify_one();
        }
    }
}

impl futures::Stream for WatchReceiver {
    type Item = WatchResponse;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<WatchResponse>> {
        self.get_mut().poll_recv(cx)
    }
}

impl Drop for WatchReceiver {
    fn drop(&mut self) {
        // The hub may be gone already; then there is nothing to clean up.
        let _ = self.hub.dropped.send(self.id);
        self.hub.wakeup.notify_one();
    }
}
