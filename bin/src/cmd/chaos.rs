//! `hive chaos run`: one seeded chaos scenario on an in-process cluster — faults from the
//! chosen nemeses while the chosen workloads run, then heal and check — printed as a
//! plain-text report (and as JSON with `--json`). Exits non-zero unless every check
//! passed, printing the command that replays the run.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{bail, Context};
use clap::Subcommand;
use hive_testkit::run::parse_duration;
use hive_testkit::{ChaosConfig, NemesisKind, WorkloadKind};

#[derive(Subcommand, Debug)]
pub enum ChaosCmd {
    /// Run one seeded scenario on an in-process cluster and check what came out.
    Run(RunArgs),
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
    /// Also write the report as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
}

pub fn run(cmd: ChaosCmd) -> anyhow::Result<()> {
    match cmd {
        ChaosCmd::Run(args) => run_one(args),
    }
}

fn run_one(args: RunArgs) -> anyhow::Result<()> {
    if args.members == 0 {
        bail!("--members must be at least 1");
    }
    let seed = args.seed.unwrap_or_else(rand::random);
    let mut config = ChaosConfig::new(seed, args.duration);
    config.members = args.members;
    config.nemesis = NemesisKind::parse_list(&args.nemesis).map_err(anyhow::Error::msg)?;
    config.workload = args.workload;
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
