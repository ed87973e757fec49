//! How the members of a shard reach each other.
//!
//! openraft asks for a `RaftNetworkFactory`; we give it one ([`RaftNet`]) built over the
//! small [`RaftTransport`] trait, so the same shard runs over the in-process
//! [`LocalRouter`] (tests, the all-in-one binary) or over QUIC ([`QuicRaftNetwork`], on a
//! hive-transport endpoint), and fault injection can sit in between.

mod local;
pub mod quic;

use std::sync::Arc;

use futures::future::BoxFuture;
use openraft::error::{InstallSnapshotError, NetworkError, RPCError, RaftError, Unreachable};
use openraft::network::{RPCOption, RaftNetwork, RaftNetworkFactory};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use openraft::BasicNode;

pub use local::LocalRouter;
pub use quic::{PeerAddr, QuicRaftNetwork, RaftRpcTimeouts};

use crate::raft_types::TypeConfig;
use crate::types::{NodeId, ShardId};

/// Why a Raft message did not get an answer.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    /// The peer cannot be reached now (down, partitioned, not yet known); openraft backs off.
    #[error("peer {0} unreachable: {1}")]
    Unreachable(NodeId, String),
    /// The message may or may not have arrived (timeout, connection lost mid-call).
    #[error("network error talking to {0}: {1}")]
    Network(NodeId, String),
    /// The peer answered with a Raft error.
    #[error("peer {0} answered with an error: {1}")]
    Remote(NodeId, String),
}

/// One RPC answer of the Raft protocol, as a transport returns it.
pub type RpcResult<T> = Result<T, NetError>;

/// The Raft messages a transport must carry between members of one shard.
/// Implemented in-process by [`LocalRouter`] and over QUIC by [`QuicRaftNetwork`].
pub trait RaftTransport: Send + Sync + 'static {
    fn append_entries(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        to_addr: &str,
        req: AppendEntriesRequest<TypeConfig>,
    ) -> BoxFuture<'static, RpcResult<AppendEntriesResponse<NodeId>>>;

    fn vote(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        to_addr: &str,
        req: VoteRequest<NodeId>,
    ) -> BoxFuture<'static, RpcResult<VoteResponse<NodeId>>>;

    /// One chunk of a snapshot; openraft sends them in order.
    fn install_snapshot(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        to_addr: &str,
        req: InstallSnapshotRequest<TypeConfig>,
    ) -> BoxFuture<'static, RpcResult<InstallSnapshotResponse<NodeId>>>;
}

/// openraft's network factory for one member of one shard, over any [`RaftTransport`].
#[derive(Clone)]
pub struct RaftNet {
    pub shard: ShardId,
    pub me: NodeId,
    pub transport: Arc<dyn RaftTransport>,
}

/// A client for one peer.
pub struct PeerClient {
    net: RaftNet,
    target: NodeId,
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for RaftNet {
    type Network = PeerClient;

    async fn new_client(&mut self, target: NodeId, node: &BasicNode) -> PeerClient {
        PeerClient {
            net: self.clone(),
            target,
            addr: node.addr.clone(),
        }
    }
}

fn to_rpc_error<E: std::error::Error>(e: NetError) -> RPCError<NodeId, BasicNode, E> {
    match e {
        NetError::Unreachable(..) => RPCError::Unreachable(Unreachable::new(&e)),
        NetError::Network(..) | NetError::Remote(..) => RPCError::Network(NetworkError::new(&e)),
    }
}

impl RaftNetwork<TypeConfig> for PeerClient {
    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let n = &self.net;
        n.transport
            .append_entries(n.shard, n.me, self.target, &self.addr, rpc)
            .await
            .map_err(to_rpc_error)
    }

    async fn install_snapshot(
        &mut self,
        rpc: InstallSnapshotRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<
        InstallSnapshotResponse<NodeId>,
        RPCError<NodeId, BasicNode, RaftError<NodeId, InstallSnapshotError>>,
    > {
        let n = &self.net;
        n.transport
            .install_snapshot(n.shard, n.me, self.target, &self.addr, rpc)
            .await
            .map_err(to_rpc_error)
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<NodeId>,
        _option: RPCOption,
    ) -> Result<VoteResponse<NodeId>, RPCError<NodeId, BasicNode, RaftError<NodeId>>> {
        let n = &self.net;
        n.transport
            .vote(n.shard, n.me, self.target, &self.addr, rpc)
            .await
            .map_err(to_rpc_error)
    }
}

/// Turns a Raft error returned by the receiving member into a transport answer.
pub(crate) fn remote<E: std::fmt::Display>(to: NodeId, e: E) -> NetError {
    NetError::Remote(to, e.to_string())
}
