//! Behaviour of the watch hub, one guarantee per test. Every test drives the hub the
//! way the state machine does: apply, publish, pump, all under one (implicit) lock.

use super::*;
use crate::mvcc::Mvcc;
use crate::types::{
    ApplyError, Command, DeleteRequest, EventKind, LeaseId, PutRequest, Revision, TxnOp, TxnRequest,
};

/// An mvcc and its hub, driven as the state machine drives them.
struct World {
    mvcc: Mvcc,
    hub: WatchHub,
}

impl World {
    fn new(config: WatchConfig) -> Self {
        World {
            mvcc: Mvcc::new(),
            hub: WatchHub::new(config),
        }
    }

    fn small(queue_capacity: usize) -> Self {
        World::new(WatchConfig {
            queue_capacity,
            ..WatchConfig::default()
        })
    }

    fn apply(&mut self, cmd: Command) -> Option<Revision> {
        let (_, batch) = self.mvcc.apply(&cmd);
        if let Some(batch) = &batch {
            self.hub.publish(&self.mvcc, batch);
        }
        while self.hub.pump_unsynced(&self.mvcc) {}
        batch.map(|b| b.revision)
    }

    fn write(&mut self, ops: Vec<TxnOp>) -> Revision {
        self.apply(Command::Txn(TxnRequest {
            compare: Vec::new(),
            success: ops,
            failure: Vec::new(),
        }))
        .expect("a write")
    }

    fn put(&mut self, key: &str, value: &str) -> Revision {
        self.write(vec![put(key, value)])
    }

    fn watch(&mut self, range: KeyRange, start: Option<u64>) -> WatchReceiver {
        self.try_watch(range, start, false).expect("watchable").1
    }

    fn try_watch(
        &mut self,
        range: KeyRange,
        start: Option<u64>,
        progress_notify: bool,
    ) -> Result<(WatchId, WatchReceiver), ApplyError> {
        let req = WatchRequest {
            range,
            start_revision: start.map(Revision),
            progress_notify,
        };
        self.hub.watch(&self.mvcc, req)
    }

    fn pump(&mut self) {
        while self.hub.pump_unsynced(&self.mvcc) {}
    }
}

fn put(key: &str, value: &str) -> TxnOp {
    TxnOp::Put(PutRequest {
        key: key.into(),
        value: value.into(),
        lease: LeaseId::NONE,
        prev_kv: false,
    })
}

fn drain(rx: &mut WatchReceiver) -> Vec<WatchResponse> {
    std::iter::from_fn(|| rx.try_recv().ok()).collect()
}

/// The revisions of the event messages, in order.
fn event_revisions(responses: &[WatchResponse]) -> Vec<u64> {
    responses
        .iter()
        .filter_map(|r| match r {
            WatchResponse::Events { revision, .. } => Some(revision.0),
            _ => None,
        })
        .collect()
}

/// (revision, key, kind) of every event, decoded from the shared bytes.
fn decoded(responses: &[WatchResponse]) -> Vec<(u64, String, EventKind)> {
    let mut out = Vec::new();
    for r in responses {
        if let WatchResponse::Events { revision, events } = r {
            for e in events {
                let wire = e.decode().expect("valid event");
                assert_eq!(
                    wire.revision, *revision,
                    "event revision matches its message"
                );
                out.push((
                    revision.0,
                    String::from_utf8_lossy(&wire.event.kv.key).into_owned(),
                    wire.event.kind,
                ));
            }
        }
    }
    out
}

/// A watch from a past revision receives exactly the committed history from there, then
/// the live events, in order with no gap and no duplicate.
#[test]
fn a_watch_from_a_past_revision_gets_exactly_the_history_then_live_events() {
    let mut w = World::small(64);
    for i in 1..=6 {
        w.put(if i % 2 == 0 { "p/even" } else { "p/odd" }, "v");
        w.put("other", "v");
    }
    let mut rx = w.watch(KeyRange::prefix("p/"), Some(4));
    for _ in 0..3 {
        w.put("p/live", "v");
        w.put("other", "v");
    }
    let got = drain(&mut rx);
    assert_eq!(event_revisions(&got), [5, 7, 9, 11, 13, 15, 17]);
    assert!(decoded(&got)
        .iter()
        .all(|(_, key, _)| key.starts_with("p/")));
    assert_eq!(w.hub.is_synced(rx.id()), Some(true));
}

/// All matching events of one revision arrive in one message, in op order, and events
/// of other keys are left out of it.
#[test]
fn all_matching_events_of_one_revision_arrive_in_one_message() {
    let mut w = World::small(8);
    let mut rx = w.watch(KeyRange::prefix("p/"), None);
    w.write(vec![put("p/b", "1"), put("q", "1"), put("p/a", "1")]);
    w.write(vec![TxnOp::Delete(DeleteRequest {
        range: KeyRange::prefix(""),
        prev_kv: false,
    })]);
    let got = drain(&mut rx);
    assert_eq!(got.len(), 2);
    assert_eq!(
        decoded(&got),
        vec![
            (1, "p/b".into(), EventKind::Put),
            (1, "p/a".into(), EventKind::Put),
            (2, "p/a".into(), EventKind::Delete),
            (2, "p/b".into(), EventKind::Delete),
        ]
    );
}

/// A client that stops after revision r and watches again from r + 1 sees the same
/// sequence as one that never stopped.
#[test]
fn a_watch_resumed_from_revision_r_continues_without_gap_or_duplicate() {
    let mut w = World::small(64);
    let mut whole = w.watch(KeyRange::prefix(""), Some(1));
    let mut first = w.watch(KeyRange::prefix(""), Some(1));
    for i in 0..5 {
        w.put(&format!("k{i}"), "v");
    }
    let before = drain(&mut first);
    let last = *event_revisions(&before).last().unwrap();
    drop(first);
    for i in 5..9 {
        w.put(&format!("k{i}"), "v");
    }
    let mut resumed = w.watch(KeyRange::prefix(""), Some(last + 1));
    w.put("k9", "v");
    let mut joined = event_revisions(&before);
    joined.extend(event_revisions(&drain(&mut resumed)));
    assert_eq!(joined, event_revisions(&drain(&mut whole)));
    assert_eq!(joined, (1..=10).collect::<Vec<_>>());
}

/// A watch from at or below the compaction point fails with the compaction revision;
/// from just above it, it works.
#[test]
fn a_watch_from_at_or_below_compaction_fails_with_the_compaction_revision() {
    let mut w = World::small(8);
    for _ in 0..5 {
        w.put("k", "v");
    }
    w.apply(Command::Compact {
        revision: Revision(3),
    });
    for start in [1, 3] {
        let err = w
            .try_watch(KeyRange::key("k"), Some(start), false)
            .unwrap_err();
        assert_eq!(
            err,
            ApplyError::Compacted {
                compacted: Revision(3)
            }
        );
    }
    let mut rx = w.watch(KeyRange::key("k"), Some(4));
    assert_eq!(event_revisions(&drain(&mut rx)), [4, 5]);
}

/// A watch still catching up from history when compaction passes its cursor is canceled
/// with the compaction revision, after the revisions it did get.
#[test]
fn compaction_overtaking_a_catching_up_watch_cancels_it_with_the_compaction_revision() {
    let mut w = World::small(2);
    for _ in 0..10 {
        w.put("k", "v");
    }
    let mut rx = w.watch(KeyRange::key("k"), Some(1));
    w.apply(Command::Compact {
        revision: Revision(6),
    });
    let got = drain(&mut rx); // two from the first fill; draining wakes a pump later
    assert_eq!(event_revisions(&got), [1, 2]);
    w.pump();
    assert_eq!(
        drain(&mut rx),
        vec![WatchResponse::Canceled {
            reason: CancelReason::Compacted {
                compacted: Revision(6)
            }
        }]
    );
    assert!(w.hub.is_empty());
}

/// A live watch that does not drain is canceled when a revision finds its queue full,
/// with resume_from = the first revision it did not get; its queue never exceeds the
/// capacity plus the cancel slot, and resuming from there loses nothing.
#[test]
fn a_slow_watch_is_canceled_with_the_first_revision_it_missed_and_memory_stays_bounded() {
    let capacity = 3;
    let mut w = World::small(capacity);
    let mut rx = w.watch(KeyRange::key("k"), None);
    for _ in 0..10 {
        w.put("k", "v");
        assert!(rx.len() <= capacity + 1);
    }
    let got = drain(&mut rx);
    assert_eq!(event_revisions(&got), [1, 2, 3]);
    let resume_from = Revision(4);
    assert_eq!(
        got.last(),
        Some(&WatchResponse::Canceled {
            reason: CancelReason::Slow { resume_from }
        })
    );
    assert!(w.hub.is_empty());
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));

    let mut again = w.watch(KeyRange::key("k"), Some(resume_from.0));
    let mut seen = Vec::new();
    while !w.hub.is_synced(again.id()).unwrap_or(true) || !again.is_empty() {
        seen.extend(event_revisions(&drain(&mut again)));
        w.pump();
    }
    assert_eq!(seen, (4..=10).collect::<Vec<_>>());
}

/// With the catch-up policy a slow live watch is moved back to history instead, and
/// still gets every revision exactly once.
#[test]
fn with_the_catch_up_policy_a_slow_watch_falls_back_to_history_and_misses_nothing() {
    let mut w = World::new(WatchConfig {
        queue_capacity: 2,
        on_slow: SlowPolicy::CatchUp,
        ..WatchConfig::default()
    });
    let mut rx = w.watch(KeyRange::prefix(""), None);
    let mut seen = Vec::new();
    for i in 0..20 {
        w.put(&format!("k{}", i % 3), "v");
        if i % 5 == 0 {
            seen.extend(event_revisions(&drain(&mut rx)));
            w.pump();
        }
        assert!(rx.len() <= 3);
    }
    while w.hub.is_synced(rx.id()) == Some(false) || !rx.is_empty() {
        seen.extend(event_revisions(&drain(&mut rx)));
        w.pump();
    }
    assert_eq!(seen, (1..=20).collect::<Vec<_>>());
}

/// Progress bookmarks carry the current revision, go only to synced watches that asked
/// for them, and come after every event up to that revision.
#[test]
fn progress_notifications_carry_the_current_revision() {
    let mut w = World::small(2);
    let (_, mut asked) = w.try_watch(KeyRange::key("x"), None, true).unwrap();
    let (_, mut silent) = w.try_watch(KeyRange::key("x"), None, false).unwrap();
    w.put("x", "1");
    w.put("y", "1");
    w.put("y", "2");
    w.hub.progress(w.mvcc.revision());
    assert_eq!(
        drain(&mut asked)[1..],
        [WatchResponse::Progress {
            revision: Revision(3)
        }]
    );
    assert_eq!(event_revisions(&drain(&mut silent)), [1]);

    let (id, mut behind) = w.try_watch(KeyRange::prefix(""), Some(1), true).unwrap();
    assert_eq!(
        w.hub.is_synced(id),
        Some(false),
        "its two-slot queue holds revisions 1 and 2 only"
    );
    w.hub.progress(w.mvcc.revision());
    assert!(
        !w.hub.request_progress(id, w.mvcc.revision()),
        "no bookmark while catching up"
    );
    assert_eq!(event_revisions(&drain(&mut behind)), [1, 2]);
    w.pump();
    assert!(w.hub.request_progress(id, w.mvcc.revision()));
    let got = drain(&mut behind);
    assert_eq!(event_revisions(&got), [3]);
    assert_eq!(
        got[1],
        WatchResponse::Progress {
            revision: Revision(3)
        }
    );
}

/// Dropped receivers are forgotten by the hub, even on keys that never change.
#[test]
fn dropped_receivers_are_removed() {
    let mut w = World::small(4);
    let a = w.watch(KeyRange::key("never"), None);
    let b = w.watch(KeyRange::prefix("p/"), None);
    let c = w.watch(KeyRange::prefix(""), Some(1));
    assert_eq!(w.hub.len(), 3);
    drop((a, b, c));
    w.put("unrelated", "v");
    assert!(w.hub.is_empty());
}

/// Cancel ends the stream with Canceled { Requested } and nothing after it.
#[test]
fn cancel_ends_the_stream_with_a_requested_cancel() {
    let mut w = World::small(4);
    let mut rx = w.watch(KeyRange::key("k"), None);
    w.put("k", "v");
    assert!(w.hub.cancel(rx.id()));
    w.put("k", "v");
    let got = drain(&mut rx);
    assert_eq!(event_revisions(&got), [1]);
    assert_eq!(
        got.last(),
        Some(&WatchResponse::Canceled {
            reason: CancelReason::Requested
        })
    );
    assert_eq!(rx.try_recv(), Err(TryRecvError::Disconnected));
    assert!(!w.hub.cancel(rx.id()));
}

/// A watch catching up in small chunks while writes keep coming sees every revision
/// exactly once, in order, then becomes live; its queue stays bounded throughout.
#[test]
fn an_unsynced_watch_catching_up_in_chunks_while_writes_continue_sees_every_revision_once() {
    let capacity = 3;
    let mut w = World::new(WatchConfig {
        queue_capacity: capacity,
        catch_up_chunk: 2,
        max_scan_revisions: 5,
        ..WatchConfig::default()
    });
    for i in 0..100 {
        w.put(&format!("k{}", i % 7), "v");
    }
    let mut rx = w.watch(KeyRange::prefix(""), Some(1));
    let mut seen = Vec::new();
    let mut step = 0;
    while w.hub.is_synced(rx.id()) != Some(true) || !rx.is_empty() {
        step += 1;
        if let Ok(resp) = rx.try_recv() {
            seen.extend(event_revisions(&[resp]));
        }
        if step % 3 == 0 && step < 300 {
            w.put(&format!("k{}", step % 5), "v");
        }
        w.pump();
        assert!(rx.len() <= capacity + 1);
        assert!(step < 10_000, "never caught up");
    }
    w.put("last", "v");
    seen.extend(event_revisions(&drain(&mut rx)));
    assert_eq!(seen, (1..=w.mvcc.revision().0).collect::<Vec<_>>());
}

/// Every watch matching an event gets the same encoded bytes: one encoding, shared.
#[test]
fn all_watchers_of_one_event_share_the_same_bytes() {
    let mut w = World::small(4);
    let mut by_key = w.watch(KeyRange::key("p/a"), None);
    let mut by_prefix = w.watch(KeyRange::prefix("p/"), None);
    let mut everything = w.watch(KeyRange::from_key(""), None);
    w.write(vec![put("p/a", "1"), put("z", "1")]);
    let first = |rx: &mut WatchReceiver| match rx.try_recv() {
        Ok(WatchResponse::Events { events, .. }) => events,
        other => panic!("expected events, got {other:?}"),
    };
    let (a, b, c) = (
        first(&mut by_key),
        first(&mut by_prefix),
        first(&mut everything),
    );
    assert_eq!(a[0].as_bytes().as_ptr(), b[0].as_bytes().as_ptr());
    assert_eq!(a[0].as_bytes().as_ptr(), c[0].as_bytes().as_ptr());
    assert_eq!(c.len(), 2);
}

/// Encoded events validate before use: garbage is an error, and bytes at any alignment
/// decode to the original event.
#[test]
fn shared_events_round_trip_and_reject_garbage() {
    let mut w = World::small(4);
    let mut rx = w.watch(KeyRange::key("k"), None);
    w.put("k", "value");
    let Ok(WatchResponse::Events { events, .. }) = rx.try_recv() else {
        panic!("events")
    };
    let original = events[0].decode().unwrap();
    assert_eq!(
        (original.revision, original.event.kv.value.as_slice()),
        (Revision(1), &b"value"[..])
    );
    assert_eq!(events[0].revision().unwrap(), Revision(1));

    let mut shifted = vec![0u8];
    shifted.extend_from_slice(events[0].as_bytes());
    let unaligned = bytes::Bytes::from(shifted).slice(1..);
    assert_eq!(
        SharedEvent::from_bytes(unaligned)
            .unwrap()
            .decode()
            .unwrap(),
        original
    );
    assert!(
        SharedEvent::from_bytes(bytes::Bytes::from_static(b"definitely not an event")).is_err()
    );
    assert!(SharedEvent::from_bytes(bytes::Bytes::new()).is_err());
}

/// A watch that starts in the future gets nothing before its start revision.
#[test]
fn a_watch_starting_in_the_future_gets_nothing_before_its_start() {
    let mut w = World::small(8);
    w.put("k", "v");
    let mut rx = w.watch(KeyRange::key("k"), Some(4));
    for _ in 0..4 {
        w.put("k", "v");
    }
    assert_eq!(event_revisions(&drain(&mut rx)), [4, 5]);
}

/// When revisions reach the mvcc without being published one by one (a snapshot was
/// installed), live watches catch up from the new history and miss nothing.
#[test]
fn after_a_snapshot_install_live_watches_catch_up_from_history() {
    let mut w = World::small(8);
    let mut rx = w.watch(KeyRange::prefix(""), None);
    w.put("a", "1");
    let mut leader = w.mvcc.clone();
    for i in 0..4 {
        leader.apply(&Command::Txn(TxnRequest {
            compare: Vec::new(),
            success: vec![put(&format!("b{i}"), "v")],
            failure: Vec::new(),
        }));
    }
    w.mvcc = Mvcc::from_snapshot(&leader.snapshot_bytes().unwrap()).unwrap();
    w.hub.resync(&w.mvcc);
    w.pump();
    w.put("c", "1");
    assert_eq!(event_revisions(&drain(&mut rx)), [1, 2, 3, 4, 5, 6]);
}

/// The async receiver wakes for events published after it started waiting, and a
/// catching-up receiver that makes room wakes the hub's pump.
#[tokio::test]
async fn receivers_wake_on_publish_and_wake_the_pump_when_they_make_room() {
    let mut w = World::small(1);
    for _ in 0..3 {
        w.put("k", "v");
    }
    let wakeup = w.hub.wakeup();
    let mut behind = w.watch(KeyRange::key("k"), Some(1));
    let mut live = w.watch(KeyRange::key("k"), None);
    let waiter = tokio::spawn(async move { live.recv().await });
    tokio::task::yield_now().await;
    w.put("k", "v");
    let got = waiter.await.unwrap();
    assert!(matches!(
        got,
        Some(WatchResponse::Events {
            revision: Revision(4),
            ..
        })
    ));

    assert!(matches!(
        behind.recv().await,
        Some(WatchResponse::Events {
            revision: Revision(1),
            ..
        })
    ));
    tokio::time::timeout(std::time::Duration::from_secs(5), wakeup.notified())
        .await
        .expect("pump woken");
    w.pump();
    assert!(matches!(
        behind.recv().await,
        Some(WatchResponse::Events {
            revision: Revision(2),
            ..
        })
    ));
}
