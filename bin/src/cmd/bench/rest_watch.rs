//! `hive bench rest`'s watch fan-out: N watchers of one namespace's pods
//! (`GET /api/v1/namespaces/<ns>/pods?watch=1&resourceVersion=<list's>`), each on its
//! own HTTPS connection (the REST edge speaks HTTP/1.1), and a writer merge-patching
//! those pods at M updates/s from several connections, each patch carrying its send
//! time (nanoseconds since the epoch) in the annotation `bench.hive.dev/sent`. Every
//! watcher reads its chunked stream line by line: one line, one event; the annotation
//! gives the update-to-event latency.
//!
//! A stream the member ends (a watcher that fell behind its ring) is resumed from the
//! last resourceVersion seen, on a new connection, and counted in `resumed`.
//!
//! The counting, the drain and the CPU/RSS window are [`super::fanout`]'s, shared with
//! the QUIC watch bench, so the figures mean the same; here "puts" are REST updates and
//! delivered bytes are the event lines' JSON bytes (TLS and chunk framing excluded).

use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use bytes::Bytes;
use futures::{StreamExt as _, TryStreamExt as _};
use http_body_util::BodyExt as _;
use hyper::body::Incoming;
use hyper::{Method, StatusCode};
use serde::Serialize;

use super::fanout::{self, now_nanos, FanoutMeasured, Samples, Tally, Window, Written};
use super::member::MemberProcess;
use super::procstat::LoadAvg;
use super::rest::{self, Args, Conn, RestClient};

/// The namespace the watched pods live in.
const NS: &str = "watchbench";

/// The annotation carrying an update's send time.
const SENT: &str = "bench.hive.dev/sent";

/// Watches opened at once while setting up.
const OPEN_IN_FLIGHT: usize = 64;

const SETUP: &str = "a fresh member per case; P pods created in one namespace, then N \
    watches of that namespace's pods from the list's resourceVersion (no initial events), \
    one HTTPS connection each; W writer connections share one schedule of merge patches \
    (update k due at k/M s, pod k mod P), each setting the annotation bench.hive.dev/sent \
    to its send time; every MODIFIED event is counted and its latency taken from the \
    annotation; bytes are the events' JSON lines; a stream the member ends is resumed from \
    the last resourceVersion seen on a new connection (counted in resumed)";

/// The fan-out grid.
#[derive(Serialize, Debug)]
pub struct WatchResults {
    pub setup: &'static str,
    pub pods: usize,
    pub writers: usize,
    pub duration_seconds: f64,
    pub cases: Vec<WatchCase>,
}

/// One N x M case.
#[derive(Serialize, Debug)]
pub struct WatchCase {
    pub watchers: usize,
    pub updates_per_sec: u32,
    /// `puts` are the acknowledged updates; `streams` and `connections` are both N.
    pub measured: FanoutMeasured,
    /// Updates answered 429 (then retried).
    pub updates_throttled_429: u64,
    /// The member's CPU microseconds per delivered event.
    pub server_cpu_us_per_event: f64,
    pub load_avg_before: LoadAvg,
}

pub async fn run(args: &Args) -> anyhow::Result<WatchResults> {
    let mut cases = Vec::new();
    for &watchers in &args.watchers {
        for &rate in &args.rates {
            let load_avg_before = LoadAvg::now();
            let (measured, throttled) = match run_case(args, watchers, rate).await {
                Ok(r) => r,
                Err(e) => {
                    let why = format!("{e:#}");
                    eprintln!("rest watch failed at N={watchers} M={rate}: {why}");
                    let m = FanoutMeasured {
                        failed: Some(why),
                        ..FanoutMeasured::default()
                    };
                    (m, 0)
                }
            };
            let case = WatchCase {
                watchers,
                updates_per_sec: rate,
                server_cpu_us_per_event: if measured.events_delivered > 0 {
                    measured.server_cpu_seconds * 1e6 / measured.events_delivered as f64
                } else {
                    0.0
                },
                measured,
                updates_throttled_429: throttled,
                load_avg_before,
            };
            let m = &case.measured;
            eprintln!(
                "rest watch N={watchers} M={rate}: {:.0} updates/s, {}/{} events, {:.0} events/s, \
                 p50 {:.1} ms p99 {:.1} ms, server {:.2} CPU s, RSS {} MiB, {} errors",
                m.achieved_puts_per_sec,
                m.events_delivered,
                m.events_expected,
                m.delivered_events_per_sec,
                m.latency.p50_ms,
                m.latency.p99_ms,
                m.server_cpu_seconds,
                m.server_rss_bytes >> 20,
                m.receive_errors,
            );
            cases.push(case);
        }
    }
    Ok(WatchResults {
        setup: SETUP,
        pods: args.pods,
        writers: args.writers,
        duration_seconds: args.duration.as_secs_f64(),
        cases,
    })
}

/// One case on a fresh member: the figures and the updates answered 429.
async fn run_case(
    args: &Args,
    watchers: usize,
    rate: u32,
) -> anyhow::Result<(FanoutMeasured, u64)> {
    let member = MemberProcess::start_rest(&args.data_dir)?;
    let client = RestClient::for_member(&member)?;
    let mut setup = client.connect().await?;
    setup.ensure_namespace(NS).await?;
    rest::create_pods(&client, NS, "wb", args.pods, 0, 16, None).await?;
    let collection = format!("/api/v1/namespaces/{NS}/pods");
    let rv = setup.list_resource_version(&collection).await?;

    let t = Instant::now();
    let path = watch_path(&collection, &rv);
    let opened: Vec<(Conn, Incoming)> = futures::stream::iter(0..watchers)
        .map(|i| {
            let (client, path) = (client.clone(), path.clone());
            async move {
                open_watch(&client, &path)
                    .await
                    .with_context(|| format!("opening watch {i}"))
            }
        })
        .buffer_unordered(OPEN_IN_FLIGHT)
        .try_collect()
        .await?;
    let create_seconds = t.elapsed().as_secs_f64();

    let tally = Tally::new();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let readers: Vec<_> = opened
        .into_iter()
        .map(|w| {
            tokio::spawn(read_watch(
                client.clone(),
                collection.clone(),
                w,
                rv.clone(),
                tally.samples(),
                stop_rx.clone(),
            ))
        })
        .collect();

    let window = Window::open(member.pid())?;
    let throttled0 = client.throttled();
    let written = write_paced(&client, args.writers, rate, args.pods, args.duration).await?;
    let throttled = client.throttled() - throttled0;
    let expected = written.puts * watchers as u64;
    let drained = fanout::drain(&tally, expected, Duration::from_secs(2), args.drain).await;
    let mut m = FanoutMeasured {
        streams: watchers,
        connections: watchers,
        create_seconds,
        ..FanoutMeasured::default()
    };
    window.close(&mut m)?;
    let _ = stop_tx.send(true);
    for r in readers {
        let _ = r.await;
    }
    fanout::finish(&mut m, written, watchers, &tally, written.seconds + drained);
    Ok((m, throttled))
}

/// Opens one watch on its own connection; returns once the member answered 200 (the
/// watch is then registered).
async fn open_watch(client: &RestClient, path: &str) -> anyhow::Result<(Conn, Incoming)> {
    let mut conn = client.connect().await?;
    let resp = conn.send(Method::GET, path, None, "").await?;
    let status = resp.status();
    if status != StatusCode::OK {
        let body = resp.into_body().collect().await.map(|b| b.to_bytes());
        bail!(
            "watch answered {status}: {}",
            String::from_utf8_lossy(&body.unwrap_or_default())
        );
    }
    Ok((conn, resp.into_body()))
}

/// Reads one watch until told to stop: every line is an event; MODIFIED events carry
/// their send time. When the member ends the stream (it ends a watcher that fell
/// further behind than its ring), the watch is re-opened on a fresh connection from
/// the last resourceVersion seen, as client-go's reflector does, and counted as
/// resumed.
async fn read_watch(
    client: RestClient,
    collection: String,
    mut watch: (Conn, Incoming),
    mut last_rv: String,
    mut samples: Samples,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut lines = Lines::default();
    loop {
        let frame = tokio::select! {
            f = watch.1.frame() => f,
            _ = stop.changed() => return,
        };
        let data = match frame {
            Some(Ok(f)) => match f.into_data() {
                Ok(d) => d,
                Err(_) => continue,
            },
            Some(Err(e)) => {
                samples
                    .tally()
                    .error(format!("reading a watch stream: {e}"));
                return;
            }
            None => {
                let tally = samples.tally();
                tally
                    .resumed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                lines = Lines::default();
                let path = watch_path(&collection, &last_rv);
                let reopened = tokio::select! {
                    w = open_watch(&client, &path) => w,
                    _ = stop.changed() => return,
                };
                match reopened {
                    Ok(w) => watch = w,
                    Err(e) => {
                        tally.error(format!("resuming a watch from {last_rv}: {e:#}"));
                        return;
                    }
                }
                continue;
            }
        };
        let now = now_nanos();
        let (mut events, mut bytes) = (0u64, 0u64);
        let mut error = None;
        lines.push(&data, |line| {
            events += 1;
            bytes += line.len() as u64;
            if let Some(rv) = resource_version(line) {
                last_rv.clear();
                last_rv.push_str(rv);
            }
            match parse_event(line) {
                Event::Stamped(stamp) => samples.event(&stamp.to_le_bytes(), now),
                Event::Other => {}
                Event::Error => {
                    error.get_or_insert_with(|| String::from_utf8_lossy(line).into_owned());
                }
            }
        });
        samples.delivered(events, bytes);
        if let Some(e) = error {
            samples.tally().error(format!("watch error event: {e}"));
            return;
        }
    }
}

/// The watch request for `collection` from `rv`.
fn watch_path(collection: &str, rv: &str) -> String {
    format!("{collection}?watch=1&resourceVersion={rv}&timeoutSeconds=3600")
}

/// The object's `resourceVersion` in an event line (a pod carries exactly one).
fn resource_version(line: &[u8]) -> Option<&str> {
    const KEY: &[u8] = br#""resourceVersion":""#;
    let at = memchr::memmem::find(line, KEY)? + KEY.len();
    let len = memchr::memchr(b'"', &line[at..])?;
    std::str::from_utf8(&line[at..at + len]).ok()
}

/// Splits a byte stream into `\n`-terminated lines across chunk boundaries.
#[derive(Default)]
struct Lines {
    partial: Vec<u8>,
}

impl Lines {
    /// Feeds one chunk; calls `each` with every line it completes (without its `\n`).
    fn push(&mut self, mut chunk: &[u8], mut each: impl FnMut(&[u8])) {
        while let Some(i) = memchr::memchr(b'\n', chunk) {
            if self.partial.is_empty() {
                each(&chunk[..i]);
            } else {
                self.partial.extend_from_slice(&chunk[..i]);
                each(&self.partial);
                self.partial.clear();
            }
            chunk = &chunk[i + 1..];
        }
        self.partial.extend_from_slice(chunk);
    }
}

/// What a watch line says, as far as the bench cares.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// An event whose object carries a send time.
    Stamped(u64),
    /// Any other event.
    Other,
    /// An `ERROR` event: the watch is over.
    Error,
}

fn parse_event(line: &[u8]) -> Event {
    // Keys may come in either order (serde_json sorts them: "object" first).
    if line.starts_with(br#"{"type":"ERROR""#) || line.ends_with(br#""type":"ERROR"}"#) {
        return Event::Error;
    }
    let key = format!(r#""{SENT}":""#);
    let Some(at) = memchr::memmem::find(line, key.as_bytes()) else {
        return Event::Other;
    };
    let digits = &line[at + key.len()..];
    let end = digits
        .iter()
        .position(|b| !b.is_ascii_digit())
        .unwrap_or(digits.len());
    std::str::from_utf8(&digits[..end])
        .ok()
        .and_then(|s| s.parse().ok())
        .map_or(Event::Other, Event::Stamped)
}

/// Merge-patches pods at `rate` updates/s in total for `duration` from `writers`
/// connections interleaving one schedule (update `k` is due at `k / rate` s, on pod
/// `k mod pods`). An update due while its writer still waits for the last one goes out
/// at once, so a member that cannot take the rate throttles the writer, and the
/// achieved rate says so.
async fn write_paced(
    client: &RestClient,
    writers: usize,
    rate: u32,
    pods: usize,
    duration: Duration,
) -> anyhow::Result<Written> {
    let writers = writers.max(1);
    let mut conns = Vec::with_capacity(writers);
    for _ in 0..writers {
        conns.push(client.connect().await?);
    }
    let rate = f64::from(rate.max(1));
    let start = tokio::time::Instant::now();
    let end = start + duration;
    let tasks: Vec<_> = conns
        .into_iter()
        .enumerate()
        .map(|(wi, mut conn)| {
            tokio::spawn(async move {
                let (mut ok, mut errors, mut first_error) = (0u64, 0u64, None);
                let mut k = wi;
                loop {
                    let due = start + Duration::from_secs_f64(k as f64 / rate);
                    if due >= end {
                        break;
                    }
                    tokio::time::sleep_until(due).await;
                    let path = format!("/api/v1/namespaces/{NS}/pods/wb-{}", k % pods);
                    let patch = format!(
                        r#"{{"metadata":{{"annotations":{{"{SENT}":"{}"}}}}}}"#,
                        now_nanos()
                    );
                    let r = conn
                        .call_as(
                            Method::PATCH,
                            &path,
                            Some(Bytes::from(patch)),
                            "application/merge-patch+json",
                        )
                        .await;
                    match r {
                        Ok((StatusCode::OK, _)) => ok += 1,
                        Ok((status, body)) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| {
                                format!("{path}: {status}: {}", String::from_utf8_lossy(&body))
                            });
                        }
                        Err(e) => {
                            errors += 1;
                            first_error.get_or_insert_with(|| format!("{e:#}"));
                            if let Ok(fresh) = conn.reconnect().await {
                                conn = fresh;
                            }
                        }
                    }
                    k += writers;
                    if tokio::time::Instant::now() >= end {
                        break;
                    }
                }
                (ok, errors, first_error)
            })
        })
        .collect();
    let mut out = Written::default();
    let mut first = None;
    for t in tasks {
        let (ok, errors, e) = t.await.context("a writer task")?;
        out.puts += ok;
        out.errors += errors;
        if first.is_none() {
            first = e;
        }
    }
    out.seconds = start.elapsed().as_secs_f64();
    if let Some(e) = first {
        tracing::warn!(errors = out.errors, first = %e, "REST updates failed");
        if out.puts == 0 {
            bail!("every update failed; the first: {e}");
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_resource_version_is_read_from_an_event_line() {
        let line =
            br#"{"object":{"metadata":{"name":"a","resourceVersion":"4711"}},"type":"MODIFIED"}"#;
        assert_eq!(resource_version(line), Some("4711"));
        assert_eq!(resource_version(br#"{"object":{}}"#), None);
        assert_eq!(resource_version(br#"{"resourceVersion":"12"#), None);
    }

    #[test]
    fn lines_are_split_across_chunks() {
        let mut lines = Lines::default();
        let mut got: Vec<String> = Vec::new();
        for chunk in [&b"{\"a\"}\n{\"b"[..], b"\"}", b"\n", b"{\"c\"}\n{\"d\"}\n{"] {
            lines.push(chunk, |l| got.push(String::from_utf8_lossy(l).into_owned()));
        }
        assert_eq!(got, [r#"{"a"}"#, r#"{"b"}"#, r#"{"c"}"#, r#"{"d"}"#]);
        assert_eq!(lines.partial, b"{");
    }

    #[test]
    fn events_yield_their_send_time_and_errors_are_recognised() {
        let line = format!(
            r#"{{"type":"MODIFIED","object":{{"metadata":{{"annotations":{{"{SENT}":"1234567","x":"y"}}}}}}}}"#
        );
        assert_eq!(parse_event(line.as_bytes()), Event::Stamped(1_234_567));
        assert_eq!(
            parse_event(br#"{"type":"ADDED","object":{"metadata":{}}}"#),
            Event::Other
        );
        let bad = format!(r#"{{"type":"MODIFIED","{SENT}":"x1"}}"#);
        assert_eq!(parse_event(bad.as_bytes()), Event::Other);
        assert_eq!(
            parse_event(br#"{"type":"ERROR","object":{"code":410}}"#),
            Event::Error
        );
        assert_eq!(
            parse_event(br#"{"object":{"code":410},"type":"ERROR"}"#),
            Event::Error
        );
    }
}
