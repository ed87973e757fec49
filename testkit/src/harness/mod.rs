//! The cluster harness: one trait, [`ClusterBackend`], for everything a chaos run does to
//! a cluster (start it, kill and restart members, pause them, cut the network, skew
//! clocks, break disks, change membership) and one, [`KvClient`], for what its clients
//! do. Nemesis, workloads and the runner are written against these traits only, so the
//! same scenario runs on the in-process backend ([`local::LocalBackend`], members on
//! actix arbiters behind the in-process router) and on the multi-process backend
//! ([`process::ProcessBackend`]: hive processes in network namespaces, partitioned with
//! nftables, paused with SIGSTOP, its clients over QUIC). [`suite`] is the behaviour
//! both must show.
//!
//! Methods are `async` because a process backend must wait on processes and sockets; the
//! futures need not be `Send`, since every run drives its backend from one task.

use std::fmt;
use std::time::Duration;

use hive_raftstore::watch::WatchResponse;
use hive_raftstore::{
    KeyRange, KeyValue, NodeId, Revision, Store, StoreResult, TxnRequest, TxnResponse,
};
use serde::{Deserialize, Serialize};

pub mod local;
pub mod process;
pub mod suite;

pub use local::{LocalBackend, LocalOptions};
pub use process::{ProcessBackend, ProcessClient, ProcessOptions};

/// A one-shot disk fault: it fires at the next matching disk operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum DiskFault {
    /// The next fsync fails; the member's log is poisoned and its supervisor restarts it.
    FailNextFsync,
    /// The next log write stores half of its bytes, then fails (a torn write).
    TearNextWrite,
}

impl fmt::Display for DiskFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DiskFault::FailNextFsync => "fail-next-fsync",
            DiskFault::TearNextWrite => "tear-next-write",
        })
    }
}

/// The kinds of fault a backend may or may not be able to inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Capability {
    /// `kill -9` and restart from the data directory.
    Kill,
    /// Freeze a member (SIGSTOP) and thaw it.
    Pause,
    /// Partitions, isolation and one-way cuts.
    Network,
    /// Per-member clock skew.
    Skew,
    /// [`DiskFault`]s.
    Disk,
    /// Adding and removing members.
    Membership,
}

/// A running cluster a chaos run can break and heal. Member ids are the store's
/// [`NodeId`]s; every method that names a member fails on a member it does not know.
#[allow(async_fn_in_trait)] // runs are driven from one task; no future crosses threads
pub trait ClusterBackend {
    /// How clients reach the cluster.
    type Client: KvClient;

    /// A short description for reports, e.g. `in-process (router)`.
    fn describe(&self) -> String;

    /// Whether this backend can inject faults of `capability`.
    fn supports(&self, capability: Capability) -> bool;

    /// Every member of the shard, running or not (removed members excluded).
    fn members(&self) -> Vec<NodeId>;

    /// Members started and not killed.
    fn running(&self) -> Vec<NodeId>;

    /// The longest election timeout, the unit in which liveness is measured.
    fn election_timeout(&self) -> Duration;

    /// A client that follows the leader across faults and restarts.
    fn client(&self) -> Self::Client;

    /// The client for a workload's client number `i`. Backends whose clients can be
    /// pinned to different members (as real clients are to their endpoints) do so, so
    /// the clients of one run see the cluster from different members.
    fn client_for(&self, i: usize) -> Self::Client {
        let _ = i;
        self.client()
    }

    /// The member leading in the highest term, if any member leads.
    async fn leader(&self) -> Option<NodeId>;

    /// Waits until some member leads.
    async fn wait_for_leader(&self, timeout: Duration) -> anyhow::Result<NodeId>;

    /// Kills a member with no clean shutdown (`kill -9`).
    async fn kill(&mut self, node: NodeId) -> anyhow::Result<()>;

    /// Kills every running member at the same instant, as a power cut of the whole
    /// cluster would; answers the members it killed. By default they are killed one by
    /// one; a backend that can simulate lost power makes it one instant.
    async fn crash_all(&mut self) -> anyhow::Result<Vec<NodeId>> {
        let running = self.running();
        let mut done = Ok(());
        for &n in &running {
            done = done.and(self.kill(n).await);
        }
        done.map(|()| running)
    }
    /// Starts a killed member again from its data directory.
    async fn restart(&mut self, node: NodeId) -> anyhow::Result<()>;

    /// Freezes a member: it neither runs nor answers until resumed (SIGSTOP).
    async fn pause(&mut self, node: NodeId) -> anyhow::Result<()>;

    /// Thaws a paused member (SIGCONT).
    async fn resume(&mut self, node: NodeId) -> anyhow::Result<()>;

    /// Splits the members into `groups`: members in different groups cannot talk.
    /// Members in no group are cut off from everyone.
    fn partition(&mut self, groups: &[Vec<NodeId>]) -> anyhow::Result<()>;

    /// Cuts every link between `node` and the other members, both ways.
    fn isolate(&mut self, node: NodeId) -> anyhow::Result<()>;

    /// Drops messages from `from` to `to` only.
    fn cut_one_way(&mut self, from: NodeId, to: NodeId) -> anyhow::Result<()>;

    /// Restores every link.
    fn heal_network(&mut self) -> anyhow::Result<()>;

    /// Moves `node`'s clock `ms` milliseconds ahead (negative: behind); 0 undoes it.
    fn skew_clock(&mut self, node: NodeId, ms: i64) -> anyhow::Result<()>;

    /// Injects a disk fault on `node`, or on whichever member touches its disk next
    /// when `node` is `None`.
    fn disk_fault(&mut self, node: Option<NodeId>, fault: DiskFault) -> anyhow::Result<()>;

    /// Starts a new member and makes it a voter; answers its id.
    async fn add_member(&mut self) -> anyhow::Result<NodeId>;

    /// Removes a member from the shard and stops it.
    async fn remove_member(&mut self, node: NodeId) -> anyhow::Result<()>;

    /// Undoes every fault: thaws paused members, heals the network, resets clocks and
    /// restarts killed members.
    async fn heal_all(&mut self) -> anyhow::Result<()> {
        for node in self.members() {
            self.resume(node).await?;
            self.skew_clock(node, 0)?;
        }
        self.heal_network()?;
        let running = self.running();
        for node in self.members() {
            if !running.contains(&node) {
                self.restart(node).await?;
            }
        }
        Ok(())
    }
}

/// One watch stream as a client sees it.
#[allow(async_fn_in_trait)]
pub trait WatchStream {
    /// The next response; `None` once the stream ended (the serving member went away).
    async fn next(&mut self) -> Option<StoreResult<WatchResponse>>;
}

/// The store operations the workloads use, over whichever client a backend provides
/// (the in-process [`Store`], or a remote client for a process backend).
#[allow(async_fn_in_trait)]
pub trait KvClient: Clone + 'static {
    /// The client's watch stream.
    type Watch: WatchStream;

    /// Reads one key linearizably.
    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>>;

    /// Writes a key; answers the revision of the write.
    async fn put(&self, key: &str, value: &str) -> StoreResult<Revision>;

    /// Writes `value` if the key's mod revision is `expected` (0: absent); answers the
    /// new revision, or `StoreError::Conflict`.
    async fn cas(&self, key: &str, expected: Revision, value: &str) -> StoreResult<Revision>;

    /// Runs a transaction.
    async fn txn(&self, txn: TxnRequest) -> StoreResult<TxnResponse>;

    /// Discards history below `revision`.
    async fn compact(&self, revision: Revision) -> StoreResult<()>;

    /// Watches `range` from `start` with progress notifications.
    async fn watch(&self, range: KeyRange, start: Revision) -> StoreResult<Self::Watch>;
}

impl WatchStream for hive_raftstore::watch::WatchReceiver {
    async fn next(&mut self) -> Option<StoreResult<WatchResponse>> {
        self.recv().await.map(Ok)
    }
}

impl KvClient for Store {
    type Watch = hive_raftstore::watch::WatchReceiver;

    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        Store::get(self, key).await
    }

    async fn put(&self, key: &str, value: &str) -> StoreResult<Revision> {
        Store::put(self, key, value).await.map(|r| r.revision)
    }

    async fn cas(&self, key: &str, expected: Revision, value: &str) -> StoreResult<Revision> {
        Store::cas(self, key, expected, value).await
    }

    async fn txn(&self, txn: TxnRequest) -> StoreResult<TxnResponse> {
        Store::txn(self, txn).await
    }

    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        Store::compact(self, revision).await
    }

    async fn watch(&self, range: KeyRange, start: Revision) -> StoreResult<Self::Watch> {
        Store::watch(self, range, Some(start), true).await
    }
}
