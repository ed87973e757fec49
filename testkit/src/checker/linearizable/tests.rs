//! Tests of the linearizability checker: hand-written histories for each operation kind,
//! and histories of a simulated correct store with and without a planted bug.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::*;
use crate::checker::history::{ClientId, Revision, Versioned};

mod differential;
mod sim;

use sim::{plan, Bug, Plan};

// ---- builders for hand-written histories ------------------------------------------

fn op(client: u64, key: &str, call: Call, span: (u64, u64), outcome: Outcome) -> Operation {
    Operation {
        client: ClientId(client),
        key: key.into(),
        call,
        invoked_at: span.0,
        completed_at: Some(span.1),
        outcome,
    }
}

fn put(client: u64, key: &str, value: &str, span: (u64, u64), rev: u64) -> Operation {
    let call = Call::Put {
        value: value.into(),
    };
    op(
        client,
        key,
        call,
        span,
        Outcome::Ok(Reply::Written(Revision(rev))),
    )
}

fn get(client: u64, key: &str, span: (u64, u64), read: Option<(&str, u64)>) -> Operation {
    let read = read.map(|(v, m)| Versioned {
        value: v.into(),
        mod_revision: Revision(m),
    });
    op(client, key, Call::Get, span, Outcome::Ok(Reply::Got(read)))
}

fn cas(
    client: u64,
    key: &str,
    expected: u64,
    value: &str,
    span: (u64, u64),
    swapped: Option<u64>,
) -> Operation {
    let call = Call::Cas {
        expected_mod_revision: Revision(expected),
        value: value.into(),
    };
    let reply = swapped.map_or(Reply::Conflict, |r| Reply::Swapped(Revision(r)));
    op(client, key, call, span, Outcome::Ok(reply))
}

fn del(client: u64, key: &str, span: (u64, u64), rev: u64) -> Operation {
    op(
        client,
        key,
        Call::Delete,
        span,
        Outcome::Ok(Reply::Written(Revision(rev))),
    )
}

fn unknown(mut op: Operation) -> Operation {
    op.outcome = Outcome::Unknown;
    op.completed_at = None;
    op
}

fn failed(mut op: Operation) -> Operation {
    op.outcome = Outcome::Fail;
    op
}

fn run(ops: Vec<Operation>) -> LinearizabilityResult {
    check(&History { ops }, &Options::default())
}

#[track_caller]
fn assert_linearizable(ops: Vec<Operation>) {
    let result = run(ops);
    assert!(result.is_ok(), "expected linearizable, got {result:#?}");
}

#[track_caller]
fn assert_violation(ops: Vec<Operation>, words: &str) -> Box<Violation> {
    match run(ops) {
        LinearizabilityResult::Violation(v) => {
            assert!(
                v.explanation.contains(words),
                "explanation lacks {words:?}:\n{v}"
            );
            v
        }
        other => panic!("expected a violation, got {other:#?}"),
    }
}

// ---- hand-written histories ---------------------------------------------------------

/// Writes followed by reads of the latest write, one at a time, are linearizable.
#[test]
fn sequential_writes_and_reads_of_the_latest_write_are_linearizable() {
    assert_linearizable(vec![
        get(1, "k", (0, 1), None),
        put(1, "k", "a", (2, 3), 1),
        get(2, "k", (4, 5), Some(("a", 1))),
        put(2, "j", "x", (6, 7), 2),
        put(1, "k", "b", (8, 9), 3),
        get(1, "k", (10, 11), Some(("b", 3))),
        del(2, "k", (12, 13), 4),
        get(1, "k", (14, 15), None),
    ]);
}

/// A read that overlaps a write may see the value before or after it.
#[test]
fn a_read_concurrent_with_a_write_may_see_either_value() {
    let base = || vec![put(1, "k", "a", (0, 1), 1), put(1, "k", "b", (10, 20), 2)];
    let mut old = base();
    old.push(get(2, "k", (11, 19), Some(("a", 1))));
    assert_linearizable(old);
    let mut new = base();
    new.push(get(2, "k", (11, 19), Some(("b", 2))));
    assert_linearizable(new);
}

/// A read that starts after a write finished must not return the value it replaced.
#[test]
fn a_stale_read_is_a_violation() {
    let v = assert_violation(
        vec![
            put(1, "k", "a", (0, 1), 1),
            put(1, "k", "b", (2, 3), 2),
            get(2, "k", (4, 5), Some(("a", 1))),
        ],
        "it read \"a\"",
    );
    assert_eq!(v.stuck.as_ref().map(|s| s.0), Some(OpIndex(2)));
    assert_eq!(v.linearized.len(), 2, "{v}");
}

/// An acknowledged write is not lost: a later read cannot find the key absent.
#[test]
fn a_lost_acknowledged_write_is_a_violation() {
    assert_violation(
        vec![put(1, "k", "a", (0, 1), 7), get(2, "k", (2, 3), None)],
        "it read the key as absent",
    );
}

/// Two compare-and-swaps expecting the same revision cannot both succeed.
#[test]
fn two_cas_expecting_the_same_revision_cannot_both_succeed() {
    assert_violation(
        vec![
            put(1, "k", "a", (0, 1), 1),
            cas(1, "k", 1, "b", (2, 10), Some(2)),
            cas(2, "k", 1, "c", (2, 10), Some(3)),
        ],
        "it swapped, but the mod_revision was not its expected 1",
    );
}

/// A compare-and-swap whose expected revision is current must succeed, and one against
/// a missing key expects revision 0.
#[test]
fn a_cas_conflicting_on_the_current_revision_is_a_violation() {
    assert_linearizable(vec![
        cas(1, "k", 0, "a", (0, 1), Some(1)),
        cas(1, "k", 0, "b", (2, 3), None),
        cas(1, "k", 1, "c", (4, 5), Some(2)),
    ]);
    assert_violation(
        vec![
            put(1, "k", "a", (0, 1), 1),
            cas(1, "k", 1, "b", (2, 3), None),
        ],
        "it reported a conflict",
    );
}

/// Writes to one key get rising revisions in the order they take effect.
#[test]
fn a_revision_going_backwards_on_one_key_is_a_violation() {
    assert_violation(
        vec![put(1, "k", "a", (0, 1), 5), put(1, "k", "b", (2, 3), 3)],
        "in revision order",
    );
}

/// The revision counter is global: a write that starts after another write finished,
/// on any key, gets a higher revision.
#[test]
fn a_revision_going_backwards_across_keys_is_a_violation() {
    let v = assert_violation(
        vec![put(1, "a", "x", (0, 1), 5), put(2, "b", "y", (2, 3), 4)],
        "must follow real time",
    );
    assert_eq!(v.key, "b");
    assert_linearizable(vec![
        put(1, "a", "x", (0, 10), 5),
        put(2, "b", "y", (2, 3), 4),
    ]);
}

/// Two acknowledged writes never share a revision.
#[test]
fn two_writes_sharing_a_revision_is_a_violation() {
    assert_violation(
        vec![put(1, "a", "x", (0, 10), 5), put(2, "b", "y", (0, 10), 5)],
        "same revision 5",
    );
}

/// A read returns only values some write produced.
#[test]
fn a_read_of_a_never_written_value_is_a_violation() {
    assert_violation(
        vec![
            put(1, "k", "a", (0, 1), 1),
            get(2, "k", (2, 3), Some(("zz", 1))),
        ],
        "no operation ever wrote",
    );
}

/// A failed write definitely did not happen, so its value cannot be read.
#[test]
fn a_read_of_a_failed_writes_value_is_a_violation() {
    assert_violation(
        vec![
            failed(put(1, "k", "a", (0, 1), 1)),
            get(2, "k", (2, 3), Some(("a", 1))),
        ],
        "only op #0 wrote",
    );
}

/// A read reports the mod revision the write it reads returned.
#[test]
fn a_read_with_the_wrong_mod_revision_is_a_violation() {
    assert_violation(
        vec![
            put(1, "k", "a", (0, 1), 4),
            get(2, "k", (2, 3), Some(("a", 3))),
        ],
        "with mod_revision 3",
    );
}

/// Deleting an existing key is a write with a fresh revision; deleting a missing key
/// writes nothing and may return the current revision.
#[test]
fn a_delete_bumps_the_revision_only_when_the_key_exists() {
    assert_linearizable(vec![
        put(1, "k", "a", (0, 1), 1),
        del(1, "k", (2, 3), 2),
        del(1, "k", (4, 5), 2),
        get(1, "k", (6, 7), None),
        put(1, "k", "b", (8, 9), 3),
    ]);
    assert_violation(
        vec![put(1, "k", "a", (0, 1), 1), del(1, "k", (2, 3), 1)],
        "its revision 1 is not above revision 1",
    );
}

/// A timed-out write whose value is later read must have happened, after its
/// invocation; the read reveals the revision it took.
#[test]
fn an_unknown_write_that_was_observed_must_have_happened() {
    assert_linearizable(vec![
        put(1, "k", "a", (0, 1), 1),
        unknown(put(2, "k", "b", (2, 3), 0)),
        get(3, "k", (50, 51), Some(("b", 9))),
        put(3, "k", "c", (52, 53), 10),
    ]);
    // Once the read has revealed revision 9, a later write cannot take revision 9.
    assert_violation(
        vec![
            put(1, "k", "a", (0, 1), 1),
            unknown(put(2, "k", "b", (2, 3), 0)),
            get(3, "k", (50, 51), Some(("b", 9))),
            put(3, "k", "c", (52, 53), 9),
        ],
        "leaving no room for op #3 (revision 9)",
    );
}

/// A timed-out write nobody observed may never have happened.
#[test]
fn an_unknown_write_that_was_never_observed_may_not_have_happened() {
    assert_linearizable(vec![
        put(1, "k", "a", (0, 1), 1),
        unknown(put(2, "k", "b", (2, 3), 0)),
        unknown(del(2, "k", (4, 5), 0)),
        unknown(cas(4, "k", 9, "c", (6, 7), None)),
        get(3, "k", (50, 51), Some(("a", 1))),
    ]);
}

/// A timed-out write cannot take effect before it was invoked.
#[test]
fn an_unknown_write_cannot_be_observed_before_its_invocation() {
    assert_violation(
        vec![
            put(1, "k", "a", (0, 1), 1),
            get(3, "k", (2, 3), Some(("b", 2))),
            unknown(put(2, "k", "b", (10, 11), 0)),
        ],
        "it read \"b\"",
    );
}

/// A timed-out compare-and-swap may have succeeded when its expected revision was
/// current, and a read can reveal that it did.
#[test]
fn an_unknown_cas_may_have_succeeded_when_its_expected_revision_was_current() {
    assert_linearizable(vec![
        put(1, "k", "a", (0, 1), 1),
        unknown(cas(2, "k", 1, "b", (2, 3), None)),
        get(3, "k", (10, 11), Some(("b", 4))),
    ]);
    assert_violation(
        vec![
            put(1, "k", "a", (0, 1), 1),
            unknown(cas(2, "k", 7, "b", (2, 3), None)),
            get(3, "k", (10, 11), Some(("b", 8))),
        ],
        "it read \"b\"",
    );
}

/// When the budget runs out the checker says it does not know rather than guessing.
#[test]
fn an_exhausted_search_budget_gives_an_unknown_verdict() {
    let ops: Vec<Operation> = (0..6)
        .map(|i| put(i, "k", &format!("v{i}"), (0, 10), i + 1))
        .collect();
    let options = Options {
        max_steps_per_key: 3,
        ..Options::default()
    };
    let result = check(&History { ops }, &options);
    assert!(
        matches!(result, LinearizabilityResult::Unknown { steps: 3, .. }),
        "{result:?}"
    );
}

/// An impossible record is reported as malformed, not trusted and not panicked on.
#[test]
fn a_malformed_history_is_reported_without_checking() {
    let bad = op(1, "k", Call::Get, (5, 1), Outcome::Ok(Reply::Got(None)));
    let result = run(vec![put(1, "k", "a", (0, 1), 1), bad]);
    assert!(
        matches!(
            result,
            LinearizabilityResult::Malformed { op: OpIndex(1), .. }
        ),
        "{result:?}"
    );
}

/// Arbitrary records, well formed or not, never make the checker panic.
#[test]
fn random_histories_never_panic_the_checker() {
    let mut rng = SmallRng::seed_from_u64(0x5eed_0001);
    let options = Options {
        max_steps_per_key: 2_000,
        excerpt_len: 3,
    };
    for _ in 0..500 {
        let n = rng.gen_range(0..30);
        let ops = (0..n)
            .map(|_| {
                let value = format!("v{}", rng.gen_range(0..3));
                let call = match rng.gen_range(0..4) {
                    0 => Call::Get,
                    1 => Call::Put { value },
                    2 => Call::Cas {
                        expected_mod_revision: Revision(rng.gen_range(0..4)),
                        value,
                    },
                    _ => Call::Delete,
                };
                let rev = Revision(if rng.gen_bool(0.1) {
                    u64::MAX
                } else {
                    rng.gen_range(0..6)
                });
                let reply = match rng.gen_range(0..5) {
                    0 => Reply::Got(None),
                    1 => Reply::Got(Some(Versioned {
                        value: format!("v{}", rng.gen_range(0..3)),
                        mod_revision: rev,
                    })),
                    2 => Reply::Written(rev),
                    3 => Reply::Swapped(rev),
                    _ => Reply::Conflict,
                };
                let outcome = match rng.gen_range(0..6) {
                    0 => Outcome::Fail,
                    1 => Outcome::Unknown,
                    _ => Outcome::Ok(reply),
                };
                let t = rng.gen_range(0..40);
                let key = ["a", "b"][rng.gen_range(0..2)];
                let mut o = op(
                    rng.gen_range(0..4),
                    key,
                    call,
                    (t, t + rng.gen_range(0..10)),
                    outcome,
                );
                if rng.gen_bool(0.05) {
                    o.completed_at = None;
                }
                o
            })
            .collect();
        let history = History { ops };
        let result = check(&history, &options);
        let _ = result.report(&history).to_string();
    }
}

// ---- a simulated store ------------------------------------------------------------

#[track_caller]
fn must_pass(history: &History, seed: u64) {
    let result = check(history, &Options::default());
    assert!(
        result.is_ok(),
        "seed {seed:#x}: {}\nreplay: cargo test -p hive-testkit {}",
        result.report(history),
        "a_correct_simulated_store_passes"
    );
}

/// A store that applies every operation atomically at some instant inside its window
/// (or, for timeouts, possibly later or never) produces linearizable histories.
#[test]
fn a_correct_simulated_store_passes_with_2000_ops_20_clients_50_keys() {
    for seed in [1u64, 2, 3, 0xfeed] {
        let plan = plan(seed, 20, 50, 2_000);
        must_pass(&plan.execute(None).history, seed);
    }
}

/// The same holds under heavy contention: 20 clients on 3 keys, with timeouts.
#[test]
fn a_correct_simulated_store_passes_under_heavy_contention() {
    for seed in [7u64, 8] {
        let plan = plan(seed, 20, 3, 2_000);
        let started = std::time::Instant::now();
        must_pass(&plan.execute(None).history, seed);
        println!(
            "seed {seed}: 2000 ops on 3 keys checked in {:?}",
            started.elapsed()
        );
    }
}

fn planted(plan: &Plan, bug: Bug, seed: u64) -> Box<Violation> {
    let correct = plan.execute(None).history;
    let buggy = plan.execute(Some(bug)).history;
    assert_ne!(correct, buggy, "seed {seed:#x}: the bug changed nothing");
    match check(&buggy, &Options::default()) {
        LinearizabilityResult::Violation(v) => {
            println!("seed {seed:#x}, planted {bug:?}: {v}");
            v
        }
        other => panic!("seed {seed:#x}: planted {bug:?} not caught: {other:?}"),
    }
}

/// One stale read planted in a long correct history is caught, on its key.
#[test]
fn a_planted_stale_read_is_caught() {
    for seed in [11u64, 12, 13] {
        let plan = plan(seed, 20, 50, 2_000);
        let run = plan.execute(None);
        let g = run
            .stale_read_candidate()
            .expect("the run has a read after a finished write");
        let v = planted(&plan, Bug::StaleRead(g), seed);
        assert_eq!(v.key, plan.ops[g].key, "seed {seed:#x}: {v}");
    }
}

/// One acknowledged write that the store forgot is caught, on its key.
#[test]
fn a_planted_lost_acknowledged_write_is_caught() {
    for seed in [21u64, 22, 23] {
        let plan = plan(seed, 20, 50, 2_000);
        let run = plan.execute(None);
        let p = run
            .lost_write_candidate()
            .expect("the run has a write read afterwards");
        let v = planted(&plan, Bug::LostWrite(p), seed);
        assert_eq!(v.key, plan.ops[p].key, "seed {seed:#x}: {v}");
    }
}

/// Checking 2,000 operations takes well under a second in a release build.
#[test]
fn checking_2000_ops_is_fast() {
    let plan = plan(99, 20, 50, 2_000);
    let history = plan.execute(None).history;
    let started = std::time::Instant::now();
    let result = check(&history, &Options::default());
    let took = started.elapsed();
    println!("checked {} ops in {took:?}: {result:?}", history.len());
    assert!(result.is_ok());
    let limit = if cfg!(debug_assertions) { 10.0 } else { 1.0 };
    assert!(took.as_secs_f64() < limit, "took {took:?}");
}

/// A single key hammered by 20 clients for 2,000 operations, with timeouts, still
/// checks quickly: the revision order does most of the work.
#[test]
fn a_correct_single_key_history_with_20_clients_passes() {
    for seed in [31u64, 32, 33] {
        let plan = plan(seed, 20, 1, 2_000);
        must_pass(&plan.execute(None).history, seed);
    }
}

/// Planted bugs are caught, not left undecided, when 20 clients share three keys.
#[test]
fn planted_bugs_are_caught_under_heavy_contention() {
    for seed in [41u64, 42, 43, 44] {
        let plan = plan(seed, 20, 3, 2_000);
        let run = plan.execute(None);
        let bugs = [
            run.stale_read_candidate().map(Bug::StaleRead),
            run.lost_write_candidate().map(Bug::LostWrite),
        ];
        for bug in bugs.into_iter().flatten() {
            planted(&plan, bug, seed);
        }
    }
}
