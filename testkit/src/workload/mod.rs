//! Workloads: clients that drive a store through a [`crate::harness::KvClient`] and
//! record what they were told, in the checkers' own types.
//!
//! - [`kv`]: concurrent clients doing get, put and compare-and-swap on a few keys,
//!   recorded as a [`crate::checker::history::History`].
//! - [`watch`]: writers, a compactor and watchers that start at past revisions and
//!   reconnect, recorded as [`crate::checker::watch::WatchRecording`]s against the
//!   acknowledged writes.
//!
//! Every workload runs as futures inside the caller's task (no spawning), stops when
//! its stop flag is raised, and bounds every call by a timeout so a frozen member can
//! only make an outcome unknown, never hang the run.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use hive_raftstore::{StoreError, StoreResult};
use serde::{Deserialize, Serialize};

pub mod kv;
pub mod watch;

pub use kv::{KvOptions, KvWorkload};
pub use watch::{WatchOptions, WatchOutput, WatchWorkload};

/// Which workloads a chaos run drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkloadKind {
    /// The key-value register workload, checked for linearizability.
    Kv,
    /// The watch workload, checked against etcd's watch guarantees.
    Watch,
    /// Both at once.
    Both,
}

impl WorkloadKind {
    /// Whether the kv workload runs.
    pub fn kv(self) -> bool {
        matches!(self, WorkloadKind::Kv | WorkloadKind::Both)
    }

    /// Whether the watch workload runs.
    pub fn watch(self) -> bool {
        matches!(self, WorkloadKind::Watch | WorkloadKind::Both)
    }
}

impl fmt::Display for WorkloadKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WorkloadKind::Kv => "kv",
            WorkloadKind::Watch => "watch",
            WorkloadKind::Both => "both",
        })
    }
}

impl FromStr for WorkloadKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "kv" => Ok(WorkloadKind::Kv),
            "watch" => Ok(WorkloadKind::Watch),
            "both" => Ok(WorkloadKind::Both),
            _ => Err(format!(
                "unknown workload {s:?} (expected kv, watch or both)"
            )),
        }
    }
}

/// The run's time base: every recorded time is nanoseconds since its start.
#[derive(Clone, Copy, Debug)]
pub struct RunClock {
    start: Instant,
}

impl RunClock {
    /// A clock starting now.
    pub fn start() -> RunClock {
        RunClock {
            start: Instant::now(),
        }
    }

    /// A clock that started at `start`.
    pub fn from_instant(start: Instant) -> RunClock {
        RunClock { start }
    }

    /// When the run started.
    pub fn started(&self) -> Instant {
        self.start
    }

    /// Nanoseconds since the start.
    pub fn now_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
}

/// Whether a store error proves the call was not applied (`Fail`) rather than leaving
/// its outcome unknown.
pub fn definitely_failed(e: &StoreError) -> bool {
    e.is_retryable()
}

/// Runs `call` with a timeout; a timeout counts as an indeterminate error.
pub(crate) async fn bounded<T>(
    limit: Duration,
    call: impl std::future::Future<Output = StoreResult<T>>,
) -> StoreResult<T> {
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r,
        Err(_) => Err(StoreError::Timeout(limit)),
    }
}
