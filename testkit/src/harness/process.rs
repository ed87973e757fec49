//! The multi-process backend: each member is a `hive server` process in a network
//! namespace of its own, joined by a veth pair to a bridge in the root namespace, with
//! an address on a private /24. The harness (and its clients, over QUIC with a
//! certificate from the members' CA) sits in the root namespace on the bridge.
//!
//! How each fault is made here:
//! - kill: SIGKILL; restart runs the same command again on the same data directory.
//! - pause: SIGSTOP and SIGCONT.
//! - partition, isolation, one-way cuts: nftables rules inside the members' namespaces
//!   dropping packets between members (never between a member and the clients).
//! - membership: a new member process in a new namespace, added through the store's
//!   API; removed through the API, then stopped and its namespace deleted.
//! - skew and disk faults: not supported (`hive server` has no skewable clock or disk
//!   switchboard it can be told to use from outside); runs report them skipped.
//!
//! Planted bugs reach the members through `HIVE_PLANTED_BUGS` in their environment.
//!
//! Namespaces, veths and the bridge carry this process's id and a counter in their
//! names, so parallel tests do not collide; everything is removed on drop (a test that
//! fails still drops its backend), and leftovers of processes that died without
//! dropping are removed by the next backend that starts. Needs root and `ip`/`nft`.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::Stdio;
use std::rc::Rc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use hive_raftstore::network::PeerAddr;
use hive_raftstore::remote::{MemberRole, RemoteOptions, RemoteStore, RemoteWatch};
use hive_raftstore::watch::WatchResponse;
use hive_raftstore::{
    KeyRange, KeyValue, NodeId, Revision, StoreError, StoreResult, TxnRequest, TxnResponse,
};
use hive_transport::{ClusterCa, Endpoint, EndpointConfig, MemberName, Role, TransportSettings};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::{Capability, ClusterBackend, DiskFault, KvClient, WatchStream};

/// The port every member serves on (each member has an address of its own).
const PORT: u16 = 7000;
/// Prefix of every namespace this backend creates.
const NS_PREFIX: &str = "hvc";
/// Prefix of every bridge this backend creates.
const BRIDGE_PREFIX: &str = "hb";

/// How to build a multi-process cluster.
#[derive(Clone, Debug)]
pub struct ProcessOptions {
    /// The `hive` binary members run.
    pub hive: PathBuf,
    /// Bugs the members plant (their `HIVE_PLANTED_BUGS`).
    pub planted: Vec<hive_raftstore::planted::Bug>,
    /// How long a client keeps retrying one call (leader changes included).
    pub client_deadline: Duration,
    /// How long one attempt at one member may take.
    pub attempt_timeout: Duration,
    /// Log filter of the members (`HIVE_LOG`).
    pub log: String,
}

impl ProcessOptions {
    /// Members running `hive`, with no planted bugs.
    pub fn new(hive: impl Into<PathBuf>) -> ProcessOptions {
        ProcessOptions {
            hive: hive.into(),
            planted: Vec::new(),
            client_deadline: Duration::from_secs(3),
            attempt_timeout: Duration::from_secs(1),
            log: "info".to_string(),
        }
    }
}

/// Why this machine cannot run the process backend, if it cannot: not root, or no
/// `ip netns` / `nft`. Tests skip with this message.
pub fn unavailable() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|ids| ids.split_whitespace().nth(1))
        .unwrap_or("unknown");
    if euid != "0" {
        return Some("the process backend needs root (network namespaces, nftables)".into());
    }
    for (cmd, args) in [("ip", &["netns", "list"][..]), ("nft", &["--version"][..])] {
        let ok = std::process::Command::new(cmd)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!(
                "the process backend needs `{cmd}` ({cmd} {args:?} failed)"
            ));
        }
    }
    None
}

/// Runs a command to completion; an error carries its stderr.
fn sh(cmd: &str, args: &[&str]) -> anyhow::Result<()> {
    sh_input(cmd, args, None)
}

fn sh_input(cmd: &str, args: &[&str], input: Option<&str>) -> anyhow::Result<()> {
    use std::io::Write;
    let mut child = std::process::Command::new(cmd)
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running {cmd}"))?;
    if let (Some(text), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin
            .write_all(text.as_bytes())
            .with_context(|| format!("writing to {cmd}"))?;
    }
    let out = child
        .wait_with_output()
        .with_context(|| format!("waiting for {cmd}"))?;
    if !out.status.success() {
        bail!(
            "`{cmd} {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// Output of a command, empty if it failed.
fn sh_output(cmd: &str, args: &[&str]) -> String {
    std::process::Command::new(cmd)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default()
}

/// Removes namespaces and bridges left by backends of processes that no longer exist.
fn remove_leftovers() {
    let dead = |name: &str, prefix: &str| {
        owner_pid(name, prefix)
            .is_some_and(|p| !std::path::Path::new(&format!("/proc/{p}")).exists())
    };
    for line in sh_output("ip", &["netns", "list"]).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        if dead(name, NS_PREFIX) {
            let _ = sh("ip", &["netns", "del", name]);
        }
    }
    for line in sh_output("ip", &["-o", "link", "show", "type", "bridge"]).lines() {
        let Some(name) = line.split(':').nth(1).map(str::trim) else {
            continue;
        };
        if dead(name, BRIDGE_PREFIX) {
            let _ = sh("ip", &["link", "del", name]);
        }
    }
}

/// The tag in every name a backend creates: its process id in hex and a counter.
fn tag(pid: u32, counter: u32) -> String {
    format!("{pid:x}x{counter}")
}

/// The namespace of member `node` of the backend tagged `tag`.
fn ns_name(tag: &str, node: NodeId) -> String {
    format!("{NS_PREFIX}{tag}n{}", node.0)
}

/// The bridge of the backend tagged `tag`.
fn bridge_name(tag: &str) -> String {
    format!("{BRIDGE_PREFIX}{tag}")
}

/// The process whose backend created `name` (`<prefix><tag>...`), if `name` is one.
fn owner_pid(name: &str, prefix: &str) -> Option<u32> {
    let hex = name.strip_prefix(prefix)?.split('x').next()?;
    u32::from_str_radix(hex, 16).ok()
}

/// One member process and where it lives.
struct Member {
    name: String,
    ns: String,
    veth: String,
    ip: Ipv4Addr,
    data: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    paused: bool,
    /// Addresses this member drops packets from (in) and to (out).
    blocked_in: BTreeSet<Ipv4Addr>,
    blocked_out: BTreeSet<Ipv4Addr>,
}

impl Member {
    fn addr(&self) -> PeerAddr {
        let text = format!("quic://{}@{}:{PORT}", self.name, self.ip);
        text.parse().expect("a member address is well formed")
    }

    fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }
}

/// A cluster of `hive server` processes in network namespaces.
pub struct ProcessBackend {
    opts: ProcessOptions,
    /// `<pid hex>x<counter>`: in every name this backend creates.
    tag: String,
    bridge: String,
    subnet: [u8; 3],
    dir: tempfile::TempDir,
    members: BTreeMap<NodeId, Member>,
    next_id: u64,
    endpoint: Option<Endpoint>,
    client: Option<RemoteStore>,
    admin: Option<RemoteStore>,
    bridge_up: bool,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl ProcessBackend {
    /// Starts `n` member processes (member 1 founds the shard, the others are added
    /// through the store's API) and waits for a leader with every member a voter.
    pub async fn start(n: u64, opts: ProcessOptions) -> anyhow::Result<ProcessBackend> {
        if let Some(why) = unavailable() {
            bail!("{why}");
        }
        if !opts.hive.exists() {
            bail!("the hive binary {} does not exist", opts.hive.display());
        }
        remove_leftovers();
        let k = COUNTER.fetch_add(1, Ordering::SeqCst);
        let tag = tag(std::process::id(), k);
        let dir = tempfile::Builder::new()
            .prefix("hive-chaos-")
            .tempdir()
            .context("creating the cluster's directory")?;
        let mut b = ProcessBackend {
            opts,
            bridge: bridge_name(&tag),
            tag,
            subnet: [10, 0, 0],
            dir,
            members: BTreeMap::new(),
            next_id: n + 1,
            endpoint: None,
            client: None,
            admin: None,
            bridge_up: false,
        };
        b.make_bridge()?;
        for id in 1..=n {
            b.make_member(NodeId(id))?;
        }
        b.spawn(NodeId(1), true).await?;
        b.connect_clients()?;
        for id in 2..=n {
            let node = NodeId(id);
            b.spawn(node, false).await?;
            let addr = b.member(node)?.addr().to_string();
            b.admin()?
                .add_member(node, addr)
                .await
                .map_err(|e| anyhow!("adding {node}: {e}"))?;
        }
        b.wait_for_leader(Duration::from_secs(30)).await?;
        Ok(b)
    }

    /// Where member `node` writes its log (stderr), for a failing test to print.
    pub fn log_path(&self, node: NodeId) -> Option<PathBuf> {
        self.members.get(&node).map(|m| m.log.clone())
    }

    fn bridge_ip(&self) -> Ipv4Addr {
        let [a, b, c] = self.subnet;
        Ipv4Addr::new(a, b, c, 1)
    }

    /// Creates the bridge on a /24 no interface on this machine uses yet.
    fn make_bridge(&mut self) -> anyhow::Result<()> {
        let used = sh_output("ip", &["-o", "-4", "addr", "show"]);
        let seed =
            std::process::id().wrapping_mul(2_654_435_761) ^ (COUNTER.load(Ordering::SeqCst) << 8);
        let subnet = (0..64u32)
            .map(|i| {
                let x = seed.wrapping_add(i.wrapping_mul(40_503));
                [10, 200 + (x % 50) as u8, ((x >> 8) % 256) as u8]
            })
            .find(|[a, b, c]| !used.contains(&format!(" {a}.{b}.{c}.")))
            .ok_or_else(|| anyhow!("no free 10.x.y.0/24 for the test bridge"))?;
        self.subnet = subnet;
        let cidr = format!("{}/24", self.bridge_ip());
        sh("ip", &["link", "add", &self.bridge, "type", "bridge"])?;
        self.bridge_up = true;
        sh("ip", &["addr", "add", &cidr, "dev", &self.bridge])?;
        sh("ip", &["link", "set", &self.bridge, "up"])?;
        Ok(())
    }

    /// Creates member `node`'s namespace, veth and address (not its process).
    fn make_member(&mut self, node: NodeId) -> anyhow::Result<()> {
        if node.0 > 200 {
            bail!("{node}: the test /24 has room for 200 members");
        }
        let name = format!("n{}", node.0);
        let ns = ns_name(&self.tag, node);
        let veth = format!("hv{}n{}", self.tag, node.0);
        if veth.len() > 15 {
            bail!("interface name {veth} is longer than 15 bytes");
        }
        let [a, b, c] = self.subnet;
        let ip = Ipv4Addr::new(a, b, c, 10 + node.0 as u8);
        let data = self.dir.path().join(&name);
        let log = self.dir.path().join(format!("{name}.log"));
        // Registered first, so that a failure below is cleaned up on drop.
        self.members.insert(
            node,
            Member {
                name,
                ns: ns.clone(),
                veth: veth.clone(),
                ip,
                data,
                log,
                child: None,
                paused: false,
                blocked_in: BTreeSet::new(),
                blocked_out: BTreeSet::new(),
            },
        );
        sh("ip", &["netns", "add", &ns])?;
        sh(
            "ip",
            &[
                "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &ns,
            ],
        )?;
        sh("ip", &["link", "set", &veth, "master", &self.bridge])?;
        sh("ip", &["link", "set", &veth, "up"])?;
        let cidr = format!("{ip}/24");
        let in_ns = |args: &[&str]| {
            let mut all = vec!["netns", "exec", &ns, "ip"];
            all.extend_from_slice(args);
            sh("ip", &all)
        };
        in_ns(&["addr", "add", &cidr, "dev", "eth0"])?;
        in_ns(&["link", "set", "eth0", "up"])?;
        in_ns(&["link", "set", "lo", "up"])?;
        Ok(())
    }

    fn member(&self, node: NodeId) -> anyhow::Result<&Member> {
        self.members
            .get(&node)
            .ok_or_else(|| anyhow!("{node} is not a member"))
    }

    fn member_mut(&mut self, node: NodeId) -> anyhow::Result<&mut Member> {
        self.members
            .get_mut(&node)
            .ok_or_else(|| anyhow!("{node} is not a member"))
    }

    /// Starts member `node`'s process and waits for its ready line.
    async fn spawn(&mut self, node: NodeId, bootstrap: bool) -> anyhow::Result<()> {
        let hive = self.opts.hive.clone();
        let ca = self.dir.path().join("ca");
        let log_filter = self.opts.log.clone();
        let planted: Vec<&str> = self.opts.planted.iter().map(|b| b.name()).collect();
        let planted = planted.join(",");
        let m = self.member_mut(node)?;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .with_context(|| format!("opening {}", m.log.display()))?;
        let listen = format!("{}:{PORT}", m.ip);
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &m.ns])
            .arg(&hive)
            .args(["server", "--name", &m.name, "--node-id"])
            .arg(node.0.to_string())
            .arg("--data-dir")
            .arg(&m.data)
            .args(["--listen", &listen])
            .arg("--ca-dir")
            .arg(&ca)
            .env("HIVE_LOG", log_filter)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        if !planted.is_empty() {
            cmd.env(hive_raftstore::planted::ENV, planted);
        }
        if bootstrap {
            cmd.arg("--bootstrap");
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("starting {}", hive.display()))?;
        let stdout = child.stdout.take().context("the member's stdout")?;
        let want = format!("hive server {} listening on {listen}", m.name);
        m.child = Some(child);
        m.paused = false;
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(60), lines.next_line())
            .await
            .map_err(|_| {
                anyhow!(
                    "{node} did not report ready within 60s (see {})",
                    m.log.display()
                )
            })?
            .context("reading the member's stdout")?;
        if line.as_deref() != Some(want.as_str()) {
            // The directory goes with the backend: say what the member logged, here.
            let logged = std::fs::read_to_string(&m.log).unwrap_or_default();
            let tail: Vec<&str> = logged.lines().rev().take(15).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            bail!(
                "{node} did not start: its first line was {line:?}; the end of its log ({}):\n{}",
                m.log.display(),
                tail.join("\n")
            );
        }
        // Keep draining stdout so the member never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(())
    }

    /// The clients' endpoint, with a certificate from the members' CA.
    fn connect_clients(&mut self) -> anyhow::Result<()> {
        let ca_dir = self.dir.path().join("ca");
        let ca = ClusterCa::load(&ca_dir)
            .map_err(|e| anyhow!("loading the members' CA from {}: {e}", ca_dir.display()))?;
        let identity = ca
            .issue(
                &MemberName::new("chaos-client").map_err(|e| anyhow!("{e}"))?,
                Role::Member,
            )
            .map_err(|e| anyhow!("issuing the client certificate: {e}"))?;
        let config = EndpointConfig {
            listen: SocketAddr::new(IpAddr::V4(self.bridge_ip()), 0),
            connect_timeout: Duration::from_secs(1),
            // A member killed without a word is given up on in seconds.
            transport: TransportSettings {
                idle_timeout: Duration::from_secs(3),
                keep_alive: Duration::from_millis(500),
                ..TransportSettings::default()
            },
            ..EndpointConfig::default()
        };
        let endpoint = Endpoint::bind(&identity, config, hive_transport::Router::new())
            .map_err(|e| anyhow!("binding the client endpoint: {e}"))?;
        let addrs: Vec<PeerAddr> = self.members.values().map(Member::addr).collect();
        self.client = Some(RemoteStore::new(
            endpoint.clone(),
            addrs.clone(),
            self.client_options(),
        ));
        let admin = RemoteOptions {
            deadline: Duration::from_secs(30),
            ..self.client_options()
        };
        self.admin = Some(RemoteStore::new(endpoint.clone(), addrs, admin));
        self.endpoint = Some(endpoint);
        Ok(())
    }

    fn client_options(&self) -> RemoteOptions {
        RemoteOptions {
            deadline: self.opts.client_deadline,
            attempt_timeout: self.opts.attempt_timeout,
            suspect_for: Duration::from_secs(2),
            watch_idle_timeout: Duration::from_secs(4),
            ..RemoteOptions::default()
        }
    }

    fn admin(&self) -> anyhow::Result<&RemoteStore> {
        self.admin
            .as_ref()
            .ok_or_else(|| anyhow!("the cluster has no client yet"))
    }

    /// Rewrites member `node`'s nftables table from its blocked sets.
    fn apply_rules(&self, node: NodeId) -> anyhow::Result<()> {
        let m = self.member(node)?;
        let set = |ips: &BTreeSet<Ipv4Addr>| {
            ips.iter()
                .map(|ip| ip.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let mut script = String::from("table inet hivechaos\ndelete table inet hivechaos\n");
        if !m.blocked_in.is_empty() || !m.blocked_out.is_empty() {
            script.push_str("table inet hivechaos {\n");
            script.push_str(
                "  chain input {\n    type filter hook input priority 0; policy accept;\n",
            );
            if !m.blocked_in.is_empty() {
                script.push_str(&format!("    ip saddr {{ {} }} drop\n", set(&m.blocked_in)));
            }
            script.push_str(
                "  }\n  chain output {\n    type filter hook output priority 0; policy accept;\n",
            );
            if !m.blocked_out.is_empty() {
                script.push_str(&format!(
                    "    ip daddr {{ {} }} drop\n",
                    set(&m.blocked_out)
                ));
            }
            script.push_str("  }\n}\n");
        }
        sh_input(
            "ip",
            &["netns", "exec", &m.ns, "nft", "-f", "-"],
            Some(&script),
        )
    }

    /// Drops packets from `from` to `to` (in both namespaces, so neither side's rules
    /// alone decide).
    fn block(&mut self, from: NodeId, to: NodeId) -> anyhow::Result<()> {
        let to_ip = self.member(to)?.ip;
        let from_ip = self.member(from)?.ip;
        self.member_mut(from)?.blocked_out.insert(to_ip);
        self.member_mut(to)?.blocked_in.insert(from_ip);
        Ok(())
    }

    fn apply_all(&self) -> anyhow::Result<()> {
        for node in self.members.keys() {
            self.apply_rules(*node)?;
        }
        Ok(())
    }

    /// Sends `signal` (`STOP`, `CONT`) to member `node`'s process, which we started and
    /// have not reaped.
    fn signal(&self, node: NodeId, signal: &str) -> anyhow::Result<()> {
        let Some(pid) = self.member(node)?.pid() else {
            bail!("{node} is not running");
        };
        sh("kill", &[&format!("-{signal}"), &pid.to_string()])
            .with_context(|| format!("SIG{signal} to {node}"))
    }

    async fn status_of(&self, node: NodeId) -> Option<hive_raftstore::remote::MemberStatus> {
        let m = self.members.get(&node)?;
        if m.child.is_none() || m.paused {
            return None;
        }
        let client = self.client.as_ref()?;
        tokio::time::timeout(Duration::from_millis(500), client.member_status(&m.addr()))
            .await
            .ok()?
            .ok()
    }

    /// Stops member `node`'s process and deletes its namespace.
    fn destroy_member(&mut self, node: NodeId) {
        if let Some(mut m) = self.members.remove(&node) {
            if let Some(mut child) = m.child.take() {
                let _ = child.start_kill();
                let _ = child.try_wait();
            }
            let _ = sh("ip", &["netns", "del", &m.ns]);
            let _ = sh("ip", &["link", "del", &m.veth]);
        }
    }
}

impl Drop for ProcessBackend {
    fn drop(&mut self) {
        let nodes: Vec<NodeId> = self.members.keys().copied().collect();
        for node in nodes {
            self.destroy_member(node);
        }
        if self.bridge_up {
            let _ = sh("ip", &["link", "del", &self.bridge]);
        }
    }
}

impl ClusterBackend for ProcessBackend {
    type Client = ProcessClient;

    fn describe(&self) -> String {
        "processes (hive server per network namespace, nftables partitions)".to_string()
    }

    fn supports(&self, capability: Capability) -> bool {
        !matches!(capability, Capability::Skew | Capability::Disk)
    }

    fn members(&self) -> Vec<NodeId> {
        self.members.keys().copied().collect()
    }

    fn running(&self) -> Vec<NodeId> {
        self.members
            .iter()
            .filter(|(_, m)| m.child.is_some())
            .map(|(n, _)| *n)
            .collect()
    }

    fn election_timeout(&self) -> Duration {
        // `hive server` runs the store's default Raft timings (300-600 ms).
        Duration::from_millis(600)
    }

    fn client(&self) -> ProcessClient {
        self.client_for(usize::MAX)
    }

    fn client_for(&self, i: usize) -> ProcessClient {
        let members: Vec<PeerAddr> = self.members.values().map(Member::addr).collect();
        let home =
            (i != usize::MAX && !members.is_empty()).then(|| members[i % members.len()].clone());
        ProcessClient {
            shared: self
                .client
                .clone()
                .expect("clients exist once the cluster started"),
            endpoint: self.endpoint.clone().expect("the client endpoint exists"),
            members: Rc::new(members),
            home,
            opts: self.client_options(),
            home_suspect_until: Rc::new(Cell::new(None)),
        }
    }

    async fn leader(&self) -> Option<NodeId> {
        let nodes = self.running();
        let statuses = futures::future::join_all(nodes.iter().map(|n| self.status_of(*n))).await;
        statuses
            .into_iter()
            .flatten()
            .filter(|s| s.role == MemberRole::Leader)
            .max_by_key(|s| s.term)
            .map(|s| s.node)
    }

    async fn wait_for_leader(&self, timeout: Duration) -> anyhow::Result<NodeId> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(l) = self.leader().await {
                return Ok(l);
            }
            if Instant::now() >= deadline {
                bail!("no member leads after {timeout:?}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn kill(&mut self, node: NodeId) -> anyhow::Result<()> {
        let m = self.member_mut(node)?;
        if let Some(mut child) = m.child.take() {
            child.start_kill().context("SIGKILL")?;
            child.wait().await.context("reaping the killed member")?;
        }
        m.paused = false;
        Ok(())
    }

    async fn restart(&mut self, node: NodeId) -> anyhow::Result<()> {
        if self.member(node)?.child.is_some() {
            return Ok(());
        }
        self.spawn(node, false).await
    }

    async fn pause(&mut self, node: NodeId) -> anyhow::Result<()> {
        if self.member(node)?.paused {
            return Ok(());
        }
        self.signal(node, "STOP")?;
        self.member_mut(node)?.paused = true;
        Ok(())
    }

    async fn resume(&mut self, node: NodeId) -> anyhow::Result<()> {
        if !self.member(node)?.paused {
            return Ok(());
        }
        self.signal(node, "CONT")?;
        self.member_mut(node)?.paused = false;
        Ok(())
    }

    fn partition(&mut self, groups: &[Vec<NodeId>]) -> anyhow::Result<()> {
        let all = self.members();
        let group_of = |n: NodeId| groups.iter().position(|g| g.contains(&n));
        for &a in &all {
            for &b in &all {
                if a != b && (group_of(a).is_none() || group_of(a) != group_of(b)) {
                    self.block(a, b)?;
                }
            }
        }
        self.apply_all()
    }

    fn isolate(&mut self, node: NodeId) -> anyhow::Result<()> {
        self.member(node)?;
        for other in self.members() {
            if other != node {
                self.block(node, other)?;
                self.block(other, node)?;
            }
        }
        self.apply_all()
    }

    fn cut_one_way(&mut self, from: NodeId, to: NodeId) -> anyhow::Result<()> {
        self.block(from, to)?;
        self.apply_rules(from)?;
        self.apply_rules(to)
    }

    fn heal_network(&mut self) -> anyhow::Result<()> {
        for m in self.members.values_mut() {
            m.blocked_in.clear();
            m.blocked_out.clear();
        }
        self.apply_all()
    }

    fn skew_clock(&mut self, node: NodeId, ms: i64) -> anyhow::Result<()> {
        self.member(node)?;
        if ms == 0 {
            return Ok(()); // nothing was skewed
        }
        bail!("hive server processes have no skewable clock")
    }

    fn disk_fault(&mut self, _node: Option<NodeId>, fault: DiskFault) -> anyhow::Result<()> {
        bail!("hive server processes cannot be given disk fault {fault}")
    }

    async fn add_member(&mut self) -> anyhow::Result<NodeId> {
        let node = NodeId(self.next_id);
        self.next_id += 1;
        self.make_member(node)?;
        self.spawn(node, false).await?;
        let addr = self.member(node)?.addr();
        if let Some(c) = &self.client {
            c.add_member_addr(&addr);
        }
        // On an error the change may still have happened: the member stays running and
        // listed, and removing it (as the member nemesis does at the end) settles it.
        self.admin()?
            .add_member(node, addr.to_string())
            .await
            .map_err(|e| anyhow!("adding {node}: {e}"))?;
        Ok(node)
    }

    async fn remove_member(&mut self, node: NodeId) -> anyhow::Result<()> {
        self.member(node)?;
        self.admin()?
            .remove_member(node)
            .await
            .map_err(|e| anyhow!("removing {node}: {e}"))?;
        self.destroy_member(node);
        Ok(())
    }
}

/// The process backend's client: the store's QUIC client. A client made for a workload's
/// client number is pinned to one member, as an etcd client is to its endpoint: each
/// call goes to that member first (following its redirect to the leader), and to
/// whoever leads only while the member does not answer. So clients see the cluster
/// from different members, and a member that wrongly believes it leads is asked.
#[derive(Clone)]
pub struct ProcessClient {
    shared: RemoteStore,
    endpoint: Endpoint,
    members: Rc<Vec<PeerAddr>>,
    home: Option<PeerAddr>,
    opts: RemoteOptions,
    home_suspect_until: Rc<Cell<Option<Instant>>>,
}

/// How long a pinned client avoids a member that did not answer.
const HOME_SUSPECT: Duration = Duration::from_secs(2);

impl ProcessClient {
    /// The client for the next call.
    fn route(&self) -> RemoteStore {
        let suspect = self
            .home_suspect_until
            .get()
            .is_some_and(|t| Instant::now() < t);
        match &self.home {
            Some(home) if !suspect => {
                let order = std::iter::once(home.clone()).chain(self.members.iter().cloned());
                RemoteStore::new(self.endpoint.clone(), order, self.opts.clone())
            }
            _ => self.shared.clone(),
        }
    }

    /// Notes how a call went: a member that did not answer is avoided for a while.
    fn note<T>(&self, r: &StoreResult<T>) {
        if self.home.is_some()
            && matches!(
                r,
                Err(StoreError::Timeout(_)
                    | StoreError::Unavailable(_)
                    | StoreError::Indeterminate(_))
            )
        {
            self.home_suspect_until
                .set(Some(Instant::now() + HOME_SUSPECT));
        }
    }
}

impl WatchStream for RemoteWatch {
    async fn next(&mut self) -> Option<StoreResult<WatchResponse>> {
        self.recv().await
    }
}

impl KvClient for ProcessClient {
    type Watch = RemoteWatch;

    async fn get(&self, key: &str) -> StoreResult<Option<KeyValue>> {
        let r = self.route().get(key).await;
        self.note(&r);
        r
    }

    async fn put(&self, key: &str, value: &str) -> StoreResult<Revision> {
        let r = self.route().put(key, value).await.map(|r| r.revision);
        self.note(&r);
        r
    }

    async fn cas(&self, key: &str, expected: Revision, value: &str) -> StoreResult<Revision> {
        let r = self.route().cas(key, expected, value).await;
        self.note(&r);
        r
    }

    async fn txn(&self, txn: TxnRequest) -> StoreResult<TxnResponse> {
        let r = self.route().txn(txn).await;
        self.note(&r);
        r
    }

    async fn compact(&self, revision: Revision) -> StoreResult<()> {
        self.shared.compact(revision).await
    }

    async fn watch(&self, range: KeyRange, start: Revision) -> StoreResult<RemoteWatch> {
        self.shared.watch(range, Some(start), true).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A backend starting while others run removes only the leftovers of dead processes:
    /// the owner read back from a namespace or bridge name is the process that made it,
    /// also for a process id whose hex spelling has no letter (12345 is 0x3039). Reading
    /// namespace names as decimal once took 3039 for the owner, and a backend starting
    /// in a parallel test deleted the namespaces of a live one, whose next member
    /// restart (`ip netns exec`) then failed before its ready line.
    #[test]
    fn leftover_names_read_back_the_process_that_made_them() {
        for pid in [12_345, 0xabcd, 1, u32::MAX] {
            let tag = tag(pid, 7);
            let ns = ns_name(&tag, NodeId(3));
            assert_eq!(owner_pid(&ns, NS_PREFIX), Some(pid), "{ns}");
            let bridge = bridge_name(&tag);
            assert_eq!(owner_pid(&bridge, BRIDGE_PREFIX), Some(pid), "{bridge}");
        }
        assert_eq!(owner_pid("hvc-other", NS_PREFIX), None);
        assert_eq!(owner_pid("docker0", BRIDGE_PREFIX), None);
    }
}
