//! A shard member as a supervised actor.
//!
//! The actor owns one openraft group member: it opens the log and the state machine
//! from disk, starts Raft, registers with the network, and then stays thin — every
//! client message is unpacked, handed to Raft or to the state machine, and answered by a
//! future that does not block the mailbox. Clock-driven work (lease expiry, watch
//! progress notifications, noticing leadership changes and fatal Raft errors) runs on a
//! tick. A fatal error stops the actor through its [`ChildLink`], and the supervisor
//! starts a fresh incarnation from what is on disk.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use actix::prelude::*;
use hive_transport::supervise::ChildLink;
use openraft::error::{ClientWriteError, RaftError};
use openraft::{BasicNode, ServerState};
use parking_lot::RwLock;

use tokio::sync::oneshot;

use crate::batcher::Batcher;
use crate::error::{StoreError, StoreResult};
use crate::lessor::{Clock, Lessor};
use crate::log::{LogOptions, LogStatsHandle, LogStore};
use crate::network::{RaftNet, RaftTransport};
use crate::raft_types::Raft;
use crate::sm::{SmHandle, StateMachine};
use crate::types::{Command, CommandResponse, LeaseId, NodeId, Proposal, ShardId};
use crate::watch::WatchConfig;

/// Where a transport delivers incoming Raft messages: the shard registers its Raft
/// handle on start and withdraws it on stop.
pub trait RaftInbox: Send + Sync + 'static {
    fn register(&self, shard: ShardId, node: NodeId, raft: Raft);
    fn unregister(&self, shard: ShardId, node: NodeId);
}

impl RaftInbox for crate::network::LocalRouter {
    fn register(&self, shard: ShardId, node: NodeId, raft: Raft) {
        crate::network::LocalRouter::register(self, shard, node, raft)
    }
    fn unregister(&self, shard: ShardId, node: NodeId) {
        crate::network::LocalRouter::unregister(self, shard, node)
    }
}

/// Everything a shard member needs to start; cloned for every restart.
#[derive(Clone)]
pub struct ShardConfig {
    pub shard: ShardId,
    pub node: NodeId,
    /// The address peers use to reach this member.
    pub addr: String,
    /// This member's directory for this shard (log and snapshots).
    pub dir: PathBuf,
    pub raft: openraft::Config,
    pub log: LogOptions,
    pub watch: WatchConfig,
    /// How often lease deadlines, progress notifications and Raft health are checked.
    pub tick: Duration,
    /// How often synced watchers that asked for it get a progress notification.
    pub progress_interval: Duration,
    /// Bound on one client operation inside the member.
    pub op_timeout: Duration,
    pub clock: Arc<dyn Clock>,
    pub transport: Arc<dyn RaftTransport>,
    pub inbox: Arc<dyn RaftInbox>,
    /// Initialize a new single-member group if the log is empty (the first member).
    pub bootstrap: bool,
}

impl ShardConfig {
    /// Raft timings for members on one machine or a LAN.
    pub fn default_raft_config() -> openraft::Config {
        openraft::Config {
            cluster_name: "hive".into(),
            heartbeat_interval: 50,
            election_timeout_min: 300,
            election_timeout_max: 600,
            max_payload_entries: 1024,
            snapshot_policy: openraft::SnapshotPolicy::LogsSinceLast(20_000),
            max_in_snapshot_log_to_keep: 1_000,
            install_snapshot_timeout: 2_000,
            ..Default::default()
        }
    }
}

/// A stable way to reach the current incarnation of a shard member, across restarts.
#[derive(Clone, Default)]
pub struct ShardSlot {
    inner: Arc<RwLock<Option<Running>>>,
}

/// The handles of one running incarnation.
#[derive(Clone)]
pub struct Running {
    pub addr: Addr<Shard>,
    pub raft: Raft,
    pub sm: SmHandle,
    /// The member's log counters (appends, fsyncs), for benchmarks and tests.
    pub log_stats: LogStatsHandle,
}

impl ShardSlot {
    pub fn new() -> Self {
        Self::default()
    }

    /// The running incarnation, or `Unavailable` while (re)starting.
    pub fn get(&self) -> StoreResult<Running> {
        self.inner
            .read()
            .clone()
            .ok_or_else(|| StoreError::Unavailable("member is not running".into()))
    }

    fn set(&self, r: Option<Running>) {
        *self.inner.write() = r;
    }

    /// Forgets the running incarnation (it was killed).
    pub fn clear(&self) {
        self.set(None);
    }
}

/// The shard member actor.
pub struct Shard {
    cfg: ShardConfig,
    slot: ShardSlot,
    link: ChildLink,
    raft: Option<Raft>,
    sm: Option<SmHandle>,
    lessor: Lessor,
    batcher: Batcher<Pending>,
    was_leader: bool,
    last_progress: std::time::Instant,
}

/// A command waiting for its proposal; `reply` is absent for the shard's own proposals.
struct Pending {
    cmd: Command,
    reply: Option<oneshot::Sender<StoreResult<CommandResponse>>>,
}

/// Proposals kept in Raft at once; see `batcher`.
const MAX_IN_FLIGHT: usize = 2;
/// Commands per proposal at most.
const MAX_BATCH: usize = 512;

impl Shard {
    pub fn new(cfg: ShardConfig, slot: ShardSlot, link: ChildLink) -> Self {
        Shard {
            cfg,
            slot,
            link,
            raft: None,
            sm: None,
            lessor: Lessor::new(),
            batcher: Batcher::new(MAX_IN_FLIGHT, MAX_BATCH),
            was_leader: false,
            last_progress: std::time::Instant::now(),
        }
    }

    async fn open(cfg: ShardConfig) -> Result<(Raft, SmHandle, LogStatsHandle), String> {
        // Opening scans every segment: keep that off the arbiter's event loop.
        let (dir, opts) = (cfg.dir.clone(), cfg.log.clone());
        let log = tokio::task::spawn_blocking(move || LogStore::open(&dir, opts))
            .await
            .map_err(|e| format!("opening the log: {e}"))?
            .map_err(|e| format!("opening the log: {e}"))?;
        let log_stats = log.stats_handle();
        let sm = StateMachine::open(&cfg.dir, cfg.watch.clone())
            .map_err(|e| format!("opening the state machine: {e}"))?;
        let handle = sm.handle();
        let net = RaftNet {
            shard: cfg.shard,
            me: cfg.node,
            transport: cfg.transport.clone(),
        };
        let config = Arc::new(
            cfg.raft
                .clone()
                .validate()
                .map_err(|e| format!("raft config: {e}"))?,
        );
        let raft = Raft::new(cfg.node, config, net, log, sm)
            .await
            .map_err(|e| format!("starting raft: {e}"))?;
        cfg.inbox.register(cfg.shard, cfg.node, raft.clone());
        if cfg.bootstrap && !raft.is_initialized().await.map_err(|e| e.to_string())? {
            let members = BTreeMap::from([(
                cfg.node,
                BasicNode {
                    addr: cfg.addr.clone(),
                },
            )]);
            if let Err(e) = raft.initialize(members).await {
                tracing::info!(shard = %cfg.shard, node = %cfg.node, error = %e, "not initializing");
            }
        }
        Ok((raft, handle, log_stats))
    }

    fn tick(&mut self, ctx: &mut Context<Self>) {
        let (Some(raft), Some(sm)) = (self.raft.clone(), self.sm.clone()) else {
            return;
        };
        let m = raft.metrics().borrow().clone();
        if let Err(fatal) = &m.running_state {
            let why = format!("raft stopped: {fatal}");
            self.link.fail::<Self>(ctx, why);
            return;
        }
        let now = self.cfg.clock.now();
        let leader = m.state == ServerState::Leader;
        if leader != self.was_leader {
            tracing::info!(shard = %self.cfg.shard, node = %self.cfg.node, leader, term = m.current_term, "leadership changed");
            // A new leader starts every lease afresh (etcd's promote); a follower keeps none.
            self.lessor.clear();
            self.was_leader = leader;
        }
        if leader {
            self.lessor.sync(&sm.leases(), now);
            let expired = self.lessor.take_expired(now, self.cfg.raft_retry());
            if !expired.is_empty() {
                tracing::debug!(shard = %self.cfg.shard, leases = ?expired, "proposing lease expiry");
                self.enqueue(
                    Pending {
                        cmd: Command::LeaseExpire { ids: expired },
                        reply: None,
                    },
                    ctx,
                );
            }
        }
        if self.last_progress.elapsed() >= self.cfg.progress_interval {
            self.last_progress = std::time::Instant::now();
            sm.progress();
        }
        sm.pump();
    }
}

impl ShardConfig {
    fn raft_retry(&self) -> Duration {
        Duration::from_millis(self.raft.election_timeout_max.max(100))
    }
}

impl Actor for Shard {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        let cfg = self.cfg.clone();
        tracing::info!(shard = %cfg.shard, node = %cfg.node, dir = %cfg.dir.display(), "shard member starting");
        ctx.wait(
            Self::open(cfg)
                .into_actor(self)
                .map(|res, act, ctx| match res {
                    Ok((raft, sm, log_stats)) => {
                        act.slot.set(Some(Running {
                            addr: ctx.address(),
                            raft: raft.clone(),
                            sm: sm.clone(),
                            log_stats,
                        }));
                        act.raft = Some(raft);
                        ctx.spawn(actix::fut::wrap_future(sm.clone().run_pump()));
                        act.sm = Some(sm);
                        ctx.run_interval(act.cfg.tick, |act, ctx| act.tick(ctx));
                    }
                    Err(why) => act.link.fail::<Self>(ctx, why),
                }),
        );
    }

    fn stopped(&mut self, _ctx: &mut Context<Self>) {
        self.slot.set(None);
        self.cfg.inbox.unregister(self.cfg.shard, self.cfg.node);
        if let Some(raft) = self.raft.take() {
            actix::spawn(async move {
                let _ = raft.shutdown().await;
            });
        }
        tracing::info!(shard = %self.cfg.shard, node = %self.cfg.node, "shard member stopped");
    }
}

/// Maps openraft's write error to the store's.
pub(crate) fn write_error(e: RaftError<NodeId, ClientWriteError<NodeId, BasicNode>>) -> StoreError {
    match e {
        RaftError::APIError(ClientWriteError::ForwardToLeader(f)) => StoreError::NotLeader {
            leader: f
                .leader_id
                .map(|id| (id, f.leader_node.map(|n| n.addr).unwrap_or_default())),
        },
        RaftError::APIError(ClientWriteError::ChangeMembershipError(e)) => {
            StoreError::Invalid(e.to_string())
        }
        RaftError::Fatal(f) => StoreError::Fatal(f.to_string()),
    }
}

/// Proposes a command and waits until it is committed and applied.
#[derive(Message)]
#[rtype(result = "StoreResult<CommandResponse>")]
pub struct Propose(pub Command);

impl Handler<Propose> for Shard {
    type Result = ResponseFuture<StoreResult<CommandResponse>>;

    fn handle(&mut self, msg: Propose, ctx: &mut Context<Self>) -> Self::Result {
        let timeout = self.cfg.op_timeout;
        let (tx, rx) = oneshot::channel();
        self.enqueue(
            Pending {
                cmd: msg.0,
                reply: Some(tx),
            },
            ctx,
        );
        Box::pin(async move {
            match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(r)) => r,
                Ok(Err(_)) => Err(StoreError::Indeterminate(
                    "member stopped before answering".into(),
                )),
                Err(_) => Err(StoreError::Timeout(timeout)),
            }
        })
    }
}

impl Shard {
    fn enqueue(&mut self, p: Pending, ctx: &mut Context<Self>) {
        if let Some(batch) = self.batcher.push(p) {
            self.submit(batch, ctx);
        }
    }

    /// Proposes a batch as one log entry and answers each command when it is applied.
    fn submit(&mut self, batch: Vec<Pending>, ctx: &mut Context<Self>) {
        let raft = self.raft.clone();
        let timeout = self.cfg.op_timeout;
        let (cmds, replies): (Vec<Command>, Vec<_>) =
            batch.into_iter().map(|p| (p.cmd, p.reply)).unzip();
        let fut = async move {
            let raft = raft.ok_or_else(|| StoreError::Unavailable("starting".into()))?;
            match tokio::time::timeout(timeout, raft.client_write(Proposal { commands: cmds }))
                .await
            {
                Ok(Ok(resp)) => Ok(resp.data.responses),
                Ok(Err(e)) => Err(write_error(e)),
                Err(_) => Err(StoreError::Timeout(timeout)),
            }
        };
        ctx.spawn(fut.into_actor(self).map(move |res, act, ctx| {
            match res {
                Ok(responses) if responses.len() == replies.len() => {
                    for (reply, r) in replies.into_iter().zip(responses) {
                        if let Some(tx) = reply {
                            let _ = tx.send(Ok(r));
                        }
                    }
                }
                Ok(responses) => {
                    let e = StoreError::Fatal(format!(
                        "{} responses to {} commands",
                        responses.len(),
                        replies.len()
                    ));
                    replies
                        .into_iter()
                        .flatten()
                        .for_each(|tx| drop(tx.send(Err(e.clone()))));
                }
                Err(e) => replies
                    .into_iter()
                    .flatten()
                    .for_each(|tx| drop(tx.send(Err(e.clone())))),
            }
            if let Some(next) = act.batcher.done() {
                act.submit(next, ctx);
            }
        }));
    }
}

/// Confirms this member still leads and has applied everything committed before the
/// call (read index), so a following local read is linearizable.
#[derive(Message)]
#[rtype(result = "StoreResult<()>")]
pub struct ReadBarrier;

impl Handler<ReadBarrier> for Shard {
    type Result = ResponseFuture<StoreResult<()>>;

    fn handle(&mut self, _: ReadBarrier, _: &mut Context<Self>) -> Self::Result {
        let raft = self.raft.clone();
        let timeout = self.cfg.op_timeout;
        Box::pin(async move {
            let raft = raft.ok_or_else(|| StoreError::Unavailable("starting".into()))?;
            match tokio::time::timeout(timeout, crate::planted::read_index(&raft)).await {
                Ok(Ok(_)) => Ok(()),
                Ok(Err(RaftError::APIError(e))) => {
                    let f = match e {
                        openraft::error::CheckIsLeaderError::ForwardToLeader(f) => f,
                        openraft::error::CheckIsLeaderError::QuorumNotEnough(q) => {
                            return Err(StoreError::Unavailable(q.to_string()))
                        }
                    };
                    Err(StoreError::NotLeader {
                        leader: f
                            .leader_id
                            .map(|id| (id, f.leader_node.map(|n| n.addr).unwrap_or_default())),
                    })
                }
                Ok(Err(RaftError::Fatal(f))) => Err(StoreError::Fatal(f.to_string())),
                Err(_) => Err(StoreError::Timeout(timeout)),
            }
        })
    }
}

/// Refreshes a lease's deadline on the leader; answers the lease's TTL.
#[derive(Message)]
#[rtype(result = "StoreResult<Duration>")]
pub struct KeepAlive(pub LeaseId);

impl Handler<KeepAlive> for Shard {
    type Result = StoreResult<Duration>;

    fn handle(&mut self, msg: KeepAlive, _: &mut Context<Self>) -> Self::Result {
        let raft = self
            .raft
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("starting".into()))?;
        let m = raft.metrics().borrow().clone();
        if m.state != ServerState::Leader || !self.was_leader {
            let leader = m.current_leader.and_then(|id| {
                m.membership_config
                    .membership()
                    .get_node(&id)
                    .map(|n| (id, n.addr.clone()))
            });
            return Err(StoreError::NotLeader { leader });
        }
        let now = self.cfg.clock.now();
        if let Some(sm) = &self.sm {
            self.lessor.sync(&sm.leases(), now);
        }
        self.lessor
            .keep_alive(msg.0, now)
            .ok_or(StoreError::LeaseNotFound(msg.0))
    }
}

/// Membership changes: add a learner, then promote; or remove.
#[derive(Message)]
#[rtype(result = "StoreResult<()>")]
pub enum ChangeMembers {
    /// Adds `node` as a learner, waits until it has caught up, then makes it a voter.
    Add { node: NodeId, addr: String },
    /// Removes `node` from the voters and from the group.
    Remove { node: NodeId },
}

impl Handler<ChangeMembers> for Shard {
    type Result = ResponseFuture<StoreResult<()>>;

    fn handle(&mut self, msg: ChangeMembers, _: &mut Context<Self>) -> Self::Result {
        let raft = self.raft.clone();
        Box::pin(async move {
            let raft = raft.ok_or_else(|| StoreError::Unavailable("starting".into()))?;
            let voters = || -> BTreeSet<NodeId> {
                raft.metrics()
                    .borrow()
                    .membership_config
                    .membership()
                    .voter_ids()
                    .collect()
            };
            match msg {
                ChangeMembers::Add { node, addr } => {
                    raft.add_learner(node, BasicNode { addr }, true)
                        .await
                        .map_err(write_error)?;
                    let mut v = voters();
                    v.insert(node);
                    raft.change_membership(v, false)
                        .await
                        .map_err(write_error)?;
                }
                ChangeMembers::Remove { node } => {
                    let mut v = voters();
                    v.remove(&node);
                    raft.change_membership(v, false)
                        .await
                        .map_err(write_error)?;
                }
            }
            Ok(())
        })
    }
}
