//! Mutual TLS: only members with a valid certificate from the cluster CA, under the name
//! they were dialed by, get a connection.

mod common;

use std::{sync::Arc, time::Duration};

use common::*;
use hive_transport::{
    tls, ClusterCa, EndpointMetrics, PeerPolicy, Role, RpcError, TransportSettings, Validity,
};

const CALL: Duration = Duration::from_secs(5);

/// Waits until the server has refused one handshake, and checks it accepted none.
async fn assert_server_refused(server: &Node) {
    wait_for(
        || server.ep.metrics().handshakes_refused_total >= 1,
        Duration::from_secs(10),
        "the server to refuse the handshake",
    )
    .await;
    let m: EndpointMetrics = server.ep.metrics();
    assert_eq!(m.connections_accepted_total, 0, "{m:?}");
}

/// A client that presents no certificate is refused in the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_a_certificate_is_refused() {
    let ca = ClusterCa::generate().unwrap();
    let server = node(&ca, "server");
    // A rustls client that trusts the CA but has no certificate of its own.
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.cert_der().clone()).unwrap();
    let mut tls_config = rustls::ClientConfig::builder_with_provider(tls::provider())
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls_config.alpn_protocols = vec![tls::ALPN.to_vec()];
    let client_config =
        tls::quic_client_config_from(Arc::new(tls_config), &TransportSettings::default()).unwrap();
    let mut client = quinn::Endpoint::client("127.0.0.1:0".parse().unwrap()).unwrap();
    client.set_default_client_config(client_config);
    let outcome = async {
        let conn = client
            .connect(server.ep.local_addr().unwrap(), "server")?
            .await?;
        let (mut send, mut recv) = conn.open_bi().await?;
        send.write_all(b"anything").await?;
        send.finish()?;
        recv.read_to_end(1024).await?;
        Ok::<_, Box<dyn std::error::Error>>(())
    };
    let result = tokio::time::timeout(CALL, outcome).await;
    assert!(
        !matches!(result, Ok(Ok(()))),
        "uncertified client got through"
    );
    assert_server_refused(&server).await;
}

/// A client whose certificate was signed by another CA is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_certificate_from_another_ca_is_refused() {
    let ca = ClusterCa::generate().unwrap();
    let other = ClusterCa::generate().unwrap();
    let server = node(&ca, "server");
    let foreign = other
        .issue(&name("client"), Role::Member)
        .unwrap()
        .with_trusted_ca(ca.cert_der().clone());
    let client = node_with(&foreign, test_config());
    client.knows(&server);
    let result = client
        .ep
        .call::<Echo>(&server.name, &echo("hi"), CALL)
        .await;
    assert!(result.is_err(), "foreign client got through: {result:?}");
    assert_server_refused(&server).await;
}

/// A client whose certificate has expired is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_expired_client_certificate_is_refused() {
    let ca = ClusterCa::generate().unwrap();
    let server = node(&ca, "server");
    let expired = ca
        .issue_with_validity(&name("client"), Role::Member, Validity::expired())
        .unwrap();
    let client = node_with(&expired, test_config());
    client.knows(&server);
    let result = client
        .ep
        .call::<Echo>(&server.name, &echo("hi"), CALL)
        .await;
    assert!(result.is_err(), "expired client got through: {result:?}");
    assert_server_refused(&server).await;
}

/// A client not on the server's allow-list is refused even with a valid certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_whose_name_is_not_allowed_is_refused() {
    let ca = ClusterCa::generate().unwrap();
    let allowed = Arc::new(parking_lot::RwLock::new(
        [name("someone-else")].into_iter().collect(),
    ));
    let config = hive_transport::EndpointConfig {
        peer_policy: PeerPolicy::Allow(allowed.clone()),
        ..test_config()
    };
    let server = node_with(&ca.issue(&name("server"), Role::Member).unwrap(), config);
    let client = node(&ca, "client");
    client.knows(&server);
    let result = client
        .ep
        .call::<Echo>(&server.name, &echo("hi"), CALL)
        .await;
    assert!(result.is_err(), "unlisted client got through: {result:?}");
    assert_server_refused(&server).await;
    // Allowing the name at run time admits it.
    allowed.write().insert(name("client"));
    wait_for_call(&client, &server).await;
}

async fn wait_for_call(client: &Node, server: &Node) {
    for _ in 0..100 {
        if client
            .ep
            .call::<Echo>(&server.name, &echo("hi"), CALL)
            .await
            .is_ok()
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("calls kept failing");
}

/// A server whose certificate names someone other than the member dialed is refused by
/// the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_whose_name_does_not_match_the_dialed_name_is_refused() {
    let ca = ClusterCa::generate().unwrap();
    let server = node(&ca, "server");
    let client = node(&ca, "client");
    let impostor = name("expected-member");
    client
        .ep
        .add_peer(impostor.clone(), server.ep.local_addr().unwrap());
    let result = client.ep.call::<Echo>(&impostor, &echo("hi"), CALL).await;
    assert!(
        matches!(result, Err(RpcError::Endpoint(_))),
        "client accepted a server under the wrong name: {result:?}"
    );
    assert_eq!(client.ep.metrics().connections_dialed_total, 0);
    assert!(client.ep.metrics().dial_failures_total >= 1);
}

/// A server whose certificate comes from another CA is refused by the client.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_certificate_from_another_ca_is_refused() {
    let ca = ClusterCa::generate().unwrap();
    let other = ClusterCa::generate().unwrap();
    let server = node_with(
        &other.issue(&name("server"), Role::Member).unwrap(),
        test_config(),
    );
    let client = node(&ca, "client");
    client.knows(&server);
    let result = client
        .ep
        .call::<Echo>(&server.name, &echo("hi"), CALL)
        .await;
    assert!(matches!(result, Err(RpcError::Endpoint(_))), "{result:?}");
    assert_eq!(client.ep.metrics().connections_dialed_total, 0);
}

/// A member with a valid certificate is accepted, and each side knows the other's name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_valid_member_is_accepted_and_known_by_its_name() {
    let dir = tempfile::tempdir().unwrap();
    // The CA as a member keeps it: created in the data directory, then reloaded.
    ClusterCa::load_or_create(dir.path()).unwrap();
    let ca = ClusterCa::load_or_create(dir.path()).unwrap();
    let server = node(&ca, "server");
    let client = node(&ca, "client");
    client.knows(&server);
    let reply = client
        .ep
        .call::<Echo>(&server.name, &echo("hello"), CALL)
        .await
        .unwrap();
    assert_eq!(reply.get().text.as_str(), "hello");
    assert_eq!(reply.get().caller.as_str(), "client");
    let conn = client.ep.connection(&server.name).await.unwrap();
    assert_eq!(tls::peer_name(&conn), Some(server.name.clone()));
    assert_eq!(server.ep.metrics().connections_accepted_total, 1);
    assert_eq!(server.ep.metrics().handshakes_refused_total, 0);
}
