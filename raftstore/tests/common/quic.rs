//! The QUIC backend of test clusters: `hive_raftstore::cluster_quic`, shared with
//! `hive bench store`.

#[allow(unused_imports)]
pub use hive_raftstore::cluster_quic::*;
