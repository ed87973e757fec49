//! The few system calls the log makes, each wrapped once: fault hooks applied, counters
//! bumped, errors tagged with the path.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::Arc;

use super::error::LogError;
use super::faults::{self, Faults};
use super::stats::Counters;

/// Name of the lock file inside the log directory.
const LOCK_FILE: &str = "LOCK";

/// System calls with the store's fault hooks and counters attached.
#[derive(Clone, Debug)]
pub(crate) struct Disk {
    pub(crate) faults: Faults,
    pub(crate) stats: Arc<Counters>,
}

impl Disk {
    /// fdatasync a segment.
    pub(crate) fn sync_data(&self, file: &File, path: &Path) -> Result<(), LogError> {
        self.faults
            .before_sync()
            .map_err(|e| LogError::io(path, e))?;
        file.sync_data().map_err(|e| LogError::io(path, e))?;
        Counters::add(&self.stats.fsyncs, 1);
        Ok(())
    }

    /// fsync a small file in full (data and metadata), for the meta file.
    pub(crate) fn sync_all(&self, file: &File, path: &Path) -> Result<(), LogError> {
        self.faults
            .before_sync()
            .map_err(|e| LogError::io(path, e))?;
        file.sync_all().map_err(|e| LogError::io(path, e))
    }

    /// fsync a directory so that creates, renames and unlinks in it are durable.
    pub(crate) fn sync_dir(&self, dir: &Path) -> Result<(), LogError> {
        self.faults
            .before_sync()
            .map_err(|e| LogError::io(dir, e))?;
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| LogError::io(dir, e))?;
        Counters::add(&self.stats.dir_syncs, 1);
        Ok(())
    }

    /// Write all of `buf` at `offset`.
    pub(crate) fn write_at(
        &self,
        file: &File,
        path: &Path,
        buf: &[u8],
        offset: u64,
    ) -> Result<(), LogError> {
        if let Some(part) = self.faults.torn_write_len(buf.len()) {
            file.write_all_at(&buf[..part], offset)
                .map_err(|e| LogError::io(path, e))?;
            return Err(LogError::io(path, faults::torn_write_error()));
        }
        file.write_all_at(buf, offset)
            .map_err(|e| LogError::io(path, e))?;
        Counters::add(&self.stats.bytes, buf.len() as u64);
        Ok(())
    }
}

/// Takes an exclusive, non-blocking flock on `<dir>/LOCK`, held until the returned file
/// is closed. Two stores appending to one log would interleave records.
pub(crate) fn lock_dir(dir: &Path) -> Result<File, LogError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| LogError::io(&path, e))?;
    // SAFETY: flock only reads the descriptor, which `file` keeps open for the call.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.kind() == io::ErrorKind::WouldBlock {
            return Err(LogError::Locked { path });
        }
        return Err(LogError::io(&path, err));
    }
    Ok(file)
}
