//! `hive bench watch`: watch fan-out. N watchers on one prefix, a writer putting 1 KiB
//! values under it at M puts/s, the watchers spread over S streams on C connections.
//! Reported per side: delivered events/s and value bytes/s, the achieved put rate,
//! put-to-event latency (the put time travels in the value), server and client CPU
//! seconds and server memory.
//!
//! Hive's side: a one-member store as its own process (`hive server`, this binary),
//! reached through its QUIC API (`RemoteStore::watch`, one client endpoint per
//! connection); etcd's side: the same shape against a fresh one-member etcd through
//! `etcd-client` (S gRPC watch streams, each carrying its share of the watchers), in the
//! same run. Both servers are separate processes measured by pid; the clients (writer
//! and watchers) run in this process, on one multi-threaded runtime.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{bail, Context as _};
use futures::StreamExt as _;
use hive_raftstore::remote::{RemoteStore, RemoteWatch};
use hive_raftstore::types::KeyRange;
use hive_raftstore::watch::{CancelReason, WatchResponse};
use serde::Serialize;

use super::etcd::AnchorPlan;
use super::fanout::{self, FanoutMeasured, Samples, Tally, Window, Writer, PREFIX};
use super::member::MemberProcess;
use super::procstat::LoadAvg;
use super::report::Report;
use super::store::parse_duration;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Tiny sizes, for CI: every case runs end to end, nothing is meant as a figure.
    #[arg(long)]
    pub quick: bool,
    /// Watcher counts (N).
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub watchers: Vec<usize>,
    /// Put rates in puts/s (M).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    pub rates: Vec<u32>,
    /// Watch stream counts (S); both sides carry N/S watchers per stream: etcd's gRPC
    /// watch streams, Hive's watch sessions (S/C per client connection).
    #[arg(long, value_delimiter = ',', default_value = "10,100")]
    pub streams: Vec<usize>,
    /// Client connections the streams are spread over (C).
    #[arg(long, default_value_t = 10)]
    pub connections: usize,
    /// Value size in bytes (the first 8 carry the put time).
    #[arg(long, default_value_t = 1024)]
    pub value_size: usize,
    /// Concurrent writer tasks sharing the put schedule (one connection).
    #[arg(long, default_value_t = 8)]
    pub writers: usize,
    /// Writing time per case.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// After writing stops, how long to wait at most for deliveries to finish.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Also measure one watcher per connection on this many connections (each its own
    /// stream), at the highest rate; 0 skips it.
    #[arg(long, default_value_t = 1000)]
    pub one_per_connection: usize,
    /// Where the servers keep their data.
    #[arg(long, default_value = "bench/tmp")]
    pub data_dir: PathBuf,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// The etcd binary [default: `etcd` on PATH, else /usr/bin/etcd].
    #[arg(long)]
    pub etcd_bin: Option<PathBuf>,
    /// Measure Hive only.
    #[arg(long)]
    pub skip_etcd: bool,
}

/// One shape.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shape {
    pub watchers: usize,
    pub puts_per_sec: u32,
    /// Streams asked for (etcd's gRPC watch streams, Hive's watch sessions).
    pub streams: usize,
    pub connections: usize,
}

/// Both sides of one shape.
#[derive(Serialize, Debug)]
pub struct CaseResult {
    #[serde(flatten)]
    pub shape: Shape,
    pub hive: FanoutMeasured,
    pub etcd: Option<FanoutMeasured>,
    /// Hive's delivered events/s over etcd's.
    pub ratio_events_per_sec: Option<f64>,
    /// Hive's p99 put-to-event latency over etcd's (below 1: Hive faster).
    pub ratio_p99: Option<f64>,
    pub load_avg_before: LoadAvg,
}

/// The whole run.
#[derive(Serialize, Debug)]
pub struct WatchBench {
    pub anchor: AnchorPlan,
    pub hive_setup: &'static str,
    pub etcd_setup: &'static str,
    pub value_size: usize,
    pub duration_seconds: f64,
    pub cases: Vec<CaseResult>,
}

const HIVE_SETUP: &str = "one member as its own process (`hive server --bootstrap`, this \
    binary) on 127.0.0.1, data on the bench data dir; every watcher is a RemoteStore::watch \
    on the prefix, spread round-robin over C client endpoints (one QUIC connection each), \
    each with S/C watch sessions (one QUIC stream each) its watches take in turn: N/S \
    watchers per session; the writer is a RemoteStore on its own endpoint; the member's \
    CPU and RSS are read from /proc by pid, the clients' from this process";
const ETCD_SETUP: &str = "one etcd member as its own process on 127.0.0.1, data on the bench \
    data dir; watchers are etcd-client watches on the prefix, N/S of them multiplexed on each \
    of S gRPC watch streams, the streams spread round-robin over C connections; the writer \
    is a KvClient on its own connection; CPU and RSS as for Hive";

/// Every shape the arguments ask for, in run order.
pub fn shapes(a: &Args) -> Vec<Shape> {
    let mut out = Vec::new();
    for &watchers in &a.watchers {
        for &puts_per_sec in &a.rates {
            for &streams in &a.streams {
                out.push(Shape {
                    watchers,
                    puts_per_sec,
                    streams: streams.min(watchers),
                    connections: a.connections.min(streams.min(watchers)),
                });
            }
        }
    }
    if a.one_per_connection > 0 {
        out.push(Shape {
            watchers: a.one_per_connection,
            puts_per_sec: a.rates.iter().copied().max().unwrap_or(100),
            streams: a.one_per_connection,
            connections: a.one_per_connection,
        });
    }
    out.dedup();
    out
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.watchers = vec![20];
        args.rates = vec![50];
        args.streams = vec![4];
        args.connections = 2;
        args.writers = 2;
        // Long enough that a loaded CI machine still gets puts through in every shape.
        args.duration = Duration::from_millis(1500);
        args.drain = Duration::from_secs(5);
        args.one_per_connection = 4;
    }
    if args.watchers.contains(&0)
        || args.rates.contains(&0)
        || args.streams.contains(&0)
        || args.connections == 0
    {
        bail!("--watchers, --rates, --streams and --connections must be at least 1");
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let anchor = AnchorPlan::decide(args.etcd_bin.as_deref(), args.skip_etcd)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let cases = rt.block_on(async {
        let mut cases = Vec::new();
        for shape in shapes(&args) {
            let load_avg_before = LoadAvg::now();
            // A shape a side cannot run is reported as failed; the other shapes still run.
            let hive = failed_as_figures(run_hive(&args, shape).await, "hive", shape);
            let etcd = match &anchor.binary {
                Some(bin) => Some(failed_as_figures(
                    run_etcd(&args, bin, shape).await,
                    "etcd",
                    shape,
                )),
                None => None,
            };
            let ratio = |h: f64, e: f64| (h > 0.0 && e > 0.0).then(|| h / e);
            let case = CaseResult {
                shape,
                ratio_events_per_sec: etcd
                    .as_ref()
                    .and_then(|e| ratio(hive.delivered_events_per_sec, e.delivered_events_per_sec)),
                ratio_p99: etcd
                    .as_ref()
                    .and_then(|e| ratio(hive.latency.p99_ms, e.latency.p99_ms)),
                hive,
                etcd,
                load_avg_before,
            };
            eprintln!("{}", case_line(&case));
            cases.push(case);
        }
        anyhow::Ok(cases)
    })?;
    eprint!("{}", table(&cases));
    Report::new(
        "watch",
        WatchBench {
            anchor,
            hive_setup: HIVE_SETUP,
            etcd_setup: ETCD_SETUP,
            value_size: args.value_size,
            duration_seconds: args.duration.as_secs_f64(),
            cases,
        },
    )
    .emit(args.out.as_deref())
}

/// A side's figures, or empty figures whose `failed` says why the shape did not run.
fn failed_as_figures(
    r: anyhow::Result<FanoutMeasured>,
    side: &str,
    shape: Shape,
) -> FanoutMeasured {
    r.unwrap_or_else(|e| {
        let why = format!("{e:#}");
        eprintln!("{side} failed at {shape:?}: {why}");
        FanoutMeasured {
            failed: Some(why),
            ..FanoutMeasured::default()
        }
    })
}

/// Hive's puts through a RemoteStore.
#[derive(Clone)]
struct HiveWriter(RemoteStore);

impl Writer for HiveWriter {
    async fn put(&self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.0
            .put(key, value)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// `connections` client endpoints of `member`, one connection each, with `streams` watch
/// sessions spread over them (client `i` gets `streams / connections`, one more while
/// the remainder lasts; at least one).
pub(super) fn hive_clients(
    member: &MemberProcess,
    connections: usize,
    streams: usize,
) -> anyhow::Result<Vec<RemoteStore>> {
    let connections = connections.max(1);
    (0..connections)
        .map(|i| {
            let sessions = streams / connections + usize::from(i < streams % connections);
            member.client_with_sessions(&format!("bench-watcher-{i}"), sessions.max(1))
        })
        .collect()
}

/// Opens `n` watches on the prefix, watch `i` through `clients[i % len]`, `in_flight`
/// at a time. Returns them in order.
pub(super) async fn open_hive_watches(
    clients: &[RemoteStore],
    n: usize,
    in_flight: usize,
) -> anyhow::Result<Vec<(RemoteStore, RemoteWatch)>> {
    let opened: Vec<_> = futures::stream::iter(0..n)
        .map(|i| {
            let c = clients[i % clients.len()].clone();
            async move {
                let w = c.watch(KeyRange::prefix(PREFIX), None, false).await;
                w.map(|w| (c, w))
            }
        })
        .buffered(in_flight.max(1))
        .collect()
        .await;
    opened
        .into_iter()
        .enumerate()
        .map(|(i, r)| r.with_context(|| format!("opening watch {i}")))
        .collect()
}

async fn run_hive(args: &Args, shape: Shape) -> anyhow::Result<FanoutMeasured> {
    let member = MemberProcess::start(&args.data_dir)?;
    let writer = HiveWriter(member.client("bench-writer")?);
    // The writer's first put waits for the member to lead.
    writer
        .put(format!("{PREFIX}warm"), vec![0; 8])
        .await
        .map_err(anyhow::Error::msg)
        .context("first put")?;
    let clients = hive_clients(&member, shape.connections, shape.streams)?;
    let t = std::time::Instant::now();
    let watches = open_hive_watches(&clients, shape.watchers, 256).await?;
    let create_seconds = t.elapsed().as_secs_f64();

    let tally = Tally::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let tasks: Vec<_> = watches
        .into_iter()
        .map(|(client, w)| tokio::spawn(hive_watcher(client, w, tally.samples(), stop_rx.clone())))
        .collect();

    let window = Window::open(member.pid())?;
    let written = fanout::write_paced(
        writer,
        args.writers,
        shape.puts_per_sec,
        args.value_size,
        args.duration,
    )
    .await;
    let expected = written.puts * shape.watchers as u64;
    let drained = fanout::drain(&tally, expected, Duration::from_secs(1), args.drain).await;
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
    fanout::finish(
        &mut m,
        written,
        shape.watchers,
        &tally,
        written.seconds + drained,
    );
    drop(clients);
    drop(member);
    Ok(m)
}

/// Receives one Hive watch until told to stop; a watch the member cancels as slow, or
/// whose stream is lost, is opened again from where it stopped (as a client would).
async fn hive_watcher(
    client: RemoteStore,
    mut w: RemoteWatch,
    mut samples: Samples,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let tally = samples.tally();
    loop {
        let got = tokio::select! {
            _ = stop.wait_for(|s| *s) => return,
            got = w.recv() => got,
        };
        let resume = match got {
            Some(Ok(WatchResponse::Events { events, .. })) => {
                let now = fanout::now_nanos();
                let mut bytes = 0u64;
                for e in &events {
                    if let Ok(a) = e.archived() {
                        let v = a.event.kv.value.as_slice();
                        samples.event(v, now);
                        bytes += v.len() as u64;
                    }
                }
                samples.delivered(events.len() as u64, bytes);
                continue;
            }
            Some(Ok(WatchResponse::Progress { .. })) => continue,
            Some(Ok(WatchResponse::Canceled {
                reason: CancelReason::Slow { resume_from },
            })) => resume_from,
            Some(Ok(WatchResponse::Canceled { reason })) => {
                tally.error(format!("watch canceled: {reason:?}"));
                return;
            }
            Some(Err(e)) => {
                tally.error(e.to_string());
                w.resume_from()
            }
            None => return,
        };
        tally.resumed.fetch_add(1, Ordering::Relaxed);
        match client
            .watch(KeyRange::prefix(PREFIX), Some(resume), false)
            .await
        {
            Ok(again) => w = again,
            Err(e) => {
                tally.error(format!("re-opening a watch at {resume:?}: {e}"));
                return;
            }
        }
    }
}

#[cfg(feature = "etcd")]
async fn run_etcd(
    args: &Args,
    bin: &std::path::Path,
    shape: Shape,
) -> anyhow::Result<FanoutMeasured> {
    use super::etcd::{EtcdCluster, EtcdOptions};
    let cluster =
        EtcdCluster::start(&args.data_dir, &EtcdOptions::new(bin.to_path_buf(), 1)).await?;
    super::etcd::watch::run_fanout(
        &cluster,
        shape,
        args.value_size,
        args.writers,
        args.duration,
        args.drain,
    )
    .await
}

#[cfg(not(feature = "etcd"))]
async fn run_etcd(_: &Args, _: &std::path::Path, _: Shape) -> anyhow::Result<FanoutMeasured> {
    bail!("this hive was built without the `etcd` cargo feature")
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{r:.2}x"))
}

fn case_line(c: &CaseResult) -> String {
    let side = |name: &str, m: &FanoutMeasured| {
        let mut s = format!(
            "{name}: {:.0} ev/s, {:.1} MB/s, {:.0} puts/s, p50 {:.1} ms p99 {:.1} ms, {}/{} delivered, cpu srv {:.2}s cli {:.2}s, rss {:.0} MiB, create {:.2}s, resumed {}",
            m.delivered_events_per_sec,
            m.delivered_bytes_per_sec / 1e6,
            m.achieved_puts_per_sec,
            m.latency.p50_ms,
            m.latency.p99_ms,
            m.events_delivered,
            m.events_expected,
            m.server_cpu_seconds,
            m.client_cpu_seconds,
            m.server_rss_bytes as f64 / (1 << 20) as f64,
            m.create_seconds,
            m.resumed,
        );
        if let Some(e) = &m.first_error {
            s += &format!(" ({} receive errors, first: {e})", m.receive_errors);
        }
        if m.put_errors > 0 {
            s += &format!(" ({} put errors)", m.put_errors);
        }
        if let Some(e) = &m.failed {
            s += &format!(" FAILED: {e}");
        }
        s
    };
    let mut line = format!(
        "N={} M={}/s S={} C={}\n  {}",
        c.shape.watchers,
        c.shape.puts_per_sec,
        c.shape.streams,
        c.shape.connections,
        side("hive", &c.hive)
    );
    if let Some(e) = &c.etcd {
        line += &format!(
            "\n  {}\n  hive/etcd events/s {}, p99 {}",
            side("etcd", e),
            fmt_ratio(c.ratio_events_per_sec),
            fmt_ratio(c.ratio_p99)
        );
    }
    line
}

/// Every case side by side, as a Markdown table.
fn table(cases: &[CaseResult]) -> String {
    let mut t = String::from(
        "\n| N | M/s | S | C | hive ev/s | hive MB/s | hive puts/s | hive p50/p99 ms | hive cpu srv/cli s | hive rss MiB \
         | etcd ev/s | etcd MB/s | etcd puts/s | etcd p50/p99 ms | etcd cpu srv/cli s | etcd rss MiB | ev/s hive/etcd | p99 hive/etcd |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    let cols = |m: Option<&FanoutMeasured>| match m {
        None => "- | - | - | - | - | -".to_string(),
        Some(m) => format!(
            "{:.0} | {:.1} | {:.0} | {:.1} / {:.1} | {:.2} / {:.2} | {:.0}",
            m.delivered_events_per_sec,
            m.delivered_bytes_per_sec / 1e6,
            m.achieved_puts_per_sec,
            m.latency.p50_ms,
            m.latency.p99_ms,
            m.server_cpu_seconds,
            m.client_cpu_seconds,
            m.server_rss_bytes as f64 / (1 << 20) as f64
        ),
    };
    for c in cases {
        t += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            c.shape.watchers,
            c.shape.puts_per_sec,
            c.shape.streams,
            c.shape.connections,
            cols(Some(&c.hive)),
            cols(c.etcd.as_ref()),
            fmt_ratio(c.ratio_events_per_sec),
            fmt_ratio(c.ratio_p99),
        );
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(extra: &[&str]) -> Args {
        use clap::Parser as _;
        Cli::parse_from(["watch"].iter().chain(extra)).args
    }

    /// The default shapes are the issue's grid (3 x 2 x 2) plus the one-watcher-per-
    /// connection row; streams and connections never exceed the watchers.
    #[test]
    fn the_default_shapes_are_the_issue_grid_plus_one_per_connection() {
        let s = shapes(&args(&[]));
        assert_eq!(s.len(), 13, "{s:?}");
        assert!(s.contains(&Shape {
            watchers: 10_000,
            puts_per_sec: 1000,
            streams: 100,
            connections: 10
        }));
        assert_eq!(
            s.last(),
            Some(&Shape {
                watchers: 1000,
                puts_per_sec: 1000,
                streams: 1000,
                connections: 1000
            })
        );
        let small = shapes(&args(&[
            "--watchers",
            "5",
            "--streams",
            "10",
            "--rates",
            "7",
            "--one-per-connection",
            "0",
        ]));
        assert_eq!(
            small,
            vec![Shape {
                watchers: 5,
                puts_per_sec: 7,
                streams: 5,
                connections: 5
            }]
        );
    }
}
