//! Opening a log that a crash or a bad disk left damaged.

use std::fs::OpenOptions;

use tempfile::{tempdir, TempDir};

use super::*;
use crate::log::LogError;

/// A store in `dir` holding entries 1..=n of term 1, one append each, then closed.
async fn log_with(dir: &TempDir, opts: LogOptions, n: u64) {
    let mut store = must_open(dir, opts);
    for i in 1..=n {
        must_append(&mut store, vec![normal(1, i)]).await;
    }
}

fn set_len(path: &Path, len: u64) {
    OpenOptions::new()
        .write(true)
        .open(path)
        .and_then(|f| f.set_len(len))
        .expect("cut segment");
}

/// A record torn mid-write at the end of the last segment is cut away on open; every
/// earlier entry is intact, and the log takes the lost index again.
#[tokio::test]
async fn a_torn_final_record_is_truncated_and_earlier_entries_survive() {
    let dir = tempdir().expect("tempdir");
    log_with(&dir, LogOptions::default(), 5).await;
    let seg = segment_files(&dir).remove(0);
    let offsets = record_offsets(&seg);
    set_len(&seg, offsets[4] + HEADER_LEN as u64 + 3);

    let mut store = must_open(&dir, LogOptions::default());
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=4).map(|i| (1, i)).collect::<Vec<_>>()
    );
    // Cut on disk: the torn record reads as end-of-log (zeros, or the file ends there
    // where segments are not preallocated).
    assert_zero_from(&seg, offsets[4]);
    if store.stats().preallocated {
        assert_eq!(file_len(&seg), crate::log::DEFAULT_SEGMENT_SIZE);
    } else {
        assert_eq!(file_len(&seg), offsets[4], "tail cut on disk");
    }
    must_append(&mut store, vec![normal(2, 5)]).await;
    drop(store);
    let mut store = must_open(&dir, LogOptions::default());
    assert_eq!(last_log_id(&mut store).await, Some(log_id(2, 5)));
}

/// A header cut short (fewer than eight bytes of the last record) is a torn tail too.
#[tokio::test]
async fn a_torn_final_header_is_truncated() {
    let dir = tempdir().expect("tempdir");
    log_with(&dir, LogOptions::default(), 3).await;
    let seg = segment_files(&dir).remove(0);
    let offsets = record_offsets(&seg);
    set_len(&seg, offsets[2] + 5);

    let mut store = must_open(&dir, LogOptions::default());
    assert_eq!(ids(&read_all(&mut store).await), vec![(1, 1), (1, 2)]);
}

/// A final record with one flipped byte fails its checksum and, with nothing valid after
/// it, is cut away like a torn write; earlier entries survive.
#[tokio::test]
async fn a_final_record_with_a_flipped_byte_is_truncated() {
    let dir = tempdir().expect("tempdir");
    log_with(&dir, LogOptions::default(), 5).await;
    let seg = segment_files(&dir).remove(0);
    let offsets = record_offsets(&seg);
    flip_byte(&seg, offsets[4] + HEADER_LEN as u64 + 4);

    let mut store = must_open(&dir, LogOptions::default());
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=4).map(|i| (1, i)).collect::<Vec<_>>()
    );
}

/// A flipped byte in a record that valid records follow is corruption, not a torn write:
/// opening fails with an error that names the segment file and the record's offset, and
/// nothing is cut.
#[tokio::test]
async fn a_flipped_byte_in_an_earlier_record_fails_open_naming_file_and_offset() {
    let dir = tempdir().expect("tempdir");
    log_with(&dir, LogOptions::default(), 5).await;
    let seg = segment_files(&dir).remove(0);
    let offsets = record_offsets(&seg);
    let len_before = std::fs::metadata(&seg).expect("stat").len();
    flip_byte(&seg, offsets[2] + HEADER_LEN as u64 + 2);

    let err = LogStore::open(dir.path(), LogOptions::default())
        .err()
        .expect("open must fail");
    let shown = err.to_string();
    assert!(shown.contains(&seg.display().to_string()), "{shown}");
    assert!(
        shown.contains(&format!("byte offset {}", offsets[2])),
        "{shown}"
    );
    assert!(matches!(err, LogError::Corrupt { offset, .. } if offset == offsets[2]));
    assert_eq!(
        std::fs::metadata(&seg).expect("stat").len(),
        len_before,
        "nothing cut"
    );
}

/// Damage at the very end of a sealed segment is fatal: sealed segments were fsynced
/// before their successor existed, so it cannot be a torn write.
#[tokio::test]
async fn damage_at_the_end_of_a_sealed_segment_fails_open() {
    let dir = tempdir().expect("tempdir");
    log_with(&dir, tiny(), 12).await;
    let first = segment_files(&dir).remove(0);
    // The last byte of the last record (a zero-filled preallocated tail may follow).
    let end = records_end(&first);
    flip_byte(&first, end - 1);

    let err = LogStore::open(dir.path(), tiny())
        .err()
        .expect("open must fail");
    assert!(
        matches!(&err, LogError::Corrupt { path, .. } if *path == first),
        "{err}"
    );
}

/// A segment missing from the middle of the log is a hole: opening fails.
#[tokio::test]
async fn a_missing_middle_segment_fails_open_with_a_gap() {
    let dir = tempdir().expect("tempdir");
    log_with(&dir, tiny(), 12).await;
    let files = segment_files(&dir);
    assert!(files.len() >= 3);
    std::fs::remove_file(&files[1]).expect("remove segment");

    let err = LogStore::open(dir.path(), tiny())
        .err()
        .expect("open must fail");
    assert!(
        matches!(&err, LogError::Gap { path, .. } if *path == files[2]),
        "{err}"
    );
}

/// A last segment left empty by a crash right after it was created is removed, and the
/// log continues from the previous one.
#[tokio::test]
async fn an_empty_last_segment_is_removed_on_open() {
    let dir = tempdir().expect("tempdir");
    log_with(&dir, tiny(), 12).await;
    let files = segment_files(&dir);
    let last = files.last().expect("segments");
    set_len(last, 0);
    let lost_from = super::super::segment::parse_file_name(
        last.file_name().and_then(|n| n.to_str()).expect("name"),
    )
    .expect("segment name");

    let mut store = must_open(&dir, tiny());
    assert_eq!(segment_files(&dir).len(), files.len() - 1);
    assert_eq!(
        last_log_id(&mut store).await,
        Some(log_id(1, lost_from - 1))
    );
    must_append(&mut store, vec![normal(2, lost_from)]).await;
}

/// Corruption found while reading (after open) is reported as an error naming the file
/// and offset, never returned as an entry.
#[tokio::test]
async fn corruption_found_by_a_read_is_an_error_not_an_entry() {
    let dir = tempdir().expect("tempdir");
    let mut store = must_open(&dir, LogOptions::default());
    must_append(&mut store, normals(1, 1..=4)).await;
    let seg = segment_files(&dir).remove(0);
    let offsets = record_offsets(&seg);
    flip_byte(&seg, offsets[1] + HEADER_LEN as u64 + 1);

    let err = store
        .try_get_log_entries(1..5)
        .await
        .expect_err("read must fail");
    let shown = err.to_string();
    assert!(
        shown.contains(&format!("byte offset {}", offsets[1])),
        "{shown}"
    );
    let ok = store
        .try_get_log_entries(3..5)
        .await
        .expect("undamaged range");
    assert_eq!(ids(&ok), vec![(1, 3), (1, 4)]);
}
