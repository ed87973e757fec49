//! `hive server` as real processes: three members on loopback ports sharing one CA
//! directory, driven through `RemoteStore` from the test process. Every child process
//! is killed when the test ends, pass or fail (`Cluster`'s drop), and a failing test
//! prints the tail of each member's log.

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use hive_raftstore::network::PeerAddr;
use hive_raftstore::remote::{MemberRole, MemberStatus, RemoteOptions, RemoteStore};
use hive_raftstore::{Consistency, KeyRange, NodeId, RangeRequest, Revision};
use hive_transport::{ClusterCa, EndpointConfig, MemberName, Role, TransportSettings};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// Bound on any one wait of these tests.
const LONG: Duration = Duration::from_secs(60);

/// One `hive server` process: how it is started and, while it runs, the child.
struct Member {
    node: u64,
    name: String,
    port: u16,
    args: Vec<String>,
    log: PathBuf,
    /// The running process and its stdout (kept open: a closed pipe is tested apart).
    child: Option<(Child, Option<ChildStdout>)>,
}

/// The member processes of one test, in one temporary directory.
struct Cluster {
    dir: tempfile::TempDir,
    members: BTreeMap<u64, Member>,
}

/// A UDP port free on loopback right now (the member binds it a moment later).
fn free_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Cluster {
    /// Members `1..=n`, not started; `extra(node)` adds arguments to a member's command.
    fn new(n: u64, extra: impl Fn(u64) -> Vec<String>) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("hive-server-test")
            .tempdir()
            .expect("tempdir");
        let ca_dir = dir.path().join("ca");
        let mut members = BTreeMap::new();
        for node in 1..=n {
            let name = format!("n{node}");
            let port = free_port();
            let mut args = vec![
                "server".to_string(),
                "--name".into(),
                name.clone(),
                "--node-id".into(),
                node.to_string(),
                "--data-dir".into(),
                dir.path().join(&name).display().to_string(),
                "--listen".into(),
                format!("127.0.0.1:{port}"),
                "--ca-dir".into(),
                ca_dir.display().to_string(),
            ];
            args.extend(extra(node));
            let log = dir.path().join(format!("{name}.log"));
            members.insert(
                node,
                Member {
                    node,
                    name,
                    port,
                    args,
                    log,
                    child: None,
                },
            );
        }
        Cluster { dir, members }
    }

    fn member(&self, node: u64) -> &Member {
        self.members.get(&node).expect("a member of the test")
    }

    /// The member's address as the shard membership records it.
    fn addr(&self, node: u64) -> PeerAddr {
        let m = self.member(node);
        format!("quic://{}@127.0.0.1:{}", m.name, m.port)
            .parse()
            .expect("a member address")
    }

    /// Starts member `node` with its arguments and waits for its ready line.
    async fn start(&mut self, node: u64, more: &[&str]) {
        let mut child = self.spawn(node, more, Stdio::piped());
        let m = self.member(node);
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let want = format!("hive server {} listening on 127.0.0.1:{}", m.name, m.port);
        let line = tokio::time::timeout(LONG, lines.next_line())
            .await
            .unwrap_or_else(|_| panic!("{} not ready within {LONG:?}", m.name))
            .expect("reading the member's stdout");
        assert_eq!(
            line.as_deref(),
            Some(want.as_str()),
            "{}'s ready line",
            m.name
        );
        let m = self.members.get_mut(&node).expect("a member of the test");
        m.child = Some((child, Some(lines.into_inner().into_inner())));
    }

    /// Starts member `node` with `stdout` as its standard output; waits for nothing.
    fn start_with_stdout(&mut self, node: u64, more: &[&str], stdout: Stdio) {
        let child = self.spawn(node, more, stdout);
        let m = self.members.get_mut(&node).expect("a member of the test");
        m.child = Some((child, None));
    }

    fn spawn(&self, node: u64, more: &[&str], stdout: Stdio) -> Child {
        let m = self.member(node);
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&m.log)
            .expect("log file");
        Command::new(env!("CARGO_BIN_EXE_hive"))
            .args(&m.args)
            .args(more)
            .env("HIVE_LOG", "info")
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(Stdio::from(log))
            .kill_on_drop(true)
            .spawn()
            .expect("hive server starts")
    }

    /// `kill -9`: no clean shutdown of anything.
    async fn kill(&mut self, node: u64) {
        let m = self.members.get_mut(&node).expect("a member of the test");
        if let Some((mut child, _)) = m.child.take() {
            child.start_kill().expect("SIGKILL");
            child.wait().await.expect("reaped");
        }
    }

    /// A client process with its own certificate from the shared CA, knowing `nodes`.
    fn client(&self, nodes: &[u64]) -> RemoteStore {
        let ca = ClusterCa::load(&self.dir.path().join("ca")).expect("the members' CA");
        let identity = ca
            .issue(&MemberName::new("test-client").expect("name"), Role::Member)
            .expect("client certificate");
        let config = EndpointConfig {
            connect_timeout: Duration::from_secs(1),
            // A member killed without a word is given up on in seconds, not half a minute.
            transport: TransportSettings {
                idle_timeout: Duration::from_secs(3),
                keep_alive: Duration::from_millis(500),
                ..TransportSettings::default()
            },
            ..EndpointConfig::default()
        };
        let opts = RemoteOptions {
            attempt_timeout: Duration::from_secs(2),
            deadline: Duration::from_secs(20),
            ..RemoteOptions::default()
        };
        let members = nodes.iter().map(|&n| self.addr(n));
        RemoteStore::connect(&identity, config, members, opts).expect("client endpoint")
    }

    /// Polls `node`'s own status until `cond` holds.
    async fn wait_status(
        &self,
        client: &RemoteStore,
        node: u64,
        what: &str,
        cond: impl Fn(&MemberStatus) -> bool,
    ) -> MemberStatus {
        let deadline = tokio::time::Instant::now() + LONG;
        let addr = self.addr(node);
        loop {
            let last = client.member_status(&addr).await;
            if let Ok(s) = &last {
                if cond(s) {
                    return s.clone();
                }
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out after {LONG:?} waiting until {what}; last status of n{node}: {last:?}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for m in self.members.values_mut() {
            if let Some((mut child, _)) = m.child.take() {
                let _ = child.start_kill();
            }
        }
        if std::thread::panicking() {
            for m in self.members.values() {
                let log = std::fs::read_to_string(&m.log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                eprintln!("---- last lines of n{} ({}) ----", m.node, m.log.display());
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
            }
        }
    }
}

/// Polls `f` until it answers something, for at most [`LONG`].
async fn poll_until<T>(what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + LONG;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {LONG:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn key(i: usize) -> String {
    format!("/k/{i:04}")
}

/// Puts keys `0..n` from `workers` concurrent tasks; every put must be acknowledged.
async fn write_keys(client: &RemoteStore, n: usize, workers: usize) -> BTreeMap<usize, Revision> {
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..workers {
        let (client, next) = (client.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if i >= n {
                    return acked;
                }
                let r = client.put(key(i), format!("v{i}")).await;
                acked.push((i, r.unwrap_or_else(|e| panic!("put {i}: {e}")).revision));
            }
        }));
    }
    let mut acked = BTreeMap::new();
    for t in tasks {
        acked.extend(t.await.expect("writer task"));
    }
    acked
}

/// Three `hive server` processes: member 1 bootstraps, 2 and 3 are added through
/// `RemoteStore`, 500 keys are written; the leader is killed with SIGKILL, the survivors
/// elect a new leader and every acknowledged key is readable at its revision; the
/// killed process restarted with the same arguments rejoins and applies up to where
/// the leader had got.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_killing_the_leader_process_and_it_rejoins_on_restart() {
    let mut c = Cluster::new(3, |node| {
        if node == 1 {
            vec!["--bootstrap".into()]
        } else {
            Vec::new()
        }
    });
    c.start(1, &[]).await;
    c.start(2, &[]).await;
    c.start(3, &[]).await;
    let client = c.client(&[1, 2, 3]);
    for node in [2, 3] {
        client
            .add_member(NodeId(node), c.addr(node).to_string())
            .await
            .unwrap_or_else(|e| panic!("adding n{node}: {e}"));
    }
    let leader = c
        .wait_status(&client, 1, "n1 leads three voters", |s| {
            s.role == MemberRole::Leader && s.voters.len() == 3
        })
        .await;

    let acked = write_keys(&client, 500, 8).await;
    assert_eq!(acked.len(), 500);

    let old = leader.node;
    c.kill(old.0).await;
    let survivors: Vec<u64> = [1, 2, 3].into_iter().filter(|&n| n != old.0).collect();
    let mut new_leader = None;
    let deadline = tokio::time::Instant::now() + LONG;
    while new_leader.is_none() {
        for &n in &survivors {
            if let Ok(s) = client.member_status(&c.addr(n)).await {
                if s.role == MemberRole::Leader && s.term > leader.term {
                    new_leader = Some(s);
                }
            }
        }
        assert!(tokio::time::Instant::now() < deadline, "no new leader");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let new_leader = new_leader.expect("a new leader");

    let all = client
        .range(
            RangeRequest {
                range: KeyRange::prefix("/k/"),
                ..Default::default()
            },
            Consistency::Linearizable,
        )
        .await
        .expect("read after the kill");
    assert_eq!(
        all.kvs.len(),
        acked.len(),
        "every acknowledged key is there"
    );
    for kv in &all.kvs {
        let i: usize = String::from_utf8_lossy(&kv.key[3..])
            .parse()
            .expect("a test key");
        assert_eq!(kv.value, format!("v{i}").into_bytes(), "value of key {i}");
        assert_eq!(Some(&kv.mod_revision), acked.get(&i), "revision of key {i}");
    }
    let after = client
        .put("/after", "kill")
        .await
        .expect("a write after the kill");

    c.start(old.0, &[]).await;
    let target = c
        .wait_status(
            &client,
            new_leader.node.0,
            "the new leader applied the write",
            |s| s.revision >= after.revision,
        )
        .await;
    let caught_up = c
        .wait_status(&client, old.0, "the restarted member catches up", |s| {
            s.applied_index >= target.applied_index
        })
        .await;
    assert_eq!(caught_up.role, MemberRole::Follower);
    assert!(caught_up.revision >= after.revision);
}

/// A member started with `--join <member>` adds itself to the shard (learner, then
/// voter) without any client's help, serves reads, and stops cleanly on SIGTERM (exit
/// status 0, within seconds).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_started_with_join_adds_itself_and_stops_cleanly_on_sigterm() {
    let mut c = Cluster::new(2, |node| {
        if node == 1 {
            vec!["--bootstrap".into()]
        } else {
            Vec::new()
        }
    });
    c.start(1, &[]).await;
    let client = c.client(&[1]);
    let w = client
        .put("/before-join", "x")
        .await
        .expect("write on one member");
    let join = format!("n1@127.0.0.1:{}", c.member(1).port);
    c.start(2, &["--join", join.as_str()]).await;
    let joined = c
        .wait_status(
            &client,
            2,
            "n2 is a voter and applied the first write",
            |s| s.voters.contains(&NodeId(2)) && s.revision >= w.revision,
        )
        .await;
    assert_eq!(joined.role, MemberRole::Follower);

    let m = c.members.get_mut(&2).expect("n2");
    let (mut child, _) = m.child.take().expect("n2 running");
    let pid = child.id().expect("a pid") as libc::pid_t;
    // SAFETY: signalling a child process this test started and has not reaped.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    let status = tokio::time::timeout(Duration::from_secs(20), child.wait())
        .await
        .expect("n2 exits within 20s of SIGTERM")
        .expect("reaped");
    assert!(status.success(), "n2 exited with {status}");

    // The remaining member still answers (it alone cannot commit without n2 now).
    let s = client
        .member_status(&c.addr(1))
        .await
        .expect("n1 still serves");
    assert_eq!(s.voters.len(), 2);
}

/// A parent that stops reading the server's stdout must not take the server down: its
/// announcements go to the log instead. (The bench harness once read the ready line and
/// closed the pipe; the member then died printing its REST line, "failed printing to
/// stdout: Broken pipe", and the bench saw a member that accepted no connection.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_member_whose_stdout_is_closed_keeps_serving() {
    let mut cluster = Cluster::new(1, |_| Vec::new());
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    cluster.start_with_stdout(
        1,
        &["--bootstrap", "--api-listen", "127.0.0.1:0"],
        Stdio::from(writer),
    );
    // The member creates the cluster CA as it starts; the client's certificate needs it.
    let ca_dir = cluster.dir.path().join("ca");
    poll_until("the member's cluster CA", || ClusterCa::load(&ca_dir).ok()).await;
    let client = cluster.client(&[1]);
    // The put waits out the member's start and election (the client's deadline).
    let rev = client
        .put("/closed-stdout".to_string(), b"v".to_vec())
        .await
        .expect("a put on the member whose stdout is closed");
    assert!(rev.revision.0 > 0, "revision {rev:?}");
    // Serving may begin before the announcements are printed: wait for the member to
    // say it could not print them, failing at once if it died instead.
    let log_path = cluster.member(1).log.clone();
    let m = cluster.members.get_mut(&1).expect("member 1");
    let (child, _) = m.child.as_mut().expect("started");
    poll_until("the member saying its announcement was not printed", || {
        let log = std::fs::read_to_string(&log_path).unwrap_or_default();
        let exited = child.try_wait().expect("child state");
        assert!(
            exited.is_none() && !log.contains("panicked"),
            "the member died after its stdout was closed ({exited:?}):\n{log}"
        );
        log.contains("stdout is closed").then_some(())
    })
    .await;
    let got = client
        .get("/closed-stdout")
        .await
        .expect("a read after the announcements");
    assert_eq!(got.map(|kv| kv.value), Some(b"v".to_vec()));
}
