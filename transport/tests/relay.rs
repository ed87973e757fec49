//! The user-space UDP relay: QUIC gets through loss, and impairment changes at run time.

mod common;

use std::time::{Duration, Instant};

use common::*;
use hive_transport::{
    relay::{Impairment, UdpRelay},
    ClusterCa, EndpointConfig, Role,
};

const SEED: u64 = 0x7E1A7;

/// A client whose datagrams go through the relay to the server (both ways).
async fn relayed(impairment: Impairment) -> (Node, Node, UdpRelay) {
    let ca = ClusterCa::generate().unwrap();
    let server = node(&ca, "server");
    let relay = UdpRelay::start(
        "127.0.0.1:0".parse().unwrap(),
        server.ep.local_addr().unwrap(),
        impairment,
        SEED,
    )
    .await
    .unwrap();
    let config = EndpointConfig {
        connect_timeout: Duration::from_secs(30),
        ..test_config()
    };
    let client = node_with(&ca.issue(&name("client"), Role::Member).unwrap(), config);
    client.ep.add_peer(server.name.clone(), relay.local_addr());
    (server, client, relay)
}

/// With 30% of datagrams lost in each direction, a call (handshake included) still
/// completes: QUIC retransmits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_rpc_completes_through_a_relay_that_loses_30_percent_of_datagrams() {
    let lossy = Impairment {
        loss: 0.3,
        ..Impairment::NONE
    };
    let (server, client, relay) = relayed(lossy).await;
    for i in 0..5 {
        let text = format!("lossy {i}");
        let reply = client
            .ep
            .call::<Echo>(&server.name, &echo(&text), Duration::from_secs(30))
            .await
            .unwrap_or_else(|e| panic!("call {i} failed (relay seed {SEED:#x}): {e}"));
        assert_eq!(reply.get().text.as_str(), text);
    }
    let stats = relay.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    assert!(stats.forwarded > 0, "{stats:?}");
}

/// Delay set at run time shows up in round-trip time, and removing it restores speed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relay_delay_changes_at_run_time() {
    let (server, client, relay) = relayed(Impairment::NONE).await;
    let request = echo("t");
    let call = || {
        client
            .ep
            .call::<Echo>(&server.name, &request, Duration::from_secs(10))
    };
    call().await.unwrap();
    let delay = Duration::from_millis(200);
    relay.set_impairment(Impairment {
        delay_min: delay,
        delay_max: delay,
        ..Impairment::NONE
    });
    let started = Instant::now();
    call().await.unwrap();
    // Request and response each cross the relay once.
    assert!(started.elapsed() >= 2 * delay, "{:?}", started.elapsed());
    relay.set_impairment(Impairment::NONE);
    // Datagrams already held drain; then calls are fast again.
    call().await.unwrap();
    let started = Instant::now();
    call().await.unwrap();
    assert!(started.elapsed() < 2 * delay, "{:?}", started.elapsed());
    assert!(relay.stats().duplicated == 0);
}

/// Duplicated datagrams are harmless to QUIC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_datagrams_are_harmless() {
    let (server, client, relay) = relayed(Impairment {
        duplicate: 0.5,
        ..Impairment::NONE
    })
    .await;
    for _ in 0..3 {
        client
            .ep
            .call::<Echo>(&server.name, &echo("dup"), Duration::from_secs(10))
            .await
            .unwrap();
    }
    assert!(relay.stats().duplicated > 0);
}
