//! `hive bench ...`: benchmarks that print JSON (and write it under `bench/results/`).
//! Every result carries the command that produced it, the machine and the date.

// Without the `etcd` feature the harness is compiled and tested but not driven.
#[cfg_attr(not(feature = "etcd"), allow(dead_code))]
mod etcd;
mod load;
mod report;
mod store;
mod transport;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// The store's commit path: puts/s, latency percentiles and fsyncs per put.
    Store(store::Args),
    /// QUIC RPC and stream throughput beside raw UDP loopback.
    Transport(transport::Args),
}

pub fn run(cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Store(a) => store::run(a),
        BenchCmd::Transport(a) => transport::run(a),
    }
}
