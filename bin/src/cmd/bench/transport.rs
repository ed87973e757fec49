//! `hive bench transport`: QUIC RPC round trips (1 and 64 callers), one server stream's
//! throughput (256 B and 4 KiB messages), and raw UDP loopback throughput measured in
//! the same run as the ceiling.

use std::path::PathBuf;

use hive_transport::bench::{run_all, BenchScale};

use super::report::Report;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tiny sizes, for CI: every case runs end to end, nothing is meant as a figure.
    #[arg(long)]
    quick: bool,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let scale = if args.quick {
        BenchScale::TINY
    } else {
        BenchScale::FULL
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = rt.block_on(run_all(scale))?;
    for r in &report.rpc {
        eprintln!("{r:?}");
    }
    Report::new("transport", report).emit(args.out.as_deref())
}
