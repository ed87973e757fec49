//! [`StoreServer`]: serves the store's client API on a member's endpoint from the shard
//! members this process hosts.
//!
//! Each handler unpacks the request, reaches the member's current incarnation through
//! its `ShardSlot`, and does what `Store` does in process: a linearizable read passes the
//! shard's read barrier, a write is a `Propose` to the shard actor, membership changes
//! are `ChangeMembers`. Whatever the member answers — `NotLeader` with the leader's
//! address included — goes back to the client as it is; nothing is forwarded.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hive_transport::{Call, Encoded, Endpoint, Router, ServiceError, StreamSink};
use openraft::ServerState;
use parking_lot::{Mutex, RwLock};

use super::services;
use super::wire::{
    AddMemberMsg, CompactMsg, LeaseGrantMsg, LeaseGranted, LeaseMsg, MemberAddr, MemberRole,
    MemberStatus, RangeMsg, ReadConsistency, RemoteError, RemoveMemberMsg, Reply, StatusMsg,
    TxnMsg, WatchItem, WatchMsg, WireCancel,
};
use crate::error::{StoreError, StoreResult};
use crate::network::PeerAddr;
use crate::shard::{ChangeMembers, KeepAlive, Propose, ReadBarrier, Running, ShardSlot};
use crate::types::{
    Command, CommandResponse, NodeId, RangeResponse, Revision, ShardId, TxnResponse,
};
use crate::watch::{SharedEvent, WatchReceiver, WatchRequest, WatchResponse};

/// How the server behaves.
#[derive(Clone, Debug)]
pub struct StoreServerOptions {
    /// A watch stream with nothing to say for this long gets a heartbeat item, so a
    /// client that went away is noticed (and its watcher dropped) and a client can tell
    /// a quiet watch from a dead member.
    pub watch_heartbeat: Duration,
}

impl Default for StoreServerOptions {
    fn default() -> Self {
        StoreServerOptions {
            watch_heartbeat: Duration::from_secs(2),
        }
    }
}

struct Inner {
    shards: RwLock<HashMap<ShardId, ShardSlot>>,
    opts: StoreServerOptions,
    /// The last revision's events as one encoded wire item, shared by every stream.
    encoded: EncodeOnce,
}

/// Encodes a revision's events for the wire once, however many watch streams send them.
///
/// The hub hands every watcher of a revision clones of the same `SharedEvent`s, so
/// streams asking for the same events (compared by identity, not content) get clones of
/// one `Encoded` item instead of copying and archiving the events again each. The entry
/// holds its events, so their buffers cannot be freed and their addresses reused by
/// other events while it is cached.
#[derive(Default)]
struct EncodeOnce {
    last: Mutex<Option<Cached>>,
}

/// A revision's events (kept alive) and their encoded wire item.
type Cached = (Revision, Vec<SharedEvent>, Encoded<WatchItem>);

impl EncodeOnce {
    /// The wire item for `events` of `revision`, encoded at most once while they are the
    /// latest asked for.
    fn events(
        &self,
        revision: Revision,
        events: Vec<SharedEvent>,
    ) -> Result<Encoded<WatchItem>, hive_transport::FrameError> {
        let same = |cached: &[SharedEvent]| {
            cached.len() == events.len()
                && cached.iter().zip(&events).all(|(a, b)| {
                    a.as_bytes().as_ptr() == b.as_bytes().as_ptr()
                        && a.as_bytes().len() == b.as_bytes().len()
                })
        };
        if let Some((rev, cached, enc)) = &*self.last.lock() {
            if *rev == revision && same(cached) {
                return Ok(enc.clone());
            }
        }
        let enc = Encoded::new(&WatchItem::Events {
            revision,
            events: events.iter().map(|e| e.as_bytes().to_vec()).collect(),
        })?;
        *self.last.lock() = Some((revision, events, enc.clone()));
        Ok(enc)
    }
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
                encoded: EncodeOnce::default(),
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
            .server_stream::<services::Watch, _, _>({
                let inner = i.clone();
                move |call, sink| serve_watch(inner.clone(), call, sink)
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
    fn open_watch(&self, msg: WatchMsg) -> StoreResult<(Revision, WatchReceiver)> {
        let m = self.member(msg.shard)?;
        let start = match msg.start_revision {
            None | Some(Revision::ZERO) => m.sm.revision().next(),
            Some(r) => r,
        };
        let (_, rx) = m.sm.watch(WatchRequest {
            range: msg.range,
            start_revision: Some(start),
            progress_notify: msg.progress_notify,
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

/// Serves one watch: registers it, confirms with `Created`, then forwards the hub's
/// responses until the watch ends, the client goes away, or the member stops.
async fn serve_watch(
    inner: Arc<Inner>,
    call: Call<services::Watch>,
    mut sink: StreamSink<WatchItem>,
) -> Result<(), ServiceError> {
    let msg = call.received().deserialize()?;
    let (start, rx) = match inner.open_watch(msg) {
        Ok(opened) => opened,
        Err(e) => {
            // The client may be gone already; nothing more to do either way.
            let _ = sink.send(&WatchItem::Failed(RemoteError::from(&e))).await;
            return Ok(());
        }
    };
    if sink.send(&WatchItem::Created { start }).await.is_ok() {
        forward_watch(&inner, rx, sink).await;
    }
    Ok(())
}

/// The encoded wire item for one hub response, and whether it is the last.
fn watch_item(
    encoded: &EncodeOnce,
    resp: WatchResponse,
) -> Result<(Encoded<WatchItem>, bool), hive_transport::FrameError> {
    Ok(match resp {
        WatchResponse::Events { revision, events } => (encoded.events(revision, events)?, false),
        WatchResponse::Progress { revision } => {
            (Encoded::new(&WatchItem::Progress { revision })?, false)
        }
        WatchResponse::Canceled { reason } => (
            Encoded::new(&WatchItem::Canceled(WireCancel::from(&reason)))?,
            true,
        ),
    })
}

async fn forward_watch(inner: &Inner, mut rx: WatchReceiver, mut sink: StreamSink<WatchItem>) {
    let heartbeat = inner.opts.watch_heartbeat;
    loop {
        let resp = match tokio::time::timeout(heartbeat, rx.recv()).await {
            Err(_) => {
                if sink.send(&WatchItem::Heartbeat).await.is_err() {
                    return; // the client left; dropping `rx` cancels the watcher
                }
                continue;
            }
            Ok(None) => {
                let e = StoreError::Unavailable(
                    "the member stopped serving this watch (restarting or stopping)".into(),
                );
                let _ = sink.send(&WatchItem::Failed(RemoteError::from(&e))).await;
                return;
            }
            Ok(Some(resp)) => resp,
        };
        let (item, last) = match watch_item(&inner.encoded, resp) {
            Ok(encoded) => encoded,
            Err(e) => {
                let e = StoreError::Fatal(format!("encoding a watch item: {e}"));
                let _ = sink.send(&WatchItem::Failed(RemoteError::from(&e))).await;
                return;
            }
        };
        if sink.send_encoded(&item).await.is_err() || last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Event, EventKind, KeyValue};

    fn event(key: &str) -> SharedEvent {
        let ev = Event {
            kind: EventKind::Put,
            kv: KeyValue {
                key: key.as_bytes().to_vec(),
                value: vec![7; 64],
                ..KeyValue::default()
            },
            prev_kv: None,
        };
        SharedEvent::encode(Revision(3), &ev).expect("encodes")
    }

    /// Streams sending the very events of one revision share one encoded item; other
    /// events — even equal ones encoded separately, or a subset — are encoded anew and
    /// decode to what they hold.
    #[test]
    fn the_same_events_of_a_revision_are_encoded_once_for_every_stream() {
        let cache = EncodeOnce::default();
        let (a, b) = (event("/a"), event("/b"));
        let first = cache
            .events(Revision(3), vec![a.clone(), b.clone()])
            .unwrap();
        let again = cache
            .events(Revision(3), vec![a.clone(), b.clone()])
            .unwrap();
        assert_eq!(
            first.bytes().as_ptr(),
            again.bytes().as_ptr(),
            "shared, not re-encoded"
        );

        let fresh_a = event("/a");
        let other = cache.events(Revision(3), vec![fresh_a, b.clone()]).unwrap();
        assert_ne!(first.bytes().as_ptr(), other.bytes().as_ptr());
        let subset = cache.events(Revision(3), vec![b.clone()]).unwrap();
        let later = cache.events(Revision(4), vec![b.clone()]).unwrap();
        assert_ne!(subset.bytes().as_ptr(), later.bytes().as_ptr());

        let decoded = |e: &Encoded<WatchItem>| {
            let mut buf = rkyv::util::AlignedVec::<16>::new();
            buf.extend_from_slice(e.bytes());
            rkyv::from_bytes::<WatchItem, rkyv::rancor::Error>(&buf).unwrap()
        };
        let want = |rev: u64, evs: &[&SharedEvent]| WatchItem::Events {
            revision: Revision(rev),
            events: evs.iter().map(|e| e.as_bytes().to_vec()).collect(),
        };
        assert_eq!(decoded(&again), want(3, &[&a, &b]));
        assert_eq!(decoded(&subset), want(3, &[&b]));
        assert_eq!(decoded(&later), want(4, &[&b]));
    }
}
