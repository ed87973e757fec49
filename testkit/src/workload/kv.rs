//! The key-value register workload: `clients` concurrent clients each pick one of
//! `keys` keys and get it, put a unique value, or compare-and-swap against the mod
//! revision they last saw. Every call is recorded with its invocation and completion
//! time and outcome: `Ok` with the store's answer, `Fail` when the store proved nothing
//! was applied (`NotLeader`, `Unavailable`), `Unknown` for timeouts and indeterminate
//! errors. A client whose call ended `Unknown` continues under a fresh client id, as
//! Jepsen's processes do, since that call may still be in flight.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::time::Duration;

use hive_raftstore::{KeyValue, StoreError};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use super::{bounded, definitely_failed, RunClock};
use crate::checker::history::{Call, ClientId, History, Outcome, Reply, Revision, Versioned};
use crate::harness::KvClient;

/// Shape of the kv workload.
#[derive(Clone, Debug)]
pub struct KvOptions {
    /// How many keys the clients share.
    pub keys: usize,
    /// How many clients run at once.
    pub clients: usize,
    /// How many more clients only read, each pinned to a member where the backend can
    /// pin (client numbers `clients..clients + readers`). A reader never writes, so it
    /// never times out on a deposed leader and keeps asking it for the whole fault:
    /// what exposes a member serving stale reads.
    pub readers: usize,
    /// Every key starts with this.
    pub prefix: String,
    /// A call taking longer than this is abandoned with an unknown outcome.
    pub op_timeout: Duration,
    /// Pause between a client's calls, to keep histories checkable.
    pub think: Duration,
}

impl Default for KvOptions {
    fn default() -> Self {
        KvOptions {
            keys: 8,
            clients: 5,
            readers: 0,
            prefix: "/kv/".to_string(),
            op_timeout: Duration::from_secs(4),
            think: Duration::from_millis(2),
        }
    }
}

impl KvOptions {
    /// The name of key `i`.
    pub fn key(&self, i: usize) -> String {
        format!("{}{i}", self.prefix)
    }
}

/// A running kv workload: its options and the history it records.
pub struct KvWorkload {
    opts: KvOptions,
    clock: RunClock,
    history: RefCell<History>,
    next_client: Cell<u64>,
}

impl KvWorkload {
    /// A workload that records times on `clock`.
    pub fn new(opts: KvOptions, clock: RunClock) -> KvWorkload {
        KvWorkload {
            next_client: Cell::new((opts.clients + opts.readers) as u64),
            opts,
            clock,
            history: RefCell::new(History::new()),
        }
    }

    /// The options.
    pub fn options(&self) -> &KvOptions {
        &self.opts
    }

    /// Runs every client until `stop` is raised and their calls in flight finish.
    pub async fn run<C: KvClient>(&self, client: &C, seed: u64, stop: &Cell<bool>) {
        let clients = vec![client.clone(); self.opts.clients + self.opts.readers];
        self.run_each(&clients, seed, stop).await
    }

    /// Like [`KvWorkload::run`], client `i` calling through `clients[i % len]`.
    pub async fn run_each<C: KvClient>(&self, clients: &[C], seed: u64, stop: &Cell<bool>) {
        if clients.is_empty() {
            return;
        }
        let loops = (0..self.opts.clients + self.opts.readers).map(|i| {
            let rng = SmallRng::seed_from_u64(seed ^ (0x6b76 + i as u64));
            let client = &clients[i % clients.len()];
            let read_only = i >= self.opts.clients;
            self.client_loop(client, ClientId(i as u64), rng, read_only, stop)
        });
        futures::future::join_all(loops).await;
    }

    /// Reads every key once more (the durability check's final reads), recorded in the
    /// history like any other call.
    pub async fn final_reads<C: KvClient>(&self, client: &C) -> Vec<(String, Outcome)> {
        let mut out = Vec::new();
        for i in 0..self.opts.keys {
            let key = self.opts.key(i);
            let id = ClientId(self.fresh_client());
            let outcome = self.call(client, id, &key, Call::Get).await;
            out.push((key, outcome));
        }
        out
    }

    /// The history recorded so far.
    pub fn history(&self) -> History {
        self.history.borrow().clone()
    }

    fn fresh_client(&self) -> u64 {
        let id = self.next_client.get();
        self.next_client.set(id + 1);
        id
    }

    async fn client_loop<C: KvClient>(
        &self,
        client: &C,
        mut id: ClientId,
        mut rng: SmallRng,
        read_only: bool,
        stop: &Cell<bool>,
    ) {
        let mut seen: HashMap<String, Revision> = HashMap::new();
        let mut seq = 0u64;
        while !stop.get() {
            let key = self.opts.key(rng.gen_range(0..self.opts.keys));
            seq += 1;
            let value = format!("{id}-{seq}");
            let call = match rng.gen_range(0..10) {
                _ if read_only => Call::Get,
                0..=4 => Call::Get,
                5..=7 => Call::Put { value },
                _ => Call::Cas {
                    expected_mod_revision: seen.get(&key).copied().unwrap_or_default(),
                    value,
                },
            };
            let outcome = self.call(client, id, &key, call).await;
            match &outcome {
                Outcome::Ok(Reply::Got(v)) => {
                    seen.insert(key, v.as_ref().map(|v| v.mod_revision).unwrap_or_default());
                }
                Outcome::Ok(Reply::Written(r) | Reply::Swapped(r)) => {
                    seen.insert(key, *r);
                }
                Outcome::Unknown => id = ClientId(self.fresh_client()),
                _ => {}
            }
            if !self.opts.think.is_zero() {
                tokio::time::sleep(self.opts.think).await;
            }
        }
    }

    /// Makes one call and records it.
    async fn call<C: KvClient>(&self, client: &C, id: ClientId, key: &str, call: Call) -> Outcome {
        let at = self.clock.now_ns();
        let op = self.history.borrow_mut().invoke(id, key, call.clone(), at);
        let limit = self.opts.op_timeout;
        let outcome = match &call {
            Call::Get => outcome(bounded(limit, client.get(key)).await.map(got)),
            Call::Put { value } => outcome(
                bounded(limit, client.put(key, value))
                    .await
                    .map(|r| Reply::Written(Revision(r.0))),
            ),
            Call::Cas {
                expected_mod_revision,
                value,
            } => {
                let expected = hive_raftstore::Revision(expected_mod_revision.0);
                match bounded(limit, client.cas(key, expected, value)).await {
                    Err(StoreError::Conflict { .. }) => Outcome::Ok(Reply::Conflict),
                    r => outcome(r.map(|r| Reply::Swapped(Revision(r.0)))),
                }
            }
            Call::Delete => Outcome::Fail,
        };
        self.history
            .borrow_mut()
            .complete(op, self.clock.now_ns(), outcome.clone());
        outcome
    }
}

fn got(kv: Option<KeyValue>) -> Reply {
    Reply::Got(kv.map(|kv| Versioned {
        value: String::from_utf8_lossy(&kv.value).into_owned(),
        mod_revision: Revision(kv.mod_revision.0),
    }))
}

fn outcome(r: Result<Reply, StoreError>) -> Outcome {
    match r {
        Ok(reply) => Outcome::Ok(reply),
        Err(e) if definitely_failed(&e) => Outcome::Fail,
        Err(_) => Outcome::Unknown,
    }
}
