//! The few system calls the log makes, each wrapped once: fault hooks applied, counters
//! bumped, errors tagged with the path.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::os::unix::io::AsRawFd;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::error::LogError;
use super::faults::{self, Faults};
use super::stats::{Counters, PREALLOC_OFF, PREALLOC_ON};

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

    /// fdatasync a segment outside any group commit (making a new segment's
    /// preallocated size durable), without counting it in [`Counters::fsyncs`].
    pub(crate) fn sync_data_uncounted(&self, file: &File, path: &Path) -> Result<(), LogError> {
        self.faults
            .before_sync()
            .map_err(|e| LogError::io(path, e))?;
        file.sync_data().map_err(|e| LogError::io(path, e))
    }

    /// Extends `file` to `size` bytes with allocated, zero-reading space (fallocate mode
    /// 0), so that appends inside it change neither the file size nor, on fdatasync, the
    /// inode. Returns whether the file now has at least `size` bytes; does not sync.
    ///
    /// Best effort: on a filesystem without fallocate the store stops trying (segments
    /// then grow with each append, as the record scan does not depend on the file size),
    /// and any other failure (say ENOSPC) is logged and left to the writes that follow.
    pub(crate) fn preallocate(&self, file: &File, path: &Path, size: u64) -> bool {
        let mode = &self.stats.prealloc;
        if mode.load(Ordering::Relaxed) == PREALLOC_OFF {
            return false;
        }
        let have = match file.metadata() {
            Ok(meta) => meta.len(),
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot stat log segment to preallocate it");
                return false;
            }
        };
        // Already long enough (a recovered segment): nothing to extend, but until this
        // store knows whether fallocate works, a no-op fallocate over it finds out.
        let (offset, len) = match have.checked_sub(size) {
            None => (have, size - have),
            Some(_) if mode.load(Ordering::Relaxed) == PREALLOC_ON => return true,
            Some(_) => (0, size),
        };
        if len == 0 {
            return false;
        }
        match fallocate(file, offset, len) {
            Ok(()) => {
                if mode.swap(PREALLOC_ON, Ordering::Relaxed) != PREALLOC_ON {
                    tracing::info!(
                        path = %path.display(),
                        segment_size = size,
                        "preallocating log segments (fallocate)"
                    );
                }
                true
            }
            Err(e) if is_unsupported(&e) => {
                if mode.swap(PREALLOC_OFF, Ordering::Relaxed) != PREALLOC_OFF {
                    tracing::warn!(
                        path = %path.display(),
                        error = %e,
                        "filesystem does not support fallocate; log segments grow with each \
                         append (every group commit also syncs a size change)"
                    );
                }
                false
            }
            Err(e) => {
                tracing::warn!(
                    path = %path.display(),
                    error = %e,
                    "cannot preallocate log segment; it grows with each append"
                );
                false
            }
        }
    }

    /// Makes the segment read as end-of-log from `at` on: cuts it there and, where
    /// segments are preallocated, extends it again to `segment_size` with zero-reading
    /// space. Does not sync.
    pub(crate) fn zero_from(
        &self,
        file: &File,
        path: &Path,
        at: u64,
        segment_size: u64,
    ) -> Result<(), LogError> {
        file.set_len(at).map_err(|e| LogError::io(path, e))?;
        if self.stats.prealloc.load(Ordering::Relaxed) != PREALLOC_OFF {
            self.preallocate(file, path, segment_size);
        }
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

/// fallocate mode 0 over `[offset, offset + len)`: allocates and, past the end of the
/// file, extends it.
#[cfg(target_os = "linux")]
fn fallocate(file: &File, offset: u64, len: u64) -> io::Result<()> {
    let (Ok(offset), Ok(len)) = (libc::off_t::try_from(offset), libc::off_t::try_from(len)) else {
        return Err(io::Error::from_raw_os_error(libc::EFBIG));
    };
    loop {
        // SAFETY: fallocate only reads the descriptor, which `file` keeps open.
        let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, offset, len) };
        if rc == 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn fallocate(_file: &File, _offset: u64, _len: u64) -> io::Result<()> {
    Err(io::Error::from_raw_os_error(libc::EOPNOTSUPP))
}

/// Whether a fallocate error means the filesystem (or kernel) cannot do it at all.
fn is_unsupported(err: &io::Error) -> bool {
    matches!(
        err.raw_os_error(),
        Some(code) if code == libc::EOPNOTSUPP || code == libc::ENOSYS
    )
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
