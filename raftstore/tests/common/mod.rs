//! Shared set-up for the store's integration tests: cluster builders for each network
//! backend, and (in `suite`) test bodies every backend runs.
#![allow(dead_code)]

pub mod quic;
pub mod suite;

use std::sync::Arc;
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

/// The network a test cluster's members talk over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The in-process router.
    Local,
    /// One QUIC endpoint per member on loopback.
    Quic,
}

impl Backend {
    /// Starts an `n`-member cluster on this backend in a fresh directory.
    pub async fn start(self, n: u64, o: ClusterOptions) -> TestCluster {
        let dir = tempfile::tempdir().expect("tempdir");
        let (c, fabric) = match self {
            Backend::Local => (LocalCluster::new(dir.path(), o), None),
            Backend::Quic => {
                let fabric = quic::QuicFabric::new(&o.raft);
                let c = LocalCluster::new(dir.path(), o).with_member_network(fabric.factory());
                (c, Some(fabric))
            }
        };
        let c = c.start_members(n).await.expect("cluster starts");
        TestCluster {
            c,
            fabric,
            _dir: dir,
        }
    }
}

/// A running test cluster, its network's fault controls, and its directory.
pub struct TestCluster {
    /// The cluster (dropped before the directory).
    pub c: LocalCluster,
    fabric: Option<Arc<quic::QuicFabric>>,
    _dir: tempfile::TempDir,
}

impl TestCluster {
    /// Cuts every link between `node` and the other members, both ways.
    pub fn isolate(&self, node: NodeId) {
        match &self.fabric {
            None => self.c.router().isolate(node, &self.c.running()),
            #[cfg(feature = "faults")]
            Some(fabric) => {
                fabric.faults.isolate(&quic::member_name(node));
            }
            #[cfg(not(feature = "faults"))]
            Some(_) => panic!("QUIC partitions need --features hive-raftstore/faults"),
        }
    }

    /// Restores every link.
    pub fn heal(&self) {
        match &self.fabric {
            None => self.c.router().heal(),
            #[cfg(feature = "faults")]
            Some(fabric) => fabric.faults.heal(),
            #[cfg(not(feature = "faults"))]
            Some(_) => {}
        }
    }
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
