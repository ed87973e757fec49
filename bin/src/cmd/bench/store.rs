//! `hive bench store`: the commit path of the store — puts/s, p50/p99 put latency and
//! fsyncs per put, for 1 and 64 concurrent clients on 1 and 3 members — beside the
//! physical ceiling it is bounded by (one fdatasync of the data directory's disk) and the
//! anchor every ratio is taken against: etcd, run on the same disk with the same
//! workload in the same run (with the `etcd` cargo feature; without it, Hive only and
//! the report says why).

use std::io::{Seek as _, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use hive_raftstore::cluster::{ClusterOptions, LocalCluster};
use hive_raftstore::cluster_quic::QuicFabric;
use hive_raftstore::network::PeerAddr;
use hive_raftstore::remote::{RemoteOptions, RemoteStore, StoreServerOptions};
use hive_raftstore::store::Store;
use hive_raftstore::NodeId;
use hive_transport::EndpointConfig;
use serde::Serialize;

use super::etcd::{self, EtcdMeasured};
use super::load::{Load, Measured, PutClient};
use super::report::{Percentiles, Report};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tiny sizes, for CI: every case runs end to end, nothing is meant as a figure.
    #[arg(long)]
    quick: bool,
    /// Member counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    members: Vec<u64>,
    /// Concurrent client counts to measure (e.g. 1,64,1000).
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    clients: Vec<usize>,
    /// Value sizes in bytes (e.g. 256,4096).
    #[arg(long, value_delimiter = ',', default_value = "256")]
    value_size: Vec<usize>,
    /// Measured time per case, after a warm-up of a fifth of it.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    duration: Duration,
    /// Where members keep their data (the disk being measured).
    #[arg(long, default_value = "bench/tmp")]
    data_dir: PathBuf,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
    /// etcd clients per HTTP/2 connection (etcd's own benchmark shares connections the
    /// same way; its performance guide runs 1,000 clients on 100).
    #[arg(long, default_value_t = 10)]
    etcd_clients_per_conn: usize,
    /// The etcd binary [default: `etcd` on PATH, else /usr/bin/etcd].
    #[arg(long)]
    etcd_bin: Option<PathBuf>,
    /// Measure Hive only, even in a build with the `etcd` feature.
    #[arg(long)]
    skip_etcd: bool,
    /// How Hive's clients reach the store: `remote` (RemoteStore over QUIC on loopback,
    /// members replicating over QUIC, as etcd's clients and members do over gRPC/TCP)
    /// or `local` (the in-process Store handle over the in-process router).
    #[arg(long, value_enum, default_value_t = HiveClient::Remote)]
    hive_client: HiveClient,
    /// Hive RemoteStore clients per client QUIC endpoint (one connection per member),
    /// mirroring --etcd-clients-per-conn; only with `--hive-client remote`.
    #[arg(long, default_value_t = 10)]
    hive_clients_per_endpoint: usize,
}

/// How Hive's side of the bench reaches its store.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum HiveClient {
    /// The in-process `Store` handle, members over the in-process router.
    Local,
    /// `RemoteStore` over QUIC on loopback, members over QUIC.
    Remote,
}

pub(super) fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = s.split_at(
        s.find(|c: char| !c.is_ascii_digit() && c != '.')
            .unwrap_or(s.len()),
    );
    let n: f64 = num
        .parse()
        .map_err(|_| format!("bad duration {s:?}: expected e.g. 5s or 500ms"))?;
    let secs = match unit {
        "ms" => n / 1e3,
        "s" | "" => n,
        "m" => n * 60.0,
        _ => return Err(format!("bad duration unit in {s:?}: use ms, s or m")),
    };
    Ok(Duration::from_secs_f64(secs))
}

/// One measured case: Hive's figures at the top level, etcd's beside them.
#[derive(Serialize, Debug)]
pub struct CaseResult {
    pub members: u64,
    pub clients: usize,
    pub value_size: usize,
    #[serde(flatten)]
    pub hive: Measured,
    /// fdatasyncs of the leader's log per acknowledged put (group commit makes this < 1).
    pub leader_fsyncs_per_put: f64,
    /// The same case against etcd; `null` when the anchor was skipped.
    pub etcd: Option<EtcdMeasured>,
    /// Hive's puts/s over etcd's: above 1 means Hive did more.
    pub ratio_puts_per_sec: Option<f64>,
    /// Hive's median put latency over etcd's: below 1 means Hive was faster.
    pub ratio_p50: Option<f64>,
    /// Hive's p99 put latency over etcd's: below 1 means Hive was faster.
    pub ratio_p99: Option<f64>,
}

/// What the ratios are taken against, and how each side's clients reach their store.
#[derive(Serialize, Debug)]
pub struct Anchor {
    pub name: &'static str,
    pub measured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_because: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<String>,
    /// Which client path Hive's side used: `local` or `remote`.
    pub hive_client: HiveClient,
    pub hive_setup: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etcd_setup: Option<String>,
}

/// The whole run.
#[derive(Serialize, Debug)]
pub struct StoreBench {
    /// The ceiling: one 4 KiB append + fdatasync in the data directory (the file grows,
    /// so each sync also commits the filesystem journal).
    pub fdatasync: Percentiles,
    /// One 4 KiB overwrite of already-written blocks + fdatasync: data only, no size
    /// change, the floor for a log whose segments are preallocated.
    pub fdatasync_overwrite: Percentiles,
    pub anchor: Anchor,
    pub cases: Vec<CaseResult>,
}

/// How Hive's side is reached (`local` differs from etcd's, and the ratios carry that).
fn hive_setup(client: HiveClient, per_endpoint: usize) -> String {
    match client {
        HiveClient::Local => "in process (--hive-client local): every client holds a clone of \
            one Store handle, which hands puts to the leader member's actor (no RPC, no \
            serialization on the client path); members run on their own actix arbiters and, \
            with several members, replicate over the in-process LocalRouter; the clients run \
            on the bench's current-thread runtime"
            .to_string(),
        HiveClient::Remote => format!(
            "over QUIC on loopback (--hive-client remote): every member runs on its own actix \
             arbiter with its own QUIC endpoint and certificate (one cluster CA) on 127.0.0.1, \
             replicates over QUIC and serves the store's client API (StoreServer) on that \
             endpoint; clients are RemoteStores (Txn RPCs, sent to the leader, following \
             redirects), {per_endpoint} clients per client QUIC endpoint (each endpoint one \
             connection per member, as etcd's clients share an HTTP/2 connection); the \
             clients run on the bench's current-thread runtime"
        ),
    }
}

const NO_FEATURE: &str = "this hive was built without the `etcd` cargo feature; \
    measure the anchor with `cargo run --release -p hive --features etcd -- bench store`";

/// The etcd side of a run that measures it (never built without the `etcd` feature).
#[cfg_attr(not(feature = "etcd"), allow(dead_code))]
struct EtcdPlan {
    binary: PathBuf,
    clients_per_connection: usize,
}

/// Decides whether etcd is measured; a build with the feature that cannot find etcd is
/// an error (unless `--skip-etcd`), since a run without its anchor proves nothing.
fn plan_anchor(args: &Args) -> anyhow::Result<(Anchor, Option<EtcdPlan>)> {
    let skipped = |why: &str| Anchor {
        name: "etcd",
        measured: false,
        skipped_because: Some(why.to_string()),
        version: None,
        binary: None,
        hive_client: args.hive_client,
        hive_setup: hive_setup(args.hive_client, args.hive_clients_per_endpoint.max(1)),
        etcd_setup: None,
    };
    if !cfg!(feature = "etcd") {
        return Ok((skipped(NO_FEATURE), None));
    }
    if args.skip_etcd {
        return Ok((skipped("--skip-etcd"), None));
    }
    let binary = match &args.etcd_bin {
        Some(b) => b.clone(),
        None => etcd::find_binary().with_context(|| {
            format!(
                "etcd is not on PATH nor at /usr/bin/etcd: {} (or pass --skip-etcd)",
                etcd::INSTALL_HINT
            )
        })?,
    };
    let version = etcd::version(&binary)?;
    let per_conn = args.etcd_clients_per_conn.max(1);
    let etcd_setup = format!(
        "etcd {version} ({}), one process per member on 127.0.0.1 replicating over loopback \
         TCP, default durability (WAL fsync per batch), data on the same disk as Hive's; \
         clients are etcd-client KvClients over plaintext gRPC to the leader, {per_conn} \
         clients per HTTP/2 connection (as etcd's benchmark --conns/--clients shares them); \
         the clients run on the bench's current-thread runtime",
        binary.display()
    );
    let anchor = Anchor {
        name: "etcd",
        measured: true,
        skipped_because: None,
        version: Some(version),
        binary: Some(binary.display().to_string()),
        hive_client: args.hive_client,
        hive_setup: hive_setup(args.hive_client, args.hive_clients_per_endpoint.max(1)),
        etcd_setup: Some(etcd_setup),
    };
    Ok((
        anchor,
        Some(EtcdPlan {
            binary,
            clients_per_connection: per_conn,
        }),
    ))
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.duration = Duration::from_millis(300);
        args.members = vec![1, 3];
        args.clients = vec![1, 8];
    }
    if args.members.contains(&0) || args.clients.contains(&0) {
        bail!("--members and --clients must be at least 1");
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let (anchor, etcd_plan) = plan_anchor(&args)?;
    eprintln!("hive: {}", anchor.hive_setup);
    match &anchor.skipped_because {
        Some(why) => eprintln!("etcd skipped: {why}"),
        None => eprintln!(
            "anchor: {}",
            anchor.etcd_setup.as_deref().unwrap_or_default()
        ),
    }
    let probes = if args.quick { 20 } else { 500 };
    let fdatasync = measure_fdatasync(&args.data_dir, probes, Probe::Append)?;
    let fdatasync_overwrite = measure_fdatasync(&args.data_dir, probes, Probe::Overwrite)?;
    eprintln!(
        "fdatasync on {}: append p50 {:.3} ms, p99 {:.3} ms; overwrite p50 {:.3} ms, p99 {:.3} ms",
        args.data_dir.display(),
        fdatasync.p50_ms,
        fdatasync.p99_ms,
        fdatasync_overwrite.p50_ms,
        fdatasync_overwrite.p99_ms
    );

    let system = actix::System::new();
    let cases = system.block_on(async {
        let mut cases = Vec::new();
        for &members in &args.members {
            for &value_size in &args.value_size {
                for &clients in &args.clients {
                    let case =
                        run_case(&args, etcd_plan.as_ref(), members, clients, value_size).await?;
                    eprintln!("{}", case_line(&case));
                    cases.push(case);
                }
            }
        }
        anyhow::Ok(cases)
    })?;
    eprint!("{}", table(&cases));
    Report::new(
        "store",
        StoreBench {
            fdatasync,
            fdatasync_overwrite,
            anchor,
            cases,
        },
    )
    .emit(args.out.as_deref())
}

/// One case on both sides, Hive first, each on a fresh cluster in `args.data_dir`.
async fn run_case(
    args: &Args,
    etcd_plan: Option<&EtcdPlan>,
    members: u64,
    clients: usize,
    value_size: usize,
) -> anyhow::Result<CaseResult> {
    let disk_probes = if args.quick { 10 } else { 50 };
    let disk = || -> anyhow::Result<Option<f64>> {
        Ok(Some(
            measure_fdatasync(&args.data_dir, disk_probes, Probe::Append)?.p50_ms,
        ))
    };
    let hive_disk = disk()?;
    let (mut hive, leader_fsyncs_per_put) = run_hive(args, members, clients, value_size)
        .await
        .with_context(|| format!("hive, members={members} clients={clients}"))?;
    hive.disk_fdatasync_p50_ms_before = hive_disk;
    let etcd = match etcd_plan {
        Some(plan) => {
            let etcd_disk = disk()?;
            let mut e = run_etcd(
                &args.data_dir,
                plan,
                members,
                clients,
                value_size,
                args.duration,
            )
            .await
            .with_context(|| format!("etcd, members={members} clients={clients}"))?;
            e.measured.disk_fdatasync_p50_ms_before = etcd_disk;
            Some(e)
        }
        None => None,
    };
    let ratio = |h: f64, e: f64| (h > 0.0 && e > 0.0).then(|| h / e);
    let e = etcd.as_ref().map(|e| &e.measured);
    Ok(CaseResult {
        members,
        clients,
        value_size,
        ratio_puts_per_sec: e.and_then(|e| ratio(hive.puts_per_sec, e.puts_per_sec)),
        ratio_p50: e.and_then(|e| ratio(hive.latency.p50_ms, e.latency.p50_ms)),
        ratio_p99: e.and_then(|e| ratio(hive.latency.p99_ms, e.latency.p99_ms)),
        hive,
        leader_fsyncs_per_put,
        etcd,
    })
}

/// Hive's puts through its in-process store handle.
struct HivePutter(Store);

impl PutClient for HivePutter {
    async fn put(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.0
            .put(key, value)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Hive's puts through a RemoteStore, over QUIC.
struct RemotePutter(RemoteStore);

impl PutClient for RemotePutter {
    async fn put(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        self.0
            .put(key, value)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

/// Hive's figures and the leader's fsyncs per put.
async fn run_hive(
    args: &Args,
    members: u64,
    clients: usize,
    value_size: usize,
) -> anyhow::Result<(Measured, f64)> {
    let dir = tempfile::Builder::new()
        .prefix("store-bench-")
        .tempdir_in(&args.data_dir)?;
    let opts = ClusterOptions::default();
    match args.hive_client {
        HiveClient::Local => {
            let cluster = LocalCluster::start(dir.path(), members, opts)
                .await
                .map_err(anyhow::Error::msg)?;
            let store = cluster.store();
            let putters = (0..clients).map(|_| HivePutter(store.clone())).collect();
            measure_hive(&cluster, putters, value_size, args.duration).await
        }
        HiveClient::Remote => {
            let fabric = QuicFabric::new(&opts.raft);
            let shard = opts.shard;
            let cluster = LocalCluster::new(dir.path(), opts)
                .with_serving_member_network(
                    fabric.serving_factory(shard, StoreServerOptions::default()),
                )
                .start_members(members)
                .await
                .map_err(anyhow::Error::msg)?;
            let addrs = (1..=members)
                .map(|n| {
                    let addr = cluster
                        .member_addr(NodeId(n))
                        .with_context(|| format!("member {n} is not running"))?;
                    addr.parse::<PeerAddr>()
                        .with_context(|| format!("member {n}'s address {addr:?}"))
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let per_endpoint = args.hive_clients_per_endpoint.max(1);
            let endpoints = clients.div_ceil(per_endpoint);
            let stores = (0..endpoints)
                .map(|i| {
                    RemoteStore::connect(
                        &fabric.client_identity(&format!("bench-client-{i}")),
                        EndpointConfig::default(),
                        addrs.iter().cloned(),
                        RemoteOptions {
                            shard,
                            ..RemoteOptions::default()
                        },
                    )
                    .context("binding a client QUIC endpoint")
                })
                .collect::<anyhow::Result<Vec<_>>>()?;
            let putters = (0..clients)
                .map(|c| RemotePutter(stores[c / per_endpoint].clone()))
                .collect();
            measure_hive(&cluster, putters, value_size, args.duration).await
        }
    }
}

/// Runs the put workload of `putters` against `cluster`: warm-up, measured window, and
/// the leader's fsyncs per acknowledged put.
async fn measure_hive<C: PutClient>(
    cluster: &LocalCluster,
    putters: Vec<C>,
    value_size: usize,
    duration: Duration,
) -> anyhow::Result<(Measured, f64)> {
    let leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .map_err(anyhow::Error::msg)?;
    let mut load = Load::spawn(putters, value_size);
    load.warm_up(duration / 5).await;
    let before = cluster.log_stats(leader).unwrap_or_default();
    load.measure(duration).await;
    let after = cluster.log_stats(leader).unwrap_or_default();
    let hive = load.finish().await?;
    let fsyncs = after.fsyncs - before.fsyncs;
    let per_put = if hive.puts == 0 {
        0.0
    } else {
        fsyncs as f64 / hive.puts as f64
    };
    Ok((hive, per_put))
}

/// etcd's figures, on a fresh etcd cluster that is gone when this returns.
#[cfg(feature = "etcd")]
async fn run_etcd(
    data_dir: &Path,
    plan: &EtcdPlan,
    members: u64,
    clients: usize,
    value_size: usize,
    duration: Duration,
) -> anyhow::Result<EtcdMeasured> {
    let opts = etcd::EtcdOptions::new(plan.binary.clone(), members as usize);
    let cluster = etcd::EtcdCluster::start(data_dir, &opts).await?;
    etcd::workload::run_case(
        &cluster,
        clients,
        value_size,
        duration,
        plan.clients_per_connection,
    )
    .await
}

/// Never called: without the feature [`plan_anchor`] plans no etcd side.
#[cfg(not(feature = "etcd"))]
async fn run_etcd(
    _: &Path,
    _: &EtcdPlan,
    _: u64,
    _: usize,
    _: usize,
    _: Duration,
) -> anyhow::Result<EtcdMeasured> {
    bail!("{NO_FEATURE}")
}

/// One case as a line of progress on stderr.
fn case_line(c: &CaseResult) -> String {
    let mut line = format!(
        "members={} clients={} value={}B: hive {:.0} puts/s, p50 {:.3} ms, p99 {:.3} ms, {:.3} fsyncs/put",
        c.members,
        c.clients,
        c.value_size,
        c.hive.puts_per_sec,
        c.hive.latency.p50_ms,
        c.hive.latency.p99_ms,
        c.leader_fsyncs_per_put
    );
    if let Some(e) = &c.etcd {
        line += &format!(
            " | etcd {:.0} puts/s, p50 {:.3} ms, p99 {:.3} ms ({} conns) | hive/etcd puts/s {}, p50 {}",
            e.measured.puts_per_sec,
            e.measured.latency.p50_ms,
            e.measured.latency.p99_ms,
            e.connections,
            fmt_ratio(c.ratio_puts_per_sec),
            fmt_ratio(c.ratio_p50),
        );
    }
    for (side, m) in [
        ("hive", Some(&c.hive)),
        ("etcd", c.etcd.as_ref().map(|e| &e.measured)),
    ] {
        if let Some(err) = m.and_then(|m| m.first_error.as_deref()) {
            line += &format!(
                "\n  {side}: {} errors, first: {err}",
                m.map_or(0, |m| m.errors)
            );
        }
    }
    line
}

fn fmt_ratio(r: Option<f64>) -> String {
    r.map_or_else(|| "-".to_string(), |r| format!("{r:.2}x"))
}

/// Every case side by side, as a Markdown table.
fn table(cases: &[CaseResult]) -> String {
    let mut t = String::from(
        "\n| members | clients | value | hive puts/s | hive p50 ms | hive p99 ms | fsyncs/put \
         | etcd puts/s | etcd p50 ms | etcd p99 ms | puts/s hive/etcd | p50 hive/etcd | p99 hive/etcd \
         | disk p50 ms before hive / etcd |\n\
         |---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for c in cases {
        let e = c.etcd.as_ref().map(|e| &e.measured);
        let or_dash = |v: Option<String>| v.unwrap_or_else(|| "-".to_string());
        t += &format!(
            "| {} | {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {} | {} | {} | {} | {} | {} / {} |\n",
            c.members,
            c.clients,
            c.value_size,
            c.hive.puts_per_sec,
            c.hive.latency.p50_ms,
            c.hive.latency.p99_ms,
            c.leader_fsyncs_per_put,
            or_dash(e.map(|e| format!("{:.0}", e.puts_per_sec))),
            or_dash(e.map(|e| format!("{:.3}", e.latency.p50_ms))),
            or_dash(e.map(|e| format!("{:.3}", e.latency.p99_ms))),
            fmt_ratio(c.ratio_puts_per_sec),
            fmt_ratio(c.ratio_p50),
            fmt_ratio(c.ratio_p99),
            or_dash(c.hive.disk_fdatasync_p50_ms_before.map(|d| format!("{d:.3}"))),
            or_dash(e.and_then(|e| e.disk_fdatasync_p50_ms_before).map(|d| format!("{d:.3}"))),
        );
    }
    t
}

/// How the fdatasync probe writes its 4 KiB blocks.
#[derive(Clone, Copy)]
pub(super) enum Probe {
    /// Appends: the file grows, so every fdatasync also commits the size change through
    /// the filesystem's journal (as a log that appends to unallocated space does).
    Append,
    /// Overwrites blocks written (and synced) beforehand: data only, no size change (what
    /// a log with preallocated, pre-written segments pays).
    Overwrite,
}

/// The disk's floor for a durable write: 4 KiB written then fdatasync'd, `n` times.
pub(super) fn measure_fdatasync(dir: &Path, n: usize, probe: Probe) -> anyhow::Result<Percentiles> {
    let path = dir.join("fdatasync.probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let block = vec![0x5au8; 4096];
    if let Probe::Overwrite = probe {
        for _ in 0..n {
            f.write_all(&block)?;
        }
        f.sync_all()?;
        f.rewind()?;
    }
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f.write_all(&block)?;
        f.sync_data()?;
        lat.push(t.elapsed());
    }
    drop(f);
    let _ = std::fs::remove_file(&path);
    Ok(Percentiles::of(&mut lat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_and_reject_garbage() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert!(parse_duration("fast").is_err());
        assert!(parse_duration("5h").is_err());
    }

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn args(extra: &[&str]) -> Args {
        use clap::Parser as _;
        Cli::parse_from(["store"].iter().chain(extra)).args
    }

    /// Both client paths put through a real cluster: `remote` (the default) through
    /// RemoteStores over QUIC sharing endpoints, `local` through the in-process Store.
    #[test]
    fn hive_is_measured_over_quic_by_default_and_in_process_on_request() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().to_str().unwrap();
        let mut remote = args(&["--data-dir", dir, "--hive-clients-per-endpoint", "2"]);
        assert_eq!(remote.hive_client, HiveClient::Remote);
        let mut local = args(&["--data-dir", dir, "--hive-client", "local"]);
        assert_eq!(local.hive_client, HiveClient::Local);
        // Long enough that a put completes inside the window on a loaded CI machine.
        remote.duration = Duration::from_secs(1);
        local.duration = Duration::from_secs(1);
        for (a, members) in [(&remote, 1), (&remote, 3), (&local, 1)] {
            let (m, fsyncs_per_put) = actix::System::new()
                .block_on(run_hive(a, members, 3, 64))
                .unwrap();
            let case = format!("{:?} members={members}: {m:?}", a.hive_client);
            assert!(m.puts > 0, "{case}");
            assert_eq!(m.errors, 0, "{case}");
            assert!(fsyncs_per_put > 0.0, "{case}");
        }
        assert!(hive_setup(HiveClient::Remote, 2).contains("2 clients per client QUIC endpoint"));
    }
}
