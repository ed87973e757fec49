//! `hive version`: what this binary is, in kubectl's `version` spirit.

use serde::Serialize;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print as JSON.
    #[arg(short, long, value_parser = ["json", "yaml"])]
    output: Option<String>,
}

/// The facts `hive version` reports.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VersionInfo {
    pub hive_version: &'static str,
    /// The Kubernetes API version Hive's REST edge speaks.
    pub kubernetes_api: &'static str,
    pub platform: String,
}

pub fn info() -> VersionInfo {
    VersionInfo {
        hive_version: env!("CARGO_PKG_VERSION"),
        kubernetes_api: "v1.32",
        platform: format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
    }
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let v = info();
    match args.output.as_deref() {
        Some(_) => println!("{}", serde_json::to_string_pretty(&v)?),
        None => {
            println!("Hive Version: v{}", v.hive_version);
            println!("Kubernetes API: {}", v.kubernetes_api);
            println!("Platform: {}", v.platform);
        }
    }
    Ok(())
}
