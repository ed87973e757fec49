//! The search for a linearization of one key's operations: Wing & Gong's backtracking
//! over a list of call and return entries, with Lowe's cache of (linearized set, model
//! state) so no configuration is explored twice (the algorithm Porcupine implements).
//!
//! Operations of unknown outcome return "at infinity": their return entries sort last,
//! so reaching one means every operation with a known outcome has been placed and the
//! remaining unknown ones are simply left out.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::{step, KeyOp, State, INITIAL};

/// How the search ended.
pub(super) enum SearchOutcome {
    Linearizable,
    /// No linearization exists.
    Stuck(Stuck),
    /// The step budget ran out first.
    Exhausted {
        steps: u64,
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

/// A doubly linked list of call/return entries; entry `2i` calls op `i`, `2i + 1`
/// returns it, and entry `2n` is the head sentinel.
struct Entries {
    next: Vec<usize>,
    prev: Vec<usize>,
    head: usize,
}

impl Entries {
    fn new(ops: &[KeyOp]) -> Entries {
        let n = ops.len();
        let mut order: Vec<usize> = (0..2 * n).collect();
        // Returns of unknown outcome sort after everything; at equal times calls come
        // first, so touching intervals count as concurrent.
        order.sort_by_key(|&e| {
            let op = &ops[e / 2];
            let (infinite, time) = match (e % 2, op.returned) {
                (0, _) => (false, op.invoked),
                (_, Some(t)) => (false, t),
                (_, None) => (true, u64::MAX),
            };
            (infinite, time, e % 2, e / 2)
        });
        let head = 2 * n;
        let mut next = vec![NIL; 2 * n + 1];
        let mut prev = vec![NIL; 2 * n + 1];
        let mut last = head;
        for &e in &order {
            next[last] = e;
            prev[e] = last;
            last = e;
        }
        Entries { next, prev, head }
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

    /// Takes op `i` out of the list once it is linearized.
    fn lift(&mut self, i: usize) {
        self.unlink(2 * i);
        self.unlink(2 * i + 1);
    }

    /// Puts op `i` back; must undo the most recent `lift`.
    fn unlift(&mut self, i: usize) {
        self.relink(2 * i + 1);
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

/// Lowe's memo: every (linearized set, state) the search has already entered. The set
/// is keyed by an incrementally maintained Zobrist hash and compared in full on a hit.
struct Cache {
    seen: HashMap<(u64, State), Vec<Box<[u64]>>, FxBuild>,
}

type FxBuild = BuildHasherDefault<FxHasher>;

impl Cache {
    /// Records the configuration; false if it was already there.
    fn insert(&mut self, zobrist: u64, state: State, bits: &[u64]) -> bool {
        let bucket = self.seen.entry((zobrist, state)).or_default();
        if bucket.iter().any(|b| **b == *bits) {
            return false;
        }
        bucket.push(bits.into());
        true
    }
}

/// SplitMix64, for the per-op Zobrist keys.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Looks for a linearization of `ops` in at most `budget` steps.
pub(super) fn search(ops: &[KeyOp], budget: u64) -> SearchOutcome {
    let mut entries = Entries::new(ops);
    let keys: Vec<u64> = (0..ops.len() as u64).map(mix).collect();
    let mut bits = vec![0u64; ops.len().div_ceil(64)];
    let mut zobrist = 0u64;
    let mut cache = Cache {
        seen: HashMap::default(),
    };
    let mut state = INITIAL;
    // Linearized ops, each with the state before it.
    let mut stack: Vec<(usize, State)> = Vec::new();
    let mut deepest: Option<Stuck> = None;
    let mut steps = 0u64;
    let mut entry = entries.next[entries.head];
    loop {
        if entry == NIL {
            return SearchOutcome::Linearizable;
        }
        steps += 1;
        if steps > budget {
            return SearchOutcome::Exhausted { steps: budget };
        }
        let i = entry / 2;
        let op = &ops[i];
        if entry & 1 == 0 {
            if let Ok(next) = step(state, &op.kind) {
                bits[i / 64] |= 1 << (i % 64);
                zobrist ^= keys[i];
                if cache.insert(zobrist, next, &bits) {
                    stack.push((i, state));
                    state = next;
                    entries.lift(i);
                    entry = entries.next[entries.head];
                    continue;
                }
                bits[i / 64] &= !(1 << (i % 64));
                zobrist ^= keys[i];
            }
            entry = entries.next[entry];
            continue;
        }
        if op.returned.is_none() {
            // Only unknown ops are left: drop them.
            return SearchOutcome::Linearizable;
        }
        if deepest
            .as_ref()
            .is_none_or(|d| stack.len() > d.prefix.len())
        {
            deepest = Some(Stuck {
                prefix: stack.iter().map(|&(j, _)| j).collect(),
                state,
                op: i,
            });
        }
        let Some((top, before)) = stack.pop() else {
            return match deepest {
                Some(stuck) => SearchOutcome::Stuck(stuck),
                None => SearchOutcome::Linearizable,
            };
        };
        state = before;
        bits[top / 64] &= !(1 << (top % 64));
        zobrist ^= keys[top];
        entries.unlift(top);
        entry = entries.next[2 * top];
    }
}
