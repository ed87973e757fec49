//! A simulated register store for the checker's tests: clients issue operations with
//! real overlapping windows, and the store applies each atomically at one instant
//! (inside the window when answered; possibly later, or never, when the client timed
//! out). Plans are seeded, and the same plan can be executed with one planted bug.

use std::collections::HashMap;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::checker::history::{
    Call, ClientId, History, Operation, Outcome, Reply, Revision, Versioned,
};

/// What the client sends; a CAS's expected revision is chosen when it executes so that
/// many of them succeed.
#[derive(Clone, Debug)]
pub enum Intent {
    Get,
    Put,
    Cas { current: bool, noise: u64 },
    Delete,
}

/// How an operation ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    Answered,
    Failed,
    TimedOut { applied: bool },
}

/// One planned operation.
#[derive(Clone, Debug)]
pub struct Planned {
    pub client: u64,
    pub key: String,
    pub intent: Intent,
    pub invoked: u64,
    pub completed: u64,
    /// When the store applies it.
    pub effect_at: u64,
    pub fate: Fate,
}

/// A seeded schedule of operations.
pub struct Plan {
    pub ops: Vec<Planned>,
}

/// A bug the store can be made to have on one operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Bug {
    /// This read returns the version before the key's latest write.
    StaleRead(usize),
    /// This put is acknowledged with a fresh revision but never applied.
    LostWrite(usize),
}

/// `n` operations from `clients` clients over `keys` keys. Each client waits for its
/// previous operation (or gives up on it) before the next.
pub fn plan(seed: u64, clients: u64, keys: u64, n: usize) -> Plan {
    let mut rng = SmallRng::seed_from_u64(seed);
    let mut clock = vec![0u64; clients.max(1) as usize];
    let mut ops = Vec::with_capacity(n);
    for _ in 0..n {
        let (client, &now) = clock
            .iter()
            .enumerate()
            .min_by_key(|&(_, t)| *t)
            .expect("one client");
        let invoked = now + rng.gen_range(0..20);
        let duration = rng.gen_range(1..100);
        let completed = invoked + duration;
        clock[client] = completed;
        let intent = match rng.gen_range(0..100) {
            0..=39 => Intent::Get,
            40..=69 => Intent::Put,
            70..=89 => Intent::Cas {
                current: rng.gen_bool(0.7),
                noise: rng.gen_range(0..4),
            },
            _ => Intent::Delete,
        };
        let (fate, effect_at) = match rng.gen_range(0..100) {
            0..=3 => (Fate::Failed, 0),
            4..=9 => (
                Fate::TimedOut {
                    applied: rng.gen_bool(0.5),
                },
                invoked + rng.gen_range(0..3 * duration),
            ),
            _ => (Fate::Answered, rng.gen_range(invoked..=completed)),
        };
        ops.push(Planned {
            client: client as u64,
            key: format!("key-{}", rng.gen_range(0..keys.max(1))),
            intent,
            invoked,
            completed,
            effect_at,
            fate,
        });
    }
    Plan { ops }
}

/// One operation as the store applied it.
struct Applied {
    op: usize,
    /// The key's value and mod revision just before.
    before: Option<(String, u64)>,
    wrote: bool,
}

/// The outcome of executing a plan.
pub struct Run<'p> {
    plan: &'p Plan,
    pub history: History,
    trace: Vec<Applied>,
}

impl Plan {
    /// Runs the plan against a correct store, or one with `bug`.
    pub fn execute(&self, bug: Option<Bug>) -> Run<'_> {
        let mut order: Vec<usize> = (0..self.ops.len())
            .filter(|&i| {
                matches!(
                    self.ops[i].fate,
                    Fate::Answered | Fate::TimedOut { applied: true }
                )
            })
            .collect();
        order.sort_by_key(|&i| (self.ops[i].effect_at, i));
        let mut revision = 0u64;
        // Per key, every version: (revision, value or None for a delete).
        let mut versions: HashMap<&str, Vec<(u64, Option<String>)>> = HashMap::new();
        let mut calls: Vec<Option<Call>> = vec![None; self.ops.len()];
        let mut replies: Vec<Option<Reply>> = vec![None; self.ops.len()];
        let mut trace = Vec::new();
        let state_of = |v: Option<&(u64, Option<String>)>| match v {
            Some((r, Some(value))) => Some((value.clone(), *r)),
            _ => None,
        };
        for &i in &order {
            let p = &self.ops[i];
            let value = format!("v{i}");
            let key_versions = versions.entry(p.key.as_str()).or_default();
            let before = state_of(key_versions.last());
            let mod_rev = before.as_ref().map_or(0, |b| b.1);
            let (call, reply, wrote) = match p.intent {
                Intent::Get => {
                    let read = match bug {
                        Some(Bug::StaleRead(g)) if g == i => state_of(
                            key_versions
                                .len()
                                .checked_sub(2)
                                .and_then(|k| key_versions.get(k)),
                        ),
                        _ => before.clone(),
                    };
                    let read = read.map(|(value, r)| Versioned {
                        value,
                        mod_revision: Revision(r),
                    });
                    (Call::Get, Reply::Got(read), false)
                }
                Intent::Put => {
                    revision += 1;
                    if bug != Some(Bug::LostWrite(i)) {
                        key_versions.push((revision, Some(value.clone())));
                    }
                    (
                        Call::Put { value },
                        Reply::Written(Revision(revision)),
                        true,
                    )
                }
                Intent::Cas { current, noise } => {
                    let expected = if current {
                        mod_rev
                    } else {
                        mod_rev.saturating_sub(noise) + noise % 2
                    };
                    let call = Call::Cas {
                        expected_mod_revision: Revision(expected),
                        value: value.clone(),
                    };
                    if expected == mod_rev {
                        revision += 1;
                        key_versions.push((revision, Some(value)));
                        (call, Reply::Swapped(Revision(revision)), true)
                    } else {
                        (call, Reply::Conflict, false)
                    }
                }
                Intent::Delete => {
                    let exists = before.is_some();
                    if exists {
                        revision += 1;
                        key_versions.push((revision, None));
                    }
                    (Call::Delete, Reply::Written(Revision(revision)), exists)
                }
            };
            calls[i] = Some(call);
            replies[i] = Some(reply);
            trace.push(Applied {
                op: i,
                before,
                wrote,
            });
        }
        let ops = self
            .ops
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let call = calls[i].take().unwrap_or_else(|| match &p.intent {
                    Intent::Get => Call::Get,
                    Intent::Put => Call::Put {
                        value: format!("v{i}"),
                    },
                    Intent::Cas { noise, .. } => Call::Cas {
                        expected_mod_revision: Revision(*noise),
                        value: format!("v{i}"),
                    },
                    Intent::Delete => Call::Delete,
                });
                let outcome = match (p.fate, replies[i].take()) {
                    (Fate::Answered, Some(reply)) => Outcome::Ok(reply),
                    (Fate::Failed, _) => Outcome::Fail,
                    _ => Outcome::Unknown,
                };
                Operation {
                    client: ClientId(p.client),
                    key: p.key.clone(),
                    call,
                    invoked_at: p.invoked,
                    completed_at: Some(p.completed),
                    outcome,
                }
            })
            .collect();
        Run {
            plan: self,
            history: History { ops },
            trace,
        }
    }
}

impl Run<'_> {
    fn answered(&self, i: usize) -> bool {
        self.plan.ops[i].fate == Fate::Answered
    }

    /// A read that began after the key's latest write had returned, where that write
    /// replaced a value: serving the replaced value is certainly stale.
    pub fn stale_read_candidate(&self) -> Option<usize> {
        let ops = &self.plan.ops;
        let mut last_write: HashMap<&str, &Applied> = HashMap::new();
        for a in &self.trace {
            let p = &ops[a.op];
            if a.wrote {
                last_write.insert(p.key.as_str(), a);
                continue;
            }
            if !matches!(p.intent, Intent::Get) || !self.answered(a.op) {
                continue;
            }
            if let Some(w) = last_write.get(p.key.as_str()) {
                if self.answered(w.op) && ops[w.op].completed < p.invoked && w.before.is_some() {
                    return Some(a.op);
                }
            }
        }
        None
    }

    /// An acknowledged put that replaced a value and whose key is next read by a get
    /// that began after the put returned: forgetting the put is certainly visible.
    pub fn lost_write_candidate(&self) -> Option<usize> {
        let ops = &self.plan.ops;
        let mut pending: HashMap<&str, usize> = HashMap::new();
        for a in &self.trace {
            let p = &ops[a.op];
            if let Some(put) = pending.remove(p.key.as_str()) {
                if matches!(p.intent, Intent::Get)
                    && self.answered(a.op)
                    && ops[put].completed < p.invoked
                {
                    return Some(put);
                }
            }
            if matches!(p.intent, Intent::Put) && self.answered(a.op) && a.before.is_some() {
                pending.insert(p.key.as_str(), a.op);
            }
        }
        None
    }
}
