//! Transport benchmarks for `hive bench transport`: RPC round trips, server-stream
//! throughput, and raw UDP loopback throughput measured in the same run for scale.
//!
//! Each function builds its own endpoints on loopback with a fresh in-memory CA and
//! returns a plain serializable report; nothing here asserts speeds.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use rkyv::{Archive, Deserialize, Serialize};
use thiserror::Error;

use crate::{
    endpoint::{Endpoint, EndpointConfig, EndpointError},
    frame::ServiceId,
    identity::{ClusterCa, IdentityError, MemberName, Role},
    rpc::RpcError,
    service::{Router, Service, ServiceError},
    wire::Encoded,
};

/// A benchmark could not run.
#[derive(Debug, Error)]
pub enum BenchError {
    /// Certificates could not be made.
    #[error(transparent)]
    Identity(#[from] IdentityError),
    /// An endpoint could not start.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A call failed during the run.
    #[error(transparent)]
    Rpc(#[from] RpcError),
    /// A socket failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The stream ended early.
    #[error("stream delivered {got} of {expected} messages")]
    Short {
        /// Messages received.
        got: usize,
        /// Messages expected.
        expected: usize,
    },
}

/// The payload of benchmark messages.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct BenchPayload {
    /// Opaque bytes.
    pub data: Vec<u8>,
}

/// Asks the stream benchmark service for `count` messages of `size` bytes.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct StreamRequest {
    /// How many messages.
    pub count: u32,
    /// Payload bytes per message.
    pub size: u32,
}

/// Echoes its request.
pub struct BenchEcho;

impl Service for BenchEcho {
    const NAME: &'static str = "bench.echo";
    const ID: ServiceId = ServiceId(0xBE_0001);
    type Request = BenchPayload;
    type Response = BenchPayload;
}

/// Streams fixed-size messages.
pub struct BenchStream;

impl Service for BenchStream {
    const NAME: &'static str = "bench.stream";
    const ID: ServiceId = ServiceId(0xBE_0002);
    type Request = StreamRequest;
    type Response = BenchPayload;
}

fn bench_router() -> Router {
    Router::new()
        .unary::<BenchEcho, _, _>(|call| async move {
            call.received().deserialize().map_err(ServiceError::from)
        })
        .server_stream::<BenchStream, _, _>(|call, mut sink| async move {
            let req = call.request();
            let (count, size) = (req.count.to_native(), req.size.to_native());
            let item = Encoded::new(&BenchPayload {
                data: vec![0xAB; size as usize],
            })?;
            for _ in 0..count {
                sink.send_encoded(&item).await?;
            }
            Ok(())
        })
}

/// A server and a client endpoint on loopback, the client knowing the server's address.
async fn pair() -> Result<(Endpoint, Endpoint, MemberName), BenchError> {
    let ca = ClusterCa::generate()?;
    let server_name = MemberName::new("bench-server")?;
    let client_name = MemberName::new("bench-client")?;
    let config = EndpointConfig {
        seed: 1,
        ..EndpointConfig::default()
    };
    let server = Endpoint::bind(
        &ca.issue(&server_name, Role::Member)?,
        config.clone(),
        bench_router(),
    )?;
    let client = Endpoint::bind(
        &ca.issue(&client_name, Role::Member)?,
        config,
        Router::new(),
    )?;
    client.add_peer(server_name.clone(), server.local_addr()?);
    Ok((server, client, server_name))
}

/// RPC benchmark parameters.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct RpcBench {
    /// Concurrent callers.
    pub callers: usize,
    /// Calls in total, spread over the callers.
    pub calls: usize,
    /// Request (and echoed response) payload bytes.
    pub payload: usize,
}

/// RPC benchmark results.
#[derive(Clone, Debug, serde::Serialize)]
pub struct RpcReport {
    /// Concurrent callers.
    pub callers: usize,
    /// Calls completed.
    pub calls: usize,
    /// Payload bytes per request.
    pub payload_bytes: usize,
    /// Wall-clock seconds for all calls.
    pub seconds: f64,
    /// Completed calls per second.
    pub calls_per_sec: f64,
    /// Median round-trip latency in microseconds.
    pub p50_us: f64,
    /// 99th-percentile round-trip latency in microseconds.
    pub p99_us: f64,
}

fn percentile_us(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() - 1) as f64 * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)].as_secs_f64() * 1e6
}

/// Round trips per second and latency percentiles of unary calls on loopback.
pub async fn rpc_round_trips(opts: RpcBench) -> Result<RpcReport, BenchError> {
    let (_server, client, server_name) = pair().await?;
    let request = BenchPayload {
        data: vec![7; opts.payload],
    };
    // One warm-up call opens the connection outside the measurement.
    client
        .call::<BenchEcho>(&server_name, &request, Duration::from_secs(10))
        .await?;
    let callers = opts.callers.max(1);
    let next = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..callers {
        let (client, name, request, next) = (
            client.clone(),
            server_name.clone(),
            request.clone(),
            next.clone(),
        );
        let total = opts.calls;
        tasks.spawn(async move {
            let mut latencies = Vec::new();
            while next.fetch_add(1, Ordering::Relaxed) < total {
                let t = Instant::now();
                client
                    .call::<BenchEcho>(&name, &request, Duration::from_secs(30))
                    .await?;
                latencies.push(t.elapsed());
            }
            Ok::<_, RpcError>(latencies)
        });
    }
    let mut latencies = Vec::with_capacity(opts.calls);
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(result) => latencies.extend(result?),
            Err(e) => return Err(BenchError::Io(std::io::Error::other(e.to_string()))),
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort();
    Ok(RpcReport {
        callers,
        calls: latencies.len(),
        payload_bytes: opts.payload,
        seconds,
        calls_per_sec: latencies.len() as f64 / seconds.max(1e-9),
        p50_us: percentile_us(&latencies, 0.50),
        p99_us: percentile_us(&latencies, 0.99),
    })
}

/// Server-stream benchmark parameters.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct StreamBench {
    /// Payload bytes per message.
    pub message_size: usize,
    /// Messages in the stream.
    pub messages: usize,
}

/// Server-stream benchmark results.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StreamReport {
    /// Payload bytes per message.
    pub message_size: usize,
    /// Messages received.
    pub messages: usize,
    /// Seconds from request to last message.
    pub seconds: f64,
    /// Messages per second.
    pub messages_per_sec: f64,
    /// Payload megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
}

/// Messages per second and payload MB/s of one server stream on loopback.
pub async fn server_stream_throughput(opts: StreamBench) -> Result<StreamReport, BenchError> {
    let (_server, client, server_name) = pair().await?;
    client.connection(&server_name).await?;
    let request = StreamRequest {
        count: u32::try_from(opts.messages).unwrap_or(u32::MAX),
        size: u32::try_from(opts.message_size).unwrap_or(u32::MAX),
    };
    let start = Instant::now();
    let mut stream = client
        .server_stream::<BenchStream>(&server_name, &request)
        .await?;
    let mut got = 0usize;
    while let Some(item) = stream.next().await {
        item?;
        got += 1;
    }
    let seconds = start.elapsed().as_secs_f64().max(1e-9);
    if got != opts.messages {
        return Err(BenchError::Short {
            got,
            expected: opts.messages,
        });
    }
    Ok(StreamReport {
        message_size: opts.message_size,
        messages: got,
        seconds,
        messages_per_sec: got as f64 / seconds,
        mb_per_sec: (got * opts.message_size) as f64 / 1e6 / seconds,
    })
}

/// Raw UDP benchmark parameters.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct UdpBench {
    /// Bytes per datagram.
    pub datagram_size: usize,
    /// Datagrams to send.
    pub datagrams: usize,
}

/// Raw UDP benchmark results.
#[derive(Clone, Debug, serde::Serialize)]
pub struct UdpReport {
    /// Bytes per datagram.
    pub datagram_size: usize,
    /// Datagrams sent.
    pub sent: usize,
    /// Datagrams received (loopback drops when the receiver falls behind).
    pub received: usize,
    /// Seconds from first send to last receive.
    pub seconds: f64,
    /// Received datagrams per second.
    pub datagrams_per_sec: f64,
    /// Received megabytes (10^6 bytes) per second.
    pub mb_per_sec: f64,
}

/// Throughput of plain UDP between two loopback sockets, as a ceiling for the above.
pub async fn udp_loopback_throughput(opts: UdpBench) -> Result<UdpReport, BenchError> {
    let rx = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let tx = tokio::net::UdpSocket::bind("127.0.0.1:0").await?;
    let to = rx.local_addr()?;
    let size = opts.datagram_size.clamp(1, 65_000);
    let receiver = tokio::spawn(async move {
        let mut buf = vec![0u8; 65_536];
        let mut received = 0usize;
        let mut last = Instant::now();
        // The sender's end is unknowable from here; stop after a short silence.
        while received < opts.datagrams {
            match tokio::time::timeout(Duration::from_millis(200), rx.recv(&mut buf)).await {
                Ok(Ok(_)) => {
                    received += 1;
                    last = Instant::now();
                }
                Ok(Err(_)) | Err(_) => break,
            }
        }
        (received, last)
    });
    let payload = vec![0x5A; size];
    let start = Instant::now();
    for _ in 0..opts.datagrams {
        tx.send_to(&payload, to).await?;
    }
    let (received, last) = receiver
        .await
        .map_err(|e| BenchError::Io(std::io::Error::other(e.to_string())))?;
    let seconds = last
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(1e-9);
    Ok(UdpReport {
        datagram_size: size,
        sent: opts.datagrams,
        received,
        seconds,
        datagrams_per_sec: received as f64 / seconds,
        mb_per_sec: (received * size) as f64 / 1e6 / seconds,
    })
}

/// How much work [`run_all`] does.
#[derive(Clone, Copy, Debug, serde::Serialize)]
pub struct BenchScale {
    /// Calls per RPC run.
    pub rpc_calls: usize,
    /// Messages per stream run.
    pub stream_messages: usize,
    /// Datagrams in the UDP run.
    pub udp_datagrams: usize,
}

impl BenchScale {
    /// A run of a few seconds in a release build.
    pub const FULL: BenchScale = BenchScale {
        rpc_calls: 20_000,
        stream_messages: 100_000,
        udp_datagrams: 200_000,
    };
    /// A smoke run for tests.
    pub const TINY: BenchScale = BenchScale {
        rpc_calls: 64,
        stream_messages: 64,
        udp_datagrams: 256,
    };
}

/// Everything `hive bench transport` prints.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TransportBenchReport {
    /// Unary calls with 1 and 64 concurrent callers (64-byte payloads).
    pub rpc: Vec<RpcReport>,
    /// One server stream with 256 B and 4 KiB messages.
    pub streams: Vec<StreamReport>,
    /// Raw UDP loopback with 1200-byte datagrams (QUIC's typical packet size).
    pub udp: UdpReport,
}

/// Runs every transport benchmark at `scale`.
pub async fn run_all(scale: BenchScale) -> Result<TransportBenchReport, BenchError> {
    let mut rpc = Vec::new();
    for callers in [1, 64] {
        rpc.push(
            rpc_round_trips(RpcBench {
                callers,
                calls: scale.rpc_calls,
                payload: 64,
            })
            .await?,
        );
    }
    let mut streams = Vec::new();
    for message_size in [256, 4096] {
        streams.push(
            server_stream_throughput(StreamBench {
                message_size,
                messages: scale.stream_messages,
            })
            .await?,
        );
    }
    let udp = udp_loopback_throughput(UdpBench {
        datagram_size: 1200,
        datagrams: scale.udp_datagrams,
    })
    .await?;
    Ok(TransportBenchReport { rpc, streams, udp })
}
