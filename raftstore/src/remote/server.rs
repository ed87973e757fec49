//! [`StoreServer`]: serves the store's client API on a member's endpoint from the shard
//! members this process hosts.
//!
//! Each handler unpacks the request, reaches the member's current incarnation through
//! its `ShardSlot`, and does what `Store` does in process: a linearizable read passes the
//! shard's read barrier, a write is a `Propose` to the shard actor, membership changes
//! are `ChangeMembers`; watch sessions are served by `super::session`. Whatever the
//! member answers — `NotLeader` with the leader's
//! address included — goes back to the client as it is; nothing is forwarded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hive_transport::{Call, Endpoint, Router, ServiceError};
use openraft::ServerState;
use parking_lot::RwLock;

use super::services;
use super::session::serve_session;
use super::wire::{
    AddMemberMsg, CompactMsg, CreateWatch, LeaseGrantMsg, LeaseGranted, LeaseMsg, MemberAddr,
    MemberRole, MemberStatus, RangeMsg, ReadConsistency, RemoveMemberMsg, Reply, StatusMsg, TxnMsg,
};
use crate::error::{StoreError, StoreResult};
use crate::network::PeerAddr;
use crate::shard::{ChangeMembers, KeepAlive, Propose, ReadBarrier, Running, ShardSlot};
use crate::types::{
    Command, CommandResponse, NodeId, RangeResponse, Revision, ShardId, TxnResponse,
};
use crate::watch::{WatchReceiver, WatchRequest};

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct StoreServerOptions {
    /// A watch session with nothing to say for this long gets one heartbeat item (one
    /// per session, not per watch), so a client that went away is noticed (and its
    /// watches dropped) and a client can tell quiet watches from a dead member.
    pub watch_heartbeat: Duration,
}

impl Default for StoreServerOptions {
    fn default() -> Self {
        StoreServerOptions {
            watch_heartbeat: Duration::from_secs(2),
        }
    }
}

pub(super) struct Inner {
    shards: RwLock<HashMap<ShardId, ShardSlot>>,
    pub(super) opts: StoreServerOptions,
}

/// Serves the store's client API for the shard members of this process. Cheap to clone;
/// shards can be added and removed while it serves.
#[derive(Clone)]
pub struct StoreServer {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for StoreServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut shards: Vec<ShardId> = self.inner.shards.read().keys().copied().collect();
        shards.sort();
        f.debug_struct("StoreServer")
            .field("shards", &shards)
            .finish()
    }
}

impl StoreServer {
    /// A server for no shard yet.
    pub fn new(opts: StoreServerOptions) -> Self {
        StoreServer {
            inner: Arc::new(Inner {
                shards: RwLock::new(HashMap::new()),
                opts,
            }),
        }
    }

    /// Serves `shard` from the member reached through `slot` (replacing any earlier one).
    pub fn add_shard(&self, shard: ShardId, slot: ShardSlot) {
        self.inner.shards.write().insert(shard, slot);
    }

    /// Stops serving `shard`; its requests are answered `Invalid` from now on.
    pub fn remove_shard(&self, shard: ShardId) {
        self.inner.shards.write().remove(&shard);
    }

    /// The handlers of every store service, for an endpoint's router.
    pub fn router(&self) -> Router {
        let i = &self.inner;
        Router::new()
            .unary::<services::Range, _, _>(unary(
                i,
                |s, m: RangeMsg| async move { s.range(m).await },
            ))
            .unary::<services::Txn, _, _>(unary(i, |s, m: TxnMsg| async move { s.txn(m).await }))
            .unary::<services::LeaseGrant, _, _>(unary(i, |s, m: LeaseGrantMsg| async move {
                s.lease_grant(m).await
            }))
            .unary::<services::LeaseKeepAlive, _, _>(unary(i, |s, m: LeaseMsg| async move {
                s.keep_alive(m).await
            }))
            .unary::<services::LeaseRevoke, _, _>(unary(i, |s, m: LeaseMsg| async move {
                s.lease_revoke(m).await
            }))
            .unary::<services::Compact, _, _>(unary(i, |s, m: CompactMsg| async move {
                s.compact(m).await
            }))
            .unary::<services::Status, _, _>(unary(i, |s, m: StatusMsg| async move { s.status(m) }))
            .unary::<services::AddMember, _, _>(unary(i, |s, m: AddMemberMsg| async move {
                s.add_member(m).await
            }))
            .unary::<services::RemoveMember, _, _>(unary(i, |s, m: RemoveMemberMsg| async move {
                s.remove_member(m).await
            }))
            .bidi_stream::<services::WatchSession, _, _>({
                let inner = i.clone();
                move |call, inbound, sink| serve_session(inner.clone(), call, inbound, sink)
            })
    }

    /// Adds the store services to a running endpoint (e.g. the one the member's Raft
    /// network uses).
    ///
    /// # Panics
    /// If the endpoint serves them already (one store server per endpoint).
    pub fn serve(&self, endpoint: &Endpoint) {
        endpoint.add_services(self.router());
    }
}

/// A unary handler: decode the request, run `op` on the server, answer with a `Reply`.
fn unary<S, M, T, F, Fut>(
    inner: &Arc<Inner>,
    op: F,
) -> impl Fn(Call<S>) -> futures::future::BoxFuture<'static, Result<Reply<T>, ServiceError>>
       + Send
       + Sync
       + 'static
where
    S: hive_transport::Service<Request = M, Response = Reply<T>>,
    M: hive_transport::Wire,
    T: Send + 'static,
    F: Fn(Arc<Inner>, M) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = StoreResult<T>> + Send + 'static,
{
    let inner = inner.clone();
    let op = Arc::new(op);
    move |call: Call<S>| {
        let (inner, op) = (inner.clone(), op.clone());
        // Validated by the transport already; a failure here is the archive's, not ours.
        let msg = call.received().deserialize();
        Box::pin(async move {
            let msg = msg.map_err(ServiceError::from)?;
            Ok(Reply::from(op(inner, msg).await))
        })
    }
}

/// A mailbox error on a read or a lease call: nothing was applied.
fn mailbox(e: actix::MailboxError) -> StoreError {
    StoreError::Unavailable(format!("member mailbox: {e}"))
}

fn unexpected(what: &str, resp: CommandResponse) -> StoreError {
    StoreError::Fatal(format!("unexpected answer to a {what}: {resp:?}"))
}

impl Inner {
    /// The running member of `shard` in this process.
    fn member(&self, shard: ShardId) -> StoreResult<Running> {
        let slot =
            self.shards.read().get(&shard).cloned().ok_or_else(|| {
                StoreError::Invalid(format!("this member does not serve {shard}"))
            })?;
        slot.get()
    }

    /// Proposes `cmd` through the shard actor, as `Store::propose` does.
    async fn propose(&self, shard: ShardId, cmd: Command) -> StoreResult<CommandResponse> {
        let m = self.member(shard)?;
        let resp = m
            .addr
            .send(Propose(cmd))
            .await
            .map_err(|e| StoreError::Indeterminate(e.to_string()))??;
        match resp {
            CommandResponse::Error(e) => Err(StoreError::from_apply(e, None)),
            other => Ok(other),
        }
    }

    async fn range(&self, msg: RangeMsg) -> StoreResult<RangeResponse> {
        let m = self.member(msg.shard)?;
        if msg.consistency == ReadConsistency::Linearizable {
            m.addr.send(ReadBarrier).await.map_err(mailbox)??;
        }
        m.sm.range(&msg.request)
    }

    async fn txn(&self, msg: TxnMsg) -> StoreResult<TxnResponse> {
        match self.propose(msg.shard, Command::Txn(msg.request)).await? {
            CommandResponse::Txn(t) => Ok(t),
            other => Err(unexpected("txn", other)),
        }
    }

    async fn lease_grant(&self, msg: LeaseGrantMsg) -> StoreResult<LeaseGranted> {
        if msg.id.is_none() {
            return Err(StoreError::Invalid("lease id 0 means no lease".into()));
        }
        let cmd = Command::LeaseGrant {
            id: msg.id,
            ttl_secs: msg.ttl_secs,
        };
        match self.propose(msg.shard, cmd).await? {
            CommandResponse::LeaseGranted {
                id,
                ttl_secs,
                revision,
            } => Ok(LeaseGranted {
                id,
                ttl_secs,
                revision,
            }),
            other => Err(unexpected("lease grant", other)),
        }
    }

    async fn keep_alive(&self, msg: LeaseMsg) -> StoreResult<u64> {
        let m = self.member(msg.shard)?;
        let ttl = m.addr.send(KeepAlive(msg.id)).await.map_err(mailbox)??;
        Ok(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX))
    }

    async fn lease_revoke(&self, msg: LeaseMsg) -> StoreResult<Revision> {
        match self
            .propose(msg.shard, Command::LeaseRevoke { id: msg.id })
            .await?
        {
            CommandResponse::LeaseRevoked { revision } => Ok(revision),
            other => Err(unexpected("lease revoke", other)),
        }
    }

    async fn compact(&self, msg: CompactMsg) -> StoreResult<Revision> {
        let cmd = Command::Compact {
            revision: msg.revision,
        };
        match self.propose(msg.shard, cmd).await? {
            CommandResponse::Compacted { revision } => Ok(revision),
            other => Err(unexpected("compaction", other)),
        }
    }

    fn status(&self, msg: StatusMsg) -> StoreResult<MemberStatus> {
        let m = self.member(msg.shard)?;
        Ok(member_status(&m))
    }

    async fn add_member(&self, msg: AddMemberMsg) -> StoreResult<()> {
        // A learner at an address nobody can dial would hold the change until it times
        // out; refuse it before anything is proposed.
        msg.addr
            .parse::<PeerAddr>()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let m = self.member(msg.shard)?;
        m.addr
            .send(ChangeMembers::Add {
                node: msg.node,
                addr: msg.addr,
            })
            .await
            .map_err(|e| StoreError::Indeterminate(e.to_string()))?
    }

    async fn remove_member(&self, msg: RemoveMemberMsg) -> StoreResult<()> {
        let m = self.member(msg.shard)?;
        m.addr
            .send(ChangeMembers::Remove { node: msg.node })
            .await
            .map_err(|e| StoreError::Indeterminate(e.to_string()))?
    }

    /// Registers a watch on the member's hub. Returns the first revision it delivers:
    /// "from now" is pinned to the member's revision + 1, so the client knows where to
    /// resume before anything arrived. The member's handles are not kept: when its
    /// incarnation stops, the hub goes and the receiver ends.
    pub(super) fn open_watch(
        &self,
        shard: ShardId,
        w: CreateWatch,
    ) -> StoreResult<(Revision, WatchReceiver)> {
        let m = self.member(shard)?;
        let start = match w.start_revision {
            None | Some(Revision::ZERO) => m.sm.revision().next(),
            Some(r) => r,
        };
        let (_, rx) = m.sm.watch(WatchRequest {
            range: w.range,
            start_revision: Some(start),
            progress_notify: w.progress_notify,
        })?;
        Ok((start, rx))
    }
}

/// What `m` knows about itself and its shard.
fn member_status(m: &Running) -> MemberStatus {
    let metrics = m.raft.metrics().borrow().clone();
    let membership = metrics.membership_config.membership();
    let addr_of = |node: NodeId| MemberAddr {
        node,
        addr: membership
            .get_node(&node)
            .map(|n| n.addr.clone())
            .unwrap_or_default(),
    };
    MemberStatus {
        node: metrics.id,
        role: match metrics.state {
            ServerState::Leader => MemberRole::Leader,
            ServerState::Follower => MemberRole::Follower,
            ServerState::Candidate => MemberRole::Candidate,
            ServerState::Learner => MemberRole::Learner,
            ServerState::Shutdown => MemberRole::Shutdown,
        },
        leader: metrics.current_leader.map(addr_of),
        term: metrics.current_term,
        applied_index: metrics.last_applied.map(|l| l.index).unwrap_or(0),
        revision: m.sm.revision(),
        voters: membership.voter_ids().collect(),
        members: membership
            .nodes()
            .map(|(node, n)| MemberAddr {
                node: *node,
                addr: n.addr.clone(),
            })
            .collect(),
    }
}
