//! `hive bench idle`: what an idle watcher costs. N watchers on one prefix, spread over
//! S streams on C connections, nothing written: the server's resident memory grown per
//! watcher (all in: registration, queues, streams, tasks), and the time to create them
//! all — Hive (a `hive server` process, through its QUIC API) and etcd, in the same run.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hive_raftstore::remote::RemoteWatch;
use serde::Serialize;

use super::etcd::AnchorPlan;
use super::fanout::PREFIX;
use super::member::MemberProcess;
use super::procstat::{self, LoadAvg};
use super::report::Report;
use super::watch::{hive_clients, open_hive_watches};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Tiny sizes, for CI: every step runs, nothing is meant as a figure.
    #[arg(long)]
    pub quick: bool,
    /// Watchers (N).
    #[arg(long, default_value_t = 100_000)]
    pub watchers: usize,
    /// Watch streams (S); both sides multiplex N/S watchers on each: etcd's gRPC watch
    /// streams, Hive's watch sessions (S/C per client connection).
    #[arg(long, default_value_t = 1_000)]
    pub streams: usize,
    /// Client connections (C).
    #[arg(long, default_value_t = 100)]
    pub connections: usize,
    /// How long to let memory settle after the last watcher is created.
    #[arg(long, default_value = "2s", value_parser = super::store::parse_duration)]
    pub settle: Duration,
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

/// One side's idle watchers.
#[derive(Serialize, Debug, Clone, Default)]
pub struct IdleMeasured {
    pub watchers: usize,
    pub streams: usize,
    pub connections: usize,
    pub create_seconds: f64,
    pub watchers_per_sec: f64,
    pub server_rss_before_bytes: u64,
    pub server_rss_after_bytes: u64,
    /// (after - before) / watchers: everything the server holds per watcher.
    pub server_bytes_per_watcher: f64,
    /// The bench process's resident memory grown per watcher (the client side).
    pub client_bytes_per_watcher: f64,
    /// Server CPU seconds spent while the idle watchers settled (heartbeats and the like).
    pub server_cpu_seconds_idle: f64,
    pub settle_seconds: f64,
}

#[derive(Serialize, Debug)]
pub struct IdleBench {
    pub anchor: AnchorPlan,
    pub hive_setup: &'static str,
    pub etcd_setup: &'static str,
    pub hive: IdleMeasured,
    pub etcd: Option<IdleMeasured>,
    /// Hive's bytes per watcher over etcd's (below 1: Hive leaner).
    pub ratio_bytes_per_watcher: Option<f64>,
    /// Hive's creation time over etcd's (below 1: Hive faster).
    pub ratio_create_seconds: Option<f64>,
    pub load_avg_before: LoadAvg,
}

const HIVE_SETUP: &str = "one member as its own process (`hive server --bootstrap`); watchers \
    are RemoteStore::watch on the prefix from the bench process, spread over C client endpoints \
    (one connection each) with S/C watch sessions each (N/S watchers per session, one QUIC \
    stream per session), created 256 at a time; RSS from /proc";
const ETCD_SETUP: &str = "one etcd member as its own process; watchers are etcd-client \
    watches on the prefix, N/S on each of S gRPC watch streams over C connections; RSS from /proc";

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.watchers = 200;
        args.streams = 20;
        args.connections = 4;
        args.settle = Duration::from_millis(300);
    }
    if args.watchers == 0 || args.streams == 0 || args.connections == 0 {
        bail!("--watchers, --streams and --connections must be at least 1");
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let anchor = AnchorPlan::decide(args.etcd_bin.as_deref(), args.skip_etcd)?;
    let load_avg_before = LoadAvg::now();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (hive, etcd) = rt.block_on(async {
        let hive = run_hive(&args).await.context("hive")?;
        eprintln!("{}", line("hive", &hive));
        let etcd = match &anchor.binary {
            Some(bin) => {
                let e = run_etcd(&args, bin).await.context("etcd")?;
                eprintln!("{}", line("etcd", &e));
                Some(e)
            }
            None => None,
        };
        anyhow::Ok((hive, etcd))
    })?;
    let ratio = |h: f64, e: f64| (h > 0.0 && e > 0.0).then(|| h / e);
    Report::new(
        "idle",
        IdleBench {
            ratio_bytes_per_watcher: etcd
                .as_ref()
                .and_then(|e| ratio(hive.server_bytes_per_watcher, e.server_bytes_per_watcher)),
            ratio_create_seconds: etcd
                .as_ref()
                .and_then(|e| ratio(hive.create_seconds, e.create_seconds)),
            anchor,
            hive_setup: HIVE_SETUP,
            etcd_setup: ETCD_SETUP,
            hive,
            etcd,
            load_avg_before,
        },
    )
    .emit(args.out.as_deref())
}

fn line(side: &str, m: &IdleMeasured) -> String {
    format!(
        "{side}: {} watchers in {:.2} s ({:.0}/s); server {:.0} B/watcher (RSS {:.0} -> {:.0} MiB), client {:.0} B/watcher, idle server cpu {:.2} s",
        m.watchers,
        m.create_seconds,
        m.watchers_per_sec,
        m.server_bytes_per_watcher,
        m.server_rss_before_bytes as f64 / (1 << 20) as f64,
        m.server_rss_after_bytes as f64 / (1 << 20) as f64,
        m.client_bytes_per_watcher,
        m.server_cpu_seconds_idle,
    )
}

/// The figures around a creation: samples before, the creation, the settle, samples after.
struct Around {
    pid: u32,
    server: procstat::ProcSample,
    client: procstat::ProcSample,
}

impl Around {
    fn before(pid: u32) -> anyhow::Result<Self> {
        Ok(Around {
            pid,
            server: procstat::sample(pid)?,
            client: procstat::sample_self()?,
        })
    }

    /// Lets memory settle for `settle`, then fills `m` from the samples.
    async fn after(self, m: &mut IdleMeasured, settle: Duration) -> anyhow::Result<()> {
        let cpu_start = procstat::sample(self.pid)?.cpu_seconds;
        let t = Instant::now();
        tokio::time::sleep(settle).await;
        m.settle_seconds = t.elapsed().as_secs_f64();
        let server = procstat::sample(self.pid)?;
        let client = procstat::sample_self()?;
        let n = m.watchers.max(1) as f64;
        m.server_rss_before_bytes = self.server.rss_bytes;
        m.server_rss_after_bytes = server.rss_bytes;
        m.server_bytes_per_watcher = (server.rss_bytes as f64 - self.server.rss_bytes as f64) / n;
        m.client_bytes_per_watcher = (client.rss_bytes as f64 - self.client.rss_bytes as f64) / n;
        m.server_cpu_seconds_idle = server.cpu_seconds - cpu_start;
        m.watchers_per_sec = if m.create_seconds > 0.0 {
            n / m.create_seconds
        } else {
            0.0
        };
        Ok(())
    }
}

async fn run_hive(args: &Args) -> anyhow::Result<IdleMeasured> {
    let member = MemberProcess::start(&args.data_dir)?;
    let writer = member.client("bench-writer")?;
    writer
        .put(format!("{PREFIX}warm"), vec![0; 8])
        .await
        .context("first put")?;
    let clients = hive_clients(&member, args.connections, args.streams)?;
    // Connect every endpoint before the first sample, so connections are not counted.
    for c in &clients {
        c.status().await.context("a client's first call")?;
    }
    let around = Around::before(member.pid())?;
    let t = Instant::now();
    let watches = open_hive_watches(&clients, args.watchers, 256).await?;
    let mut m = IdleMeasured {
        watchers: args.watchers,
        streams: args.streams.min(args.watchers),
        connections: args.connections,
        create_seconds: t.elapsed().as_secs_f64(),
        ..IdleMeasured::default()
    };
    // Receive (heartbeats) while idle, as a live client would.
    let tasks: Vec<_> = watches
        .into_iter()
        .map(|(_, w)| tokio::spawn(idle_receive(w)))
        .collect();
    around.after(&mut m, args.settle).await?;
    for t in &tasks {
        t.abort();
    }
    drop(member);
    Ok(m)
}

async fn idle_receive(mut w: RemoteWatch) {
    while let Some(Ok(_)) = w.recv().await {}
}

#[cfg(feature = "etcd")]
async fn run_etcd(args: &Args, bin: &std::path::Path) -> anyhow::Result<IdleMeasured> {
    use super::etcd::{watch as ew, EtcdCluster, EtcdOptions};
    let cluster =
        EtcdCluster::start(&args.data_dir, &EtcdOptions::new(bin.to_path_buf(), 1)).await?;
    let pid = *cluster
        .pids()
        .first()
        .context("etcd cluster without members")?;
    let conns = ew::connect(&cluster, args.connections).await?;
    for c in &conns {
        c.clone().status().await.context("a client's first call")?;
    }
    let around = Around::before(pid)?;
    let (streams, senders, create_seconds) =
        ew::open_watches(&conns, args.watchers, args.streams).await?;
    let mut m = IdleMeasured {
        watchers: args.watchers,
        streams: args.streams.min(args.watchers),
        connections: args.connections,
        create_seconds,
        ..IdleMeasured::default()
    };
    let tasks: Vec<_> = streams
        .into_iter()
        .map(|mut rx| tokio::spawn(async move { while let Ok(Some(_)) = rx.message().await {} }))
        .collect();
    around.after(&mut m, args.settle).await?;
    for t in &tasks {
        t.abort();
    }
    drop(senders);
    Ok(m)
}

#[cfg(not(feature = "etcd"))]
async fn run_etcd(_: &Args, _: &std::path::Path) -> anyhow::Result<IdleMeasured> {
    bail!("this hive was built without the `etcd` cargo feature")
}
