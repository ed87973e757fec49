//! `hive`: the one binary. It runs a control-plane member, and hosts the operator verbs
//! (`bench`, `chaos`, and the kubectl-like verbs as they arrive).

mod cmd;
mod logging;

use clap::{Parser, Subcommand};

/// Hive: a Kubernetes-class container orchestrator with its own Raft store.
#[derive(Parser, Debug)]
#[command(name = "hive", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value_t = logging::LogFormat::Text)]
    log_format: logging::LogFormat,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print the version of this binary and of the API it serves.
    Version(cmd::version::Args),
    /// Run benchmarks and print JSON results.
    #[command(subcommand)]
    Bench(cmd::bench::BenchCmd),
    /// Run seeded chaos scenarios and check the store's guarantees.
    #[command(subcommand)]
    Chaos(cmd::chaos::ChaosCmd),
    /// Run one control-plane member: a store shard member serving Raft and the store API
    /// over QUIC.
    Server(cmd::server::Args),
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    logging::init(cli.log_format);
    let result = match cli.command {
        Command::Version(a) => cmd::version::run(a),
        Command::Bench(b) => cmd::bench::run(b),
        Command::Chaos(c) => cmd::chaos::run(c),
        Command::Server(a) => cmd::server::run(a),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
