//! hive-actors: Hive's components as supervised actix actors — the API object
//! model, the API server, the scheduler, the controllers, the node agent and
//! networking.
//!
//! What lives here: the Kubernetes-compatible API object model (`api`: quantities,
//! name and label validation, label and field selectors, the typed objects of
//! every served kind with their registry, decoding with unknown-field reports,
//! defaulting and validation) and, as they arrive, the actors that serve and act
//! on those objects. Decisions are pure functions in their own modules; actors
//! stay thin and only perform the I/O a decision asks for.
//!
//! What does not: replicated storage and consensus (`hive-raftstore`), the wire
//! transport (`hive-transport`), process wiring and command-line handling
//! (`bin/`), and cluster test harnesses (`testkit/`).

pub mod api;
pub mod apiserver;
