//! Appends, reads, truncation, purge and the meta pointers, across reopen; and group
//! commit.

use std::sync::mpsc;

use openraft::storage::RaftLogStorage;
use openraft::RaftLogReader;
use tempfile::tempdir;

use super::*;
use crate::log::LogError;
use crate::raft_types::Vote;
use crate::NodeId;

/// Every kind of entry reads back exactly as appended, by any sub-range and through a
/// separate reader, before and after reopen, also when the range spans segments.
#[tokio::test]
async fn entries_read_back_exactly_before_and_after_reopen() {
    let dir = tempdir().expect("tempdir");
    let mut expected = vec![membership(1, 1)];
    expected.extend(normals(1, 2..=9));
    expected.push(membership(2, 10));
    expected.extend(normals(2, 11..=20));
    {
        let mut store = must_open(&dir, tiny());
        must_append(&mut store, expected[..1].to_vec()).await;
        must_append(&mut store, expected[1..9].to_vec()).await;
        for e in &expected[9..] {
            must_append(&mut store, vec![e.clone()]).await;
        }
        assert!(
            segment_files(&dir).len() > 3,
            "tiny segments should have rolled"
        );
        assert_eq!(read_all(&mut store).await, expected);
        let mut reader = store.get_log_reader().await;
        let got = reader.try_get_log_entries(5..12).await.expect("read");
        assert_eq!(got, expected[4..11].to_vec());
    }
    let mut store = must_open(&dir, tiny());
    assert_eq!(read_all(&mut store).await, expected);
    let got = store.try_get_log_entries(15..=100).await.expect("read");
    assert_eq!(ids(&got), (15..=20).map(|i| (2, i)).collect::<Vec<_>>());
    assert!(store
        .try_get_log_entries(21..30)
        .await
        .expect("read")
        .is_empty());
    assert_eq!(last_log_id(&mut store).await, Some(log_id(2, 20)));
}

/// Entries whose append was acknowledged are on disk: dropping the store without any
/// shutdown call and reopening finds all of them, and appending continues after them.
#[tokio::test]
async fn acknowledged_entries_survive_a_drop_without_close() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, tiny());
        for i in 1..=12 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
    }
    let mut store = must_open(&dir, tiny());
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=12).map(|i| (1, i)).collect::<Vec<_>>()
    );
    must_append(&mut store, vec![normal(2, 13)]).await;
    assert_eq!(last_log_id(&mut store).await, Some(log_id(2, 13)));
}

/// An append that would leave a hole or rewrite an index is refused and writes nothing.
#[tokio::test]
async fn an_append_that_does_not_follow_the_log_is_refused() {
    let dir = tempdir().expect("tempdir");
    let mut store = must_open(&dir, LogOptions::default());
    must_append(&mut store, normals(1, 1..=3)).await;
    let skip = store.append_entries(normals(1, [4, 6]), |_| {});
    assert!(matches!(
        skip,
        Err(LogError::NotContiguous {
            expected: 5,
            got: 6
        })
    ));
    let rewrite = store.append_entries(vec![normal(1, 3)], |_| {});
    assert!(matches!(
        rewrite,
        Err(LogError::NotContiguous {
            expected: 4,
            got: 3
        })
    ));
    assert_eq!(
        ids(&read_all(&mut store).await),
        vec![(1, 1), (1, 2), (1, 3)]
    );
}

/// Truncation removes exactly the entries from the given index on, across segment
/// boundaries (later segments deleted, the one holding the index cut), and the log
/// continues from there with a new term, also after reopen.
#[tokio::test]
async fn truncate_across_segments_removes_exactly_the_tail_and_survives_reopen() {
    let dir = tempdir().expect("tempdir");
    let mut expected: Vec<(u64, u64)> = (1..=11).map(|i| (1, i)).collect();
    expected.extend((12..=15).map(|i| (2, i)));
    {
        let mut store = must_open(&dir, tiny());
        for i in 1..=30 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
        let before = segment_files(&dir).len();
        store.truncate(log_id(1, 12)).await.expect("truncate");
        assert!(
            segment_files(&dir).len() < before,
            "later segments are deleted"
        );
        assert_eq!(ids(&read_all(&mut store).await), expected[..11].to_vec());
        assert_eq!(last_log_id(&mut store).await, Some(log_id(1, 11)));
        must_append(&mut store, normals(2, 12..=15)).await;
        assert_eq!(ids(&read_all(&mut store).await), expected);
    }
    let mut store = must_open(&dir, tiny());
    assert_eq!(ids(&read_all(&mut store).await), expected);

    store
        .truncate(log_id(1, 1))
        .await
        .expect("truncate everything");
    assert!(read_all(&mut store).await.is_empty());
    assert_eq!(last_log_id(&mut store).await, None);
    assert!(segment_files(&dir).is_empty());
}

/// Purge hides every entry up to the given id, deletes only segments wholly at or below
/// it, and survives reopen; purging past the end empties the log, whose last id then is
/// the purged one, and appends continue after it.
#[tokio::test]
async fn purge_across_segments_deletes_only_whole_segments_and_survives_reopen() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, tiny());
        for i in 1..=30 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
        store.purge(log_id(1, 13)).await.expect("purge");
        assert_eq!(
            ids(&read_all(&mut store).await),
            (14..=30).map(|i| (1, i)).collect::<Vec<_>>()
        );
    }
    // Kept: exactly the segments holding an entry above 13, i.e. from the one holding 14.
    let firsts: Vec<u64> = segment_files(&dir)
        .iter()
        .filter_map(|p| super::super::segment::parse_file_name(p.file_name()?.to_str()?))
        .collect();
    assert!(firsts.len() >= 2, "{firsts:?}");
    assert!(
        firsts[0] <= 14 && firsts[1] > 14,
        "segments kept: {firsts:?}"
    );

    let mut store = must_open(&dir, tiny());
    let state = store.get_log_state().await.expect("state");
    assert_eq!(state.last_purged_log_id, Some(log_id(1, 13)));
    assert_eq!(state.last_log_id, Some(log_id(1, 30)));
    assert_eq!(
        ids(&read_all(&mut store).await),
        (14..=30).map(|i| (1, i)).collect::<Vec<_>>()
    );
    assert!(store
        .try_get_log_entries(..14)
        .await
        .expect("read")
        .is_empty());

    store
        .purge(log_id(3, 40))
        .await
        .expect("purge past the end");
    assert!(segment_files(&dir).is_empty());
    assert!(read_all(&mut store).await.is_empty());
    assert_eq!(last_log_id(&mut store).await, Some(log_id(3, 40)));
    must_append(&mut store, vec![normal(3, 41)]).await;
    drop(store);
    let mut store = must_open(&dir, tiny());
    assert_eq!(ids(&read_all(&mut store).await), vec![(3, 41)]);
    assert_eq!(
        store
            .get_log_state()
            .await
            .expect("state")
            .last_purged_log_id,
        Some(log_id(3, 40))
    );
}

/// The vote and the committed id read back after reopen, each as last saved, except
/// that a committed vote reads back uncommitted: same term and candidate, but a member
/// that led before the restart must win an election before it leads again (its
/// committed id is only a hint, so its read index would be stale; openraft#1511).
#[tokio::test]
async fn vote_and_committed_survive_reopen() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, LogOptions::default());
        assert_eq!(store.read_vote().await.expect("vote"), None);
        store
            .save_vote(&Vote::new(3, NodeId(2)))
            .await
            .expect("vote");
        must_append(&mut store, normals(3, 1..=5)).await;
        store
            .save_committed(Some(log_id(3, 4)))
            .await
            .expect("committed");
        store
            .save_vote(&Vote::new_committed(4, NodeId(1)))
            .await
            .expect("vote");
        store.flush().await.expect("flush");
    }
    let mut store = must_open(&dir, LogOptions::default());
    assert_eq!(
        store.read_vote().await.expect("vote"),
        Some(Vote::new(4, NodeId(1)))
    );
    assert_eq!(
        store.read_committed().await.expect("committed"),
        Some(log_id(3, 4))
    );
}

/// The committed id is written lazily; if it points past what survived, opening lowers
/// it to the last entry rather than leave openraft to re-apply entries that are gone.
#[tokio::test]
async fn a_committed_id_past_the_recovered_log_is_lowered_on_open() {
    let dir = tempdir().expect("tempdir");
    {
        let mut store = must_open(&dir, LogOptions::default());
        must_append(&mut store, normals(1, 1..=5)).await;
        store
            .save_committed(Some(log_id(1, 9)))
            .await
            .expect("committed");
        store.flush().await.expect("flush");
    }
    let mut store = must_open(&dir, LogOptions::default());
    assert_eq!(
        store.read_committed().await.expect("committed"),
        Some(log_id(1, 5))
    );
}

/// A second store cannot open a log directory that one already has open.
#[test]
fn a_log_directory_opens_in_one_store_at_a_time() {
    let dir = tempdir().expect("tempdir");
    let store = must_open(&dir, LogOptions::default());
    let second = LogStore::open(dir.path(), LogOptions::default());
    assert!(matches!(second, Err(LogError::Locked { .. })));
    drop(store);
    must_open(&dir, LogOptions::default());
}

/// Group commit: appends issued back to back while the flusher is busy are written at
/// once but acknowledged only by the one fdatasync that covers them all, never before.
#[test]
fn appends_issued_back_to_back_share_one_fsync_and_are_acked_only_after_it() {
    const N: u64 = 100;
    let dir = tempdir().expect("tempdir");
    let mut store = must_open(&dir, LogOptions::default());
    let stats = store.stats_handle();
    let before = stats.get();
    let (tx, rx) = mpsc::channel();

    // Hold the flusher as if its previous fdatasync were still running.
    store.pause_flusher(true);
    for i in 1..=N {
        let (tx, stats) = (tx.clone(), stats.clone());
        store
            .append_entries(vec![normal(1, i)], move |res| {
                let _ = tx.send((i, res.is_ok(), stats.get().durable_index));
            })
            .expect("append");
    }
    let mut reader = store.reader();
    let readable = futures::executor::block_on(reader.try_get_log_entries(..)).expect("read");
    assert_eq!(
        readable.len() as u64,
        N,
        "appended entries are readable before they are durable"
    );
    assert!(
        rx.try_recv().is_err(),
        "nothing is acknowledged before its fsync"
    );
    assert_eq!(stats.get().fsyncs, before.fsyncs);

    store.pause_flusher(false);
    for _ in 0..N {
        let (i, ok, durable) = rx.recv_timeout(CALLBACK_TIMEOUT).expect("callback");
        assert!(ok, "append {i} failed");
        assert!(
            durable >= Some(i),
            "append {i} acknowledged with only {durable:?} durable"
        );
    }
    let after = stats.get();
    assert_eq!(after.appends - before.appends, N);
    assert_eq!(after.entries - before.entries, N);
    assert_eq!(
        after.fsyncs - before.fsyncs,
        1,
        "one fdatasync for the whole group"
    );
}

/// Truncation never overtakes an append in flight: the pending append is made durable
/// and acknowledged before any of its entries can be removed.
#[tokio::test]
async fn truncate_waits_until_appends_in_flight_are_acknowledged() {
    let dir = tempdir().expect("tempdir");
    let mut store = must_open(&dir, LogOptions::default());
    must_append(&mut store, normals(1, 1..=5)).await;
    let pause = store.flusher_pause_switch();
    let (tx, rx) = mpsc::channel();
    pause(true);
    store
        .append_entries(normals(1, 6..=8), move |res| {
            let _ = tx.send(res.is_ok());
        })
        .expect("append");

    {
        let truncate = store.truncate(log_id(1, 7));
        futures::pin_mut!(truncate);
        assert!(
            futures::poll!(truncate.as_mut()).is_pending(),
            "truncate must wait"
        );
        assert!(rx.try_recv().is_err());
        pause(false);
        truncate.await.expect("truncate");
    }
    assert_eq!(
        rx.try_recv(),
        Ok(true),
        "append acknowledged before truncate returned"
    );
    assert_eq!(last_log_id(&mut store).await, Some(log_id(1, 6)));
}

/// Entries at or below the purge point are already in a snapshot: an append of them is
/// accepted and acknowledged but writes nothing, and the log goes on from the purge point.
#[tokio::test]
async fn appended_entries_at_or_below_the_purge_point_are_not_written() {
    let dir = tempdir().expect("tempdir");
    let mut store = must_open(&dir, LogOptions::default());
    store.purge(log_id(2, 10)).await.expect("purge");
    must_append(&mut store, normals(2, 9..=12)).await;
    assert_eq!(ids(&read_all(&mut store).await), vec![(2, 11), (2, 12)]);
    drop(store);
    let mut store = must_open(&dir, LogOptions::default());
    assert_eq!(ids(&read_all(&mut store).await), vec![(2, 11), (2, 12)]);
}
