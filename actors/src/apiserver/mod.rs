//! The API storage path: how Kubernetes objects are stored in, read from and
//! watched on the Hive store, and the [`ApiClient`] every component uses.
//!
//! What lives here: the [`ApiClient`] trait and its option/result types
//! ([`client`]), [`ApiError`] mapped onto Kubernetes' `Status` ([`error`]),
//! the per-resource storage layer ([`storage`]) over `hive_raftstore::Store`
//! or `RemoteStore` ([`kv`]), the rkyv envelope objects are stored in and
//! selectors read ([`envelope`]), patches ([`patch`]), the in-process client
//! ([`local`]), and the client and server over QUIC ([`remote`]).
//!
//! What does not: HTTP (the REST edge, `rest/`), decoding manifests and
//! validation rules themselves (`crate::api`).

pub mod client;
pub mod envelope;
pub mod error;
pub mod kv;
pub mod local;
pub mod patch;
pub mod remote;
pub mod rest;
pub mod storage;

pub use client::{
    retry_on_conflict, ApiClient, DeleteOptions, DeleteOutcome, GetOptions, JsonList, ListOptions,
    ListPage, ObjectList, Patch, PatchOptions, Preconditions, PropagationPolicy, Subresource,
    WatchEvent, WatchOptions, WatchStream, WriteOptions,
};
pub use error::{ApiError, ApiResult};
pub use kv::Kv;
pub use local::LocalApiClient;
pub use patch::PatchApplier;
pub use remote::{ApiQuicServer, RemoteApiClient, RemoteApiOptions};
pub use storage::Storage;
