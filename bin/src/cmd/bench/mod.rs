//! `hive bench ...`: benchmarks that print JSON (and write it under `bench/results/`).
//! Every result carries the command that produced it, the machine and the date.

mod report;
mod store;

use clap::Subcommand;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// The store's commit path: puts/s, latency percentiles and fsyncs per put.
    Store(store::Args),
}

pub fn run(cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Store(a) => store::run(a),
    }
}
