//! The in-memory index of the log: which segment holds each index and at what offset,
//! and the reads that go through it.

use std::os::unix::fs::FileExt;

use rkyv::util::AlignedVec;

use super::error::LogError;
use super::record;
use super::segment::Segment;
use crate::raft_types::{Entry, LogId};

/// Segments in index order, and the log pointers derived from them.
///
/// Segments are contiguous: each starts where the previous one ends. Entries at or below
/// `last_purged` may still sit in the first segment; they are never returned.
#[derive(Debug, Default)]
pub(crate) struct LogIndex {
    pub(crate) segments: Vec<Segment>,
    pub(crate) last_purged: Option<LogId>,
    /// The id of the last entry in the segments (purged or not), if there is one.
    pub(crate) last_log_id: Option<LogId>,
}

impl LogIndex {
    /// The first index a read may return.
    pub(crate) fn first_live(&self) -> u64 {
        self.last_purged.map_or(0, |p| p.index.saturating_add(1))
    }

    /// One past the last index in the segments (0 when there are none).
    pub(crate) fn end_index(&self) -> u64 {
        self.segments.last().map_or(0, Segment::end_index)
    }

    /// The index the next append must have, if the log constrains it.
    pub(crate) fn expected_next(&self) -> Option<u64> {
        match self.segments.last() {
            Some(seg) => Some(seg.end_index()),
            None => self.last_purged.map(|p| p.index.saturating_add(1)),
        }
    }

    /// openraft's view: the last purged id, and the last id present (or, when every
    /// present entry is purged, the last purged one).
    pub(crate) fn log_state(&self) -> (Option<LogId>, Option<LogId>) {
        let last = match (self.last_log_id, self.last_purged) {
            (Some(entry), Some(purged)) if entry.index <= purged.index => Some(purged),
            (entry, purged) => entry.or(purged),
        };
        (self.last_purged, last)
    }

    /// Reads the live entries with indexes in `[start, end)`: all that exist, in order.
    /// One pread per segment touched; every record is re-checked (checksum, archive,
    /// index) as it is read.
    pub(crate) fn read(&self, start: u64, end: u64) -> Result<Vec<Entry>, LogError> {
        let lo = start.max(self.first_live());
        let hi = end.min(self.end_index());
        if lo >= hi {
            return Ok(Vec::new());
        }
        let mut out = Vec::with_capacity((hi - lo).min(4096) as usize);
        let mut scratch = AlignedVec::new();
        let mut buf = Vec::new();
        let first = self.segments.partition_point(|s| s.end_index() <= lo);
        for seg in &self.segments[first..] {
            if seg.first_index >= hi {
                break;
            }
            let (a, b) = (lo.max(seg.first_index), hi.min(seg.end_index()));
            if a >= b {
                continue;
            }
            let (from, to) = seg.byte_span(a, b);
            buf.clear();
            buf.resize((to - from) as usize, 0);
            seg.file
                .read_exact_at(&mut buf, from)
                .map_err(|e| LogError::io(&seg.path, e))?;
            let mut pos = 0usize;
            for index in a..b {
                let at = from + pos as u64;
                let corrupt = |reason: String| LogError::corrupt(&seg.path, at, reason);
                let (body, len) =
                    record::split_frame(&buf[pos..]).map_err(|e| corrupt(e.to_string()))?;
                let entry =
                    record::decode_body(body, &mut scratch).map_err(|e| corrupt(e.to_string()))?;
                if entry.log_id.index != index {
                    return Err(corrupt(format!(
                        "record holds index {} where index {index} belongs",
                        entry.log_id.index
                    )));
                }
                out.push(entry);
                pos += len;
            }
        }
        Ok(out)
    }
}
