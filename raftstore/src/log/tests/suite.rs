//! openraft's storage suite against [`LogStore`], with a minimal in-memory state machine
//! standing in for `crate::mvcc` so the log store can be checked on its own.

use std::io::Cursor;
use std::sync::Arc;

use openraft::storage::{RaftStateMachine, Snapshot};
use openraft::testing::{StoreBuilder, Suite};
use openraft::{EntryPayload, OptionalSend, RaftSnapshotBuilder, StoredMembership};
use parking_lot::Mutex;
use tempfile::TempDir;

use super::*;
use crate::log::LogError;
use crate::raft_types::{SnapshotMeta, StorageError, TypeConfig};
use crate::types::ProposalResponse;

#[derive(Default)]
struct SmState {
    applied: Option<LogId>,
    membership: StoredMembership<crate::NodeId, openraft::BasicNode>,
    current: Option<(SnapshotMeta, Vec<u8>)>,
    built: u64,
}

/// Remembers only what the suite checks: last applied, membership, the snapshot.
#[derive(Clone, Default)]
struct NullStateMachine(Arc<Mutex<SmState>>);

impl RaftSnapshotBuilder<TypeConfig> for NullStateMachine {
    async fn build_snapshot(&mut self) -> Result<Snapshot<TypeConfig>, StorageError> {
        let mut s = self.0.lock();
        s.built += 1;
        let meta = SnapshotMeta {
            last_log_id: s.applied,
            last_membership: s.membership.clone(),
            snapshot_id: format!("snap-{}", s.built),
        };
        let data = format!("{:?}", s.applied).into_bytes();
        s.current = Some((meta.clone(), data.clone()));
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for NullStateMachine {
    type SnapshotBuilder = NullStateMachine;

    async fn applied_state(
        &mut self,
    ) -> Result<
        (
            Option<LogId>,
            StoredMembership<crate::NodeId, openraft::BasicNode>,
        ),
        StorageError,
    > {
        let s = self.0.lock();
        Ok((s.applied, s.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ProposalResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry> + OptionalSend,
        I::IntoIter: OptionalSend,
    {
        let mut s = self.0.lock();
        let mut out = Vec::new();
        for entry in entries {
            s.applied = Some(entry.log_id);
            if let EntryPayload::Membership(m) = entry.payload {
                s.membership = StoredMembership::new(Some(entry.log_id), m);
            }
            out.push(ProposalResponse::default());
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> NullStateMachine {
        self.clone()
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let mut s = self.0.lock();
        s.applied = meta.last_log_id;
        s.membership = meta.last_membership.clone();
        s.current = Some((meta.clone(), snapshot.into_inner()));
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot<TypeConfig>>, StorageError> {
        Ok(self.0.lock().current.clone().map(|(meta, data)| Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        }))
    }
}

/// Builds a fresh store in its own temporary directory, with tiny segments so that the
/// suite's logs span several of them.
struct TinySegments;

impl StoreBuilder<TypeConfig, LogStore, NullStateMachine, TempDir> for TinySegments {
    async fn build(&self) -> Result<(TempDir, LogStore, NullStateMachine), StorageError> {
        let dir =
            tempfile::tempdir().map_err(|e| LogError::io(std::env::temp_dir(), e).write_logs())?;
        let store = LogStore::open(dir.path(), tiny()).map_err(LogError::write_logs)?;
        Ok((dir, store, NullStateMachine::default()))
    }
}

/// The store meets openraft's own contract for `RaftLogStorage`, test by test.
#[test]
fn log_store_passes_the_openraft_storage_suite() {
    Suite::test_all(TinySegments).expect("openraft storage suite");
}
