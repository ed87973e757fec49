//! openraft's own storage test suite, run against Hive's log store and state machine:
//! the contract openraft relies on (log state, vote, append, truncate, purge, apply,
//! snapshots) holds for our implementations.

use hive_raftstore::log::{LogOptions, LogStore};
use hive_raftstore::raft_types::{StorageError, TypeConfig};
use hive_raftstore::sm::StateMachine;
use hive_raftstore::watch::WatchConfig;
use openraft::testing::{StoreBuilder, Suite};

struct Builder;

impl StoreBuilder<TypeConfig, LogStore, StateMachine, tempfile::TempDir> for Builder {
    async fn build(&self) -> Result<(tempfile::TempDir, LogStore, StateMachine), StorageError> {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = LogStore::open(dir.path(), LogOptions::default()).expect("open log");
        let sm =
            StateMachine::open(dir.path(), WatchConfig::default()).expect("open state machine");
        Ok((dir, log, sm))
    }
}

/// Every case of `openraft::testing::Suite` passes on our storage.
#[test]
fn openraft_storage_suite_passes_on_hive_log_and_state_machine() {
    Suite::test_all(Builder).expect("openraft storage suite");
}
