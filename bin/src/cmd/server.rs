//! `hive server`: one control-plane member process.
//!
//! It loads (or creates) the cluster CA from `--ca-dir`, loads or issues its own
//! certificate, binds one QUIC endpoint at `--listen`, and serves two things on it: the
//! shard's Raft traffic (`QuicRaftNetwork`) and the store's client API (`StoreServer`).
//! The shard member runs supervised on its own arbiter, exactly as a `LocalCluster`
//! member does, keeping its log and snapshots under `--data-dir`.
//!
//! A member started with `--bootstrap` founds a new single-member shard (if its log is
//! empty); any other member waits to be added, by a client (`RemoteStore::add_member`)
//! or by itself with `--join <member address>`. When ready it prints one line to stdout,
//! `hive server <name> listening on <ip:port>`, for a parent process to wait on.
//! SIGTERM or ctrl-c stops it cleanly: Raft shut down, endpoint closed, peers told.
//!
//! It also serves Kubernetes' REST API over HTTPS (`--api-listen`, by default
//! `127.0.0.1:6443` for a `--bootstrap` member and off otherwise), with a certificate
//! from the cluster CA, and writes a kubeconfig for the admin user (`--kubeconfig`,
//! default `<data-dir>/admin.kubeconfig`), announced on a second stdout line:
//! `hive server <name> REST API on https://<addr>, kubeconfig <path>`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use actix::Arbiter;
use anyhow::{bail, Context as _};
use hive_actors::apiserver::kv::Kv;
use hive_actors::apiserver::rest::kubeconfig::{load_or_create_token, pem};
use hive_actors::apiserver::rest::{
    Authenticator, Kubeconfig, RestConfig, RestLimits, RestServer, RestServerError,
};
use hive_actors::apiserver::storage::Storage;
use hive_actors::apiserver::LocalApiClient;
use hive_raftstore::cluster::{
    member_child_name, start_supervised_member, ClusterOptions, MemberNetwork,
};
use hive_raftstore::lessor::{Clock, SkewableClock};
use hive_raftstore::network::{PeerAddr, QuicRaftNetwork, RaftRpcTimeouts};
use hive_raftstore::remote::{RemoteOptions, RemoteStore, StoreServer, StoreServerOptions};
use hive_raftstore::shard::{RaftInbox, ShardSlot};
use hive_raftstore::store::{ShardGroup, ShardMap, Store, StoreOptions};
use hive_raftstore::{NodeId, ShardId};
use hive_transport::supervise::RemoveChild;
use hive_transport::{ClusterCa, Endpoint, EndpointConfig, Identity, MemberName, Role, Router};

/// `hive server` arguments.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// This member's name: the DNS name in its certificate and in its address.
    #[arg(long)]
    name: String,
    /// This member's node id in the shard (unique, never reused).
    #[arg(long)]
    node_id: u64,
    /// Where the member keeps its log, snapshots and certificate.
    #[arg(long)]
    data_dir: PathBuf,
    /// The UDP address to serve on; peers and clients dial it, so name a specific IP.
    #[arg(long)]
    listen: SocketAddr,
    /// Found a new shard with this member as its only voter (ignored if the member's
    /// log already holds a shard).
    #[arg(long)]
    bootstrap: bool,
    /// Another member, `<node-id>=<name>@<ip>:<port>` (repeatable): made known to the
    /// endpoint, and asked to add this member when `--join` is given.
    #[arg(long = "peer", value_name = "ID=NAME@IP:PORT")]
    peers: Vec<PeerSpec>,
    /// Where the cluster CA lives (created by the first member that finds none);
    /// default `<data-dir>/ca`.
    #[arg(long)]
    ca_dir: Option<PathBuf>,
    /// Ask the shard, through the member at this address (`<name>@<ip>:<port>`, with or
    /// without `quic://`), to add this member, unless it already belongs to the shard.
    #[arg(long, value_name = "NAME@IP:PORT")]
    join: Option<String>,
    /// The shard this member serves.
    #[arg(long, default_value_t = 1)]
    shard: u32,
    /// Serve Kubernetes' REST API over HTTPS here (port 0: any free port). Default for a
    /// `--bootstrap` member: 127.0.0.1:6443 (skipped with a warning if taken).
    #[arg(long, value_name = "IP:PORT")]
    api_listen: Option<SocketAddr>,
    /// Do not serve the REST API.
    #[arg(long, conflicts_with = "api_listen")]
    no_api: bool,
    /// Also serve the REST API over plain HTTP on this loopback address; every request
    /// on it acts as the admin. For local debugging only.
    #[arg(long, value_name = "127.0.0.1:PORT")]
    api_insecure_listen: Option<SocketAddr>,
    /// Where to write the admin kubeconfig; default `<data-dir>/admin.kubeconfig`.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Non-mutating REST requests in flight at once (watches excepted); more are
    /// answered 429 Too Many Requests with Retry-After. 0: no limit.
    #[arg(long, default_value_t = RestLimits::default().max_requests_inflight)]
    max_requests_inflight: usize,
    /// Mutating REST requests (POST, PUT, PATCH, DELETE) in flight at once; more are
    /// answered 429. 0: no limit.
    #[arg(long, default_value_t = RestLimits::default().max_mutating_requests_inflight)]
    max_mutating_requests_inflight: usize,
    /// Events each resource's REST watch fan-out keeps: how far a REST watcher may fall
    /// behind before its stream is ended (the client resumes), and how far back a
    /// resume is served without a store watch of its own.
    #[arg(long, default_value_t = RestLimits::default().watch_queue_events)]
    watch_queue_events: usize,
}

/// The REST API's address when a bootstrap member is given none.
const DEFAULT_API_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 6443);

/// A `--peer` value: a node id and the member's address.
#[derive(Clone, Debug)]
pub struct PeerSpec {
    node: NodeId,
    addr: PeerAddr,
}

impl FromStr for PeerSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (id, addr) = s
            .split_once('=')
            .ok_or_else(|| format!("{s:?} is not <node-id>=<name>@<ip>:<port>"))?;
        let node = id
            .parse::<u64>()
            .map(NodeId)
            .map_err(|e| format!("{s:?}: node id {id:?}: {e}"))?;
        Ok(PeerSpec {
            node,
            addr: parse_member_addr(addr)?,
        })
    }
}

/// Parses `<name>@<ip>:<port>`, with or without the `quic://` scheme.
fn parse_member_addr(s: &str) -> Result<PeerAddr, String> {
    let full = if s.starts_with("quic://") {
        s.to_string()
    } else {
        format!("quic://{s}")
    };
    full.parse::<PeerAddr>().map_err(|e| e.to_string())
}

/// Runs the member until SIGTERM or ctrl-c.
pub fn run(args: Args) -> anyhow::Result<()> {
    if args.listen.ip().is_unspecified() {
        bail!(
            "--listen {}: name the IP peers and clients dial, not an unspecified address",
            args.listen
        );
    }
    let system = actix::System::new();
    system.block_on(serve(args))
}

async fn serve(args: Args) -> anyhow::Result<()> {
    let name = MemberName::new(args.name.clone()).context("--name")?;
    let node = NodeId(args.node_id);
    let shard = ShardId(args.shard);
    let ca_dir = args
        .ca_dir
        .clone()
        .unwrap_or_else(|| args.data_dir.join("ca"));
    let identity = load_identity(&ca_dir, &args.data_dir.join("pki"), &name)?;

    let opts = ClusterOptions {
        shard,
        ..ClusterOptions::default()
    };
    let config = EndpointConfig {
        listen: args.listen,
        ..EndpointConfig::default()
    };
    let endpoint = Endpoint::bind(&identity, config, Router::new())
        .with_context(|| format!("binding {}", args.listen))?;
    for p in &args.peers {
        tracing::info!(node = %p.node, addr = %p.addr, "known peer");
        endpoint.add_peer(p.addr.name.clone(), p.addr.addr);
    }
    let net = QuicRaftNetwork::serve(
        endpoint.clone(),
        RaftRpcTimeouts::from_raft_config(&opts.raft),
    );
    let me = net.local_peer_addr().context("the endpoint's address")?;
    let slot = ShardSlot::new();
    let server = StoreServer::new(StoreServerOptions::default());
    server.add_shard(shard, slot.clone());
    server.serve(&endpoint);

    let member_net = MemberNetwork {
        addr: me.to_string(),
        transport: Arc::new(net.clone()),
        inbox: Arc::new(net.clone()),
    };
    let clock = Arc::new(SkewableClock::default()) as Arc<dyn Clock>;
    let dir = args.data_dir.join(format!("shard-{}", shard.0));
    let cfg = opts.shard_config(node, dir, &member_net, clock, args.bootstrap);
    let arbiter = Arbiter::new();
    let supervisor = start_supervised_member(&arbiter.handle(), cfg, slot.clone());
    tracing::info!(member = %name, %node, %shard, addr = %me, bootstrap = args.bootstrap, "member starting");

    let running = wait_running(&slot, Duration::from_secs(120)).await;
    let rest = match &running {
        Ok(()) => start_rest(
            &args, &ca_dir, &identity, &name, shard, node, &slot, &endpoint, &me,
        ),
        Err(_) => Ok(None),
    };
    let result = match (running, rest) {
        (Err(e), _) | (Ok(()), Err(e)) => Err(e),
        (Ok(()), Ok(rest)) => {
            announce(format_args!("hive server {name} listening on {}", me.addr));
            if let Some((server, kubeconfig)) = &rest {
                announce(format_args!(
                    "hive server {name} REST API on https://{}, kubeconfig {}",
                    server.addr,
                    kubeconfig.display()
                ));
            }
            if let Some(join) = &args.join {
                let mut targets = vec![parse_member_addr(join).map_err(anyhow::Error::msg)?];
                targets.extend(args.peers.iter().map(|p| p.addr.clone()));
                let joiner = join_shard(
                    endpoint.clone(),
                    targets,
                    shard,
                    node,
                    me.to_string(),
                    slot.clone(),
                );
                actix::spawn(joiner);
            }
            let waited = wait_for_signal().await;
            if let Some((server, _)) = rest {
                server.stop().await;
            }
            waited
        }
    };

    tracing::info!(member = %name, "shutting down");
    supervisor
        .send(RemoveChild {
            name: member_child_name(shard),
        })
        .await
        .ok();
    if let Ok(r) = slot.get() {
        if tokio::time::timeout(Duration::from_secs(5), r.raft.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("raft did not shut down within 5s");
        }
    }
    slot.clear();
    net.unregister(shard, node);
    arbiter.stop();
    tokio::task::spawn_blocking(move || arbiter.join())
        .await
        .ok();
    let _ = tokio::time::timeout(Duration::from_secs(2), endpoint.close()).await;
    tracing::info!(member = %name, "stopped");
    result
}

/// Prints a line for the parent process on stdout. A parent that stopped reading (a
/// closed pipe) must not take a serving member down, as `println!` would by panicking:
/// the line then goes to the log only.
fn announce(line: std::fmt::Arguments<'_>) {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    let printed = out
        .write_fmt(line)
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush());
    match printed {
        Ok(()) => tracing::info!("{line}"),
        Err(error) => tracing::warn!(%error, "stdout is closed; not printed: {line}"),
    }
}

/// Starts the REST API as the flags say, and writes the admin kubeconfig; `None`
/// when it is off (or its default address is taken).
#[allow(clippy::too_many_arguments)]
fn start_rest(
    args: &Args,
    ca_dir: &Path,
    identity: &Identity,
    name: &MemberName,
    shard: ShardId,
    node: NodeId,
    slot: &ShardSlot,
    endpoint: &Endpoint,
    me: &PeerAddr,
) -> anyhow::Result<Option<(RestServer, PathBuf)>> {
    let (listen, explicit) = match (args.api_listen, args.no_api, args.bootstrap) {
        (_, true, _) => return Ok(None),
        (Some(addr), false, _) => (addr, true),
        (None, false, true) => (DEFAULT_API_LISTEN, false),
        (None, false, false) => return Ok(None),
    };
    // A single member reads and writes its own shard in process; a member with peers
    // goes through the QUIC client, which follows the leader wherever it is.
    let kv: Kv = if args.peers.is_empty() {
        let group = ShardGroup::new();
        group.add(node, slot.clone());
        Store::new(ShardMap::single(shard, group), StoreOptions::default()).into()
    } else {
        let mut members = vec![me.clone()];
        members.extend(args.peers.iter().map(|p| p.addr.clone()));
        RemoteStore::new(
            endpoint.clone(),
            members,
            RemoteOptions {
                shard,
                ..RemoteOptions::default()
            },
        )
        .into()
    };
    let client = Arc::new(LocalApiClient::new(Storage::new(kv)));
    let rest_dir = args.data_dir.join("rest");
    let token = load_or_create_token(&rest_dir.join("admin-token"))
        .with_context(|| format!("the admin token in {}", rest_dir.display()))?;
    let ca =
        ClusterCa::load(ca_dir).with_context(|| format!("cluster CA in {}", ca_dir.display()))?;
    let admin_name = MemberName::new("admin").context("the admin's name")?;
    let admin = Identity::load_or_issue(&rest_dir, &ca, &admin_name, Role::Member)
        .context("the admin's client certificate")?;
    let config = RestConfig {
        listen,
        identity: identity.clone(),
        auth: Authenticator::new([(token.clone(), "admin".to_owned())]),
        insecure_listen: args.api_insecure_listen,
        client,
        workers: 2,
    };
    let limits = RestLimits {
        max_requests_inflight: args.max_requests_inflight,
        max_mutating_requests_inflight: args.max_mutating_requests_inflight,
        watch_queue_events: args.watch_queue_events.max(1),
    };
    let server = match RestServer::start_with(config, limits) {
        Ok(server) => server,
        Err(error @ RestServerError::Bind { .. }) if !explicit => {
            tracing::warn!(%error, "REST API not served: its default address is taken (pass --api-listen)");
            return Ok(None);
        }
        Err(error) => return Err(error).context("starting the REST API"),
    };
    let kubeconfig = Kubeconfig {
        server: format!("https://{}", server.addr),
        ca_pem: ca.cert_pem().to_owned(),
        tls_server_name: name.to_string(),
        token,
        client_cert: Some((
            pem("CERTIFICATE", &admin.cert_chain()[0]),
            pem("PRIVATE KEY", admin.private_key().secret_der()),
        )),
    };
    let path = args
        .kubeconfig
        .clone()
        .unwrap_or_else(|| args.data_dir.join("admin.kubeconfig"));
    kubeconfig
        .write(&path)
        .with_context(|| format!("writing the kubeconfig {}", path.display()))?;
    tracing::info!(addr = %server.addr, kubeconfig = %path.display(), "REST API serving");
    Ok(Some((server, path)))
}

/// The CA from `ca_dir` (created if there is none) and this member's certificate from
/// `pki_dir` (issued by the CA if there is none). Members sharing one CA directory
/// serialize on a lock file, so two first starts cannot create two CAs.
fn load_identity(ca_dir: &Path, pki_dir: &Path, name: &MemberName) -> anyhow::Result<Identity> {
    std::fs::create_dir_all(ca_dir).with_context(|| format!("creating {}", ca_dir.display()))?;
    let lock_path = ca_dir.join(".lock");
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening {}", lock_path.display()))?;
    lock_exclusive(&lock).with_context(|| format!("locking {}", lock_path.display()))?;
    let ca = ClusterCa::load_or_create(ca_dir)
        .with_context(|| format!("cluster CA in {}", ca_dir.display()))?;
    drop(lock); // the lock goes with the descriptor
    Identity::load_or_issue(pki_dir, &ca, name, Role::Member)
        .with_context(|| format!("certificate of {name} in {}", pki_dir.display()))
}

/// Takes an exclusive advisory lock on `file`, waiting for it (released when the file
/// is closed or the process dies).
fn lock_exclusive(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    loop {
        // SAFETY: flock on a descriptor we own; no memory is passed.
        let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
        if rc == 0 {
            return Ok(());
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

/// Waits until the shard member opened its log and started Raft.
async fn wait_running(slot: &ShardSlot, timeout: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + timeout;
    while slot.get().is_err() {
        if tokio::time::Instant::now() >= deadline {
            bail!("the shard member did not start within {timeout:?} (see the log)");
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok(())
}

/// Resolves on SIGTERM or ctrl-c.
async fn wait_for_signal() -> anyhow::Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    tokio::select! {
        r = tokio::signal::ctrl_c() => r.context("waiting for ctrl-c")?,
        _ = term.recv() => {}
    }
    Ok(())
}

/// Asks the shard, through `targets`, to add this member; retries until it is done or
/// the member finds itself in the membership (added by someone else, or a restart of a
/// member that joined before).
async fn join_shard(
    endpoint: Endpoint,
    targets: Vec<PeerAddr>,
    shard: ShardId,
    node: NodeId,
    addr: String,
    slot: ShardSlot,
) {
    let is_member = || {
        slot.get().is_ok_and(|r| {
            r.raft
                .metrics()
                .borrow()
                .membership_config
                .membership()
                .get_node(&node)
                .is_some()
        })
    };
    let store = RemoteStore::new(
        endpoint,
        targets,
        RemoteOptions {
            shard,
            deadline: Duration::from_secs(60),
            ..RemoteOptions::default()
        },
    );
    let mut backoff = Duration::from_millis(200);
    while !is_member() {
        match store.add_member(node, addr.clone()).await {
            Ok(()) => {
                tracing::info!(%node, %shard, "joined the shard");
                return;
            }
            Err(error) => {
                tracing::warn!(%node, %shard, %error, "joining the shard failed; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(5));
            }
        }
    }
    tracing::info!(%node, %shard, "already a member of the shard; not joining");
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--peer` takes `<id>=<name>@<ip>:<port>` with or without the scheme, and refuses
    /// anything else with a reason.
    #[test]
    fn a_peer_argument_names_a_node_and_its_address() {
        let p: PeerSpec = "2=n2@127.0.0.1:7002".parse().expect("valid");
        assert_eq!(p.node, NodeId(2));
        assert_eq!(p.addr.to_string(), "quic://n2@127.0.0.1:7002");
        let p: PeerSpec = "3=quic://n3@127.0.0.1:7003".parse().expect("valid");
        assert_eq!(
            p.addr.addr,
            "127.0.0.1:7003".parse::<SocketAddr>().expect("addr")
        );
        for bad in [
            "n2@127.0.0.1:7002",
            "x=n2@127.0.0.1:7002",
            "2=127.0.0.1:7002",
            "2=n2@host:1",
        ] {
            assert!(bad.parse::<PeerSpec>().is_err(), "{bad}");
        }
    }
}
