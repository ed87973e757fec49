//! hive-raftstore: Hive's replicated key-value store, the part of the system that
//! replaces etcd.
//!
//! What lives here: shards (one openraft group each, run as a supervised actor), our own
//! segmented durable Raft log (`log`), the MVCC state machine with etcd's semantics
//! (`mvcc`), leases, rkyv snapshots, the watch hub that serves watch streams natively
//! (`watch`), the async `Store` client API every other component uses, and the same API
//! over QUIC for other processes (`remote`: `StoreServer` on a member, `RemoteStore`).
//!
//! What does not: QUIC and TLS themselves (hive-transport; `network::quic` carries Raft
//! over it), and anything that knows about Kubernetes objects (hive-actors).

pub mod batcher;
pub mod cluster;
pub mod cluster_quic;
pub mod error;
pub mod lessor;
pub mod log;
pub mod mvcc;
pub mod network;
pub mod planted;
pub mod raft_types;
pub mod remote;
pub mod shard;
pub mod sm;
pub mod store;
pub mod types;
pub mod watch;

pub use error::{StoreError, StoreResult};
pub use store::{Consistency, Store};
pub use types::*;
