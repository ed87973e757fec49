//! `hive bench ...`: benchmarks that print JSON (and write it under `bench/results/`).
//! Every result carries the command that produced it, the machine and the date.

mod all;
mod api;
mod ceilings;
// Without the `etcd` feature the harness is compiled and tested but not driven.
#[cfg_attr(not(feature = "etcd"), allow(dead_code))]
mod etcd;
mod fanout;
mod idle;
mod load;
mod member;
mod procstat;
mod relist;
mod report;
mod rest;
mod rest_watch;
mod store;
mod transport;
mod watch;

use clap::Subcommand;

/// Whether `hive bench api` is built in (`hive bench all` runs it when it is).
const API_BENCH: bool = true;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// The store's commit path: puts/s, latency percentiles and fsyncs per put.
    Store(store::Args),
    /// QUIC RPC and stream throughput beside raw UDP loopback.
    Transport(transport::Args),
    /// Watch fan-out: N watchers, M puts/s, S streams on C connections, beside etcd.
    Watch(watch::Args),
    /// Idle watchers: server memory per watcher and time to create them, beside etcd.
    Idle(idle::Args),
    /// The machine's limits: fdatasync, loopback UDP and QUIC, memory copy.
    Ceilings(ceilings::Args),
    /// The API storage path: create/get/update/list through the local and the QUIC
    /// ApiClient, and field-selector cost on archived objects versus decoding.
    Api(api::Args),
    /// Kubernetes' REST API: create/get/list of pods and watch fan-out over HTTPS.
    Rest(rest::Args),
    /// Relist storm over REST: many ~4 KiB pods, C clients list then watch at once.
    Relist(relist::Args),
    /// Every workload end to end (`--quick`: tiny sizes for CI).
    All(all::Args),
}

pub fn run(cmd: BenchCmd) -> anyhow::Result<()> {
    match cmd {
        BenchCmd::Store(a) => store::run(a),
        BenchCmd::Transport(a) => transport::run(a),
        BenchCmd::Watch(a) => watch::run(a),
        BenchCmd::Idle(a) => idle::run(a),
        BenchCmd::Ceilings(a) => ceilings::run(a),
        BenchCmd::Api(a) => api::run(a),
        BenchCmd::Rest(a) => rest::run(a),
        BenchCmd::Relist(a) => relist::run(a),
        BenchCmd::All(a) => all::run(a),
    }
}
