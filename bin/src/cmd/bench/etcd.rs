//! A local etcd for `hive bench store`, `watch` and `idle` to measure against: Debian's `etcd` binary run as
//! one child process per member on loopback, with free ports picked at start, its data
//! (and each member's stdout/stderr, in `<member>.log`) in a fresh directory under the
//! bench data directory, so on the same disk as Hive's. Dropping the cluster kills the
//! processes and removes the directory (kept, and its path printed, if the drop happens
//! during a panic, so a failing test leaves the logs behind).
//!
//! The process harness needs no etcd client: readiness is etcd's own HTTP `/health`
//! on the client port. The workload that talks gRPC to it lives in [`workload`], behind
//! the `etcd` cargo feature.

use std::io::ErrorKind;
use std::net::{SocketAddr, TcpListener};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use rand::Rng as _;
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use super::load::Measured;

#[cfg(feature = "etcd")]
pub mod watch;
#[cfg(feature = "etcd")]
pub mod workload;

/// What to do when etcd is missing.
pub const INSTALL_HINT: &str = "install etcd-server (bash .ci/setup.sh)";

/// Debian's etcd, used when `etcd` is not on PATH.
const DEBIAN_ETCD: &str = "/usr/bin/etcd";

/// Start attempts when a picked port was taken by someone else before etcd bound it.
const START_ATTEMPTS: usize = 3;

/// The etcd binary: `etcd` on PATH, else Debian's `/usr/bin/etcd`; `None` if neither.
pub fn find_binary() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|dir| dir.join("etcd"));
    on_path
        .chain(std::iter::once(PathBuf::from(DEBIAN_ETCD)))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The version `binary --version` reports, e.g. `3.4.23`.
pub fn version(binary: &Path) -> anyhow::Result<String> {
    let out = Command::new(binary)
        .arg("--version")
        .output()
        .with_context(|| format!("running {} --version; {INSTALL_HINT}", binary.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .find_map(|l| l.strip_prefix("etcd Version:"))
        .map(|v| v.trim().to_string())
        .ok_or_else(|| {
            anyhow!(
                "unexpected `{} --version` output: {text:?}",
                binary.display()
            )
        })
}

/// Which etcd a bench measures against, or why it measures none.
#[derive(Serialize, Debug, Clone)]
pub struct AnchorPlan {
    pub measured: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub skipped_because: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binary: Option<PathBuf>,
}

impl AnchorPlan {
    fn skipped(why: impl Into<String>) -> Self {
        AnchorPlan {
            measured: false,
            skipped_because: Some(why.into()),
            version: None,
            binary: None,
        }
    }

    /// The etcd to measure: `etcd_bin`, else the one on PATH; none without the `etcd`
    /// feature or with `skip`. A build with the feature that finds no etcd is an error,
    /// since a run without its anchor proves nothing.
    pub fn decide(etcd_bin: Option<&Path>, skip: bool) -> anyhow::Result<Self> {
        if !cfg!(feature = "etcd") {
            return Ok(Self::skipped(
                "this hive was built without the `etcd` cargo feature; build with \
                 `cargo build --release -p hive --features etcd`",
            ));
        }
        if skip {
            return Ok(Self::skipped("--skip-etcd"));
        }
        let binary = match etcd_bin {
            Some(b) => b.to_path_buf(),
            None => find_binary().with_context(|| {
                format!("etcd is not on PATH nor at {DEBIAN_ETCD}: {INSTALL_HINT} (or pass --skip-etcd)")
            })?,
        };
        Ok(AnchorPlan {
            measured: true,
            skipped_because: None,
            version: Some(version(&binary)?),
            binary: Some(binary),
        })
    }
}

/// etcd's figures for one case, and how its clients reached it.
#[derive(Serialize, Debug, Clone)]
pub struct EtcdMeasured {
    /// HTTP/2 connections the clients were spread over.
    pub connections: usize,
    #[serde(flatten)]
    pub measured: Measured,
}

/// How to start a local etcd.
#[derive(Clone, Debug)]
pub struct EtcdOptions {
    pub binary: PathBuf,
    /// Members, each its own process; 1 or 3 in the bench.
    pub members: usize,
    /// How long every member may take to answer `/health`.
    pub ready_timeout: Duration,
}

impl EtcdOptions {
    /// `members` members of the etcd at `binary`, ready within 30 s.
    pub fn new(binary: PathBuf, members: usize) -> Self {
        EtcdOptions {
            binary,
            members,
            ready_timeout: Duration::from_secs(30),
        }
    }
}

/// A running local etcd cluster; dropping it kills its processes and removes its data.
pub struct EtcdCluster {
    dir: Option<tempfile::TempDir>,
    members: Vec<Member>,
}

struct Member {
    name: String,
    client: SocketAddr,
    log: PathBuf,
    child: Child,
}

impl EtcdCluster {
    /// Starts `opts.members` etcd processes in a new directory under `parent` and waits
    /// until every one of them reports itself healthy (which needs an elected leader).
    ///
    /// Members are killed if the thread that started them exits (`PR_SET_PDEATHSIG`), so
    /// an interrupted bench leaves no etcd running: start them from a thread that lives
    /// as long as the cluster (the bench's main thread, a test's thread).
    pub async fn start(parent: &Path, opts: &EtcdOptions) -> anyhow::Result<Self> {
        if opts.members == 0 {
            bail!("an etcd cluster needs at least one member");
        }
        if !is_executable(&opts.binary) {
            bail!(
                "no etcd binary at {}: {INSTALL_HINT}",
                opts.binary.display()
            );
        }
        let mut attempt = 1;
        loop {
            match Self::try_start(parent, opts).await {
                Ok(cluster) => return Ok(cluster),
                // Free ports are picked by binding and releasing them; another process
                // on this shared machine may take one before etcd binds it.
                Err(e)
                    if attempt < START_ATTEMPTS
                        && format!("{e:#}").contains("address already in use") =>
                {
                    eprintln!("etcd: a picked port was taken meanwhile, retrying ({e:#})");
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    async fn try_start(parent: &Path, opts: &EtcdOptions) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("etcd-")
            .tempdir_in(parent)
            .with_context(|| format!("creating an etcd directory under {}", parent.display()))?;
        let ports = free_loopback_ports(2 * opts.members)?;
        let names: Vec<String> = (1..=opts.members).map(|i| format!("m{i}")).collect();
        let peer_url = |i: usize| format!("http://127.0.0.1:{}", ports[2 * i + 1]);
        let initial_cluster = names
            .iter()
            .enumerate()
            .map(|(i, n)| format!("{n}={}", peer_url(i)))
            .collect::<Vec<_>>()
            .join(",");
        // A fresh token per cluster, so members of two clusters can never join each other.
        let token = format!("hive-bench-{:016x}", rand::thread_rng().gen::<u64>());

        let mut cluster = EtcdCluster {
            dir: Some(dir),
            members: Vec::with_capacity(opts.members),
        };
        for (i, name) in names.iter().enumerate() {
            let client = SocketAddr::from(([127, 0, 0, 1], ports[2 * i]));
            let client_url = format!("http://{client}");
            let dir = cluster.dir();
            let log = dir.join(format!("{name}.log"));
            let out = std::fs::File::create(&log)
                .with_context(|| format!("creating {}", log.display()))?;
            let mut cmd = Command::new(&opts.binary);
            cmd.arg("--name")
                .arg(name)
                .arg("--data-dir")
                .arg(dir.join(name))
                .args(["--listen-client-urls", &client_url])
                .args(["--advertise-client-urls", &client_url])
                .args(["--listen-peer-urls", &peer_url(i)])
                .args(["--initial-advertise-peer-urls", &peer_url(i)])
                .args(["--initial-cluster", &initial_cluster])
                .args(["--initial-cluster-state", "new"])
                .args(["--initial-cluster-token", &token])
                // Long runs of 4 KiB puts keep every revision (no compaction, as on the
                // Hive side) and would hit the 2 GiB default quota: use etcd's maximum.
                .args(["--quota-backend-bytes", "8589934592"])
                .args(["--logger", "zap", "--log-outputs", "stderr"])
                .stdin(Stdio::null())
                .stdout(out.try_clone()?)
                .stderr(out);
            // The flags above are the whole configuration: none from the environment.
            for (k, _) in std::env::vars_os() {
                if k.to_string_lossy().starts_with("ETCD") {
                    cmd.env_remove(k);
                }
            }
            die_with_parent(&mut cmd);
            let child = cmd.spawn().map_err(|e| match e.kind() {
                ErrorKind::NotFound | ErrorKind::PermissionDenied => {
                    anyhow!("cannot run {}: {e}; {INSTALL_HINT}", opts.binary.display())
                }
                _ => anyhow!("starting {}: {e}", opts.binary.display()),
            })?;
            cluster.members.push(Member {
                name: name.clone(),
                client,
                log,
                child,
            });
        }
        cluster.wait_ready(opts.ready_timeout).await?;
        Ok(cluster)
    }

    /// Polls every member's `/health` until all say `"health":"true"`, a member exits,
    /// or `timeout` passes.
    async fn wait_ready(&mut self, timeout: Duration) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            for m in &mut self.members {
                if let Some(status) = m.child.try_wait()? {
                    bail!(
                        "etcd member {} exited ({status}) before answering; {}:\n{}",
                        m.name,
                        m.log.display(),
                        log_tail(&m.log)
                    );
                }
            }
            let mut unhealthy = None;
            for m in &self.members {
                if let Err(e) = health(m.client).await {
                    unhealthy = Some((m, e));
                    break;
                }
            }
            let Some((m, why)) = unhealthy else {
                return Ok(());
            };
            if Instant::now() >= deadline {
                bail!(
                    "etcd member {} did not answer /health on {} within {timeout:?} ({why}); {}:\n{}",
                    m.name,
                    m.client,
                    m.log.display(),
                    log_tail(&m.log)
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `http://127.0.0.1:<port>` of every member, in member order.
    pub fn client_urls(&self) -> Vec<String> {
        self.members
            .iter()
            .map(|m| format!("http://{}", m.client))
            .collect()
    }

    /// The directory holding every member's data and log.
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map_or(Path::new(""), |d| d.path())
    }

    /// The members' process ids.
    pub fn pids(&self) -> Vec<u32> {
        self.members.iter().map(|m| m.child.id()).collect()
    }
}

impl Drop for EtcdCluster {
    fn drop(&mut self) {
        for m in &mut self.members {
            let _ = m.child.kill();
            let _ = m.child.wait();
        }
        if let Some(dir) = self.dir.take() {
            if std::thread::panicking() {
                let kept = dir.keep();
                eprintln!(
                    "etcd: kept {} (data and logs) for inspection",
                    kept.display()
                );
            }
        }
    }
}

/// `n` distinct loopback ports that were free a moment ago: all are bound at once (so
/// none repeats), then released for etcd to bind.
fn free_loopback_ports(n: usize) -> anyhow::Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<Result<Vec<_>, _>>()
        .context("binding a free loopback port")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// One `GET /health` on a member's client port; `Ok` when etcd reports itself healthy.
async fn health(addr: SocketAddr) -> anyhow::Result<()> {
    let answer = tokio::time::timeout(Duration::from_secs(2), async {
        let mut s = tokio::net::TcpStream::connect(addr).await?;
        s.write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await?;
        let mut buf = Vec::new();
        s.read_to_end(&mut buf).await?;
        anyhow::Ok(String::from_utf8_lossy(&buf).into_owned())
    })
    .await
    .map_err(|_| anyhow!("no answer within 2s"))??;
    let status = answer.lines().next().unwrap_or_default();
    if status.split_whitespace().nth(1) == Some("200") && answer.contains(r#""health":"true""#) {
        Ok(())
    } else {
        let body = answer.rsplit("\r\n\r\n").next().unwrap_or_default().trim();
        bail!("{status}: {body}")
    }
}

/// The last lines of a member's log, for an error message.
fn log_tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(15)..].join("\n")
}

/// Has the kernel kill the child with SIGKILL when the thread that spawned it exits, so
/// an interrupted run leaves no etcd behind.
pub fn die_with_parent(cmd: &mut Command) {
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec, where only async-signal-safe
    // calls are allowed: prctl, getppid and _exit are, and it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before prctl took effect.
            if libc::getppid() as u32 != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The etcd binary, or `None` after printing why the calling test is skipped.
    pub(crate) fn etcd_or_skip(test: &str) -> Option<PathBuf> {
        let found = find_binary();
        if found.is_none() {
            eprintln!("skipping {test}: etcd is not on PATH nor at {DEBIAN_ETCD}; {INSTALL_HINT}");
        }
        found
    }

    pub(crate) fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a tokio runtime")
    }

    fn is_running(pid: u32) -> bool {
        // SAFETY: signal 0 only checks that the process exists.
        unsafe { libc::kill(pid as libc::pid_t, 0) == 0 }
    }

    fn must_start_and_clean_up(members: usize) {
        let Some(binary) = etcd_or_skip(&format!("{members}-member etcd harness")) else {
            return;
        };
        let parent = tempfile::tempdir().unwrap();
        let rt = runtime();
        let cluster = rt
            .block_on(EtcdCluster::start(
                parent.path(),
                &EtcdOptions::new(binary, members),
            ))
            .unwrap();
        let (dir, pids) = (cluster.dir().to_path_buf(), cluster.pids());
        assert_eq!(cluster.client_urls().len(), members);
        assert!(dir.starts_with(parent.path()), "{}", dir.display());
        for (i, url) in cluster.client_urls().iter().enumerate() {
            assert!(url.starts_with("http://127.0.0.1:"), "{url}");
            let log = dir.join(format!("m{}.log", i + 1));
            assert!(
                std::fs::metadata(&log).unwrap().len() > 0,
                "{} is empty",
                log.display()
            );
        }
        assert!(pids.iter().all(|&p| is_running(p)));
        drop(cluster);
        assert!(!dir.exists(), "{} survived the drop", dir.display());
        assert!(
            !pids.iter().any(|&p| is_running(p)),
            "an etcd process survived the drop"
        );
    }

    /// A one-member etcd answers `/health` on loopback, logs into its directory under
    /// the given parent, and after the drop neither its process nor its data remain.
    #[test]
    fn a_one_member_etcd_answers_and_leaves_nothing_after_drop() {
        must_start_and_clean_up(1);
    }

    /// Three local processes form one cluster (each answers `/health` only once a leader
    /// is elected) and all three are gone after the drop.
    #[test]
    fn a_three_member_etcd_elects_a_leader_and_leaves_nothing_after_drop() {
        must_start_and_clean_up(3);
    }

    /// A missing binary is a clear error that says how to install etcd.
    #[test]
    fn a_missing_etcd_binary_says_how_to_install_it() {
        let parent = tempfile::tempdir().unwrap();
        let opts = EtcdOptions::new(parent.path().join("no-such-etcd"), 1);
        let err = runtime()
            .block_on(EtcdCluster::start(parent.path(), &opts))
            .err()
            .expect("starting a missing binary fails");
        assert!(format!("{err:#}").contains(INSTALL_HINT), "{err:#}");
    }

    #[test]
    fn distinct_free_ports_are_picked() {
        let ports = free_loopback_ports(6).unwrap();
        let mut sorted = ports.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), 6, "{ports:?}");
    }
}
