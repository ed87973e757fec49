//! Preallocated segments: a group commit does not grow the file, the zero-filled space
//! after the last record is the normal end of a segment, and whatever leaves the log (a
//! torn tail, truncated entries) is zeroed so that no later recovery finds it again.

use std::os::unix::fs::FileExt;

use openraft::storage::RaftLogStorage;
use tempfile::tempdir;

use super::*;

/// Big enough for every test here to stay in one segment, small enough to read whole.
const SEGMENT: u64 = 64 * 1024;

fn small() -> LogOptions {
    LogOptions::default().with_segment_size(SEGMENT)
}

/// Whether this filesystem lets the store preallocate (fallocate). Where it does not,
/// the store falls back to growing segments and these tests check only that fallback.
fn preallocates(store: &LogStore) -> bool {
    let on = store.stats().preallocated;
    if !on {
        eprintln!("fallocate unsupported here: checking the growing-segment fallback only");
    }
    on
}

/// Once a segment exists, appends and their fdatasyncs never change its size: it was
/// extended to the segment size when created, and records land inside it.
#[tokio::test]
async fn appends_to_a_preallocated_segment_do_not_change_its_size() {
    let dir = tempdir().expect("tempdir");
    let mut store = must_open(&dir, small());
    assert!(
        !store.stats().preallocated,
        "nothing tried before a segment"
    );
    must_append(&mut store, vec![normal(1, 1)]).await;
    let seg = segment_files(&dir).remove(0);
    if !preallocates(&store) {
        assert_eq!(file_len(&seg), records_end(&seg));
        return;
    }
    let fsyncs = store.stats().fsyncs;
    for i in 2..=40 {
        must_append(&mut store, vec![normal(1, i)]).await;
        assert_eq!(file_len(&seg), SEGMENT, "size after append {i}");
    }
    assert!(store.stats().fsyncs > fsyncs, "each append was synced");
    assert_eq!(segment_files(&dir).len(), 1);
    assert_zero_from(&seg, records_end(&seg));
}

/// A preallocated segment whose records end in zero-filled space opens cleanly: every
/// entry is there, nothing is cut (the file is byte for byte unchanged), and the next
/// append lands right after the last record.
#[tokio::test]
async fn a_preallocated_segment_with_a_zero_tail_opens_with_every_entry() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, small());
        must_append(&mut store, normals(1, 1..=10)).await;
        must_append(&mut store, vec![membership(1, 11)]).await;
        must_append(&mut store, normals(1, 12..=20)).await;
    }
    let seg = segment_files(&dir).remove(0);
    let before = std::fs::read(&seg).expect("read segment");
    let end = records_end(&seg);

    let mut store = must_open(&dir, small());
    let mut expected: Vec<(u64, u64)> = (1..=20).map(|i| (1, i)).collect();
    assert_eq!(ids(&read_all(&mut store).await), expected);
    assert_eq!(
        std::fs::read(&seg).expect("read segment"),
        before,
        "open changed nothing"
    );
    if preallocates(&store) {
        assert_eq!(before.len() as u64, SEGMENT);
        assert!(end < SEGMENT, "zero tail present");
    }

    must_append(&mut store, vec![normal(2, 21)]).await;
    assert_eq!(record_offsets(&seg).last(), Some(&end));
    drop(store);
    let mut store = must_open(&dir, small());
    expected.push((2, 21));
    assert_eq!(ids(&read_all(&mut store).await), expected);
}

/// A record torn inside the preallocated space (its first half written, zeros after)
/// is cut on open: it reads as zeros from its offset on, the file keeps its size, and
/// the next append lands right where it started, also across another reopen.
#[tokio::test]
async fn a_torn_record_in_a_preallocated_tail_is_cut_and_appends_follow_the_last_record() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, small());
        for i in 1..=5 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
    }
    let seg = segment_files(&dir).remove(0);
    let end = records_end(&seg);
    let size = file_len(&seg);
    let mut torn = Vec::new();
    record::encode(normal(1, 6), &mut torn).expect("encode");
    torn.truncate(torn.len() / 2);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .and_then(|f| f.write_all_at(&torn, end))
        .expect("write torn record");
    assert_eq!(file_len(&seg), size, "written inside the file");

    let mut store = must_open(&dir, small());
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=5).map(|i| (1, i)).collect::<Vec<_>>()
    );
    assert_zero_from(&seg, end);
    if preallocates(&store) {
        assert_eq!(file_len(&seg), SEGMENT, "still preallocated");
    }

    must_append(&mut store, vec![normal(2, 6)]).await;
    assert_eq!(record_offsets(&seg).last(), Some(&end));
    drop(store);
    let mut store = must_open(&dir, small());
    let mut expected: Vec<(u64, u64)> = (1..=5).map(|i| (1, i)).collect();
    expected.push((2, 6));
    assert_eq!(ids(&read_all(&mut store).await), expected);
}

/// Truncating inside a preallocated segment zeroes everything after the cut, durably:
/// reopening does not bring the truncated entries back, and appends continue after it.
#[tokio::test]
async fn truncate_inside_a_preallocated_segment_does_not_resurrect_entries() {
    let dir = tempdir().expect("tempdir");
    let seg;
    let cut;
    {
        let mut store = must_open(&dir, small());
        for i in 1..=10 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
        seg = segment_files(&dir).remove(0);
        cut = record_offsets(&seg)[5];
        store.truncate(log_id(1, 6)).await.expect("truncate");
        assert_zero_from(&seg, cut);
        if preallocates(&store) {
            assert_eq!(file_len(&seg), SEGMENT, "still preallocated");
        }
        assert_eq!(last_log_id(&mut store).await, Some(log_id(1, 5)));
    }
    let mut store = must_open(&dir, small());
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=5).map(|i| (1, i)).collect::<Vec<_>>()
    );
    assert_eq!(last_log_id(&mut store).await, Some(log_id(1, 5)));

    must_append(&mut store, vec![normal(2, 6)]).await;
    assert_eq!(record_offsets(&seg).last(), Some(&cut));
    drop(store);
    let mut store = must_open(&dir, small());
    let mut expected: Vec<(u64, u64)> = (1..=5).map(|i| (1, i)).collect();
    expected.push((2, 6));
    assert_eq!(ids(&read_all(&mut store).await), expected);
}

/// A sealed segment ends in zero-filled space whenever its next record did not fit:
/// that is its normal end, and the log opens with every entry.
#[tokio::test]
async fn sealed_segments_with_a_zero_tail_open_cleanly() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, tiny());
        for i in 1..=12 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
    }
    let files = segment_files(&dir);
    assert!(files.len() >= 3, "tiny segments should have rolled");
    let sealed = &files[0];
    let preallocated = file_len(sealed) == tiny().segment_size;
    if preallocated {
        assert!(records_end(sealed) < file_len(sealed), "zero tail present");
    }
    let mut store = must_open(&dir, tiny());
    assert_eq!(store.stats().preallocated, preallocated);
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=12).map(|i| (1, i)).collect::<Vec<_>>()
    );
    must_append(&mut store, vec![normal(2, 13)]).await;
}

/// A last segment that is not preallocated (written before preallocation existed, or
/// cut by a crash) opens with every entry and is preallocated for the appends to come.
#[tokio::test]
async fn a_last_segment_that_is_not_preallocated_is_preallocated_on_open() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, small());
        must_append(&mut store, normals(1, 1..=8)).await;
    }
    let seg = segment_files(&dir).remove(0);
    let end = records_end(&seg);
    std::fs::OpenOptions::new()
        .write(true)
        .open(&seg)
        .and_then(|f| f.set_len(end))
        .expect("cut to the records");

    let mut store = must_open(&dir, small());
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=8).map(|i| (1, i)).collect::<Vec<_>>()
    );
    if preallocates(&store) {
        assert_eq!(file_len(&seg), SEGMENT);
    }
    must_append(&mut store, vec![normal(1, 9)]).await;
    assert_eq!(record_offsets(&seg).last(), Some(&end));
}

/// A preallocated last segment that holds no record (a crash right after it was
/// created) is removed on open, like an empty one.
#[tokio::test]
async fn a_preallocated_last_segment_without_records_is_removed_on_open() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, tiny());
        for i in 1..=12 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
    }
    let files = segment_files(&dir);
    let last = files.last().expect("segments");
    let size = file_len(last);
    std::fs::OpenOptions::new()
        .write(true)
        .open(last)
        .and_then(|f| f.set_len(0).and_then(|()| f.set_len(size)))
        .expect("zero the last segment");

    let mut store = must_open(&dir, tiny());
    assert_eq!(segment_files(&dir).len(), files.len() - 1);
    let last_id = last_log_id(&mut store).await.expect("entries left");
    must_append(&mut store, vec![normal(2, last_id.index + 1)]).await;
}
