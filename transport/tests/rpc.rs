//! The four patterns over real QUIC on loopback: unary calls with deadlines, server
//! streams under flow control, bidi streams, one-way messages; and connection upkeep.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hive_transport::{
    codes, ClusterCa, EndpointConfig, Router, RpcError, Service, ServiceId, TransportSettings,
};

const CALL: Duration = Duration::from_secs(5);

fn pair() -> (Node, Node) {
    let ca = ClusterCa::generate().unwrap();
    let (server, client) = (node(&ca, "server"), node(&ca, "client"));
    client.knows(&server);
    (server, client)
}

/// A unary call returns the handler's response, and the handler sees the caller's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unary_call_round_trips_and_the_handler_knows_the_caller() {
    let (server, client) = pair();
    let reply = client
        .ep
        .call::<Echo>(&server.name, &echo("ping"), CALL)
        .await
        .unwrap();
    assert_eq!(reply.get().text.as_str(), "ping");
    assert_eq!(reply.get().caller.as_str(), "client");
    let owned: EchoResponse = reply.deserialize().unwrap();
    assert_eq!(owned.text, "ping");
}

/// A call whose handler does not answer in time fails with a timeout error at its
/// deadline, and the connection keeps working.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_deadline_returns_a_timeout_error() {
    let (server, client) = pair();
    client.ep.connection(&server.name).await.unwrap();
    let started = Instant::now();
    let result = client
        .ep
        .call::<Stall>(&server.name, &echo("slow"), Duration::from_millis(200))
        .await;
    assert!(
        matches!(result, Err(RpcError::DeadlineExceeded)),
        "{result:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(result.unwrap_err().code(), codes::DEADLINE_EXCEEDED);
    assert_eq!(client.ep.metrics().call_timeouts_total, 1);
    client
        .ep
        .call::<Echo>(&server.name, &echo("after"), CALL)
        .await
        .unwrap();
}

/// A handler's error reaches the caller with its code; an unknown service is answered
/// with `UNKNOWN_SERVICE`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_and_unknown_services_reach_the_caller_with_their_codes() {
    let (server, client) = pair();
    let failed = client
        .ep
        .call::<Echo>(&server.name, &echo("fail"), CALL)
        .await;
    match failed {
        Err(RpcError::Remote { code, .. }) => assert_eq!(code.0, codes::APP_BASE.0 + 7),
        other => panic!("expected a remote error, got {other:?}"),
    }
    let unknown = client
        .ep
        .call::<Nobody>(&server.name, &echo("?"), CALL)
        .await;
    assert!(
        matches!(unknown, Err(RpcError::Remote { code, .. }) if code == codes::UNKNOWN_SERVICE),
        "{unknown:?}"
    );
    // A unary call to a streaming service names the mismatch.
    struct NumbersAsUnary;
    impl Service for NumbersAsUnary {
        const NAME: &'static str = "numbers-as-unary";
        const ID: ServiceId = Numbers::ID;
        type Request = NumbersRequest;
        type Response = Number;
    }
    let wrong = client
        .ep
        .call::<NumbersAsUnary>(&server.name, &NumbersRequest { count: 1, pad: 0 }, CALL)
        .await;
    assert!(
        matches!(wrong, Err(RpcError::Remote { code, .. }) if code == codes::WRONG_PATTERN),
        "{wrong:?}"
    );
}

/// A server stream delivers every message, in order, then ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_stream_delivers_every_message_in_order() {
    let (server, client) = pair();
    let n = 1000;
    let mut stream = client
        .ep
        .server_stream::<Numbers>(&server.name, &NumbersRequest { count: n, pad: 16 })
        .await
        .unwrap();
    let mut expected = 0;
    while let Some(item) = stream.next().await {
        assert_eq!(item.unwrap().get().seq.to_native(), expected);
        expected += 1;
    }
    assert_eq!(expected, n);
}

/// A bidi stream carries the caller's messages after the opening one, in order, answers
/// each as it arrives, and ends when the caller finishes its side.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bidi_stream_answers_each_message_in_order_until_the_caller_finishes() {
    let (server, client) = pair();
    let (mut requests, mut answers) = client
        .ep
        .bidi_stream::<Sums>(&server.name, &Note { seq: 100 })
        .await
        .unwrap();
    let mut sum = 100;
    for n in 1..=50u64 {
        requests.send(&Note { seq: n }).await.unwrap();
        sum += n;
        let answer = answers.next().await.expect("an answer").unwrap();
        assert_eq!(answer.get().seq.to_native(), sum);
    }
    // Pipelined: many messages in flight before any answer is read.
    for n in 0..20u64 {
        requests.send(&Note { seq: n }).await.unwrap();
    }
    requests.finish();
    let mut got = Vec::new();
    while let Some(answer) = answers.next().await {
        got.push(answer.unwrap().get().seq.to_native());
    }
    let want: Vec<u64> = (0..20u64)
        .scan(sum, |s, n| {
            *s += n;
            Some(*s)
        })
        .collect();
    assert_eq!(got, want);
}

/// A slow reader holds the producer back: the server is never more than one receive
/// window of items ahead of what the client has read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_stream_consumer_holds_the_server_back() {
    const WINDOW: u32 = 64 * 1024;
    const PAD: u32 = 4096;
    const ITEMS: u64 = 300;
    let ca = ClusterCa::generate().unwrap();
    let server = node(&ca, "server");
    let small_window = EndpointConfig {
        transport: TransportSettings {
            stream_receive_window: WINDOW,
            ..TransportSettings::default()
        },
        ..test_config()
    };
    let client = node_with(
        &ca.issue(&name("client"), hive_transport::Role::Member)
            .unwrap(),
        small_window,
    );
    client.knows(&server);
    let mut stream = client
        .ep
        .server_stream::<Numbers>(
            &server.name,
            &NumbersRequest {
                count: ITEMS,
                pad: PAD,
            },
        )
        .await
        .unwrap();
    // Items that fit in the window, plus the one being written and one of slack.
    let bound = u64::from(WINDOW / PAD) + 2;
    wait_for(
        || server.sent() >= bound / 2,
        Duration::from_secs(10),
        "the producer to start",
    )
    .await;
    let mut read = 0u64;
    let mut max_ahead = 0;
    let mut since_pause = 0;
    while let Some(item) = stream.next().await {
        assert_eq!(item.unwrap().get().seq.to_native(), read);
        read += 1;
        let ahead = server.sent().saturating_sub(read);
        max_ahead = max_ahead.max(ahead);
        assert!(
            ahead <= bound,
            "server is {ahead} items ahead of the reader (bound {bound})"
        );
        since_pause += 1;
        if since_pause == 10 {
            since_pause = 0;
            // Be slow: let the producer run into the window before reading on.
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert_eq!(read, ITEMS);
    assert!(
        max_ahead >= 2,
        "the producer never ran ahead ({max_ahead}); test proves nothing"
    );
}

/// Dropping a response stream stops the server's producer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_response_stream_stops_the_producer() {
    let (server, client) = pair();
    let mut stream = client
        .ep
        .server_stream::<Numbers>(
            &server.name,
            &NumbersRequest {
                count: u64::MAX,
                pad: 1024,
            },
        )
        .await
        .unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    wait_for(
        || server.streams_ended() == 1,
        Duration::from_secs(5),
        "the producer to stop",
    )
    .await;
    client
        .ep
        .call::<Echo>(&server.name, &echo("after"), CALL)
        .await
        .unwrap();
}

/// A one-way message is delivered to the handler.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_one_way_message_is_delivered() {
    let (server, client) = pair();
    client
        .ep
        .send::<Notes>(&server.name, &Note { seq: 42 })
        .await
        .unwrap();
    wait_for(|| server.notes() == [42], Duration::from_secs(5), "note 42").await;
}

/// Services added after the endpoint started are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_added_at_run_time_are_served() {
    struct Late;
    impl Service for Late {
        const NAME: &'static str = "late";
        const ID: ServiceId = ServiceId(50);
        type Request = EchoRequest;
        type Response = EchoResponse;
    }
    let (server, client) = pair();
    server
        .ep
        .add_services(Router::new().unary::<Late, _, _>(|call| async move {
            Ok(EchoResponse {
                text: format!("late {}", call.request().text),
                caller: String::new(),
            })
        }));
    let reply = client
        .ep
        .call::<Late>(&server.name, &echo("x"), CALL)
        .await
        .unwrap();
    assert_eq!(reply.get().text.as_str(), "late x");
}

/// Many concurrent callers share one connection per peer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_callers_share_one_connection() {
    let (server, client) = pair();
    let calls = (0..64).map(|i| {
        let (ep, peer) = (client.ep.clone(), server.name.clone());
        async move {
            ep.call::<Echo>(&peer, &echo(&i.to_string()), CALL)
                .await
                .map(|_| ())
        }
    });
    for r in futures::future::join_all(calls).await {
        r.unwrap();
    }
    assert_eq!(client.ep.metrics().connections_dialed_total, 1);
    assert_eq!(server.ep.metrics().connections_accepted_total, 1);
}

/// When the peer closes the connection, the dialer re-establishes it in the background
/// and calls work again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_by_the_peer_is_redialed() {
    let (server, client) = pair();
    client
        .ep
        .call::<Echo>(&server.name, &echo("one"), CALL)
        .await
        .unwrap();
    server.ep.disconnect(&client.name);
    wait_for(
        || client.ep.metrics().connections_dialed_total == 2,
        Duration::from_secs(10),
        "the client to redial",
    )
    .await;
    wait_for(
        || {
            client
                .ep
                .peers()
                .iter()
                .any(|p| p.name == server.name && p.connected)
        },
        Duration::from_secs(10),
        "the peer to show as connected",
    )
    .await;
    client
        .ep
        .call::<Echo>(&server.name, &echo("two"), CALL)
        .await
        .unwrap();
    let m = client.ep.metrics();
    assert!(m.connections_closed_total >= 1, "{m:?}");
    assert!(m.reconnect_attempts_total >= 1, "{m:?}");
}

/// Dials to an unreachable peer back off: repeated failures are spaced out rather than
/// hammering the address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_dials_back_off() {
    let ca = ClusterCa::generate().unwrap();
    let config = EndpointConfig {
        connect_timeout: Duration::from_millis(100),
        ..test_config()
    };
    let client = node_with(
        &ca.issue(&name("client"), hive_transport::Role::Member)
            .unwrap(),
        config,
    );
    // Nobody listens here.
    let dead = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    client.ep.add_peer(name("ghost"), dead);
    let started = Instant::now();
    for _ in 0..4 {
        assert!(client
            .ep
            .call::<Echo>(&name("ghost"), &echo("?"), CALL)
            .await
            .is_err());
    }
    // 4 timeouts of 100 ms plus backoffs of at least 10 + 20 + 40 ms (half of each step).
    assert!(
        started.elapsed() >= Duration::from_millis(470),
        "{:?}",
        started.elapsed()
    );
    let status = client.ep.peers();
    assert_eq!(status[0].failures, 4, "{status:?}");
}

/// An endpoint runs on a socket made elsewhere (the UDP seam), and its metrics count the
/// datagrams that crossed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_runs_on_a_socket_made_elsewhere_and_counts_its_datagrams() {
    let ca = ClusterCa::generate().unwrap();
    let server = node(&ca, "server");
    let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let socket = hive_transport::socket::HiveUdpSocket::from_std(std_socket).unwrap();
    let identity = ca
        .issue(&name("client"), hive_transport::Role::Member)
        .unwrap();
    let ep = hive_transport::Endpoint::bind_socket(&identity, test_config(), Router::new(), socket)
        .unwrap();
    ep.add_peer(server.name.clone(), server.ep.local_addr().unwrap());
    ep.call::<Echo>(&server.name, &echo("seam"), CALL)
        .await
        .unwrap();
    let m = ep.metrics();
    assert!(
        m.socket.datagrams_sent > 0 && m.socket.datagrams_received > 0,
        "{m:?}"
    );
    assert_eq!(m.connections_open, 1, "{m:?}");
    assert_eq!(m.calls_total, 1, "{m:?}");
}
