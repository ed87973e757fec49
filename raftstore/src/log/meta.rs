//! The meta file: the vote, the committed log id and the last purged log id, replaced
//! atomically (write a temp file, fsync it, rename over, fsync the directory).
//!
//! Format: `["HIVELOGM"][version: u32 LE][crc32 of json: u32 LE][json len: u32 LE][json]`.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::error::LogError;
use super::io::Disk;
use super::stats::Counters;
use crate::raft_types::{LogId, Vote};

const META_FILE: &str = "meta";
const META_TMP: &str = "meta.tmp";
const MAGIC: &[u8; 8] = b"HIVELOGM";
const VERSION: u32 = 1;
const HEADER_LEN: usize = 20;

/// What the log remembers besides its entries.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Meta {
    pub(crate) vote: Option<Vote>,
    pub(crate) committed: Option<LogId>,
    pub(crate) last_purged: Option<LogId>,
}

/// The on-disk bytes of `meta`.
pub(crate) fn encode(meta: &Meta) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_vec(meta)?;
    let mut out = Vec::with_capacity(HEADER_LEN + json.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&json).to_le_bytes());
    out.extend_from_slice(&(json.len() as u32).to_le_bytes());
    out.extend_from_slice(&json);
    Ok(out)
}

/// Parses meta file bytes, checking magic, version, length and checksum.
pub(crate) fn decode(bytes: &[u8]) -> Result<Meta, String> {
    let header = bytes
        .get(..HEADER_LEN)
        .ok_or_else(|| format!("{} bytes is shorter than the header", bytes.len()))?;
    if &header[..8] != MAGIC {
        return Err("bad magic".into());
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (version, crc, len) = (word(8), word(12), word(16) as usize);
    if version != VERSION {
        return Err(format!("unknown version {version}"));
    }
    let json = &bytes[HEADER_LEN..];
    if json.len() != len {
        return Err(format!("body is {} bytes, header says {len}", json.len()));
    }
    let computed = crc32fast::hash(json);
    if computed != crc {
        return Err(format!(
            "checksum mismatch (stored {crc:#010x}, computed {computed:#010x})"
        ));
    }
    serde_json::from_slice(json).map_err(|e| e.to_string())
}

/// The meta file of one log directory and the latest value written to it.
///
/// Only the store's thread changes the value; the flusher also writes it (to persist the
/// committed id). Writes are serialized by `write_lock`, and each writes the value as it
/// is when the lock is taken, so the file never goes back to an older value. The value's
/// own lock is never held across disk I/O, so recording a new committed id never waits
/// for a meta write.
#[derive(Debug)]
pub(crate) struct MetaFile {
    dir: PathBuf,
    disk: Disk,
    state: Mutex<Meta>,
    write_lock: Mutex<()>,
}

impl MetaFile {
    /// Loads the meta file of `dir`, or the default if there is none yet.
    pub(crate) fn load(dir: &Path, disk: Disk) -> Result<MetaFile, LogError> {
        let tmp = dir.join(META_TMP);
        match fs::remove_file(&tmp) {
            Ok(()) => tracing::info!(path = %tmp.display(), "removed unfinished meta file"),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(LogError::io(&tmp, e)),
        }
        let path = dir.join(META_FILE);
        let meta = match fs::read(&path) {
            Ok(bytes) => decode(&bytes).map_err(|reason| LogError::CorruptMeta { path, reason })?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Meta::default(),
            Err(e) => return Err(LogError::io(&path, e)),
        };
        Ok(MetaFile {
            dir: dir.to_path_buf(),
            disk,
            state: Mutex::new(meta),
            write_lock: Mutex::new(()),
        })
    }

    /// The latest value (the committed id in it perhaps not yet durable).
    pub(crate) fn get(&self) -> Meta {
        self.state.lock().clone()
    }

    /// Applies `change` and makes the result durable before returning. On error the
    /// remembered value is unchanged. Called from the store's thread only.
    pub(crate) fn update(&self, change: impl FnOnce(&mut Meta)) -> Result<(), LogError> {
        let _writing = self.write_lock.lock();
        let mut next = self.get();
        change(&mut next);
        self.write(&next)?;
        *self.state.lock() = next;
        Ok(())
    }

    /// Changes the committed id in memory only; the flusher persists it later, after a
    /// data sync (and `LogStore::open` lowers it if it ever outran the surviving log).
    /// Returns whether it changed. Called from the store's thread only.
    pub(crate) fn set_committed(&self, committed: Option<LogId>) -> bool {
        let mut state = self.state.lock();
        let changed = state.committed != committed;
        state.committed = committed;
        changed
    }

    /// Marks the vote in memory as not committed (see `LogStore::open`); the file keeps
    /// what was saved until the next write. Answers the vote as it was.
    pub(crate) fn uncommit_vote(&self) -> Option<Vote> {
        let mut state = self.state.lock();
        let was = state.vote;
        if let Some(vote) = state.vote.as_mut() {
            vote.committed = false;
        }
        was
    }

    /// Writes the current value.
    pub(crate) fn persist(&self) -> Result<(), LogError> {
        let _writing = self.write_lock.lock();
        let now = self.get();
        self.write(&now)
    }

    fn write(&self, meta: &Meta) -> Result<(), LogError> {
        let tmp = self.dir.join(META_TMP);
        let path = self.dir.join(META_FILE);
        let bytes = encode(meta).map_err(|e| LogError::io(&tmp, io::Error::other(e)))?;
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .open(&tmp)
            .map_err(|e| LogError::io(&tmp, e))?;
        file.write_all(&bytes).map_err(|e| LogError::io(&tmp, e))?;
        self.disk.sync_all(&file, &tmp)?;
        drop(file);
        fs::rename(&tmp, &path).map_err(|e| LogError::io(&path, e))?;
        self.disk.sync_dir(&self.dir)?;
        Counters::add(&self.disk.stats.meta_writes, 1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever is encoded decodes to the same value, and any single flipped byte is
    /// caught.
    #[test]
    fn meta_round_trips_and_detects_any_flipped_byte() {
        let meta = Meta {
            vote: Some(Vote::new_committed(4, crate::NodeId(2))),
            committed: Some(crate::log::record::log_id(4, 2, 17)),
            last_purged: Some(crate::log::record::log_id(3, 1, 9)),
        };
        let bytes = encode(&meta).expect("encode");
        assert_eq!(decode(&bytes), Ok(meta));
        for i in 0..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert!(decode(&bad).is_err(), "flip at byte {i} went unnoticed");
        }
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
    }
}
