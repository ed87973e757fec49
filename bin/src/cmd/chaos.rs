//! `hive chaos`: seeded chaos runs against the store, judged by the testkit's checkers.
//!
//! - `hive chaos run`: one scenario — faults from the chosen nemeses while the chosen
//!   workloads run, then heal and check — printed as a plain-text report (and as JSON
//!   with `--json`). Exits non-zero unless every check passed, printing the command
//!   that replays the run.
//! - `hive chaos suite`: many seeds per nemesis, each run judged and held to thresholds
//!   (operations checked, leader changes), one line per run as it finishes. The long
//!   acceptance runs are `hive chaos suite` with its defaults.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use hive_testkit::run::{parse_duration, BackendKind, SuiteConfig, SuiteReport, SuiteRun};
use hive_testkit::{ChaosConfig, NemesisKind, WorkloadKind};

#[derive(Subcommand, Debug)]
pub enum ChaosCmd {
    /// Run one seeded scenario and check what came out.
    Run(RunArgs),
    /// Run many seeds per nemesis, each held to thresholds; one line per run.
    Suite(SuiteArgs),
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Seed of the fault schedule and the clients; a random one if not given.
    #[arg(long)]
    seed: Option<u64>,
    /// How long faults and load run before everything is healed (e.g. 30s, 1500ms, 2m).
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Fault kinds, comma-separated: partition, kill, pause, skew, disk, member; or
    /// `all`, or `none`.
    #[arg(long, default_value = "partition,kill,pause,skew")]
    nemesis: String,
    /// Workload: kv (linearizability), watch (watch guarantees) or both.
    #[arg(long, default_value = "both")]
    workload: WorkloadKind,
    /// Members of the cluster.
    #[arg(long, default_value_t = 3)]
    members: u64,
    /// Make every other fault a kill of the leader.
    #[arg(long)]
    leader_churn: bool,
    /// Cluster backend: `local` (members in this process) or `process` (`hive server`
    /// processes in network namespaces; needs root).
    #[arg(long, default_value = "local")]
    backend: BackendKind,
    /// Read-only kv clients besides the five usual ones, each pinned to a member where
    /// the backend can pin (process backend): they keep reading through a deposed
    /// leader for a whole fault.
    #[arg(long, default_value_t = 0)]
    kv_readers: usize,
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct SuiteArgs {
    /// Seeds per nemesis.
    #[arg(long, default_value_t = 20)]
    seeds: u64,
    /// The first seed (runs use first-seed .. first-seed + seeds).
    #[arg(long, default_value_t = 1)]
    first_seed: u64,
    /// Nemeses, each run on its own, comma-separated (or `all`).
    #[arg(long, default_value = "all")]
    nemesis: String,
    /// Fault phase of each run.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Workload of each run: kv, watch or both.
    #[arg(long, default_value = "both")]
    workload: WorkloadKind,
    /// Members of each cluster.
    #[arg(long, default_value_t = 3)]
    members: u64,
    /// A run counts only if its checkers examined at least this many operations.
    #[arg(long, default_value_t = 2_000)]
    min_ops: u64,
    /// A run counts only if it saw at least this many leader changes.
    #[arg(long, default_value_t = 3)]
    min_leader_changes: usize,
    /// Cluster backend: `local` or `process`.
    #[arg(long, default_value = "local")]
    backend: BackendKind,
    /// Write the suite report as JSON to this file (rewritten after every run).
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(cmd: ChaosCmd) -> anyhow::Result<()> {
    match cmd {
        ChaosCmd::Run(args) => run_one(args),
        ChaosCmd::Suite(args) => run_suite(args),
    }
}

/// The run `args` describe (a random seed if none is given).
fn config_of(args: &RunArgs) -> anyhow::Result<ChaosConfig> {
    if args.members == 0 {
        bail!("--members must be at least 1");
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut config = ChaosConfig::new(seed, args.duration);
    config.members = args.members;
    config.nemesis = NemesisKind::parse_list(&args.nemesis).map_err(anyhow::Error::msg)?;
    config.workload = args.workload;
    config.leader_churn = args.leader_churn;
    config.backend = args.backend;
    config.kv_readers = args.kv_readers;
    Ok(config)
}

fn run_one(args: RunArgs) -> anyhow::Result<()> {
    let config = config_of(&args)?;
    eprintln!("chaos: {}", config.replay_command());

    let system = actix::System::new();
    let report = system.block_on(hive_testkit::run(&config))?;
    println!("{report}");
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if !report.passed() {
        bail!(
            "chaos run failed: {} violations; replay with: {}",
            report.violations(),
            report.replay
        );
    }
    Ok(())
}

fn run_suite(args: SuiteArgs) -> anyhow::Result<()> {
    if args.members == 0 || args.seeds == 0 {
        bail!("--members and --seeds must be at least 1");
    }
    let nemeses = NemesisKind::parse_list(&args.nemesis).map_err(anyhow::Error::msg)?;
    if nemeses.is_empty() {
        bail!("--nemesis names no nemesis; a suite runs each nemesis on its own");
    }
    let config = SuiteConfig {
        first_seed: args.first_seed,
        seeds: args.seeds,
        nemeses,
        duration: args.duration,
        members: args.members,
        workload: args.workload,
        min_ops: args.min_ops,
        min_leader_changes: args.min_leader_changes,
        backend: args.backend,
    };
    let mut report = SuiteReport {
        config: config.clone(),
        runs: Vec::new(),
    };
    let runs = config.runs();
    eprintln!("chaos suite: {} runs", runs.len());
    println!("{}", SuiteRun::header());
    for run in &runs {
        // A fresh actix system per run: nothing one run leaves behind reaches the next.
        let system = actix::System::new();
        let line = match system.block_on(hive_testkit::run(run)) {
            Ok(r) => SuiteRun::of(r, run.leader_churn, &config),
            Err(e) => SuiteRun::broken(run, format!("{e:#}")),
        };
        println!("{}", line.row());
        if let Some(r) = &line.report {
            eprintln!("{r}\n");
        }
        report.runs.push(line);
        if let Some(path) = &args.json {
            let json = serde_json::to_string_pretty(&report)?;
            std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
        }
    }
    println!("\n{report}");
    if !report.passed() {
        bail!(
            "chaos suite failed: {} of {} runs count",
            report.counted(),
            runs.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        chaos: ChaosCmd,
    }

    /// Every run of the acceptance suite replays from the command its report prints:
    /// parsing that command gives a run with an equal fault schedule (equal hash).
    #[test]
    fn every_suite_run_replays_with_an_equal_schedule_hash() {
        for run in SuiteConfig::acceptance().runs() {
            let cmd = run.replay_command();
            let words = cmd.split_whitespace().skip(1); // "hive"
            let cli = Cli::try_parse_from(std::iter::once("hive").chain(words.skip(1)))
                .unwrap_or_else(|e| panic!("{cmd}: {e}"));
            let ChaosCmd::Run(args) = cli.chaos else {
                panic!("{cmd} is not a run");
            };
            let replay = config_of(&args).expect("a valid run");
            assert_eq!(replay, run, "{cmd}");
            assert_eq!(replay.schedule().hash(), run.schedule().hash(), "{cmd}");
        }
    }
}
