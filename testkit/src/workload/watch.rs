//! The watch workload: writers under one prefix (single puts, deletes, and three-key
//! transactions so atomicity is observable), a compactor that keeps only a short
//! history, and watchers that start at random past revisions and reconnect whenever
//! their stream ends, is cancelled, or (now and then) of their own accord, marking each
//! reconnection with a `Resumed` entry. Acknowledged writes become the ground truth the
//! watch checker judges the recordings against.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use hive_raftstore::watch::{CancelReason as StoreCancel, SharedEvent, WatchResponse};
use hive_raftstore::{
    DeleteRequest, KeyRange, LeaseId, PutRequest, StoreError, TxnOp, TxnOpResponse, TxnRequest,
};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

use super::bounded;
use crate::checker::history::Revision;
use crate::checker::watch::{
    CancelReason, CommittedHistory, KeyRange as WatchRange, WatchEvent, WatchMessage,
    WatchRecording,
};
use crate::harness::{KvClient, WatchStream};

/// Shape of the watch workload.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// Every key written starts with this; watchers watch it.
    pub prefix: String,
    /// Concurrent writers.
    pub writers: usize,
    /// Concurrent watchers.
    pub watchers: usize,
    /// Distinct keys per writer.
    pub keys: usize,
    /// How often the compactor compacts.
    pub compact_every: Duration,
    /// How many revisions the compactor keeps.
    pub keep_revisions: u64,
    /// Chance per delivered message that a watcher drops its stream and resumes.
    pub reconnect_chance: f64,
    /// A write taking longer than this is abandoned with an unknown outcome.
    pub op_timeout: Duration,
    /// Pause between a writer's writes.
    pub think: Duration,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            prefix: "/w/".to_string(),
            writers: 2,
            watchers: 3,
            keys: 5,
            compact_every: Duration::from_millis(400),
            keep_revisions: 40,
            reconnect_chance: 0.01,
            op_timeout: Duration::from_secs(4),
            think: Duration::from_millis(5),
        }
    }
}

/// What the watch workload recorded.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchOutput {
    /// Acknowledged writes: the ground truth.
    pub committed: CommittedHistory,
    /// One recording per watcher.
    pub recordings: Vec<WatchRecording>,
    /// Watchers that did not reach the final revision before giving up.
    pub lagging: Vec<String>,
    /// Compactions that succeeded.
    pub compactions: u64,
    /// Writes acknowledged.
    pub writes: u64,
}

/// A running watch workload.
pub struct WatchWorkload {
    opts: WatchOptions,
    committed: RefCell<CommittedHistory>,
    newest: Cell<u64>,
    compactions: Cell<u64>,
    writes: Cell<u64>,
    /// The revision every watcher must reach before it may stop.
    until: Cell<Option<u64>>,
    /// When watchers give up waiting for `until`.
    give_up: Cell<Option<Instant>>,
}

impl WatchWorkload {
    /// A workload with these options.
    pub fn new(opts: WatchOptions) -> WatchWorkload {
        WatchWorkload {
            opts,
            committed: RefCell::new(CommittedHistory::new()),
            newest: Cell::new(0),
            compactions: Cell::new(0),
            writes: Cell::new(0),
            until: Cell::new(None),
            give_up: Cell::new(None),
        }
    }

    /// Runs writers and the compactor until `stop`; watchers until they have seen the
    /// revision passed to [`WatchWorkload::finish`] or its deadline passes.
    pub async fn run<C: KvClient>(
        &self,
        client: &C,
        seed: u64,
        stop: &Cell<bool>,
    ) -> Vec<(WatchRecording, bool)> {
        let writers = (0..self.opts.writers).map(|i| {
            let rng = SmallRng::seed_from_u64(seed ^ (0x7772 + i as u64));
            self.writer(client, i, rng, stop)
        });
        let watchers = (0..self.opts.watchers).map(|i| {
            let rng = SmallRng::seed_from_u64(seed ^ (0x7761 + i as u64));
            self.watcher(client, i, rng)
        });
        let (_, _, recordings) = futures::join!(
            futures::future::join_all(writers),
            self.compactor(client, stop),
            futures::future::join_all(watchers)
        );
        recordings
    }

    /// Writes a final marker once writers stopped, and tells watchers to stop after
    /// seeing it, waiting at most `catch_up`. Answers the marker's revision.
    pub async fn finish<C: KvClient>(&self, client: &C, catch_up: Duration) -> Option<u64> {
        let key = format!("{}final", self.opts.prefix);
        let deadline = Instant::now() + catch_up;
        self.give_up.set(Some(deadline));
        while Instant::now() < deadline {
            if let Ok(Ok(r)) =
                tokio::time::timeout(self.opts.op_timeout, client.put(&key, "end")).await
            {
                self.acknowledge(r.0, vec![WatchEvent::put(&key, "end")]);
                self.until.set(Some(r.0));
                return Some(r.0);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }

    /// What was recorded, given the watchers' recordings.
    pub fn output(&self, recordings: Vec<(WatchRecording, bool)>) -> WatchOutput {
        let lagging = recordings
            .iter()
            .filter(|(_, caught_up)| !caught_up)
            .map(|(r, _)| r.watcher.clone())
            .collect();
        WatchOutput {
            committed: self.committed.borrow().clone(),
            recordings: recordings.into_iter().map(|(r, _)| r).collect(),
            lagging,
            compactions: self.compactions.get(),
            writes: self.writes.get(),
        }
    }

    fn acknowledge(&self, revision: u64, events: Vec<WatchEvent>) {
        self.committed
            .borrow_mut()
            .record(Revision(revision), events);
        self.newest.set(self.newest.get().max(revision));
        self.writes.set(self.writes.get() + 1);
    }

    fn give_up(&self) -> bool {
        self.give_up.get().is_some_and(|d| Instant::now() >= d)
    }

    async fn writer<C: KvClient>(
        &self,
        client: &C,
        id: usize,
        mut rng: SmallRng,
        stop: &Cell<bool>,
    ) {
        let mut seq = 0u64;
        while !stop.get() {
            seq += 1;
            let key = |j: usize| format!("{}{id}/{j}", self.opts.prefix);
            let value = format!("{id}-{seq}");
            let (ops, events): (Vec<TxnOp>, Vec<WatchEvent>) = match rng.gen_range(0..10) {
                0 => {
                    let k = key(rng.gen_range(0..self.opts.keys));
                    let op = TxnOp::Delete(DeleteRequest {
                        range: KeyRange::key(k.as_bytes()),
                        prev_kv: false,
                    });
                    (vec![op], vec![WatchEvent::delete(k)])
                }
                1 | 2 => {
                    let keys: Vec<String> = (0..3).map(|j| key(self.opts.keys + j)).collect();
                    let ops = keys.iter().map(|k| put(k, &value)).collect();
                    let events = keys.iter().map(|k| WatchEvent::put(k, &value)).collect();
                    (ops, events)
                }
                _ => {
                    let k = key(rng.gen_range(0..self.opts.keys));
                    (vec![put(&k, &value)], vec![WatchEvent::put(k, &value)])
                }
            };
            let txn = TxnRequest {
                success: ops,
                ..Default::default()
            };
            if let Ok(t) = bounded(self.opts.op_timeout, client.txn(txn)).await {
                // A delete of an absent key writes nothing and takes no revision.
                let wrote = !matches!(
                    t.responses.first(),
                    Some(TxnOpResponse::Delete { deleted: 0, .. })
                );
                if wrote {
                    self.acknowledge(t.revision.0, events);
                }
            }
            tokio::time::sleep(self.opts.think).await;
        }
    }

    async fn compactor<C: KvClient>(&self, client: &C, stop: &Cell<bool>) {
        while !stop.get() {
            tokio::time::sleep(self.opts.compact_every).await;
            let newest = self.newest.get();
            if newest > self.opts.keep_revisions {
                let at = hive_raftstore::Revision(newest - self.opts.keep_revisions);
                if bounded(self.opts.op_timeout, client.compact(at))
                    .await
                    .is_ok()
                {
                    self.compactions.set(self.compactions.get() + 1);
                }
            }
        }
    }

    /// One watcher: answers its recording and whether it reached the final revision.
    async fn watcher<C: KvClient>(
        &self,
        client: &C,
        id: usize,
        mut rng: SmallRng,
    ) -> (WatchRecording, bool) {
        while self.newest.get() < 10 && !self.give_up() && self.until.get().is_none() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let start = rng.gen_range(1..=self.newest.get().max(1));
        let mut rec = WatchRecording {
            watcher: format!("w{id}"),
            range: WatchRange::Prefix(self.opts.prefix.clone()),
            start_revision: Revision(start),
            messages: Vec::new(),
        };
        let mut next = start;
        let mut opened = false;
        let done = |next: u64| self.until.get().is_some_and(|u| next > u);
        loop {
            if done(next) {
                return (rec, true);
            }
            if self.give_up() {
                return (rec, false);
            }
            let range = KeyRange::prefix(self.opts.prefix.as_bytes());
            let open = bounded(
                self.opts.op_timeout,
                client.watch(range, hive_raftstore::Revision(next)),
            );
            let mut stream = match open.await {
                Ok(s) => s,
                Err(StoreError::Compacted { compacted }) => {
                    next = next.max(compacted.0 + 1);
                    continue;
                }
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            if opened || next != start {
                rec.messages.push(WatchMessage::Resumed {
                    start_revision: Revision(next),
                });
            }
            opened = true;
            // Read this stream until it ends, is cancelled, or the watcher moves on.
            loop {
                if done(next) || self.give_up() {
                    break;
                }
                let item = tokio::time::timeout(Duration::from_millis(200), stream.next()).await;
                match item {
                    Err(_) => continue,
                    Ok(None) | Ok(Some(Err(_))) => break,
                    Ok(Some(Ok(WatchResponse::Events { revision, events }))) => {
                        next = revision.0 + 1;
                        rec.messages.push(WatchMessage::Events {
                            revision: Revision(revision.0),
                            events: events.iter().filter_map(convert).collect(),
                        });
                        if rng.gen_bool(self.opts.reconnect_chance) {
                            break;
                        }
                    }
                    Ok(Some(Ok(WatchResponse::Progress { revision }))) => {
                        rec.messages.push(WatchMessage::Progress {
                            revision: Revision(revision.0),
                        });
                    }
                    Ok(Some(Ok(WatchResponse::Canceled { reason }))) => {
                        let reason = match reason {
                            StoreCancel::Slow { resume_from } => {
                                next = resume_from.0;
                                CancelReason::Slow {
                                    resume_from: Revision(resume_from.0),
                                }
                            }
                            StoreCancel::Compacted { compacted } => {
                                next = next.max(compacted.0 + 1);
                                CancelReason::Compacted {
                                    compacted: Revision(compacted.0),
                                }
                            }
                            _ => CancelReason::Other,
                        };
                        rec.messages.push(WatchMessage::Canceled { reason });
                        break;
                    }
                }
            }
        }
    }
}

fn put(key: &str, value: &str) -> TxnOp {
    TxnOp::Put(PutRequest {
        key: key.as_bytes().to_vec(),
        value: value.as_bytes().to_vec(),
        lease: LeaseId::NONE,
        prev_kv: false,
    })
}

/// A store event in the checker's terms; an undecodable one is dropped (and then shows
/// up as an atomicity violation, since its revision's events no longer match).
fn convert(e: &SharedEvent) -> Option<WatchEvent> {
    let w = e.decode().ok()?;
    let key = String::from_utf8_lossy(&w.event.kv.key).into_owned();
    Some(match w.event.kind {
        hive_raftstore::EventKind::Delete => WatchEvent::delete(key),
        hive_raftstore::EventKind::Put => {
            WatchEvent::put(key, String::from_utf8_lossy(&w.event.kv.value))
        }
    })
}
