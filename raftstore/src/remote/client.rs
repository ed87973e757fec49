//! [`RemoteStore`]: the store client for other processes, over a hive-transport
//! endpoint, with the methods and meaning of the in-process `Store`.
//!
//! It knows the members' addresses, sends each request to the member it believes leads,
//! follows `NotLeader` redirects (learning addresses it was not given), and retries only
//! what was certainly not applied: `NotLeader`, `Unavailable`, and a member it could not
//! even connect to. A write whose answer was lost (timeout, connection lost mid-call)
//! is returned to the caller as `Timeout` / `Indeterminate`: its outcome is unknown.
//! Reads and keep-alives change nothing, so those are retried elsewhere too. Every call
//! is bounded by one deadline, retries included.
//!
//! A member that timed out or could not be reached is *suspect* for a while: it is asked
//! only when nobody else is left, and redirects naming it are taken for "leader
//! unknown", so that after a leader dies silently (its connection looks alive until
//! QUIC's idle timeout) the next call waits for the survivors' election instead of on
//! the dead leader again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use hive_transport::{
    codes, Endpoint, EndpointConfig, Identity, MemberName, Router, RpcError, Service,
};
use parking_lot::{Mutex, RwLock};
use tokio::time::Instant;

use super::services;
use super::watch::{RemoteWatch, Session};
use super::wire::{
    AddMemberMsg, CompactMsg, LeaseGrantMsg, LeaseGranted, LeaseMsg, MemberStatus, RangeMsg,
    RemoveMemberMsg, Reply, StatusMsg, TxnMsg,
};
use crate::error::{StoreError, StoreResult};
use crate::network::PeerAddr;
use crate::store::{
    cas_result, cas_txn, delete_response, delete_txn, put_response, put_txn, random_lease_id,
    Consistency, Lease, PutResponse,
};
use crate::types::{
    KeyRange, KeyValue, LeaseId, NodeId, PutRequest, RangeRequest, RangeResponse, Revision,
    ShardId, TxnRequest, TxnResponse,
};

/// Client-side limits and the shard a [`RemoteStore`] talks to.
#[derive(Clone, Debug)]
pub struct RemoteOptions {
    /// The shard.
    pub shard: ShardId,
    /// Bound on one call, retries and redirects included.
    pub deadline: Duration,
    /// Bound on one attempt at one member (a write that hits it has an unknown outcome).
    pub attempt_timeout: Duration,
    /// Bound on getting a connection to a member before asking another.
    pub connect_timeout: Duration,
    /// How long a member that timed out or could not be reached is asked last.
    pub suspect_for: Duration,
    /// A watch session silent for this long (no event, progress or heartbeat) is taken
    /// for lost; keep it well above the server's heartbeat interval.
    pub watch_idle_timeout: Duration,
    /// Watch sessions (streams) per member; watches are spread over them in turn. One
    /// is etcd's default (every watch of a client on one stream).
    pub watch_sessions: usize,
    /// Responses a watch may have waiting for its caller; one more makes it canceled as
    /// slow (`Canceled(Slow { resume_from })`), alone, while its session continues.
    pub watch_queue: usize,
}

impl Default for RemoteOptions {
    fn default() -> Self {
        RemoteOptions {
            shard: ShardId(1),
            deadline: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(3),
            connect_timeout: Duration::from_secs(1),
            suspect_for: Duration::from_secs(2),
            watch_idle_timeout: Duration::from_secs(10),
            watch_sessions: 1,
            watch_queue: 1024,
        }
    }
}

/// Redirects followed without a pause before backing off.
const MAX_EAGER_REDIRECTS: u32 = 3;

/// Whether a call may be repeated after an answer was lost, and how long one attempt
/// may take.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Idempotence {
    /// Reads and keep-alives: repeating changes nothing.
    Safe,
    /// Writes: repeated only when certainly not applied.
    Once,
    /// Membership changes: repeated only when certainly not applied, and given the whole
    /// deadline (a new member must catch up before it becomes a voter).
    Patient,
}

struct Inner {
    endpoint: Endpoint,
    opts: RemoteOptions,
    /// Known members in the order given (redirect targets are appended).
    members: RwLock<Vec<MemberName>>,
    leader: RwLock<Option<MemberName>>,
    suspects: Mutex<HashMap<MemberName, Instant>>,
    /// Watch sessions by member: `watch_sessions` slots each, opened on first use and
    /// again after they end.
    sessions: Mutex<HashMap<MemberName, Vec<SessionSlot>>>,
    /// Which slot the next watch goes to.
    next_session: std::sync::atomic::AtomicUsize,
}

/// Where one watch session to a member lives; opening it is serialized so concurrent
/// watches share one.
type SessionSlot = Arc<tokio::sync::Mutex<Option<Arc<Session>>>>;

/// The store client for other processes. Cheap to clone; clones share the endpoint, the
/// member list and the leader it learned.
#[derive(Clone)]
pub struct RemoteStore {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteStore")
            .field("endpoint", &self.inner.endpoint)
            .field("members", &*self.inner.members.read())
            .field("leader", &*self.inner.leader.read())
            .finish()
    }
}

impl RemoteStore {
    /// A client sending through `endpoint` to the shard whose members are at `members`
    /// (any subset will do: the others are learned from redirects).
    pub fn new(
        endpoint: Endpoint,
        members: impl IntoIterator<Item = PeerAddr>,
        opts: RemoteOptions,
    ) -> Self {
        let store = RemoteStore {
            inner: Arc::new(Inner {
                endpoint,
                opts,
                members: RwLock::new(Vec::new()),
                leader: RwLock::new(None),
                suspects: Mutex::new(HashMap::new()),
                sessions: Mutex::new(HashMap::new()),
                next_session: std::sync::atomic::AtomicUsize::new(0),
            }),
        };
        for m in members {
            store.add_member_addr(&m);
        }
        store
    }

    /// Binds a client endpoint for `identity` (no services of its own) and makes a
    /// client over it. Must be called inside a tokio runtime.
    pub fn connect(
        identity: &Identity,
        config: EndpointConfig,
        members: impl IntoIterator<Item = PeerAddr>,
        opts: RemoteOptions,
    ) -> Result<Self, hive_transport::EndpointError> {
        let endpoint = Endpoint::bind(identity, config, Router::new())?;
        Ok(Self::new(endpoint, members, opts))
    }

    /// The endpoint calls go through.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The member this client currently believes leads.
    pub fn leader_hint(&self) -> Option<MemberName> {
        self.inner.leader.read().clone()
    }

    /// Makes a member known (or moves it to a new address).
    pub fn add_member_addr(&self, addr: &PeerAddr) {
        self.inner.endpoint.add_peer(addr.name.clone(), addr.addr);
        let mut members = self.inner.members.write();
        if !members.contains(&addr.name) {
            members.push(addr.name.clone());
        }
    }

    // ---- writes -------------------------------------------------------------------

    /// Runs a transaction; all of its keys must live in this client's shard.
    pub async fn txn(&self, request: TxnRequest) -> StoreResult<TxnResponse> {
        let msg = TxnMsg {
            shard: self.inner.opts.shard,
            request,
        };
        self.on_leader::<services::Txn, _>(&msg, Idempotence::Once)
            .await
    }

    /// Writes `value` at `key`.
    pub async fn put(
        &self,
        key: impl Into<Vec<u8>>,
        value: impl Into<Vec<u8>>,
    ) -> StoreResult<PutResponse> {
        self.put_with(PutRequest {
            key: key.into(),
            value: value.into(),
            lease: LeaseId::NONE,
            prev_kv: false,
        })
        .await
    }

    /// Writes a key with a lease and/or asking for its previous value.
    pub async fn put_with(&self, req: PutRequest) -> StoreResult<PutResponse> {
        Ok(put_response(self.txn(put_txn(req)).await?))
    }

    /// Writes `value` only if the key's mod revision is still `expected` (0: the key
    /// must not exist). Returns the new revision, or `Conflict` with the current one.
    pub async fn cas(
        &self,
        key: impl Into<Vec<u8>>,
        expected: Revision,
        value: impl Into<Vec<u8>>,
    ) -> StoreResult<Revision> {
        cas_result(
            self.txn(cas_txn(key.into(), expected, value.into()))
                .await?,
        )
    }

    /// Deletes a key or a range; answers how many keys went, their previous values if
    /// asked, and the revision.
    pub async fn delete(
        &self,
        range: KeyRange,
        prev_kv: bool,
    ) -> StoreResult<(u64, Vec<KeyValue>, Revision)> {
        Ok(delete_response(self.txn(delete_txn(range, prev_kv)).await?))
    }

    // ---- reads --------------------------------------------------------------------

    /// Reads keys: linearizably at the leader, or serializably from any member.
    pub async fn range(
        &self,
        request: RangeRequest,
        consistency: Consistency,
    ) -> StoreResult<RangeResponse> {
        let msg = RangeMsg {
            shard: self.inner.opts.shard,
            request,
            consistency: consistency.into(),
        };
        self.on_leader::<services::Range, _>(&msg, Idempotence::Safe)
            .await
    }

    /// Reads one key, linearizably.
    pub async fn get(&self, key: impl Into<Vec<u8>>) -> StoreResult<Option<KeyValue>> {
        let r = self
            .range(
                RangeRequest {
                    range: KeyRange::key(key),
                    ..Default::default()
                },
                Consistency::Linearizable,
            )
            .await?;
        Ok(r.kvs.into_iter().next())
    }

    /// Watches a key range from `start` (None: only future events). Returns once the
    /// member registered the watch, so any write acknowledged afterwards is seen. Served
    /// by the member believed to lead if it answers, else by any member, on one of this
    /// client's watch sessions to it (shared by many watches). A lost session is not
    /// re-opened for the watches it carried: [`RemoteWatch`] says so and where to
    /// resume; the next `watch` opens a new one.
    pub async fn watch(
        &self,
        range: KeyRange,
        start: Option<Revision>,
        progress_notify: bool,
    ) -> StoreResult<RemoteWatch> {
        let deadline = Instant::now() + self.inner.opts.deadline;
        let mut last = StoreError::Unavailable("no member known".into());
        for peer in self.candidates() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Err(e) = self.connect_to(&peer, left).await {
                last = e;
                continue;
            }
            let wait = left.min(self.inner.opts.attempt_timeout);
            let opened = match self.session(&peer, wait).await {
                Ok(session) => {
                    session
                        .watch(range.clone(), start, progress_notify, wait)
                        .await
                }
                Err(e) => Err(e),
            };
            match opened {
                Ok(w) => return Ok(w),
                Err(e) if e.is_retryable() || is_lost(&e) => {
                    self.suspect(&peer);
                    last = e;
                }
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// A watch session to `peer`: the next slot's, opened (within `wait`) if it has none
    /// or its session ended.
    async fn session(&self, peer: &MemberName, wait: Duration) -> StoreResult<Arc<Session>> {
        let opts = &self.inner.opts;
        let n = opts.watch_sessions.max(1);
        let slot = {
            let mut sessions = self.inner.sessions.lock();
            let slots = sessions
                .entry(peer.clone())
                .or_insert_with(|| (0..n).map(|_| SessionSlot::default()).collect());
            let i = self
                .inner
                .next_session
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            slots[i % slots.len()].clone()
        };
        let mut held = slot.lock().await;
        if let Some(session) = held.as_ref().filter(|s| s.is_open()) {
            return Ok(session.clone());
        }
        let session = Session::open(
            &self.inner.endpoint,
            peer,
            opts.shard,
            wait,
            opts.watch_idle_timeout,
            opts.watch_queue,
        )
        .await?;
        *held = Some(session.clone());
        Ok(session)
    }

    /// Answers which member `member` believes leads, its term, applied index and
    /// revision, asking that member itself (never redirected).
    pub async fn member_status(&self, member: &PeerAddr) -> StoreResult<MemberStatus> {
        self.add_member_addr(member);
        let msg = StatusMsg {
            shard: self.inner.opts.shard,
        };
        let timeout = self.inner.opts.attempt_timeout;
        self.connect_to(&member.name, timeout).await?;
        self.attempt::<services::Status>(&member.name, &msg, timeout)
            .await
            .map_err(|(e, _)| e)
    }

    /// The status of the first member that answers (the believed leader first).
    pub async fn status(&self) -> StoreResult<MemberStatus> {
        let msg = StatusMsg {
            shard: self.inner.opts.shard,
        };
        self.on_any::<services::Status>(&msg).await
    }

    // ---- leases, compaction, membership -------------------------------------------

    /// Grants a lease of `ttl_secs`; its keys are deleted when it expires.
    pub async fn lease_grant(&self, ttl_secs: u64) -> StoreResult<Lease> {
        // Random ids, as `Store` picks them; a collision is answered LeaseExists.
        let mut last = StoreError::Invalid("lease grant".into());
        for _ in 0..4 {
            let msg = LeaseGrantMsg {
                shard: self.inner.opts.shard,
                id: random_lease_id(),
                ttl_secs,
            };
            match self
                .on_leader::<services::LeaseGrant, LeaseGranted>(&msg, Idempotence::Once)
                .await
            {
                Ok(g) => {
                    return Ok(Lease {
                        id: g.id,
                        ttl_secs: g.ttl_secs,
                    })
                }
                Err(e @ StoreError::LeaseExists(_)) => last = e,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// Keeps a lease alive for another TTL; answers the TTL.
    pub async fn lease_keep_alive(&self, id: LeaseId) -> StoreResult<Duration> {
        let msg = LeaseMsg {
            shard: self.inner.opts.shard,
            id,
        };
        let ms = self
            .on_leader::<services::LeaseKeepAlive, u64>(&msg, Idempotence::Safe)
            .await?;
        Ok(Duration::from_millis(ms))
    }

    /// Revokes a lease, deleting its keys in one revision.
    pub async fn lease_revoke(&self, id: LeaseId) -> StoreResult<Revision> {
        let msg = LeaseMsg {
            shard: self.inner.opts.shard,
            id,
        };
        self.on_leader::<services::LeaseRevoke, _>(&msg, Idempotence::Once)
            .await
    }

    /// Discards history below `revision`.
    pub async fn compact(&self, revision: Revision) -> StoreResult<()> {
        let msg = CompactMsg {
            shard: self.inner.opts.shard,
            revision,
        };
        self.on_leader::<services::Compact, Revision>(&msg, Idempotence::Once)
            .await
            .map(|_| ())
    }

    /// Adds a member at `addr` (`quic://<member-name>@<ip>:<port>`): a learner until it
    /// caught up, then a voter. The member must be running and waiting to be added.
    pub async fn add_member(&self, node: NodeId, addr: String) -> StoreResult<()> {
        addr.parse::<PeerAddr>()
            .map_err(|e| StoreError::Invalid(e.to_string()))?;
        let msg = AddMemberMsg {
            shard: self.inner.opts.shard,
            node,
            addr,
        };
        self.on_leader::<services::AddMember, ()>(&msg, Idempotence::Patient)
            .await
    }

    /// Removes a member from the shard.
    pub async fn remove_member(&self, node: NodeId) -> StoreResult<()> {
        let msg = RemoveMemberMsg {
            shard: self.inner.opts.shard,
            node,
        };
        self.on_leader::<services::RemoveMember, ()>(&msg, Idempotence::Patient)
            .await
    }

    // ---- the retry loop -------------------------------------------------------------

    /// Known members, the believed leader first and suspects last.
    fn candidates(&self) -> Vec<MemberName> {
        let (mut fresh, suspects) = self.split_candidates();
        fresh.extend(suspects);
        fresh
    }

    /// Known members that are not suspect (the believed leader first), and the suspects.
    fn split_candidates(&self) -> (Vec<MemberName>, Vec<MemberName>) {
        let now = Instant::now();
        let suspects: Vec<MemberName> = {
            let mut s = self.inner.suspects.lock();
            s.retain(|_, until| *until > now);
            s.keys().cloned().collect()
        };
        let mut fresh: Vec<MemberName> = Vec::new();
        if let Some(l) = self.inner.leader.read().clone() {
            if !suspects.contains(&l) {
                fresh.push(l);
            }
        }
        let members = self.inner.members.read().clone();
        for m in &members {
            if !suspects.contains(m) && !fresh.contains(m) {
                fresh.push(m.clone());
            }
        }
        let suspects = members
            .into_iter()
            .filter(|m| suspects.contains(m))
            .collect();
        (fresh, suspects)
    }

    fn is_suspect(&self, peer: &MemberName) -> bool {
        self.inner
            .suspects
            .lock()
            .get(peer)
            .is_some_and(|until| *until > Instant::now())
    }

    fn suspect(&self, peer: &MemberName) {
        let until = Instant::now() + self.inner.opts.suspect_for;
        self.inner.suspects.lock().insert(peer.clone(), until);
        let mut leader = self.inner.leader.write();
        if leader.as_ref() == Some(peer) {
            *leader = None;
        }
    }

    /// Makes sure a connection to `peer` exists, within `left` and the connect timeout.
    /// A failure means nothing was sent.
    async fn connect_to(&self, peer: &MemberName, left: Duration) -> StoreResult<()> {
        let wait = left.min(self.inner.opts.connect_timeout);
        match tokio::time::timeout(wait, self.inner.endpoint.connection(peer)).await {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Unavailable(format!("{peer}: {e}"))),
            Err(_) => Err(StoreError::Unavailable(format!(
                "{peer}: no connection within {wait:?}"
            ))),
        }
    }

    /// One call at one member. The error says whether the member should be suspected.
    async fn attempt<S>(
        &self,
        peer: &MemberName,
        msg: &S::Request,
        timeout: Duration,
    ) -> Result<<S as ReplyOf>::Value, (StoreError, bool)>
    where
        S: Service + ReplyOf,
    {
        let answer = self
            .inner
            .endpoint
            .call::<S>(peer, msg, timeout)
            .await
            .map_err(|e| rpc_error(peer, e, timeout))?;
        let reply = answer.deserialize().map_err(|e| {
            let e = StoreError::Indeterminate(format!("{peer}: unreadable answer: {e}"));
            (e, false)
        })?;
        S::into_result(reply).map_err(|e| (e, false))
    }

    /// Runs a call on the leader, following redirects and waiting out elections, until
    /// the deadline.
    async fn on_leader<S, T>(&self, msg: &S::Request, idem: Idempotence) -> StoreResult<T>
    where
        S: Service + ReplyOf<Value = T>,
    {
        let opts = &self.inner.opts;
        let deadline = Instant::now() + opts.deadline;
        let mut backoff = Duration::from_millis(5);
        let mut last = StoreError::Unavailable("no member known".into());
        let mut redirects = 0;
        loop {
            let mut redirected = false;
            // A suspect is asked only when nobody else is left to ask: a write that
            // timed out at a silent leader must not wait on it again while the others
            // elect a new one.
            let (fresh, suspects) = self.split_candidates();
            let round = if fresh.is_empty() { suspects } else { fresh };
            for peer in round {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                if let Err(e) = self.connect_to(&peer, left).await {
                    self.suspect(&peer);
                    last = e;
                    continue;
                }
                let timeout = match idem {
                    Idempotence::Patient => left,
                    _ => left.min(opts.attempt_timeout),
                };
                match self.attempt::<S>(&peer, msg, timeout).await {
                    Ok(v) => {
                        *self.inner.leader.write() = Some(peer);
                        return Ok(v);
                    }
                    Err((StoreError::NotLeader { leader }, _)) => {
                        let named = leader.and_then(|(_, addr)| addr.parse::<PeerAddr>().ok());
                        match named {
                            // A follower that still names a leader we found silent has
                            // not noticed yet; wait for the election like "unknown".
                            Some(l) if l.name != peer && !self.is_suspect(&l.name) => {
                                self.add_member_addr(&l);
                                *self.inner.leader.write() = Some(l.name);
                                redirected = true;
                            }
                            _ => {
                                let mut hint = self.inner.leader.write();
                                if hint.as_ref() == Some(&peer) {
                                    *hint = None;
                                }
                            }
                        }
                        last = StoreError::NotLeader { leader: None };
                        if redirected {
                            break; // retry at once, at the leader named
                        }
                    }
                    Err((e, suspect)) => {
                        if suspect {
                            self.suspect(&peer);
                        }
                        let again = e.is_retryable() || (idem == Idempotence::Safe && is_lost(&e));
                        if !again {
                            return Err(e);
                        }
                        last = e;
                    }
                }
            }
            // Follow a redirect at once, but not forever: members with stale views can
            // name each other until an election settles.
            if redirected && redirects < MAX_EAGER_REDIRECTS {
                redirects += 1;
                continue;
            }
            redirects = 0;
            if Instant::now() + backoff >= deadline {
                return Err(match last {
                    StoreError::NotLeader { .. } | StoreError::Unavailable(_) => {
                        StoreError::Unavailable(format!(
                            "no leader within {:?}: {last}",
                            opts.deadline
                        ))
                    }
                    e => e,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }

    /// Runs a call on the first member that answers, until the deadline.
    async fn on_any<S>(&self, msg: &S::Request) -> StoreResult<<S as ReplyOf>::Value>
    where
        S: Service + ReplyOf,
    {
        let deadline = Instant::now() + self.inner.opts.deadline;
        let mut last = StoreError::Unavailable("no member known".into());
        for peer in self.candidates() {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Err(e) = self.connect_to(&peer, left).await {
                self.suspect(&peer);
                last = e;
                continue;
            }
            let timeout = left.min(self.inner.opts.attempt_timeout);
            match self.attempt::<S>(&peer, msg, timeout).await {
                Ok(v) => return Ok(v),
                Err((e, suspect)) => {
                    if suspect {
                        self.suspect(&peer);
                    }
                    last = e;
                }
            }
        }
        Err(last)
    }
}

/// Whether the answer was lost (the request may or may not have been applied).
fn is_lost(e: &StoreError) -> bool {
    matches!(e, StoreError::Timeout(_) | StoreError::Indeterminate(_))
}

/// A service whose response is a [`Reply`], and the value inside it.
pub(crate) trait ReplyOf: Service {
    /// What a successful reply carries.
    type Value;
    /// The reply as a result.
    fn into_result(reply: Self::Response) -> StoreResult<Self::Value>;
}

impl<S, T> ReplyOf for S
where
    S: Service<Response = Reply<T>>,
    Reply<T>: hive_transport::Wire,
{
    type Value = T;
    fn into_result(reply: Reply<T>) -> StoreResult<T> {
        reply.into_result()
    }
}

/// What a failed call means to the store client, and whether the member is suspect.
/// Nothing-was-sent failures are `Unavailable` (retryable); a lost answer is `Timeout`
/// or `Indeterminate`; a refusal by the transport is `Invalid` (a client or version bug,
/// not retried).
pub(crate) fn rpc_error(peer: &MemberName, e: RpcError, timeout: Duration) -> (StoreError, bool) {
    match e {
        RpcError::Endpoint(e) => (StoreError::Unavailable(format!("{peer}: {e}")), true),
        RpcError::DeadlineExceeded => (StoreError::Timeout(timeout), true),
        RpcError::Remote { code, message }
            if code == codes::UNKNOWN_SERVICE || code == codes::SHUTTING_DOWN =>
        {
            let e = StoreError::Unavailable(format!("{peer} does not serve the store: {message}"));
            (e, true)
        }
        RpcError::Remote { code, message } => (
            StoreError::Invalid(format!("{peer} refused the request with {code}: {message}")),
            false,
        ),
        RpcError::Reset(code) if code == codes::CANCELLED || code == codes::READ_TIMEOUT => (
            StoreError::Indeterminate(format!("{peer} reset the call with {code}")),
            true,
        ),
        RpcError::Reset(code) => (
            StoreError::Invalid(format!("{peer} refused the request with {code}")),
            false,
        ),
        RpcError::Stream(s) => (StoreError::Indeterminate(format!("{peer}: {s}")), true),
        RpcError::Frame(f) => (
            StoreError::Indeterminate(format!("{peer}: malformed answer: {f}")),
            false,
        ),
    }
}
