//! Injected disk faults (`--features failpoints`): failed fsyncs, torn writes, and a
//! kill that loses whatever was not fsynced.

use tempfile::tempdir;

use super::*;
use crate::log::{DiskFaults, LogError};

/// Options that inject `faults`. Segments stay large unless a test wants rolling: a
/// roll fsyncs the sealed segment, which would consume a one-shot fsync fault.
fn with_faults(faults: &DiskFaults, segment_size: u64) -> LogOptions {
    LogOptions {
        faults: faults.clone(),
        segment_size,
    }
}

const LARGE: u64 = crate::log::DEFAULT_SEGMENT_SIZE;

/// Appends through the closure API and waits on the callback; returns its result.
fn append_and_wait(store: &mut LogStore, entries: Vec<Entry>) -> std::io::Result<()> {
    let (tx, rx) = std::sync::mpsc::channel();
    store
        .append_entries(entries, move |res| {
            let _ = tx.send(res);
        })
        .expect("append accepted");
    rx.recv_timeout(CALLBACK_TIMEOUT)
        .expect("append callback fired")
}

/// A failed fdatasync is never acknowledged as success: the waiting append gets the
/// error, and the store refuses every later write instead of retrying the fsync.
#[test]
fn a_failed_fsync_fails_the_waiting_append_and_poisons_the_store() {
    let dir = tempdir().expect("tempdir");
    let faults = DiskFaults::default();
    let mut store = must_open(&dir, with_faults(&faults, LARGE));
    append_and_wait(&mut store, normals(1, 1..=3)).expect("durable");

    faults.fail_next_fsync();
    let res = append_and_wait(&mut store, vec![normal(1, 4)]);
    assert!(
        res.is_err(),
        "an append whose fsync failed must not be acknowledged"
    );

    let again = store.append_entries(vec![normal(1, 5)], |_| {});
    assert!(matches!(again, Err(LogError::Poisoned(_))));
    let flushed = futures::executor::block_on(store.flush());
    assert!(matches!(flushed, Err(LogError::Poisoned(_))));
}

/// A write torn halfway fails its append; after a restart the torn record is cut off,
/// every acknowledged entry is intact, and the log takes the lost index again.
#[tokio::test]
async fn a_torn_write_fails_the_append_and_is_cut_on_reopen() {
    let dir = tempdir().expect("tempdir");
    let faults = DiskFaults::default();
    {
        let mut store = must_open(&dir, with_faults(&faults, tiny().segment_size));
        for i in 1..=5 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
        faults.tear_next_write();
        let torn = store.append_entries(vec![normal(1, 6)], |_| {});
        assert!(torn.is_err());
        assert!(
            store.append_entries(vec![normal(1, 6)], |_| {}).is_err(),
            "poisoned"
        );
    }
    let mut store = must_open(&dir, tiny());
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=5).map(|i| (1, i)).collect::<Vec<_>>()
    );
    must_append(&mut store, vec![normal(2, 6)]).await;
}

/// A kill loses exactly what was not fsynced: entries written but held back by the
/// flusher are gone after restart, every acknowledged entry is still there.
#[tokio::test]
async fn a_kill_keeps_every_acknowledged_entry_and_loses_the_unsynced_rest() {
    let dir = tempdir().expect("tempdir");
    let faults = DiskFaults::default();
    {
        let mut store = must_open(&dir, with_faults(&faults, LARGE));
        for i in 1..=8 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
        store.pause_flusher(true);
        store
            .append_entries(normals(1, 9..=10), |_| {})
            .expect("append");
        assert_eq!(last_log_id(&mut store).await, Some(log_id(1, 10)));
        faults.lose_unsynced_on_drop();
    }
    let mut store = must_open(&dir, tiny());
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=8).map(|i| (1, i)).collect::<Vec<_>>()
    );
}

/// After a failed fsync, the entries it covered were never acknowledged, and a kill
/// loses them; the acknowledged ones before it survive.
#[test]
fn a_kill_after_a_failed_fsync_loses_only_the_unacknowledged_entries() {
    let dir = tempdir().expect("tempdir");
    let faults = DiskFaults::default();
    {
        let mut store = must_open(&dir, with_faults(&faults, LARGE));
        append_and_wait(&mut store, normals(1, 1..=5)).expect("durable");
        faults.fail_next_fsync();
        assert!(append_and_wait(&mut store, normals(1, 6..=7)).is_err());
        faults.lose_unsynced_on_drop();
    }
    let mut store = must_open(&dir, tiny());
    let got = futures::executor::block_on(read_all(&mut store));
    assert_eq!(ids(&got), (1..=5).map(|i| (1, i)).collect::<Vec<_>>());
}

/// A kill while appends spanning several segments are unsynced leaves a contiguous log
/// that holds every acknowledged entry (sealed segments were synced when sealed; only
/// the last one loses its unsynced tail).
#[tokio::test]
async fn a_kill_across_segment_rolls_leaves_a_contiguous_log_with_every_acked_entry() {
    let dir = tempdir().expect("tempdir");
    let faults = DiskFaults::default();
    {
        let mut store = must_open(&dir, with_faults(&faults, tiny().segment_size));
        for i in 1..=8 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
        store.pause_flusher(true);
        for i in 9..=20 {
            store
                .append_entries(vec![normal(1, i)], |_| {})
                .expect("append");
        }
        faults.lose_unsynced_on_drop();
    }
    let mut store = must_open(&dir, tiny());
    let got = ids(&read_all(&mut store).await);
    assert!(got.len() >= 8 && got.len() < 20, "{got:?}");
    assert_eq!(
        got,
        (1..=got.len() as u64).map(|i| (1, i)).collect::<Vec<_>>()
    );
}

/// A kill zeroes what a preallocated segment held past its last fsync instead of
/// shrinking it, as a power cut would: the file keeps its size, the unsynced records
/// read as zeros, and the log reopens with exactly the acknowledged entries.
#[tokio::test]
async fn a_kill_zeroes_the_unsynced_part_of_a_preallocated_segment() {
    const SEGMENT: u64 = 64 * 1024;
    let dir = tempdir().expect("tempdir");
    let faults = DiskFaults::default();
    let (seg, synced_end, preallocated) = {
        let mut store = must_open(&dir, with_faults(&faults, SEGMENT));
        for i in 1..=6 {
            must_append(&mut store, vec![normal(1, i)]).await;
        }
        let seg = segment_files(&dir).remove(0);
        let synced_end = records_end(&seg);
        store.pause_flusher(true);
        store
            .append_entries(normals(1, 7..=9), |_| {})
            .expect("append");
        assert!(records_end(&seg) > synced_end, "written, not synced");
        faults.lose_unsynced_on_drop();
        (seg, synced_end, store.stats().preallocated)
    };
    assert_zero_from(&seg, synced_end);
    if preallocated {
        assert_eq!(file_len(&seg), SEGMENT, "zeroed, not shrunk");
    } else {
        assert_eq!(file_len(&seg), synced_end);
    }
    let mut store = must_open(&dir, with_faults(&faults, SEGMENT));
    assert_eq!(
        ids(&read_all(&mut store).await),
        (1..=6).map(|i| (1, i)).collect::<Vec<_>>()
    );
}

/// A power cut is one instant for every log on the switchboard: a sync that runs after
/// it counts for nothing and acknowledges nothing, so a later kill loses every entry
/// not synced before the cut, on each log alike; a log opened afterwards is powered.
#[tokio::test]
async fn a_power_cut_voids_every_later_sync_on_every_log() {
    let dirs = [tempdir().expect("tempdir"), tempdir().expect("tempdir")];
    let faults = DiskFaults::default();
    faults.lose_unsynced_on_drop();
    {
        let mut stores: Vec<LogStore> = dirs
            .iter()
            .map(|d| must_open(d, with_faults(&faults, LARGE)))
            .collect();
        let mut acks = Vec::new();
        for store in &mut stores {
            for i in 1..=4 {
                must_append(store, vec![normal(1, i)]).await;
            }
            store.pause_flusher(true);
            let (tx, rx) = std::sync::mpsc::channel();
            store
                .append_entries(normals(1, 5..=6), move |res| {
                    let _ = tx.send(res.is_ok());
                })
                .expect("append");
            acks.push(rx);
        }
        faults.cut_power();
        for store in &stores {
            store.pause_flusher(false);
        }
        for rx in &acks {
            assert!(
                rx.recv_timeout(std::time::Duration::from_millis(300))
                    .is_err(),
                "an append was acknowledged after the power cut"
            );
        }
    }
    for dir in &dirs {
        let mut store = must_open(dir, with_faults(&faults, LARGE));
        assert_eq!(
            ids(&read_all(&mut store).await),
            (1..=4).map(|i| (1, i)).collect::<Vec<_>>()
        );
        // Opened after the cut: powered, it acknowledges again.
        must_append(&mut store, vec![normal(1, 5)]).await;
    }
}
