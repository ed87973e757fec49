//! Opening a log directory: scan every segment, cut a torn tail, finish an interrupted
//! purge, and prove the segments form one contiguous log before anything reads it.
//! Zero-filled (preallocated) space after the last record of a segment is its normal
//! end, and is left in place.

use std::path::Path;
use std::sync::Arc;

use super::error::LogError;
use super::index::LogIndex;
use super::io::Disk;
use super::segment::{self, Segment};
use crate::raft_types::LogId;

/// Rebuilds the index of the log in `dir`, given the last purged id from the meta file.
/// The last segment is left preallocated to `segment_size` (where the filesystem can),
/// but not synced: the caller syncs it.
pub(crate) fn recover(
    dir: &Path,
    last_purged: Option<LogId>,
    segment_size: u64,
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
                dropped_bytes = (segment::data_end(&bytes) as u64).saturating_sub(*offset),
                damage = %damage,
                "cutting torn tail off the log"
            );
            // Zero from the torn record on, so that it reads as the end of the log.
            disk.zero_from(&file, &path, scan.valid_len, segment_size)?;
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

    // A last segment written before preallocation existed, cut by a truncation on a
    // filesystem without fallocate, etc.: preallocate it now, so appends to it do not
    // grow the file. Best effort; the caller syncs the last segment.
    if let Some((seg, _)) = segments.last() {
        disk.preallocate(&seg.file, &seg.path, segment_size);
    }

    let last_log_id = segments.last().and_then(|(_, last)| *last);
    Ok(LogIndex {
        segments: segments.into_iter().map(|(seg, _)| seg).collect(),
        last_purged,
        last_log_id,
    })
}
