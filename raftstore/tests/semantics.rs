//! The store's client-visible semantics on a replicated shard: compare-and-swap,
//! leases, compaction errors, linearizable reads across a leader change.

mod common;

use std::time::Duration;

use common::*;
use hive_raftstore::watch::WatchResponse;
use hive_raftstore::{
    Consistency, EventKind, KeyRange, LeaseId, PutRequest, RangeRequest, Revision, StoreError,
};

/// N concurrent compare-and-swap incrementers of one counter, each retrying on
/// conflict, end with exactly N increments: no lost update, no double apply.
#[actix_rt::test]
async fn concurrent_cas_incrementers_end_with_exactly_n_increments() {
    const N: u64 = 40;
    let (_dir, c) = cluster(3).await;
    let store = c.store();
    let mut tasks = Vec::new();
    for _ in 0..N {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut conflicts = 0u32;
            loop {
                let cur = store.get("/counter").await.expect("get");
                let (n, rev) = match &cur {
                    Some(kv) => (
                        String::from_utf8_lossy(&kv.value)
                            .parse::<u64>()
                            .expect("number"),
                        kv.mod_revision,
                    ),
                    None => (0, Revision::ZERO),
                };
                match store.cas("/counter", rev, (n + 1).to_string()).await {
                    Ok(_) => return conflicts,
                    Err(StoreError::Conflict { .. }) => conflicts += 1,
                    Err(e) => panic!("cas failed: {e}"),
                }
            }
        }));
    }
    let mut conflicts = 0;
    for t in tasks {
        conflicts += t.await.expect("task");
    }
    let kv = store
        .get("/counter")
        .await
        .expect("get")
        .expect("counter exists");
    assert_eq!(
        String::from_utf8_lossy(&kv.value),
        N.to_string(),
        "after {conflicts} conflicts"
    );
    assert_eq!(kv.version, N, "one version per successful increment");
}

/// A lease that is not kept alive expires: its keys are deleted in one revision and a
/// watcher sees one delete event per key in that revision.
#[actix_rt::test]
async fn an_expired_lease_deletes_its_keys_and_emits_delete_events() {
    let (_dir, c) = cluster(3).await;
    let store = c.store();
    let lease = store.lease_grant(1).await.expect("grant");
    for k in ["/lease/a", "/lease/b", "/lease/c"] {
        store
            .put_with(PutRequest {
                key: k.into(),
                value: b"held".to_vec(),
                lease: lease.id,
                prev_kv: false,
            })
            .await
            .expect("put with lease");
    }
    store.put("/lease/unleased", "stays").await.expect("put");
    let mut watch = store
        .watch(KeyRange::prefix("/lease/"), None, false)
        .await
        .expect("watch");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    let (revision, events) = loop {
        let msg = tokio::time::timeout_at(deadline, watch.recv())
            .await
            .expect("expiry within 15 s")
            .expect("open");
        if let WatchResponse::Events { revision, events } = msg {
            break (revision, events);
        }
    };
    let mut deleted: Vec<String> = events
        .iter()
        .map(|e| e.decode().expect("valid event"))
        .inspect(|e| assert_eq!(e.event.kind, EventKind::Delete))
        .map(|e| String::from_utf8_lossy(&e.event.kv.key).into_owned())
        .collect();
    deleted.sort();
    assert_eq!(
        deleted,
        ["/lease/a", "/lease/b", "/lease/c"],
        "all three keys in revision {revision}"
    );
    let left = store
        .range(
            RangeRequest {
                range: KeyRange::prefix("/lease/"),
                ..Default::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("range");
    assert_eq!(left.kvs.len(), 1);
    assert_eq!(left.kvs[0].key, b"/lease/unleased");
    assert!(
        matches!(store.lease_keep_alive(lease.id).await, Err(StoreError::LeaseNotFound(id)) if id == lease.id)
    );
}

/// Keep-alives hold a lease past its TTL; revoking it deletes its keys at once.
#[actix_rt::test]
async fn kept_alive_lease_survives_its_ttl_and_revoke_deletes_its_keys() {
    let (_dir, c) = cluster(1).await;
    let store = c.store();
    let lease = store.lease_grant(1).await.expect("grant");
    store
        .put_with(PutRequest {
            key: b"/l/x".to_vec(),
            value: b"1".to_vec(),
            lease: lease.id,
            prev_kv: false,
        })
        .await
        .expect("put");
    let until = tokio::time::Instant::now() + Duration::from_millis(2_500);
    while tokio::time::Instant::now() < until {
        store.lease_keep_alive(lease.id).await.expect("keep alive");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(
        store.get("/l/x").await.expect("get").is_some(),
        "kept-alive lease still holds its key"
    );
    store.lease_revoke(lease.id).await.expect("revoke");
    assert!(store.get("/l/x").await.expect("get").is_none());
    assert!(matches!(
        store.lease_revoke(lease.id).await,
        Err(StoreError::LeaseNotFound(_))
    ));
    assert!(matches!(
        store
            .put_with(PutRequest {
                key: b"/l/y".to_vec(),
                value: vec![],
                lease: LeaseId(424242),
                prev_kv: false
            })
            .await,
        Err(StoreError::LeaseNotFound(_))
    ));
}

/// Reads and watches below the compaction point fail with an explicit error naming it.
#[actix_rt::test]
async fn reads_and_watches_below_compaction_fail_explicitly() {
    let (_dir, c) = cluster(1).await;
    let store = c.store();
    let mut revs = Vec::new();
    for i in 0..10 {
        revs.push(
            store
                .put("/c/key", format!("{i}"))
                .await
                .expect("put")
                .revision,
        );
    }
    store.compact(revs[5]).await.expect("compact");
    let old = store
        .range(
            RangeRequest {
                range: KeyRange::key("/c/key"),
                revision: Some(revs[2]),
                ..Default::default()
            },
            Consistency::Linearizable,
        )
        .await;
    assert_eq!(old, Err(StoreError::Compacted { compacted: revs[5] }));
    let at = store
        .range(
            RangeRequest {
                range: KeyRange::key("/c/key"),
                revision: Some(revs[5]),
                ..Default::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("read at the compaction revision");
    assert_eq!(at.kvs[0].value, b"5");
    match store
        .watch(KeyRange::key("/c/key"), Some(revs[3]), false)
        .await
    {
        Err(StoreError::Compacted { compacted }) => assert_eq!(compacted, revs[5]),
        Err(e) => panic!("expected Compacted, got {e}"),
        Ok(_) => panic!("watch below the compaction point must fail"),
    }
    store
        .watch(KeyRange::key("/c/key"), Some(revs[5].next()), false)
        .await
        .expect("watch just above compaction");
}

/// A write acknowledged by the old leader is visible to a linearizable read served by
/// the new leader (no stale reads across a leader change).
#[actix_rt::test]
async fn linearizable_reads_see_writes_acknowledged_before_a_leader_change() {
    let (_dir, mut c) = cluster(3).await;
    let store = c.store();
    store.put("/lin", "before").await.expect("put");
    let old = c.leader().expect("leader");
    c.kill(old);
    c.wait_for_new_leader(old, LONG).await.expect("new leader");
    let kv = store.get("/lin").await.expect("read").expect("present");
    assert_eq!(kv.value, b"before");
    let kv = store
        .range(
            RangeRequest {
                range: KeyRange::key("/lin"),
                ..Default::default()
            },
            Consistency::Serializable,
        )
        .await
        .expect("serializable read");
    assert_eq!(kv.kvs.len(), 1);
}
