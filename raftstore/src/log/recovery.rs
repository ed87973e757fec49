//! Opening a log directory: scan every segment, cut a torn tail, finish an interrupted
//! purge, and prove the segments form one contiguous log before anything reads it.

use std::path::Path;
use std::sync::Arc;

use super::error::LogError;
use super::index::LogIndex;
use super::io::Disk;
use super::segment::{self, Segment};
use crate::raft_types::LogId;

/// Rebuilds the index of the log in `dir`, given the last purged id from the meta file.
pub(crate) fn recover(
    dir: &Path,
    last_purged: Option<LogId>,
    disk: &Disk,
) -> Result<LogIndex, LogError> {
    let listed = segment::list(dir)?;
    let count = listed.len();
    let mut segments: Vec<(Segment, Option<LogId>)> = Vec::with_capacity(count);
    for (n, (first_index, path)) in listed.into_iter().enumerate() {
        let is_last = n + 1 == count;
        let (file, bytes) = segment::open(&path)?;
        let scan = segment::scan(&bytes, first_index, is_last)
            .map_err(|e| LogError::corrupt(&path, e.offset, e.reason))?;
        if let Some((offset, damage)) = &scan.torn {
            tracing::warn!(
                path = %path.display(),
                offset,
                dropped_bytes = bytes.len() as u64 - offset,
                damage = %damage,
                "cutting torn tail off the log"
            );
            file.set_len(scan.valid_len)
                .map_err(|e| LogError::io(&path, e))?;
            disk.sync_data(&file, &path)?;
        }
        let seg = Segment {
            first_index,
            path,
            file: Arc::new(file),
            offsets: scan.offsets,
            len: scan.valid_len,
        };
        segments.push((seg, scan.last_log_id));
    }

    // A crash between creating a segment and writing to it leaves it empty; only the
    // last one can be (a segment is synced, with data, before its successor exists).
    if segments
        .last()
        .is_some_and(|(seg, _)| seg.offsets.is_empty())
    {
        if let Some((seg, _)) = segments.pop() {
            tracing::info!(path = %seg.path.display(), "removing empty last segment");
            segment::remove(dir, &seg.path, disk)?;
        }
    }

    // Finish a purge that was persisted but whose files were not all deleted yet.
    if let Some(purged) = last_purged {
        let doomed = segments
            .iter()
            .take_while(|(seg, _)| seg.end_index() <= purged.index.saturating_add(1))
            .count();
        for (seg, _) in segments.drain(..doomed) {
            tracing::info!(path = %seg.path.display(), purged = %purged, "removing purged segment");
            segment::remove(dir, &seg.path, disk)?;
        }
        if let Some((first, _)) = segments.first() {
            if first.first_index > purged.index.saturating_add(1) {
                return Err(LogError::Gap {
                    path: first.path.clone(),
                    expected: purged.index.saturating_add(1),
                });
            }
        }
    }

    for pair in segments.windows(2) {
        let (prev, next) = (&pair[0].0, &pair[1].0);
        if next.first_index != prev.end_index() {
            return Err(LogError::Gap {
                path: next.path.clone(),
                expected: prev.end_index(),
            });
        }
    }

    let last_log_id = segments.last().and_then(|(_, last)| *last);
    Ok(LogIndex {
        segments: segments.into_iter().map(|(seg, _)| seg).collect(),
        last_purged,
        last_log_id,
    })
}
