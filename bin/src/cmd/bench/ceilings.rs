//! `hive bench ceilings`: what this machine allows at most, measured in the same run as
//! the workloads so each of their figures reads as a fraction of a limit — fdatasync
//! latency of the data directory (a durable write cannot be faster), raw UDP and QUIC
//! throughput on loopback (remote watchers cannot receive more bytes than QUIC moves),
//! and memory copy bandwidth (every byte a server hands out is copied at least once).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hive_transport::bench::{
    server_stream_throughput, udp_loopback_throughput, StreamBench, StreamReport, UdpBench,
    UdpReport,
};
use serde::Serialize;

use super::procstat::LoadAvg;
use super::report::{Percentiles, Report};
use super::store::{measure_fdatasync, Probe};

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Tiny sizes, for CI: every probe runs, nothing is meant as a figure.
    #[arg(long)]
    pub quick: bool,
    /// The directory whose disk is probed (the bench data directory).
    #[arg(long, default_value = "bench/tmp")]
    pub data_dir: PathBuf,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Memory copy bandwidth of one thread.
#[derive(Serialize, Debug, Clone, Copy)]
pub struct MemcpyReport {
    /// Bytes per copy (larger than the caches, so this is DRAM bandwidth).
    pub buffer_bytes: usize,
    pub copies: usize,
    pub seconds: f64,
    /// Bytes copied per second, 10^9.
    pub gb_per_sec: f64,
}

/// Every ceiling.
#[derive(Serialize, Debug)]
pub struct Ceilings {
    /// 4 KiB append + fdatasync in the data directory.
    pub fdatasync_append: Percentiles,
    /// 4 KiB overwrite of preallocated blocks + fdatasync.
    pub fdatasync_overwrite: Percentiles,
    /// Raw UDP between two loopback sockets, 1,200-byte datagrams (QUIC's packet size).
    pub udp_loopback: UdpReport,
    /// One QUIC stream with mutual TLS on loopback, 64 KiB messages, one process.
    pub quic_stream_64k: StreamReport,
    pub memcpy: MemcpyReport,
    pub load_avg: LoadAvg,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let c = measure(&args)?;
    eprintln!(
        "fdatasync p50 {:.3} ms (overwrite {:.3} ms); UDP {:.0} MB/s; QUIC 64 KiB stream {:.0} MB/s; memcpy {:.1} GB/s",
        c.fdatasync_append.p50_ms,
        c.fdatasync_overwrite.p50_ms,
        c.udp_loopback.mb_per_sec,
        c.quic_stream_64k.mb_per_sec,
        c.memcpy.gb_per_sec
    );
    Report::new("ceilings", c).emit(args.out.as_deref())
}

/// Measures every ceiling.
pub fn measure(args: &Args) -> anyhow::Result<Ceilings> {
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let load_avg = LoadAvg::now();
    let probes = if args.quick { 20 } else { 500 };
    let fdatasync_append = measure_fdatasync(&args.data_dir, probes, Probe::Append)?;
    let fdatasync_overwrite = measure_fdatasync(&args.data_dir, probes, Probe::Overwrite)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let (udp_loopback, quic_stream_64k) = rt.block_on(async {
        let udp = udp_loopback_throughput(UdpBench {
            datagram_size: 1200,
            datagrams: if args.quick { 256 } else { 300_000 },
        })
        .await?;
        let quic = server_stream_throughput(StreamBench {
            message_size: 64 * 1024,
            messages: if args.quick { 32 } else { 8_000 },
        })
        .await?;
        anyhow::Ok((udp, quic))
    })?;
    let memcpy = memcpy_bandwidth(
        if args.quick { 1 << 20 } else { 64 << 20 },
        if args.quick { 4 } else { 40 },
    );
    Ok(Ceilings {
        fdatasync_append,
        fdatasync_overwrite,
        udp_loopback,
        quic_stream_64k,
        memcpy,
        load_avg,
    })
}

/// Copies a `bytes` buffer into another `copies` times.
pub fn memcpy_bandwidth(bytes: usize, copies: usize) -> MemcpyReport {
    let src: Vec<u8> = (0..bytes).map(|i| i as u8).collect();
    let mut dst = vec![0u8; bytes];
    // One copy first so both buffers are faulted in before the clock starts.
    dst.copy_from_slice(&src);
    let t = Instant::now();
    for i in 0..copies {
        dst.copy_from_slice(std::hint::black_box(&src));
        std::hint::black_box(&mut dst)[i % bytes.max(1)] ^= 1;
    }
    let seconds = t.elapsed().max(Duration::from_nanos(1)).as_secs_f64();
    MemcpyReport {
        buffer_bytes: bytes,
        copies,
        seconds,
        gb_per_sec: (bytes * copies) as f64 / seconds / 1e9,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memcpy_bandwidth_reports_what_it_copied() {
        let r = memcpy_bandwidth(1 << 16, 8);
        assert_eq!((r.buffer_bytes, r.copies), (1 << 16, 8));
        assert!(r.seconds > 0.0 && r.gb_per_sec > 0.0, "{r:?}");
    }
}
