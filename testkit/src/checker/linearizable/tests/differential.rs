//! The search's pruning rules checked against brute force: on small histories the
//! optimised search and an exhaustive one must always agree.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::sim::plan;
use crate::checker::history::{Call, Outcome, Reply, Revision};
use crate::checker::linearizable::model::{step, KeyHistory, KeyOp, State, INITIAL};
use crate::checker::linearizable::search::{search, SearchOutcome};

/// Exhaustive search without memo or pruning: the reference for small histories.
fn brute_force(ops: &[KeyOp], placed: &mut [bool], state: State) -> bool {
    let pending: Vec<usize> = (0..ops.len()).filter(|&i| !placed[i]).collect();
    if pending.iter().all(|&i| ops[i].returned.is_none()) {
        return true;
    }
    let deadline = pending
        .iter()
        .filter_map(|&i| ops[i].returned)
        .min()
        .unwrap_or(u64::MAX);
    for &i in &pending {
        if ops[i].invoked > deadline {
            continue;
        }
        if let Ok(next) = step(state, &ops[i].kind) {
            placed[i] = true;
            let found = brute_force(ops, placed, next);
            placed[i] = false;
            if found {
                return true;
            }
        }
    }
    false
}

/// The pruned, memoised search gives the same verdict as exhaustive search on small
/// single-key histories, correct or corrupted, with many unknown outcomes: its pruning
/// rules never throw away the only linearization.
#[test]
fn the_pruned_search_agrees_with_exhaustive_search_on_small_histories() {
    let seed = 0x5eed_0003;
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut verdicts = [0u64; 2];
    let rounds = if cfg!(debug_assertions) {
        20_000
    } else {
        300_000
    };
    for round in 0..rounds {
        let n = rng.gen_range(1..11);
        let mut history = plan(round, rng.gen_range(1..5), 1, n).execute(None).history;
        for op in history.ops.iter_mut() {
            if op.call != Call::Get && rng.gen_bool(0.3) {
                op.outcome = Outcome::Unknown;
            }
        }
        if rng.gen_bool(0.5) {
            let k = rng.gen_range(0..history.ops.len());
            let op = &mut history.ops[k];
            let rev = Revision(rng.gen_range(0..6));
            match &mut op.outcome {
                Outcome::Ok(Reply::Got(Some(v))) => v.mod_revision = rev,
                Outcome::Ok(Reply::Written(r) | Reply::Swapped(r)) => *r = rev,
                Outcome::Ok(Reply::Conflict) => op.outcome = Outcome::Ok(Reply::Swapped(rev)),
                other => *other = Outcome::Unknown,
            }
        }
        let indices: Vec<usize> = (0..history.ops.len())
            .filter(|&i| {
                let op = &history.ops[i];
                op.outcome != Outcome::Fail
                    && !(op.outcome == Outcome::Unknown && op.call == Call::Get)
            })
            .collect();
        let compiled = KeyHistory::compile(&history, &indices);
        let fast = matches!(
            search(&compiled.ops, &compiled.rank_revisions, u64::MAX),
            SearchOutcome::Linearizable
        );
        let exhaustive = brute_force(&compiled.ops, &mut vec![false; compiled.ops.len()], INITIAL);
        assert_eq!(
            fast,
            exhaustive,
            "seed {seed:#x} round {round}: {}",
            history.to_json().unwrap_or_default()
        );
        verdicts[usize::from(fast)] += 1;
    }
    assert!(
        verdicts[0] > rounds / 20 && verdicts[1] > rounds / 20,
        "{verdicts:?}"
    );
}
