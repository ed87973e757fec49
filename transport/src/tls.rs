//! Mutual-TLS configuration for QUIC, built on the `ring` provider explicitly.
//!
//! Both sides present a certificate signed by the cluster CA. The dialer checks the
//! server's certificate against the member name it dialed; the acceptor checks that the
//! client's certificate chains to the CA, carries a member name, and (optionally) that
//! the name is on an allow-list. Nothing here uses a process-default crypto provider.

use std::{collections::HashSet, sync::Arc, time::Duration};

use parking_lot::RwLock;
use rustls::{
    client::WebPkiServerVerifier,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, UnixTime},
    server::{
        danger::{ClientCertVerified, ClientCertVerifier},
        WebPkiClientVerifier,
    },
    CertificateError, DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme,
};
use thiserror::Error;

use crate::identity::{Identity, MemberName};

/// The ALPN protocol id of Hive's transport.
pub const ALPN: &[u8] = b"hive/1";

/// Building a TLS or QUIC configuration failed.
#[derive(Debug, Error)]
pub enum TlsError {
    /// rustls refused the certificate, key or protocol settings.
    #[error("rustls: {0}")]
    Rustls(#[from] rustls::Error),
    /// A certificate verifier could not be built (e.g. an unusable CA certificate).
    #[error("verifier: {0}")]
    Verifier(#[from] rustls::server::VerifierBuilderError),
    /// The crypto provider lacks the cipher suite QUIC's initial packets need.
    #[error("QUIC: {0}")]
    NoInitialSuite(#[from] quinn::crypto::rustls::NoInitialCipherSuite),
}

/// The crypto provider every Hive TLS session uses (`ring`).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Which client certificates an acceptor admits, beyond chaining to the cluster CA.
#[derive(Clone, Debug, Default)]
pub enum PeerPolicy {
    /// Any certificate from the cluster CA that names a member.
    #[default]
    AnyMember,
    /// Only the listed members; the list can be changed at run time.
    Allow(Arc<RwLock<HashSet<MemberName>>>),
}

fn roots(identity: &Identity) -> Result<Arc<RootCertStore>, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.add(identity.ca_cert().clone())?;
    Ok(Arc::new(roots))
}

/// The member name carried by a certificate (its first DNS SAN that is a valid name).
pub fn cert_member_name(cert: &CertificateDer<'_>) -> Option<MemberName> {
    let parsed = webpki::EndEntityCert::try_from(cert).ok()?;
    let name = parsed
        .valid_dns_names()
        .find_map(|n| MemberName::new(n).ok());
    name
}

/// The verified member name of the peer at the other end of `conn`.
pub fn peer_name(conn: &quinn::Connection) -> Option<MemberName> {
    let identity = conn.peer_identity()?;
    let chain = identity.downcast::<Vec<CertificateDer<'static>>>().ok()?;
    chain.first().and_then(cert_member_name)
}

/// Verifies client certificates: chain to the CA (webpki), then the member-name policy.
#[derive(Debug)]
struct MemberClientVerifier {
    inner: Arc<dyn ClientCertVerifier>,
    policy: PeerPolicy,
}

impl ClientCertVerifier for MemberClientVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        let verified = self
            .inner
            .verify_client_cert(end_entity, intermediates, now)?;
        let name = cert_member_name(end_entity).ok_or(rustls::Error::InvalidCertificate(
            CertificateError::NotValidForName,
        ))?;
        if let PeerPolicy::Allow(allowed) = &self.policy {
            if !allowed.read().contains(&name) {
                tracing::warn!(peer = %name, "refusing client certificate: member not allowed");
                return Err(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName,
                ));
            }
        }
        Ok(verified)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The rustls server configuration: our certificate, client certificates required.
pub fn server_config(
    identity: &Identity,
    policy: PeerPolicy,
) -> Result<Arc<rustls::ServerConfig>, TlsError> {
    let provider = provider();
    let webpki =
        WebPkiClientVerifier::builder_with_provider(roots(identity)?, provider.clone()).build()?;
    let verifier = Arc::new(MemberClientVerifier {
        inner: webpki,
        policy,
    });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_client_cert_verifier(verifier)
        .with_single_cert(identity.cert_chain(), identity.private_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// The rustls client configuration: server name checked against the CA, our certificate
/// presented.
pub fn client_config(identity: &Identity) -> Result<Arc<rustls::ClientConfig>, TlsError> {
    let provider = provider();
    let verifier =
        WebPkiServerVerifier::builder_with_provider(roots(identity)?, provider.clone()).build()?;
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_webpki_verifier(verifier)
        .with_client_auth_cert(identity.cert_chain(), identity.private_key())?;
    config.alpn_protocols = vec![ALPN.to_vec()];
    Ok(Arc::new(config))
}

/// QUIC transport parameters shared by both directions.
#[derive(Clone, Debug)]
pub struct TransportSettings {
    /// Concurrent bidirectional streams a peer may open to us.
    pub max_concurrent_bidi_streams: u32,
    /// Concurrent unidirectional streams a peer may open to us.
    pub max_concurrent_uni_streams: u32,
    /// Bytes a peer may send on one stream before we read them (flow control).
    pub stream_receive_window: u32,
    /// Connection closed after this long without traffic.
    pub idle_timeout: Duration,
    /// Keep-alive interval (must be below `idle_timeout`).
    pub keep_alive: Duration,
}

impl Default for TransportSettings {
    fn default() -> Self {
        TransportSettings {
            max_concurrent_bidi_streams: 1024,
            max_concurrent_uni_streams: 1024,
            stream_receive_window: 1024 * 1024,
            // Members of one cluster sit on a LAN: a peer silent for 5 s is gone (a
            // killed process cannot close its connections), and keep-alives every second
            // keep live but quiet connections from timing out.
            idle_timeout: Duration::from_secs(5),
            keep_alive: Duration::from_secs(1),
        }
    }
}

impl TransportSettings {
    /// The quinn transport configuration.
    pub fn transport_config(&self) -> Arc<quinn::TransportConfig> {
        let mut t = quinn::TransportConfig::default();
        t.max_concurrent_bidi_streams(self.max_concurrent_bidi_streams.into())
            .max_concurrent_uni_streams(self.max_concurrent_uni_streams.into())
            .stream_receive_window(self.stream_receive_window.into())
            .keep_alive_interval(Some(self.keep_alive));
        if let Ok(idle) = quinn::IdleTimeout::try_from(self.idle_timeout) {
            t.max_idle_timeout(Some(idle));
        }
        Arc::new(t)
    }
}

/// The quinn server configuration for `identity`.
pub fn quic_server_config(
    identity: &Identity,
    policy: PeerPolicy,
    settings: &TransportSettings,
) -> Result<quinn::ServerConfig, TlsError> {
    let crypto =
        quinn::crypto::rustls::QuicServerConfig::try_from(server_config(identity, policy)?)?;
    let mut config = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    config.transport_config(settings.transport_config());
    Ok(config)
}

/// The quinn client configuration for `identity`.
pub fn quic_client_config(
    identity: &Identity,
    settings: &TransportSettings,
) -> Result<quinn::ClientConfig, TlsError> {
    quic_client_config_from(client_config(identity)?, settings)
}

/// A quinn client configuration around any rustls client configuration (tests use this
/// to dial without a certificate).
pub fn quic_client_config_from(
    tls: Arc<rustls::ClientConfig>,
    settings: &TransportSettings,
) -> Result<quinn::ClientConfig, TlsError> {
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls)?;
    let mut config = quinn::ClientConfig::new(Arc::new(crypto));
    config.transport_config(settings.transport_config());
    Ok(config)
}
