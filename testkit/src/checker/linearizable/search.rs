//! The search for a linearization of one key's operations: Wing & Gong's backtracking
//! over a list of call and return entries, with Lowe's cache of (linearized set, model
//! state) so no configuration is explored twice (the algorithm Porcupine implements).
//!
//! Refinements keep it fast on long, highly concurrent histories. Each only reorders
//! candidates or drops configurations that cannot lead anywhere the search does not go
//! anyway, so it stays complete (a test checks it against brute force):
//! - Revision order. Writes whose revision is known (returned, or revealed by reads)
//!   must be linearized in revision order, so only the next one is a candidate, and an
//!   op that would push the key's revision floor up to the next one's is refused.
//! - Speculation last. Speculative ops (unknown-outcome writes nobody reads) live in
//!   their own list and are tried only when no other op can go next and some pending
//!   CAS or absent-read could benefit. Their returns are "at infinity", so they never
//!   force a backtrack and may be left out altogether. Speculative ops of one kind are
//!   interchangeable, so only the earliest invoked one of each kind is a candidate.
//! - Dominance. A run of free unknown-outcome ops made pointless by what follows is
//!   pruned: leaving them out reaches the same state with fewer constraints.
//! - Reads first. An op that changes nothing (a read, a conflicting CAS) is placed as
//!   soon as it can be; backtracking never tries deferring it.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

use super::model::{step, KeyOp, Kind, State, INITIAL};

/// How the search ended.
pub(super) enum SearchOutcome {
    Linearizable,
    /// No linearization exists.
    Stuck(Stuck),
    /// The step budget ran out first.
    Exhausted {
        steps: u64,
        /// The deepest dead end met so far, if any.
        deepest: Option<Stuck>,
    },
}

/// The deepest dead end the search reached: the longest linearizable prefix it found
/// that then had to back off, and the operation whose deadline forced it to.
pub(super) struct Stuck {
    /// Local op indices in linearization order.
    pub prefix: Vec<usize>,
    /// The model state after `prefix`.
    pub state: State,
    /// The operation that could not be placed before it returned.
    pub op: usize,
}

const NIL: usize = usize::MAX;

/// Two doubly linked lists over entry ids: entry `2i` calls op `i` and `2i + 1` returns
/// it. The main list (head `2n`) holds calls and returns of every op but the speculative
/// ones, in time order; the speculative list (head `2n + 1`) holds only their calls.
struct Entries {
    next: Vec<usize>,
    prev: Vec<usize>,
    main: usize,
    speculative: usize,
}

impl Entries {
    fn new(ops: &[KeyOp]) -> Entries {
        let n = ops.len();
        let (main, speculative) = (2 * n, 2 * n + 1);
        let mut next = vec![NIL; 2 * n + 2];
        let mut prev = vec![NIL; 2 * n + 2];
        let mut link = |head: usize, order: &[usize]| {
            let mut last = head;
            for &e in order {
                next[last] = e;
                prev[e] = last;
                last = e;
            }
        };
        let mut order: Vec<usize> = (0..2 * n).filter(|&e| !ops[e / 2].speculative).collect();
        // Unknown returns sort after everything; at equal times calls come first, so
        // touching intervals count as concurrent.
        order.sort_by_key(|&e| {
            let op = &ops[e / 2];
            let (infinite, time) = match (e & 1, op.returned) {
                (0, _) => (false, op.invoked),
                (_, Some(t)) => (false, t),
                (_, None) => (true, u64::MAX),
            };
            (infinite, time, e & 1, e / 2)
        });
        link(main, &order);
        let mut calls: Vec<usize> = (0..n)
            .filter(|&i| ops[i].speculative)
            .map(|i| 2 * i)
            .collect();
        calls.sort_by_key(|&e| (ops[e / 2].invoked, e));
        link(speculative, &calls);
        Entries {
            next,
            prev,
            main,
            speculative,
        }
    }

    fn unlink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = n;
        if n != NIL {
            self.prev[n] = p;
        }
    }

    fn relink(&mut self, e: usize) {
        let (p, n) = (self.prev[e], self.next[e]);
        self.next[p] = e;
        if n != NIL {
            self.prev[n] = e;
        }
    }

    /// Takes op `i` out of its list once it is linearized.
    fn lift(&mut self, ops: &[KeyOp], i: usize) {
        self.unlink(2 * i);
        if !ops[i].speculative {
            self.unlink(2 * i + 1);
        }
    }

    /// Puts op `i` back; must undo the most recent `lift`.
    fn unlift(&mut self, ops: &[KeyOp], i: usize) {
        if !ops[i].speculative {
            self.relink(2 * i + 1);
        }
        self.relink(2 * i);
    }
}

/// FxHash: the cache keys are already well mixed, so a one-multiply hash is plenty.
#[derive(Default)]
struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u8(&mut self, i: u8) {
        self.write_u64(u64::from(i));
    }

    fn write_u32(&mut self, i: u32) {
        self.write_u64(u64::from(i));
    }

    fn write_u64(&mut self, i: u64) {
        self.0 = (self.0.rotate_left(5) ^ i).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }

    fn write_u128(&mut self, i: u128) {
        self.write_u64(i as u64);
        self.write_u64((i >> 64) as u64);
    }

    fn write_usize(&mut self, i: usize) {
        self.write_u64(i as u64);
    }

    fn write_isize(&mut self, i: isize) {
        self.write_u64(i as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

type FxBuild = BuildHasherDefault<FxHasher>;

/// Lowe's memo: every (linearized set, state) the search has already entered. The set
/// is represented by a 128-bit Zobrist hash, maintained incrementally, rather than the
/// set itself, so an entry costs the same ~50 bytes however long the history. Two sets
/// collide with odds around n^2 / 2^128 for n entries; a collision could only make the
/// search skip a configuration, never accept a wrong linearization.
struct Cache {
    seen: HashSet<(u128, State), FxBuild>,
}

impl Cache {
    /// Records the configuration; false if it was already there.
    fn insert(&mut self, zobrist: u128, state: State) -> bool {
        self.seen.insert((zobrist, state))
    }
}

/// SplitMix64, for the per-op Zobrist keys.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Which list the walk is in. In `Speculative`, `deadline` is the earliest return left
/// in the main list (by op), which speculative calls must have been invoked before.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    Main,
    Speculative { deadline: usize },
}

/// Whether `a` allows everything `b` does: the same register, no higher floor.
fn covers(a: State, b: State) -> bool {
    a.value == b.value && a.mod_rev == b.mod_rev && a.floor <= b.floor
}

/// Whether linearizing op `c` now, reaching `next`, is dominated by a configuration the
/// search explores anyway. Only the run of free ops (unknown outcome, no rank) on top of
/// the stack matters: they have no deadline and no place in the revision order, so
/// leaving them unplaced only adds options.
/// - If `c` could have gone before some op of the run, reaching a covering state, it is
///   better placed there, keeping the rest of the run for later.
/// - If `c` is itself free and the state before some op of the run (or the current
///   state) covers `next`, the run and `c` achieve nothing.
fn dominated(ops: &[KeyOp], stack: &[Frame], state: State, c: usize, next: State) -> bool {
    let free = |i: usize| ops[i].returned.is_none() && ops[i].rank.is_none();
    if free(c) && covers(state, next) {
        return true;
    }
    let kind = &ops[c].kind;
    stack.iter().rev().take_while(|f| free(f.op)).any(|f| {
        (free(c) && covers(f.before, next))
            || step(f.before, kind).is_ok_and(|alt| covers(alt, next))
    })
}

/// One linearized op: the state before it and the walk that chose it.
struct Frame {
    op: usize,
    before: State,
    pass: Pass,
    /// The op changed nothing (a read, a conflicting CAS), so it was placed as soon as
    /// it could be and no alternative at its level needs trying: any linearization
    /// from there can be reordered to start with it.
    pure: bool,
}

/// What a speculative op does, ignoring its (never read) value: ops of one class are
/// interchangeable, so only the earliest invoked one still unplaced is ever a candidate.
/// Any linearization using some of them can be rewritten to use the earliest ones.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Class {
    Put,
    Delete,
    Cas(u64),
}

/// For each speculative op, the previous op of its class in invocation order, which
/// must be placed before it may be.
fn understudies(ops: &[KeyOp]) -> Vec<Option<usize>> {
    let mut order: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].speculative).collect();
    order.sort_by_key(|&i| (ops[i].invoked, i));
    let mut last: HashMap<Class, usize> = HashMap::new();
    let mut previous = vec![None; ops.len()];
    for i in order {
        let class = match ops[i].kind {
            Kind::Put { .. } => Class::Put,
            Kind::Delete { .. } => Class::Delete,
            Kind::Cas { expected, .. } => Class::Cas(expected),
            Kind::Get { .. } => continue,
        };
        previous[i] = last.insert(class, i);
    }
    previous
}

/// Whether some op that cannot go next now might after a speculative op. Speculative
/// ops write values nobody reads and only raise the revision floor, so they can help
/// only a read of an absent key (after a delete) or a CAS (whose compare they change);
/// anything else the search would prune as dominated.
fn rescuable(ops: &[KeyOp], entries: &Entries, state: State) -> bool {
    let mut entry = entries.next[entries.main];
    while entry != NIL && entry & 1 == 0 {
        let op = &ops[entry / 2];
        let helpable = matches!(op.kind, Kind::Get { read: None } | Kind::Cas { .. });
        if helpable && step(state, &op.kind).is_err() {
            return true;
        }
        entry = entries.next[entry];
    }
    false
}

/// Looks for a linearization of `ops` in at most `budget` steps.
pub(super) fn search(ops: &[KeyOp], rank_revisions: &[u64], budget: u64) -> SearchOutcome {
    let mut entries = Entries::new(ops);
    let keys: Vec<u128> = (0..ops.len() as u64)
        .map(|i| u128::from(mix(2 * i)) << 64 | u128::from(mix(2 * i + 1)))
        .collect();
    let mut bits = vec![0u64; ops.len().div_ceil(64)];
    let mut zobrist = 0u128;
    let mut cache = Cache {
        seen: HashSet::default(),
    };
    let mut state = INITIAL;
    let mut stack: Vec<Frame> = Vec::new();
    let mut next_rank = 0usize;
    let mut deepest: Option<Stuck> = None;
    let mut steps = 0u64;
    let mut pass = Pass::Main;
    let mut entry = entries.next[entries.main];
    let understudy = understudies(ops);
    loop {
        steps += 1;
        if steps > budget {
            return SearchOutcome::Exhausted {
                steps: budget,
                deepest,
            };
        }
        // Find the next thing to do: a candidate call, or a forced backtrack.
        let stuck_on = match pass {
            Pass::Main if entry == NIL => return SearchOutcome::Linearizable,
            Pass::Main if entry & 1 == 1 => match ops[entry / 2].returned {
                // Only ops of unknown outcome are left: leave them out.
                None => return SearchOutcome::Linearizable,
                Some(_) => {
                    pass = Pass::Speculative {
                        deadline: entry / 2,
                    };
                    entry = if rescuable(ops, &entries, state) {
                        entries.next[entries.speculative]
                    } else {
                        NIL
                    };
                    continue;
                }
            },
            Pass::Speculative { deadline } => {
                let due = ops[deadline].returned.unwrap_or(u64::MAX);
                (entry == NIL || ops[entry / 2].invoked > due).then_some(deadline)
            }
            Pass::Main => None,
        };
        if let Some(x) = stuck_on {
            if deepest
                .as_ref()
                .is_none_or(|d| stack.len() > d.prefix.len())
            {
                deepest = Some(Stuck {
                    prefix: stack.iter().map(|f| f.op).collect(),
                    state,
                    op: x,
                });
            }
            let Some(top) = stack.pop() else {
                return match deepest {
                    Some(stuck) => SearchOutcome::Stuck(stuck),
                    None => SearchOutcome::Linearizable,
                };
            };
            state = top.before;
            bits[top.op / 64] &= !(1 << (top.op % 64));
            zobrist ^= keys[top.op];
            entries.unlift(ops, top.op);
            if ops[top.op].rank.is_some() {
                next_rank = next_rank.saturating_sub(1);
            }
            if top.pure {
                // Keep stuck_on: the level below failed too.
                pass = Pass::Speculative { deadline: x };
                entry = NIL;
                continue;
            }
            pass = top.pass;
            entry = entries.next[2 * top.op];
            continue;
        }
        let i = entry / 2;
        let op = &ops[i];
        entry = entries.next[entry];
        if op.rank.is_some_and(|r| r != next_rank) {
            continue;
        }
        if understudy[i].is_some_and(|u| bits[u / 64] & (1 << (u % 64)) == 0) {
            continue;
        }
        let Ok(next) = step(state, &op.kind) else {
            continue;
        };
        // The next write of known revision must still fit above the floor.
        let following = next_rank + usize::from(op.rank.is_some());
        if rank_revisions
            .get(following)
            .is_some_and(|&r| next.floor >= r)
        {
            continue;
        }
        if dominated(ops, &stack, state, i, next) {
            continue;
        }
        bits[i / 64] |= 1 << (i % 64);
        zobrist ^= keys[i];
        if !cache.insert(zobrist, next) {
            bits[i / 64] &= !(1 << (i % 64));
            zobrist ^= keys[i];
            continue;
        }
        stack.push(Frame {
            op: i,
            before: state,
            pass,
            pure: next == state,
        });
        if op.rank.is_some() {
            next_rank += 1;
        }
        state = next;
        entries.lift(ops, i);
        pass = Pass::Main;
        entry = entries.next[entries.main];
    }
}
