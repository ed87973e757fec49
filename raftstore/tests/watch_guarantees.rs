//! etcd's six watch guarantees — ordered, unique, reliable, atomic, resumable,
//! bookmarkable — checked over recorded watch histories while writers, a compactor and
//! forced leader changes run; the merged events of all watchers equal the committed
//! history.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use hive_raftstore::watch::{CancelReason, WatchResponse};
use hive_raftstore::{
    DeleteRequest, EventKind, KeyRange, LeaseId, PutRequest, Revision, Store, StoreError, TxnOp,
    TxnOpResponse, TxnRequest,
};
use parking_lot::Mutex;
use rand::{Rng, SeedableRng};

/// One key change as the test sees it: (key, is_delete, value).
type Change = (Vec<u8>, bool, Vec<u8>);

/// What one watcher recorded, segment by segment (a segment ends when its stream does).
#[derive(Default, Debug)]
struct Recording {
    segments: Vec<Segment>,
}

#[derive(Default, Debug)]
struct Segment {
    /// The revision the stream was opened from.
    start: u64,
    /// The stream was refused below compaction and reopened at `compacted + 1`.
    compacted_gap: bool,
    /// Messages in arrival order: revision and its changes, or a bookmark.
    messages: Vec<Msg>,
}

#[derive(Debug)]
enum Msg {
    Events(u64, Vec<Change>),
    Progress(u64),
}

fn changes(events: &[hive_raftstore::watch::SharedEvent]) -> Vec<Change> {
    let mut out: Vec<Change> = events
        .iter()
        .map(|e| {
            let w = e.decode().expect("event bytes validate");
            (
                w.event.kv.key,
                w.event.kind == EventKind::Delete,
                if w.event.kind == EventKind::Delete {
                    vec![]
                } else {
                    w.event.kv.value
                },
            )
        })
        .collect();
    out.sort();
    out
}

/// A watcher that reconnects from where it stopped until it has seen `until`.
async fn record(
    store: Store,
    start: u64,
    stop: Arc<AtomicBool>,
    until: Arc<Mutex<Option<u64>>>,
) -> Recording {
    let mut rec = Recording::default();
    let mut next = start;
    let mut compacted_gap = false;
    loop {
        let done = |last: u64| until.lock().is_some_and(|u| last >= u);
        let mut rx = match store
            .watch(KeyRange::prefix("/w/"), Some(Revision(next)), true)
            .await
        {
            Ok(rx) => rx,
            Err(StoreError::Compacted { compacted }) => {
                next = compacted.0 + 1;
                compacted_gap = true;
                continue;
            }
            Err(StoreError::Unavailable(_)) => {
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Err(e) => panic!("watch failed: {e}"),
        };
        let mut seg = Segment {
            start: next,
            compacted_gap,
            messages: Vec::new(),
        };
        compacted_gap = false;
        loop {
            let last = next.saturating_sub(1);
            if done(last) || (stop.load(Ordering::Relaxed) && until.lock().is_none()) {
                rec.segments.push(seg);
                return rec;
            }
            match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
                Err(_) => continue,
                Ok(None) => break, // the serving member died: reconnect
                Ok(Some(WatchResponse::Events { revision, events })) => {
                    next = revision.0 + 1;
                    seg.messages.push(Msg::Events(revision.0, changes(&events)));
                }
                Ok(Some(WatchResponse::Progress { revision })) => {
                    seg.messages.push(Msg::Progress(revision.0))
                }
                Ok(Some(WatchResponse::Canceled { reason })) => {
                    match reason {
                        CancelReason::Slow { resume_from } => next = resume_from.0,
                        CancelReason::Compacted { compacted } => {
                            next = compacted.0 + 1;
                            compacted_gap = true;
                        }
                        other => panic!("unexpected cancel: {other:?}"),
                    }
                    break;
                }
            }
        }
        rec.segments.push(seg);
    }
}

/// Writes under /w/: single puts, deletes and 3-key transactions (one revision, three
/// events, so atomicity is observable). Records what was acknowledged.
async fn write(store: Store, id: usize, n: usize, acked: Arc<Mutex<BTreeMap<u64, Vec<Change>>>>) {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(id as u64);
    for i in 0..n {
        let k = |j: usize| format!("/w/{id}/{j}").into_bytes();
        let v = format!("{id}-{i}").into_bytes();
        let (ops, expect): (Vec<TxnOp>, Vec<Change>) = match rng.gen_range(0..10) {
            0 => (
                vec![TxnOp::Delete(DeleteRequest {
                    range: KeyRange::key(k(i % 7)),
                    prev_kv: false,
                })],
                vec![(k(i % 7), true, vec![])],
            ),
            1 | 2 => {
                let keys = [k(100 + i % 3), k(200 + i % 3), k(300 + i % 3)];
                (
                    keys.iter()
                        .map(|key| {
                            TxnOp::Put(PutRequest {
                                key: key.clone(),
                                value: v.clone(),
                                lease: LeaseId::NONE,
                                prev_kv: false,
                            })
                        })
                        .collect(),
                    keys.iter()
                        .map(|key| (key.clone(), false, v.clone()))
                        .collect(),
                )
            }
            _ => (
                vec![TxnOp::Put(PutRequest {
                    key: k(i % 7),
                    value: v.clone(),
                    lease: LeaseId::NONE,
                    prev_kv: false,
                })],
                vec![(k(i % 7), false, v.clone())],
            ),
        };
        match store
            .txn(TxnRequest {
                success: ops,
                ..Default::default()
            })
            .await
        {
            Ok(t) => {
                // A delete of an absent key writes nothing and bumps no revision.
                let wrote = !matches!(
                    t.responses.first(),
                    Some(TxnOpResponse::Delete { deleted: 0, .. })
                );
                if wrote {
                    let mut e = expect;
                    e.sort();
                    acked.lock().insert(t.revision.0, e);
                }
            }
            Err(
                StoreError::Timeout(_) | StoreError::Indeterminate(_) | StoreError::Unavailable(_),
            ) => {}
            Err(e) => panic!("write failed: {e}"),
        }
    }
}

/// Five watchers from random past revisions record while writers, a compactor and
/// leader kills run; every recording satisfies the six guarantees and all of them
/// together agree with the acknowledged history.
#[actix_rt::test]
async fn watch_guarantees_hold_under_writes_compaction_and_leader_changes() {
    let (_dir, mut c) = cluster(3).await;
    let store = c.store();
    let acked: Arc<Mutex<BTreeMap<u64, Vec<Change>>>> = Default::default();
    let stop = Arc::new(AtomicBool::new(false));
    let until: Arc<Mutex<Option<u64>>> = Default::default();

    let writers: Vec<_> = (0..4)
        .map(|id| tokio::spawn(write(store.clone(), id, 400, acked.clone())))
        .collect();
    let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
    let mut watchers = Vec::new();
    for _ in 0..5 {
        wait_until(LONG, "some writes land", || {
            (acked.lock().len() > 20).then_some(())
        })
        .await
        .unwrap();
        let newest = *acked.lock().keys().last().expect("some");
        let start = rng.gen_range(1..=newest);
        watchers.push(tokio::spawn(record(
            store.clone(),
            start,
            stop.clone(),
            until.clone(),
        )));
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    let compactor = {
        let (store, acked, stop) = (store.clone(), acked.clone(), stop.clone());
        tokio::spawn(async move {
            let mut compactions = 0;
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(300)).await;
                let newest = acked.lock().keys().last().copied().unwrap_or(0);
                if newest > 150 && store.compact(Revision(newest - 150)).await.is_ok() {
                    compactions += 1;
                }
            }
            compactions
        })
    };
    let mut leader_changes = 0;
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let old = c.leader().expect("leader");
        c.kill(old);
        c.wait_for_new_leader(old, LONG).await.expect("new leader");
        c.start_member(old, false);
        leader_changes += 1;
    }
    for w in writers {
        w.await.expect("writer");
    }
    let last = store
        .put("/w/final", "end")
        .await
        .expect("final write")
        .revision
        .0;
    acked
        .lock()
        .insert(last, vec![(b"/w/final".to_vec(), false, b"end".to_vec())]);
    *until.lock() = Some(last);
    stop.store(true, Ordering::Relaxed);
    let compactions = compactor.await.expect("compactor");
    let mut recordings = Vec::new();
    for w in watchers {
        recordings.push(
            tokio::time::timeout(LONG, w)
                .await
                .expect("watchers reach the end")
                .expect("watcher"),
        );
    }
    assert!(compactions >= 2, "the compactor ran ({compactions})");
    assert_eq!(leader_changes, 2);

    let acked = acked.lock().clone();
    for (w, r) in recordings.iter().enumerate() {
        let events: usize = r
            .segments
            .iter()
            .flat_map(|s| &s.messages)
            .filter(|m| matches!(m, Msg::Events(..)))
            .count();
        let bookmarks = r.segments.iter().flat_map(|s| &s.messages).count() - events;
        let gaps = r.segments.iter().filter(|s| s.compacted_gap).count();
        eprintln!("watcher {w}: from {}, {} segments, {events} revisions, {bookmarks} bookmarks, {gaps} compacted restarts",
            r.segments[0].start, r.segments.len());
    }
    eprintln!(
        "{} acknowledged revisions, {compactions} compactions, {leader_changes} leader changes",
        acked.len()
    );
    check(&recordings, &acked, last);
}

/// The six guarantees, and agreement with the acknowledged history.
fn check(recs: &[Recording], acked: &BTreeMap<u64, Vec<Change>>, last: u64) {
    let mut merged: BTreeMap<u64, Vec<Change>> = BTreeMap::new();
    for (w, rec) in recs.iter().enumerate() {
        let mut prev_rev = 0u64; // across segments too: the watcher resumes where it stopped
        for (s, seg) in rec.segments.iter().enumerate() {
            let mut delivered: BTreeSet<u64> = BTreeSet::new();
            let mut first = true;
            for m in &seg.messages {
                match m {
                    Msg::Events(rev, ch) => {
                        // ordered and unique, within and across segments
                        assert!(
                            *rev > prev_rev,
                            "watcher {w} segment {s}: revision {rev} after {prev_rev}"
                        );
                        // resumable: the first revision delivered is the first committed one >= start
                        if first && !seg.compacted_gap {
                            if let Some((&expected, _)) = acked.range(seg.start..).next() {
                                assert!(*rev <= expected, "watcher {w} segment {s} resumed at {rev}, skipping acknowledged {expected}");
                            }
                        }
                        first = false;
                        prev_rev = *rev;
                        delivered.insert(*rev);
                        // atomic and agreeing: one message per revision equal to the committed events
                        if let Some(want) = acked.get(rev) {
                            assert_eq!(ch, want, "watcher {w}: revision {rev} events differ from the acknowledged write");
                        }
                        if let Some(other) = merged.insert(*rev, ch.clone()) {
                            assert_eq!(&other, ch, "watchers disagree on revision {rev}");
                        }
                    }
                    Msg::Progress(r) => {
                        // bookmarkable: everything acknowledged up to r was already delivered
                        for (&a, _) in acked.range(seg.start..).take_while(|(&a, _)| a <= *r) {
                            assert!(
                                delivered.contains(&a),
                                "watcher {w}: progress {r} before revision {a} was delivered"
                            );
                        }
                    }
                }
            }
            // reliable: no acknowledged revision missing inside what the segment covered
            if let (Some(&lo), Some(&hi)) = (delivered.first(), delivered.last()) {
                for (&a, _) in acked.range(lo..=hi) {
                    assert!(
                        delivered.contains(&a),
                        "watcher {w} segment {s}: gap at acknowledged revision {a} in [{lo}, {hi}]"
                    );
                }
            }
        }
        assert!(
            prev_rev >= last,
            "watcher {w} stopped at {prev_rev} before the final revision {last}"
        );
    }
    // merged events cover every acknowledged revision at or after the earliest watched one
    let earliest = recs
        .iter()
        .filter_map(|r| r.segments.first())
        .map(|s| s.start)
        .min()
        .unwrap_or(1);
    let uncovered: Vec<u64> = acked
        .keys()
        .filter(|&&r| r >= earliest && !merged.contains_key(&r))
        .copied()
        .collect();
    let gaps_allowed = recs
        .iter()
        .any(|r| r.segments.iter().any(|s| s.compacted_gap));
    assert!(
        gaps_allowed || uncovered.is_empty(),
        "acknowledged revisions never delivered: {uncovered:?}"
    );
    assert!(
        merged.len() >= acked.len() / 2,
        "watchers delivered {} revisions of {}",
        merged.len(),
        acked.len()
    );
}
