//! The errors of the store's client API.
//!
//! Callers decide by kind: `NotLeader` and `Unavailable` are safe to retry elsewhere or
//! later (nothing was applied); `Timeout` means the outcome is unknown; `Compacted` asks
//! the caller to relist; `Fatal` means the member is broken and is being restarted.

use crate::types::{ApplyError, LeaseId, NodeId, Revision};

/// An error of a store operation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// This member does not lead the shard; nothing was applied. Retry at `leader`.
    #[error("not the leader; leader is {}", leader.as_ref().map(|(n, a)| format!("{n} at {a}")).unwrap_or_else(|| "unknown".into()))]
    NotLeader { leader: Option<(NodeId, String)> },
    /// The member is starting, restarting or stopped; nothing was applied.
    #[error("shard member unavailable: {0}")]
    Unavailable(String),
    /// The requested revision was compacted; relist at or after `compacted`.
    #[error("required revision has been compacted (compacted at revision {compacted})")]
    Compacted { compacted: Revision },
    #[error("revision {requested} is in the future; the current revision is {current}")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// A compare-and-swap lost: the key's current mod revision is `current`.
    #[error("conflict: the key was modified at revision {current}")]
    Conflict { current: Revision },
    #[error("lease {} not found", .0 .0)]
    LeaseNotFound(LeaseId),
    #[error("lease {} already exists", .0 .0)]
    LeaseExists(LeaseId),
    #[error("invalid request: {0}")]
    Invalid(String),
    /// The operation did not finish in time; it may or may not have been applied.
    #[error("timed out after {0:?}; the outcome is unknown")]
    Timeout(std::time::Duration),
    /// The member went away while handling the request; it may or may not have been applied.
    #[error("member lost mid-request; the outcome is unknown: {0}")]
    Indeterminate(String),
    /// The member hit an unrecoverable error (e.g. storage); its supervisor restarts it.
    #[error("fatal: {0}")]
    Fatal(String),
}

impl StoreError {
    /// Whether the same request may be sent again without risk of applying it twice.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::NotLeader { .. } | StoreError::Unavailable(_)
        )
    }

    /// A stable code for the wire.
    pub fn code(&self) -> &'static str {
        match self {
            StoreError::NotLeader { .. } => "NotLeader",
            StoreError::Unavailable(_) => "Unavailable",
            StoreError::Compacted { .. } => "Compacted",
            StoreError::FutureRevision { .. } => "FutureRevision",
            StoreError::Conflict { .. } => "Conflict",
            StoreError::LeaseNotFound(_) => "LeaseNotFound",
            StoreError::LeaseExists(_) => "LeaseExists",
            StoreError::Invalid(_) => "Invalid",
            StoreError::Timeout(_) => "Timeout",
            StoreError::Indeterminate(_) => "Indeterminate",
            StoreError::Fatal(_) => "Fatal",
        }
    }

    /// Maps a deterministic apply error; `current` is the store revision at apply time.
    pub fn from_apply(e: ApplyError, requested: Option<Revision>) -> Self {
        match e {
            ApplyError::Compacted { compacted } => StoreError::Compacted { compacted },
            ApplyError::FutureRevision { current } => StoreError::FutureRevision {
                requested: requested.unwrap_or(current),
                current,
            },
            ApplyError::LeaseNotFound { id } => StoreError::LeaseNotFound(id),
            ApplyError::LeaseExists { id } => StoreError::LeaseExists(id),
            ApplyError::DuplicateKey { key } => StoreError::Invalid(format!(
                "duplicate key in transaction: {}",
                String::from_utf8_lossy(&key)
            )),
        }
    }
}

/// The result of a store operation.
pub type StoreResult<T> = Result<T, StoreError>;
