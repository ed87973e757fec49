//! `hive bench rest`: Kubernetes' REST API as clients meet it. A one-member Hive
//! (`hive server`, this binary, as its own process) serves the REST edge over HTTPS;
//! this process drives it with hyper over rustls (ring), keep-alive connections.
//!
//! Two parts, each optional:
//! - create/get/list of pods (about 1.5 KiB of JSON each) at concurrencies 1 and 16
//!   (one connection per concurrent client): p50/p99 latency and ops/s per verb;
//! - watch fan-out ([`super::rest_watch`]): N watchers of a namespace's pods, a writer
//!   patching pods at M updates/s, delivered events/s and update-to-event latency.
//!
//! The REST edge (actix-web built without its `http2` feature) speaks HTTP/1.1 only,
//! so every concurrent request and every watch holds its own connection (client-go
//! would multiplex them over HTTP/2 against kube-apiserver). A `429 Too Many Requests`
//! is counted, waited out (its `Retry-After`, else 100 ms) and retried; the wait is
//! part of the request's latency.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST, RETRY_AFTER};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use serde::Serialize;
use serde_json::{json, Value};

use super::member::{MemberProcess, RestAccess};
use super::procstat::{self, LoadAvg};
use super::report::{Percentiles, Report};
use super::rest_watch;
use super::store::parse_duration;

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Tiny sizes, for CI: every part runs end to end, nothing is meant as a figure.
    #[arg(long)]
    pub quick: bool,
    /// Concurrent clients for create/get/list (one HTTPS connection each).
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    pub concurrency: Vec<usize>,
    /// Creates (and as many gets) per concurrency.
    #[arg(long, default_value_t = 2000)]
    pub ops: usize,
    /// Pods in the namespace the list case lists (each list returns all of them).
    #[arg(long, default_value_t = 100)]
    pub list_size: usize,
    /// Lists per concurrency.
    #[arg(long, default_value_t = 200)]
    pub list_ops: usize,
    /// Watch fan-out: watcher counts (N), one HTTPS connection each.
    #[arg(long, value_delimiter = ',', default_value = "100,1000,10000")]
    pub watchers: Vec<usize>,
    /// Watch fan-out: update rates in updates/s (M).
    #[arg(long, value_delimiter = ',', default_value = "100,1000")]
    pub rates: Vec<u32>,
    /// Watch fan-out: pods the writer cycles through.
    #[arg(long, default_value_t = 100)]
    pub pods: usize,
    /// Watch fan-out: concurrent writer connections sharing the update schedule.
    #[arg(long, default_value_t = 16)]
    pub writers: usize,
    /// Watch fan-out: writing time per case.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    pub duration: Duration,
    /// Watch fan-out: after writing stops, how long to wait at most for deliveries.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    pub drain: Duration,
    /// Skip create/get/list.
    #[arg(long)]
    pub skip_crud: bool,
    /// Skip the watch fan-out.
    #[arg(long)]
    pub skip_watch: bool,
    /// Where the member keeps its data.
    #[arg(long, default_value = "bench/tmp")]
    pub data_dir: PathBuf,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

const SETUP: &str = "one member as its own process (`hive server --bootstrap --api-listen \
    127.0.0.1:0`, this binary) on 127.0.0.1, data on the bench data dir; clients in this \
    process on one multi-threaded tokio runtime: hyper 1 HTTP/1.1 over tokio-rustls (ring), \
    TLS 1.3, keep-alive, one connection per concurrent client and per watch (the REST edge \
    serves HTTP/1.1 only), bearer token of the admin kubeconfig; the member's CPU and RSS \
    are read from /proc by pid, the clients' from this process";

/// The whole run.
#[derive(Serialize, Debug)]
pub struct RestBench {
    pub setup: &'static str,
    pub http_version: &'static str,
    /// Bytes of one create body (the pod as sent) and of the stored pod as returned.
    pub pod_request_bytes: usize,
    pub pod_response_bytes: usize,
    pub crud: Vec<CrudResult>,
    pub watch: Option<rest_watch::WatchResults>,
}

/// One verb at one concurrency.
#[derive(Serialize, Debug, Clone)]
pub struct VerbResult {
    pub ops: usize,
    pub errors: u64,
    pub throttled_429: u64,
    pub seconds: f64,
    pub ops_per_sec: f64,
    pub latency: Percentiles,
    /// Bytes of response body per op (list: the whole list).
    pub response_bytes_per_op: f64,
}

/// create/get/list at one concurrency, on a fresh member.
#[derive(Serialize, Debug, Clone)]
pub struct CrudResult {
    pub concurrency: usize,
    pub create: VerbResult,
    pub get: VerbResult,
    /// Each list returns every pod of a namespace holding `list_items`.
    pub list: VerbResult,
    pub list_items: usize,
    pub server_cpu_seconds: f64,
    pub client_cpu_seconds: f64,
    pub server_rss_bytes: u64,
    pub load_avg_before: LoadAvg,
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.concurrency = vec![1, 4];
        args.ops = 40;
        args.list_size = 20;
        args.list_ops = 10;
        args.watchers = vec![20];
        args.rates = vec![50];
        args.pods = 10;
        args.writers = 2;
        args.duration = Duration::from_millis(1500);
        args.drain = Duration::from_secs(5);
    }
    if args.concurrency.contains(&0)
        || args.ops == 0
        || args.list_size == 0
        || args.list_ops == 0
        || args.watchers.contains(&0)
        || args.rates.contains(&0)
        || args.pods == 0
        || args.writers == 0
    {
        bail!(
            "--concurrency, --ops, --list-size, --list-ops, --watchers, --rates, --pods and \
             --writers must be at least 1"
        );
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let sample = pod("sample", "bench", 0).to_string();
    let results = rt.block_on(async {
        let mut crud = Vec::new();
        let mut pod_response_bytes = 0;
        if !args.skip_crud {
            for &c in &args.concurrency {
                let (r, resp) = run_crud(&args, c)
                    .await
                    .with_context(|| format!("create/get/list at concurrency {c}"))?;
                eprintln!(
                    "rest crud c={c}: create {:.0}/s p99 {:.2} ms, get {:.0}/s p99 {:.2} ms, \
                     list({}) {:.0}/s p99 {:.2} ms",
                    r.create.ops_per_sec,
                    r.create.latency.p99_ms,
                    r.get.ops_per_sec,
                    r.get.latency.p99_ms,
                    r.list_items,
                    r.list.ops_per_sec,
                    r.list.latency.p99_ms
                );
                pod_response_bytes = resp;
                crud.push(r);
            }
        }
        let watch = if args.skip_watch {
            None
        } else {
            Some(rest_watch::run(&args).await?)
        };
        anyhow::Ok(RestBench {
            setup: SETUP,
            http_version: "HTTP/1.1",
            pod_request_bytes: sample.len(),
            pod_response_bytes,
            crud,
            watch,
        })
    })?;
    Report::new("rest", results).emit(args.out.as_deref())
}

/// create, get, then list at concurrency `c` on a fresh member; also the size of one
/// created pod as returned.
async fn run_crud(args: &Args, c: usize) -> anyhow::Result<(CrudResult, usize)> {
    let load_avg_before = LoadAvg::now();
    let member = MemberProcess::start_rest(&args.data_dir)?;
    let client = RestClient::for_member(&member)?;
    let mut setup = client.connect().await?;
    setup.ensure_namespace("bench").await?;
    setup.ensure_namespace("bench-list").await?;
    // The list namespace's pods, created before the clock starts.
    create_pods(&client, "bench-list", "list", args.list_size, 0, 16, None).await?;
    let first = setup
        .call(
            Method::GET,
            "/api/v1/namespaces/bench-list/pods/list-0",
            None,
        )
        .await?;
    let pod_response_bytes = first.1.len();

    let server0 = procstat::sample(member.pid())?;
    let client0 = procstat::sample_self()?;
    let create = run_verb(&client, c, args.ops, |i| {
        let body = pod(&format!("crud-{i}"), "bench", 0).to_string();
        (
            Method::POST,
            "/api/v1/namespaces/bench/pods".to_owned(),
            Some(Bytes::from(body)),
            StatusCode::CREATED,
        )
    })
    .await?;
    let get = run_verb(&client, c, args.ops, |i| {
        (
            Method::GET,
            format!("/api/v1/namespaces/bench/pods/crud-{i}"),
            None,
            StatusCode::OK,
        )
    })
    .await?;
    let list = run_verb(&client, c, args.list_ops, |_| {
        (
            Method::GET,
            "/api/v1/namespaces/bench-list/pods".to_owned(),
            None,
            StatusCode::OK,
        )
    })
    .await?;
    let server1 = procstat::sample(member.pid())?;
    let client1 = procstat::sample_self()?;
    // Every list must have returned the namespace's pods: count them once more.
    let (_, body) = setup
        .call(Method::GET, "/api/v1/namespaces/bench-list/pods", None)
        .await?;
    let list_items = count_items(&body)?;
    if list_items != args.list_size {
        bail!(
            "a list returned {list_items} pods, {} were created",
            args.list_size
        );
    }
    Ok((
        CrudResult {
            concurrency: c,
            create,
            get,
            list,
            list_items,
            server_cpu_seconds: server1.cpu_seconds - server0.cpu_seconds,
            client_cpu_seconds: client1.cpu_seconds - client0.cpu_seconds,
            server_rss_bytes: server1.rss_bytes,
            load_avg_before,
        },
        pod_response_bytes,
    ))
}

/// `ops` requests from `c` concurrent clients (each its own connection) taking request
/// numbers in turn; `make(i)` gives request `i` and the status it must answer.
async fn run_verb(
    client: &RestClient,
    c: usize,
    ops: usize,
    make: impl Fn(usize) -> (Method, String, Option<Bytes>, StatusCode) + Send + Sync + 'static,
) -> anyhow::Result<VerbResult> {
    let make = Arc::new(make);
    let next = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let bytes = Arc::new(AtomicU64::new(0));
    let throttled0 = client.throttled();
    let mut conns = Vec::with_capacity(c);
    for _ in 0..c {
        conns.push(client.connect().await?);
    }
    let start = Instant::now();
    let tasks: Vec<_> = conns
        .into_iter()
        .map(|mut conn| {
            let (make, next, errors, bytes) =
                (make.clone(), next.clone(), errors.clone(), bytes.clone());
            tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut first_error = None;
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= ops {
                        break;
                    }
                    let (method, path, body, want) = make(i);
                    let t = Instant::now();
                    match conn.call(method, &path, body).await {
                        Ok((status, body)) if status == want => {
                            lat.push(t.elapsed());
                            bytes.fetch_add(body.len() as u64, Ordering::Relaxed);
                        }
                        Ok((status, body)) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error.get_or_insert_with(|| {
                                format!(
                                    "{path}: {status}: {}",
                                    String::from_utf8_lossy(&body[..body.len().min(300)])
                                )
                            });
                        }
                        Err(e) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                            first_error.get_or_insert_with(|| format!("{path}: {e:#}"));
                            // The connection may be gone; a fresh one for the rest.
                            if let Ok(fresh) = conn.reconnect().await {
                                conn = fresh;
                            }
                        }
                    }
                }
                (lat, first_error)
            })
        })
        .collect();
    let mut lat = Vec::with_capacity(ops);
    let mut first_error = None;
    for t in tasks {
        let (l, e) = t.await.context("a client task")?;
        lat.extend(l);
        if first_error.is_none() {
            first_error = e;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    let errors = errors.load(Ordering::Relaxed);
    if let Some(e) = first_error {
        tracing::warn!(errors, first = %e, "REST requests failed");
        if lat.is_empty() {
            bail!("every request failed; the first: {e}");
        }
    }
    let ok = lat.len();
    Ok(VerbResult {
        ops,
        errors,
        throttled_429: client.throttled() - throttled0,
        seconds,
        ops_per_sec: ok as f64 / seconds.max(1e-9),
        latency: Percentiles::of(&mut lat),
        response_bytes_per_op: bytes.load(Ordering::Relaxed) as f64 / ok.max(1) as f64,
    })
}

/// Creates pods `<prefix>-<i>` for `i` in `0..n` in `namespace`, `concurrency` at a
/// time, each padded with `filler` bytes of annotation; prints progress to stderr when
/// `progress` names the phase.
pub(super) async fn create_pods(
    client: &RestClient,
    namespace: &str,
    prefix: &str,
    n: usize,
    filler: usize,
    concurrency: usize,
    progress: Option<&str>,
) -> anyhow::Result<()> {
    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..concurrency.clamp(1, n.max(1)) {
        let mut conn = client.connect().await?;
        let (next, done) = (next.clone(), done.clone());
        let (namespace, prefix) = (namespace.to_owned(), prefix.to_owned());
        tasks.push(tokio::spawn(async move {
            let path = format!("/api/v1/namespaces/{namespace}/pods");
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return anyhow::Ok(());
                }
                let body = pod(&format!("{prefix}-{i}"), &namespace, filler).to_string();
                let (status, resp) = conn.call(Method::POST, &path, Some(body.into())).await?;
                if status != StatusCode::CREATED && status != StatusCode::CONFLICT {
                    bail!(
                        "creating {prefix}-{i}: {status}: {}",
                        String::from_utf8_lossy(&resp[..resp.len().min(300)])
                    );
                }
                done.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    let start = Instant::now();
    let all = futures::future::try_join_all(tasks);
    tokio::pin!(all);
    loop {
        tokio::select! {
            r = &mut all => {
                for t in r.context("a create task")? {
                    t?;
                }
                break;
            }
            _ = tokio::time::sleep(Duration::from_secs(2)), if progress.is_some() => {
                let d = done.load(Ordering::Relaxed);
                eprintln!(
                    "{}: created {d}/{n} pods ({:.0}/s)",
                    progress.unwrap_or(""),
                    d as f64 / start.elapsed().as_secs_f64()
                );
            }
        }
    }
    Ok(())
}

/// A pod as a controller would create it: labels, annotations, two containers with
/// ports, env, resources, probes and mounts, volumes; about 1.5 KiB of JSON, plus an
/// annotation of `filler` bytes.
pub(super) fn pod(name: &str, namespace: &str, filler: usize) -> Value {
    let mut annotations = json!({
        "deployment.kubernetes.io/revision": "3",
        "prometheus.io/scrape": "true",
        "prometheus.io/port": "9090",
    });
    if filler > 0 {
        annotations["bench.hive.dev/filler"] = json!("x".repeat(filler));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {
                "app": "web",
                "tier": "frontend",
                "pod-template-hash": "5d8f7c6b9d",
                "app.kubernetes.io/version": "1.27.3",
            },
            "annotations": annotations,
        },
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "image": "registry.example.com/team/web:1.27.3",
                    "args": ["--port=8080", "--metrics-port=9090", "--log-level=info"],
                    "ports": [
                        {"name": "http", "containerPort": 8080, "protocol": "TCP"},
                        {"name": "metrics", "containerPort": 9090, "protocol": "TCP"},
                    ],
                    "env": [
                        {"name": "GOMAXPROCS", "value": "2"},
                        {"name": "CACHE_SIZE", "value": "256Mi"},
                        {"name": "UPSTREAM", "value": "http://api.default.svc.cluster.local:8080"},
                    ],
                    "resources": {
                        "requests": {"cpu": "250m", "memory": "256Mi"},
                        "limits": {"cpu": "1", "memory": "512Mi"},
                    },
                    "readinessProbe": {
                        "httpGet": {"path": "/healthz", "port": 8080},
                        "periodSeconds": 10,
                    },
                    "volumeMounts": [
                        {"name": "config", "mountPath": "/etc/web", "readOnly": true},
                        {"name": "cache", "mountPath": "/var/cache/web"},
                    ],
                    "imagePullPolicy": "IfNotPresent",
                },
                {
                    "name": "log-shipper",
                    "image": "registry.example.com/infra/shipper:2.4.1",
                    "args": ["--input=/var/log/web", "--output=tcp://logs:5140"],
                    "resources": {
                        "requests": {"cpu": "50m", "memory": "64Mi"},
                        "limits": {"memory": "128Mi"},
                    },
                    "volumeMounts": [{"name": "cache", "mountPath": "/var/log/web"}],
                },
            ],
            "volumes": [
                {"name": "config", "configMap": {"name": "web-config"}},
                {"name": "cache", "emptyDir": {}},
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "serviceAccountName": "web",
            "nodeSelector": {"kubernetes.io/os": "linux"},
        },
    })
}

/// The number of `items` in a list body.
pub(super) fn count_items(body: &[u8]) -> anyhow::Result<usize> {
    #[derive(serde::Deserialize)]
    struct List {
        items: Vec<serde::de::IgnoredAny>,
    }
    let list: List = serde_json::from_slice(body).context("decoding a list")?;
    Ok(list.items.len())
}

/// How to open connections to the REST edge as the admin.
#[derive(Clone)]
pub(super) struct RestClient {
    addr: SocketAddr,
    server_name: ServerName<'static>,
    tls: tokio_rustls::TlsConnector,
    host: HeaderValue,
    auth: HeaderValue,
    /// 429 answers seen by every connection of this client.
    throttled: Arc<AtomicU64>,
}

impl RestClient {
    pub fn for_member(member: &MemberProcess) -> anyhow::Result<Self> {
        let access = member
            .rest()
            .ok_or_else(|| anyhow!("the member serves no REST API"))?;
        Self::new(access)
    }

    pub fn new(access: &RestAccess) -> anyhow::Result<Self> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(access.ca.clone())
            .context("trusting the cluster CA")?;
        let mut config =
            rustls::ClientConfig::builder_with_provider(hive_transport::tls::provider())
                .with_safe_default_protocol_versions()
                .context("TLS versions")?
                .with_root_certificates(roots)
                .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(RestClient {
            addr: access.addr,
            server_name: ServerName::try_from(access.server_name.clone())
                .with_context(|| format!("server name {:?}", access.server_name))?,
            tls: tokio_rustls::TlsConnector::from(Arc::new(config)),
            host: HeaderValue::from_str(&access.addr.to_string())?,
            auth: HeaderValue::from_str(&format!("Bearer {}", access.token))
                .context("the admin token is not a header value")?,
            throttled: Arc::new(AtomicU64::new(0)),
        })
    }

    /// 429 answers so far.
    pub fn throttled(&self) -> u64 {
        self.throttled.load(Ordering::Relaxed)
    }

    /// A new keep-alive HTTPS connection.
    pub async fn connect(&self) -> anyhow::Result<Conn> {
        let tcp = tokio::net::TcpStream::connect(self.addr)
            .await
            .with_context(|| format!("connecting to {}", self.addr))?;
        tcp.set_nodelay(true)?;
        let tls = self
            .tls
            .connect(self.server_name.clone(), tcp)
            .await
            .with_context(|| format!("TLS handshake with {}", self.addr))?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .context("HTTP/1.1 handshake")?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "REST bench connection ended");
            }
        });
        Ok(Conn {
            client: self.clone(),
            sender,
        })
    }
}

/// One keep-alive HTTP/1.1 connection: one request at a time.
pub(super) struct Conn {
    client: RestClient,
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

/// How many times a request answered 429 is retried.
const RETRIES_ON_429: usize = 50;

impl Conn {
    /// A fresh connection of the same client.
    pub async fn reconnect(&self) -> anyhow::Result<Conn> {
        self.client.connect().await
    }

    /// Sends a request and returns the response with its body still streaming; a 429 is
    /// counted, waited out and retried.
    pub async fn send(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> anyhow::Result<Response<Incoming>> {
        for _ in 0..RETRIES_ON_429 {
            let mut req = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(HOST, self.client.host.clone())
                .header(AUTHORIZATION, self.client.auth.clone());
            if body.is_some() {
                req = req.header(CONTENT_TYPE, content_type);
            }
            let req = req
                .body(Full::new(body.clone().unwrap_or_default()))
                .with_context(|| format!("building {method} {path}"))?;
            // The member closes idle keep-alive connections (after 5 s); a client then
            // opens a new one, as client-go's pool does.
            if self.sender.is_closed() || self.sender.ready().await.is_err() {
                *self = self.client.connect().await?;
            }
            let resp = self
                .sender
                .send_request(req)
                .await
                .with_context(|| format!("{method} {path}"))?;
            if resp.status() != StatusCode::TOO_MANY_REQUESTS {
                return Ok(resp);
            }
            self.client.throttled.fetch_add(1, Ordering::Relaxed);
            let wait = resp
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok())
                .map_or(Duration::from_millis(100), Duration::from_secs);
            // Read the body so the connection can carry the next request.
            let _ = resp.into_body().collect().await;
            tokio::time::sleep(wait).await;
        }
        bail!("{method} {path}: still 429 Too Many Requests after {RETRIES_ON_429} tries")
    }

    /// A request whose whole body is read: the status and the body.
    pub async fn call(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        self.call_as(method, path, body, "application/json").await
    }

    /// As [`Conn::call`] with the body's content type named.
    pub async fn call_as(
        &mut self,
        method: Method,
        path: &str,
        body: Option<Bytes>,
        content_type: &str,
    ) -> anyhow::Result<(StatusCode, Bytes)> {
        let resp = self.send(method, path, body, content_type).await?;
        let status = resp.status();
        let body = resp
            .into_body()
            .collect()
            .await
            .with_context(|| format!("reading the answer to {path}"))?
            .to_bytes();
        Ok((status, body))
    }

    /// Creates `name` unless it exists.
    pub async fn ensure_namespace(&mut self, name: &str) -> anyhow::Result<()> {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
        let (status, resp) = self
            .call(
                Method::POST,
                "/api/v1/namespaces",
                Some(body.to_string().into()),
            )
            .await?;
        if status != StatusCode::CREATED && status != StatusCode::CONFLICT {
            bail!(
                "creating namespace {name}: {status}: {}",
                String::from_utf8_lossy(&resp)
            );
        }
        Ok(())
    }

    /// The `metadata.resourceVersion` of a list of `path` (one item per page asked).
    pub async fn list_resource_version(&mut self, path: &str) -> anyhow::Result<String> {
        let (status, body) = self
            .call(Method::GET, &format!("{path}?limit=1"), None)
            .await?;
        if status != StatusCode::OK {
            bail!(
                "listing {path}: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let v: Value = serde_json::from_slice(&body).context("decoding a list")?;
        v.pointer("/metadata/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| anyhow!("the list of {path} has no resourceVersion"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The pod the benches create decodes as a Pod and is as large as its doc says.
    #[test]
    fn the_bench_pod_is_a_valid_pod_of_the_stated_size() {
        let p = pod("web-1", "bench", 0);
        let text = p.to_string();
        assert!((1024..2048).contains(&text.len()), "{}", text.len());
        let decoded: hive_actors::api::core::Pod =
            serde_json::from_value(p).expect("decodes as a Pod");
        assert_eq!(decoded.spec.containers.len(), 2);
        let padded = pod("web-1", "bench", 3000).to_string();
        assert_eq!(
            padded.len(),
            text.len() + 3000 + r#","bench.hive.dev/filler":"""#.len()
        );
    }

    #[test]
    fn list_items_are_counted_and_garbage_is_refused() {
        let body = br#"{"kind":"PodList","metadata":{"resourceVersion":"7"},"items":[{"a":1},{}]}"#;
        assert_eq!(count_items(body).unwrap(), 2);
        assert!(count_items(b"not json").is_err());
    }
}
