//! The process's QUIC endpoint: binds one UDP socket, accepts and dials, and keeps one
//! cached connection per peer, re-dialing with jittered exponential backoff after a
//! close.
//!
//! Calls ([`Endpoint::call`], [`Endpoint::server_stream`], [`Endpoint::send`]) live in
//! `rpc.rs`; serving accepted streams lives in `dispatch.rs`.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicBool, Ordering},
        Arc,
    },
    time::Duration,
};

use parking_lot::{Mutex, RwLock};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use thiserror::Error;
use tokio::time::Instant;

use crate::{
    codes,
    frame::{FrameLimits, ServiceId},
    hook::{MessageKind, Stage, Verdict},
    identity::{Identity, MemberName},
    metrics::{inc, EndpointMetrics, Metrics},
    service::Router,
    socket::HiveUdpSocket,
    tls::{self, PeerPolicy, TlsError, TransportSettings},
};

/// Starting, dialing or using the endpoint failed.
#[derive(Debug, Error)]
pub enum EndpointError {
    /// The UDP socket could not be bound.
    #[error("bind {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS configuration could not be built.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// No address is known for the peer.
    #[error("no address known for peer {0}")]
    UnknownPeer(MemberName),
    /// quinn refused to start the dial (bad name or address).
    #[error("cannot dial {peer}: {reason}")]
    Connect {
        /// The peer.
        peer: MemberName,
        /// quinn's reason.
        reason: String,
    },
    /// The handshake failed or the connection was lost.
    #[error("connection to {peer}: {source}")]
    Connection {
        /// The peer.
        peer: MemberName,
        /// quinn's error.
        source: quinn::ConnectionError,
    },
    /// The handshake did not finish within the connect timeout.
    #[error("connecting to {0} timed out")]
    ConnectTimeout(MemberName),
    /// The endpoint is shutting down.
    #[error("endpoint is shutting down")]
    Closed,
}

impl EndpointError {
    /// Whether trying again later may succeed (as opposed to a configuration error).
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            EndpointError::Connection { .. } | EndpointError::ConnectTimeout(_)
        )
    }
}

/// Jittered exponential backoff between dial attempts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (before jitter).
    pub base: Duration,
    /// Upper bound on any delay.
    pub max: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(50),
            max: Duration::from_secs(5),
        }
    }
}

impl Backoff {
    /// Delay before attempt `failures + 1` after `failures` consecutive failures, with
    /// "equal jitter": half the exponential step fixed, half scaled by `sample` in [0, 1).
    pub fn delay(&self, failures: u32, sample: f64) -> Duration {
        if failures == 0 {
            return Duration::ZERO;
        }
        let factor = 2u32.saturating_pow(failures.saturating_sub(1).min(30));
        let step = self.base.saturating_mul(factor).min(self.max);
        let half = step / 2;
        half + half.mul_f64(sample.clamp(0.0, 1.0))
    }
}

/// Endpoint settings.
#[derive(Clone, Debug)]
pub struct EndpointConfig {
    /// Address to bind (loopback or the member's address; port 0 picks one).
    pub listen: SocketAddr,
    /// QUIC transport parameters.
    pub transport: TransportSettings,
    /// Maximum frame body per stream kind.
    pub limits: FrameLimits,
    /// Which client certificates to admit.
    pub peer_policy: PeerPolicy,
    /// Backoff between dial attempts to one peer.
    pub backoff: Backoff,
    /// Time allowed for a handshake.
    pub connect_timeout: Duration,
    /// Time a peer has to deliver a complete request on a stream it opened.
    pub request_read_timeout: Duration,
    /// Re-dial a peer in the background when its connection closes.
    pub reconnect: bool,
    /// Seed for backoff jitter (fixed seeds make retry schedules reproducible).
    pub seed: u64,
    /// Fault filters shared with other endpoints in chaos tests.
    #[cfg(feature = "faults")]
    pub faults: Option<crate::faults::FaultInjector>,
}

impl Default for EndpointConfig {
    fn default() -> Self {
        EndpointConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            transport: TransportSettings::default(),
            limits: FrameLimits::default(),
            peer_policy: PeerPolicy::default(),
            backoff: Backoff::default(),
            connect_timeout: Duration::from_secs(10),
            request_read_timeout: Duration::from_secs(30),
            reconnect: true,
            seed: rand::random(),
            #[cfg(feature = "faults")]
            faults: None,
        }
    }
}

/// State of the connection to one peer, as reported by [`Endpoint::peers`].
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct PeerStatus {
    /// The peer.
    pub name: MemberName,
    /// Where we dial it, if known.
    pub addr: Option<SocketAddr>,
    /// Whether a connection is open.
    pub connected: bool,
    /// Consecutive failed dials.
    pub failures: u32,
}

#[derive(Default)]
struct DialState {
    failures: u32,
    next_attempt: Option<Instant>,
}

#[derive(Default)]
struct PeerSlot {
    addr: Mutex<Option<SocketAddr>>,
    conn: Mutex<Option<quinn::Connection>>,
    dial: tokio::sync::Mutex<DialState>,
    failures: std::sync::atomic::AtomicU32,
    reconnecting: AtomicBool,
}

impl PeerSlot {
    fn live(&self) -> Option<quinn::Connection> {
        self.conn
            .lock()
            .as_ref()
            .filter(|c| c.close_reason().is_none())
            .cloned()
    }
}

/// How a connection came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Origin {
    Dialed,
    Accepted,
}

/// State shared by the endpoint handle and its tasks.
pub(crate) struct Shared {
    pub(crate) name: MemberName,
    pub(crate) quic: quinn::Endpoint,
    socket: Arc<HiveUdpSocket>,
    client_config: quinn::ClientConfig,
    pub(crate) config: EndpointConfig,
    router: RwLock<Arc<Router>>,
    peers: RwLock<HashMap<MemberName, Arc<PeerSlot>>>,
    pub(crate) metrics: Metrics,
    closing: AtomicBool,
    rng: Mutex<SmallRng>,
}

/// Closes the QUIC endpoint when the last user handle is dropped.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.close();
    }
}

/// A process's QUIC endpoint. Cheap to clone; the endpoint closes when the last clone is
/// dropped or [`Endpoint::close`] is called.
#[derive(Clone)]
pub struct Endpoint {
    pub(crate) shared: Arc<Shared>,
    _owner: Arc<Owner>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("name", &self.shared.name)
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl Endpoint {
    /// Binds the endpoint for `identity` and starts accepting connections, serving them
    /// with `router`. Must be called inside a tokio runtime.
    pub fn bind(
        identity: &Identity,
        config: EndpointConfig,
        router: Router,
    ) -> Result<Endpoint, EndpointError> {
        let socket = HiveUdpSocket::bind(config.listen).map_err(|source| EndpointError::Bind {
            addr: config.listen,
            source,
        })?;
        Self::bind_socket(identity, config, router, socket)
    }

    /// Like [`Endpoint::bind`], on a socket made elsewhere (e.g. inside a network
    /// namespace, or from a std socket with [`HiveUdpSocket::from_std`]); `config.listen`
    /// is ignored.
    pub fn bind_socket(
        identity: &Identity,
        config: EndpointConfig,
        router: Router,
        socket: Arc<HiveUdpSocket>,
    ) -> Result<Endpoint, EndpointError> {
        let server_config =
            tls::quic_server_config(identity, config.peer_policy.clone(), &config.transport)?;
        let client_config = tls::quic_client_config(identity, &config.transport)?;
        let addr = quinn::AsyncUdpSocket::local_addr(&*socket).unwrap_or(config.listen);
        let quic = quinn::Endpoint::new_with_abstract_socket(
            quinn::EndpointConfig::default(),
            Some(server_config),
            socket.clone(),
            Arc::new(quinn::TokioRuntime),
        )
        .map_err(|source| EndpointError::Bind { addr, source })?;
        let shared = Arc::new(Shared {
            name: identity.name().clone(),
            quic: quic.clone(),
            socket,
            client_config,
            rng: Mutex::new(SmallRng::seed_from_u64(config.seed)),
            config,
            router: RwLock::new(Arc::new(router)),
            peers: RwLock::new(HashMap::new()),
            metrics: Metrics::default(),
            closing: AtomicBool::new(false),
        });
        tokio::spawn(accept_loop(Arc::downgrade(&shared), quic));
        tracing::info!(member = %shared.name, addr = ?shared.quic.local_addr().ok(), "endpoint bound");
        Ok(Endpoint {
            _owner: Arc::new(Owner(shared.clone())),
            shared,
        })
    }

    /// This endpoint's member name.
    pub fn name(&self) -> &MemberName {
        &self.shared.name
    }

    /// The bound UDP address.
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.shared.quic.local_addr()
    }

    /// Records where `peer` can be dialed (replacing any previous address).
    pub fn add_peer(&self, peer: MemberName, addr: SocketAddr) {
        let slot = self.shared.slot(&peer);
        *slot.addr.lock() = Some(addr);
    }

    /// Forgets `peer` and closes its connection.
    pub fn remove_peer(&self, peer: &MemberName) {
        if let Some(slot) = self.shared.peers.write().remove(peer) {
            if let Some(conn) = slot.conn.lock().take() {
                conn.close(codes::NO_ERROR.varint(), b"peer removed");
            }
        }
    }

    /// Adds handlers to the running endpoint.
    ///
    /// # Panics
    /// If a service id is registered twice.
    pub fn add_services(&self, router: Router) {
        let mut current = self.shared.router.write();
        let merged = (**current).clone().merge(router);
        *current = Arc::new(merged);
    }

    /// The connection to `peer`: the cached one if open, else a new dial (waiting out any
    /// backoff from earlier failures). Concurrent callers share one dial.
    pub async fn connection(&self, peer: &MemberName) -> Result<quinn::Connection, EndpointError> {
        self.shared.connection(peer).await
    }

    /// Closes the connection to `peer` (it is re-dialed on the next call).
    pub fn disconnect(&self, peer: &MemberName) {
        let slot = self.shared.peers.read().get(peer).cloned();
        if let Some(conn) = slot.and_then(|s| s.conn.lock().take()) {
            conn.close(codes::NO_ERROR.varint(), b"disconnect");
        }
    }

    /// Counters and gauges.
    pub fn metrics(&self) -> EndpointMetrics {
        self.shared.metrics.snapshot(self.shared.socket.stats())
    }

    /// Per-peer connection state, sorted by name.
    pub fn peers(&self) -> Vec<PeerStatus> {
        let mut out: Vec<PeerStatus> = self
            .shared
            .peers
            .read()
            .iter()
            .map(|(name, slot)| PeerStatus {
                name: name.clone(),
                addr: *slot.addr.lock(),
                connected: slot.live().is_some(),
                failures: slot.failures.load(Ordering::Relaxed),
            })
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        out
    }

    /// Closes every connection and stops accepting; waits until peers were told.
    pub async fn close(&self) {
        self.shared.close();
        self.shared.quic.wait_idle().await;
    }
}

async fn accept_loop(shared: std::sync::Weak<Shared>, quic: quinn::Endpoint) {
    while let Some(incoming) = quic.accept().await {
        let Some(shared) = shared.upgrade() else {
            incoming.refuse();
            break;
        };
        tokio::spawn(async move {
            let remote = incoming.remote_address();
            match incoming.await {
                Ok(conn) => match tls::peer_name(&conn) {
                    Some(peer) => shared.install(conn, peer, Origin::Accepted),
                    None => {
                        inc(&shared.metrics.handshakes_refused_total);
                        tracing::warn!(%remote, "closing connection: no member name in certificate");
                        conn.close(codes::NO_ERROR.varint(), b"no member name");
                    }
                },
                Err(error) => {
                    inc(&shared.metrics.handshakes_refused_total);
                    tracing::warn!(%remote, %error, "refused incoming connection");
                }
            }
        });
    }
}

impl Shared {
    fn close(&self) {
        if !self.closing.swap(true, Ordering::SeqCst) {
            self.quic
                .close(codes::SHUTTING_DOWN.varint(), b"shutting down");
        }
    }

    pub(crate) fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    pub(crate) fn router(&self) -> Arc<Router> {
        self.router.read().clone()
    }

    fn slot(&self, peer: &MemberName) -> Arc<PeerSlot> {
        if let Some(slot) = self.peers.read().get(peer) {
            return slot.clone();
        }
        self.peers.write().entry(peer.clone()).or_default().clone()
    }

    pub(crate) async fn connection(
        self: &Arc<Self>,
        peer: &MemberName,
    ) -> Result<quinn::Connection, EndpointError> {
        if self.is_closing() {
            return Err(EndpointError::Closed);
        }
        let slot = self.slot(peer);
        if let Some(conn) = slot.live() {
            return Ok(conn);
        }
        let mut dial = slot.dial.lock().await;
        if let Some(conn) = slot.live() {
            return Ok(conn);
        }
        if let Some(at) = dial.next_attempt {
            tokio::time::sleep_until(at).await;
        }
        let addr = (*slot.addr.lock()).ok_or_else(|| EndpointError::UnknownPeer(peer.clone()))?;
        match self.dial(peer, addr).await {
            Ok(conn) => {
                dial.failures = 0;
                dial.next_attempt = None;
                slot.failures.store(0, Ordering::Relaxed);
                self.install(conn.clone(), peer.clone(), Origin::Dialed);
                Ok(conn)
            }
            Err(e) => {
                dial.failures = dial.failures.saturating_add(1);
                slot.failures.store(dial.failures, Ordering::Relaxed);
                let sample = self.rng.lock().gen::<f64>();
                let wait = self.config.backoff.delay(dial.failures, sample);
                dial.next_attempt = Some(Instant::now() + wait);
                inc(&self.metrics.dial_failures_total);
                tracing::debug!(%peer, %addr, error = %e, ?wait, "dial failed");
                Err(e)
            }
        }
    }

    async fn dial(
        &self,
        peer: &MemberName,
        addr: SocketAddr,
    ) -> Result<quinn::Connection, EndpointError> {
        let connecting = self
            .quic
            .connect_with(self.client_config.clone(), addr, peer.as_str())
            .map_err(|e| EndpointError::Connect {
                peer: peer.clone(),
                reason: e.to_string(),
            })?;
        let conn = tokio::time::timeout(self.config.connect_timeout, connecting)
            .await
            .map_err(|_| EndpointError::ConnectTimeout(peer.clone()))?
            .map_err(|source| EndpointError::Connection {
                peer: peer.clone(),
                source,
            })?;
        Ok(conn)
    }

    /// Caches `conn` for `peer` and serves the streams the peer opens on it.
    ///
    /// The newest connection wins, whichever side opened it: a peer that dials us has no
    /// usable connection to us — typically it restarted, and the one we cached points at
    /// its dead predecessor, which QUIC would only notice at the idle timeout. If both
    /// sides dialed at once, each keeps using one of two live connections; the unused one
    /// is left to idle out rather than closed, so neither side is made to redial.
    pub(crate) fn install(
        self: &Arc<Self>,
        conn: quinn::Connection,
        peer: MemberName,
        origin: Origin,
    ) {
        let slot = self.slot(&peer);
        *slot.conn.lock() = Some(conn.clone());
        self.metrics
            .connections_open
            .fetch_add(1, Ordering::Relaxed);
        match origin {
            Origin::Dialed => inc(&self.metrics.connections_dialed_total),
            Origin::Accepted => inc(&self.metrics.connections_accepted_total),
        }
        tracing::debug!(member = %self.name, %peer, ?origin, remote = %conn.remote_address(), "connection up");
        let shared = self.clone();
        tokio::spawn(async move {
            crate::dispatch::serve_connection(shared.clone(), conn.clone(), peer.clone()).await;
            shared.on_closed(&conn, &peer, &slot);
        });
    }

    fn on_closed(
        self: &Arc<Self>,
        conn: &quinn::Connection,
        peer: &MemberName,
        slot: &Arc<PeerSlot>,
    ) {
        self.metrics
            .connections_open
            .fetch_sub(1, Ordering::Relaxed);
        inc(&self.metrics.connections_closed_total);
        {
            let mut cached = slot.conn.lock();
            if cached.as_ref().map(|c| c.stable_id()) == Some(conn.stable_id()) {
                *cached = None;
            }
        }
        let reason = conn.close_reason();
        tracing::debug!(member = %self.name, %peer, ?reason, "connection closed");
        let closed_by_us = matches!(reason, Some(quinn::ConnectionError::LocallyClosed));
        let known = slot.addr.lock().is_some();
        if self.config.reconnect && known && !closed_by_us && !self.is_closing() {
            let shared = self.clone();
            let peer = peer.clone();
            let slot = slot.clone();
            tokio::spawn(async move { shared.reconnect(peer, slot).await });
        }
    }

    async fn reconnect(self: Arc<Self>, peer: MemberName, slot: Arc<PeerSlot>) {
        if slot.reconnecting.swap(true, Ordering::SeqCst) {
            return;
        }
        loop {
            let still_known = self
                .peers
                .read()
                .get(&peer)
                .is_some_and(|s| Arc::ptr_eq(s, &slot));
            if self.is_closing() || !still_known || slot.live().is_some() {
                break;
            }
            inc(&self.metrics.reconnect_attempts_total);
            match self.connection(&peer).await {
                Ok(_) => break,
                Err(EndpointError::UnknownPeer(_) | EndpointError::Closed) => break,
                Err(_) => continue,
            }
        }
        slot.reconnecting.store(false, Ordering::SeqCst);
    }

    /// The fault verdict for a message we are about to send to `peer`.
    pub(crate) fn verdict_send(
        &self,
        peer: &MemberName,
        kind: MessageKind,
        service: ServiceId,
    ) -> Verdict {
        self.verdict(&self.name, peer, Stage::Send, kind, service)
    }

    /// The fault verdict for a message we just received from `peer`.
    pub(crate) fn verdict_receive(
        &self,
        peer: &MemberName,
        kind: MessageKind,
        service: ServiceId,
    ) -> Verdict {
        self.verdict(peer, &self.name, Stage::Receive, kind, service)
    }

    #[cfg(feature = "faults")]
    fn verdict(
        &self,
        from: &MemberName,
        to: &MemberName,
        stage: Stage,
        kind: MessageKind,
        service: ServiceId,
    ) -> Verdict {
        let Some(faults) = &self.config.faults else {
            return Verdict::PASS;
        };
        let v = faults.decide(&crate::faults::MessageMeta {
            from,
            to,
            stage,
            kind,
            service,
        });
        if v.drop {
            inc(&self.metrics.faults_dropped_total);
        }
        if !v.delay.is_zero() {
            inc(&self.metrics.faults_delayed_total);
        }
        if v.extra_copies > 0 {
            self.metrics
                .faults_duplicated_total
                .fetch_add(u64::from(v.extra_copies), Ordering::Relaxed);
        }
        v
    }

    #[cfg(not(feature = "faults"))]
    #[inline(always)]
    fn verdict(
        &self,
        _from: &MemberName,
        _to: &MemberName,
        _stage: Stage,
        _kind: MessageKind,
        _service: ServiceId,
    ) -> Verdict {
        Verdict::PASS
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Backoff doubles per failure, stays within [step/2, step], and is capped at `max`.
    #[test]
    fn backoff_grows_exponentially_with_bounded_jitter() {
        let b = Backoff {
            base: Duration::from_millis(100),
            max: Duration::from_secs(2),
        };
        assert_eq!(b.delay(0, 0.5), Duration::ZERO);
        assert_eq!(b.delay(1, 0.0), Duration::from_millis(50));
        assert_eq!(b.delay(1, 1.0), Duration::from_millis(100));
        assert_eq!(b.delay(3, 0.0), Duration::from_millis(200));
        assert_eq!(b.delay(3, 1.0), Duration::from_millis(400));
        for failures in 5..100 {
            let d = b.delay(failures, 0.99);
            assert!(d <= b.max && d >= b.max / 2, "{failures}: {d:?}");
        }
    }
}
