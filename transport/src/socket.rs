//! The UDP socket seam: quinn's [`AsyncUdpSocket`] implemented over a tokio socket, with
//! datagram and byte counters.
//!
//! Every Hive endpoint sends through this type, so the socket layer has one place to
//! observe (and, for chaos tests, to route through a [`crate::relay::UdpRelay`]).

use std::{
    fmt,
    future::Future,
    io::{self, IoSliceMut},
    net::SocketAddr,
    pin::Pin,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    task::{ready, Context, Poll},
};

use quinn::{
    udp::{RecvMeta, Transmit, UdpSocketState},
    AsyncUdpSocket, UdpPoller,
};
use tokio::io::Interest;

/// Datagram and byte counts of one socket.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SocketStats {
    /// Datagrams handed to the kernel (a GSO batch counts once per segment).
    pub datagrams_sent: u64,
    /// Bytes handed to the kernel.
    pub bytes_sent: u64,
    /// Datagrams received.
    pub datagrams_received: u64,
    /// Bytes received.
    pub bytes_received: u64,
}

#[derive(Default)]
struct Counters {
    datagrams_sent: AtomicU64,
    bytes_sent: AtomicU64,
    datagrams_received: AtomicU64,
    bytes_received: AtomicU64,
}

/// The kernel buffer asked for each way. The default (~208 KiB) overflows when a member
/// takes a burst of handshakes from hundreds of clients at once (each client's Initial
/// flight with its certificate is several KiB): the kernel drops datagrams and QUIC then
/// waits out its loss timers, long enough for connects to time out on a loaded machine.
const SOCKET_BUFFER_BYTES: usize = 4 << 20;

/// A tokio UDP socket that quinn can drive.
pub struct HiveUdpSocket {
    io: tokio::net::UdpSocket,
    state: UdpSocketState,
    counters: Counters,
}

impl fmt::Debug for HiveUdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HiveUdpSocket")
            .field("local_addr", &self.io.local_addr().ok())
            .finish()
    }
}

impl HiveUdpSocket {
    /// Binds a socket on `addr`; must be called inside a tokio runtime.
    pub fn bind(addr: SocketAddr) -> io::Result<Arc<Self>> {
        let std = std::net::UdpSocket::bind(addr)?;
        Self::from_std(std)
    }

    /// Wraps an already bound socket; must be called inside a tokio runtime.
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<Arc<Self>> {
        let state = UdpSocketState::new((&socket).into())?;
        // Best effort: the kernel caps the sizes (net.core.rmem_max / wmem_max) and a
        // smaller buffer still works, only with more loss under bursts.
        if let Err(error) = state.set_recv_buffer_size((&socket).into(), SOCKET_BUFFER_BYTES) {
            tracing::debug!(%error, "could not enlarge the UDP receive buffer");
        }
        if let Err(error) = state.set_send_buffer_size((&socket).into(), SOCKET_BUFFER_BYTES) {
            tracing::debug!(%error, "could not enlarge the UDP send buffer");
        }
        socket.set_nonblocking(true)?;
        Ok(Arc::new(HiveUdpSocket {
            io: tokio::net::UdpSocket::from_std(socket)?,
            state,
            counters: Counters::default(),
        }))
    }

    /// Counters since the socket was created.
    pub fn stats(&self) -> SocketStats {
        SocketStats {
            datagrams_sent: self.counters.datagrams_sent.load(Ordering::Relaxed),
            bytes_sent: self.counters.bytes_sent.load(Ordering::Relaxed),
            datagrams_received: self.counters.datagrams_received.load(Ordering::Relaxed),
            bytes_received: self.counters.bytes_received.load(Ordering::Relaxed),
        }
    }
}

type WritableFuture = Pin<Box<dyn Future<Output = io::Result<()>> + Send + Sync>>;

/// Waits for write readiness; each poller stores its own waker.
struct Poller {
    socket: Arc<HiveUdpSocket>,
    pending: Option<WritableFuture>,
}

impl fmt::Debug for Poller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poller").finish_non_exhaustive()
    }
}

impl UdpPoller for Poller {
    fn poll_writable(mut self: Pin<&mut Self>, cx: &mut Context) -> Poll<io::Result<()>> {
        if self.pending.is_none() {
            let socket = self.socket.clone();
            self.pending = Some(Box::pin(async move { socket.io.writable().await }));
        }
        let result = match self.pending.as_mut() {
            Some(fut) => fut.as_mut().poll(cx),
            None => Poll::Ready(Ok(())),
        };
        if result.is_ready() {
            self.pending = None;
        }
        result
    }
}

impl AsyncUdpSocket for HiveUdpSocket {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(Poller {
            socket: self,
            pending: None,
        })
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        self.io.try_io(Interest::WRITABLE, || {
            self.state.send((&self.io).into(), transmit)
        })?;
        let segments = match transmit.segment_size {
            Some(size) if size > 0 => transmit.contents.len().div_ceil(size),
            _ => 1,
        };
        self.counters
            .datagrams_sent
            .fetch_add(segments as u64, Ordering::Relaxed);
        self.counters
            .bytes_sent
            .fetch_add(transmit.contents.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    fn poll_recv(
        &self,
        cx: &mut Context,
        bufs: &mut [IoSliceMut<'_>],
        meta: &mut [RecvMeta],
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.io.poll_recv_ready(cx))?;
            if let Ok(n) = self.io.try_io(Interest::READABLE, || {
                self.state.recv((&self.io).into(), bufs, meta)
            }) {
                for m in meta.iter().take(n) {
                    let segments = if m.stride > 0 {
                        m.len.div_ceil(m.stride)
                    } else {
                        1
                    };
                    self.counters
                        .datagrams_received
                        .fetch_add(segments as u64, Ordering::Relaxed);
                    self.counters
                        .bytes_received
                        .fetch_add(m.len as u64, Ordering::Relaxed);
                }
                return Poll::Ready(Ok(n));
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.local_addr()
    }

    fn may_fragment(&self) -> bool {
        self.state.may_fragment()
    }

    fn max_transmit_segments(&self) -> usize {
        self.state.max_gso_segments()
    }

    fn max_receive_segments(&self) -> usize {
        self.state.gro_segments()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A socket's receive buffer is as large as the kernel allows up to
    /// `SOCKET_BUFFER_BYTES`, not the kernel's small default: bursts of handshakes from
    /// many clients must not be dropped by the kernel.
    #[tokio::test]
    async fn a_socket_asks_the_kernel_for_large_buffers() {
        let socket = HiveUdpSocket::bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
        let cap = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .ok()
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        let got = socket
            .state
            .recv_buffer_size((&socket.io).into())
            .expect("the receive buffer size");
        // Linux reports twice what was set (it counts its bookkeeping too).
        assert!(
            got >= SOCKET_BUFFER_BYTES.min(cap),
            "{got} < min(4 MiB, {cap})"
        );
    }
}
