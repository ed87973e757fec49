//! Behaviour of `Mvcc` (versions, transactions, reads, compaction), one property per
//! test; the helpers here are shared with `lease_history_tests`.

use super::*;
use crate::types::{
    Compare, CompareOp, CompareTarget, DeleteRequest, EventKind, PutRequest, TxnOp, TxnOpResponse,
    TxnRequest, TxnResponse,
};

pub(super) fn put_op(key: &str, value: &str) -> TxnOp {
    TxnOp::Put(PutRequest {
        key: key.into(),
        value: value.into(),
        lease: LeaseId::NONE,
        prev_kv: true,
    })
}

pub(super) fn put_leased(key: &str, value: &str, lease: i64) -> TxnOp {
    TxnOp::Put(PutRequest {
        key: key.into(),
        value: value.into(),
        lease: LeaseId(lease),
        prev_kv: false,
    })
}

pub(super) fn delete_op(range: KeyRange) -> TxnOp {
    TxnOp::Delete(DeleteRequest {
        range,
        prev_kv: true,
    })
}

pub(super) fn range_op(range: KeyRange) -> TxnOp {
    TxnOp::Range(RangeRequest {
        range,
        ..RangeRequest::default()
    })
}

pub(super) fn txn(ops: Vec<TxnOp>) -> Command {
    Command::Txn(TxnRequest {
        compare: Vec::new(),
        success: ops,
        failure: Vec::new(),
    })
}

pub(super) fn must_txn(m: &mut Mvcc, cmd: &Command) -> TxnResponse {
    match m.apply(cmd).0 {
        CommandResponse::Txn(resp) => resp,
        other => panic!("expected a txn response, got {other:?}"),
    }
}

pub(super) fn must_error(m: &mut Mvcc, cmd: &Command) -> ApplyError {
    let before = m.clone();
    let (resp, batch) = m.apply(cmd);
    assert!(
        batch.is_none(),
        "a failed command must not produce a revision"
    );
    assert_eq!(
        *m, before,
        "a failed command must leave the keyspace untouched"
    );
    match resp {
        CommandResponse::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    }
}

pub(super) fn must_put(m: &mut Mvcc, key: &str, value: &str) -> Revision {
    must_txn(m, &txn(vec![put_op(key, value)])).revision
}

pub(super) fn get_at(m: &Mvcc, key: &str, revision: Option<Revision>) -> Option<KeyValue> {
    let req = RangeRequest {
        range: KeyRange::key(key),
        revision,
        ..RangeRequest::default()
    };
    m.range(&req).expect("readable").kvs.pop()
}

pub(super) fn get(m: &Mvcc, key: &str) -> Option<KeyValue> {
    get_at(m, key, None)
}

pub(super) fn keys_of(kvs: &[KeyValue]) -> Vec<String> {
    kvs.iter()
        .map(|kv| String::from_utf8_lossy(&kv.key).into_owned())
        .collect()
}

pub(super) fn compare(key: &str, op: CompareOp, target: CompareTarget) -> Compare {
    Compare {
        key: key.into(),
        op,
        target,
    }
}

/// Version counts puts within a generation, create_revision marks the generation's first
/// put, mod_revision the last write; a put after a delete starts over at version 1.
#[test]
fn versions_and_revisions_follow_etcd_across_put_delete_put() {
    let mut m = Mvcc::new();
    assert_eq!(must_put(&mut m, "k", "a"), Revision(1));
    assert_eq!(must_put(&mut m, "k", "b"), Revision(2));
    let kv = get(&m, "k").unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (Revision(1), Revision(2), 2)
    );

    let resp = must_txn(&mut m, &txn(vec![delete_op(KeyRange::key("k"))]));
    assert_eq!(resp.revision, Revision(3));
    assert_eq!(get(&m, "k"), None);

    assert_eq!(must_put(&mut m, "k", "c"), Revision(4));
    let kv = get(&m, "k").unwrap();
    assert_eq!(
        (kv.create_revision, kv.mod_revision, kv.version),
        (Revision(4), Revision(4), 1)
    );
    assert_eq!(kv.value, b"c");
    assert_eq!(get_at(&m, "k", Some(Revision(2))).unwrap().value, b"b");
    assert_eq!(get_at(&m, "k", Some(Revision(3))), None);
}

/// Every compare target and operator decides the branch as etcd would, including the
/// zero values of a missing key (and a value compare on a missing key always failing).
#[test]
fn each_compare_target_and_operator_decides_the_branch() {
    let mut m = Mvcc::new();
    m.apply(&Command::LeaseGrant {
        id: LeaseId(7),
        ttl_secs: 10,
    });
    must_put(&mut m, "other", "x"); // rev 1
    must_txn(&mut m, &txn(vec![put_leased("k", "m", 7)])); // rev 2: k created
    must_put(&mut m, "k", "m"); // rev 3: k version 2, lease dropped

    let cases: Vec<(Compare, bool)> = vec![
        (
            compare("k", CompareOp::Equal, CompareTarget::Value("m".into())),
            true,
        ),
        (
            compare("k", CompareOp::Greater, CompareTarget::Value("a".into())),
            true,
        ),
        (
            compare("k", CompareOp::Less, CompareTarget::Value("a".into())),
            false,
        ),
        (
            compare("k", CompareOp::NotEqual, CompareTarget::Value("m".into())),
            false,
        ),
        (
            compare("k", CompareOp::Equal, CompareTarget::Version(2)),
            true,
        ),
        (
            compare("k", CompareOp::Less, CompareTarget::Version(3)),
            true,
        ),
        (
            compare(
                "k",
                CompareOp::Equal,
                CompareTarget::CreateRevision(Revision(2)),
            ),
            true,
        ),
        (
            compare(
                "k",
                CompareOp::Greater,
                CompareTarget::CreateRevision(Revision(1)),
            ),
            true,
        ),
        (
            compare(
                "k",
                CompareOp::Equal,
                CompareTarget::ModRevision(Revision(3)),
            ),
            true,
        ),
        (
            compare(
                "k",
                CompareOp::NotEqual,
                CompareTarget::ModRevision(Revision(2)),
            ),
            true,
        ),
        (
            compare("k", CompareOp::Equal, CompareTarget::Lease(LeaseId::NONE)),
            true,
        ),
        (
            compare("k", CompareOp::Equal, CompareTarget::Lease(LeaseId(7))),
            false,
        ),
        (
            compare("missing", CompareOp::Equal, CompareTarget::Version(0)),
            true,
        ),
        (
            compare(
                "missing",
                CompareOp::Equal,
                CompareTarget::CreateRevision(Revision::ZERO),
            ),
            true,
        ),
        (
            compare(
                "missing",
                CompareOp::Equal,
                CompareTarget::ModRevision(Revision::ZERO),
            ),
            true,
        ),
        (
            compare(
                "missing",
                CompareOp::Equal,
                CompareTarget::Lease(LeaseId::NONE),
            ),
            true,
        ),
        (
            compare(
                "missing",
                CompareOp::Equal,
                CompareTarget::Value(Vec::new()),
            ),
            false,
        ),
        (
            compare(
                "missing",
                CompareOp::NotEqual,
                CompareTarget::Value(Vec::new()),
            ),
            false,
        ),
    ];
    for (i, (cmp, expected)) in cases.into_iter().enumerate() {
        let req = TxnRequest {
            compare: vec![cmp.clone()],
            success: vec![range_op(KeyRange::key("k"))],
            failure: vec![range_op(KeyRange::key("other"))],
        };
        let resp = must_txn(&mut m, &Command::Txn(req));
        assert_eq!(resp.succeeded, expected, "case {i}: {cmp:?}");
        let TxnOpResponse::Range(r) = &resp.responses[0] else {
            panic!("range response")
        };
        assert_eq!(keys_of(&r.kvs), vec![if expected { "k" } else { "other" }]);
        assert_eq!(
            resp.revision,
            Revision(3),
            "read-only txns do not bump the revision"
        );
    }
}

/// Every op kind returns what etcd returns: put's prev_kv, delete's count and prev_kvs.
#[test]
fn txn_ops_return_prev_kvs_and_delete_counts() {
    let mut m = Mvcc::new();
    let resp = must_txn(&mut m, &txn(vec![put_op("a", "1"), put_op("b", "2")]));
    assert_eq!(resp.responses[0], TxnOpResponse::Put { prev_kv: None });
    let resp = must_txn(&mut m, &txn(vec![put_op("a", "3")]));
    let TxnOpResponse::Put {
        prev_kv: Some(prev),
    } = &resp.responses[0]
    else {
        panic!("prev_kv")
    };
    assert_eq!(
        (prev.value.as_slice(), prev.mod_revision),
        (&b"1"[..], Revision(1))
    );
    let resp = must_txn(&mut m, &txn(vec![delete_op(KeyRange::prefix(""))]));
    let TxnOpResponse::Delete { deleted, prev_kvs } = &resp.responses[0] else {
        panic!("delete")
    };
    assert_eq!(*deleted, 2);
    assert_eq!(keys_of(prev_kvs), ["a", "b"]);
    assert_eq!(prev_kvs[0].value, b"3");
}

/// A branch that writes one key twice is rejected (etcd's "duplicate key given in txn
/// request"), in either branch, and leaves the store untouched.
#[test]
fn a_txn_writing_one_key_twice_is_rejected_as_duplicate_key() {
    let mut m = Mvcc::new();
    must_put(&mut m, "a", "0");
    let dup = ApplyError::DuplicateKey { key: b"a".to_vec() };
    assert_eq!(
        must_error(&mut m, &txn(vec![put_op("a", "1"), put_op("a", "2")])),
        dup
    );
    assert_eq!(
        must_error(
            &mut m,
            &txn(vec![put_op("a", "1"), delete_op(KeyRange::prefix("a"))])
        ),
        dup
    );
    assert_eq!(
        must_error(
            &mut m,
            &txn(vec![delete_op(KeyRange::key("a")), put_op("a", "1")])
        ),
        dup
    );
    let in_failure = TxnRequest {
        compare: Vec::new(),
        success: vec![put_op("b", "1")],
        failure: vec![put_op("a", "1"), put_op("a", "2")],
    };
    assert_eq!(must_error(&mut m, &Command::Txn(in_failure)), dup);
    // Overlapping deletes are allowed, as in etcd, and delete each key once.
    let resp = must_txn(
        &mut m,
        &txn(vec![
            delete_op(KeyRange::prefix("a")),
            delete_op(KeyRange::key("a")),
        ]),
    );
    assert!(matches!(
        resp.responses[1],
        TxnOpResponse::Delete { deleted: 0, .. }
    ));
    assert_eq!(resp.revision, Revision(2));
}

/// A range inside a transaction sees the transaction's earlier writes, at the pending
/// revision, and all writes of the transaction share that one revision.
#[test]
fn range_inside_a_txn_sees_the_txns_earlier_writes() {
    let mut m = Mvcc::new();
    must_put(&mut m, "gone", "x");
    let resp = must_txn(
        &mut m,
        &txn(vec![
            range_op(KeyRange::prefix("")),
            put_op("a", "1"),
            delete_op(KeyRange::key("gone")),
            range_op(KeyRange::prefix("")),
            put_op("b", "2"),
        ]),
    );
    let TxnOpResponse::Range(before) = &resp.responses[0] else {
        panic!("range")
    };
    let TxnOpResponse::Range(after) = &resp.responses[3] else {
        panic!("range")
    };
    assert_eq!(
        (keys_of(&before.kvs), before.revision),
        (vec!["gone".to_string()], Revision(1))
    );
    assert_eq!(
        (keys_of(&after.kvs), after.revision),
        (vec!["a".to_string()], Revision(2))
    );
    assert_eq!(resp.revision, Revision(2));
    assert_eq!(get(&m, "b").unwrap().mod_revision, Revision(2));
}

/// Reads, writes that change nothing, lease grants and compactions leave the revision
/// alone; each changing command bumps it by exactly one.
#[test]
fn only_commands_that_change_keys_bump_the_revision() {
    let mut m = Mvcc::new();
    must_put(&mut m, "a", "1");
    let (_, batch) = m.apply(&txn(vec![delete_op(KeyRange::key("nothing"))]));
    assert!(batch.is_none());
    m.apply(&Command::LeaseGrant {
        id: LeaseId(1),
        ttl_secs: 5,
    });
    m.apply(&Command::LeaseRevoke { id: LeaseId(1) });
    m.apply(&Command::Compact {
        revision: Revision(1),
    });
    m.apply(&txn(vec![range_op(KeyRange::key("a"))]));
    assert_eq!(m.revision(), Revision(1));
    let (_, batch) = m.apply(&txn(vec![
        put_op("b", "1"),
        put_op("c", "1"),
        delete_op(KeyRange::key("a")),
    ]));
    let batch = batch.unwrap();
    assert_eq!(batch.revision, Revision(2));
    let kinds: Vec<_> = batch
        .events
        .iter()
        .map(|e| (e.kind.clone(), e.kv.key.clone()))
        .collect();
    assert_eq!(
        kinds,
        vec![
            (EventKind::Put, b"b".to_vec()),
            (EventKind::Put, b"c".to_vec()),
            (EventKind::Delete, b"a".to_vec())
        ]
    );
}

/// `limit` cuts the result and sets `more`, `count` ignores the limit, keys_only drops
/// values, count_only returns no keys, and paging from last key + "\0" continues.
#[test]
fn range_honours_limit_more_count_keys_only_and_count_only() {
    let mut m = Mvcc::new();
    for k in ["p/a", "p/b", "p/c", "p/d", "q"] {
        must_put(&mut m, k, "v");
    }
    let mut req = RangeRequest {
        range: KeyRange::prefix("p/"),
        limit: 3,
        ..RangeRequest::default()
    };
    let page = m.range(&req).unwrap();
    assert_eq!(
        (keys_of(&page.kvs), page.more, page.count),
        (vec!["p/a".into(), "p/b".into(), "p/c".into()], true, 4)
    );

    let mut next = page.kvs[2].key.clone();
    next.push(0);
    req.range.start = next;
    req.revision = Some(page.revision);
    let rest = m.range(&req).unwrap();
    assert_eq!(
        (keys_of(&rest.kvs), rest.more, rest.count),
        (vec!["p/d".to_string()], false, 1)
    );

    let keys_only = m
        .range(&RangeRequest {
            range: KeyRange::prefix("p/"),
            keys_only: true,
            ..RangeRequest::default()
        })
        .unwrap();
    assert!(keys_only
        .kvs
        .iter()
        .all(|kv| kv.value.is_empty() && kv.version == 1));
    let count_only = m
        .range(&RangeRequest {
            range: KeyRange::from_key("p/b"),
            count_only: true,
            limit: 1,
            ..RangeRequest::default()
        })
        .unwrap();
    assert_eq!(
        (count_only.kvs.len(), count_only.count, count_only.more),
        (0, 4, false)
    );
    let inverted = m.range(&RangeRequest {
        range: KeyRange {
            start: "z".into(),
            end: "a".into(),
        },
        ..RangeRequest::default()
    });
    assert_eq!(inverted.unwrap().count, 0);
}

/// `skip_count` stops the read one key past the limit: `more` is still right, `count`
/// only covers the keys looked at, and the page is the same as a counted one.
#[test]
fn range_with_skip_count_keeps_page_and_more_but_stops_counting() {
    let mut m = Mvcc::new();
    for k in ["p/a", "p/b", "p/c", "p/d", "q"] {
        must_put(&mut m, k, "v");
    }
    let page = |limit, start: &str| {
        m.range(&RangeRequest {
            range: KeyRange {
                start: start.into(),
                end: KeyRange::prefix("p/").end,
            },
            limit,
            skip_count: true,
            ..RangeRequest::default()
        })
        .unwrap()
    };
    let first = page(2, "p/");
    assert_eq!(
        (keys_of(&first.kvs), first.more, first.count),
        (vec!["p/a".into(), "p/b".into()], true, 3)
    );
    let last = page(2, "p/c");
    assert_eq!(
        (keys_of(&last.kvs), last.more, last.count),
        (vec!["p/c".into(), "p/d".into()], false, 2)
    );
    let all = page(0, "p/");
    assert_eq!((all.kvs.len(), all.more, all.count), (4, false, 4));
}

/// A read at a past revision sees the keyspace exactly as it was then; a future revision
/// is an error carrying the current one.
#[test]
fn range_at_a_past_revision_sees_the_keyspace_as_it_was() {
    let mut m = Mvcc::new();
    must_put(&mut m, "a", "1"); // 1
    must_put(&mut m, "b", "1"); // 2
    must_txn(&mut m, &txn(vec![delete_op(KeyRange::key("a"))])); // 3
    must_put(&mut m, "b", "2"); // 4
    let at = |rev: u64| {
        let req = RangeRequest {
            range: KeyRange::prefix(""),
            revision: Some(Revision(rev)),
            ..RangeRequest::default()
        };
        let r = m.range(&req).unwrap();
        r.kvs
            .iter()
            .map(|kv| {
                format!(
                    "{}={}",
                    String::from_utf8_lossy(&kv.key),
                    String::from_utf8_lossy(&kv.value)
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(at(1), ["a=1"]);
    assert_eq!(at(2), ["a=1", "b=1"]);
    assert_eq!(at(3), ["b=1"]);
    assert_eq!(at(4), ["b=2"]);
    let future = RangeRequest {
        revision: Some(Revision(5)),
        ..RangeRequest::default()
    };
    assert_eq!(
        m.range(&future),
        Err(ApplyError::FutureRevision {
            current: Revision(4)
        })
    );
}

/// After compacting to R, reads at R and later still work, reads below R fail with the
/// compaction revision, keys deleted at or before R disappear from the index, and
/// compacting to a future or already compacted revision is refused.
#[test]
fn compaction_keeps_reads_at_the_compaction_revision_and_rejects_older_ones() {
    let mut m = Mvcc::new();
    must_put(&mut m, "a", "1"); // 1
    must_put(&mut m, "a", "2"); // 2
    must_put(&mut m, "b", "1"); // 3
    must_txn(&mut m, &txn(vec![delete_op(KeyRange::key("b"))])); // 4
    must_put(&mut m, "a", "3"); // 5
    assert_eq!(
        must_error(
            &mut m,
            &Command::Compact {
                revision: Revision(6)
            }
        ),
        ApplyError::FutureRevision {
            current: Revision(5)
        }
    );
    assert_eq!(
        m.apply(&Command::Compact {
            revision: Revision(4)
        })
        .0,
        CommandResponse::Compacted {
            revision: Revision(4)
        }
    );
    assert_eq!(m.compacted(), Revision(4));
    assert_eq!(m.revision(), Revision(5));
    assert_eq!(get_at(&m, "a", Some(Revision(4))).unwrap().value, b"2");
    assert_eq!(get_at(&m, "b", Some(Revision(4))), None);
    assert_eq!(get(&m, "a").unwrap().value, b"3");
    let old = RangeRequest {
        range: KeyRange::key("a"),
        revision: Some(Revision(3)),
        ..RangeRequest::default()
    };
    assert_eq!(
        m.range(&old),
        Err(ApplyError::Compacted {
            compacted: Revision(4)
        })
    );
    assert_eq!(
        must_error(
            &mut m,
            &Command::Compact {
                revision: Revision(4)
            }
        ),
        ApplyError::Compacted {
            compacted: Revision(4)
        }
    );
    assert_eq!(
        m.index
            .iter()
            .map(|(k, v)| (k.clone(), v.len()))
            .collect::<Vec<_>>(),
        vec![(b"a".to_vec(), 2)]
    );
    // The event at 5 still carries its prev_kv, retained at the compaction point.
    let batches = m.events_in(&KeyRange::key("a"), Revision(5), 10).unwrap();
    assert_eq!(batches[0].events[0].prev_kv.as_ref().unwrap().value, b"2");
}

/// N clients incrementing one counter with compare-and-swap on mod_revision, all reading
/// before any writes and retrying on conflict, end with exactly N: no lost update.
#[test]
fn n_sequential_cas_increments_via_mod_revision_end_at_exactly_n() {
    let mut m = Mvcc::new();
    let n = 20u64;
    let read = |m: &Mvcc| {
        get(m, "counter").map_or((0, Revision::ZERO), |kv| {
            (
                String::from_utf8_lossy(&kv.value)
                    .parse::<u64>()
                    .expect("a number"),
                kv.mod_revision,
            )
        })
    };
    let mut pending: Vec<u64> = (0..n).collect();
    let mut rounds = 0;
    while !pending.is_empty() {
        rounds += 1;
        let seen: Vec<(u64, Revision)> = pending.iter().map(|_| read(&m)).collect();
        let mut losers = Vec::new();
        for (client, (value, rev)) in pending.iter().zip(seen) {
            let req = TxnRequest {
                compare: vec![compare(
                    "counter",
                    CompareOp::Equal,
                    CompareTarget::ModRevision(rev),
                )],
                success: vec![put_op("counter", &(value + 1).to_string())],
                failure: vec![range_op(KeyRange::key("counter"))],
            };
            if !must_txn(&mut m, &Command::Txn(req)).succeeded {
                losers.push(*client);
            }
        }
        assert_eq!(
            losers.len() + 1,
            pending.len(),
            "exactly one client wins each round"
        );
        pending = losers;
    }
    let kv = get(&m, "counter").unwrap();
    assert_eq!(
        (kv.value, kv.version, m.revision(), rounds),
        (n.to_string().into_bytes(), n, Revision(n), n)
    );
}
