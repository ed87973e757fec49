//! Tests of the watch checker: correct recordings of a seeded committed history pass,
//! and each planted fault is reported under the guarantee it breaks.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;

fn rev(r: u64) -> Revision {
    Revision(r)
}

/// `n` revisions, each touching one to three distinct keys of `a/0..a/4`, `b/0..b/4`.
fn committed(seed: u64, n: u64) -> CommittedHistory {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut history = CommittedHistory::new();
    for r in 1..=n {
        let mut events: Vec<WatchEvent> = Vec::new();
        for _ in 0..rng.gen_range(1..=3) {
            let key = format!(
                "{}/{}",
                ["a", "b"][rng.gen_range(0..2)],
                rng.gen_range(0..5)
            );
            if events.iter().any(|e| e.key == key) {
                continue;
            }
            events.push(if rng.gen_bool(0.8) {
                WatchEvent::put(key, format!("v{r}"))
            } else {
                WatchEvent::delete(key)
            });
        }
        history.record(rev(r), events);
    }
    history
}

fn events_at(history: &CommittedHistory, range: &KeyRange, r: Revision) -> Vec<WatchEvent> {
    history
        .revisions
        .get(&r)
        .map(|events| {
            events
                .iter()
                .filter(|e| range.contains(&e.key))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn in_range(history: &CommittedHistory, range: &KeyRange, from: u64) -> Vec<Revision> {
    history
        .revisions
        .keys()
        .copied()
        .filter(|r| r.0 >= from && !events_at(history, range, *r).is_empty())
        .collect()
}

/// A correct stream of every in-range revision from `start`, no progress, no cancels.
fn plain(history: &CommittedHistory, watcher: &str, range: KeyRange, start: u64) -> WatchRecording {
    let messages = in_range(history, &range, start)
        .into_iter()
        .map(|r| WatchMessage::Events {
            revision: r,
            events: events_at(history, &range, r),
        })
        .collect();
    WatchRecording {
        watcher: watcher.into(),
        range,
        start_revision: rev(start),
        messages,
    }
}

/// A correct stream with seeded progress notifications, slow cancels with resumes, and
/// one compaction after which the client re-lists and resumes later.
fn eventful(
    history: &CommittedHistory,
    seed: u64,
    watcher: &str,
    range: KeyRange,
    start: u64,
) -> WatchRecording {
    let mut rng = SmallRng::seed_from_u64(seed);
    let revs = in_range(history, &range, start);
    let mut messages = Vec::new();
    let mut compacted = false;
    let mut k = 0;
    while let Some(&r) = revs.get(k) {
        messages.push(WatchMessage::Events {
            revision: r,
            events: events_at(history, &range, r),
        });
        let next = revs.get(k + 1).map_or(r.0 + 5, |n| n.0);
        if rng.gen_bool(0.2) {
            let revision = rev(rng.gen_range(r.0..next));
            messages.push(WatchMessage::Progress { revision });
        }
        if rng.gen_bool(0.05) {
            let resume_from = rev(r.0 + 1);
            messages.push(WatchMessage::Canceled {
                reason: CancelReason::Slow { resume_from },
            });
            messages.push(WatchMessage::Resumed {
                start_revision: resume_from,
            });
        } else if !compacted && k > revs.len() / 2 && k + 3 < revs.len() {
            compacted = true;
            let compacted_at = rev(r.0 + 1);
            messages.push(WatchMessage::Canceled {
                reason: CancelReason::Compacted {
                    compacted: compacted_at,
                },
            });
            // The client re-lists at revs[k + 2] and watches from just after it.
            k += 2;
            let relisted = revs[k].0;
            messages.push(WatchMessage::Resumed {
                start_revision: rev(relisted + 1),
            });
        }
        k += 1;
    }
    WatchRecording {
        watcher: watcher.into(),
        range,
        start_revision: rev(start),
        messages,
    }
}

fn revision_of(msg: &WatchMessage) -> Revision {
    match msg {
        WatchMessage::Events { revision, .. } => *revision,
        _ => panic!("not an events message: {msg:?}"),
    }
}

#[track_caller]
fn assert_broken(
    history: &CommittedHistory,
    recordings: &[WatchRecording],
    expected: &[Guarantee],
) -> WatchReport {
    let report = check(history, recordings);
    assert_eq!(report.broken(), expected, "{}", report.report());
    report
}

/// Correct streams over several ranges, with bookmarks, slow-consumer cancels,
/// compaction and a "from now" watcher, break no guarantee.
#[test]
fn correct_recordings_pass() {
    for seed in [1u64, 2, 3] {
        let history = committed(seed, 300);
        let mut now = plain(&history, "now", KeyRange::Prefix(String::new()), 0);
        now.messages.drain(..10);
        let recordings = vec![
            plain(&history, "all", KeyRange::Prefix(String::new()), 1),
            eventful(&history, seed, "a", KeyRange::Prefix("a/".into()), 1),
            eventful(&history, seed + 100, "b3", KeyRange::Key("b/3".into()), 40),
            eventful(
                &history,
                seed + 200,
                "range",
                KeyRange::Range {
                    start: "a/3".into(),
                    end: "b/2".into(),
                },
                7,
            ),
            plain(&history, "from-b", KeyRange::FromKey("b/".into()), 100),
            now,
        ];
        let report = check(&history, &recordings);
        assert!(report.passed(), "seed {seed}: {}", report.report());
        assert!(report.events > 500, "{report:?}");
        let all: Vec<&WatchMessage> = recordings.iter().flat_map(|r| &r.messages).collect();
        let has = |f: fn(&WatchMessage) -> bool| all.iter().any(|m| f(m));
        assert!(
            has(|m| matches!(m, WatchMessage::Progress { .. })),
            "seed {seed}: no bookmark"
        );
        assert!(has(|m| matches!(
            m,
            WatchMessage::Canceled {
                reason: CancelReason::Slow { .. }
            }
        )));
        assert!(has(|m| matches!(
            m,
            WatchMessage::Canceled {
                reason: CancelReason::Compacted { .. }
            }
        )));
    }
}

fn fixture() -> (CommittedHistory, WatchRecording) {
    let history = committed(42, 60);
    let rec = plain(&history, "w", KeyRange::Prefix("a/".into()), 1);
    assert!(rec.messages.len() > 20);
    (history, rec)
}

/// A revision missing from the middle of a stream breaks reliability, naming it.
#[test]
fn a_dropped_event_breaks_reliable() {
    let (history, mut rec) = fixture();
    let dropped = revision_of(&rec.messages.remove(10));
    let report = assert_broken(&history, &[rec], &[Guarantee::Reliable]);
    assert_eq!(report.violations[0].revisions, vec![dropped]);
    assert_eq!(report.violations[0].watcher, "w");
}

/// A revision delivered twice, adjacent or not, breaks uniqueness.
#[test]
fn a_duplicated_revision_breaks_unique() {
    let (history, rec) = fixture();
    let mut adjacent = rec.clone();
    adjacent.messages.insert(11, rec.messages[10].clone());
    assert_broken(&history, &[adjacent], &[Guarantee::Unique]);
    let mut later = rec.clone();
    later.messages.insert(14, rec.messages[10].clone());
    let report = assert_broken(&history, &[later], &[Guarantee::Unique]);
    assert_eq!(
        report.violations[0].revisions,
        vec![revision_of(&rec.messages[10])]
    );
}

/// Two revisions swapped break ordering, and only ordering.
#[test]
fn reordered_revisions_break_ordered() {
    let (history, mut rec) = fixture();
    rec.messages.swap(10, 11);
    let report = assert_broken(&history, &[rec.clone()], &[Guarantee::Ordered]);
    let (late, early) = (
        revision_of(&rec.messages[10]),
        revision_of(&rec.messages[11]),
    );
    assert_eq!(report.violations[0].revisions, vec![late, early]);
}

/// A revision's events spread over two messages break atomicity, and only that.
#[test]
fn a_revision_split_across_two_messages_breaks_atomic() {
    let history = committed(42, 60);
    let mut rec = plain(&history, "w", KeyRange::Prefix(String::new()), 1);
    let k = (5..rec.messages.len())
        .find(|&k| matches!(&rec.messages[k], WatchMessage::Events { events, .. } if events.len() >= 2))
        .expect("a revision with two events");
    let WatchMessage::Events {
        revision,
        mut events,
    } = rec.messages.remove(k)
    else {
        unreachable!()
    };
    let tail = events.split_off(1);
    rec.messages.insert(
        k,
        WatchMessage::Events {
            revision,
            events: tail,
        },
    );
    rec.messages
        .insert(k, WatchMessage::Events { revision, events });
    let report = assert_broken(&history, &[rec], &[Guarantee::Atomic]);
    assert_eq!(report.violations.len(), 1, "{}", report.report());
    assert_eq!(report.violations[0].revisions, vec![revision]);
}

/// Events that differ from what the revision committed break atomicity.
#[test]
fn an_event_that_was_not_committed_breaks_atomic() {
    let (history, mut rec) = fixture();
    if let Some(WatchMessage::Events { events, .. }) = rec.messages.get_mut(3) {
        events[0].value = "forged".into();
    }
    assert_broken(&history, &[rec], &[Guarantee::Atomic]);
}

/// A stream resumed at `r` that first delivers the revision after the first committed
/// one `>= r` breaks resumability; so does a slow cancel whose resume point skips one.
#[test]
fn a_resume_one_revision_late_breaks_resumable() {
    let (history, rec) = fixture();
    let revs: Vec<Revision> = rec.messages.iter().map(revision_of).collect();
    let mut late = rec.clone();
    let resume_from = Revision(revs[9].0 + 1);
    late.messages.truncate(10);
    late.messages.push(WatchMessage::Canceled {
        reason: CancelReason::Slow { resume_from },
    });
    late.messages.push(WatchMessage::Resumed {
        start_revision: resume_from,
    });
    late.messages.extend(rec.messages[11..].iter().cloned());
    let report = assert_broken(&history, &[late], &[Guarantee::Resumable]);
    assert_eq!(report.violations[0].revisions, vec![revs[10], revs[11]]);

    let mut server = rec.clone();
    let skipping = Revision(revs[10].0 + 1);
    server.messages.truncate(10);
    server.messages.push(WatchMessage::Canceled {
        reason: CancelReason::Slow {
            resume_from: skipping,
        },
    });
    server.messages.push(WatchMessage::Resumed {
        start_revision: skipping,
    });
    server.messages.extend(rec.messages[11..].iter().cloned());
    let report = assert_broken(&history, &[server], &[Guarantee::Resumable]);
    assert_eq!(report.violations[0].revisions, vec![revs[10]]);
}

/// A progress notification at `r` sent before an event at or below `r` breaks
/// bookmarkability, reported once.
#[test]
fn a_progress_notification_before_an_earlier_event_breaks_bookmarkable() {
    let (history, mut rec) = fixture();
    let r = revision_of(&rec.messages[10]);
    rec.messages
        .insert(10, WatchMessage::Progress { revision: r });
    let report = assert_broken(&history, &[rec], &[Guarantee::Bookmarkable]);
    assert_eq!(report.violations.len(), 1, "{}", report.report());
    assert_eq!(report.violations[0].revisions, vec![r]);
}

/// Two watchers that report different contents for one revision disagree, and the
/// one that differs from the committed history also breaks atomicity.
#[test]
fn watchers_that_disagree_on_a_revision_break_agreement() {
    let history = committed(42, 60);
    let all = plain(&history, "all", KeyRange::Prefix(String::new()), 1);
    let mut a = plain(&history, "a", KeyRange::Prefix("a/".into()), 1);
    let r = revision_of(&a.messages[5]);
    if let Some(WatchMessage::Events { events, .. }) = a.messages.get_mut(5) {
        events[0].value = "other".into();
    }
    let report = assert_broken(
        &history,
        &[all, a],
        &[Guarantee::Atomic, Guarantee::Agreement],
    );
    let agreement = report
        .violations
        .iter()
        .find(|v| v.guarantee == Guarantee::Agreement)
        .expect("a disagreement");
    assert_eq!(
        (agreement.watcher.as_str(), agreement.revisions.clone()),
        ("all vs a", vec![r])
    );
}

/// A stream that keeps delivering after it was cancelled breaks cancellation.
#[test]
fn events_after_a_cancel_break_cancellation() {
    let (history, mut rec) = fixture();
    rec.messages.insert(
        10,
        WatchMessage::Canceled {
            reason: CancelReason::Other,
        },
    );
    assert_broken(&history, &[rec], &[Guarantee::Cancellation]);
}

/// Revisions the ground truth lacks are filled from what watchers saw, so a write
/// whose acknowledgement was lost does not count against them.
#[test]
fn observed_revisions_fill_the_ground_truth() {
    let history = committed(42, 60);
    let rec = plain(&history, "all", KeyRange::Prefix(String::new()), 1);
    let mut partial = history.clone();
    partial.revisions.remove(&rev(30));
    assert!(!check(&partial, std::slice::from_ref(&rec)).passed());
    partial.add_observed(std::slice::from_ref(&rec));
    assert_eq!(partial, history);
    assert!(check(&partial, &[rec]).passed());
}

/// Arbitrary recordings never make the checker panic.
#[test]
fn random_recordings_never_panic_the_checker() {
    let mut rng = SmallRng::seed_from_u64(0x5eed_0002);
    let history = committed(7, 40);
    for _ in 0..300 {
        let recordings: Vec<WatchRecording> = (0..3)
            .map(|w| {
                let messages = (0..rng.gen_range(0..40))
                    .map(|_| {
                        let r = rev(if rng.gen_bool(0.05) {
                            u64::MAX
                        } else {
                            rng.gen_range(0..45)
                        });
                        match rng.gen_range(0..10) {
                            0 => WatchMessage::Progress { revision: r },
                            1 => WatchMessage::Canceled {
                                reason: match rng.gen_range(0..3) {
                                    0 => CancelReason::Compacted { compacted: r },
                                    1 => CancelReason::Slow { resume_from: r },
                                    _ => CancelReason::Other,
                                },
                            },
                            2 => WatchMessage::Resumed { start_revision: r },
                            _ => WatchMessage::Events {
                                revision: r,
                                events: events_at(&history, &KeyRange::Prefix(String::new()), r),
                            },
                        }
                    })
                    .collect();
                WatchRecording {
                    watcher: format!("w{w}"),
                    range: KeyRange::Prefix(["", "a/", "b/1"][w % 3].into()),
                    start_revision: rev(rng.gen_range(0..10)),
                    messages,
                }
            })
            .collect();
        let report = check(&history, &recordings);
        let _ = report.report().to_string();
    }
}

/// A long recording with a bookmark after every event checks in linear time.
#[test]
fn a_long_recording_with_frequent_bookmarks_checks_quickly() {
    let history = committed(5, 20_000);
    let mut rec = plain(&history, "all", KeyRange::Prefix(String::new()), 1);
    let messages = std::mem::take(&mut rec.messages);
    for msg in messages {
        let r = revision_of(&msg);
        rec.messages.push(msg);
        rec.messages.push(WatchMessage::Progress { revision: r });
    }
    let started = std::time::Instant::now();
    let report = check(&history, &[rec]);
    let took = started.elapsed();
    assert!(report.passed(), "{}", report.report());
    let limit = if cfg!(debug_assertions) { 20.0 } else { 2.0 };
    assert!(took.as_secs_f64() < limit, "took {took:?}");
}
