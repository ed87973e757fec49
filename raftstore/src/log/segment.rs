//! Segment files: naming, listing, and the scan that decides which records of a
//! segment are valid and whether damage is a recoverable torn tail or fatal corruption.
//!
//! Segments are preallocated to the segment size (where the filesystem can), so a
//! segment's logical end is not its file size: it is where the records stop and only
//! zeros follow (a zero length field can never start a record).

use std::fs::{self, File, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rkyv::util::AlignedVec;

use super::error::LogError;
use super::io::Disk;
use super::record::{self, FrameError, HEADER_LEN};
use crate::raft_types::LogId;

const SUFFIX: &str = ".seg";
const NAME_DIGITS: usize = 20;

/// The file name of the segment whose first entry has index `first_index`.
pub(crate) fn file_name(first_index: u64) -> String {
    format!("{first_index:0width$}{SUFFIX}", width = NAME_DIGITS)
}

/// The first index encoded in a segment file name, if `name` is one.
pub(crate) fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(SUFFIX)?;
    if digits.len() != NAME_DIGITS || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// The segment files in `dir`, by first index. A `*.seg` file with a malformed name is
/// an error: it is not ours to ignore or delete.
pub(crate) fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>, LogError> {
    let mut found = Vec::new();
    for dirent in fs::read_dir(dir).map_err(|e| LogError::io(dir, e))? {
        let dirent = dirent.map_err(|e| LogError::io(dir, e))?;
        let path = dirent.path();
        let name = dirent.file_name();
        let Some(name) = name.to_str() else { continue };
        if !name.ends_with(SUFFIX) {
            continue;
        }
        match parse_file_name(name) {
            Some(first) => found.push((first, path)),
            None => return Err(LogError::StrayFile { path }),
        }
    }
    found.sort_by_key(|(first, _)| *first);
    Ok(found)
}

/// One segment as the in-memory index knows it: where each entry's record starts.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) first_index: u64,
    pub(crate) path: PathBuf,
    pub(crate) file: Arc<File>,
    /// `offsets[i]` is where the record of entry `first_index + i` starts.
    pub(crate) offsets: Vec<u64>,
    /// Bytes of valid records, where the next record goes. The file may be longer, but
    /// holds only zeros past this (preallocated space) once recovered.
    pub(crate) len: u64,
}

impl Segment {
    /// One past the index of the last entry.
    pub(crate) fn end_index(&self) -> u64 {
        self.first_index + self.offsets.len() as u64
    }

    /// Byte range `[start, end)` holding the records of entries `[from, to)`, which must
    /// lie within this segment.
    pub(crate) fn byte_span(&self, from: u64, to: u64) -> (u64, u64) {
        let start = self.offsets[(from - self.first_index) as usize];
        let end = if to >= self.end_index() {
            self.len
        } else {
            self.offsets[(to - self.first_index) as usize]
        };
        (start, end)
    }

    /// Forgets entries `>= index` (which must be within this segment) and returns the
    /// new length in bytes.
    pub(crate) fn forget_from(&mut self, index: u64) -> u64 {
        let keep = (index - self.first_index) as usize;
        if keep < self.offsets.len() {
            self.len = self.offsets[keep];
            self.offsets.truncate(keep);
        }
        self.len
    }
}

/// What a scan found in one segment's bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    pub(crate) offsets: Vec<u64>,
    pub(crate) last_log_id: Option<LogId>,
    /// Bytes of valid records from the start.
    pub(crate) valid_len: u64,
    /// A damaged tail to cut off: where it starts and what is wrong with it.
    pub(crate) torn: Option<(u64, FrameError)>,
}

/// A record that failed its checks where that cannot be a torn write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct ScanError {
    pub(crate) offset: u64,
    pub(crate) reason: String,
}

/// Scans the records of a segment whose first entry is `first_index`.
///
/// The records end where only zeros follow (preallocated space, in any segment); that
/// is the normal end, not damage. A damaged record is a torn tail only in the last
/// segment and only if no valid record starts anywhere after it; everything else is an
/// error. Records must hold consecutive indexes starting at `first_index`.
pub(crate) fn scan(bytes: &[u8], first_index: u64, is_last: bool) -> Result<Scan, ScanError> {
    let mut scratch = AlignedVec::new();
    let mut offsets = Vec::new();
    let mut last_log_id = None;
    let mut pos = 0usize;
    while pos < bytes.len() {
        if is_zero_tail(&bytes[pos..]) {
            break;
        }
        let checked = record::split_frame(&bytes[pos..])
            .and_then(|(body, len)| Ok((record::check_body(body, &mut scratch)?, len)));
        match checked {
            Ok((log_id, len)) => {
                let expected = first_index + offsets.len() as u64;
                if log_id.index != expected {
                    return Err(ScanError {
                        offset: pos as u64,
                        reason: format!(
                            "record holds index {} where index {expected} belongs",
                            log_id.index
                        ),
                    });
                }
                offsets.push(pos as u64);
                last_log_id = Some(log_id);
                pos += len;
            }
            Err(damage) => {
                if !is_last {
                    return Err(ScanError {
                        offset: pos as u64,
                        reason: format!("{damage} (in a sealed segment)"),
                    });
                }
                if let Some(next) = valid_record_after(bytes, pos, &mut scratch) {
                    return Err(ScanError {
                        offset: pos as u64,
                        reason: format!("{damage}; a valid record follows at offset {next}"),
                    });
                }
                return Ok(Scan {
                    offsets,
                    last_log_id,
                    valid_len: pos as u64,
                    torn: Some((pos as u64, damage)),
                });
            }
        }
    }
    Ok(Scan {
        offsets,
        last_log_id,
        valid_len: pos as u64,
        torn: None,
    })
}

/// Whether `rest` is the zero-filled space after the last record: a zero length field
/// (or as much of one as there is) and nothing but zeros after it. The full check runs
/// at most once per scan, as no record starts with a zero length.
fn is_zero_tail(rest: &[u8]) -> bool {
    is_zero(&rest[..rest.len().min(4)]) && is_zero(rest)
}

/// Compared against a page at a time (memcmp), not byte by byte.
const ZEROS: [u8; 4096] = [0; 4096];

fn is_zero(bytes: &[u8]) -> bool {
    bytes.chunks(ZEROS.len()).all(|c| c == &ZEROS[..c.len()])
}

/// One past the last non-zero byte of `bytes`: how much of a torn tail holds data.
pub(crate) fn data_end(bytes: &[u8]) -> usize {
    let mut end = bytes.len();
    while end > 0 {
        let start = end.saturating_sub(ZEROS.len());
        let chunk = &bytes[start..end];
        if !is_zero(chunk) {
            return start + chunk.iter().rposition(|&b| b != 0).map_or(0, |p| p + 1);
        }
        end = start;
    }
    0
}

/// The offset of the first valid record that starts after the damaged one at `bad`, if
/// any. Tries where the damaged record's own length says the next one starts, then every
/// byte offset up to the zero-filled tail: a flipped length field must not hide the
/// records behind it.
fn valid_record_after(bytes: &[u8], bad: usize, scratch: &mut AlignedVec) -> Option<usize> {
    let claimed_next = bytes
        .get(bad..bad + 4)
        .map(|l| bad + HEADER_LEN + u32::from_le_bytes([l[0], l[1], l[2], l[3]]) as usize);
    if let Some(next) = claimed_next.filter(|&n| n < bytes.len()) {
        if record::is_valid_record(&bytes[next..], scratch) {
            return Some(next);
        }
    }
    // No record starts in the zero-filled (preallocated) space: its length would be 0.
    let starts_end = data_end(bytes);
    (bad + 1..starts_end).find(|&at| record::is_valid_record(&bytes[at..], scratch))
}

/// Opens a segment for reading and writing and reads all of it.
pub(crate) fn open(path: &Path) -> Result<(File, Vec<u8>), LogError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(|e| LogError::io(path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| LogError::io(path, e))?;
    Ok((file, bytes))
}

/// Creates a new, empty segment, preallocated to `segment_size` where the filesystem
/// supports it, and makes it and its directory entry durable.
pub(crate) fn create(
    dir: &Path,
    first_index: u64,
    segment_size: u64,
    disk: &Disk,
) -> Result<Segment, LogError> {
    let path = dir.join(file_name(first_index));
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| LogError::io(&path, e))?;
    if disk.preallocate(&file, &path, segment_size) {
        disk.sync_data_uncounted(&file, &path)?;
    }
    disk.sync_dir(dir)?;
    Ok(Segment {
        first_index,
        path,
        file: Arc::new(file),
        offsets: Vec::new(),
        len: 0,
    })
}

/// Deletes a segment file and makes that durable. Deleting one at a time, newest first,
/// keeps what is on disk a contiguous log at every step.
pub(crate) fn remove(dir: &Path, path: &Path, disk: &Disk) -> Result<(), LogError> {
    fs::remove_file(path).map_err(|e| LogError::io(path, e))?;
    disk.sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use openraft::EntryPayload;

    use super::*;
    use crate::raft_types::Entry;

    fn records(indexes: std::ops::Range<u64>) -> (Vec<u8>, Vec<u64>) {
        let mut buf = Vec::new();
        let mut offsets = Vec::new();
        for i in indexes {
            offsets.push(buf.len() as u64);
            let entry = Entry {
                log_id: record::log_id(1, 1, i),
                payload: EntryPayload::Blank,
            };
            record::encode(entry, &mut buf).expect("encode");
        }
        (buf, offsets)
    }

    /// Segment names sort in index order and parse back to the index they encode.
    #[test]
    fn segment_names_round_trip_and_sort_by_index() {
        assert_eq!(file_name(1), "00000000000000000001.seg");
        assert_eq!(parse_file_name(&file_name(u64::MAX)), Some(u64::MAX));
        assert!(file_name(9) < file_name(10));
        assert_eq!(parse_file_name("1.seg"), None);
        assert_eq!(parse_file_name("0000000000000000000x.seg"), None);
    }

    /// Zeros after the last record (preallocated space) are the normal end of a
    /// segment, last or sealed: not damage, nothing to cut.
    #[test]
    fn zero_fill_after_the_last_record_is_the_end_of_the_segment() {
        let (mut buf, offsets) = records(5..8);
        let valid = buf.len() as u64;
        buf.extend_from_slice(&[0u8; 100]);
        for is_last in [true, false] {
            let scan = scan(&buf, 5, is_last).expect("scan");
            assert_eq!(scan.offsets, offsets);
            assert_eq!(scan.valid_len, valid);
            assert_eq!(scan.torn, None);
        }
        // Fewer zeros than a header are the end too.
        let scan = scan(&buf[..valid as usize + 3], 5, false).expect("scan");
        assert_eq!((scan.valid_len, scan.torn), (valid, None));
        // An all-zero segment holds no records.
        let scan = super::scan(&[0u8; 64], 5, true).expect("scan");
        assert_eq!((scan.offsets.len(), scan.torn), (0, None));
    }

    /// A zero length field followed by anything but zeros is damage, not the end: a torn
    /// tail in the last segment, fatal in a sealed one.
    #[test]
    fn a_zero_length_field_before_non_zero_bytes_is_damage() {
        let (mut buf, _) = records(1..3);
        let valid = buf.len() as u64;
        buf.extend_from_slice(&[0u8; 20]);
        buf.push(0x5a);
        buf.extend_from_slice(&[0u8; 20]);
        let scan = scan(&buf, 1, true).expect("scan");
        assert_eq!(scan.valid_len, valid);
        assert_eq!(scan.torn.map(|(at, _)| at), Some(valid));
        let err = super::scan(&buf, 1, false).expect_err("sealed: fatal");
        assert_eq!(err.offset, valid);
        assert_eq!(data_end(&buf), buf.len() - 20);
    }

    /// A record whose length field is damaged still cannot hide the valid records after
    /// it: the scan finds them byte by byte and reports corruption.
    #[test]
    fn a_damaged_length_field_does_not_hide_later_records() {
        let (mut buf, offsets) = records(1..4);
        buf[offsets[1] as usize + 1] ^= 0x10;
        let err = scan(&buf, 1, true).expect_err("must be fatal");
        assert_eq!(err.offset, offsets[1]);
        assert!(
            err.reason
                .contains(&format!("follows at offset {}", offsets[2])),
            "{}",
            err.reason
        );
    }

    /// A record holding the wrong index is fatal even at the tail: it is not a torn write.
    #[test]
    fn a_record_with_an_unexpected_index_is_fatal() {
        let (buf, _) = records(1..3);
        let err = scan(&buf, 7, true).expect_err("must be fatal");
        assert_eq!(err.offset, 0);
    }
}
