//! The member's side of a watch session: many watches on one bidi stream.
//!
//! One task per session (the stream's handler) does everything: it registers the watches
//! a `Create` batch names on the member's hub and answers the batch with one `Created`
//! item; it polls every watch's hub receiver from one `SelectAll` (a receiver is only
//! polled when the hub woke it); it ends a watch on `Cancel` by dropping its receiver
//! (the hub forgets it) and says `Canceled(Requested)`; and it sends one heartbeat for
//! the whole session when nothing else went out for a while. No watch has a task, a
//! stream or a timer of its own.
//!
//! Whatever is ready when the task wakes is sent as a batch: the events of a revision
//! that several watches got as the very same hub `SharedEvent`s (the hub encodes a
//! revision's events once and hands every matching watch clones of them, so watches of
//! one range at one cursor always do) become one `Events` item naming all of them, and
//! so do progress bookmarks of one revision. Items are ordered by revision, bookmarks
//! after the events of their revision, cancellations last, which keeps every watch's own
//! order (each watch's hub queue is already in order and ends with its `Canceled`).
//!
//! The hub's semantics are untouched: each watch keeps its own hub queue, history
//! catch-up, compaction error and slow cancel (`Canceled(Slow { resume_from })`). A
//! client that stops reading holds this task back through QUIC flow control, so the
//! member buffers no more than the hub's bounded queues before it cancels the slow
//! watches, each with its resume point. If the member's incarnation stops, the hub goes
//! away under the receivers and the session ends with `Failed(Unavailable)`.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::stream::{AbortHandle, Abortable, SelectAll};
use futures::{FutureExt, Stream, StreamExt};
use hive_transport::{Call, RequestStream, ServiceError, StreamSink};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::server::Inner;
use super::services;
use super::wire::{Created, RemoteError, Reply, SessionItem, SessionRequest, WireCancel};
use crate::error::StoreError;
use crate::types::{Revision, ShardId};
use crate::watch::{SharedEvent, WatchReceiver, WatchResponse};

/// Application error code for a session that broke the protocol (e.g. a second `Open`).
const PROTOCOL_ERROR: u32 = 1;

/// Most ready responses gathered into one batch before it is sent.
const MAX_BATCH: usize = 16 * 1024;

/// One watch's hub receiver, tagged with the client's id. Yields `(id, None)` once when
/// the hub went away under it (its queue closed without a `Canceled`).
struct Tagged {
    id: u64,
    rx: Option<WatchReceiver>,
}

impl Stream for Tagged {
    type Item = (u64, Option<WatchResponse>);

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Self::Item>> {
        let id = self.id;
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(None);
        };
        match std::task::ready!(rx.poll_recv(cx)) {
            Some(resp) => Poll::Ready(Some((id, Some(resp)))),
            None => {
                self.rx = None;
                Poll::Ready(Some((id, None)))
            }
        }
    }
}

/// The watches of one session.
struct Session {
    inner: Arc<Inner>,
    shard: ShardId,
    live: SelectAll<Abortable<Tagged>>,
    /// Watches not ended yet, by the client's id.
    watches: HashMap<u64, AbortHandle>,
}

/// What woke the session's task.
enum Step {
    Request(Option<Result<hive_transport::Received<SessionRequest>, hive_transport::FrameError>>),
    Ready((u64, Option<WatchResponse>)),
    Quiet,
}

/// Items of one batch, grouped.
#[derive(Default)]
struct Batch {
    /// Events and bookmarks: (revision, is a bookmark, watches, events).
    groups: Vec<(Revision, bool, Vec<u64>, Vec<SharedEvent>)>,
    /// Group index by revision and the identity of its events.
    index: HashMap<(Revision, bool, Vec<usize>), usize>,
    /// Ends of watches, sent after everything else.
    ended: Vec<SessionItem>,
    /// The hub went away under some watch.
    hub_gone: bool,
}

impl Batch {
    fn add(
        &mut self,
        watches: &mut HashMap<u64, AbortHandle>,
        id: u64,
        resp: Option<WatchResponse>,
    ) {
        let (revision, bookmark, events) = match resp {
            None => {
                self.hub_gone |= watches.remove(&id).is_some();
                return;
            }
            Some(WatchResponse::Canceled { reason }) => {
                watches.remove(&id);
                self.ended.push(SessionItem::Canceled {
                    id,
                    reason: WireCancel::from(&reason),
                });
                return;
            }
            Some(WatchResponse::Events { revision, events }) => (revision, false, events),
            Some(WatchResponse::Progress { revision }) => (revision, true, Vec::new()),
        };
        // The hub hands every watch of a revision clones of the same encoded events, so
        // their addresses say which watches got the very same ones.
        let identity: Vec<usize> = events
            .iter()
            .map(|e| e.as_bytes().as_ptr() as usize)
            .collect();
        let key = (revision, bookmark, identity);
        match self.index.get(&key) {
            Some(&i) => self.groups[i].2.push(id),
            None => {
                self.index.insert(key, self.groups.len());
                self.groups.push((revision, bookmark, vec![id], events));
            }
        }
    }

    /// The items to send, in an order that keeps every watch's own order.
    fn into_items(mut self) -> (Vec<SessionItem>, bool) {
        self.groups.sort_by_key(|g| (g.0, g.1));
        let mut items: Vec<SessionItem> = self
            .groups
            .into_iter()
            .map(|(revision, bookmark, watches, events)| {
                if bookmark {
                    SessionItem::Progress { revision, watches }
                } else {
                    SessionItem::Events {
                        revision,
                        watches,
                        events: events.iter().map(|e| e.as_bytes().to_vec()).collect(),
                    }
                }
            })
            .collect();
        items.extend(self.ended);
        (items, self.hub_gone)
    }
}

impl Session {
    /// Registers a batch of watches; answers each.
    fn create(&mut self, batch: Vec<super::wire::CreateWatch>) -> SessionItem {
        let created = batch
            .into_iter()
            .map(|w| {
                let id = w.id;
                let start = if self.watches.contains_key(&id) {
                    Err(StoreError::Invalid(format!(
                        "watch id {id} is in use on this session"
                    )))
                } else {
                    self.inner.open_watch(self.shard, w).map(|(start, rx)| {
                        let (handle, reg) = AbortHandle::new_pair();
                        let tagged = Tagged { id, rx: Some(rx) };
                        self.live.push(Abortable::new(tagged, reg));
                        self.watches.insert(id, handle);
                        start
                    })
                };
                Created {
                    id,
                    start: Reply::from(start),
                }
            })
            .collect();
        SessionItem::Created(created)
    }

    /// Ends the named watches that have not ended yet.
    fn cancel(&mut self, ids: Vec<u64>) -> Vec<SessionItem> {
        ids.into_iter()
            .filter_map(|id| {
                // Aborted, its receiver is dropped at the next poll and the hub forgets it.
                let handle = self.watches.remove(&id)?;
                handle.abort();
                Some(SessionItem::Canceled {
                    id,
                    reason: WireCancel::Requested,
                })
            })
            .collect()
    }

    /// Everything ready now, starting with `first`, as items to send; and whether the
    /// hub went away.
    fn ready(&mut self, first: (u64, Option<WatchResponse>)) -> (Vec<SessionItem>, bool) {
        let mut batch = Batch::default();
        batch.add(&mut self.watches, first.0, first.1);
        for _ in 0..MAX_BATCH {
            match self.live.next().now_or_never() {
                Some(Some((id, resp))) => batch.add(&mut self.watches, id, resp),
                _ => break,
            }
        }
        batch.into_items()
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves one watch session until the client finishes it or goes away, or the member
/// stops serving it.
pub(super) async fn serve_session(
    inner: Arc<Inner>,
    call: Call<services::WatchSession>,
    inbound: RequestStream<SessionRequest>,
    mut sink: StreamSink<SessionItem>,
) -> Result<(), ServiceError> {
    let shard = match call.received().deserialize()? {
        SessionRequest::Open { shard } => shard,
        other => {
            return Err(ServiceError::app(
                PROTOCOL_ERROR,
                format!("a watch session opens with Open, not {other:?}"),
            ))
        }
    };
    let mut inbound = inbound;
    let heartbeat = inner.opts.watch_heartbeat;
    let mut s = Session {
        inner,
        shard,
        live: SelectAll::new(),
        watches: HashMap::new(),
    };
    // Reading a frame is not cancel-safe, so the client's messages are read by a task of
    // the session's own and handed over; the small queue keeps a flooding client held
    // back by flow control.
    let (requests_tx, mut requests) = mpsc::channel(16);
    let reader = tokio::spawn(async move {
        while let Some(msg) = inbound.next().await {
            if requests_tx.send(msg).await.is_err() {
                return;
            }
        }
    });
    let _reader = AbortOnDrop(reader);
    let mut quiet_until = Instant::now() + heartbeat;
    loop {
        let step = tokio::select! {
            msg = requests.recv() => Step::Request(msg),
            Some(first) = s.live.next(), if !s.live.is_empty() => Step::Ready(first),
            () = tokio::time::sleep_until(quiet_until) => Step::Quiet,
        };
        let (items, hub_gone) = match step {
            // The client finished its side: it wants nothing more.
            Step::Request(None) => return Ok(()),
            Step::Request(Some(Err(e))) => return Err(e.into()),
            Step::Request(Some(Ok(msg))) => match msg.deserialize()? {
                SessionRequest::Create(batch) => (vec![s.create(batch)], false),
                SessionRequest::Cancel(ids) => (s.cancel(ids), false),
                SessionRequest::Open { .. } => {
                    return Err(ServiceError::app(
                        PROTOCOL_ERROR,
                        "a watch session is open already",
                    ))
                }
            },
            Step::Ready(first) => s.ready(first),
            Step::Quiet => (vec![SessionItem::Heartbeat], false),
        };
        for item in &items {
            if sink.send(item).await.is_err() {
                return Ok(()); // the client left; dropping the receivers ends its watches
            }
        }
        if hub_gone {
            let e = StoreError::Unavailable(
                "the member stopped serving this watch session (restarting or stopping)".into(),
            );
            let _ = sink.send(&SessionItem::Failed(RemoteError::from(&e))).await;
            return Ok(());
        }
        if !items.is_empty() {
            quiet_until = Instant::now() + heartbeat;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Event, EventKind, KeyValue};

    fn event(key: &str, rev: u64) -> SharedEvent {
        let ev = Event {
            kind: EventKind::Put,
            kv: KeyValue {
                key: key.as_bytes().to_vec(),
                value: vec![7; 16],
                ..KeyValue::default()
            },
            prev_kv: None,
        };
        SharedEvent::encode(Revision(rev), &ev).expect("encodes")
    }

    fn events(revision: u64, events: &[&SharedEvent]) -> Option<WatchResponse> {
        Some(WatchResponse::Events {
            revision: Revision(revision),
            events: events.iter().map(|e| (*e).clone()).collect(),
        })
    }

    /// Watches that got the very same events of a revision share one item; equal events
    /// encoded apart, or a subset, get their own. Every watch's items keep its order,
    /// bookmarks follow the events of their revision, and ends come last.
    #[test]
    fn a_batch_groups_shared_events_and_keeps_each_watch_in_order() {
        let (a3, b3, a4) = (event("/a", 3), event("/b", 3), event("/a", 4));
        let a3_again = event("/a", 3);
        let mut watches: HashMap<u64, AbortHandle> =
            (1..=5).map(|id| (id, AbortHandle::new_pair().0)).collect();
        let mut batch = Batch::default();
        batch.add(&mut watches, 2, events(4, &[&a4]));
        batch.add(&mut watches, 1, events(3, &[&a3, &b3]));
        batch.add(&mut watches, 3, events(3, &[&a3, &b3]));
        batch.add(&mut watches, 4, events(3, &[&a3_again, &b3]));
        batch.add(&mut watches, 1, events(4, &[&a4]));
        batch.add(&mut watches, 5, events(3, &[&b3]));
        batch.add(
            &mut watches,
            3,
            Some(WatchResponse::Progress {
                revision: Revision(3),
            }),
        );
        batch.add(
            &mut watches,
            2,
            Some(WatchResponse::Progress {
                revision: Revision(4),
            }),
        );
        batch.add(
            &mut watches,
            5,
            Some(WatchResponse::Canceled {
                reason: crate::watch::CancelReason::Requested,
            }),
        );
        let (items, hub_gone) = batch.into_items();
        assert!(!hub_gone);
        let bytes = |evs: &[&SharedEvent]| evs.iter().map(|e| e.as_bytes().to_vec()).collect();
        let shape: Vec<SessionItem> = vec![
            SessionItem::Events {
                revision: Revision(3),
                watches: vec![1, 3],
                events: bytes(&[&a3, &b3]),
            },
            SessionItem::Events {
                revision: Revision(3),
                watches: vec![4],
                events: bytes(&[&a3_again, &b3]),
            },
            SessionItem::Events {
                revision: Revision(3),
                watches: vec![5],
                events: bytes(&[&b3]),
            },
            SessionItem::Progress {
                revision: Revision(3),
                watches: vec![3],
            },
            SessionItem::Events {
                revision: Revision(4),
                watches: vec![2, 1],
                events: bytes(&[&a4]),
            },
            SessionItem::Progress {
                revision: Revision(4),
                watches: vec![2],
            },
            SessionItem::Canceled {
                id: 5,
                reason: WireCancel::Requested,
            },
        ];
        assert_eq!(items, shape);
        assert!(!watches.contains_key(&5), "an ended watch is forgotten");

        // A receiver closed under a live watch is the hub going away; under an ended one
        // it is not.
        let mut batch = Batch::default();
        batch.add(&mut watches, 5, None);
        assert!(!batch.into_items().1);
        let mut batch = Batch::default();
        batch.add(&mut watches, 1, None);
        assert!(batch.into_items().1);
    }
}
