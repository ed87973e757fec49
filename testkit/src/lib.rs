//! Hive's chaos testing kit: everything a test needs to run a cluster, break it, drive
//! load through it and judge what came out. It holds the cluster harness, the nemesis
//! (composable faults injected into a running cluster), the workloads that drive clients
//! and record their histories and watch streams, and the checkers that decide from those
//! recordings whether the store kept its promises (linearizability, etcd's watch
//! guarantees).
//!
//! What does not live here: production code, each crate's own unit tests, and the fault
//! hooks inside the crates (failpoints stay in their crates behind a cargo feature). The
//! checkers ([`checker`]) are pure and depend on nothing but serde, so they also run
//! offline on a history saved from a failing run.

pub mod checker;
