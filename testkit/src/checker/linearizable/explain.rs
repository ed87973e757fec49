//! Turning a dead end of the search into a [`Violation`] a person can act on: the tail
//! of the longest linearizable prefix, the operation that could not be placed, the
//! pending operations around it, and why, in words.

use crate::checker::history::{History, OpIndex};

use super::model::{step, CasResult, KeyHistory, KeyOp, Kind, Refusal, State, ValueId};
use super::search::Stuck;
use super::{Options, Violation};

impl KeyHistory {
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

    pub(super) fn violation(
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
            Some((op, Ok(next))) => {
                let placed = self.ranked_in(&stuck.prefix);
                let following = placed + usize::from(op.rank.is_some());
                let rank_of = |r: usize| self.ops.iter().find(|o| o.rank == Some(r));
                let blocking = op.rank.filter(|&r| r > placed).and_then(|_| rank_of(placed));
                let crowded = rank_of(following).filter(|w| {
                    self.rank_revisions
                        .get(following)
                        .is_some_and(|&r| next.floor >= r)
                        && w.index != op.index
                });
                let why = match (blocking, crowded) {
                    (Some(earlier), _) => format!(
                        "writes take effect in revision order and op {} (revision {}) must come first",
                        OpIndex(earlier.index),
                        self.revision_label(earlier)
                    ),
                    (None, Some(later)) => format!(
                        "it would take the key to revision {} or beyond, leaving no room for op {} (revision {})",
                        next.floor,
                        OpIndex(later.index),
                        self.revision_label(later)
                    ),
                    (None, None) => "no order of what may follow it works out".to_string(),
                };
                format!(
                    "after {} linearized ops {state}, op {} cannot follow: {why}; it had to take effect before it \
                     returned at {deadline}, and {others}",
                    stuck.prefix.len(),
                    OpIndex(op.index),
                )
            }
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

    /// The revision a write returned, or that reads revealed it took.
    fn revision_label(&self, op: &KeyOp) -> String {
        match op.rank.and_then(|r| self.rank_revisions.get(r)) {
            Some(r) => r.to_string(),
            None => revision_of(&op.kind),
        }
    }

    /// How many writes of known revision `prefix` has placed.
    fn ranked_in(&self, prefix: &[usize]) -> usize {
        prefix
            .iter()
            .filter(|&&l| self.ops.get(l).is_some_and(|o| o.rank.is_some()))
            .count()
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
