//! Behaviour of `Mvcc` leases, watch history and snapshots, one property per test.

use super::tests::*;
use super::*;
use crate::types::EventKind;

/// A put naming a lease that was never granted (or was revoked) fails with LeaseNotFound.
#[test]
fn put_with_a_missing_lease_is_rejected_with_lease_not_found() {
    let mut m = Mvcc::new();
    assert_eq!(
        must_error(
            &mut m,
            &txn(vec![put_op("a", "1"), put_leased("b", "1", 9)])
        ),
        ApplyError::LeaseNotFound { id: LeaseId(9) }
    );
    assert_eq!(
        must_error(&mut m, &Command::LeaseRevoke { id: LeaseId(9) }),
        ApplyError::LeaseNotFound { id: LeaseId(9) }
    );
    m.apply(&Command::LeaseGrant {
        id: LeaseId(9),
        ttl_secs: 1,
    });
    assert_eq!(
        must_error(
            &mut m,
            &Command::LeaseGrant {
                id: LeaseId(9),
                ttl_secs: 2
            }
        ),
        ApplyError::LeaseExists { id: LeaseId(9) }
    );
    must_txn(&mut m, &txn(vec![put_leased("b", "1", 9)]));
    assert_eq!(m.leases(), vec![(LeaseId(9), 1)]);
}

/// Revoking a lease deletes every key it holds in one revision, with one delete event per
/// key carrying the deleted value; keys moved to another lease or to none are spared.
#[test]
fn lease_revoke_deletes_its_keys_in_one_revision_with_delete_events() {
    let mut m = Mvcc::new();
    m.apply(&Command::LeaseGrant {
        id: LeaseId(1),
        ttl_secs: 10,
    });
    m.apply(&Command::LeaseGrant {
        id: LeaseId(2),
        ttl_secs: 10,
    });
    must_txn(
        &mut m,
        &txn(vec![
            put_leased("x", "1", 1),
            put_leased("y", "1", 1),
            put_leased("moved", "1", 1),
            put_leased("freed", "1", 1),
        ]),
    );
    must_txn(
        &mut m,
        &txn(vec![put_leased("moved", "2", 2), put_op("freed", "2")]),
    );
    assert_eq!(m.lease_keys(LeaseId(1)), vec![b"x".to_vec(), b"y".to_vec()]);

    let (resp, batch) = m.apply(&Command::LeaseRevoke { id: LeaseId(1) });
    assert_eq!(
        resp,
        CommandResponse::LeaseRevoked {
            revision: Revision(3)
        }
    );
    let batch = batch.unwrap();
    assert_eq!(batch.revision, Revision(3));
    assert_eq!(batch.events.len(), 2);
    for (e, key) in batch.events.iter().zip(["x", "y"]) {
        assert_eq!(e.kind, EventKind::Delete);
        assert_eq!(
            (e.kv.key.as_slice(), e.kv.mod_revision, e.kv.version),
            (key.as_bytes(), Revision(3), 0)
        );
        let prev = e.prev_kv.as_ref().unwrap();
        assert_eq!((prev.value.as_slice(), prev.lease), (&b"1"[..], LeaseId(1)));
    }
    assert_eq!(
        keys_of(
            &m.range(&RangeRequest {
                range: KeyRange::prefix(""),
                ..RangeRequest::default()
            })
            .unwrap()
            .kvs
        ),
        ["freed", "moved"]
    );
    assert_eq!(m.leases(), vec![(LeaseId(2), 10)]);
}

/// LeaseExpire revokes every listed lease that still exists, deleting all their keys in
/// ONE revision, and silently skips leases that are gone.
#[test]
fn lease_expire_revokes_every_listed_lease_in_one_revision_and_skips_missing_ones() {
    let mut m = Mvcc::new();
    for id in 1..=3 {
        m.apply(&Command::LeaseGrant {
            id: LeaseId(id),
            ttl_secs: 1,
        });
    }
    must_txn(
        &mut m,
        &txn(vec![
            put_leased("a", "1", 1),
            put_leased("b", "1", 2),
            put_leased("c", "1", 3),
        ]),
    );
    let (resp, batch) = m.apply(&Command::LeaseExpire {
        ids: vec![LeaseId(2), LeaseId(99), LeaseId(1), LeaseId(2)],
    });
    assert_eq!(
        resp,
        CommandResponse::LeaseRevoked {
            revision: Revision(2)
        }
    );
    let batch = batch.unwrap();
    let deleted: Vec<_> = batch
        .events
        .iter()
        .map(|e| (e.kind.clone(), e.kv.key.clone()))
        .collect();
    assert_eq!(
        deleted,
        vec![
            (EventKind::Delete, b"b".to_vec()),
            (EventKind::Delete, b"a".to_vec())
        ]
    );
    assert_eq!(
        m.leases().into_iter().map(|(id, _)| id).collect::<Vec<_>>(),
        vec![LeaseId(3)]
    );
    // Nothing left to expire: no revision.
    let (resp, batch) = m.apply(&Command::LeaseExpire {
        ids: vec![LeaseId(1)],
    });
    assert_eq!(
        (resp, batch),
        (
            CommandResponse::LeaseRevoked {
                revision: Revision(2)
            },
            None
        )
    );
}

/// Events for watchers are filtered to the range, omit revisions without a match, come in
/// revision order with op order inside, and a start at or below compaction is refused
/// while compacted+1 works.
#[test]
fn events_in_filters_by_range_and_rejects_compacted_revisions() {
    let mut m = Mvcc::new();
    must_put(&mut m, "p/a", "1"); // 1
    must_put(&mut m, "q", "1"); // 2
    must_txn(
        &mut m,
        &txn(vec![
            put_op("p/b", "1"),
            put_op("q", "2"),
            put_op("p/a", "2"),
        ]),
    ); // 3
    must_txn(&mut m, &txn(vec![delete_op(KeyRange::prefix("p/"))])); // 4
    let p = KeyRange::prefix("p/");
    let all = m.events_in(&p, Revision(1), 100).unwrap();
    assert_eq!(
        all.iter().map(|b| b.revision.0).collect::<Vec<_>>(),
        [1, 3, 4]
    );
    assert_eq!(
        all[1]
            .events
            .iter()
            .map(|e| e.kv.key.clone())
            .collect::<Vec<_>>(),
        [b"p/b".to_vec(), b"p/a".to_vec()]
    );
    assert_eq!(all[2].events[0].prev_kv.as_ref().unwrap().value, b"2");
    assert_eq!(
        m.events_in(&p, Revision(2), 1)
            .unwrap()
            .iter()
            .map(|b| b.revision.0)
            .collect::<Vec<_>>(),
        [3]
    );
    assert!(m.events_in(&p, Revision(5), 10).unwrap().is_empty());
    let page = m
        .events_page(&KeyRange::key("zzz"), Revision(1), 10, 2)
        .unwrap();
    assert_eq!((page.batches.len(), page.next), (0, Revision(3)));

    m.apply(&Command::Compact {
        revision: Revision(2),
    });
    assert_eq!(
        m.events_in(&p, Revision(2), 10),
        Err(ApplyError::Compacted {
            compacted: Revision(2)
        })
    );
    assert_eq!(m.events_in(&p, Revision(3), 10).unwrap().len(), 2);
}

/// Restoring a snapshot yields a store equal to the original and answering every range
/// (at every retained revision) and every history query the same, leases included.
#[test]
fn snapshot_round_trip_answers_every_query_like_the_original() {
    let mut m = Mvcc::new();
    m.apply(&Command::LeaseGrant {
        id: LeaseId(4),
        ttl_secs: 30,
    });
    must_put(&mut m, "a", "1");
    must_txn(
        &mut m,
        &txn(vec![put_leased("b", "1", 4), put_op("c", "1")]),
    );
    must_put(&mut m, "a", "2");
    must_txn(&mut m, &txn(vec![delete_op(KeyRange::key("c"))]));
    m.apply(&Command::Compact {
        revision: Revision(3),
    });
    must_put(&mut m, "c", "again");
    must_txn(
        &mut m,
        &txn(vec![delete_op(KeyRange::key("a")), put_leased("d", "x", 4)]),
    );

    let restored = Mvcc::from_snapshot(&m.snapshot_bytes().unwrap()).unwrap();
    assert_eq!(restored, m);
    for rev in m.compacted().0..=m.revision().0 + 1 {
        for range in [
            KeyRange::prefix(""),
            KeyRange::key("a"),
            KeyRange::from_key("b"),
        ] {
            let req = RangeRequest {
                range: range.clone(),
                revision: Some(Revision(rev)),
                ..RangeRequest::default()
            };
            assert_eq!(
                restored.range(&req),
                m.range(&req),
                "range {range:?} at {rev}"
            );
            assert_eq!(
                restored.events_in(&range, Revision(rev), 100),
                m.events_in(&range, Revision(rev), 100)
            );
        }
    }
    assert_eq!(
        restored.lease_keys(LeaseId(4)),
        vec![b"b".to_vec(), b"d".to_vec()]
    );
    // It keeps working the same way after restore.
    let (mut a, mut b) = (m.clone(), restored);
    assert_eq!(
        a.apply(&Command::LeaseRevoke { id: LeaseId(4) }),
        b.apply(&Command::LeaseRevoke { id: LeaseId(4) })
    );
    assert_eq!(a, b);
}

/// Truncated, corrupted or foreign bytes never panic: they are snapshot errors.
#[test]
fn corrupt_snapshots_are_errors_not_panics() {
    let mut m = Mvcc::new();
    must_put(&mut m, "a", "1");
    must_txn(&mut m, &txn(vec![delete_op(KeyRange::key("a"))]));
    let bytes = m.snapshot_bytes().unwrap();
    assert!(Mvcc::from_snapshot(&[]).is_err());
    assert!(Mvcc::from_snapshot(&bytes[..bytes.len() / 2]).is_err());
    assert!(Mvcc::from_snapshot(b"not a snapshot at all, just text").is_err());
    // Every single-byte corruption either is rejected or restores a consistent store.
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x5a;
        if let Ok(restored) = Mvcc::from_snapshot(&bad) {
            let round = Mvcc::from_snapshot(&restored.snapshot_bytes().unwrap()).unwrap();
            assert_eq!(round, restored);
        }
    }
    // Unaligned input is fine.
    let mut shifted = vec![0u8];
    shifted.extend_from_slice(&bytes);
    assert_eq!(Mvcc::from_snapshot(&shifted[1..]).unwrap(), m);
}
