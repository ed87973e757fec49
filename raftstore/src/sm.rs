//! The Raft state machine of a shard: the MVCC keyspace and the watch hub behind one
//! lock, applied from the committed log, snapshotted to disk with rkyv.
//!
//! One lock covers both on purpose: applying a revision and publishing it to watchers,
//! and registering a watcher with its history catch-up, must not interleave, or a
//! watcher could miss or repeat a revision.

use std::fs;
use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use openraft::storage::RaftStateMachine;
use openraft::{EntryPayload, RaftSnapshotBuilder, StorageIOError};
use parking_lot::Mutex;

use crate::error::{StoreError, StoreResult};
use crate::mvcc::Mvcc;
use crate::raft_types::{
    Entry, LogId, Snapshot, SnapshotMeta, StorageError, StoredMembership, TypeConfig,
};
use crate::types::{LeaseId, ProposalResponse, RangeRequest, RangeResponse, Revision};
use crate::watch::{WatchConfig, WatchHub, WatchId, WatchReceiver, WatchRequest};

/// Why the state machine could not be opened or a snapshot not read.
#[derive(Debug, thiserror::Error)]
pub enum SmError {
    #[error("snapshot file {path}: {what}")]
    Snapshot { path: PathBuf, what: String },
    #[error("io on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

struct SmState {
    mvcc: Mvcc,
    hub: WatchHub,
    last_applied: Option<LogId>,
    membership: StoredMembership,
}

struct SmShared {
    state: Mutex<SmState>,
    dir: PathBuf,
}

/// A cheap handle on a member's state machine, for local reads and watches.
#[derive(Clone)]
pub struct SmHandle {
    shared: Arc<SmShared>,
}

impl SmHandle {
    /// A read served from this member's applied state. Linearizable only after a read
    /// barrier on the leader (see `Store`); otherwise serializable.
    pub fn range(&self, req: &RangeRequest) -> StoreResult<RangeResponse> {
        let st = self.shared.state.lock();
        st.mvcc
            .range(req)
            .map_err(|e| StoreError::from_apply(e, req.revision))
    }

    /// Registers a watcher; past revisions are served from history, then live events.
    pub fn watch(&self, req: WatchRequest) -> StoreResult<(WatchId, WatchReceiver)> {
        let req = crate::planted::resume_late(req);
        let mut st = self.shared.state.lock();
        let SmState { mvcc, hub, .. } = &mut *st;
        let start = req.start_revision;
        let r = hub
            .watch(mvcc, req)
            .map_err(|e| StoreError::from_apply(e, start))?;
        hub.pump_unsynced(mvcc);
        Ok(r)
    }

    /// Cancels a watcher.
    pub fn cancel_watch(&self, id: WatchId) {
        self.shared.state.lock().hub.cancel(id);
    }

    /// The revision of the last applied write.
    pub fn revision(&self) -> Revision {
        self.shared.state.lock().mvcc.revision()
    }

    /// The replicated lease table: (id, ttl in seconds).
    pub fn leases(&self) -> Vec<(LeaseId, u64)> {
        self.shared.state.lock().mvcc.leases()
    }

    /// Sends a progress notification (bookmark) to every synced watcher that asked.
    pub fn progress(&self) {
        let mut st = self.shared.state.lock();
        let rev = st.mvcc.revision();
        st.hub.progress(rev);
    }

    /// Moves watchers that are catching up from history a step further; true while
    /// some of them want another step.
    pub fn pump(&self) -> bool {
        let mut st = self.shared.state.lock();
        let SmState { mvcc, hub, .. } = &mut *st;
        hub.pump_unsynced(mvcc)
    }

    /// Feeds catching-up watchers whenever a receiver makes room, until `self` is the
    /// last handle. Runs as a task beside the shard.
    pub async fn run_pump(self) {
        let wakeup = self.shared.state.lock().hub.wakeup();
        loop {
            wakeup.notified().await;
            if Arc::strong_count(&self.shared) <= 1 {
                return;
            }
            while self.pump() {
                tokio::task::yield_now().await;
            }
        }
    }

    /// The log id of the last applied entry.
    pub fn last_applied(&self) -> Option<LogId> {
        self.shared.state.lock().last_applied
    }
}

/// The state machine given to openraft.
pub struct StateMachine {
    handle: SmHandle,
}

/// The snapshot file: openraft's metadata as JSON beside the rkyv keyspace.
#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
struct SnapshotFile {
    meta_json: Vec<u8>,
    data: Vec<u8>,
}

const SNAPSHOT_FILE: &str = "snapshot.bin";

impl StateMachine {
    /// Opens the state machine of the member whose directory is `dir`, restoring the
    /// last snapshot if there is one; openraft then re-applies the committed log tail.
    pub fn open(dir: &Path, watch: WatchConfig) -> Result<Self, SmError> {
        let snap_dir = dir.join("snapshot");
        fs::create_dir_all(&snap_dir).map_err(|source| SmError::Io {
            path: snap_dir.clone(),
            source,
        })?;
        let (mvcc, last_applied, membership) = match read_snapshot_file(&snap_dir)? {
            Some((meta, data)) => {
                let mvcc = Mvcc::from_snapshot(&data).map_err(|e| SmError::Snapshot {
                    path: snap_dir.join(SNAPSHOT_FILE),
                    what: e.to_string(),
                })?;
                tracing::info!(dir = %dir.display(), revision = %mvcc.revision(), last_log = ?meta.last_log_id, "restored snapshot");
                (mvcc, meta.last_log_id, meta.last_membership)
            }
            None => (Mvcc::new(), None, StoredMembership::default()),
        };
        let state = SmState {
            mvcc,
            hub: WatchHub::new(watch),
            last_applied,
            membership,
        };
        Ok(StateMachine {
            handle: SmHandle {
                shared: Arc::new(SmShared {
                    state: Mutex::new(state),
                    dir: snap_dir,
                }),
            },
        })
    }

    /// A handle for reads and watches that outlives openraft's ownership of `self`.
    pub fn handle(&self) -> SmHandle {
        self.handle.clone()
    }
}

fn io_err(e: impl std::fmt::Display) -> StorageError {
    StorageIOError::write_state_machine(&std::io::Error::other(e.to_string())).into()
}

fn read_snapshot_file(dir: &Path) -> Result<Option<(SnapshotMeta, Vec<u8>)>, SmError> {
    let path = dir.join(SNAPSHOT_FILE);
    let bytes = match fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(SmError::Io { path, source }),
    };
    let bad = |what: String| SmError::Snapshot {
        path: path.clone(),
        what,
    };
    if bytes.len() < 4 {
        return Err(bad("shorter than its checksum".into()));
    }
    let (crc, body) = bytes.split_at(4);
    let want = u32::from_le_bytes([crc[0], crc[1], crc[2], crc[3]]);
    if crc32fast::hash(body) != want {
        return Err(bad("checksum mismatch".into()));
    }
    let mut aligned = rkyv::util::AlignedVec::<16>::new();
    aligned.extend_from_slice(body);
    let file: SnapshotFile = rkyv::from_bytes::<SnapshotFile, rkyv::rancor::Error>(&aligned)
        .map_err(|e| bad(e.to_string()))?;
    let meta: SnapshotMeta =
        serde_json::from_slice(&file.meta_json).map_err(|e| bad(format!("metadata: {e}")))?;
    Ok(Some((meta, file.data)))
}

/// Writes the snapshot atomically: a temporary file, fsync, rename, fsync the directory.
fn write_snapshot_file(dir: &Path, meta: &SnapshotMeta, data: &[u8]) -> std::io::Result<()> {
    let meta_json = serde_json::to_vec(meta).map_err(std::io::Error::other)?;
    let file = SnapshotFile {
        meta_json,
        data: data.to_vec(),
    };
    let body = rkyv::to_bytes::<rkyv::rancor::Error>(&file).map_err(std::io::Error::other)?;
    let tmp = dir.join(format!("{SNAPSHOT_FILE}.tmp"));
    {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(&crc32fast::hash(&body).to_le_bytes())?;
        f.write_all(&body)?;
        f.sync_all()?;
    }
    fs::rename(&tmp, dir.join(SNAPSHOT_FILE))?;
    fs::File::open(dir)?.sync_all()
}

/// Builds snapshots for openraft.
pub struct SnapshotBuilder {
    handle: SmHandle,
}

impl RaftSnapshotBuilder<TypeConfig> for SnapshotBuilder {
    async fn build_snapshot(&mut self) -> Result<Snapshot, StorageError> {
        let (meta, data) = {
            let st = self.handle.shared.state.lock();
            let id = match &st.last_applied {
                Some(l) => format!("{}-{}-{}", l.leader_id, l.index, st.mvcc.revision()),
                None => "empty".to_string(),
            };
            let meta = SnapshotMeta {
                last_log_id: st.last_applied,
                last_membership: st.membership.clone(),
                snapshot_id: id,
            };
            (meta, st.mvcc.snapshot_bytes().map_err(io_err)?)
        };
        let dir = self.handle.shared.dir.clone();
        let (m, d) = (meta.clone(), data.clone());
        tokio::task::spawn_blocking(move || write_snapshot_file(&dir, &m, &d))
            .await
            .map_err(io_err)?
            .map_err(io_err)?;
        tracing::info!(snapshot = %meta.snapshot_id, bytes = data.len(), "built snapshot");
        Ok(Snapshot {
            meta,
            snapshot: Box::new(Cursor::new(data)),
        })
    }
}

impl RaftStateMachine<TypeConfig> for StateMachine {
    type SnapshotBuilder = SnapshotBuilder;

    async fn applied_state(&mut self) -> Result<(Option<LogId>, StoredMembership), StorageError> {
        let st = self.handle.shared.state.lock();
        Ok((st.last_applied, st.membership.clone()))
    }

    async fn apply<I>(&mut self, entries: I) -> Result<Vec<ProposalResponse>, StorageError>
    where
        I: IntoIterator<Item = Entry> + Send,
        I::IntoIter: Send,
    {
        let mut out = Vec::new();
        let mut st = self.handle.shared.state.lock();
        let SmState {
            mvcc,
            hub,
            last_applied,
            membership,
        } = &mut *st;
        for entry in entries {
            *last_applied = Some(entry.log_id);
            let resp = match entry.payload {
                EntryPayload::Blank => ProposalResponse::default(),
                EntryPayload::Normal(proposal) => {
                    let responses = proposal
                        .commands
                        .iter()
                        .map(|cmd| {
                            let (resp, batch) = mvcc.apply(cmd);
                            if let Some(batch) = batch {
                                hub.publish(mvcc, &batch);
                            }
                            resp
                        })
                        .collect();
                    ProposalResponse { responses }
                }
                EntryPayload::Membership(m) => {
                    *membership = StoredMembership::new(Some(entry.log_id), m);
                    ProposalResponse::default()
                }
            };
            out.push(resp);
        }
        Ok(out)
    }

    async fn get_snapshot_builder(&mut self) -> SnapshotBuilder {
        SnapshotBuilder {
            handle: self.handle.clone(),
        }
    }

    async fn begin_receiving_snapshot(&mut self) -> Result<Box<Cursor<Vec<u8>>>, StorageError> {
        Ok(Box::new(Cursor::new(Vec::new())))
    }

    async fn install_snapshot(
        &mut self,
        meta: &SnapshotMeta,
        snapshot: Box<Cursor<Vec<u8>>>,
    ) -> Result<(), StorageError> {
        let data = snapshot.into_inner();
        let mvcc = Mvcc::from_snapshot(&data).map_err(|e| {
            StorageError::from(StorageIOError::read_snapshot(
                Some(meta.signature()),
                &std::io::Error::other(e.to_string()),
            ))
        })?;
        let dir = self.handle.shared.dir.clone();
        let (m, d) = (meta.clone(), data);
        tokio::task::spawn_blocking(move || write_snapshot_file(&dir, &m, &d))
            .await
            .map_err(io_err)?
            .map_err(io_err)?;
        let mut st = self.handle.shared.state.lock();
        tracing::info!(snapshot = %meta.snapshot_id, revision = %mvcc.revision(), "installed snapshot");
        st.mvcc = mvcc;
        st.last_applied = meta.last_log_id;
        st.membership = meta.last_membership.clone();
        // Watchers on this member may have missed revisions the snapshot skipped; they
        // continue from history (or learn they were compacted), never silently.
        let SmState { mvcc, hub, .. } = &mut *st;
        hub.resync(mvcc);
        hub.pump_unsynced(mvcc);
        Ok(())
    }

    async fn get_current_snapshot(&mut self) -> Result<Option<Snapshot>, StorageError> {
        let dir = self.handle.shared.dir.clone();
        let read = tokio::task::spawn_blocking(move || read_snapshot_file(&dir))
            .await
            .map_err(io_err)?;
        match read {
            Ok(Some((meta, data))) => Ok(Some(Snapshot {
                meta,
                snapshot: Box::new(Cursor::new(data)),
            })),
            Ok(None) => Ok(None),
            Err(e) => Err(StorageIOError::read_snapshot(
                None,
                &std::io::Error::other(e.to_string()),
            )
            .into()),
        }
    }
}
