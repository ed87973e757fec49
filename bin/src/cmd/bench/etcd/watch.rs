//! The watch benchmarks against a local etcd, through `etcd-client`: watchers
//! multiplexed on gRPC watch streams (etcd's own `benchmark watch` shares streams the
//! same way), streams spread over connections, a paced writer on its own connection.

use std::time::{Duration, Instant};

use anyhow::{anyhow, Context as _};
use etcd_client::{Client, KvClient, WatchOptions, WatchResponseStream};

use super::EtcdCluster;
use crate::cmd::bench::fanout::{self, FanoutMeasured, Samples, Tally, Window, Writer, PREFIX};
use crate::cmd::bench::watch::Shape;

#[derive(Clone)]
struct EtcdWriter(KvClient);

impl Writer for EtcdWriter {
    async fn put(&self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.0
            .clone()
            .put(key, value, None)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Connects `n` clients (one HTTP/2 connection each) to the cluster's first member.
pub async fn connect(cluster: &EtcdCluster, n: usize) -> anyhow::Result<Vec<Client>> {
    let url = cluster
        .client_urls()
        .into_iter()
        .next()
        .ok_or_else(|| anyhow!("etcd cluster without members"))?;
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(
            Client::connect([url.as_str()], None)
                .await
                .with_context(|| format!("connecting to etcd at {url}"))?,
        );
    }
    Ok(out)
}

/// Watch streams with `watchers` prefix watches spread over `streams` streams on
/// `conns`. Returns the response halves (the request halves are kept alive in the
/// second vector: closing one would end the stream) once every watch is created, and the
/// seconds that took.
pub async fn open_watches(
    conns: &[Client],
    watchers: usize,
    streams: usize,
) -> anyhow::Result<(
    Vec<WatchResponseStream>,
    Vec<etcd_client::WatchRequestSender>,
    f64,
)> {
    let t = Instant::now();
    let streams = streams.clamp(1, watchers.max(1));
    let opts = || Some(WatchOptions::new().with_prefix());
    let mut senders = Vec::with_capacity(streams);
    let mut confirming = Vec::with_capacity(streams);
    for s in 0..streams {
        let share = watchers / streams + usize::from(s < watchers % streams);
        if share == 0 {
            continue;
        }
        let ws = conns[s % conns.len()]
            .watch_client()
            .watch(PREFIX, opts())
            .await
            .context("opening an etcd watch stream")?;
        let (mut tx, rx) = ws.split();
        // Confirmations are read while the requests go out: etcd stops reading requests
        // when its responses are not read.
        confirming.push(tokio::spawn(await_created(rx, share)));
        for _ in 1..share {
            tx.watch(PREFIX, opts())
                .await
                .context("adding a watch to an etcd stream")?;
        }
        senders.push(tx);
    }
    let mut ready = Vec::with_capacity(confirming.len());
    for c in confirming {
        ready.push(c.await??);
    }
    Ok((ready, senders, t.elapsed().as_secs_f64()))
}

/// Reads `rx` until `share` watches are confirmed created.
async fn await_created(
    mut rx: WatchResponseStream,
    share: usize,
) -> anyhow::Result<WatchResponseStream> {
    let mut created = 0;
    while created < share {
        let resp = rx
            .message()
            .await
            .context("etcd watch stream")?
            .ok_or_else(|| anyhow!("etcd closed a watch stream before creating its watches"))?;
        if resp.canceled() {
            return Err(anyhow!("etcd canceled a watch: {}", resp.cancel_reason()));
        }
        created += usize::from(resp.created());
    }
    Ok(rx)
}

/// Receives one etcd watch stream until told to stop.
async fn receive(
    mut rx: WatchResponseStream,
    mut samples: Samples,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let tally = samples.tally();
    loop {
        let got = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            got = rx.message() => got,
        };
        match got {
            Ok(Some(resp)) => {
                if resp.canceled() {
                    tally.error(format!(
                        "etcd canceled watch {}: {}",
                        resp.watch_id(),
                        resp.cancel_reason()
                    ));
                    continue;
                }
                let now = fanout::now_nanos();
                let mut bytes = 0u64;
                for e in resp.events() {
                    if let Some(kv) = e.kv() {
                        samples.event(kv.value(), now);
                        bytes += kv.value().len() as u64;
                    }
                }
                samples.delivered(resp.events().len() as u64, bytes);
            }
            Ok(None) => return,
            Err(e) => {
                tally.error(e.to_string());
                return;
            }
        }
    }
}

/// One fan-out shape against `cluster` (one member).
pub async fn run_fanout(
    cluster: &EtcdCluster,
    shape: Shape,
    value_size: usize,
    writers: usize,
    duration: Duration,
    drain: Duration,
) -> anyhow::Result<FanoutMeasured> {
    let pid = *cluster
        .pids()
        .first()
        .ok_or_else(|| anyhow!("etcd cluster without members"))?;
    let writer = EtcdWriter(connect(cluster, 1).await?.remove(0).kv_client());
    let conns = connect(cluster, shape.connections).await?;
    let (streams, senders, create_seconds) =
        open_watches(&conns, shape.watchers, shape.streams).await?;
    let tally = Tally::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|rx| tokio::spawn(receive(rx, tally.samples(), stop_rx.clone())))
        .collect();
    let window = Window::open(pid)?;
    let written =
        fanout::write_paced(writer, writers, shape.puts_per_sec, value_size, duration).await;
    let expected = written.puts * shape.watchers as u64;
    let drained = fanout::drain(&tally, expected, Duration::from_secs(1), drain).await;
    let mut m = FanoutMeasured {
        streams: shape.streams,
        connections: shape.connections,
        create_seconds,
        ..FanoutMeasured::default()
    };
    window.close(&mut m)?;
    let _ = stop_tx.send(true);
    for t in tasks {
        let _ = t.await;
    }
    drop(senders);
    fanout::finish(
        &mut m,
        written,
        shape.watchers,
        &tally,
        written.seconds + drained,
    );
    Ok(m)
}
