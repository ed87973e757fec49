//! The shard network over QUIC: [`QuicRaftNetwork`] sends a member's Raft messages
//! through the process's hive-transport [`Endpoint`] and serves the messages other
//! members send it, for every shard member the process hosts.
//!
//! Addressing: a member's address in the shard membership (openraft's `BasicNode::addr`)
//! is a [`PeerAddr`], written `quic://<member-name>@<ip>:<port>`. The member name is the
//! one in the member's certificate, so mutual TLS proves we reached the member the
//! membership names. Addresses are stable: a restarted member binds the address it had.
//!
//! Wire: one unary service per Raft RPC (`wire` holds the rkyv messages). A Raft error on
//! the receiving side comes back as an error frame with [`codes::RAFT`] and becomes
//! [`NetError::Remote`]; a message for a member the process does not host is answered
//! with [`codes::NOT_HERE`] and becomes [`NetError::Unreachable`], as does any failure to
//! reach the peer at all. Deadlines are per RPC kind ([`RaftRpcTimeouts`]) and travel to
//! the receiver, which stops working on a message its sender gave up on.

mod wire;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use futures::FutureExt;
use hive_transport::{
    codes as transport_codes, Call, Endpoint, EndpointConfig, EndpointError, Identity,
    IdentityError, MemberName, Router, RpcError, Service, ServiceError, ServiceId, WireCode,
};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use parking_lot::RwLock;

use self::wire::{
    AppendMsg, AppendReply, Route, SnapshotChunkMsg, SnapshotChunkReply, VoteMsg, VoteReply,
};
use super::{NetError, RaftTransport, RpcResult};
use crate::raft_types::{Raft, TypeConfig};
use crate::shard::RaftInbox;
use crate::types::{NodeId, ShardId};

/// The URL scheme of a member's Raft address.
pub const SCHEME: &str = "quic://";

/// Where a shard member is reached: its member name (the certificate's) and the UDP
/// address of its process's endpoint. Written `quic://<member-name>@<ip>:<port>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct PeerAddr {
    /// The member's name, checked against its certificate on every connection.
    pub name: MemberName,
    /// The member's endpoint.
    pub addr: SocketAddr,
}

/// A member address that is not `quic://<member-name>@<ip>:<port>`.
#[derive(Debug, thiserror::Error)]
pub enum AddrError {
    /// The address does not start with `quic://`.
    #[error("member address {0:?} does not start with {SCHEME} (expected {SCHEME}<member-name>@<ip>:<port>)")]
    Scheme(String),
    /// No `<member-name>@` before the socket address.
    #[error("member address {0:?} names no member (expected {SCHEME}<member-name>@<ip>:<port>)")]
    NoName(String),
    /// The member name is not a valid DNS name.
    #[error("member address {addr:?}: {source}")]
    Name {
        /// The whole address.
        addr: String,
        /// Why the name was refused.
        source: IdentityError,
    },
    /// What follows `@` is not an `ip:port`.
    #[error("member address {addr:?}: {host:?} is not an ip:port ({source})")]
    Socket {
        /// The whole address.
        addr: String,
        /// The part after `@`.
        host: String,
        /// Why it did not parse.
        source: std::net::AddrParseError,
    },
}

impl FromStr for PeerAddr {
    type Err = AddrError;

    fn from_str(s: &str) -> Result<Self, AddrError> {
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| AddrError::Scheme(s.to_string()))?;
        let (name, host) = rest
            .split_once('@')
            .ok_or_else(|| AddrError::NoName(s.to_string()))?;
        let name = MemberName::new(name).map_err(|source| AddrError::Name {
            addr: s.to_string(),
            source,
        })?;
        let addr = host.parse().map_err(|source| AddrError::Socket {
            addr: s.to_string(),
            host: host.to_string(),
            source,
        })?;
        Ok(PeerAddr { name, addr })
    }
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}@{}", self.name, self.addr)
    }
}

/// How long each kind of Raft RPC may take, end to end (dialing included). The
/// receiver is told the same deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RaftRpcTimeouts {
    /// AppendEntries, heartbeats included.
    pub append: Duration,
    /// RequestVote.
    pub vote: Duration,
    /// One InstallSnapshot chunk.
    pub snapshot_chunk: Duration,
}

impl RaftRpcTimeouts {
    /// The deadlines openraft itself puts on each RPC under `config`: the heartbeat
    /// interval for AppendEntries, the shortest election timeout for votes, the snapshot
    /// timeout for each chunk. Waiting longer would only keep the receiver busy with an
    /// answer nobody reads.
    pub fn from_raft_config(config: &openraft::Config) -> Self {
        RaftRpcTimeouts {
            append: Duration::from_millis(config.heartbeat_interval),
            vote: Duration::from_millis(config.election_timeout_min),
            snapshot_chunk: Duration::from_millis(config.install_snapshot_timeout),
        }
    }
}

impl Default for RaftRpcTimeouts {
    fn default() -> Self {
        Self::from_raft_config(&crate::shard::ShardConfig::default_raft_config())
    }
}

/// Stable error codes of the Raft services, carried in error frames above
/// [`hive_transport::codes::APP_BASE`] (see [`ServiceError::app`]).
pub mod codes {
    use hive_transport::{codes::APP_BASE, WireCode};

    /// The receiving member's Raft returned an error.
    pub const RAFT: u32 = 1;
    /// The process hosts no member with that shard and node id (never started, stopped,
    /// or restarting).
    pub const NOT_HERE: u32 = 2;
    /// The message decoded as an archive but not into an openraft message.
    pub const BAD_MESSAGE: u32 = 3;

    /// The code as it appears on the wire.
    pub const fn wire(code: u32) -> WireCode {
        WireCode(APP_BASE.0 + code)
    }
}

/// The service ids of the Raft RPCs, e.g. for fault rules that select one kind of
/// message.
pub mod services {
    use hive_transport::ServiceId;

    /// AppendEntries (and heartbeats).
    pub const APPEND_ENTRIES: ServiceId = ServiceId(0x5241_0001);
    /// RequestVote.
    pub const VOTE: ServiceId = ServiceId(0x5241_0002);
    /// One InstallSnapshot chunk.
    pub const SNAPSHOT_CHUNK: ServiceId = ServiceId(0x5241_0003);
}

struct RaftAppend;
impl Service for RaftAppend {
    const NAME: &'static str = "raft.append_entries";
    const ID: ServiceId = services::APPEND_ENTRIES;
    type Request = AppendMsg;
    type Response = AppendReply;
}

struct RaftVote;
impl Service for RaftVote {
    const NAME: &'static str = "raft.vote";
    const ID: ServiceId = services::VOTE;
    type Request = VoteMsg;
    type Response = VoteReply;
}

struct RaftSnapshotChunk;
impl Service for RaftSnapshotChunk {
    const NAME: &'static str = "raft.snapshot_chunk";
    const ID: ServiceId = services::SNAPSHOT_CHUNK;
    type Request = SnapshotChunkMsg;
    type Response = SnapshotChunkReply;
}

/// The shard members this process hosts, where incoming messages find their Raft.
#[derive(Default)]
struct Members {
    rafts: RwLock<HashMap<(ShardId, NodeId), Raft>>,
}

impl Members {
    fn raft(&self, route: &Route) -> Result<Raft, ServiceError> {
        self.rafts
            .read()
            .get(&(route.shard, route.to))
            .cloned()
            .ok_or_else(|| {
                ServiceError::app(
                    codes::NOT_HERE,
                    format!("no member {} of {} here", route.to, route.shard),
                )
            })
    }
}

fn bad_message(e: impl fmt::Display) -> ServiceError {
    ServiceError::app(codes::BAD_MESSAGE, e.to_string())
}

fn raft_error(e: impl fmt::Display) -> ServiceError {
    ServiceError::app(codes::RAFT, e.to_string())
}

async fn serve_append(
    members: &Members,
    call: Call<RaftAppend>,
) -> Result<AppendReply, ServiceError> {
    let msg = call.received().deserialize().map_err(bad_message)?;
    let (route, req) = msg.decode().map_err(bad_message)?;
    let raft = members.raft(&route)?;
    let resp = raft.append_entries(req).await.map_err(raft_error)?;
    Ok(resp.into())
}

async fn serve_vote(members: &Members, call: Call<RaftVote>) -> Result<VoteReply, ServiceError> {
    let (route, req) = call.received().deserialize().map_err(bad_message)?.decode();
    let raft = members.raft(&route)?;
    let resp = raft.vote(req).await.map_err(raft_error)?;
    Ok(VoteReply::from(&resp))
}

async fn serve_snapshot_chunk(
    members: &Members,
    call: Call<RaftSnapshotChunk>,
) -> Result<SnapshotChunkReply, ServiceError> {
    let msg = call.received().deserialize().map_err(bad_message)?;
    let (route, req) = msg.decode().map_err(bad_message)?;
    let raft = members.raft(&route)?;
    let resp = raft.install_snapshot(req).await.map_err(raft_error)?;
    Ok(SnapshotChunkReply::from(&resp))
}

/// The handlers of the three Raft services, over `members`.
fn router(members: Arc<Members>) -> Router {
    let (m1, m2, m3) = (members.clone(), members.clone(), members);
    Router::new()
        .unary::<RaftAppend, _, _>(move |call| {
            let m = m1.clone();
            async move { serve_append(&m, call).await }
        })
        .unary::<RaftVote, _, _>(move |call| {
            let m = m2.clone();
            async move { serve_vote(&m, call).await }
        })
        .unary::<RaftSnapshotChunk, _, _>(move |call| {
            let m = m3.clone();
            async move { serve_snapshot_chunk(&m, call).await }
        })
}

/// Turns a failed call into the network error openraft understands: nothing sent or no
/// such member is `Unreachable` (openraft backs off), a Raft error on the receiver is
/// `Remote`, anything that may have been delivered is `Network`.
fn net_error(to: NodeId, peer: &MemberName, e: RpcError) -> NetError {
    match e {
        RpcError::Endpoint(e) => NetError::Unreachable(to, format!("{peer}: {e}")),
        RpcError::Remote { code, message } if code == codes::wire(codes::NOT_HERE) => {
            NetError::Unreachable(to, format!("{peer}: {message}"))
        }
        RpcError::Remote { code, message }
            if code == codes::wire(codes::RAFT) || code == codes::wire(codes::BAD_MESSAGE) =>
        {
            NetError::Remote(to, format!("{peer}: {message}"))
        }
        RpcError::Remote { code, message }
            if code == transport_codes::UNKNOWN_SERVICE
                || code == transport_codes::SHUTTING_DOWN =>
        {
            NetError::Unreachable(to, format!("{peer}: {}: {message}", WireCode::name(code)))
        }
        other => NetError::Network(to, format!("{peer}: {other}")),
    }
}

struct Inner {
    endpoint: Endpoint,
    members: Arc<Members>,
    /// Member addresses already parsed and given to the endpoint, by address string.
    peers: RwLock<HashMap<String, MemberName>>,
    timeouts: RaftRpcTimeouts,
}

impl Inner {
    /// The member `to_addr` names, telling the endpoint where it is the first time.
    fn resolve(&self, to: NodeId, to_addr: &str) -> RpcResult<MemberName> {
        if let Some(name) = self.peers.read().get(to_addr) {
            return Ok(name.clone());
        }
        let peer: PeerAddr = to_addr
            .parse()
            .map_err(|e: AddrError| NetError::Unreachable(to, e.to_string()))?;
        self.endpoint.add_peer(peer.name.clone(), peer.addr);
        self.peers
            .write()
            .insert(to_addr.to_string(), peer.name.clone());
        // Dial now, outside any RPC deadline: a handshake can take longer than a
        // heartbeat, and an RPC that gave up would otherwise abandon the dial with it.
        let endpoint = self.endpoint.clone();
        let name = peer.name.clone();
        tokio::spawn(async move {
            if let Err(error) = endpoint.connection(&name).await {
                tracing::debug!(peer = %name, %error, "first dial failed; retried on demand");
            }
        });
        Ok(peer.name)
    }
}

/// A member process's Raft network over QUIC: the transport for every shard member it
/// hosts ([`RaftTransport`]) and the inbox where their peers' messages arrive
/// ([`RaftInbox`]). Cheap to clone.
#[derive(Clone)]
pub struct QuicRaftNetwork {
    inner: Arc<Inner>,
}

impl fmt::Debug for QuicRaftNetwork {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuicRaftNetwork")
            .field("endpoint", &self.inner.endpoint)
            .field("timeouts", &self.inner.timeouts)
            .finish()
    }
}

impl QuicRaftNetwork {
    /// Binds an endpoint for `identity` that serves the Raft services. Must be called
    /// inside a tokio runtime; the endpoint's tasks live on that runtime.
    pub fn bind(
        identity: &Identity,
        config: EndpointConfig,
        timeouts: RaftRpcTimeouts,
    ) -> Result<Self, EndpointError> {
        let members = Arc::new(Members::default());
        let endpoint = Endpoint::bind(identity, config, router(members.clone()))?;
        Ok(Self::new(endpoint, members, timeouts))
    }

    /// Serves the Raft services on an endpoint the process already runs (next to its
    /// other services) and sends Raft messages through it.
    ///
    /// # Panics
    /// If the endpoint serves the Raft services already (one network per endpoint).
    pub fn serve(endpoint: Endpoint, timeouts: RaftRpcTimeouts) -> Self {
        let members = Arc::new(Members::default());
        endpoint.add_services(router(members.clone()));
        Self::new(endpoint, members, timeouts)
    }

    fn new(endpoint: Endpoint, members: Arc<Members>, timeouts: RaftRpcTimeouts) -> Self {
        QuicRaftNetwork {
            inner: Arc::new(Inner {
                endpoint,
                members,
                peers: RwLock::new(HashMap::new()),
                timeouts,
            }),
        }
    }

    /// The endpoint messages travel through.
    pub fn endpoint(&self) -> &Endpoint {
        &self.inner.endpoint
    }

    /// The address peers reach this process at, for the shard membership. Bind a
    /// specific IP (not `0.0.0.0`) for it to be dialable.
    pub fn local_peer_addr(&self) -> std::io::Result<PeerAddr> {
        Ok(PeerAddr {
            name: self.inner.endpoint.name().clone(),
            addr: self.inner.endpoint.local_addr()?,
        })
    }

    /// Sends one call of `S` to the member at `to_addr` and decodes its answer.
    fn call<S, T>(
        &self,
        route: Route,
        to_addr: &str,
        request: Result<S::Request, NetError>,
        timeout: Duration,
    ) -> BoxFuture<'static, RpcResult<T>>
    where
        S: Service,
        T: From<S::Response>,
    {
        let inner = self.inner.clone();
        let to_addr = to_addr.to_string();
        async move {
            let to = route.to;
            let peer = inner.resolve(to, &to_addr)?;
            let request = request?;
            let answer = inner
                .endpoint
                .call::<S>(&peer, &request, timeout)
                .await
                .map_err(|e| net_error(to, &peer, e))?;
            let answer = answer
                .deserialize()
                .map_err(|e| NetError::Network(to, format!("{peer}: bad answer: {e}")))?;
            Ok(T::from(answer))
        }
        .boxed()
    }
}

/// The most bytes of entries one AppendEntries message carries (at least one entry is
/// always sent). openraft 0.9 bounds a message only by entry count and gives each one
/// the heartbeat interval to complete; a member catching up after a restart would be
/// sent a megabyte per message that never arrives in time on a loaded machine, and be
/// sent the same again forever. Smaller messages each make progress.
pub const MAX_APPEND_BYTES: usize = 128 * 1024;

/// Cuts `req` to the longest prefix of its entries within `budget` bytes (by
/// [`Proposal::size_hint`](crate::types::Proposal::size_hint)), keeping at least one.
/// Returns the request and, if entries were cut, the log id of the last one kept.
fn bound_append(
    mut req: AppendEntriesRequest<TypeConfig>,
    budget: usize,
) -> (
    AppendEntriesRequest<TypeConfig>,
    Option<openraft::LogId<NodeId>>,
) {
    /// Log id, vote and framing of one entry.
    const ENTRY_OVERHEAD: usize = 48;
    /// What a membership entry is assumed to take (a few member addresses as JSON).
    const MEMBERSHIP: usize = 1024;
    let mut used = 0;
    let keep = req.entries.iter().position(|e| {
        used += ENTRY_OVERHEAD
            + match &e.payload {
                openraft::EntryPayload::Blank => 0,
                openraft::EntryPayload::Normal(p) => p.size_hint(),
                openraft::EntryPayload::Membership(_) => MEMBERSHIP,
            };
        used > budget
    });
    match keep {
        // The entry at `i` crosses the budget: keep those before it, at least one.
        Some(i) if i.max(1) < req.entries.len() => {
            req.entries.truncate(i.max(1));
            let last = req.entries.last().map(|e| e.log_id);
            (req, last)
        }
        _ => (req, None),
    }
}

fn cannot_encode(to: NodeId, e: wire::CodecError) -> NetError {
    NetError::Unreachable(to, format!("cannot encode the message: {e}"))
}

impl RaftTransport for QuicRaftNetwork {
    fn append_entries(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        to_addr: &str,
        req: AppendEntriesRequest<TypeConfig>,
    ) -> BoxFuture<'static, RpcResult<AppendEntriesResponse<NodeId>>> {
        let route = Route { shard, from, to };
        let (req, cut) = bound_append(req, MAX_APPEND_BYTES);
        let msg = AppendMsg::encode(route, req).map_err(|e| cannot_encode(to, e));
        let call = self.call::<RaftAppend, _>(route, to_addr, msg, self.inner.timeouts.append);
        match cut {
            None => call,
            // The follower took the prefix we sent: tell openraft how far that got, and it
            // sends the rest next.
            Some(last) => call
                .map(move |answer| match answer {
                    Ok(AppendEntriesResponse::Success) => {
                        Ok(AppendEntriesResponse::PartialSuccess(Some(last)))
                    }
                    other => other,
                })
                .boxed(),
        }
    }

    fn vote(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        to_addr: &str,
        req: VoteRequest<NodeId>,
    ) -> BoxFuture<'static, RpcResult<VoteResponse<NodeId>>> {
        let route = Route { shard, from, to };
        let msg = VoteMsg::encode(route, &req);
        self.call::<RaftVote, _>(route, to_addr, Ok(msg), self.inner.timeouts.vote)
    }

    fn install_snapshot(
        &self,
        shard: ShardId,
        from: NodeId,
        to: NodeId,
        to_addr: &str,
        req: InstallSnapshotRequest<TypeConfig>,
    ) -> BoxFuture<'static, RpcResult<InstallSnapshotResponse<NodeId>>> {
        let route = Route { shard, from, to };
        let msg = SnapshotChunkMsg::encode(route, req).map_err(|e| cannot_encode(to, e));
        let timeout = self.inner.timeouts.snapshot_chunk;
        self.call::<RaftSnapshotChunk, _>(route, to_addr, msg, timeout)
    }
}

impl RaftInbox for QuicRaftNetwork {
    fn register(&self, shard: ShardId, node: NodeId, raft: Raft) {
        self.inner.members.rafts.write().insert((shard, node), raft);
    }

    fn unregister(&self, shard: ShardId, node: NodeId) {
        self.inner.members.rafts.write().remove(&(shard, node));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::{Command, Proposal, PutRequest, TxnOp, TxnRequest};

    /// An AppendEntries request carrying one put of `value_len` bytes per entry.
    fn append_of(entries: u64, value_len: usize) -> AppendEntriesRequest<TypeConfig> {
        let entry = |index| openraft::Entry::<TypeConfig> {
            log_id: openraft::LogId::new(openraft::CommittedLeaderId::new(1, NodeId(1)), index),
            payload: openraft::EntryPayload::Normal(Proposal::one(Command::Txn(TxnRequest {
                compare: vec![],
                success: vec![TxnOp::Put(PutRequest {
                    key: b"/k".to_vec(),
                    value: vec![7; value_len],
                    lease: Default::default(),
                    prev_kv: false,
                })],
                failure: vec![],
            }))),
        };
        AppendEntriesRequest {
            vote: openraft::Vote::new_committed(1, NodeId(1)),
            prev_log_id: None,
            leader_commit: None,
            entries: (1..=entries).map(entry).collect(),
        }
    }

    /// A backlog larger than the budget is cut to the prefix that fits, and the cut is
    /// reported by the log id of the last entry kept; a small one goes whole.
    #[test]
    fn append_messages_are_bounded_by_bytes() {
        let (req, cut) = bound_append(append_of(10, 50_000), 128 * 1024);
        assert_eq!(
            req.entries.len(),
            2,
            "two 50 kB entries fit in 128 KiB, three do not"
        );
        assert_eq!(cut.map(|id| id.index), Some(2));

        let (req, cut) = bound_append(append_of(100, 100), 128 * 1024);
        assert_eq!(req.entries.len(), 100);
        assert_eq!(cut, None);

        // One entry larger than the budget still goes, alone: progress is always made.
        let (req, cut) = bound_append(append_of(3, 300_000), 128 * 1024);
        assert_eq!(req.entries.len(), 1);
        assert_eq!(cut.map(|id| id.index), Some(1));
        let (req, cut) = bound_append(append_of(1, 300_000), 128 * 1024);
        assert_eq!(req.entries.len(), 1);
        assert_eq!(cut, None);
    }

    /// The canonical form parses back to the same address, IPv4 and IPv6.
    #[test]
    fn a_member_address_round_trips_through_its_text_form() {
        for text in [
            "quic://member-1@127.0.0.1:7000",
            "quic://store.member-2@[::1]:7443",
        ] {
            let addr: PeerAddr = text.parse().expect("valid address");
            assert_eq!(addr.to_string(), text);
        }
        let addr: PeerAddr = "quic://member-3@10.0.0.3:9000".parse().expect("valid");
        assert_eq!(addr.name.as_str(), "member-3");
        assert_eq!(addr.addr, SocketAddr::from(([10, 0, 0, 3], 9000)));
    }

    /// Every malformed address is refused with the reason, never a panic.
    #[test]
    fn a_malformed_member_address_is_refused_with_its_reason() {
        let err = |s: &str| s.parse::<PeerAddr>().expect_err(s);
        assert!(matches!(err("local://1"), AddrError::Scheme(_)));
        assert!(matches!(err("127.0.0.1:7000"), AddrError::Scheme(_)));
        assert!(matches!(err("quic://127.0.0.1:7000"), AddrError::NoName(_)));
        assert!(matches!(
            err("quic://Member_1@127.0.0.1:7000"),
            AddrError::Name { .. }
        ));
        assert!(matches!(
            err("quic://@127.0.0.1:7000"),
            AddrError::Name { .. }
        ));
        assert!(matches!(
            err("quic://member-1@localhost:7000"),
            AddrError::Socket { .. }
        ));
        assert!(matches!(
            err("quic://member-1@127.0.0.1"),
            AddrError::Socket { .. }
        ));
        let message = err("quic://member-1@nowhere").to_string();
        assert!(message.contains("nowhere"), "{message}");
    }

    /// A Raft error on the receiver is `Remote`; a missing member or an unreachable peer
    /// is `Unreachable`; a lost answer is `Network`.
    #[test]
    fn call_failures_map_to_the_network_error_openraft_expects() {
        let peer = MemberName::new("member-2").expect("name");
        let to = NodeId(2);
        let remote = |code: u32| RpcError::Remote {
            code: codes::wire(code),
            message: "m".into(),
        };
        assert!(matches!(
            net_error(to, &peer, remote(codes::RAFT)),
            NetError::Remote(NodeId(2), _)
        ));
        assert!(matches!(
            net_error(to, &peer, remote(codes::NOT_HERE)),
            NetError::Unreachable(NodeId(2), _)
        ));
        assert!(matches!(
            net_error(
                to,
                &peer,
                RpcError::Endpoint(EndpointError::UnknownPeer(peer.clone()))
            ),
            NetError::Unreachable(..)
        ));
        assert!(matches!(
            net_error(to, &peer, RpcError::DeadlineExceeded),
            NetError::Network(..)
        ));
    }

    /// The default deadlines follow openraft's own for the default shard timings.
    #[test]
    fn default_deadlines_follow_openraft_timings() {
        let t = RaftRpcTimeouts::default();
        let c = crate::shard::ShardConfig::default_raft_config();
        assert_eq!(t.append, Duration::from_millis(c.heartbeat_interval));
        assert_eq!(t.vote, Duration::from_millis(c.election_timeout_min));
        assert_eq!(
            t.snapshot_chunk,
            Duration::from_millis(c.install_snapshot_timeout)
        );
    }
}
