//! `Mvcc` against a naive model that keeps the full keyspace of every revision.
//!
//! The model shares no code with the store: it copies a `BTreeMap` per revision and
//! derives metadata the obvious way. A failure prints the seed; replay it with
//! `MVCC_MODEL_SEED=<seed> cargo test -p hive-raftstore --lib mvcc::model_tests`.

use std::collections::BTreeMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::tests::{put_op, txn};
use super::*;
use crate::types::{
    Compare, CompareOp, CompareTarget, DeleteRequest, PutRequest, TxnOp, TxnRequest,
};

type State = BTreeMap<Vec<u8>, KeyValue>;

/// The obviously correct store: `states[r]` is the whole keyspace at revision `r`.
struct Model {
    states: Vec<State>,
    compacted: u64,
    leases: BTreeMap<LeaseId, u64>,
}

impl Model {
    fn latest(&self) -> &State {
        self.states.last().expect("revision 0 exists")
    }

    fn revision(&self) -> Revision {
        Revision(self.states.len() as u64 - 1)
    }

    /// Applies puts and range deletes (no duplicates, leases valid) as one revision.
    fn write(&mut self, ops: &[TxnOp]) {
        let rev = Revision(self.states.len() as u64);
        let mut next = self.latest().clone();
        let mut changed = false;
        for op in ops {
            match op {
                TxnOp::Put(p) => {
                    let prev = next.get(&p.key);
                    let kv = KeyValue {
                        key: p.key.clone(),
                        value: p.value.clone(),
                        create_revision: prev.map_or(rev, |kv| kv.create_revision),
                        mod_revision: rev,
                        version: prev.map_or(0, |kv| kv.version) + 1,
                        lease: p.lease,
                    };
                    next.insert(p.key.clone(), kv);
                    changed = true;
                }
                TxnOp::Delete(d) => {
                    let before = next.len();
                    next.retain(|k, _| !d.range.contains(k));
                    changed |= next.len() != before;
                }
                TxnOp::Range(_) => {}
            }
        }
        if changed {
            self.states.push(next);
        }
    }

    fn revoke(&mut self, ids: &[LeaseId]) {
        let live: Vec<LeaseId> = ids
            .iter()
            .copied()
            .filter(|id| self.leases.remove(id).is_some())
            .collect();
        let mut next = self.latest().clone();
        let before = next.len();
        next.retain(|_, kv| !live.contains(&kv.lease));
        if next.len() != before {
            self.states.push(next);
        }
    }

    fn compare_holds(&self, c: &Compare) -> bool {
        let kv = self.latest().get(&c.key);
        let zero = KeyValue::default();
        let kv_or_zero = kv.unwrap_or(&zero);
        let ord = match &c.target {
            CompareTarget::Value(_) if kv.is_none() => return false,
            CompareTarget::Value(v) => kv_or_zero.value.cmp(v),
            CompareTarget::Version(v) => kv_or_zero.version.cmp(v),
            CompareTarget::CreateRevision(r) => kv_or_zero.create_revision.cmp(r),
            CompareTarget::ModRevision(r) => kv_or_zero.mod_revision.cmp(r),
            CompareTarget::Lease(l) => kv_or_zero.lease.cmp(l),
        };
        match c.op {
            CompareOp::Equal => ord.is_eq(),
            CompareOp::NotEqual => ord.is_ne(),
            CompareOp::Greater => ord.is_gt(),
            CompareOp::Less => ord.is_lt(),
        }
    }

    /// What a read of `range` at `rev` must return.
    fn range(&self, range: &KeyRange, rev: u64) -> Result<Vec<KeyValue>, ApplyError> {
        if rev < self.compacted {
            return Err(ApplyError::Compacted {
                compacted: Revision(self.compacted),
            });
        }
        let state = self
            .states
            .get(rev as usize)
            .ok_or(ApplyError::FutureRevision {
                current: self.revision(),
            })?;
        Ok(state
            .values()
            .filter(|kv| range.contains(&kv.key))
            .cloned()
            .collect())
    }
}

const KEYS: [&str; 7] = ["a", "ab", "abc", "b", "ba", "c", "d"];

fn random_key(rng: &mut StdRng) -> String {
    KEYS[rng.gen_range(0..KEYS.len())].to_string()
}

fn random_range(rng: &mut StdRng) -> KeyRange {
    match rng.gen_range(0..4) {
        0 => KeyRange::key(random_key(rng)),
        1 => KeyRange::prefix(random_key(rng)),
        2 => KeyRange::from_key(random_key(rng)),
        _ => KeyRange {
            start: random_key(rng).into(),
            end: random_key(rng).into(),
        },
    }
}

/// Random writes with no duplicate keys: puts of distinct keys not covered by a delete.
fn random_write_ops(rng: &mut StdRng, leases: &[LeaseId]) -> Vec<TxnOp> {
    let mut ops = Vec::new();
    if rng.gen_bool(0.3) {
        ops.push(TxnOp::Delete(DeleteRequest {
            range: random_range(rng),
            prev_kv: false,
        }));
    }
    for _ in 0..rng.gen_range(0..3) {
        let key = random_key(rng);
        let covered = ops.iter().any(|op| match op {
            TxnOp::Put(p) => p.key == key.as_bytes(),
            TxnOp::Delete(d) => d.range.contains(key.as_bytes()),
            TxnOp::Range(_) => false,
        });
        if covered {
            continue;
        }
        let lease = if !leases.is_empty() && rng.gen_bool(0.3) {
            leases[rng.gen_range(0..leases.len())]
        } else {
            LeaseId::NONE
        };
        let value = format!("v{}", rng.gen_range(0..1000));
        ops.push(TxnOp::Put(PutRequest {
            key: key.into(),
            value: value.into(),
            lease,
            prev_kv: false,
        }));
    }
    ops
}

fn run_seed(seed: u64) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut m = Mvcc::new();
    let mut model = Model {
        states: vec![State::new()],
        compacted: 0,
        leases: BTreeMap::new(),
    };
    let mut next_lease = 1;
    for step in 0..300 {
        let ctx = format!("seed {seed} step {step}");
        let leases: Vec<LeaseId> = model.leases.keys().copied().collect();
        match rng.gen_range(0..20) {
            0..=11 => {
                let success = random_write_ops(&mut rng, &leases);
                let compare: Vec<Compare> = (0..rng.gen_range(0..2))
                    .map(|_| Compare {
                        key: random_key(&mut rng).into(),
                        op: CompareOp::Equal,
                        target: CompareTarget::Version(rng.gen_range(0..3)),
                    })
                    .collect();
                let failure = vec![put_op("failed", "1")];
                let holds = compare.iter().all(|c| model.compare_holds(c));
                let (resp, _) = m.apply(&Command::Txn(TxnRequest {
                    compare,
                    success: success.clone(),
                    failure: failure.clone(),
                }));
                model.write(if holds { &success } else { &failure });
                let CommandResponse::Txn(resp) = resp else {
                    panic!("{ctx}: {resp:?}")
                };
                assert_eq!(resp.succeeded, holds, "{ctx}");
            }
            12..=13 => {
                let id = LeaseId(next_lease);
                next_lease += 1;
                m.apply(&Command::LeaseGrant { id, ttl_secs: 5 });
                model.leases.insert(id, 5);
            }
            14..=15 if !leases.is_empty() => {
                let ids: Vec<LeaseId> = (0..rng.gen_range(1..3))
                    .map(|_| leases[rng.gen_range(0..leases.len())])
                    .collect();
                m.apply(&Command::LeaseExpire { ids: ids.clone() });
                model.revoke(&ids);
            }
            16 if model.revision().0 > model.compacted + 2 => {
                let rev = rng.gen_range(model.compacted + 1..=model.revision().0);
                assert_eq!(
                    m.apply(&Command::Compact {
                        revision: Revision(rev)
                    })
                    .0,
                    CommandResponse::Compacted {
                        revision: Revision(rev)
                    },
                    "{ctx}"
                );
                model.compacted = rev;
            }
            17 => {
                // A put that must fail: the txn is untouched and the model too.
                let (resp, batch) = m.apply(&txn(vec![put_op("a", "1"), put_op("a", "2")]));
                assert!(
                    matches!(
                        resp,
                        CommandResponse::Error(ApplyError::DuplicateKey { .. })
                    ) && batch.is_none(),
                    "{ctx}"
                );
            }
            _ => {}
        }
        assert_eq!(m.revision(), model.revision(), "{ctx}");
        for _ in 0..4 {
            let range = random_range(&mut rng);
            let rev = rng.gen_range(0..=model.revision().0 + 1);
            let req = RangeRequest {
                range: range.clone(),
                revision: Some(Revision(rev)),
                ..RangeRequest::default()
            };
            let expected = if rev == 0 {
                model.range(&range, model.revision().0)
            } else {
                model.range(&range, rev)
            };
            assert_eq!(
                m.range(&req).map(|r| r.kvs),
                expected,
                "{ctx}: range {range:?} at {rev}"
            );
        }
        assert_eq!(
            m.leases().into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
            model.leases.keys().copied().collect::<Vec<_>>(),
            "{ctx}"
        );
    }
    let restored = Mvcc::from_snapshot(&m.snapshot_bytes().expect("encodes")).expect("restores");
    assert_eq!(restored, m, "seed {seed}: snapshot round trip");
}

/// Over many seeded random histories of txns, lease grants and expiries and compactions,
/// a read of any range at any revision returns exactly what the naive model holds.
#[test]
fn range_at_any_revision_matches_a_naive_model_of_full_states() {
    let seeds: Vec<u64> = match std::env::var("MVCC_MODEL_SEED") {
        Ok(s) => vec![s.parse().expect("MVCC_MODEL_SEED is a u64")],
        Err(_) => (0..40).collect(),
    };
    for seed in seeds {
        run_seed(seed);
    }
}
