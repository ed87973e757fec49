//! [`RemoteWatch`]: the client end of a watch stream served by a member.
//!
//! It yields what an in-process `WatchReceiver` yields — one message per revision with
//! all of its matching events, progress bookmarks, a final `Canceled` — and keeps the
//! first revision it has not delivered, so that a caller whose stream was lost (member
//! gone, connection lost, nothing heard for the idle timeout) can watch again from there
//! without a gap, as it would after etcd's client reports a broken watch. The revision
//! bookkeeping is a pure function of the items seen ([`Cursor`]).

use std::time::Duration;

use bytes::Bytes;
use hive_transport::{Endpoint, MemberName, Received, ResponseStream};
use rkyv::util::AlignedVec;

use super::client::rpc_error;
use super::services;
use super::wire::{ArchivedWatchItem, WatchItem, WatchMsg};
use crate::error::{StoreError, StoreResult};
use crate::types::Revision;
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

/// A watch served by a member over QUIC. Dropping it ends the watch on the member.
pub struct RemoteWatch {
    stream: ResponseStream<WatchItem>,
    peer: MemberName,
    cursor: Cursor,
    idle_timeout: Duration,
    done: bool,
}

impl std::fmt::Debug for RemoteWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteWatch")
            .field("peer", &self.peer)
            .field("resume_from", &self.cursor.next())
            .field("done", &self.done)
            .finish()
    }
}

/// Opens a watch at `peer` and waits (at most `wait`) for the member to confirm it.
pub(crate) async fn open_watch(
    endpoint: &Endpoint,
    peer: &MemberName,
    msg: &WatchMsg,
    wait: Duration,
    idle_timeout: Duration,
) -> StoreResult<RemoteWatch> {
    let opened = async {
        let mut stream = endpoint
            .server_stream::<services::Watch>(peer, msg)
            .await
            .map_err(|e| rpc_error(peer, e, wait).0)?;
        let first = match stream.next().await {
            Some(Ok(item)) => item,
            Some(Err(e)) => return Err(rpc_error(peer, e, wait).0),
            None => {
                return Err(StoreError::Indeterminate(format!(
                    "{peer} ended the watch stream before confirming it"
                )))
            }
        };
        match first.deserialize() {
            Ok(WatchItem::Created { start }) => Ok((stream, start)),
            Ok(WatchItem::Failed(e)) => Err(StoreError::from(e)),
            Ok(other) => Err(StoreError::Fatal(format!(
                "{peer} began a watch stream with {other:?}"
            ))),
            Err(e) => Err(StoreError::Fatal(format!(
                "{peer} sent an unreadable watch item: {e}"
            ))),
        }
    };
    let (stream, start) = tokio::time::timeout(wait, opened)
        .await
        .map_err(|_| StoreError::Timeout(wait))??;
    Ok(RemoteWatch {
        stream,
        peer: peer.clone(),
        cursor: Cursor::new(start),
        idle_timeout,
        done: false,
    })
}

/// Copies an event's bytes out of the received item into a buffer aligned for rkyv and
/// validates them as an archived `WireEvent`.
fn shared_event(bytes: &[u8]) -> StoreResult<SharedEvent> {
    let mut buf = AlignedVec::<16>::with_capacity(bytes.len());
    buf.extend_from_slice(bytes);
    SharedEvent::from_bytes(Bytes::from_owner(buf))
        .map_err(|e| StoreError::Fatal(format!("watch event: {e}")))
}

/// The response a received item stands for; `Ok(None)` for a heartbeat.
fn response(item: &Received<WatchItem>) -> StoreResult<Option<WatchResponse>> {
    Ok(Some(match item.get() {
        ArchivedWatchItem::Events { revision, events } => WatchResponse::Events {
            revision: Revision(revision.0.to_native()),
            events: events
                .iter()
                .map(|e| shared_event(e.as_slice()))
                .collect::<StoreResult<Vec<_>>>()?,
        },
        ArchivedWatchItem::Progress { revision } => WatchResponse::Progress {
            revision: Revision(revision.0.to_native()),
        },
        ArchivedWatchItem::Heartbeat => return Ok(None),
        _ => match item.deserialize() {
            Ok(WatchItem::Canceled(reason)) => WatchResponse::Canceled {
                reason: CancelReason::from(reason),
            },
            Ok(WatchItem::Failed(e)) => return Err(StoreError::from(e)),
            Ok(WatchItem::Created { .. }) => {
                return Err(StoreError::Fatal(
                    "a second Created on a watch stream".into(),
                ))
            }
            Ok(other) => return Err(StoreError::Fatal(format!("unexpected {other:?}"))),
            Err(e) => return Err(StoreError::Fatal(format!("unreadable watch item: {e}"))),
        },
    }))
}

impl RemoteWatch {
    /// The next response; `Some(Err(..))` once if the stream was lost or the member
    /// ended it with an error (resume from [`RemoteWatch::resume_from`]); `None` after
    /// that, after a `Canceled`, or if the stream ended cleanly.
    pub async fn recv(&mut self) -> Option<StoreResult<WatchResponse>> {
        while !self.done {
            let item = match tokio::time::timeout(self.idle_timeout, self.stream.next()).await {
                Err(_) => {
                    return self.lost(format!(
                        "nothing from {} for {:?}",
                        self.peer, self.idle_timeout
                    ))
                }
                Ok(None) => return self.lost(format!("{} ended the stream", self.peer)),
                Ok(Some(Err(e))) => {
                    let (e, _) = rpc_error(&self.peer, e, self.idle_timeout);
                    return self.lost(e.to_string());
                }
                Ok(Some(Ok(item))) => item,
            };
            match response(&item) {
                Ok(None) => continue,
                Ok(Some(resp)) => {
                    self.cursor.saw(&resp);
                    self.done = matches!(resp, WatchResponse::Canceled { .. });
                    return Some(Ok(resp));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(e));
                }
            }
        }
        None
    }

    /// The first revision this watch has not delivered: watching again from it
    /// continues without a gap or a repeat.
    pub fn resume_from(&self) -> Revision {
        self.cursor.next()
    }

    /// The member serving the watch.
    pub fn member(&self) -> &MemberName {
        &self.peer
    }

    fn lost(&mut self, why: String) -> Option<StoreResult<WatchResponse>> {
        self.done = true;
        Some(Err(StoreError::Unavailable(format!(
            "watch stream lost ({why}); resume from revision {}",
            self.cursor.next()
        ))))
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
