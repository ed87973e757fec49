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

mod search;
#[cfg(test)]
mod tests;

use search::{search, SearchOutcome, Stuck};

/// Limits of one check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Options {
    /// Search steps allowed per key before giving up with an undecided verdict. The
    /// memo grows by at most one entry per step, so this also bounds memory (the
    /// default, 2 million, stays under a few hundred MB even for long per-key histories).
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
            LinearizabilityResult::Unknown { key, steps, .. } => {
                report.inconclusive = Some(format!(
                    "search budget ran out on key {key:?} after {steps} steps"
                ));
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
        match search(&compiled.ops, options.max_steps_per_key) {
            SearchOutcome::Linearizable => {}
            SearchOutcome::Exhausted { steps } => {
                undecided.get_or_insert(((*key).to_string(), steps));
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
        Some((key, steps)) => LinearizabilityResult::Unknown {
            key,
            steps,
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

// ---- the per-key model -------------------------------------------------------------

/// Interned value of a key (index into [`KeyHistory::values`]).
type ValueId = u32;

/// One operation of one key, reduced to what the model needs.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Get {
        read: Option<(ValueId, u64)>,
    },
    Put {
        value: ValueId,
        rev: Option<u64>,
    },
    Cas {
        expected: u64,
        value: ValueId,
        result: CasResult,
    },
    Delete {
        rev: Option<u64>,
    },
}

#[derive(Clone, Copy, Debug)]
enum CasResult {
    Swapped(u64),
    Conflict,
    Unknown,
}

#[derive(Clone, Copy, Debug)]
struct KeyOp {
    /// Position in the whole history.
    index: usize,
    kind: Kind,
    invoked: u64,
    /// `None` for an unknown outcome: it may take effect arbitrarily late.
    returned: Option<u64>,
}

/// The register as the model sees it after a sequence of operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct State {
    /// `None` when the key does not exist.
    value: Option<ValueId>,
    /// The key's mod revision (0 when absent); `None` when the last write had an unknown
    /// outcome and nothing has revealed its revision yet (it is then `>= floor`).
    mod_rev: Option<u64>,
    /// The highest revision this key's linearized ops have shown, or the least it can
    /// be when unknown writes are involved.
    floor: u64,
}

const INITIAL: State = State {
    value: None,
    mod_rev: Some(0),
    floor: 0,
};

/// Why the model refuses an operation in a state.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    ReadWrongValue,
    ReadWrongModRevision,
    RevisionNotAbove(u64),
    RevisionBelow(u64),
    CasShouldConflict,
    CasShouldSwap,
    WouldHaveNoEffect,
}

/// Applies `kind` to `s`: the next state, or why this cannot be the next operation.
fn step(s: State, kind: &Kind) -> Result<State, Refusal> {
    let written = |value: Option<ValueId>, rev: u64| State {
        value,
        mod_rev: if value.is_some() { Some(rev) } else { Some(0) },
        floor: rev,
    };
    match *kind {
        Kind::Get { read: None } => match s.value {
            None => Ok(s),
            Some(_) => Err(Refusal::ReadWrongValue),
        },
        Kind::Get { read: Some((v, m)) } => {
            if s.value != Some(v) {
                return Err(Refusal::ReadWrongValue);
            }
            match s.mod_rev {
                Some(r) if r == m => Ok(s),
                None if m >= s.floor => Ok(State {
                    mod_rev: Some(m),
                    floor: m,
                    ..s
                }),
                _ => Err(Refusal::ReadWrongModRevision),
            }
        }
        Kind::Put {
            value,
            rev: Some(r),
        } if r > s.floor => Ok(written(Some(value), r)),
        Kind::Put { rev: Some(_), .. } => Err(Refusal::RevisionNotAbove(s.floor)),
        Kind::Put { value, rev: None } => Ok(State {
            value: Some(value),
            mod_rev: None,
            floor: s.floor.saturating_add(1),
        }),
        Kind::Cas {
            expected,
            value,
            result,
        } => {
            let current = match s.mod_rev {
                Some(r) => r == expected,
                None => expected >= s.floor,
            };
            let base = s.floor.max(expected);
            match result {
                CasResult::Swapped(_) if !current => Err(Refusal::CasShouldConflict),
                CasResult::Swapped(r) if r > base => Ok(written(Some(value), r)),
                CasResult::Swapped(_) => Err(Refusal::RevisionNotAbove(base)),
                // With an unrevealed mod revision a conflict is always possible; the
                // model does not remember the excluded value.
                CasResult::Conflict if s.mod_rev == Some(expected) => Err(Refusal::CasShouldSwap),
                CasResult::Conflict => Ok(s),
                // A conflicting unknown CAS is the same as one that never happened.
                CasResult::Unknown if !current => Err(Refusal::WouldHaveNoEffect),
                CasResult::Unknown => Ok(State {
                    value: Some(value),
                    mod_rev: None,
                    floor: base.saturating_add(1),
                }),
            }
        }
        Kind::Delete { rev: Some(r) } => match s.value {
            Some(_) if r > s.floor => Ok(written(None, r)),
            Some(_) => Err(Refusal::RevisionNotAbove(s.floor)),
            None if r >= s.floor => Ok(written(None, r)),
            None => Err(Refusal::RevisionBelow(s.floor)),
        },
        Kind::Delete { rev: None } => match s.value {
            Some(_) => Ok(State {
                value: None,
                mod_rev: Some(0),
                floor: s.floor.saturating_add(1),
            }),
            None => Err(Refusal::WouldHaveNoEffect),
        },
    }
}

/// One key's operations compiled for the search, with the interned values.
struct KeyHistory {
    ops: Vec<KeyOp>,
    values: Vec<String>,
}

impl KeyHistory {
    fn compile<'h>(history: &'h History, indices: &[usize]) -> KeyHistory {
        let mut ids: HashMap<&'h str, ValueId> = HashMap::new();
        let mut values: Vec<String> = Vec::new();
        let mut intern = |v: &'h str| -> ValueId {
            let next = values.len() as ValueId;
            *ids.entry(v).or_insert_with(|| {
                values.push(v.to_string());
                next
            })
        };
        let mut ops = Vec::with_capacity(indices.len());
        for &index in indices {
            let Some(op) = history.ops.get(index) else {
                continue;
            };
            let kind = match (&op.call, &op.outcome) {
                (Call::Get, Outcome::Ok(Reply::Got(read))) => Kind::Get {
                    read: read.as_ref().map(|r| (intern(&r.value), r.mod_revision.0)),
                },
                (Call::Put { value }, Outcome::Ok(Reply::Written(r))) => Kind::Put {
                    value: intern(value),
                    rev: Some(r.0),
                },
                (Call::Put { value }, _) => Kind::Put {
                    value: intern(value),
                    rev: None,
                },
                (
                    Call::Cas {
                        expected_mod_revision,
                        value,
                    },
                    outcome,
                ) => Kind::Cas {
                    expected: expected_mod_revision.0,
                    value: intern(value),
                    result: match outcome {
                        Outcome::Ok(Reply::Swapped(r)) => CasResult::Swapped(r.0),
                        Outcome::Ok(_) => CasResult::Conflict,
                        _ => CasResult::Unknown,
                    },
                },
                (Call::Delete, Outcome::Ok(Reply::Written(r))) => Kind::Delete { rev: Some(r.0) },
                (Call::Delete, _) => Kind::Delete { rev: None },
                // Reads that did not answer were filtered out; malformed ops were refused.
                (Call::Get, _) => continue,
            };
            let returned = match op.outcome {
                Outcome::Unknown => None,
                _ => op.completed_at,
            };
            ops.push(KeyOp {
                index,
                kind,
                invoked: op.invoked_at,
                returned,
            });
        }
        KeyHistory { ops, values }
    }

    fn describe(&self, s: &State) -> String {
        let value = |v: ValueId| {
            self.values
                .get(v as usize)
                .map_or("?", String::as_str)
                .to_string()
        };
        match (s.value, s.mod_rev) {
            (None, _) => format!("the key is absent (highest revision so far {})", s.floor),
            (Some(v), Some(m)) => format!("the key holds {:?} at mod_revision {m}", value(v)),
            (Some(v), None) => format!(
                "the key holds {:?} from a write of unknown outcome, at some revision >= {}",
                value(v),
                s.floor
            ),
        }
    }

    fn violation(
        &self,
        history: &History,
        key: &str,
        stuck: &Stuck,
        options: &Options,
    ) -> Box<Violation> {
        let entry = |local: usize| {
            let index = self.ops.get(local).map_or(usize::MAX, |op| op.index);
            history
                .ops
                .get(index)
                .map(|op| (OpIndex(index), op.clone()))
        };
        let shown = stuck.prefix.len().min(options.excerpt_len);
        let elided = stuck.prefix.len() - shown;
        let linearized = stuck.prefix[elided..]
            .iter()
            .filter_map(|&l| entry(l))
            .collect();
        let stuck_op = self.ops.get(stuck.op);
        let deadline = stuck_op.and_then(|op| op.returned).unwrap_or(u64::MAX);
        let mut in_prefix = vec![false; self.ops.len()];
        for &l in &stuck.prefix {
            if let Some(slot) = in_prefix.get_mut(l) {
                *slot = true;
            }
        }
        let pending: Vec<usize> = (0..self.ops.len())
            .filter(|&l| !in_prefix[l] && l != stuck.op && self.ops[l].invoked <= deadline)
            .collect();
        let concurrent = pending[pending.len().saturating_sub(options.excerpt_len)..]
            .iter()
            .filter_map(|&l| entry(l))
            .collect();
        let state = self.describe(&stuck.state);
        let others = match pending.len() {
            0 => "no other pending op overlaps it".to_string(),
            n => format!("no order of the {n} other pending ops that overlap it avoids this"),
        };
        let explanation = match stuck_op.map(|op| (op, step(stuck.state, &op.kind))) {
            Some((op, Err(refusal))) => format!(
                "after {} linearized ops {state}, and op {} cannot follow: {}; it had to take effect before it \
                 returned at {deadline}, and {others}",
                stuck.prefix.len(),
                OpIndex(op.index),
                self.refusal_text(refusal, &op.kind),
            ),
            Some((op, Ok(_))) => format!(
                "after {} linearized ops {state}; op {} could follow, but it had to take effect before it \
                 returned at {deadline}, and {others}",
                stuck.prefix.len(),
                OpIndex(op.index),
            ),
            None => "no operation can be linearized first".to_string(),
        };
        Box::new(Violation {
            key: key.to_string(),
            linearized,
            elided,
            stuck: entry(stuck.op),
            concurrent,
            explanation,
        })
    }

    fn refusal_text(&self, refusal: Refusal, kind: &Kind) -> String {
        let value = |v: ValueId| {
            self.values
                .get(v as usize)
                .map_or("?", String::as_str)
                .to_string()
        };
        match (refusal, kind) {
            (Refusal::ReadWrongValue, Kind::Get { read: None }) => {
                "it read the key as absent".into()
            }
            (Refusal::ReadWrongValue, Kind::Get { read: Some((v, _)) }) => {
                format!("it read {:?}", value(*v))
            }
            (Refusal::ReadWrongModRevision, Kind::Get { read: Some((v, m)) }) => {
                format!(
                    "it read {:?} with mod_revision {m}, not the revision of that write",
                    value(*v)
                )
            }
            (Refusal::RevisionNotAbove(floor), _) => {
                format!(
                    "its revision {} is not above revision {floor} already taken on this key",
                    revision_of(kind)
                )
            }
            (Refusal::RevisionBelow(floor), _) => {
                format!(
                    "its revision {} is below revision {floor} already seen on this key",
                    revision_of(kind)
                )
            }
            (Refusal::CasShouldConflict, Kind::Cas { expected, .. }) => {
                format!("it swapped, but the mod_revision was not its expected {expected}")
            }
            (Refusal::CasShouldSwap, Kind::Cas { expected, .. }) => {
                format!("it reported a conflict, but the mod_revision was its expected {expected}")
            }
            (Refusal::WouldHaveNoEffect, _) => "it could only have had no effect".into(),
            (r, k) => format!("{r:?} for {k:?}"),
        }
    }
}

fn revision_of(kind: &Kind) -> String {
    match kind {
        Kind::Put { rev: Some(r), .. }
        | Kind::Delete { rev: Some(r) }
        | Kind::Cas {
            result: CasResult::Swapped(r),
            ..
        } => r.to_string(),
        _ => "?".into(),
    }
}
