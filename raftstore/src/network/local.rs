//! The in-process network: members of a shard living in one process call each other's
//! Raft handles directly. Partitions and isolation can be set at run time, so tests
//! of leader loss and split brain run without sockets.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::FutureExt;
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::RwLock;

use super::{remote, NetError, RaftTransport, RpcResult};
use crate::raft_types::{Raft, TypeConfig};
use crate::types::{NodeId, ShardId};

#[derive(Default)]
struct Inner {
    members: HashMap<(ShardId, NodeId), Raft>,
    /// Directed links that drop every message: (from, to).
    cut: BTreeSet<(NodeId, NodeId)>,
}

/// An in-process router between the Raft handles of registered members.
#[derive(Clone, Default)]
pub struct LocalRouter {
    inner: Arc<RwLock<Inner>>,
}

impl LocalRouter {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes a member reachable (again, after a restart).
    pub fn register(&self, shard: ShardId, node: NodeId, raft: Raft) {
        self.inner.write().members.insert((shard, node), raft);
    }

    /// Makes a member unreachable, as if its process died.
    pub fn unregister(&self, shard: ShardId, node: NodeId) {
        self.inner.write().members.remove(&(shard, node));
    }

    /// Cuts every link between `node` and the others, both ways.
    pub fn isolate(&self, node: NodeId, all: &[NodeId]) {
        let mut g = self.inner.write();
        for &other in all.iter().filter(|&&o| o != node) {
            g.cut.insert((node, other));
            g.cut.insert((other, node));
        }
    }

    /// Cuts messages from `from` to `to` only.
    pub fn cut_one_way(&self, from: NodeId, to: NodeId) {
        self.inner.write().cut.insert((from, to));
    }

    /// Restores every link.
    pub fn heal(&self) {
        self.inner.write().cut.clear();
    }

    fn route(&self, shard: ShardId, from: NodeId, to: NodeId) -> RpcResult<Raft> {
        let g = self.inner.read();
        if g.cut.contains(&(from, to)) {
            return Err(NetError::Unreachable(
                to,
                format!("link {from}->{to} is cut"),
            ));
        }
        g.members
            .get(&(shard, to))
            .cloned()
            .ok_or_else(|| NetError::Unreachable(to, "no such member in this process".into()))
    }

    /// A reply crossing a cut reverse link is lost too.
    fn deliver<T>(&self, from: NodeId, to: NodeId, r: RpcResult<T>) -> RpcResult<T> {
        if self.inner.read().cut.contains(&(to, from)) {
            return Err(NetError::Network(
                to,
                format!("reply on link {to}->{from} lost"),
            ));
        }
        r
    }
}

impl RaftTransport for LocalRouter {
    fn append_entries(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        _to_addr: &str,
        req: AppendEntriesRequest<TypeConfig>,
    ) -> BoxFuture<'static, RpcResult<AppendEntriesResponse<NodeId>>> {
        let this = self.clone();
        async move {
            let raft = this.route(shard, from, to)?;
            let r = raft.append_entries(req).await.map_err(|e| remote(to, e));
            this.deliver(from, to, r)
        }
        .boxed()
    }

    fn vote(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        _to_addr: &str,
        req: VoteRequest<NodeId>,
    ) -> BoxFuture<'static, RpcResult<VoteResponse<NodeId>>> {
        let this = self.clone();
        async move {
            let raft = this.route(shard, from, to)?;
            let r = raft.vote(req).await.map_err(|e| remote(to, e));
            this.deliver(from, to, r)
        }
        .boxed()
    }

    fn install_snapshot(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        _to_addr: &str,
        req: InstallSnapshotRequest<TypeConfig>,
    ) -> BoxFuture<'static, RpcResult<InstallSnapshotResponse<NodeId>>> {
        let this = self.clone();
        async move {
            let raft = this.route(shard, from, to)?;
            let r = raft.install_snapshot(req).await.map_err(|e| remote(to, e));
            this.deliver(from, to, r)
        }
        .boxed()
    }
}
