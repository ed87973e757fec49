//! A whole chaos run: start a cluster, drive the workloads while the nemesis plays its
//! schedule, heal, then judge what was recorded.
//!
//! The run is split in two so each half can be used alone: [`record`] drives a backend
//! and returns a [`ChaosRecording`] (plain serde data: the history, the watch
//! recordings, the faults and leaders seen), and [`judge`] turns a recording into a
//! [`ChaosReport`] by running the checkers. A recording can be saved and judged again
//! offline, and a test can tamper with one to prove the checkers are wired in.

use std::cell::Cell;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::checker::history::{History, OpIndex};
use crate::harness::{
    ClusterBackend, KvClient, LocalBackend, LocalOptions, ProcessBackend, ProcessOptions,
};
use crate::nemesis::{execute, NemesisKind, NemesisLog, Schedule};
use crate::workload::{
    KvOptions, KvWorkload, RunClock, WatchOptions, WatchOutput, WatchWorkload, WorkloadKind,
};

mod judge;
mod report;
pub mod suite;

pub use judge::judge;
pub use report::{ChaosReport, OpStats, WatchStats};
pub use suite::{SuiteConfig, SuiteReport, SuiteRun};

/// What a chaos run does.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosConfig {
    /// Seeds the fault schedule and every client's choices.
    pub seed: u64,
    /// How long faults and load run before everything is healed.
    pub duration: Duration,
    /// Members of the cluster.
    pub members: u64,
    /// The kinds of fault the nemesis draws from.
    pub nemesis: Vec<NemesisKind>,
    /// Which workloads run.
    pub workload: WorkloadKind,
    /// After healing, a write must succeed within this many election timeouts.
    pub liveness_election_timeouts: u32,
    /// After healing, how long watchers may take to reach the final revision.
    pub catch_up: Duration,
    /// Every other fault kills the leader (see [`Schedule::generate_with`]).
    #[serde(default)]
    pub leader_churn: bool,
    /// Which kind of cluster the run uses.
    #[serde(default)]
    pub backend: BackendKind,
    /// Read-only kv clients besides the usual ones, pinned to members where the
    /// backend can pin (see [`KvOptions::readers`]).
    #[serde(default)]
    pub kv_readers: usize,
}

/// Which cluster backend a run uses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Members as actors in this process ([`LocalBackend`]).
    #[default]
    Local,
    /// Members as `hive server` processes in network namespaces
    /// ([`crate::harness::ProcessBackend`]).
    Process,
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendKind::Local => "local",
            BackendKind::Process => "process",
        })
    }
}

impl std::str::FromStr for BackendKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "local" => Ok(BackendKind::Local),
            "process" => Ok(BackendKind::Process),
            _ => Err(format!("unknown backend {s:?} (expected local or process)")),
        }
    }
}

impl ChaosConfig {
    /// A 3-member run with the given seed and duration, every nemesis but `disk` and
    /// `member`, and both workloads.
    pub fn new(seed: u64, duration: Duration) -> ChaosConfig {
        ChaosConfig {
            seed,
            duration,
            members: 3,
            nemesis: vec![
                NemesisKind::Partition,
                NemesisKind::Kill,
                NemesisKind::Pause,
                NemesisKind::Skew,
            ],
            workload: WorkloadKind::Both,
            liveness_election_timeouts: 10,
            catch_up: Duration::from_secs(15),
            leader_churn: false,
            backend: BackendKind::Local,
            kv_readers: 0,
        }
    }

    /// The fault schedule this configuration draws.
    pub fn schedule(&self) -> Schedule {
        Schedule::generate_with(
            self.seed,
            self.duration,
            self.members,
            &self.nemesis,
            self.leader_churn,
        )
    }

    /// The command that replays this run.
    pub fn replay_command(&self) -> String {
        let mut nemesis = self.nemesis.clone();
        nemesis.sort();
        nemesis.dedup();
        let mut cmd = format!(
            "hive chaos run --seed {} --duration {} --nemesis {} --workload {}",
            self.seed,
            format_duration(self.duration),
            NemesisKind::list_to_string(&nemesis),
            self.workload
        );
        if self.members != 3 {
            cmd.push_str(&format!(" --members {}", self.members));
        }
        if self.leader_churn {
            cmd.push_str(" --leader-churn");
        }
        if self.backend != BackendKind::Local {
            cmd.push_str(&format!(" --backend {}", self.backend));
        }
        if self.kv_readers != 0 {
            cmd.push_str(&format!(" --kv-readers {}", self.kv_readers));
        }
        cmd
    }
}

/// Everything a run recorded, before judging.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChaosRecording {
    /// The run's configuration.
    pub config: ChaosConfig,
    /// The backend it ran on.
    pub backend: String,
    /// The schedule played.
    pub schedule: Schedule,
    /// What the nemesis did and which leaders it saw.
    pub nemesis: NemesisLog,
    /// The kv workload's history, final reads included (empty without kv).
    pub history: History,
    /// The final reads, one per key, done after healing.
    pub final_reads: Vec<OpIndex>,
    /// The watch workload's output (None without watch).
    pub watch: Option<WatchOutput>,
    /// Milliseconds from healing until a write succeeded; None if none did in time.
    pub write_after_heal_ms: Option<u64>,
    /// The liveness bound, in milliseconds.
    pub liveness_limit_ms: u64,
    /// Wall time of the whole run.
    pub elapsed_ms: u64,
}

/// Runs `config` on a fresh cluster of the configured backend and judges it. Needs an
/// actix `System`.
pub async fn run(config: &ChaosConfig) -> anyhow::Result<ChaosReport> {
    let recording = match config.backend {
        BackendKind::Local => {
            let mut backend = LocalBackend::start(config.members, LocalOptions::default()).await?;
            record(&mut backend, config).await
        }
        BackendKind::Process => {
            let mut backend =
                ProcessBackend::start(config.members, ProcessOptions::new(hive_binary()?)).await?;
            record(&mut backend, config).await
        }
    };
    Ok(judge(&recording))
}

/// Drives the workloads and the nemesis on `backend` for the configured duration,
/// heals, measures liveness, lets watchers catch up, and reads every key once more.
pub async fn record<B: ClusterBackend>(backend: &mut B, config: &ChaosConfig) -> ChaosRecording {
    let schedule = config.schedule();
    let description = backend.describe();
    let client = backend.client();
    let limit = backend.election_timeout() * config.liveness_election_timeouts;
    let clock = RunClock::start();
    let kv_opts = KvOptions {
        readers: config.kv_readers,
        ..KvOptions::default()
    };
    let kv = KvWorkload::new(kv_opts, clock);
    let kv_clients: Vec<B::Client> = (0..kv.options().clients + kv.options().readers)
        .map(|i| backend.client_for(i))
        .collect();
    let watch = WatchWorkload::new(WatchOptions::default());
    let stop = Cell::new(false);
    let mut write_after_heal = None;

    let control = async {
        let log = execute(backend, &schedule, clock.started(), config.duration).await;
        write_after_heal = first_write(&client, limit).await;
        stop.set(true);
        if config.workload.watch() {
            watch.finish(&client, config.catch_up).await;
        }
        log
    };
    let kv_load = async {
        if config.workload.kv() {
            kv.run_each(&kv_clients, config.seed, &stop).await;
        }
    };
    let watch_load = async {
        if config.workload.watch() {
            Some(watch.run(&client, config.seed, &stop).await)
        } else {
            None
        }
    };
    let (log, (), recordings) = futures::join!(control, kv_load, watch_load);

    let mut final_reads = Vec::new();
    if config.workload.kv() {
        let before = kv.history().len();
        kv.final_reads(&client).await;
        final_reads = (before..kv.history().len()).map(OpIndex).collect();
    }
    ChaosRecording {
        config: config.clone(),
        backend: description,
        schedule,
        nemesis: log,
        history: kv.history(),
        final_reads,
        watch: recordings.map(|r| watch.output(r)),
        write_after_heal_ms: write_after_heal.map(|d| d.as_millis() as u64),
        liveness_limit_ms: limit.as_millis() as u64,
        elapsed_ms: clock.started().elapsed().as_millis() as u64,
    }
}

/// The `hive` binary member processes run: `$HIVE_BIN`, else this executable (which is
/// `hive` when the run comes from `hive chaos`).
pub fn hive_binary() -> anyhow::Result<std::path::PathBuf> {
    match std::env::var_os("HIVE_BIN") {
        Some(p) => Ok(p.into()),
        None => std::env::current_exe()
            .map_err(|e| anyhow::anyhow!("locating the hive binary (set HIVE_BIN): {e}")),
    }
}

/// How long until a write succeeds, trying until `limit`.
async fn first_write<C: KvClient>(client: &C, limit: Duration) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < limit {
        let left = limit.saturating_sub(start.elapsed());
        if let Ok(Ok(_)) = tokio::time::timeout(left, client.put("/chaos/liveness", "ok")).await {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    None
}

/// A duration as the command line spells it: `8s`, `1500ms`.
pub fn format_duration(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// Parses `8s`, `1500ms`, `2m` or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let (num, unit) = match t.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => t.split_at(i),
        None => (t, "s"),
    };
    let n: u64 = num
        .parse()
        .map_err(|_| format!("bad duration {text:?} (e.g. 8s, 1500ms, 2m)"))?;
    match unit {
        "ms" => Ok(Duration::from_millis(n)),
        "s" => Ok(Duration::from_secs(n)),
        "m" => Ok(Duration::from_secs(n * 60)),
        _ => Err(format!("bad duration unit in {text:?} (ms, s or m)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The replay command spells the configuration so that parsing it back gives the
    /// same duration and nemesis list.
    #[test]
    fn the_replay_command_round_trips_duration_and_nemesis() {
        let mut c = ChaosConfig::new(9, Duration::from_millis(8_500));
        c.nemesis = vec![NemesisKind::Kill, NemesisKind::Partition];
        let cmd = c.replay_command();
        assert!(
            cmd.contains("--seed 9 --duration 8500ms --nemesis partition,kill"),
            "{cmd}"
        );
        assert_eq!(parse_duration("8500ms"), Ok(c.duration));
        assert_eq!(parse_duration("8s"), Ok(Duration::from_secs(8)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3h").is_err());
    }
}
