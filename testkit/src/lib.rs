//! Hive's chaos testing kit: everything a test needs to run a cluster, break it, drive
//! load through it and judge what came out. It holds the cluster harness ([`harness`]:
//! one trait for what a run does to a cluster, with an in-process backend), the nemesis
//! ([`nemesis`]: seeded fault schedules and their executor), the workloads that drive
//! clients and record their histories and watch streams ([`workload`]), the checkers
//! that decide from those recordings whether the store kept its promises
//! ([`checker`]: linearizability, etcd's watch guarantees), and whole runs tying them
//! together into a report ([`run`], behind `hive chaos run`).
//!
//! What does not live here: production code, each crate's own unit tests, and the fault
//! hooks inside the crates (failpoints stay in their crates behind a cargo feature). The
//! checkers ([`checker`]) are pure and depend on nothing but serde, so they also run
//! offline on a history saved from a failing run.

pub mod checker;
pub mod harness;
pub mod nemesis;
pub mod run;
pub mod workload;

pub use harness::{ClusterBackend, KvClient, LocalBackend, LocalOptions};
pub use nemesis::{NemesisKind, Schedule};
pub use run::{judge, record, run, ChaosConfig, ChaosRecording, ChaosReport};
pub use workload::WorkloadKind;
