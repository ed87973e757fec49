//! Shared set-up for the store's integration tests.
#![allow(dead_code)]

use std::time::Duration;

use hive_raftstore::cluster::{ClusterOptions, LocalCluster};
use hive_raftstore::raft_types::Raft;
use hive_raftstore::NodeId;

#[allow(unused_imports)]
pub use hive_raftstore::cluster::wait_until;

/// Raft timings short enough for tests, long enough for a loaded 2-core CI machine.
pub fn opts() -> ClusterOptions {
    let mut o = ClusterOptions::default();
    o.raft.heartbeat_interval = 50;
    o.raft.election_timeout_min = 300;
    o.raft.election_timeout_max = 600;
    o.tick = Duration::from_millis(20);
    o.progress_interval = Duration::from_millis(200);
    o
}

/// Starts an `n`-member cluster in a fresh directory; keep the directory alive.
pub async fn cluster(n: u64) -> (tempfile::TempDir, LocalCluster) {
    cluster_with(n, opts()).await
}

pub async fn cluster_with(n: u64, o: ClusterOptions) -> (tempfile::TempDir, LocalCluster) {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = LocalCluster::start(dir.path(), n, o)
        .await
        .expect("cluster starts");
    (dir, c)
}

/// The last log index a member has applied.
pub fn applied(raft: &Raft) -> u64 {
    raft.metrics()
        .borrow()
        .last_applied
        .map(|l| l.index)
        .unwrap_or(0)
}

pub fn key(i: usize) -> Vec<u8> {
    format!("/k/{i:06}").into_bytes()
}

pub const LONG: Duration = Duration::from_secs(30);

pub fn ids(v: &[u64]) -> Vec<NodeId> {
    v.iter().map(|&i| NodeId(i)).collect()
}
