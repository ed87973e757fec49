//! The store's client API over QUIC: a 3-member shard, every member its own endpoint
//! (tests/common/quic.rs) serving `StoreServer` beside Raft, and a `RemoteStore` in the
//! test process with a certificate from the same cluster CA.

mod common;

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use common::quic::QuicFabric;
use common::{opts, LONG};
use futures::FutureExt;
use hive_raftstore::cluster::LocalCluster;
use hive_raftstore::network::PeerAddr;
use hive_raftstore::remote::wire::{codes, ErrorDetail, MemberAddr, Reply, StatusMsg, TxnMsg};
use hive_raftstore::remote::{
    services, MemberRole, RemoteOptions, RemoteStore, RemoteWatch, StoreServerOptions,
};
use hive_raftstore::watch::{CancelReason, WatchResponse};
use hive_raftstore::{
    Compare, CompareOp, CompareTarget, Consistency, KeyRange, LeaseId, NodeId, PutRequest,
    RangeRequest, Revision, ShardId, StoreError, TxnOp, TxnOpResponse, TxnRequest,
};
use hive_transport::{
    codes as transport_codes, EndpointConfig, Service, ServiceId, TransportSettings, Wire,
};

const SHARD: ShardId = ShardId(1);

/// A shard whose members serve the store API, the fabric that issued their
/// certificates, and the directory they keep their data in.
struct RemoteCluster {
    c: LocalCluster,
    fabric: Arc<QuicFabric>,
    _dir: tempfile::TempDir,
}

impl RemoteCluster {
    async fn start(n: u64) -> Self {
        let o = opts();
        let fabric = QuicFabric::new(&o.raft);
        let dir = tempfile::tempdir().expect("tempdir");
        let server = StoreServerOptions {
            watch_heartbeat: Duration::from_millis(200),
        };
        let c = LocalCluster::new(dir.path(), o)
            .with_serving_member_network(fabric.serving_factory(SHARD, server))
            .start_members(n)
            .await
            .expect("cluster starts");
        RemoteCluster {
            c,
            fabric,
            _dir: dir,
        }
    }

    fn addr(&self, node: NodeId) -> PeerAddr {
        self.c
            .member_addr(node)
            .expect("member running")
            .parse()
            .expect("a QUIC member address")
    }

    /// A client process that knows the members `nodes`.
    fn client(&self, nodes: &[u64]) -> RemoteStore {
        self.client_with(nodes, RemoteOptions::default())
    }

    /// A client that knows `nodes`, with `opts` but this file's short timeouts.
    fn client_with(&self, nodes: &[u64], opts: RemoteOptions) -> RemoteStore {
        let members = nodes.iter().map(|&n| self.addr(NodeId(n)));
        let config = EndpointConfig {
            connect_timeout: Duration::from_secs(1),
            // A member killed without a word is given up on in seconds, not half a minute.
            transport: TransportSettings {
                idle_timeout: Duration::from_secs(3),
                keep_alive: Duration::from_millis(500),
                ..TransportSettings::default()
            },
            ..EndpointConfig::default()
        };
        let opts = RemoteOptions {
            attempt_timeout: Duration::from_secs(1),
            deadline: Duration::from_secs(15),
            ..opts
        };
        RemoteStore::connect(
            &self.fabric.client_identity("client"),
            config,
            members,
            opts,
        )
        .expect("client endpoint")
    }

    fn follower(&self, leader: NodeId) -> NodeId {
        self.c
            .running()
            .into_iter()
            .find(|&n| n != leader)
            .expect("a follower")
    }
}

fn put(key: &str, value: &str, lease: LeaseId, prev_kv: bool) -> PutRequest {
    PutRequest {
        key: key.into(),
        value: value.into(),
        lease,
        prev_kv,
    }
}

/// Through a `RemoteStore`, puts, reads, compare-and-swap, transactions, deletes,
/// leases and compaction behave as through the in-process `Store`: the same revisions,
/// the same values, the same errors (`Conflict`, `LeaseNotFound`, `Compacted`).
#[actix_rt::test]
async fn a_remote_client_reads_and_writes_with_the_stores_semantics() {
    let t = RemoteCluster::start(3).await;
    let s = t.client(&[1, 2, 3]);

    let p1 = s.put("/a", "1").await.expect("put");
    let kv = s.get("/a").await.expect("get").expect("the key exists");
    assert_eq!(
        (kv.value.as_slice(), kv.mod_revision),
        (&b"1"[..], p1.revision)
    );
    let p2 = s
        .put_with(put("/a", "2", LeaseId::NONE, true))
        .await
        .expect("put with prev_kv");
    assert_eq!(p2.prev_kv.expect("previous value").value, b"1");
    assert_eq!(p2.revision, p1.revision.next());

    let r3 = s
        .cas("/a", p2.revision, "3")
        .await
        .expect("cas at the current revision");
    let lost = s.cas("/a", p2.revision, "4").await.expect_err("stale cas");
    assert_eq!(lost, StoreError::Conflict { current: r3 });
    s.cas("/b", Revision::ZERO, "created")
        .await
        .expect("create-only cas");

    let t1 = s
        .txn(TxnRequest {
            compare: vec![Compare {
                key: b"/a".to_vec(),
                op: CompareOp::Equal,
                target: CompareTarget::Value(b"3".to_vec()),
            }],
            success: vec![
                TxnOp::Put(put("/c", "x", LeaseId::NONE, false)),
                TxnOp::Range(RangeRequest {
                    range: KeyRange::prefix("/"),
                    ..Default::default()
                }),
            ],
            failure: vec![],
        })
        .await
        .expect("txn");
    assert!(t1.succeeded);
    match &t1.responses[1] {
        TxnOpResponse::Range(r) => assert_eq!(r.count, 3, "the txn reads its own put"),
        other => panic!("expected a range answer, got {other:?}"),
    }

    let (deleted, prev, rev) = s.delete(KeyRange::prefix("/"), true).await.expect("delete");
    assert_eq!((deleted, prev.len()), (3, 3));
    assert_eq!(rev, t1.revision.next());
    assert_eq!(s.get("/a").await.expect("get"), None);

    let lease = s.lease_grant(30).await.expect("lease grant");
    s.put_with(put("/leased", "v", lease.id, false))
        .await
        .expect("put with a lease");
    let ttl = s.lease_keep_alive(lease.id).await.expect("keep-alive");
    assert_eq!(ttl, Duration::from_secs(30));
    s.lease_revoke(lease.id).await.expect("revoke");
    assert_eq!(
        s.get("/leased").await.expect("get"),
        None,
        "revoke deletes the lease's keys"
    );
    let gone = s
        .lease_keep_alive(lease.id)
        .await
        .expect_err("revoked lease");
    assert_eq!(gone, StoreError::LeaseNotFound(lease.id));

    let now = s.put("/d", "y").await.expect("put").revision;
    s.compact(now).await.expect("compact");
    let old = RangeRequest {
        range: KeyRange::key("/d"),
        revision: Some(Revision(1)),
        ..Default::default()
    };
    let err = s
        .range(old, Consistency::Linearizable)
        .await
        .expect_err("below compaction");
    assert_eq!(err, StoreError::Compacted { compacted: now });

    // What the remote client wrote is what the in-process client reads.
    let local = t.c.store().get("/d").await.expect("local get");
    assert_eq!(local, s.get("/d").await.expect("remote get"));
    let serial = RangeRequest {
        range: KeyRange::key("/d"),
        ..Default::default()
    };
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        let r = s
            .range(serial.clone(), Consistency::Serializable)
            .await
            .expect("serializable read");
        if r.count == 1 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "a serializable read never saw the write"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// A remote watch from a past revision replays history and then follows live writes:
/// one message per revision with all of its events, in order, none twice; the resume
/// point follows what was delivered; a watch from below the compaction point is refused
/// with `Compacted` carrying the compaction revision.
#[actix_rt::test]
async fn a_remote_watch_from_a_past_revision_replays_history_then_follows_live_writes() {
    let t = RemoteCluster::start(3).await;
    let s = t.client(&[1, 2, 3]);
    let first = s.put("/w/a", "1").await.expect("put").revision;
    s.put("/other", "not watched").await.expect("put");
    let both = s
        .txn(TxnRequest {
            success: vec![
                TxnOp::Put(put("/w/b", "2", LeaseId::NONE, false)),
                TxnOp::Put(put("/w/c", "3", LeaseId::NONE, false)),
            ],
            ..Default::default()
        })
        .await
        .expect("txn")
        .revision;

    let mut w = s
        .watch(KeyRange::prefix("/w/"), Some(first), false)
        .await
        .expect("watch from the past");
    assert_eq!(w.resume_from(), first);
    let live = s.put("/w/d", "4").await.expect("live put").revision;

    let mut seen: Vec<(Revision, Vec<Vec<u8>>)> = Vec::new();
    while seen.len() < 3 {
        let resp = tokio::time::timeout(LONG, w.recv())
            .await
            .expect("a watch message in time")
            .expect("the watch is open")
            .expect("no error");
        match resp {
            WatchResponse::Events { revision, events } => {
                let keys = events
                    .iter()
                    .map(|e| e.decode().expect("valid event").event.kv.key)
                    .collect();
                seen.push((revision, keys));
            }
            other => panic!("expected events, got {other:?}"),
        }
    }
    assert_eq!(
        seen,
        vec![
            (first, vec![b"/w/a".to_vec()]),
            (both, vec![b"/w/b".to_vec(), b"/w/c".to_vec()]),
            (live, vec![b"/w/d".to_vec()]),
        ]
    );
    assert_eq!(w.resume_from(), live.next());

    s.compact(both).await.expect("compact");
    let err = s
        .watch(KeyRange::prefix("/w/"), Some(first), false)
        .await
        .expect_err("history below the compaction point is gone");
    assert_eq!(err, StoreError::Compacted { compacted: both });
}

/// Receives the next `Events` message of `w`, failing on anything else.
async fn next_events(w: &mut hive_raftstore::remote::RemoteWatch) -> (Revision, Vec<Vec<u8>>) {
    match tokio::time::timeout(LONG, w.recv()).await {
        Ok(Some(Ok(WatchResponse::Events { revision, events }))) => {
            let keys = events
                .iter()
                .map(|e| e.decode().expect("valid event").event.kv.key)
                .collect();
            (revision, keys)
        }
        Ok(other) => panic!("expected events, got {other:?}"),
        Err(_) => panic!("no watch message within {LONG:?}"),
    }
}

/// A watch whose serving member is killed ends with an error that names the revision
/// to resume from — the client does not re-open it behind the caller's back — and a new
/// watch from that revision at another member continues with no gap and no repeat.
#[actix_rt::test]
async fn a_lost_watch_stream_is_reported_with_the_revision_to_resume_from() {
    let mut t = RemoteCluster::start(3).await;
    let leader = t.c.leader().expect("a leader");
    let follower = t.follower(leader);
    let writer = t.client(&[leader.0]);
    let watcher = t.client_with(
        &[follower.0],
        RemoteOptions {
            watch_idle_timeout: Duration::from_secs(2),
            ..RemoteOptions::default()
        },
    );
    let mut w = watcher
        .watch(KeyRange::prefix("/r/"), None, false)
        .await
        .expect("watch at the follower");
    assert_eq!(w.member(), &t.addr(follower).name);
    let mut before = Vec::new();
    for i in 0..3 {
        let rev = writer
            .put(format!("/r/{i}"), "v")
            .await
            .expect("put")
            .revision;
        assert_eq!(next_events(&mut w).await.0, rev);
        before.push(rev);
    }

    t.c.kill(follower);
    let mut after = Vec::new();
    for i in 3..5 {
        after.push(
            writer
                .put(format!("/r/{i}"), "v")
                .await
                .expect("put")
                .revision,
        );
    }
    match tokio::time::timeout(LONG, w.recv()).await {
        Ok(Some(Err(StoreError::Unavailable(why)))) => assert!(why.contains("resume"), "{why}"),
        other => panic!("expected the loss to be reported, got {other:?}"),
    }
    assert!(w.recv().await.is_none(), "nothing after the loss");
    let resume = w.resume_from();
    assert_eq!(resume, before[2].next());

    watcher.add_member_addr(&t.addr(leader));
    let mut again = watcher
        .watch(KeyRange::prefix("/r/"), Some(resume), false)
        .await
        .expect("watch again elsewhere");
    assert_eq!(again.member(), &t.addr(leader).name);
    for (i, rev) in after.iter().enumerate() {
        let (got, keys) = next_events(&mut again).await;
        assert_eq!(got, *rev);
        assert_eq!(keys, vec![format!("/r/{}", i + 3).into_bytes()]);
    }
}

/// A member that does not lead answers a write with `NotLeader` naming the leader's
/// node id and client address — it does not forward the write — and a client that
/// knows only that follower reaches the leader through it.
#[actix_rt::test]
async fn a_request_sent_to_a_follower_is_redirected_to_the_leader() {
    let t = RemoteCluster::start(3).await;
    let leader = t.c.leader().expect("a leader");
    let follower = t.follower(leader);
    let leader_addr = t.addr(leader);
    let s = t.client(&[follower.0]);

    let msg = TxnMsg {
        shard: SHARD,
        request: TxnRequest {
            success: vec![TxnOp::Put(put("/direct", "x", LeaseId::NONE, false))],
            ..Default::default()
        },
    };
    let answer = s
        .endpoint()
        .call::<services::Txn>(&t.addr(follower).name, &msg, LONG)
        .await
        .expect("the follower answers")
        .deserialize()
        .expect("a readable answer");
    match answer {
        Reply::Err(e) => {
            assert_eq!(e.code, codes::NOT_LEADER);
            assert_eq!(
                e.detail,
                ErrorDetail::Leader(Some(MemberAddr {
                    node: leader,
                    addr: leader_addr.to_string(),
                }))
            );
        }
        Reply::Ok(r) => panic!("a follower applied a write itself: {r:?}"),
    }
    assert_eq!(
        s.get("/direct").await.expect("get"),
        None,
        "nothing was applied"
    );

    let status = s.member_status(&t.addr(follower)).await.expect("status");
    assert_eq!((status.node, status.role), (follower, MemberRole::Follower));
    assert_eq!(status.leader.map(|l| l.addr), Some(leader_addr.to_string()));

    s.put("/redirected", "y")
        .await
        .expect("put through the follower's redirect");
    assert_eq!(s.leader_hint(), Some(leader_addr.name.clone()));
    let kv = s.get("/redirected").await.expect("get").expect("written");
    assert_eq!(kv.value, b"y");
}

/// The events a remote watch delivers are byte-for-byte the hub's `SharedEvent`
/// encodings: the serving member's own in-process watcher of the same range gets the
/// same bytes, revision by revision.
#[actix_rt::test]
async fn remote_watch_events_are_byte_identical_to_the_hubs_shared_events() {
    let t = RemoteCluster::start(3).await;
    let leader = t.c.leader().expect("a leader");
    let s = t.client(&[leader.0]);
    let mut local =
        t.c.store_of(&[leader])
            .watch(KeyRange::prefix("/e/"), None, false)
            .await
            .expect("local watch");
    let mut remote = s
        .watch(KeyRange::prefix("/e/"), None, false)
        .await
        .expect("remote watch");
    assert_eq!(remote.member(), &t.addr(leader).name);

    s.put("/e/1", "one").await.expect("put");
    s.txn(TxnRequest {
        success: vec![
            TxnOp::Put(put("/e/2", "two", LeaseId::NONE, false)),
            TxnOp::Put(put("/e/3", &"x".repeat(10_000), LeaseId::NONE, false)),
        ],
        ..Default::default()
    })
    .await
    .expect("txn");
    s.delete(KeyRange::key("/e/1"), true).await.expect("delete");

    for _ in 0..3 {
        let want = tokio::time::timeout(LONG, local.recv())
            .await
            .expect("local message in time")
            .expect("local watch open");
        let got = tokio::time::timeout(LONG, remote.recv())
            .await
            .expect("remote message in time")
            .expect("remote watch open")
            .expect("no error");
        match (want, got) {
            (
                WatchResponse::Events {
                    revision: r1,
                    events: e1,
                },
                WatchResponse::Events {
                    revision: r2,
                    events: e2,
                },
            ) => {
                assert_eq!(r1, r2);
                let bytes = |e: &[hive_raftstore::watch::SharedEvent]| -> Vec<Vec<u8>> {
                    e.iter().map(|e| e.as_bytes().to_vec()).collect()
                };
                assert_eq!(bytes(&e1), bytes(&e2), "revision {r1}");
            }
            other => panic!("expected events on both, got {other:?}"),
        }
    }
}

/// With the leader killed, the client's next writes land on the new leader once the
/// survivors elected one: at most the first write after the kill reports an unknown
/// outcome (its leader went silent), none is refused, and every acknowledged write is
/// readable afterwards.
#[actix_rt::test]
async fn the_clients_writes_succeed_after_the_leader_is_killed_and_a_new_one_elected() {
    let mut t = RemoteCluster::start(3).await;
    let s = t.client(&[1, 2, 3]);
    let mut acked = Vec::new();
    for i in 0..20 {
        let key = format!("/k/{i:03}");
        acked.push((
            key.clone(),
            s.put(key, "v").await.expect("put before the kill").revision,
        ));
    }
    let old = t.c.leader().expect("a leader");
    t.c.kill(old);

    let mut unknown = 0;
    for i in 20..40 {
        let key = format!("/k/{i:03}");
        match s.put(key.clone(), "v").await {
            Ok(r) => acked.push((key, r.revision)),
            Err(e @ (StoreError::Timeout(_) | StoreError::Indeterminate(_))) => {
                eprintln!("write {i} after the kill: {e}");
                unknown += 1
            }
            Err(e) => panic!("write {i} after the kill refused: {e}"),
        }
    }
    assert!(unknown <= 1, "{unknown} writes with an unknown outcome");
    let new =
        t.c.wait_for_new_leader(old, LONG)
            .await
            .expect("a new leader");
    assert_eq!(s.leader_hint(), Some(t.addr(new).name));
    for (key, rev) in &acked {
        let kv = s
            .get(key.as_str())
            .await
            .expect("get")
            .expect("acknowledged write kept");
        assert_eq!(kv.mod_revision, *rev, "{key}");
    }
}

/// Anything that answers with `S`'s response type, sent with a request of raw bytes.
struct Garbage<S>(PhantomData<S>);

impl<S: Service> Service for Garbage<S> {
    const NAME: &'static str = S::NAME;
    const ID: ServiceId = S::ID;
    type Request = Vec<u8>;
    type Response = S::Response;
}

/// Sends bytes that are not a request of `S` and checks they get an error code: the
/// transport's `INVALID_ARCHIVE`, or — if the bytes happen to form a valid archive —
/// the store's `INVALID` for the nonsense they say (a shard nobody serves).
async fn garbage_is_refused<S, T>(s: &RemoteStore, peer: &PeerAddr)
where
    S: Service<Response = Reply<T>>,
    Reply<T>: Wire,
    T: std::fmt::Debug,
{
    let junk = vec![0xff_u8; 61];
    match s
        .endpoint()
        .call::<Garbage<S>>(&peer.name, &junk, LONG)
        .await
    {
        Err(e) => assert_eq!(
            e.code(),
            transport_codes::INVALID_ARCHIVE,
            "{}: {e}",
            S::NAME
        ),
        Ok(answer) => match answer.deserialize().expect("a readable answer") {
            Reply::Err(e) => assert_eq!(e.code, codes::INVALID, "{}: {e:?}", S::NAME),
            Reply::Ok(v) => panic!("{} accepted garbage: {v:?}", S::NAME),
        },
    }
}

/// Garbage sent to every store service gets an error code — never a panic, a hang or a
/// success — and well-formed nonsense (an unknown shard, lease id 0) gets `INVALID`;
/// the member keeps serving afterwards.
#[actix_rt::test]
async fn garbage_sent_to_the_store_services_gets_an_error_code_not_a_panic() {
    let t = RemoteCluster::start(3).await;
    let leader = t.c.leader().expect("a leader");
    let peer = t.addr(leader);
    let s = t.client(&[leader.0]);

    garbage_is_refused::<services::Range, _>(&s, &peer).await;
    garbage_is_refused::<services::Txn, _>(&s, &peer).await;
    garbage_is_refused::<services::LeaseGrant, _>(&s, &peer).await;
    garbage_is_refused::<services::LeaseKeepAlive, _>(&s, &peer).await;
    garbage_is_refused::<services::LeaseRevoke, _>(&s, &peer).await;
    garbage_is_refused::<services::Compact, _>(&s, &peer).await;
    garbage_is_refused::<services::Status, _>(&s, &peer).await;
    garbage_is_refused::<services::AddMember, _>(&s, &peer).await;
    garbage_is_refused::<services::RemoveMember, _>(&s, &peer).await;
    let (_requests, mut stream) = s
        .endpoint()
        .bidi_stream::<Garbage<services::WatchSession>>(&peer.name, &vec![0xff_u8; 61])
        .await
        .expect("the stream opens");
    match tokio::time::timeout(LONG, stream.next())
        .await
        .expect("answered in time")
    {
        Some(Err(e)) => assert_eq!(e.code(), transport_codes::INVALID_ARCHIVE, "{e}"),
        other => panic!(
            "garbage watch session request not refused: {:?}",
            other.map(|r| r.is_ok())
        ),
    }

    let unknown_shard = s
        .endpoint()
        .call::<services::Status>(
            &peer.name,
            &StatusMsg {
                shard: ShardId(4242),
            },
            LONG,
        )
        .await
        .expect("answered")
        .deserialize()
        .expect("readable");
    assert!(
        matches!(&unknown_shard, Reply::Err(e) if e.code == codes::INVALID),
        "{unknown_shard:?}"
    );
    let bad_lease = s
        .endpoint()
        .call::<services::LeaseGrant>(
            &peer.name,
            &hive_raftstore::remote::wire::LeaseGrantMsg {
                shard: SHARD,
                id: LeaseId::NONE,
                ttl_secs: 10,
            },
            LONG,
        )
        .await
        .expect("answered")
        .deserialize()
        .expect("readable");
    assert!(
        matches!(&bad_lease, Reply::Err(e) if e.code == codes::INVALID),
        "{bad_lease:?}"
    );
    let err = s
        .add_member(NodeId(9), "local://9".into())
        .await
        .expect_err("not a QUIC member address");
    assert!(matches!(err, StoreError::Invalid(_)), "{err}");

    s.put("/still", "serving")
        .await
        .expect("the member still serves");
}

// ---- watch sessions ------------------------------------------------------------------

/// The next message of `w` within `LONG`, failing on an error or the end.
async fn next_msg(w: &mut RemoteWatch) -> WatchResponse {
    match tokio::time::timeout(LONG, w.recv()).await {
        Ok(Some(Ok(resp))) => resp,
        Ok(other) => panic!("expected a watch message, got {other:?}"),
        Err(_) => panic!("no watch message within {LONG:?}"),
    }
}

/// Puts `key` and returns its revision.
async fn put_at(s: &RemoteStore, key: &str) -> Revision {
    s.put(key, "v").await.expect("put").revision
}

/// Many watches of one client ride one session (one stream, not one each): each gets
/// every event of its range, in order, once; cancelling one (dropping it) ends only that
/// one, and the others keep getting every event.
#[actix_rt::test]
async fn many_watches_share_one_session_and_cancelling_one_leaves_the_others() {
    let t = RemoteCluster::start(1).await;
    let s = t.client(&[1]);
    put_at(&s, "/m/warm").await;
    let streams_before = s.endpoint().metrics().streams_opened_total;
    let mut prefix = Vec::new();
    for _ in 0..40 {
        prefix.push(
            s.watch(KeyRange::prefix("/m/"), None, false)
                .await
                .expect("watch"),
        );
    }
    let mut single = Vec::new();
    for _ in 0..10 {
        single.push(
            s.watch(KeyRange::key("/m/1"), None, false)
                .await
                .expect("watch"),
        );
    }
    assert_eq!(
        s.endpoint().metrics().streams_opened_total - streams_before,
        1,
        "fifty watches opened one session stream"
    );

    let mut revs = Vec::new();
    for i in 0..6 {
        revs.push((put_at(&s, &format!("/m/{}", i % 3)).await, i % 3));
    }
    for w in prefix.iter_mut() {
        for (rev, k) in &revs {
            assert_eq!(
                next_events(w).await,
                (*rev, vec![format!("/m/{k}").into_bytes()])
            );
        }
    }
    for w in single.iter_mut() {
        for (rev, _) in revs.iter().filter(|(_, k)| *k == 1) {
            assert_eq!(next_events(w).await, (*rev, vec![b"/m/1".to_vec()]));
        }
    }

    // Cancel every other prefix watch and one single-key watch.
    let kept: Vec<RemoteWatch> = prefix
        .into_iter()
        .enumerate()
        .filter_map(|(i, w)| (i % 2 == 0).then_some(w))
        .collect();
    single.truncate(9);
    let later = put_at(&s, "/m/1").await;
    for mut w in kept.into_iter().chain(single) {
        assert_eq!(next_events(&mut w).await, (later, vec![b"/m/1".to_vec()]));
        assert!(
            w.recv().now_or_never().is_none(),
            "exactly one message per revision"
        );
    }
}

/// Watches on one session with different start revisions each get their own history
/// (from their start, not before) and then the same live events.
#[actix_rt::test]
async fn watches_with_different_start_revisions_share_a_session() {
    let t = RemoteCluster::start(1).await;
    let s = t.client(&[1]);
    let mut revs = Vec::new();
    for i in 0..5 {
        revs.push(put_at(&s, &format!("/d/{i}")).await);
    }
    let mut ws = Vec::new();
    for (i, rev) in revs.iter().enumerate() {
        ws.push((
            i,
            s.watch(KeyRange::prefix("/d/"), Some(*rev), false)
                .await
                .expect("watch"),
        ));
    }
    let mut now = s
        .watch(KeyRange::prefix("/d/"), None, false)
        .await
        .expect("watch");
    let live = put_at(&s, "/d/live").await;
    for (i, mut w) in ws {
        assert_eq!(w.resume_from(), revs[i]);
        for (j, rev) in revs.iter().enumerate().skip(i) {
            assert_eq!(
                next_events(&mut w).await,
                (*rev, vec![format!("/d/{j}").into_bytes()])
            );
        }
        assert_eq!(next_events(&mut w).await, (live, vec![b"/d/live".to_vec()]));
    }
    assert_eq!(
        next_events(&mut now).await,
        (live, vec![b"/d/live".to_vec()])
    );
    assert_eq!(now.resume_from(), live.next());
}

/// A watch from below the compaction point is refused with `Compacted` and the
/// compaction revision; the session's other watches are not disturbed.
#[actix_rt::test]
async fn a_compacted_start_fails_one_watch_and_not_its_session() {
    let t = RemoteCluster::start(1).await;
    let s = t.client(&[1]);
    let first = put_at(&s, "/c/a").await;
    let second = put_at(&s, "/c/b").await;
    let mut live = s
        .watch(KeyRange::prefix("/c/"), None, false)
        .await
        .expect("watch");
    s.compact(second).await.expect("compact");
    let err = s
        .watch(KeyRange::prefix("/c/"), Some(first), false)
        .await
        .expect_err("history below the compaction point is gone");
    assert_eq!(err, StoreError::Compacted { compacted: second });
    let mut ok = s
        .watch(KeyRange::prefix("/c/"), Some(second.next()), false)
        .await
        .expect("a start above the compaction point");
    let third = put_at(&s, "/c/c").await;
    assert_eq!(
        next_events(&mut live).await,
        (third, vec![b"/c/c".to_vec()])
    );
    assert_eq!(next_events(&mut ok).await, (third, vec![b"/c/c".to_vec()]));
}

/// A watch whose caller does not read is canceled alone as slow once its queue is full,
/// with the first revision it did not get; watching again from there continues without
/// a gap, and the watch that kept reading on the same session got everything.
#[actix_rt::test]
async fn a_slow_watch_is_canceled_alone_with_its_resume_point() {
    let t = RemoteCluster::start(1).await;
    let s = t.client_with(
        &[1],
        RemoteOptions {
            watch_queue: 3,
            ..RemoteOptions::default()
        },
    );
    let mut slow = s
        .watch(KeyRange::prefix("/s/"), None, false)
        .await
        .expect("watch");
    let mut reader = s
        .watch(KeyRange::prefix("/s/"), None, false)
        .await
        .expect("watch");
    let mut revs = Vec::new();
    for i in 0..8 {
        let rev = put_at(&s, &format!("/s/{i}")).await;
        assert_eq!(next_events(&mut reader).await.0, rev);
        revs.push(rev);
    }
    for rev in &revs[..3] {
        assert_eq!(next_events(&mut slow).await.0, *rev);
    }
    match next_msg(&mut slow).await {
        WatchResponse::Canceled {
            reason: CancelReason::Slow { resume_from },
        } => assert_eq!(resume_from, revs[3]),
        other => panic!("expected a slow cancel, got {other:?}"),
    }
    assert!(slow.recv().await.is_none(), "nothing after the cancel");
    assert_eq!(slow.resume_from(), revs[3]);
    // History arrives all at once: resume on a client with room for it.
    let roomy = t.client(&[1]);
    let mut again = roomy
        .watch(KeyRange::prefix("/s/"), Some(slow.resume_from()), false)
        .await
        .expect("watch again");
    for rev in &revs[3..] {
        assert_eq!(next_events(&mut again).await.0, *rev);
    }
    let last = put_at(&s, "/s/last").await;
    assert_eq!(next_events(&mut reader).await.0, last);
    assert_eq!(next_events(&mut again).await.0, last);
}

/// When a session is lost, each of its watches reports the loss with its own resume
/// point (where it stopped, which differs per watch), and resuming each from there
/// elsewhere misses nothing.
#[actix_rt::test]
async fn a_lost_session_reports_each_watchs_own_resume_point() {
    let mut t = RemoteCluster::start(3).await;
    let leader = t.c.leader().expect("a leader");
    let follower = t.follower(leader);
    let writer = t.client(&[leader.0]);
    let watcher = t.client_with(
        &[follower.0],
        RemoteOptions {
            watch_idle_timeout: Duration::from_secs(2),
            ..RemoteOptions::default()
        },
    );
    let mut a = watcher
        .watch(KeyRange::key("/l/a"), None, false)
        .await
        .expect("watch a");
    let mut b = watcher
        .watch(KeyRange::key("/l/b"), None, false)
        .await
        .expect("watch b");
    let ra = put_at(&writer, "/l/a").await;
    assert_eq!(next_events(&mut a).await.0, ra);
    let rb = put_at(&writer, "/l/b").await;
    assert_eq!(next_events(&mut b).await.0, rb);
    // Each watch's bookkeeping stops where its own events did.
    assert_eq!((a.resume_from(), b.resume_from()), (ra.next(), rb.next()));

    t.c.kill(follower);
    let after_a = put_at(&writer, "/l/a").await;
    for w in [&mut a, &mut b] {
        match tokio::time::timeout(LONG, w.recv()).await {
            Ok(Some(Err(StoreError::Unavailable(why)))) => assert!(
                why.contains(&format!("resume from revision {}", w.resume_from().0)),
                "{why}"
            ),
            other => panic!("expected the loss to be reported, got {other:?}"),
        }
        assert!(w.recv().await.is_none(), "nothing after the loss");
    }
    assert_eq!((a.resume_from(), b.resume_from()), (ra.next(), rb.next()));
    watcher.add_member_addr(&t.addr(leader));
    let mut a2 = watcher
        .watch(KeyRange::key("/l/a"), Some(a.resume_from()), false)
        .await
        .expect("resume a");
    assert_eq!(next_events(&mut a2).await.0, after_a);
}

/// The events a watch is owed: (revision, key), in order.
type Owed = Vec<(Revision, String)>;

/// Random interleavings of creates, cancels and puts on one session (and a second one)
/// against a model: every live watch gets exactly the puts of its range made after it
/// was created, in order, once each, and a cancelled watch nothing after its cancel.
#[actix_rt::test]
async fn random_creates_cancels_and_puts_on_sessions_match_a_model() {
    use rand::{Rng, SeedableRng};
    let t = RemoteCluster::start(1).await;
    let s = t.client_with(
        &[1],
        RemoteOptions {
            watch_sessions: 2,
            ..RemoteOptions::default()
        },
    );
    let ranges = [
        KeyRange::prefix("/p/"),
        KeyRange::prefix("/p/a"),
        KeyRange::key("/p/a1"),
        KeyRange::key("/p/b1"),
    ];
    let keys = ["/p/a1", "/p/a2", "/p/b1", "/q/x"];
    for seed in 0..3u64 {
        let mut rng = rand::rngs::SmallRng::seed_from_u64(seed);
        // Each live watch with its range and the revisions it must get, in order.
        let mut live: Vec<(RemoteWatch, usize, Owed)> = Vec::new();
        for _ in 0..60 {
            match rng.gen_range(0..10) {
                0..=2 => {
                    let r = rng.gen_range(0..ranges.len());
                    let w = s
                        .watch(ranges[r].clone(), None, false)
                        .await
                        .expect("watch");
                    live.push((w, r, Vec::new()));
                }
                3 if !live.is_empty() => {
                    let i = rng.gen_range(0..live.len());
                    let (mut w, _, want) = live.swap_remove(i);
                    // What it was owed before the cancel still arrives first.
                    for (rev, key) in want {
                        assert_eq!(next_events(&mut w).await, (rev, vec![key.into_bytes()]));
                    }
                    drop(w);
                }
                _ => {
                    let key = keys[rng.gen_range(0..keys.len())];
                    let rev = put_at(&s, key).await;
                    for (_, r, want) in live.iter_mut() {
                        if ranges[*r].contains(key.as_bytes()) {
                            want.push((rev, key.to_string()));
                        }
                    }
                }
            }
        }
        let fence = put_at(&s, "/p/zz").await;
        for (mut w, r, want) in live {
            for (rev, key) in want {
                assert_eq!(
                    next_events(&mut w).await,
                    (rev, vec![key.into_bytes()]),
                    "seed {seed}"
                );
            }
            if ranges[r].contains(b"/p/zz") {
                assert_eq!(next_events(&mut w).await.0, fence, "seed {seed}");
            }
            assert!(
                w.recv().now_or_never().is_none(),
                "seed {seed}: nothing extra"
            );
        }
    }
}
