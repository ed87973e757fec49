//! `hive bench api`: the API storage path. Create, get, update and list
//! throughput with p50/p99 latency through the in-process `LocalApiClient`
//! and through `RemoteApiClient` over QUIC on loopback, on a one-member
//! store; and what a field selector costs per watch event when it reads the
//! archived envelope versus decoding the object first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use hive_actors::api::object::{CONFIG_MAP, POD};
use hive_actors::api::{core, Object, ObjectMeta};
use hive_actors::apiserver::envelope::{self, envelope_of, Selection};
use hive_actors::apiserver::{
    ApiClient, ApiQuicServer, GetOptions, Kv, ListOptions, LocalApiClient, RemoteApiClient,
    RemoteApiOptions, Storage,
};
use hive_raftstore::cluster::{ClusterOptions, LocalCluster};
use hive_transport::{ClusterCa, Endpoint, EndpointConfig, MemberName, Role};
use serde::Serialize;

use super::report::Report;

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Tiny sizes, for CI: every case runs end to end, nothing is meant as a figure.
    #[arg(long)]
    quick: bool,
    /// Objects written (and read, and updated) per client kind.
    #[arg(long, default_value_t = 2000)]
    objects: usize,
    /// Concurrent callers.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Full lists of all objects per client kind.
    #[arg(long, default_value_t = 20)]
    lists: usize,
    /// Watch events (archived pods) the selector cost is measured over.
    #[arg(long, default_value_t = 20_000)]
    selector_events: usize,
    /// Where the store keeps its data (the disk being measured).
    #[arg(long, default_value = "bench/tmp")]
    data_dir: PathBuf,
    /// Also write the JSON here.
    #[arg(long)]
    out: Option<PathBuf>,
}

/// One operation's figures.
#[derive(Serialize, Debug)]
struct OpResult {
    op: &'static str,
    count: usize,
    concurrency: usize,
    ops_per_sec: f64,
    p50_us: u64,
    p99_us: u64,
    max_us: u64,
}

/// One client kind's figures.
#[derive(Serialize, Debug)]
struct ClientResult {
    client: &'static str,
    how: &'static str,
    ops: Vec<OpResult>,
}

/// Field-selector evaluation cost per event.
#[derive(Serialize, Debug)]
struct SelectorResult {
    events: usize,
    selector: &'static str,
    matched: usize,
    archived_ns_per_event: f64,
    decoded_ns_per_event: f64,
    speedup: f64,
    note: &'static str,
}

#[derive(Serialize, Debug)]
struct Results {
    store: &'static str,
    clients: Vec<ClientResult>,
    selector: SelectorResult,
}

fn percentile(sorted: &[Duration], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    u64::try_from(sorted[i.min(sorted.len() - 1)].as_micros()).unwrap_or(u64::MAX)
}

fn config_map(i: usize, data: &str) -> Object {
    let mut cm = core::ConfigMap {
        metadata: ObjectMeta {
            name: format!("cm-{i:06}"),
            namespace: "bench".into(),
            labels: [("app".to_owned(), format!("a{}", i % 10))].into(),
            ..ObjectMeta::default()
        },
        ..core::ConfigMap::default()
    };
    cm.data.insert("payload".into(), data.to_owned());
    Object::from(cm)
}

/// Runs `op(i)` for i in 0..count with `concurrency` callers; figures.
async fn measure<F, Fut>(
    name: &'static str,
    count: usize,
    concurrency: usize,
    op: F,
) -> anyhow::Result<OpResult>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = anyhow::Result<()>> + Send,
{
    let op = Arc::new(op);
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (op, next) = (op.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= count {
                    return Ok::<_, anyhow::Error>(lat);
                }
                let t = Instant::now();
                op(i).await?;
                lat.push(t.elapsed());
            }
        }));
    }
    let mut all = Vec::with_capacity(count);
    for t in tasks {
        all.extend(t.await??);
    }
    let elapsed = start.elapsed();
    all.sort();
    Ok(OpResult {
        op: name,
        count,
        concurrency,
        ops_per_sec: count as f64 / elapsed.as_secs_f64().max(1e-9),
        p50_us: percentile(&all, 0.50),
        p99_us: percentile(&all, 0.99),
        max_us: all
            .last()
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
            .unwrap_or(0),
    })
}

/// Create, get, update and list through `client`.
async fn run_client(
    name: &'static str,
    how: &'static str,
    client: Arc<dyn ApiClient>,
    args: &Args,
) -> anyhow::Result<ClientResult> {
    let n = args.objects;
    let cc = args.concurrency;
    let payload = "x".repeat(256);
    let mut ops = Vec::new();
    // A fresh namespace per client kind: each measures the same amount of data.
    let ns = "bench";
    for o in ["bench"] {
        let mut nsobj = core::Namespace::default();
        nsobj.metadata.name = o.into();
        let _ = client.create(Object::from(nsobj), Default::default()).await;
    }
    let c = client.clone();
    let p = payload.clone();
    ops.push(
        measure("create", n, cc, move |i| {
            let (c, p) = (c.clone(), p.clone());
            async move {
                c.create(config_map(i, &p), Default::default())
                    .await
                    .map(|_| ())
                    .map_err(anyhow::Error::from)
            }
        })
        .await?,
    );
    let c = client.clone();
    ops.push(
        measure("get", n, cc, move |i| {
            let c = c.clone();
            async move {
                c.get(
                    &CONFIG_MAP,
                    ns,
                    &format!("cm-{i:06}"),
                    GetOptions::default(),
                )
                .await
                .map(|_| ())
                .map_err(anyhow::Error::from)
            }
        })
        .await?,
    );
    let c = client.clone();
    ops.push(
        measure("update", n, cc, move |i| {
            let c = c.clone();
            async move {
                let mut o = c
                    .get(
                        &CONFIG_MAP,
                        ns,
                        &format!("cm-{i:06}"),
                        GetOptions::default(),
                    )
                    .await?;
                o.metadata_mut()
                    .annotations
                    .insert("bench".into(), "updated".into());
                c.update(o, Default::default()).await?;
                Ok(())
            }
        })
        .await?,
    );
    let c = client.clone();
    ops.push(
        measure("list_all", args.lists, 1, move |_| {
            let c = c.clone();
            async move {
                let l = c.list(&CONFIG_MAP, ns, ListOptions::default()).await?;
                anyhow::ensure!(l.items.len() == n, "listed {} of {n}", l.items.len());
                Ok(())
            }
        })
        .await?,
    );
    let c = client.clone();
    ops.push(
        measure("list_label_selector", args.lists, 1, move |_| {
            let c = c.clone();
            async move {
                let l = c
                    .list(
                        &CONFIG_MAP,
                        ns,
                        ListOptions {
                            label_selector: "app=a3".into(),
                            ..ListOptions::default()
                        },
                    )
                    .await?;
                anyhow::ensure!(!l.items.is_empty() || n < 4, "nothing selected");
                Ok(())
            }
        })
        .await?,
    );
    // Clean up so the next client kind starts from the same state.
    client
        .delete_collection(&CONFIG_MAP, ns, ListOptions::default(), Default::default())
        .await?;
    Ok(ClientResult {
        client: name,
        how,
        ops,
    })
}

/// Field-selector cost per event: on the archived envelope vs decode first.
fn selector_cost(events: usize) -> anyhow::Result<SelectorResult> {
    let stored: Vec<Vec<u8>> = (0..events)
        .map(|i| {
            let json = serde_json::json!({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": format!("p{i}"), "namespace": "shop",
                             "labels": {"app": "web", "pod-template-hash": "5d8f9c"}},
                "spec": {"nodeName": format!("node-{}", i % 100),
                         "containers": [{"name": "app", "image": "nginx:1.27",
                                         "ports": [{"containerPort": 80}],
                                         "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]},
                "status": {"phase": "Running", "podIP": "10.0.0.1"}
            });
            envelope::encode(&envelope_of(&POD, &json)?)
        })
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let selector = "spec.nodeName=node-7";
    let sel = Selection::parse(&POD, "", selector).map_err(|e| anyhow::anyhow!("{e}"))?;
    // Warm up both paths once.
    let _ = stored.iter().filter(|b| sel.matches_bytes(b)).count();
    let t = Instant::now();
    let fast = stored.iter().filter(|b| sel.matches_bytes(b)).count();
    let archived = t.elapsed();
    let t = Instant::now();
    let mut slow = 0;
    for b in &stored {
        let o = envelope::decode(b, 1).map_err(|e| anyhow::anyhow!("{e}"))?;
        if sel.matches_object(&POD, &o) {
            slow += 1;
        }
    }
    let decoded = t.elapsed();
    anyhow::ensure!(fast == slow, "the two paths disagree: {fast} vs {slow}");
    let per = |d: Duration| d.as_nanos() as f64 / events.max(1) as f64;
    Ok(SelectorResult {
        events,
        selector,
        matched: fast,
        archived_ns_per_event: per(archived),
        decoded_ns_per_event: per(decoded),
        speedup: per(decoded) / per(archived).max(1e-9),
        note: "archived: validate the rkyv envelope and read its fields (the stored bytes are \
               copied once when misaligned, as a watch event's are); decoded: parse the object's \
               JSON into the typed object, then evaluate on it",
    })
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.objects = args.objects.min(40);
        args.concurrency = args.concurrency.min(4);
        args.lists = args.lists.min(3);
        args.selector_events = args.selector_events.min(500);
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("api-")
        .tempdir_in(&args.data_dir)?;
    let system = actix::System::new();
    let results = system.block_on(async {
        let mut opts = ClusterOptions::default();
        opts.raft.heartbeat_interval = 100;
        opts.raft.election_timeout_min = 400;
        opts.raft.election_timeout_max = 800;
        let cluster = LocalCluster::start(dir.path(), 1, opts)
            .await
            .map_err(|e| anyhow::anyhow!("starting the store: {e:?}"))?;
        let kv = Kv::from(cluster.store());
        let local: Arc<dyn ApiClient> = Arc::new(LocalApiClient::new(Storage::new(kv.clone())));
        let mut clients = vec![
            run_client(
                "local",
                "LocalApiClient: the storage layer called on the caller's task, in process",
                local,
                &args,
            )
            .await?,
        ];
        let ca = ClusterCa::generate()?;
        let server_name = MemberName::new("apiserver")?;
        let server = ApiQuicServer::new(Storage::new(kv.clone()), Duration::from_secs(2));
        let server_ep = Endpoint::bind(
            &ca.issue(&server_name, Role::Member)?,
            EndpointConfig::default(),
            server.router(),
        )?;
        let remote: Arc<dyn ApiClient> = Arc::new(RemoteApiClient::connect(
            &ca.issue(&MemberName::new("bench-client")?, Role::Member)?,
            EndpointConfig::default(),
            server_name,
            server_ep.local_addr()?,
            RemoteApiOptions::default(),
        )?);
        clients.push(
            run_client(
                "remote",
                "RemoteApiClient over QUIC on loopback to an ApiQuicServer in the same process \
                 (rkyv messages, objects as JSON inside)",
                remote,
                &args,
            )
            .await?,
        );
        drop(server_ep);
        Ok::<_, anyhow::Error>(Results {
            store: "one member, in process, on --data-dir",
            clients,
            selector: selector_cost(args.selector_events)?,
        })
    })?;
    Report::new("api", results).emit(args.out.as_deref())
}
