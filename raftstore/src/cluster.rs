//! An in-process cluster of shard members: each member on its own actix arbiter (its
//! own thread), under its own supervisor, talking through a [`LocalRouter`], any other
//! shared [`RaftTransport`], or a network each member builds for itself when it starts
//! ([`NetworkFactory`], e.g. one QUIC endpoint per member). Tests, benchmarks and
//! testkit's in-process backend build on it.
//!
//! `kill` is the in-process analogue of `kill -9`: the member's arbiter is stopped, its
//! Raft core, pending work and any network it built are dropped mid-flight, nothing is
//! shut down cleanly. What reached `fdatasync` survives, as it would after a process
//! crash.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use actix::ArbiterHandle;
use hive_transport::supervise::{RemoveChild, RestartPolicy, StartChild, Supervisor};
use openraft::ServerState;

use crate::lessor::{Clock, SkewableClock};
use crate::log::LogOptions;
use crate::network::{LocalRouter, RaftTransport};
use crate::raft_types::Raft;
use crate::shard::{RaftInbox, Shard, ShardConfig, ShardSlot};
use crate::store::{ShardGroup, ShardMap, Store, StoreOptions};
use crate::types::{NodeId, ShardId};
use crate::watch::WatchConfig;

/// How to build the members of a local cluster.
#[derive(Clone)]
pub struct ClusterOptions {
    pub shard: ShardId,
    pub raft: openraft::Config,
    pub log: LogOptions,
    pub watch: WatchConfig,
    pub tick: Duration,
    pub progress_interval: Duration,
    pub op_timeout: Duration,
    pub store: StoreOptions,
}

impl ClusterOptions {
    /// The configuration of member `node` of this shard, keeping its data in `dir` and
    /// talking over `net`; `clock` is what it reads lease deadlines from.
    pub fn shard_config(
        &self,
        node: NodeId,
        dir: PathBuf,
        net: &MemberNetwork,
        clock: Arc<dyn Clock>,
        bootstrap: bool,
    ) -> ShardConfig {
        ShardConfig {
            shard: self.shard,
            node,
            addr: net.addr.clone(),
            dir,
            raft: self.raft.clone(),
            log: self.log.clone(),
            watch: self.watch.clone(),
            tick: self.tick,
            progress_interval: self.progress_interval,
            op_timeout: self.op_timeout,
            clock,
            transport: net.transport.clone(),
            inbox: net.inbox.clone(),
            bootstrap,
        }
    }
}

/// Starts a shard member on `arbiter` under a fresh supervisor of its own, which restarts
/// it from its directory whenever it fails. `slot` reaches whichever incarnation runs.
/// Used by [`LocalCluster`] for each member and by a member process for its shard.
pub fn start_supervised_member(
    arbiter: &ArbiterHandle,
    cfg: ShardConfig,
    slot: ShardSlot,
) -> Addr<Supervisor> {
    let node = cfg.node;
    let supervisor = Supervisor::start_in_arbiter(arbiter, move |_| {
        Supervisor::new(format!("member-{}", node.0), RestartPolicy::default())
    });
    supervisor.do_send(StartChild {
        name: member_child_name(cfg.shard),
        start: Box::new(move |link| {
            let (cfg, slot) = (cfg.clone(), slot.clone());
            Shard::start_in_arbiter(&Arbiter::current(), move |_| Shard::new(cfg, slot, link));
        }),
    });
    supervisor
}

/// The name under which a member's supervisor knows its shard child, e.g. for
/// [`RemoveChild`].
pub fn member_child_name(shard: ShardId) -> String {
    format!("shard-{}", shard.0)
}

impl Default for ClusterOptions {
    fn default() -> Self {
        ClusterOptions {
            shard: ShardId(1),
            raft: ShardConfig::default_raft_config(),
            log: LogOptions::default(),
            watch: WatchConfig::default(),
            tick: Duration::from_millis(50),
            progress_interval: Duration::from_secs(1),
            op_timeout: Duration::from_secs(5),
            store: StoreOptions::default(),
        }
    }
}

/// How one member reaches its peers and is reached by them.
#[derive(Clone)]
pub struct MemberNetwork {
    /// The address peers use for this member (it goes into the shard membership).
    pub addr: String,
    /// Where the member's outgoing Raft messages go.
    pub transport: Arc<dyn RaftTransport>,
    /// Where the member's incoming Raft messages find it.
    pub inbox: Arc<dyn RaftInbox>,
}

/// Builds a member's network at every start of the member, on the member's own arbiter,
/// so that what the network runs (an endpoint and its tasks) lives and dies with the
/// member as it would with its process. A member that restarts must come back at the
/// address it had: the shard membership records it.
pub type NetworkFactory = Arc<dyn Fn(NodeId) -> Result<MemberNetwork, String> + Send + Sync>;

/// Like [`NetworkFactory`], and also given the slot through which the member's
/// incarnations are reached, so that services the factory puts on the member's endpoint
/// (e.g. the store's client API, `remote::StoreServer`) can serve the member.
pub type ServingNetworkFactory =
    Arc<dyn Fn(NodeId, ShardSlot) -> Result<MemberNetwork, String> + Send + Sync>;

/// Where members get their network from.
enum Network {
    /// One transport and inbox for every member (the in-process router).
    Shared {
        transport: Arc<dyn RaftTransport>,
        inbox: Arc<dyn RaftInbox>,
    },
    /// Each member builds its own when it starts.
    PerMember(ServingNetworkFactory),
}

struct Member {
    arbiter: Arbiter,
    slot: ShardSlot,
    supervisor: Addr<Supervisor>,
    clock: SkewableClock,
    addr: String,
    inbox: Arc<dyn RaftInbox>,
}

/// A shard's members in this process.
pub struct LocalCluster {
    dir: PathBuf,
    opts: ClusterOptions,
    router: LocalRouter,
    network: Network,
    group: ShardGroup,
    members: BTreeMap<NodeId, Member>,
}

fn addr_of(node: NodeId) -> String {
    format!("local://{}", node.0)
}

impl LocalCluster {
    /// A cluster whose members keep their data under `dir/<node>`; nothing started yet.
    pub fn new(dir: &Path, opts: ClusterOptions) -> Self {
        let router = LocalRouter::new();
        LocalCluster {
            dir: dir.to_path_buf(),
            opts,
            network: Network::Shared {
                transport: Arc::new(router.clone()),
                inbox: Arc::new(router.clone()),
            },
            router,
            group: ShardGroup::new(),
            members: BTreeMap::new(),
        }
    }

    /// Uses another transport (e.g. QUIC) and inbox instead of the in-process router.
    pub fn with_transport(
        mut self,
        transport: Arc<dyn RaftTransport>,
        inbox: Arc<dyn RaftInbox>,
    ) -> Self {
        self.network = Network::Shared { transport, inbox };
        self
    }

    /// Gives every member a network of its own, built by `factory` each time the member
    /// starts (e.g. a QUIC endpoint per member), instead of the in-process router.
    pub fn with_member_network(self, factory: NetworkFactory) -> Self {
        self.with_serving_member_network(Arc::new(move |node, _slot| factory(node)))
    }

    /// Gives every member a network of its own, as [`LocalCluster::with_member_network`]
    /// does, built by a factory that also learns the member's slot (to serve clients on
    /// the member's endpoint).
    pub fn with_serving_member_network(mut self, factory: ServingNetworkFactory) -> Self {
        self.network = Network::PerMember(factory);
        self
    }

    /// Starts an `n`-member shard: member 1 bootstraps, the others join as learners and
    /// are promoted to voters, as a real cluster grows.
    pub async fn start(dir: &Path, n: u64, opts: ClusterOptions) -> ClusterResult<Self> {
        LocalCluster::new(dir, opts).start_members(n).await
    }

    /// Starts members `1..=n` of a new shard on this cluster's network, as
    /// [`LocalCluster::start`] does.
    pub async fn start_members(mut self, n: u64) -> ClusterResult<Self> {
        self.try_start_member(NodeId(1), true)?;
        self.wait_for_leader(Duration::from_secs(10)).await?;
        for id in 2..=n {
            let node = NodeId(id);
            self.try_start_member(node, false)?;
            let addr = self
                .member_addr(node)
                .ok_or_else(|| format!("member {node} is not running after its start"))?;
            self.store()
                .add_member(node, addr)
                .await
                .map_err(|e| e.to_string())?;
        }
        Ok(self)
    }

    /// The in-process router, for partitions.
    pub fn router(&self) -> &LocalRouter {
        &self.router
    }

    /// A client of this cluster.
    pub fn store(&self) -> Store {
        Store::new(
            ShardMap::single(self.opts.shard, self.group.clone()),
            self.opts.store.clone(),
        )
    }

    /// A client that reaches only `nodes`, as a client on one side of a partition would.
    /// It knows the members' current incarnations; make a new one after a restart.
    pub fn store_of(&self, nodes: &[NodeId]) -> Store {
        let group = ShardGroup::new();
        for node in nodes {
            if let Some(m) = self.members.get(node) {
                group.add(*node, m.slot.clone());
            }
        }
        Store::new(
            ShardMap::single(self.opts.shard, group),
            self.opts.store.clone(),
        )
    }

    /// The address a running member is reached at.
    pub fn member_addr(&self, node: NodeId) -> Option<String> {
        self.members.get(&node).map(|m| m.addr.clone())
    }

    /// The ids of members started and not killed.
    pub fn running(&self) -> Vec<NodeId> {
        self.members.keys().copied().collect()
    }

    /// The clock member `node` reads for lease deadlines.
    pub fn clock(&self, node: NodeId) -> Option<SkewableClock> {
        self.members.get(&node).map(|m| m.clock.clone())
    }

    /// Starts (or restarts, from its directory) member `node` under a fresh supervisor.
    /// A failure to build the member's network is logged; [`LocalCluster::try_start_member`]
    /// returns it instead.
    pub fn start_member(&mut self, node: NodeId, bootstrap: bool) {
        if let Err(error) = self.try_start_member(node, bootstrap) {
            tracing::error!(%node, %error, "member did not start");
        }
    }

    /// Builds member `node`'s network on a new arbiter and, if that worked, starts the
    /// member there under a fresh supervisor (from its directory, if it ran before).
    pub fn try_start_member(&mut self, node: NodeId, bootstrap: bool) -> ClusterResult<()> {
        let arbiter = Arbiter::new();
        let slot = ShardSlot::new();
        let net = match self.member_network(&arbiter, node, &slot) {
            Ok(net) => net,
            Err(e) => {
                arbiter.stop();
                let _ = arbiter.join();
                return Err(format!("member {node}: building its network: {e}"));
            }
        };
        let clock = SkewableClock::default();
        let cfg = self.opts.shard_config(
            node,
            self.dir.join(format!("n{}", node.0)),
            &net,
            Arc::new(clock.clone()) as Arc<dyn Clock>,
            bootstrap,
        );
        let supervisor = start_supervised_member(&arbiter.handle(), cfg, slot.clone());
        self.group.add(node, slot.clone());
        self.members.insert(
            node,
            Member {
                arbiter,
                slot,
                supervisor,
                clock,
                addr: net.addr,
                inbox: net.inbox,
            },
        );
        Ok(())
    }

    /// The network member `node` uses: the shared one, or one the factory builds on the
    /// member's arbiter (blocking this thread until it is built; binding is quick).
    fn member_network(
        &self,
        arbiter: &Arbiter,
        node: NodeId,
        slot: &ShardSlot,
    ) -> ClusterResult<MemberNetwork> {
        match &self.network {
            Network::Shared { transport, inbox } => Ok(MemberNetwork {
                addr: addr_of(node),
                transport: transport.clone(),
                inbox: inbox.clone(),
            }),
            Network::PerMember(factory) => {
                let (tx, rx) = std::sync::mpsc::channel();
                let (factory, slot) = (factory.clone(), slot.clone());
                if !arbiter.spawn_fn(move || drop(tx.send(factory(node, slot)))) {
                    return Err("the member's arbiter is not running".into());
                }
                rx.recv()
                    .map_err(|_| "the network factory panicked".to_string())?
            }
        }
    }

    /// Kills a member without any clean shutdown.
    pub fn kill(&mut self, node: NodeId) {
        if let Some(m) = self.members.remove(&node) {
            m.supervisor.do_send(RemoveChild {
                name: member_child_name(self.opts.shard),
            });
            m.inbox.unregister(self.opts.shard, node);
            m.slot.clear();
            m.arbiter.stop();
            // Joining drops the arbiter's runtime and everything the member ran on it, a
            // network it built included (as with a process); the rest of `m` drops below.
            let _ = m.arbiter.join();
            tracing::info!(%node, "killed member");
        }
    }

    /// Kills then restarts a member from its data directory.
    pub fn restart(&mut self, node: NodeId) {
        self.kill(node);
        self.start_member(node, false);
    }

    /// The Raft handle of a running member.
    pub fn raft(&self, node: NodeId) -> Option<Raft> {
        self.members
            .get(&node)
            .and_then(|m| m.slot.get().ok())
            .map(|r| r.raft)
    }

    /// A running member's log counters.
    pub fn log_stats(&self, node: NodeId) -> Option<crate::log::LogStats> {
        self.members
            .get(&node)
            .and_then(|m| m.slot.get().ok())
            .map(|r| r.log_stats.get())
    }

    /// The member that leads in the highest term among running members (a deposed
    /// leader that has not yet noticed its successor is not reported).
    pub fn leader(&self) -> Option<NodeId> {
        let mut best: Option<(u64, NodeId)> = None;
        for id in self.members.keys() {
            let Some(raft) = self.raft(*id) else { continue };
            let m = raft.metrics().borrow().clone();
            if m.state == ServerState::Leader && best.is_none_or(|(term, _)| m.current_term > term)
            {
                best = Some((m.current_term, *id));
            }
        }
        best.map(|(_, id)| id)
    }

    /// Waits until some member leads.
    pub async fn wait_for_leader(&self, timeout: Duration) -> ClusterResult<NodeId> {
        wait_until(timeout, "a leader is elected", || self.leader()).await
    }

    /// Waits until a member other than `old` leads.
    pub async fn wait_for_new_leader(
        &self,
        old: NodeId,
        timeout: Duration,
    ) -> ClusterResult<NodeId> {
        wait_until(timeout, "a new leader is elected", || {
            self.leader().filter(|l| *l != old)
        })
        .await
    }

    /// Waits until every running member has applied at least `index`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> ClusterResult<()> {
        wait_until(timeout, "every member applies the log", || {
            self.members
                .keys()
                .all(|id| {
                    self.raft(*id)
                        .and_then(|r| r.metrics().borrow().last_applied.map(|l| l.index))
                        .is_some_and(|i| i >= index)
                })
                .then_some(())
        })
        .await
    }

    /// Stops every member.
    pub fn shutdown(&mut self) {
        let ids: Vec<NodeId> = self.members.keys().copied().collect();
        for id in ids {
            self.kill(id);
        }
    }
}

impl Drop for LocalCluster {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Polls `cond` until it yields a value or `timeout` passes, naming what was awaited.
pub async fn wait_until<T>(
    timeout: Duration,
    what: &str,
    mut cond: impl FnMut() -> Option<T>,
) -> ClusterResult<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = cond() {
            return Ok(v);
        }
        if Instant::now() >= deadline {
            return Err(format!("timed out after {timeout:?} waiting until {what}"));
        }
        tokio::time::sleep(POLL).await;
    }
}

const POLL: Duration = Duration::from_millis(10);

/// Results of cluster helpers: a readable message on failure.
pub type ClusterResult<T> = Result<T, String>;
