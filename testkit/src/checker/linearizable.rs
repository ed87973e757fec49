//! Linearizability of the key-value register, checked in the manner of Knossos and
//! Porcupine: Wing & Gong's search for a sequential order, with Lowe's memoisation of
//! (set of linearized ops, model state) and per-key partitioning (linearizability is
//! local, so each key is searched on its own).
//!
//! The model knows the store's revisions: every write takes a fresh revision from one
//! counter shared by all keys. Per key, writes' revisions must rise in linearization
//! order, a read returns the value and mod revision of the last write before it, and a
//! compare-and-swap succeeds exactly when its expected mod revision is current (0 for a
//! missing key). Across keys, an op that finished before another began must hold a lower
//! revision. Operations with an unknown outcome may take effect anywhere after their
//! invocation, or never; the revision such a write took is a free variable the model
//! pins down when a later read or compare reveals it.
//!
//! Not here: transactions over several keys, range reads, leases. The search is bounded
//! by a step budget and answers [`LinearizabilityResult::Unknown`] when it runs out.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::history::{Call, History, OpIndex, Operation, Outcome, Reply};
use super::{CheckReport, ReportedViolation};

mod explain;
mod model;
mod search;
#[cfg(test)]
mod tests;

use model::KeyHistory;
use search::{search, SearchOutcome};

/// Limits of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Search steps allowed per key before giving up with an undecided verdict. The
    /// memo grows by at most one ~50-byte entry per step, so this also bounds memory:
    /// the default, 2 million, stays under about 200 MB.
    pub max_steps_per_key: u64,
    /// How many operations of the linearized prefix, and of the concurrent ones, a
    /// violation quotes.
    pub excerpt_len: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_steps_per_key: 2_000_000,
            excerpt_len: 12,
        }
    }
}

/// The verdict on a whole history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinearizabilityResult {
    /// Every key has a linearization and revisions follow real time across keys.
    Ok {
        /// Keys searched.
        keys: usize,
        /// Operations searched (failed ops and reads of unknown outcome are left out:
        /// they cannot have changed anything).
        ops: usize,
    },
    /// Some key has no linearization (the first such key in key order), or revisions
    /// contradict real time across keys.
    Violation(Box<Violation>),
    /// No violation was found but the search budget ran out on `key`.
    Unknown {
        /// The first key whose search was cut off.
        key: String,
        /// Steps spent on it.
        steps: u64,
        /// Keys searched.
        keys: usize,
        /// Operations searched.
        ops: usize,
        /// The deepest dead end the search met on `key` before giving up: a likely
        /// culprit to look at, not a proven violation.
        suspect: Option<Box<Violation>>,
    },
    /// An operation record is impossible (a reply of the wrong kind, time running
    /// backwards); nothing was checked.
    Malformed {
        /// The offending operation.
        op: OpIndex,
        /// What is wrong with it.
        reason: String,
    },
}

/// Evidence that a key's history has no linearization.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// The key whose history is not linearizable.
    pub key: String,
    /// The tail of the longest linearizable prefix the search found, in linearization
    /// order.
    pub linearized: Vec<(OpIndex, Operation)>,
    /// How many earlier linearized operations were left out of `linearized`.
    pub elided: usize,
    /// The operation that cannot be placed after that prefix, if one was identified.
    pub stuck: Option<(OpIndex, Operation)>,
    /// Other not-yet-linearized operations that overlap the stuck one.
    pub concurrent: Vec<(OpIndex, Operation)>,
    /// Why it cannot be placed, in words.
    pub explanation: String,
}

impl LinearizabilityResult {
    /// True for [`LinearizabilityResult::Ok`].
    pub fn is_ok(&self) -> bool {
        matches!(self, LinearizabilityResult::Ok { .. })
    }

    /// The violation, if this is one.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            LinearizabilityResult::Violation(v) => Some(v),
            _ => None,
        }
    }

    /// This verdict as a [`CheckReport`] named `linearizability`.
    pub fn report(&self, history: &History) -> CheckReport {
        let mut report = CheckReport::new("linearizability");
        report.ops_checked = history.len() as u64;
        match self {
            LinearizabilityResult::Ok { .. } => {}
            LinearizabilityResult::Violation(v) => report.violations.push(ReportedViolation {
                property: "linearizable".into(),
                subject: v.key.clone(),
                detail: v.to_string(),
            }),
            LinearizabilityResult::Unknown {
                key,
                steps,
                suspect,
                ..
            } => {
                let mut why = format!("search budget ran out on key {key:?} after {steps} steps");
                if let Some(v) = suspect {
                    why.push_str(&format!("; deepest dead end (unproven): {v}"));
                }
                report.inconclusive = Some(why);
            }
            LinearizabilityResult::Malformed { op, reason } => {
                report.inconclusive = Some(format!("malformed operation {op}: {reason}"));
            }
        }
        report
    }
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "key {:?}: {}", self.key, self.explanation)?;
        if self.elided > 0 {
            writeln!(f, "  ... {} earlier ops linearized", self.elided)?;
        }
        for (i, op) in &self.linearized {
            writeln!(f, "  linearized {i}: {op}")?;
        }
        if let Some((i, op)) = &self.stuck {
            writeln!(f, "  STUCK      {i}: {op}")?;
        }
        for (i, op) in &self.concurrent {
            writeln!(f, "  concurrent {i}: {op}")?;
        }
        Ok(())
    }
}

/// Checks `history` against the revision-aware register model, key by key.
pub fn check(history: &History, options: &Options) -> LinearizabilityResult {
    for (i, op) in history.ops.iter().enumerate() {
        if let Some(reason) = op.malformation() {
            return LinearizabilityResult::Malformed {
                op: OpIndex(i),
                reason,
            };
        }
    }
    let mut per_key: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, op) in history.ops.iter().enumerate() {
        let effectless = match op.outcome {
            Outcome::Fail => true,
            Outcome::Unknown => op.call == Call::Get,
            Outcome::Ok(_) => false,
        };
        if !effectless {
            per_key.entry(op.key.as_str()).or_default().push(i);
        }
    }
    let keys = per_key.len();
    let ops = per_key.values().map(Vec::len).sum();
    let writers = writers(history);
    let mut undecided = None;
    for (key, indices) in &per_key {
        if let Some(v) = read_of_unwritten_value(history, key, indices, &writers) {
            return LinearizabilityResult::Violation(v);
        }
        let compiled = KeyHistory::compile(history, indices);
        match search(
            &compiled.ops,
            &compiled.rank_revisions,
            options.max_steps_per_key,
        ) {
            SearchOutcome::Linearizable => {}
            SearchOutcome::Exhausted { steps, deepest } => {
                if undecided.is_none() {
                    let suspect = deepest.map(|d| compiled.violation(history, key, &d, options));
                    undecided = Some(((*key).to_string(), steps, suspect));
                }
            }
            SearchOutcome::Stuck(stuck) => {
                return LinearizabilityResult::Violation(
                    compiled.violation(history, key, &stuck, options),
                );
            }
        }
    }
    if let Some(v) = revisions_against_real_time(history) {
        return LinearizabilityResult::Violation(v);
    }
    match undecided {
        Some((key, steps, suspect)) => LinearizabilityResult::Unknown {
            key,
            steps,
            suspect,
            keys,
            ops,
        },
        None => LinearizabilityResult::Ok { keys, ops },
    }
}

/// A read of a value that no possibly-applied write on its key wrote: caught before the
/// search, with a plainer explanation than the search could give.
fn read_of_unwritten_value(
    history: &History,
    key: &str,
    indices: &[usize],
    writers: &Writers<'_>,
) -> Option<Box<Violation>> {
    let on_key = || {
        indices
            .iter()
            .filter_map(|&i| history.ops.get(i).map(|op| (i, op)))
    };
    for (i, op) in on_key() {
        let Outcome::Ok(Reply::Got(Some(read))) = &op.outcome else {
            continue;
        };
        let explanation = match writers.get(&(key, read.value.as_str())) {
            Some(None) => continue,
            Some(Some(w)) => format!(
                "read {:?}, which only op {} wrote, and that op definitely did not take effect",
                read.value,
                OpIndex(*w)
            ),
            None => format!(
                "read {:?}, which no operation ever wrote to this key",
                read.value
            ),
        };
        return Some(Box::new(Violation {
            key: key.to_string(),
            linearized: Vec::new(),
            elided: 0,
            stuck: Some((OpIndex(i), op.clone())),
            concurrent: Vec::new(),
            explanation,
        }));
    }
    None
}

/// For each (key, value) some put or CAS wrote: `None` if one of them may have taken
/// effect, else one that definitely did not (failed, or a CAS that conflicted).
type Writers<'h> = HashMap<(&'h str, &'h str), Option<usize>>;

fn writers(history: &History) -> Writers<'_> {
    let mut writers = Writers::new();
    for (i, op) in history.ops.iter().enumerate() {
        if let Call::Put { value } | Call::Cas { value, .. } = &op.call {
            let failed = op.outcome == Outcome::Fail || op.outcome == Outcome::Ok(Reply::Conflict);
            let slot = writers
                .entry((op.key.as_str(), value.as_str()))
                .or_insert(failed.then_some(i));
            if !failed {
                *slot = None;
            }
        }
    }
    writers
}

/// An operation that finished before another began must hold a lower revision, whatever
/// keys they touched, and no two acknowledged writes share a revision.
fn revisions_against_real_time(history: &History) -> Option<Box<Violation>> {
    let ops = &history.ops;
    let is_write = |op: &Operation| {
        matches!(op.outcome, Outcome::Ok(Reply::Swapped(_)))
            || matches!((&op.call, &op.outcome), (Call::Put { .. }, Outcome::Ok(_)))
    };
    let mut writer_of: HashMap<u64, usize> = HashMap::new();
    let mut with_rev: Vec<(usize, u64, u64)> = Vec::new(); // (op, completed, revision)
    for (i, op) in ops.iter().enumerate() {
        let (Some(rev), Some(done)) = (op.returned_revision(), op.completed_at) else {
            continue;
        };
        with_rev.push((i, done, rev.0));
        if is_write(op) {
            if let Some(&first) = writer_of.get(&rev.0) {
                return Some(pair_violation(
                    history,
                    first,
                    i,
                    format!("two acknowledged writes returned the same revision {rev}"),
                ));
            }
            writer_of.insert(rev.0, i);
        }
    }
    let mut by_done = with_rev.clone();
    by_done.sort_by_key(|&(i, done, _)| (done, i));
    let mut by_invoke = with_rev;
    by_invoke.sort_by_key(|&(i, _, _)| (ops[i].invoked_at, i));
    let mut finished = by_done.iter().peekable();
    let mut highest: Option<(u64, usize)> = None;
    for &(b, _, rev_b) in &by_invoke {
        while let Some(&&(a, done, rev_a)) = finished.peek() {
            if done >= ops[b].invoked_at {
                break;
            }
            if highest.is_none_or(|(r, _)| rev_a > r) {
                highest = Some((rev_a, a));
            }
            finished.next();
        }
        let Some((rev_a, a)) = highest else { continue };
        // A delete of a missing key writes nothing and may return the current revision.
        let backwards = if is_write(&ops[b]) {
            rev_b <= rev_a
        } else {
            rev_b < rev_a
        };
        if backwards {
            let why = format!(
                "op {} returned revision {rev_b} but began after op {} had returned revision {rev_a}; \
                 the revision counter must follow real time across all keys",
                OpIndex(b),
                OpIndex(a)
            );
            return Some(pair_violation(history, a, b, why));
        }
    }
    None
}

fn pair_violation(
    history: &History,
    earlier: usize,
    later: usize,
    explanation: String,
) -> Box<Violation> {
    let entry = |i: usize| history.ops.get(i).map(|op| (OpIndex(i), op.clone()));
    Box::new(Violation {
        key: history
            .ops
            .get(later)
            .map(|op| op.key.clone())
            .unwrap_or_default(),
        linearized: entry(earlier).into_iter().collect(),
        elided: 0,
        stuck: entry(later),
        concurrent: Vec::new(),
        explanation,
    })
}
