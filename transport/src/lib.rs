//! hive-transport: how Hive processes talk, and the runtime plumbing every layer shares.
//!
//! What lives here: the cluster identity (CA, member certificates, rustls configs with
//! the `ring` provider), QUIC endpoints (quinn) with mutual TLS, length-prefixed rkyv
//! frames, typed RPC, server streams and bidi streams, fault filters for chaos tests (feature
//! `faults`), a UDP socket seam for a user-space relay, and actor supervision
//! (`supervise`), which sits here because it is the lowest crate and every layer needs it.
//!
//! What does not: Raft (hive-raftstore implements its network over this crate), and
//! anything about Kubernetes objects.
//!
//! Map: [`identity`] (CA, certificates, member names) → [`tls`] (rustls/quinn configs) →
//! [`endpoint`] (one QUIC endpoint per process, connection cache) → [`service`] (typed
//! services and the handler registry) and [`rpc`] (calling them); [`frame`] is the pure
//! codec the fuzzer drives; [`socket`] and [`relay`] are the UDP seam for chaos tests;
//! [`bench`] measures it all.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use hive_transport::{ClusterCa, Endpoint, EndpointConfig, MemberName, Role, Router, Service, ServiceId};
//! use rkyv::{Archive, Deserialize, Serialize};
//!
//! #[derive(Archive, Serialize, Deserialize)]
//! struct Ping {
//!     n: u64,
//! }
//!
//! /// Declared once: id, name, request and response types.
//! struct PingService;
//! impl Service for PingService {
//!     const NAME: &'static str = "ping";
//!     const ID: ServiceId = ServiceId(1);
//!     type Request = Ping;
//!     type Response = Ping;
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let ca = ClusterCa::load_or_create("/var/lib/hive/pki".as_ref())?;
//! let me = ca.issue(&MemberName::new("member-0")?, Role::Member)?;
//! let router = Router::new().unary::<PingService, _, _>(|call| async move {
//!     Ok(Ping { n: call.request().n.to_native() + 1 })
//! });
//! let endpoint = Endpoint::bind(&me, EndpointConfig::default(), router)?;
//! let peer = MemberName::new("member-1")?;
//! endpoint.add_peer(peer.clone(), "127.0.0.1:7000".parse()?);
//! let pong = endpoint
//!     .call::<PingService>(&peer, &Ping { n: 1 }, Duration::from_secs(1))
//!     .await?;
//! assert_eq!(pong.get().n.to_native(), 2);
//! # Ok(())
//! # }
//! ```

pub mod supervise;

pub mod actor;
pub mod bench;
pub mod codes;
mod dispatch;
pub mod endpoint;
#[cfg(feature = "faults")]
pub mod faults;
pub mod frame;
mod framed;
pub mod hook;
pub mod identity;
pub mod metrics;
pub mod relay;
pub mod rpc;
pub mod service;
pub mod socket;
pub mod tls;
pub mod wire;

pub use codes::WireCode;
pub use endpoint::{Backoff, Endpoint, EndpointConfig, EndpointError, PeerStatus};
pub use frame::{FrameError, FrameLimits, ServiceId, StreamKind};
pub use hook::{MessageKind, Stage, Verdict};
pub use identity::{ClusterCa, Identity, IdentityError, MemberName, Role, Validity};
pub use metrics::EndpointMetrics;
pub use rpc::{RequestSink, ResponseStream, RpcError};
pub use service::{
    Call, CallInfo, RequestStream, Router, Service, ServiceError, SinkError, StreamSink,
};
pub use tls::{PeerPolicy, TlsError, TransportSettings};
pub use wire::{Encoded, Received, Wire, WireError};
