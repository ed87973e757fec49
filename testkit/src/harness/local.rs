//! The in-process backend: a [`LocalCluster`] whose members run on their own actix
//! arbiters and talk through the in-process router, so partitions are router cuts.
//! Must be used inside an actix `System`.
//!
//! How each fault is made here:
//! - kill: the member's arbiter is stopped and joined (its Raft core and pending work
//!   dropped mid-flight); restart starts it from its directory.
//! - pause: a request into the member's Raft core blocks the member's arbiter thread
//!   until resumed, freezing everything the member runs, as SIGSTOP would.
//! - partition: directed router cuts between groups.
//! - skew: the member's lease clock (a restart resets it).
//! - disk: one `DiskFaults` switchboard shared by every member's log (the cluster has
//!   one `LogOptions`), so a fault fires on whichever member touches its disk next and
//!   cannot be aimed; and a killed member loses what its log had not synced, as after a
//!   power cut. A crash of every member cuts the power of every log at one instant
//!   before the members are killed one by one, so none of them syncs or acknowledges
//!   anything in between. Needs a store built with `failpoints`
//!   (`hive_raftstore::planted`).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc;
use std::time::Duration;

use anyhow::{anyhow, bail, Context};
use hive_raftstore::cluster::{ClusterOptions, LocalCluster};
use hive_raftstore::planted::{self, DiskSwitch};
use hive_raftstore::{NodeId, Store};

use super::{Capability, ClusterBackend, DiskFault};

/// How to build an in-process cluster.
#[derive(Clone, Debug)]
pub struct LocalOptions {
    /// Heartbeat interval of Raft, in milliseconds.
    pub heartbeat_ms: u64,
    /// Election timeout range of Raft, in milliseconds.
    pub election_timeout_ms: (u64, u64),
    /// How long a client keeps retrying one call (leader changes included).
    pub client_deadline: Duration,
    /// Where members keep their data; a fresh temporary directory when `None`.
    pub dir: Option<std::path::PathBuf>,
}

impl Default for LocalOptions {
    fn default() -> Self {
        LocalOptions {
            heartbeat_ms: 50,
            election_timeout_ms: (300, 600),
            client_deadline: Duration::from_secs(3),
            dir: None,
        }
    }
}

/// An in-process cluster under a chaos run's control.
pub struct LocalBackend {
    // Field order matters on drop: paused members are thawed (senders dropped) in
    // `Drop` before the cluster joins their arbiters, and the directory goes last.
    cluster: LocalCluster,
    /// Members of the shard (started at some point and not removed).
    members: BTreeSet<NodeId>,
    /// Paused members; dropping the sender thaws the member.
    paused: BTreeMap<NodeId, mpsc::Sender<()>>,
    next_id: u64,
    election_timeout: Duration,
    disk: Option<DiskSwitch>,
    _dir: Option<tempfile::TempDir>,
}

impl LocalBackend {
    /// Starts an `n`-member cluster and waits for its first leader.
    pub async fn start(n: u64, opts: LocalOptions) -> anyhow::Result<LocalBackend> {
        let (tmp, dir) = match &opts.dir {
            Some(d) => (None, d.clone()),
            None => {
                let t = tempfile::tempdir().context("creating the cluster's directory")?;
                let p = t.path().to_path_buf();
                (Some(t), p)
            }
        };
        let mut o = ClusterOptions::default();
        o.raft.heartbeat_interval = opts.heartbeat_ms;
        o.raft.election_timeout_min = opts.election_timeout_ms.0;
        o.raft.election_timeout_max = opts.election_timeout_ms.1;
        o.tick = Duration::from_millis(20);
        o.progress_interval = Duration::from_millis(200);
        o.op_timeout = opts.client_deadline;
        o.store.deadline = opts.client_deadline;
        let disk = planted::disk_switch(&mut o.log);
        if let Some(d) = &disk {
            d.lose_unsynced_on_kill();
        }
        let cluster = LocalCluster::start(&dir, n, o)
            .await
            .map_err(|e| anyhow!("starting {n} members: {e}"))?;
        let backend = LocalBackend {
            cluster,
            members: (1..=n).map(NodeId).collect(),
            paused: BTreeMap::new(),
            next_id: n + 1,
            election_timeout: Duration::from_millis(opts.election_timeout_ms.1),
            disk,
            _dir: tmp,
        };
        backend.wait_for_leader(Duration::from_secs(10)).await?;
        Ok(backend)
    }

    /// The cluster itself, for scenario code that needs more than the trait offers.
    pub fn cluster(&self) -> &LocalCluster {
        &self.cluster
    }

    fn known(&self, node: NodeId) -> anyhow::Result<()> {
        if self.members.contains(&node) {
            Ok(())
        } else {
            bail!("{node} is not a member")
        }
    }
}

impl Drop for LocalBackend {
    fn drop(&mut self) {
        // Thaw before the cluster joins the arbiters, or the join would wait forever.
        self.paused.clear();
        self.cluster.shutdown();
    }
}

impl ClusterBackend for LocalBackend {
    type Client = Store;

    fn describe(&self) -> String {
        "in-process (actix arbiters, router partitions)".to_string()
    }

    fn supports(&self, capability: Capability) -> bool {
        capability != Capability::Disk || self.disk.is_some()
    }

    fn members(&self) -> Vec<NodeId> {
        self.members.iter().copied().collect()
    }

    fn running(&self) -> Vec<NodeId> {
        self.cluster.running()
    }

    fn election_timeout(&self) -> Duration {
        self.election_timeout
    }

    fn client(&self) -> Store {
        self.cluster.store()
    }

    async fn leader(&self) -> Option<NodeId> {
        self.cluster.leader()
    }

    async fn wait_for_leader(&self, timeout: Duration) -> anyhow::Result<NodeId> {
        self.cluster
            .wait_for_leader(timeout)
            .await
            .map_err(|e| anyhow!(e))
    }

    async fn kill(&mut self, node: NodeId) -> anyhow::Result<()> {
        self.known(node)?;
        self.paused.remove(&node);
        self.cluster.kill(node);
        Ok(())
    }

    async fn crash_all(&mut self) -> anyhow::Result<Vec<NodeId>> {
        // Members die one by one here, so power goes first, for all of them at once:
        // from this instant no log syncs or acknowledges anything, and each kill below
        // cuts its log back to what it had synced at this instant.
        if let Some(disk) = &self.disk {
            disk.cut_power();
        }
        let running = self.cluster.running();
        for &n in &running {
            self.paused.remove(&n);
            self.cluster.kill(n);
        }
        Ok(running)
    }

    async fn restart(&mut self, node: NodeId) -> anyhow::Result<()> {
        self.known(node)?;
        if self.cluster.running().contains(&node) {
            return Ok(());
        }
        self.cluster
            .try_start_member(node, false)
            .map_err(|e| anyhow!(e))
    }

    async fn pause(&mut self, node: NodeId) -> anyhow::Result<()> {
        self.known(node)?;
        if self.paused.contains_key(&node) {
            return Ok(());
        }
        let raft = self
            .cluster
            .raft(node)
            .ok_or_else(|| anyhow!("{node} is not running"))?;
        let (tx, rx) = mpsc::channel::<()>();
        // Blocks the member's single-threaded arbiter until the sender is dropped.
        raft.external_request(move |_| {
            let _ = rx.recv();
        });
        self.paused.insert(node, tx);
        Ok(())
    }

    async fn resume(&mut self, node: NodeId) -> anyhow::Result<()> {
        self.known(node)?;
        self.paused.remove(&node);
        Ok(())
    }

    fn partition(&mut self, groups: &[Vec<NodeId>]) -> anyhow::Result<()> {
        let all = self.members();
        let group_of = |n: NodeId| groups.iter().position(|g| g.contains(&n));
        for &a in &all {
            for &b in &all {
                if a != b && (group_of(a).is_none() || group_of(a) != group_of(b)) {
                    self.cluster.router().cut_one_way(a, b);
                }
            }
        }
        Ok(())
    }

    fn isolate(&mut self, node: NodeId) -> anyhow::Result<()> {
        self.known(node)?;
        self.cluster.router().isolate(node, &self.members());
        Ok(())
    }

    fn cut_one_way(&mut self, from: NodeId, to: NodeId) -> anyhow::Result<()> {
        self.known(from)?;
        self.known(to)?;
        self.cluster.router().cut_one_way(from, to);
        Ok(())
    }

    fn heal_network(&mut self) -> anyhow::Result<()> {
        self.cluster.router().heal();
        Ok(())
    }

    fn skew_clock(&mut self, node: NodeId, ms: i64) -> anyhow::Result<()> {
        self.known(node)?;
        // A killed member has no clock; it gets an unskewed one when it restarts.
        if let Some(clock) = self.cluster.clock(node) {
            clock.set_skew_ms(ms);
        }
        Ok(())
    }

    fn disk_fault(&mut self, node: Option<NodeId>, fault: DiskFault) -> anyhow::Result<()> {
        if let Some(node) = node {
            bail!("the in-process backend cannot aim a disk fault at {node}: its members share one switchboard");
        }
        let Some(disk) = &self.disk else {
            bail!("disk fault {fault} needs a store built with the `failpoints` feature");
        };
        match fault {
            DiskFault::FailNextFsync => disk.fail_next_fsync(),
            DiskFault::TearNextWrite => disk.tear_next_write(),
        }
        Ok(())
    }

    async fn add_member(&mut self) -> anyhow::Result<NodeId> {
        let node = NodeId(self.next_id);
        self.next_id += 1;
        self.cluster
            .try_start_member(node, false)
            .map_err(|e| anyhow!(e))?;
        self.members.insert(node);
        let addr = self
            .cluster
            .member_addr(node)
            .ok_or_else(|| anyhow!("{node} is not running after its start"))?;
        // On an error the change may still have happened: the member stays running and
        // listed, and removing it (as the member nemesis does at the end) settles it.
        self.cluster
            .store()
            .add_member(node, addr)
            .await
            .map_err(|e| anyhow!("adding {node}: {e}"))?;
        Ok(node)
    }

    async fn remove_member(&mut self, node: NodeId) -> anyhow::Result<()> {
        self.known(node)?;
        self.cluster
            .store()
            .remove_member(node)
            .await
            .map_err(|e| anyhow!("removing {node}: {e}"))?;
        self.paused.remove(&node);
        self.cluster.kill(node);
        self.members.remove(&node);
        Ok(())
    }
}
