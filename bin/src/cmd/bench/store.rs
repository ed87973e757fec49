//! `hive bench store`: the commit path of the store — puts/s, p50/p99 put latency and
//! fsyncs per put, for 1 and 64 concurrent clients on 1 and 3 members — beside the
//! physical ceiling it is bounded by, one fdatasync of the data directory's disk.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hive_raftstore::cluster::{ClusterOptions, LocalCluster};

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::report::{Percentiles, Report};

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tiny sizes, for CI: every case runs end to end, nothing is meant as a figure.
    #[arg(long)]
    quick: bool,
    /// Member counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,3")]
    members: Vec<u64>,
    /// Concurrent client counts to measure.
    #[arg(long, value_delimiter = ',', default_value = "1,64")]
    clients: Vec<usize>,
    /// Value sizes in bytes.
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
}

fn parse_duration(s: &str) -> Result<Duration, String> {
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

/// One measured case.
#[derive(Serialize, Debug)]
pub struct CaseResult {
    pub members: u64,
    pub clients: usize,
    pub value_size: usize,
    pub puts: u64,
    pub errors: u64,
    pub seconds: f64,
    pub puts_per_sec: f64,
    pub latency: Percentiles,
    /// fdatasyncs of the leader's log per acknowledged put (group commit makes this < 1).
    pub leader_fsyncs_per_put: f64,
}

/// The whole run.
#[derive(Serialize, Debug)]
pub struct StoreBench {
    /// The ceiling: one 4 KiB write + fdatasync in the data directory.
    pub fdatasync: Percentiles,
    pub cases: Vec<CaseResult>,
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.duration = Duration::from_millis(300);
        args.members = vec![1, 3];
        args.clients = vec![1, 8];
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let fdatasync = measure_fdatasync(&args.data_dir, if args.quick { 20 } else { 500 })?;
    eprintln!(
        "fdatasync on {}: p50 {:.3} ms, p99 {:.3} ms",
        args.data_dir.display(),
        fdatasync.p50_ms,
        fdatasync.p99_ms
    );

    let system = actix::System::new();
    let cases = system.block_on(async {
        let mut cases = Vec::new();
        for &members in &args.members {
            for &value_size in &args.value_size {
                for &clients in &args.clients {
                    let case = run_case(&args.data_dir, members, clients, value_size, args.duration).await?;
                    eprintln!(
                        "members={members} clients={clients} value={value_size}B: {:.0} puts/s, p50 {:.3} ms, p99 {:.3} ms, {:.3} fsyncs/put",
                        case.puts_per_sec, case.latency.p50_ms, case.latency.p99_ms, case.leader_fsyncs_per_put
                    );
                    cases.push(case);
                }
            }
        }
        anyhow::Ok(cases)
    })?;
    Report::new("store", StoreBench { fdatasync, cases }).emit(args.out.as_deref())
}

async fn run_case(
    data_dir: &Path,
    members: u64,
    clients: usize,
    value_size: usize,
    duration: Duration,
) -> anyhow::Result<CaseResult> {
    let dir = tempfile::Builder::new()
        .prefix("store-bench-")
        .tempdir_in(data_dir)?;
    let cluster = LocalCluster::start(dir.path(), members, ClusterOptions::default())
        .await
        .map_err(anyhow::Error::msg)?;
    let leader = cluster
        .wait_for_leader(Duration::from_secs(10))
        .await
        .map_err(anyhow::Error::msg)?;
    let store = cluster.store();
    let value: Vec<u8> = (0..value_size).map(|i| b'a' + (i % 26) as u8).collect();

    let measuring = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    let errors = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for c in 0..clients {
        let (store, value, measuring, stop, errors) = (
            store.clone(),
            value.clone(),
            measuring.clone(),
            stop.clone(),
            errors.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut rng = rand::rngs::SmallRng::from_entropy();
            while !stop.load(Ordering::Relaxed) {
                let key = format!("/bench/{c}/{}", rng.gen_range(0..10_000u32));
                let t = Instant::now();
                let ok = store.put(key, value.clone()).await.is_ok();
                if measuring.load(Ordering::Relaxed) {
                    if ok {
                        lat.push(t.elapsed());
                    } else {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            lat
        }));
    }
    tokio::time::sleep(duration / 5).await; // warm-up
    let before = cluster.log_stats(leader).unwrap_or_default();
    measuring.store(true, Ordering::Relaxed);
    let start = Instant::now();
    tokio::time::sleep(duration).await;
    measuring.store(false, Ordering::Relaxed);
    let seconds = start.elapsed().as_secs_f64();
    let after = cluster.log_stats(leader).unwrap_or_default();
    let fsyncs = after.fsyncs - before.fsyncs;
    stop.store(true, Ordering::Relaxed);
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await?);
    }
    let puts = lat.len() as u64;
    Ok(CaseResult {
        members,
        clients,
        value_size,
        puts,
        errors: errors.load(Ordering::Relaxed),
        seconds,
        puts_per_sec: puts as f64 / seconds,
        latency: Percentiles::of(&mut lat),
        leader_fsyncs_per_put: if puts == 0 {
            0.0
        } else {
            fsyncs as f64 / puts as f64
        },
    })
}

/// The disk's floor for a durable write: 4 KiB written then fdatasync'd, `n` times.
fn measure_fdatasync(dir: &Path, n: usize) -> anyhow::Result<Percentiles> {
    let path = dir.join("fdatasync.probe");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(&path)?;
    let block = vec![0x5au8; 4096];
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
}
