//! The per-key model of the register: each operation reduced to what matters for
//! linearizability, the sequential state it acts on, and the transition function that
//! says whether an operation can come next and what state follows.
//!
//! Values are interned per key; revisions are plain integers. The state's `floor` is a
//! lower bound on the key's revision so far: exact when every write's revision is
//! known, the least possible value when writes of unknown outcome are involved.

use std::collections::{HashMap, HashSet};

use crate::checker::history::{Call, History, Outcome, Reply};

/// Interned value of a key (index into [`KeyHistory::values`]).
pub(super) type ValueId = u32;

/// One operation of one key, reduced to what the model needs.
#[derive(Clone, Copy, Debug)]
pub(super) enum Kind {
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
pub(super) enum CasResult {
    Swapped(u64),
    Conflict,
    Unknown,
}

#[derive(Clone, Copy, Debug)]
pub(super) struct KeyOp {
    /// Position in the whole history.
    pub(super) index: usize,
    pub(super) kind: Kind,
    pub(super) invoked: u64,
    /// `None` for an unknown outcome: it may take effect arbitrarily late.
    pub(super) returned: Option<u64>,
    /// A write of unknown outcome that no read on the key reveals: the search tries it
    /// only when nothing else can go next.
    pub(super) speculative: bool,
    /// For a write whose revision is known (returned, or revealed by the reads of the
    /// only write of its value), its place among them in revision order: such writes
    /// must be linearized in exactly that order.
    pub(super) rank: Option<usize>,
}

/// The register as the model sees it after a sequence of operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(super) struct State {
    /// `None` when the key does not exist.
    pub(super) value: Option<ValueId>,
    /// The key's mod revision (0 when absent); `None` when the last write had an unknown
    /// outcome and nothing has revealed its revision yet (it is then `>= floor`).
    pub(super) mod_rev: Option<u64>,
    /// The highest revision this key's linearized ops have shown, or the least it can
    /// be when unknown writes are involved.
    pub(super) floor: u64,
}

pub(super) const INITIAL: State = State {
    value: None,
    mod_rev: Some(0),
    floor: 0,
};

/// Why the model refuses an operation in a state.
#[derive(Clone, Copy, Debug)]
pub(super) enum Refusal {
    ReadWrongValue,
    ReadWrongModRevision,
    RevisionNotAbove(u64),
    RevisionBelow(u64),
    CasShouldConflict,
    CasShouldSwap,
    WouldHaveNoEffect,
}

/// Applies `kind` to `s`: the next state, or why this cannot be the next operation.
pub(super) fn step(s: State, kind: &Kind) -> Result<State, Refusal> {
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
pub(super) struct KeyHistory {
    pub(super) ops: Vec<KeyOp>,
    pub(super) values: Vec<String>,
    /// The revisions of the ranked writes, by rank.
    pub(super) rank_revisions: Vec<u64>,
}

impl KeyHistory {
    pub(super) fn compile<'h>(history: &'h History, indices: &[usize]) -> KeyHistory {
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
                speculative: false,
                rank: None,
            });
        }
        // Which revisions reads saw each value at, and how many ops may have written it.
        let mut seen_at: HashMap<ValueId, HashSet<u64>> = HashMap::new();
        let mut writers: HashMap<ValueId, usize> = HashMap::new();
        for op in &ops {
            match op.kind {
                Kind::Get { read: Some((v, m)) } => {
                    seen_at.entry(v).or_default().insert(m);
                }
                Kind::Put { value, .. }
                | Kind::Cas {
                    value,
                    result: CasResult::Swapped(_) | CasResult::Unknown,
                    ..
                } => *writers.entry(value).or_default() += 1,
                _ => {}
            }
        }
        let mut ranked: Vec<(u64, usize)> = Vec::new();
        for (local, op) in ops.iter_mut().enumerate() {
            match op.kind {
                Kind::Put { rev: Some(r), .. }
                | Kind::Cas {
                    result: CasResult::Swapped(r),
                    ..
                } => ranked.push((r, local)),
                Kind::Put { value, rev: None }
                | Kind::Cas {
                    value,
                    result: CasResult::Unknown,
                    ..
                } => match seen_at.get(&value) {
                    None => op.speculative = true,
                    // The only write of a value read at one revision took that revision.
                    Some(revs) if revs.len() == 1 && writers.get(&value) == Some(&1) => {
                        ranked.extend(revs.iter().map(|&m| (m, local)));
                    }
                    Some(_) => {}
                },
                Kind::Delete { rev: None } => op.speculative = true,
                _ => {}
            }
        }
        ranked.sort_unstable();
        for (rank, &(_, local)) in ranked.iter().enumerate() {
            if let Some(op) = ops.get_mut(local) {
                op.rank = Some(rank);
            }
        }
        let rank_revisions = ranked.iter().map(|&(r, _)| r).collect();
        KeyHistory {
            ops,
            values,
            rank_revisions,
        }
    }
}
