//! `hive bench all [--quick]`: every workload end to end, in one run, each writing its
//! JSON under one directory, then `all.json` gathering them with the load average around
//! each. `--quick` runs tiny sizes (for CI: it proves every path works, it measures
//! nothing worth quoting).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context as _;
use clap::Parser as _;
use serde::Serialize;

use super::procstat::LoadAvg;
use super::report::Report;
use super::BenchCmd;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tiny sizes for CI; asserts nothing about speed.
    #[arg(long)]
    quick: bool,
    /// Where each workload's JSON goes [default: bench/results, or bench/tmp/quick with
    /// --quick].
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Where the stores under test keep their data.
    #[arg(long, default_value = "bench/tmp")]
    data_dir: PathBuf,
    /// Measure Hive only.
    #[arg(long)]
    skip_etcd: bool,
}

/// One workload's place in the run.
#[derive(Serialize, Debug)]
struct Section {
    name: &'static str,
    file: PathBuf,
    seconds: f64,
    load_avg_before: LoadAvg,
    result: serde_json::Value,
}

/// The parser `hive bench <workload> ...` goes through, so `all` runs each workload
/// exactly as its own command line would.
#[derive(clap::Parser, Debug)]
#[command(name = "bench")]
struct One {
    #[command(subcommand)]
    cmd: BenchCmd,
}

/// The workloads in run order, each with its arguments (without `--out`).
fn plan(quick: bool, data_dir: &Path, skip_etcd: bool) -> Vec<(&'static str, Vec<String>)> {
    let data = data_dir.display().to_string();
    let with_data = |mut v: Vec<String>| {
        v.extend(["--data-dir".to_string(), data.clone()]);
        v
    };
    let mut plan = vec![
        ("ceilings", with_data(vec![])),
        (
            "store",
            with_data(vec![
                "--members".into(),
                "1,3".into(),
                "--clients".into(),
                "1,64,1000".into(),
            ]),
        ),
        ("transport", vec![]),
        ("watch", with_data(vec![])),
        ("idle", with_data(vec![])),
    ];
    if super::API_BENCH {
        plan.push(("api", with_data(vec![])));
    }
    plan.push(("rest", with_data(vec![])));
    plan.push(("relist", with_data(vec![])));
    for (name, args) in &mut plan {
        if quick {
            args.push("--quick".into());
        } else if *name == "store" {
            // The two value sizes; --quick keeps the default (256 B) only.
            args.extend(["--value-size".to_string(), "256,4096".to_string()]);
        }
        if skip_etcd && matches!(*name, "store" | "watch" | "idle") {
            args.push("--skip-etcd".into());
        }
    }
    plan
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let out_dir = args.out_dir.clone().unwrap_or_else(|| {
        PathBuf::from(if args.quick {
            "bench/tmp/quick"
        } else {
            "bench/results"
        })
    });
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut sections = Vec::new();
    for (name, mut argv) in plan(args.quick, &args.data_dir, args.skip_etcd) {
        let file = out_dir.join(format!("{name}.json"));
        argv.extend(["--out".to_string(), file.display().to_string()]);
        let mut full = vec!["bench".to_string(), name.to_string()];
        full.extend(argv);
        eprintln!("== hive {}", full.join(" "));
        let cmd = One::try_parse_from(&full)
            .with_context(|| format!("arguments for {name}"))?
            .cmd;
        let load_avg_before = LoadAvg::now();
        let t = Instant::now();
        super::run(cmd).with_context(|| format!("bench {name}"))?;
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("reading {}", file.display()))?;
        let result: serde_json::Value =
            serde_json::from_str(&text).with_context(|| format!("parsing {}", file.display()))?;
        sections.push(Section {
            name,
            file,
            seconds: t.elapsed().as_secs_f64(),
            load_avg_before,
            result,
        });
    }
    let report = Report::new("all", sections);
    let path = out_dir.join("all.json");
    let json = serde_json::to_string_pretty(&report)?;
    std::fs::write(&path, json + "\n").with_context(|| format!("writing {}", path.display()))?;
    eprintln!("wrote {}", path.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every planned workload's arguments parse as its own command would, quick or not.
    #[test]
    fn every_planned_workload_parses() {
        for quick in [false, true] {
            let plan = plan(quick, Path::new("/tmp/x"), true);
            let names: Vec<_> = plan.iter().map(|(n, _)| *n).collect();
            for want in [
                "ceilings",
                "store",
                "transport",
                "watch",
                "idle",
                "rest",
                "relist",
            ] {
                assert!(names.contains(&want), "{names:?}");
            }
            for (name, argv) in plan {
                let mut full = vec!["bench".to_string(), name.to_string()];
                full.extend(argv);
                One::try_parse_from(&full).unwrap_or_else(|e| panic!("{full:?}: {e}"));
            }
        }
    }
}
