//! A one-member Hive store as its own process for the watch benchmarks: this very binary
//! run as `hive server --bootstrap` on a free loopback port, its data and cluster CA in
//! a fresh directory under the bench data directory. By default it serves no REST API
//! (`--no-api`), so the QUIC benches measure the QUIC path alone; [`MemberProcess::start_rest`]
//! also serves Kubernetes' REST API on a free loopback port and hands the bench what a
//! client needs to reach it ([`RestAccess`]: address, the cluster CA, the admin token). The bench then measures the
//! member's CPU and memory by pid, apart from the clients' (which run in the bench
//! process), exactly as it measures etcd's. Dropping it kills the process and removes
//! the directory.

use std::io::{BufRead as _, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{anyhow, bail, Context as _};
use hive_raftstore::network::PeerAddr;
use hive_raftstore::remote::{RemoteOptions, RemoteStore};
use hive_transport::{ClusterCa, EndpointConfig, MemberName, Role};

use super::etcd::die_with_parent;

/// The member's name (in its certificate and address).
const NAME: &str = "bench-member";

/// How long the member may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// What an HTTPS client needs to reach the member's REST API as the admin.
#[derive(Clone, Debug)]
pub struct RestAccess {
    /// The HTTPS address.
    pub addr: SocketAddr,
    /// The name in the serving certificate (the member's name).
    pub server_name: String,
    /// The cluster CA the serving certificate chains to.
    pub ca: rustls::pki_types::CertificateDer<'static>,
    /// The admin's bearer token (the one in the kubeconfig the member writes).
    pub token: String,
}

/// A running `hive server` child process.
pub struct MemberProcess {
    dir: Option<tempfile::TempDir>,
    child: Child,
    addr: PeerAddr,
    rest: Option<RestAccess>,
}

impl MemberProcess {
    /// Starts a one-member shard (no REST API) in a new directory under `parent` and
    /// waits for it to say it serves.
    pub fn start(parent: &Path) -> anyhow::Result<Self> {
        Self::spawn(parent, false)
    }

    /// As [`MemberProcess::start`], also serving the REST API on a free loopback port;
    /// waits for its REST line too. [`MemberProcess::rest`] then says how to reach it.
    pub fn start_rest(parent: &Path) -> anyhow::Result<Self> {
        Self::spawn(parent, true)
    }

    /// How to reach the REST API (`None` unless started by [`MemberProcess::start_rest`]).
    pub fn rest(&self) -> Option<&RestAccess> {
        self.rest.as_ref()
    }

    fn spawn(parent: &Path, rest: bool) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("hive-member-")
            .tempdir_in(parent)
            .with_context(|| format!("creating a member directory under {}", parent.display()))?;
        let exe = std::env::current_exe().context("finding this hive binary")?;
        let port = free_udp_port()?;
        let listen = SocketAddr::from(([127, 0, 0, 1], port));
        let log = dir.path().join("member.log");
        let err =
            std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
        let mut cmd = Command::new(&exe);
        cmd.arg("server")
            .args(["--name", NAME, "--node-id", "1", "--bootstrap"])
            .arg("--data-dir")
            .arg(dir.path().join("data"))
            .arg("--ca-dir")
            .arg(dir.path().join("ca"))
            .arg("--listen")
            .arg(listen.to_string())
            .env("HIVE_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err);
        if rest {
            cmd.args(["--api-listen", "127.0.0.1:0"]);
        } else {
            cmd.arg("--no-api");
        }
        die_with_parent(&mut cmd);
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {} server", exe.display()))?;
        let stdout = child.stdout.take().context("the member's stdout")?;
        // Read the ready line (and the REST line) on a helper thread so a silent member
        // times out. The thread reads to the end: the member's stdout stays open for as
        // long as it runs, whatever it prints later.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut line = String::new();
                match stdout.read_line(&mut line) {
                    Ok(0) => break,
                    // Nobody waits for lines after the ready ones; keep draining.
                    Ok(_) => drop(tx.send(Ok(line))),
                    Err(e) => {
                        drop(tx.send(Err(e)));
                        break;
                    }
                }
            }
        });
        let want = format!("hive server {NAME} listening on {listen}");
        let mut member = MemberProcess {
            dir: Some(dir),
            child,
            addr: format!("quic://{NAME}@{listen}")
                .parse()
                .map_err(|e| anyhow!("member address: {e}"))?,
            rest: None,
        };
        member.expect_line(&rx, |line| (line == want).then_some(()), &want)?;
        if rest {
            let prefix = format!("hive server {NAME} REST API on https://");
            let addr = member.expect_line(
                &rx,
                |line| {
                    let (addr, _kubeconfig) = line.strip_prefix(&prefix)?.split_once(", ")?;
                    addr.parse::<SocketAddr>().ok()
                },
                &format!("{prefix}<addr>, kubeconfig <path>"),
            )?;
            let dir = member.dir.as_ref().map_or(Path::new(""), |d| d.path());
            let token_path = dir.join("data/rest/admin-token");
            let token = std::fs::read_to_string(&token_path)
                .with_context(|| format!("reading the admin token {}", token_path.display()))?
                .trim()
                .to_owned();
            let ca = ClusterCa::load(&dir.join("ca")).context("the member's cluster CA")?;
            member.rest = Some(RestAccess {
                addr,
                server_name: NAME.to_owned(),
                ca: ca.cert_der().clone(),
                token,
            });
        }
        Ok(member)
    }

    /// Waits for the member's next stdout line and parses it with `parse`; `want` names
    /// the expected line in the error.
    fn expect_line<T>(
        &mut self,
        rx: &std::sync::mpsc::Receiver<std::io::Result<String>>,
        parse: impl FnOnce(&str) -> Option<T>,
        want: &str,
    ) -> anyhow::Result<T> {
        let member = &mut *self;
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(Ok(line)) => match parse(line.trim()) {
                Some(v) => Ok(v),
                None => bail!(
                    "the member printed {line:?} instead of {want:?}; {}",
                    member.log_tail()
                ),
            },
            Ok(Err(e)) => bail!("reading the member's stdout: {e}; {}", member.log_tail()),
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => bail!(
                "the member closed its stdout before saying {want:?}; {}",
                member.diagnose()
            ),
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                let status = member.child.try_wait().ok().flatten();
                bail!(
                    "the member was not ready within {READY_TIMEOUT:?} (exit status {status:?}); {}",
                    member.log_tail()
                )
            }
        }
    }

    /// The member's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// A client on its own QUIC endpoint (one connection to the member), with its own
    /// certificate from the member's CA. Must be called inside a tokio runtime.
    pub fn client(&self, name: &str) -> anyhow::Result<RemoteStore> {
        self.client_with_sessions(name, 1)
    }

    /// [`MemberProcess::client`] whose watches are spread over `watch_sessions` watch
    /// sessions (streams) on its one connection.
    pub fn client_with_sessions(
        &self,
        name: &str,
        watch_sessions: usize,
    ) -> anyhow::Result<RemoteStore> {
        let dir = self.dir.as_ref().map_or(Path::new(""), |d| d.path());
        let ca = ClusterCa::load(&dir.join("ca")).context("the member's cluster CA")?;
        let identity = ca
            .issue(&MemberName::new(name).context("client name")?, Role::Member)
            .context("issuing a client certificate")?;
        RemoteStore::connect(
            &identity,
            EndpointConfig::default(),
            [self.addr.clone()],
            // A loaded member answers slowly; a put retried after a short attempt timeout
            // could be applied twice and show up as extra events, so attempts are long.
            RemoteOptions {
                deadline: Duration::from_secs(60),
                attempt_timeout: Duration::from_secs(30),
                connect_timeout: Duration::from_secs(15),
                watch_sessions,
                ..RemoteOptions::default()
            },
        )
        .context("binding a client QUIC endpoint")
    }

    /// What the member process says about itself when a call to it failed: whether it
    /// still runs (and its exit status if not) and the tail of its log.
    pub fn diagnose(&mut self) -> String {
        let state = match self.child.try_wait() {
            Ok(None) => "the member process still runs".to_owned(),
            Ok(Some(status)) => format!("the member process exited ({status})"),
            Err(e) => format!("the member process state is unknown ({e})"),
        };
        format!("{state}; {}", self.log_tail())
    }

    fn log_tail(&self) -> String {
        let Some(dir) = &self.dir else {
            return String::new();
        };
        let log = dir.path().join("member.log");
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "{}:\n{}",
            log.display(),
            lines[lines.len().saturating_sub(15)..].join("\n")
        )
    }
}

impl Drop for MemberProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            if let Some(dir) = self.dir.take() {
                eprintln!("hive member: kept {} for inspection", dir.keep().display());
            }
        }
    }
}

/// A loopback UDP port that was free a moment ago.
fn free_udp_port() -> anyhow::Result<u16> {
    let s = UdpSocket::bind("127.0.0.1:0").context("binding a free loopback UDP port")?;
    Ok(s.local_addr()?.port())
}
