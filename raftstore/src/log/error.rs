//! The log's error type, and its translation into openraft's `StorageError`.
//!
//! Every variant is fatal to the shard: openraft shuts a Raft node down on any storage
//! error, and a store that returned one refuses further writes.

use std::io;
use std::path::{Path, PathBuf};

use openraft::{AnyError, StorageIOError};

use crate::raft_types::StorageError;

/// What went wrong in the durable Raft log.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// A system call on a log file failed.
    #[error("log I/O error on {}: {source}", path.display())]
    Io {
        /// The file or directory the call was about.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: io::Error,
    },

    /// A record that is not at the recoverable tail failed its checks. The log refuses to
    /// open rather than skip it: that record may be a committed entry.
    #[error("corrupt log record in {} at byte offset {offset}: {reason}", path.display())]
    Corrupt {
        /// The segment file.
        path: PathBuf,
        /// Byte offset of the record's header within the file.
        offset: u64,
        /// Which check failed.
        reason: String,
    },

    /// The meta file (vote, committed, last purged) is unreadable.
    #[error("corrupt log meta file {}: {reason}", path.display())]
    CorruptMeta {
        /// The meta file.
        path: PathBuf,
        /// Which check failed.
        reason: String,
    },

    /// The segments on disk do not form one contiguous run of indexes.
    #[error("log segments are not contiguous: {} should start at index {expected}", path.display())]
    Gap {
        /// The first segment after the gap.
        path: PathBuf,
        /// The index it should have started at.
        expected: u64,
    },

    /// A file in the log directory is named like a segment but is not one.
    #[error("unexpected file in log directory: {}", path.display())]
    StrayFile {
        /// The file.
        path: PathBuf,
    },

    /// Another process (or another store in this one) has the log directory open.
    #[error("log directory {} is locked by another store", path.display())]
    Locked {
        /// The lock file.
        path: PathBuf,
    },

    /// An entry could not be encoded (a bug, or a payload beyond the record size limit).
    #[error("cannot encode log entry {index}: {reason}")]
    Encode {
        /// The entry's index.
        index: u64,
        /// Why.
        reason: String,
    },

    /// An append would leave a hole in, or rewrite, the log.
    #[error("append of index {got} does not follow the log (expected index {expected})")]
    NotContiguous {
        /// The index that had to come next.
        expected: u64,
        /// The index that came.
        got: u64,
    },

    /// An earlier write or fsync failed; the store no longer accepts writes.
    #[error("log store is failed after an earlier error: {0}")]
    Poisoned(String),

    /// The flusher thread is gone (the store is shutting down).
    #[error("log flusher has stopped")]
    FlusherGone,
}

impl LogError {
    pub(crate) fn io(path: impl AsRef<Path>, source: io::Error) -> LogError {
        LogError::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }

    pub(crate) fn corrupt(path: impl AsRef<Path>, offset: u64, reason: impl ToString) -> LogError {
        LogError::Corrupt {
            path: path.as_ref().to_path_buf(),
            offset,
            reason: reason.to_string(),
        }
    }

    /// As openraft's error for a failed log read.
    pub(crate) fn read_logs(self) -> StorageError {
        StorageIOError::read_logs(AnyError::new(&self)).into()
    }

    /// As openraft's error for a failed log write (append, truncate, purge).
    pub(crate) fn write_logs(self) -> StorageError {
        StorageIOError::write_logs(AnyError::new(&self)).into()
    }

    /// As openraft's error for a failed vote write.
    pub(crate) fn write_vote(self) -> StorageError {
        StorageIOError::write_vote(AnyError::new(&self)).into()
    }

    /// As openraft's error for a failed store-level write (the committed pointer).
    pub(crate) fn write_store(self) -> StorageError {
        StorageIOError::write(AnyError::new(&self)).into()
    }
}
