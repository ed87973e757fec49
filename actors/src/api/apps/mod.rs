//! The `apps/v1` group: Deployments, ReplicaSets, StatefulSets, DaemonSets
//! and ControllerRevisions.

mod deployment;
mod statefulset;

pub use deployment::*;
pub use statefulset::*;
