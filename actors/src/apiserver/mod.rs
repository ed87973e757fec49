//! The API storage path: how Kubernetes objects are stored in, read from and
//! watched on the Hive store, and the [`ApiClient`] every component uses.
//!
//! What lives here: the [`ApiClient`] trait and its option/result types
//! ([`client`]), [`ApiError`] mapped onto Kubernetes' `Status` ([`error`]).
//! As they land: the per-resource storage layer over `hive_raftstore::Store`
//! and `RemoteStore`, the rkyv envelope objects are stored in, patches, the
//! local client and the client and server over QUIC.
//!
//! What does not: HTTP (the REST edge, `rest/`), decoding manifests and
//! validation rules themselves (`crate::api`).

pub mod client;
pub mod error;
pub mod rest;

pub use client::{
    retry_on_conflict, ApiClient, DeleteOptions, DeleteOutcome, GetOptions, ListOptions,
    ObjectList, Patch, PatchOptions, Preconditions, PropagationPolicy, Subresource, WatchEvent,
    WatchOptions, WatchStream, WriteOptions,
};
pub use error::{ApiError, ApiResult};
