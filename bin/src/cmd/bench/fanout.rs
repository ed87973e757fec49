//! The parts of the watch benchmarks both sides share: the value that carries its own
//! put time, the paced writer, the tally every receiving task adds to, and the figures
//! a side reports. Hive and etcd differ only in how a put is sent and how a watch
//! response is read; everything that is counted or timed is this code.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::procstat::{self, ProcSample};
use super::report::Percentiles;

/// Every key the benchmarks write is under this prefix, and every watcher watches it.
pub const PREFIX: &str = "/watchbench/";

/// Distinct keys each writer cycles through.
const KEYS_PER_WRITER: u64 = 1_000;

/// Nanoseconds since the Unix epoch: the clock both the writer and the receivers read
/// (they run in one process, but the value crosses the store, so it must be absolute).
pub fn now_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

/// A value of `size` bytes (at least 8) whose first 8 bytes are the put time.
pub fn stamped_value(size: usize) -> Vec<u8> {
    let mut v: Vec<u8> = (0..size.max(8)).map(|i| b'a' + (i % 26) as u8).collect();
    v[..8].copy_from_slice(&now_nanos().to_le_bytes());
    v
}

/// The put time a stamped value carries; `None` if it is too short to carry one.
pub fn stamp_of(value: &[u8]) -> Option<u64> {
    Some(u64::from_le_bytes(value.get(..8)?.try_into().ok()?))
}

/// One writer connection of a store under test.
pub trait Writer: Clone + Send + Sync + 'static {
    fn put(&self, key: String, value: Vec<u8>) -> impl Future<Output = Result<(), String>> + Send;
}

/// What the writers did.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub puts: u64,
    pub errors: u64,
    pub seconds: f64,
}

/// Puts stamped values of `value_size` bytes at `rate` puts/s in total for `duration`,
/// from `writers` concurrent tasks interleaving one schedule (put `k` is due at
/// `k / rate` s). A put that comes due while its writer is still waiting for the last
/// one goes out at once, so a store that cannot take the rate throttles the writer, and
/// the achieved rate says so.
pub async fn write_paced<W: Writer>(
    w: W,
    writers: usize,
    rate: u32,
    value_size: usize,
    duration: Duration,
) -> Written {
    let writers = writers.max(1) as u64;
    let rate = f64::from(rate.max(1));
    let start = tokio::time::Instant::now();
    let end = start + duration;
    let first_error = Arc::new(Mutex::new(None::<String>));
    let tasks: Vec<_> = (0..writers)
        .map(|wi| {
            let w = w.clone();
            let first_error = first_error.clone();
            tokio::spawn(async move {
                let (mut puts, mut errors) = (0u64, 0u64);
                let mut k = wi;
                loop {
                    let due = start + Duration::from_secs_f64(k as f64 / rate);
                    if due >= end {
                        break;
                    }
                    tokio::time::sleep_until(due).await;
                    let key = format!("{PREFIX}{wi}/{}", (k / writers) % KEYS_PER_WRITER);
                    match w.put(key, stamped_value(value_size)).await {
                        Ok(()) => puts += 1,
                        Err(e) => {
                            errors += 1;
                            first_error.locked().get_or_insert(e);
                        }
                    }
                    k += writers;
                    if tokio::time::Instant::now() >= end {
                        break;
                    }
                }
                (puts, errors)
            })
        })
        .collect();
    let mut out = Written::default();
    for t in tasks {
        if let Ok((p, e)) = t.await {
            out.puts += p;
            out.errors += e;
        }
    }
    out.seconds = start.elapsed().as_secs_f64();
    if let Some(e) = first_error.locked().take() {
        tracing::warn!(errors = out.errors, first = %e, "puts failed during the watch bench");
    }
    out
}

/// A poisoned lock only means another task panicked while holding it; the counts it
/// guards are still the counts.
trait Locked<T> {
    fn locked(&self) -> MutexGuard<'_, T>;
}

impl<T> Locked<T> for Mutex<T> {
    fn locked(&self) -> MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What every receiving task adds to: events and value bytes delivered (shared, read
/// while the run drains), and per-task latency samples handed in when a task ends.
#[derive(Default)]
pub struct Tally {
    events: AtomicU64,
    bytes: AtomicU64,
    /// Watches re-opened after the store cut them off (Hive: cancelled as slow).
    pub resumed: AtomicU64,
    /// Receive errors that ended a watch; the first one is kept.
    pub errors: AtomicU64,
    first_error: Mutex<Option<String>>,
    latencies_us: Mutex<Vec<u32>>,
}

/// A receiving task's own samples, merged into the tally when the task ends (so the hot
/// path takes no lock).
pub struct Samples {
    tally: Arc<Tally>,
    latencies_us: Vec<u32>,
}

impl Tally {
    pub fn new() -> Arc<Self> {
        Arc::new(Tally::default())
    }

    /// A sample buffer for one receiving task.
    pub fn samples(self: &Arc<Self>) -> Samples {
        Samples {
            tally: self.clone(),
            latencies_us: Vec::new(),
        }
    }

    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }

    pub fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    pub fn error(&self, e: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        self.first_error.locked().get_or_insert(e);
    }

    pub fn first_error(&self) -> Option<String> {
        self.first_error.locked().clone()
    }

    /// Every latency sample handed in so far.
    pub fn latency(&self) -> Percentiles {
        let mut v = std::mem::take(&mut *self.latencies_us.locked());
        let mut d: Vec<Duration> = v
            .drain(..)
            .map(|us| Duration::from_micros(u64::from(us)))
            .collect();
        Percentiles::of(&mut d)
    }
}

impl Samples {
    /// The tally these samples go to.
    pub fn tally(&self) -> Arc<Tally> {
        self.tally.clone()
    }

    /// One delivered event whose value is `value`, received at `now` (nanoseconds).
    pub fn event(&mut self, value: &[u8], now: u64) {
        if let Some(stamp) = stamp_of(value) {
            let us = now.saturating_sub(stamp) / 1_000;
            self.latencies_us
                .push(u32::try_from(us).unwrap_or(u32::MAX));
        }
    }

    /// Adds one response's counts to the shared totals.
    pub fn delivered(&self, events: u64, bytes: u64) {
        self.tally.events.fetch_add(events, Ordering::Relaxed);
        self.tally.bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

impl Drop for Samples {
    fn drop(&mut self) {
        self.tally
            .latencies_us
            .locked()
            .append(&mut self.latencies_us);
    }
}

/// Waits until `tally` has `expected` events, or no event arrived for `quiet`, or `cap`
/// passed. Returns the seconds waited.
pub async fn drain(tally: &Tally, expected: u64, quiet: Duration, cap: Duration) -> f64 {
    let start = tokio::time::Instant::now();
    let mut last = tally.events();
    let mut last_change = start;
    loop {
        let now = tokio::time::Instant::now();
        let seen = tally.events();
        if seen >= expected || now - start >= cap || now - last_change >= quiet {
            return (now - start).as_secs_f64();
        }
        if seen != last {
            last = seen;
            last_change = now;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// What one side measured in one fan-out case.
#[derive(Serialize, Debug, Clone, Default)]
pub struct FanoutMeasured {
    /// Watch streams the watchers were spread over (Hive: watch sessions).
    pub streams: usize,
    pub connections: usize,
    /// Seconds to create every watcher (each confirmed by the server).
    pub create_seconds: f64,
    pub puts: u64,
    pub put_errors: u64,
    pub achieved_puts_per_sec: f64,
    /// puts x watchers.
    pub events_expected: u64,
    pub events_delivered: u64,
    /// Seconds from the first put until the last delivery counted (the writing window
    /// plus the drain).
    pub seconds: f64,
    pub delivered_events_per_sec: f64,
    /// Value bytes delivered per second (the 1 KiB payloads, not wire overhead).
    pub delivered_bytes_per_sec: f64,
    /// Put-to-event latency over every delivered event.
    pub latency: Percentiles,
    /// Watches re-opened from their resume revision after the store cut them off.
    pub resumed: u64,
    pub receive_errors: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    /// CPU seconds of the store's process(es) over the window.
    pub server_cpu_seconds: f64,
    /// CPU seconds of the bench process (writer and every watcher) over the window.
    pub client_cpu_seconds: f64,
    /// Why this side could not run the shape (every figure is then zero).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// The store process's resident memory at the end of the window.
    pub server_rss_bytes: u64,
    /// Its peak resident memory since it started.
    pub server_peak_rss_bytes: u64,
}

/// Process samples at the edges of the measured window.
pub struct Window {
    server_pid: u32,
    server: ProcSample,
    client: ProcSample,
}

impl Window {
    pub fn open(server_pid: u32) -> anyhow::Result<Self> {
        Ok(Window {
            server_pid,
            server: procstat::sample(server_pid)?,
            client: procstat::sample_self()?,
        })
    }

    /// Fills the CPU and memory fields of `m`.
    pub fn close(self, m: &mut FanoutMeasured) -> anyhow::Result<()> {
        let server = procstat::sample(self.server_pid)?;
        let client = procstat::sample_self()?;
        m.server_cpu_seconds = server.cpu_seconds - self.server.cpu_seconds;
        m.client_cpu_seconds = client.cpu_seconds - self.client.cpu_seconds;
        m.server_rss_bytes = server.rss_bytes;
        m.server_peak_rss_bytes = procstat::peak_rss(self.server_pid)?;
        Ok(())
    }
}

/// Fills the delivery figures of `m` from the writer's and the receivers' totals.
pub fn finish(
    m: &mut FanoutMeasured,
    written: Written,
    watchers: usize,
    tally: &Tally,
    seconds: f64,
) {
    m.puts = written.puts;
    m.put_errors = written.errors;
    m.achieved_puts_per_sec = if written.seconds > 0.0 {
        written.puts as f64 / written.seconds
    } else {
        0.0
    };
    m.events_expected = written.puts * watchers as u64;
    m.events_delivered = tally.events();
    m.seconds = seconds;
    if seconds > 0.0 {
        m.delivered_events_per_sec = tally.events() as f64 / seconds;
        m.delivered_bytes_per_sec = tally.bytes() as f64 / seconds;
    }
    m.latency = tally.latency();
    m.resumed = tally.resumed.load(Ordering::Relaxed);
    m.receive_errors = tally.errors.load(Ordering::Relaxed);
    m.first_error = tally.first_error();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamped_value_has_its_size_and_carries_the_time_it_was_made() {
        let before = now_nanos();
        let v = stamped_value(1024);
        let after = now_nanos();
        assert_eq!(v.len(), 1024);
        let stamp = stamp_of(&v).unwrap();
        assert!(
            (before..=after).contains(&stamp),
            "{before} {stamp} {after}"
        );
        assert_eq!(stamped_value(3).len(), 8);
        assert_eq!(stamp_of(b"short"), None);
    }

    /// Counts every put; fails every third.
    #[derive(Clone, Default)]
    struct CountingWriter(Arc<AtomicU64>);

    impl Writer for CountingWriter {
        async fn put(&self, key: String, value: Vec<u8>) -> Result<(), String> {
            assert!(key.starts_with(PREFIX), "{key}");
            assert_eq!(value.len(), 64);
            let n = self.0.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_multiple_of(3) {
                return Err("every third put fails".into());
            }
            Ok(())
        }
    }

    /// The writers together follow one schedule: over a window they send at most the
    /// rate's worth of puts (plus the one due at the start of each writer), and count
    /// failures apart from acknowledged puts.
    #[test]
    fn paced_writers_never_exceed_the_rate_and_count_failures() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let w = CountingWriter::default();
        let out = rt.block_on(write_paced(
            w.clone(),
            4,
            200,
            64,
            Duration::from_millis(300),
        ));
        let sent = w.0.load(Ordering::Relaxed);
        assert_eq!(out.puts + out.errors, sent);
        assert!(out.errors > 0 && out.puts > out.errors, "{out:?}");
        assert!(sent <= 60 + 4, "{sent} puts at 200/s in 0.3 s");
        assert!(out.seconds >= 0.29, "{out:?}");
    }

    /// Samples reach the tally when their task ends; drain stops once the expected
    /// count is there, and otherwise when nothing arrives for the quiet period.
    #[test]
    fn the_tally_gathers_samples_and_drain_stops_when_all_arrived_or_quiet() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let tally = Tally::new();
        {
            let mut s = tally.samples();
            let v = stamped_value(16);
            s.event(&v, stamp_of(&v).unwrap() + 2_000_000);
            s.event(&v, stamp_of(&v).unwrap() + 4_000_000);
            s.delivered(2, 32);
        }
        assert_eq!((tally.events(), tally.bytes()), (2, 32));
        let p = tally.latency();
        assert_eq!((p.p50_ms, p.max_ms), (2.0, 4.0));
        let waited = rt.block_on(drain(
            &tally,
            2,
            Duration::from_secs(30),
            Duration::from_secs(30),
        ));
        assert!(waited < 5.0, "{waited}");
        let waited = rt.block_on(drain(
            &tally,
            3,
            Duration::from_millis(100),
            Duration::from_secs(30),
        ));
        assert!((0.1..5.0).contains(&waited), "{waited}");
    }
}
