//! `hive bench relist`: a relist storm over REST. A one-member Hive (its own process)
//! is filled with many pods of about 4 KiB (concurrent creates, progress on stderr);
//! then C clients at once each LIST the namespace (paginated as client-go's pager does,
//! `limit=500` and `continue`, or whole with `--page-size 0`) and WATCH from the list's
//! resourceVersion, as a restarted informer does. Once every client watches, the bench
//! patches one pod with a marker annotation; a client is done when its watch delivers
//! the marker. Reported: the storm's completion time, each client's list time, objects
//! listed per second, the member's CPU and its peak RSS sampled from /proc during the
//! storm.
//!
//! Each client decodes pages only as far as counting items (`IgnoredAny`), which is
//! cheaper than client-go's full decode; the bench process shares the machine's cores
//! with the member, so the figures are the member's under that load.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context as _};
use http_body_util::BodyExt as _;
use hyper::{Method, StatusCode};
use serde::{Deserialize, Serialize};

use super::member::MemberProcess;
use super::procstat::{self, LoadAvg};
use super::report::{Percentiles, Report};
use super::rest::{self, RestClient};
use super::store::parse_duration;

/// The namespace the pods live in.
const NS: &str = "relist";

/// The annotation the marker update sets.
const MARKER: &str = "bench.hive.dev/marker";

/// How often the member's RSS is sampled during the storm.
const RSS_EVERY: Duration = Duration::from_millis(50);

#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Tiny sizes, for CI (about 1,000 objects).
    #[arg(long)]
    pub quick: bool,
    /// Pods to create before the storm.
    #[arg(long, default_value_t = 100_000)]
    pub objects: usize,
    /// Approximate JSON bytes of each pod (padded with an annotation).
    #[arg(long, default_value_t = 4096)]
    pub object_size: usize,
    /// Concurrent list-then-watch clients (each its own HTTPS connection).
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Items per list page (`limit`); 0 lists everything in one response.
    #[arg(long, default_value_t = 500)]
    pub page_size: usize,
    /// Concurrent creates while filling the member.
    #[arg(long, default_value_t = 32)]
    pub create_concurrency: usize,
    /// The longest the storm may take.
    #[arg(long, default_value = "600s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Where the member keeps its data.
    #[arg(long, default_value = "bench/tmp")]
    pub data_dir: PathBuf,
    /// Also write the JSON here.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

const SETUP: &str = "one member as its own process (`hive server --bootstrap --api-listen \
    127.0.0.1:0`, this binary) on 127.0.0.1; clients in this process: hyper 1 HTTP/1.1 over \
    tokio-rustls (ring), one keep-alive connection per client used for its list pages then \
    its watch; pages counted with serde IgnoredAny; member RSS sampled every 50 ms from \
    /proc during the storm";

/// The run's figures.
#[derive(Serialize, Debug)]
pub struct RelistBench {
    pub setup: &'static str,
    pub http_version: &'static str,
    pub objects: usize,
    /// One stored pod as the member returns it.
    pub object_bytes: usize,
    pub clients: usize,
    /// 0: one unpaginated list.
    pub page_size: usize,
    pub create_seconds: f64,
    pub creates_per_sec: f64,
    /// From the start of the storm until the last client saw the marker on its watch.
    pub completion_seconds: f64,
    /// From the start of the storm until the last client finished its list.
    pub list_phase_seconds: f64,
    /// Objects listed over all clients per second of the list phase.
    pub objects_per_sec: f64,
    /// List body bytes over all clients per second of the list phase.
    pub list_bytes_per_sec: f64,
    /// Each client's whole paginated list (milliseconds).
    pub per_client_list: Percentiles,
    /// Each client's time from the marker update to its watch delivering it.
    pub marker_to_event: Percentiles,
    pub clients_detail: Vec<ClientResult>,
    pub requests_throttled_429: u64,
    pub server_rss_before_bytes: u64,
    /// The largest RSS sampled during the storm.
    pub server_peak_rss_bytes: u64,
    /// The kernel's high-water mark (VmHWM) after the storm, filling included.
    pub server_vmhwm_bytes: u64,
    pub server_cpu_seconds: f64,
    pub client_cpu_seconds: f64,
    pub load_avg_before: LoadAvg,
}

/// One client's storm.
#[derive(Serialize, Debug, Clone, Default)]
pub struct ClientResult {
    pub items: usize,
    pub pages: usize,
    pub list_bytes: u64,
    pub list_seconds: f64,
    /// The resourceVersion of its list, which its watch started from.
    pub resource_version: String,
    /// Seconds from the start of the storm until its watch delivered the marker.
    pub done_seconds: f64,
}

pub fn run(mut args: Args) -> anyhow::Result<()> {
    if args.quick {
        args.objects = 1_000;
        args.clients = 4;
        args.page_size = 100;
        args.create_concurrency = 8;
        args.timeout = Duration::from_secs(120);
    }
    if args.objects == 0 || args.clients == 0 || args.create_concurrency == 0 {
        bail!("--objects, --clients and --create-concurrency must be at least 1");
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = rt.block_on(storm(&args))?;
    eprintln!(
        "relist: {} clients x {} objects in {:.2} s (lists {:.2} s, {:.0} objects/s), \
         peak RSS {} MiB",
        result.clients,
        result.objects,
        result.completion_seconds,
        result.list_phase_seconds,
        result.objects_per_sec,
        result.server_peak_rss_bytes >> 20
    );
    Report::new("relist", result).emit(args.out.as_deref())
}

async fn storm(args: &Args) -> anyhow::Result<RelistBench> {
    let load_avg_before = LoadAvg::now();
    let member = MemberProcess::start_rest(&args.data_dir)?;
    let pid = member.pid();
    let client = RestClient::for_member(&member)?;
    let mut setup = client.connect().await?;
    setup.ensure_namespace(NS).await?;

    let filler = calibrate_filler(&mut setup, args.object_size).await?;
    let t = Instant::now();
    rest::create_pods(
        &client,
        NS,
        "r",
        args.objects,
        filler,
        args.create_concurrency,
        Some("relist"),
    )
    .await?;
    let create_seconds = t.elapsed().as_secs_f64();
    let (status, one) = setup
        .call(
            Method::GET,
            &format!("/api/v1/namespaces/{NS}/pods/r-0"),
            None,
        )
        .await?;
    if status != StatusCode::OK {
        bail!("reading pod r-0 back: {status}");
    }
    eprintln!(
        "relist: created {} pods of {} bytes in {create_seconds:.1} s; storm of {} clients",
        args.objects,
        one.len(),
        args.clients
    );

    let before = procstat::sample(pid)?;
    let client_before = procstat::sample_self()?;
    let peak = Arc::new(AtomicU64::new(before.rss_bytes));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak, sampling) = (peak.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Ok(s) = procstat::sample(pid) {
                    peak.fetch_max(s.rss_bytes, Ordering::Relaxed);
                }
                tokio::time::sleep(RSS_EVERY).await;
            }
        })
    };
    let throttled0 = client.throttled();

    let start = Instant::now();
    // Each client says when it watches, or why it failed before it could: a failed
    // client ends the storm with its error instead of leaving the others waiting.
    let (watching_tx, mut watching_rx) =
        tokio::sync::mpsc::channel::<anyhow::Result<f64>>(args.clients);
    let (marker_tx, marker_rx) = tokio::sync::watch::channel(None::<Instant>);
    let tasks: Vec<_> = (0..args.clients)
        .map(|_| {
            let client = client.clone();
            let (watching_tx, marker_rx) = (watching_tx.clone(), marker_rx.clone());
            let page_size = args.page_size;
            tokio::spawn(async move {
                let outcome =
                    list_then_watch(&client, page_size, start, &watching_tx, marker_rx).await;
                if let Err(e) = &outcome {
                    let _ = watching_tx
                        .send(Err(anyhow!("a storm client: {e:#}")))
                        .await;
                }
                outcome
            })
        })
        .collect();
    drop(watching_tx);
    let storm = async {
        // Every client lists and starts watching; then the marker goes out.
        let mut list_phase = 0.0f64;
        for _ in 0..args.clients {
            let listed = watching_rx
                .recv()
                .await
                .ok_or_else(|| anyhow!("a client ended before it watched"))??;
            list_phase = list_phase.max(listed);
        }
        let patch = format!(r#"{{"metadata":{{"annotations":{{"{MARKER}":"1"}}}}}}"#);
        let sent = Instant::now();
        let (status, body) = setup
            .call_as(
                Method::PATCH,
                &format!("/api/v1/namespaces/{NS}/pods/r-1"),
                Some(patch.into()),
                "application/merge-patch+json",
            )
            .await?;
        if status != StatusCode::OK {
            bail!(
                "the marker update: {status}: {}",
                String::from_utf8_lossy(&body)
            );
        }
        let _ = marker_tx.send(Some(sent));
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.context("a storm client")??);
        }
        anyhow::Ok((list_phase, sent, results))
    };
    let outcome = tokio::time::timeout(args.timeout, storm).await;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let (list_phase_seconds, sent, results) =
        outcome.map_err(|_| anyhow!("the storm took longer than {:?}", args.timeout))??;
    let completion_seconds = start.elapsed().as_secs_f64();
    let after = procstat::sample(pid)?;
    let client_after = procstat::sample_self()?;

    let mut clients_detail = Vec::new();
    let (mut list_times, mut marker_times) = (Vec::new(), Vec::new());
    let (mut objects_listed, mut bytes_listed) = (0usize, 0u64);
    for (r, seen) in results {
        if r.items != args.objects {
            bail!(
                "a client listed {} pods, {} were created",
                r.items,
                args.objects
            );
        }
        objects_listed += r.items;
        bytes_listed += r.list_bytes;
        list_times.push(Duration::from_secs_f64(r.list_seconds));
        marker_times.push(seen.saturating_duration_since(sent));
        clients_detail.push(r);
    }
    Ok(RelistBench {
        setup: SETUP,
        http_version: "HTTP/1.1",
        objects: args.objects,
        object_bytes: one.len(),
        clients: args.clients,
        page_size: args.page_size,
        create_seconds,
        creates_per_sec: args.objects as f64 / create_seconds.max(1e-9),
        completion_seconds,
        list_phase_seconds,
        objects_per_sec: objects_listed as f64 / list_phase_seconds.max(1e-9),
        list_bytes_per_sec: bytes_listed as f64 / list_phase_seconds.max(1e-9),
        per_client_list: Percentiles::of(&mut list_times),
        marker_to_event: Percentiles::of(&mut marker_times),
        clients_detail,
        requests_throttled_429: client.throttled() - throttled0,
        server_rss_before_bytes: before.rss_bytes,
        server_peak_rss_bytes: peak.load(Ordering::Relaxed).max(after.rss_bytes),
        server_vmhwm_bytes: procstat::peak_rss(pid)?,
        server_cpu_seconds: after.cpu_seconds - before.cpu_seconds,
        client_cpu_seconds: client_after.cpu_seconds - client_before.cpu_seconds,
        load_avg_before,
    })
}

/// The filler that makes a stored pod (as the member returns it, with the fields it
/// adds: uid, timestamps, defaults, status) about `size` bytes: measured on a probe
/// pod in a namespace of its own.
async fn calibrate_filler(conn: &mut rest::Conn, size: usize) -> anyhow::Result<usize> {
    let ns = "relist-probe";
    conn.ensure_namespace(ns).await?;
    let body = rest::pod("probe", ns, 0).to_string();
    let (status, stored) = conn
        .call(
            Method::POST,
            &format!("/api/v1/namespaces/{ns}/pods"),
            Some(body.into()),
        )
        .await?;
    if status != StatusCode::CREATED {
        bail!(
            "creating the probe pod: {status}: {}",
            String::from_utf8_lossy(&stored)
        );
    }
    let overhead = stored.len() + r#","bench.hive.dev/filler":"""#.len();
    Ok(size.saturating_sub(overhead))
}

/// A list page as far as the bench reads it.
#[derive(Deserialize)]
struct Page {
    metadata: PageMeta,
    items: Vec<serde::de::IgnoredAny>,
}

#[derive(Deserialize)]
struct PageMeta {
    #[serde(default, rename = "resourceVersion")]
    resource_version: String,
    #[serde(default, rename = "continue")]
    continue_: String,
}

/// One client: the paginated list, then a watch from its resourceVersion until the
/// marker arrives. Says on `watching` when its watch is open (with the seconds since
/// `start`); returns its figures and when it saw the marker.
async fn list_then_watch(
    client: &RestClient,
    page_size: usize,
    start: Instant,
    watching: &tokio::sync::mpsc::Sender<anyhow::Result<f64>>,
    mut marker: tokio::sync::watch::Receiver<Option<Instant>>,
) -> anyhow::Result<(ClientResult, Instant)> {
    let mut conn = client.connect().await?;
    let collection = format!("/api/v1/namespaces/{NS}/pods");
    let mut r = ClientResult::default();
    let t = Instant::now();
    let mut token = String::new();
    loop {
        let mut path = collection.clone();
        if page_size > 0 {
            path.push_str(&format!("?limit={page_size}"));
            if !token.is_empty() {
                path.push_str(&format!("&continue={}", urlencode(&token)));
            }
        }
        let (status, body) = conn.call(Method::GET, &path, None).await?;
        if status != StatusCode::OK {
            bail!(
                "{path}: {status}: {}",
                String::from_utf8_lossy(&body[..body.len().min(300)])
            );
        }
        let page: Page = serde_json::from_slice(&body).context("decoding a list page")?;
        r.pages += 1;
        r.items += page.items.len();
        r.list_bytes += body.len() as u64;
        if r.resource_version.is_empty() {
            r.resource_version = page.metadata.resource_version;
        }
        if page.metadata.continue_.is_empty() || page_size == 0 {
            break;
        }
        token = page.metadata.continue_;
    }
    r.list_seconds = t.elapsed().as_secs_f64();
    let path = format!(
        "{collection}?watch=1&resourceVersion={}&timeoutSeconds=3600",
        r.resource_version
    );
    let resp = conn.send(Method::GET, &path, None, "").await?;
    if resp.status() != StatusCode::OK {
        bail!("watch from {}: {}", r.resource_version, resp.status());
    }
    let listed_at = start.elapsed().as_secs_f64();
    watching
        .send(Ok(listed_at))
        .await
        .map_err(|_| anyhow!("the storm was given up"))?;
    let mut body = resp.into_body();
    let key = format!(r#""{MARKER}":"#);
    let mut partial: Vec<u8> = Vec::new();
    loop {
        let frame = body
            .frame()
            .await
            .ok_or_else(|| anyhow!("the watch ended before the marker"))?
            .context("reading the watch")?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        partial.extend_from_slice(&data);
        if memchr::memmem::find(&partial, key.as_bytes()).is_some() {
            let seen = Instant::now();
            // The marker cannot precede the marker update being sent.
            let _ = marker.wait_for(Option::is_some).await;
            r.done_seconds = start.elapsed().as_secs_f64();
            return Ok((r, seen));
        }
        // Keep only the unfinished line.
        if let Some(i) = memchr::memrchr(b'\n', &partial) {
            partial.drain(..=i);
        }
    }
}

/// Percent-encodes a continue token for a query string.
fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_are_percent_encoded() {
        assert_eq!(urlencode("abc-1_2.3~"), "abc-1_2.3~");
        assert_eq!(urlencode("a/b=c+d"), "a%2Fb%3Dc%2Bd");
    }

    #[test]
    fn a_page_reads_its_token_and_counts_items() {
        let p: Page = serde_json::from_str(
            r#"{"kind":"PodList","metadata":{"resourceVersion":"12","continue":"x"},"items":[{},{"a":[1]}]}"#,
        )
        .unwrap();
        assert_eq!(
            (
                p.metadata.resource_version.as_str(),
                p.metadata.continue_.as_str(),
                p.items.len()
            ),
            ("12", "x", 2)
        );
    }
}
