//! `Store`: the async client API every Hive component uses to read and write cluster
//! state — put, get, range, delete, transactions, watch, leases, compaction, membership.
//!
//! A `Store` routes each key to its shard through a [`ShardMap`] (today one shard holds
//! the whole keyspace; the map is where a range split will go, without changing
//! callers), finds the shard's leader, and retries only what is safe to retry: a request
//! refused with `NotLeader` or `Unavailable` was not applied, so it goes to the leader
//! the refusal named; a `Timeout` is returned to the caller, whose outcome is unknown.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::RwLock;
use rand::Rng;

use crate::error::{StoreError, StoreResult};
use crate::shard::{ChangeMembers, KeepAlive, Propose, ReadBarrier, Running, ShardSlot};
use crate::types::*;
use crate::watch::{WatchReceiver, WatchRequest};

/// How fresh a read must be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Consistency {
    /// Reflects every write acknowledged before the read started (read index on the leader).
    #[default]
    Linearizable,
    /// Served from whichever member answers, possibly stale, never torn.
    Serializable,
}

/// The members of one shard, as this client reaches them.
#[derive(Clone, Default)]
pub struct ShardGroup {
    members: Arc<RwLock<BTreeMap<NodeId, ShardSlot>>>,
    leader_hint: Arc<AtomicU64>,
}

impl ShardGroup {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a member reachable by this client.
    pub fn add(&self, node: NodeId, slot: ShardSlot) {
        self.members.write().insert(node, slot);
    }

    pub fn remove(&self, node: NodeId) {
        self.members.write().remove(&node);
    }

    fn hinted(&self) -> Option<(NodeId, Running)> {
        let id = NodeId(self.leader_hint.load(Ordering::Relaxed));
        let slot = self.members.read().get(&id).cloned()?;
        slot.get().ok().map(|r| (id, r))
    }

    /// Running members, the hinted leader first.
    fn candidates(&self) -> Vec<(NodeId, Running)> {
        let mut out: Vec<(NodeId, Running)> = Vec::new();
        if let Some(h) = self.hinted() {
            out.push(h);
        }
        for (id, slot) in self.members.read().iter() {
            if out.iter().any(|(o, _)| o == id) {
                continue;
            }
            if let Ok(r) = slot.get() {
                out.push((*id, r));
            }
        }
        out
    }
}

/// Maps keys to shards. Today: one shard for the whole keyspace.
#[derive(Clone)]
pub struct ShardMap {
    shards: Vec<(KeyRange, ShardId, ShardGroup)>,
}

impl ShardMap {
    /// One shard holding every key.
    pub fn single(shard: ShardId, group: ShardGroup) -> Self {
        ShardMap {
            shards: vec![(KeyRange::from_key(Vec::new()), shard, group)],
        }
    }

    fn for_key(&self, key: &[u8]) -> StoreResult<&ShardGroup> {
        self.shards
            .iter()
            .find(|(r, _, _)| r.contains(key))
            .map(|(_, _, g)| g)
            .ok_or_else(|| {
                StoreError::Invalid(format!(
                    "no shard holds key {}",
                    String::from_utf8_lossy(key)
                ))
            })
    }
}

/// Client-side limits.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Bound on one call, retries included.
    pub deadline: Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            deadline: Duration::from_secs(10),
        }
    }
}

/// The store client.
#[derive(Clone)]
pub struct Store {
    map: ShardMap,
    opts: StoreOptions,
}

/// The answer to a put.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutResponse {
    pub revision: Revision,
    pub prev_kv: Option<KeyValue>,
}

/// A lease as granted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub id: LeaseId,
    pub ttl_secs: u64,
}

impl Store {
    pub fn new(map: ShardMap, opts: StoreOptions) -> Self {
        Store { map, opts }
    }

    /// Runs `op` against the leader of the group, following `NotLeader` hints and
    /// waiting out elections, until the deadline.
    async fn on_leader<T, F, Fut>(&self, group: &ShardGroup, mut op: F) -> StoreResult<T>
    where
        F: FnMut(Running) -> Fut,
        Fut: std::future::Future<Output = StoreResult<T>>,
    {
        let deadline = Instant::now() + self.opts.deadline;
        let mut backoff = Duration::from_millis(5);
        let mut last = StoreError::Unavailable("no member reachable".into());
        loop {
            for (id, member) in group.candidates() {
                match op(member).await {
                    Err(StoreError::NotLeader {
                        leader: Some((l, _)),
                    }) if l != id => {
                        group.leader_hint.store(l.0, Ordering::Relaxed);
                        last = StoreError::NotLeader { leader: None };
                        break; // retry at once, hinted leader first
                    }
                    Err(e) if e.is_retryable() => last = e,
                    other => {
                        if other.is_ok() {
                            group.leader_hint.store(id.0, Ordering::Relaxed);
                        }
                        return other;
                    }
                }
            }
            if Instant::now() + backoff > deadline {
                return Err(match last {
                    StoreError::NotLeader { .. } | StoreError::Unavailable(_) => {
                        StoreError::Unavailable(format!(
                            "no leader within {:?}: {last}",
                            self.opts.deadline
                        ))
                    }
                    e => e,
                });
            }
            tokio::time::sleep(backoff).await;
            backoff = (backoff * 2).min(Duration::from_millis(100));
        }
    }

    /// Proposes a command on the shard that holds `key`.
    pub async fn propose(&self, key: &[u8], cmd: Command) -> StoreResult<CommandResponse> {
        let group = self.map.for_key(key)?;
        let resp = self
            .on_leader(group, |m| {
                let cmd = cmd.clone();
                async move {
                    m.addr
                        .send(Propose(cmd))
                        .await
                        .map_err(|e| StoreError::Indeterminate(e.to_string()))?
                }
            })
            .await?;
        match resp {
            CommandResponse::Error(e) => Err(StoreError::from_apply(e, None)),
            other => Ok(other),
        }
    }

    /// Runs a transaction; all of its keys must live in one shard.
    pub async fn txn(&self, txn: TxnRequest) -> StoreResult<TxnResponse> {
        let key = txn_key(&txn).to_vec();
        match self.propose(&key, Command::Txn(txn)).await? {
            CommandResponse::Txn(t) => Ok(t),
            other => Err(StoreError::Fatal(format!(
                "unexpected answer to a txn: {other:?}"
            ))),
        }
    }

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

    /// Deletes a key or a range; answers how many keys went and at which revision.
    pub async fn delete(
        &self,
        range: KeyRange,
        prev_kv: bool,
    ) -> StoreResult<(u64, Vec<KeyValue>, Revision)> {
        Ok(delete_response(self.txn(delete_txn(range, prev_kv)).await?))
    }

    /// Reads keys.
    pub async fn range(
        &self,
        req: RangeRequest,
        consistency: Consistency,
    ) -> StoreResult<RangeResponse> {
        let group = self.map.for_key(&req.range.start)?;
        match consistency {
            Consistency::Linearizable => {
                self.on_leader(group, |m| {
                    let req = req.clone();
                    async move {
                        m.addr.send(ReadBarrier).await.map_err(mailbox)??;
                        m.sm.range(&req)
                    }
                })
                .await
            }
            Consistency::Serializable => {
                let (_, m) = group
                    .candidates()
                    .into_iter()
                    .next()
                    .ok_or_else(|| StoreError::Unavailable("no member running".into()))?;
                m.sm.range(&req)
            }
        }
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

    /// Watches a key range from `start` (None: only future events). Served by the
    /// shard's leader if it answers, else by any running member.
    pub async fn watch(
        &self,
        range: KeyRange,
        start: Option<Revision>,
        progress_notify: bool,
    ) -> StoreResult<WatchReceiver> {
        let group = self.map.for_key(&range.start)?;
        let req = WatchRequest {
            range,
            start_revision: start,
            progress_notify,
        };
        let (_, m) = group
            .candidates()
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::Unavailable("no member running".into()))?;
        m.sm.watch(req).map(|(_, rx)| rx)
    }

    /// Grants a lease of `ttl_secs`; its keys are deleted when it expires.
    pub async fn lease_grant(&self, ttl_secs: u64) -> StoreResult<Lease> {
        // Ids are random 63-bit numbers: a collision is astronomically rare, but it is
        // answered with LeaseExists, so try a few.
        let mut last = None;
        for _ in 0..4 {
            let id = random_lease_id();
            match self
                .propose(&[], Command::LeaseGrant { id, ttl_secs })
                .await
            {
                Ok(CommandResponse::LeaseGranted { id, ttl_secs, .. }) => {
                    return Ok(Lease { id, ttl_secs })
                }
                Ok(other) => {
                    return Err(StoreError::Fatal(format!(
                        "unexpected answer to a lease grant: {other:?}"
                    )))
                }
                Err(e @ StoreError::LeaseExists(_)) => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or(StoreError::Invalid("lease grant".into())))
    }

    /// Keeps a lease alive for another TTL; answers the TTL.
    pub async fn lease_keep_alive(&self, id: LeaseId) -> StoreResult<Duration> {
        let group = self.map.for_key(&[])?;
        self.on_leader(group, |m| async move {
            m.addr.send(KeepAlive(id)).await.map_err(mailbox)?
        })
        .await
    }

    /// Revokes a lease, deleting its keys in one revision.
    pub async fn lease_revoke(&self, id: LeaseId) -> StoreResult<Revision> {
        match self.propose(&[], Command::LeaseRevoke { id }).await? {
            CommandResponse::LeaseRevoked { revision } => Ok(revision),
            other => Err(StoreError::Fatal(format!(
                "unexpected answer to a lease revoke: {other:?}"
            ))),
        }
    }

    /// Discards history below `revision`.
    pub async fn compact(&self, revision: Revision) -> StoreResult<()> {
        self.propose(&[], Command::Compact { revision })
            .await
            .map(|_| ())
    }

    /// Adds a member to the shard holding `key` (learner first, then voter).
    pub async fn add_member(&self, node: NodeId, addr: String) -> StoreResult<()> {
        let group = self.map.for_key(&[])?;
        self.on_leader(group, |m| {
            let addr = addr.clone();
            async move {
                m.addr
                    .send(ChangeMembers::Add { node, addr })
                    .await
                    .map_err(mailbox)?
            }
        })
        .await
    }

    /// Removes a member from the shard.
    pub async fn remove_member(&self, node: NodeId) -> StoreResult<()> {
        let group = self.map.for_key(&[])?;
        self.on_leader(group, |m| async move {
            m.addr
                .send(ChangeMembers::Remove { node })
                .await
                .map_err(mailbox)?
        })
        .await
    }
}

/// The transaction a put is (the same for every client of the store).
pub(crate) fn put_txn(req: PutRequest) -> TxnRequest {
    TxnRequest {
        success: vec![TxnOp::Put(req)],
        ..Default::default()
    }
}

/// A put's answer, from the answer to [`put_txn`].
pub(crate) fn put_response(t: TxnResponse) -> PutResponse {
    let prev_kv = match t.responses.into_iter().next() {
        Some(TxnOpResponse::Put { prev_kv }) => prev_kv,
        _ => None,
    };
    PutResponse {
        revision: t.revision,
        prev_kv,
    }
}

/// The transaction a compare-and-swap is: put if the mod revision is `expected`, else
/// read the key to report its current revision.
pub(crate) fn cas_txn(key: Vec<u8>, expected: Revision, value: Vec<u8>) -> TxnRequest {
    TxnRequest {
        compare: vec![Compare {
            key: key.clone(),
            op: CompareOp::Equal,
            target: CompareTarget::ModRevision(expected),
        }],
        success: vec![TxnOp::Put(PutRequest {
            key: key.clone(),
            value,
            lease: LeaseId::NONE,
            prev_kv: false,
        })],
        failure: vec![TxnOp::Range(RangeRequest {
            range: KeyRange::key(key),
            ..Default::default()
        })],
    }
}

/// A compare-and-swap's outcome, from the answer to [`cas_txn`].
pub(crate) fn cas_result(t: TxnResponse) -> StoreResult<Revision> {
    if t.succeeded {
        return Ok(t.revision);
    }
    let current = match t.responses.into_iter().next() {
        Some(TxnOpResponse::Range(r)) => r
            .kvs
            .first()
            .map(|kv| kv.mod_revision)
            .unwrap_or(Revision::ZERO),
        _ => Revision::ZERO,
    };
    Err(StoreError::Conflict { current })
}

/// The transaction a delete is.
pub(crate) fn delete_txn(range: KeyRange, prev_kv: bool) -> TxnRequest {
    TxnRequest {
        success: vec![TxnOp::Delete(DeleteRequest { range, prev_kv })],
        ..Default::default()
    }
}

/// A delete's answer (keys deleted, their previous values if asked, revision), from the
/// answer to [`delete_txn`].
pub(crate) fn delete_response(t: TxnResponse) -> (u64, Vec<KeyValue>, Revision) {
    match t.responses.into_iter().next() {
        Some(TxnOpResponse::Delete { deleted, prev_kvs }) => (deleted, prev_kvs, t.revision),
        _ => (0, Vec::new(), t.revision),
    }
}

/// A fresh lease id: a random positive 63-bit number (a collision is answered with
/// `LeaseExists`, and the caller tries another).
pub(crate) fn random_lease_id() -> LeaseId {
    LeaseId(rand::thread_rng().gen_range(1..i64::MAX))
}

/// The key a transaction is routed by: its first compare or op key.
fn txn_key(t: &TxnRequest) -> &[u8] {
    fn op_key(op: &TxnOp) -> &[u8] {
        match op {
            TxnOp::Range(r) => &r.range.start,
            TxnOp::Put(p) => &p.key,
            TxnOp::Delete(d) => &d.range.start,
        }
    }
    t.compare
        .first()
        .map(|c| c.key.as_slice())
        .or_else(|| t.success.first().map(op_key))
        .or_else(|| t.failure.first().map(op_key))
        .unwrap_or(&[])
}

fn mailbox(e: actix::MailboxError) -> StoreError {
    StoreError::Unavailable(format!("member mailbox: {e}"))
}
