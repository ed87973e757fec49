//! The closed-loop put workload that both sides of `hive bench store` run: N clients,
//! each putting one fixed value to random keys back to back, a warm-up, then a measured
//! window. Hive and etcd are driven by this same code, so what differs between their
//! figures is the store and the way a client reaches it, not the load generator.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::{Rng, SeedableRng};
use serde::Serialize;

use super::report::Percentiles;

/// Keys each client draws from: `/bench/{client}/{0..KEYS_PER_CLIENT}`.
const KEYS_PER_CLIENT: u32 = 10_000;

/// One client of a store under test.
pub trait PutClient: Send + 'static {
    /// One put; `Err` carries the reason, for the report.
    fn put(
        &mut self,
        key: String,
        value: Vec<u8>,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// What one side measured in its window.
#[derive(Serialize, Debug, Clone, Default)]
pub struct Measured {
    /// Acknowledged puts in the window.
    pub puts: u64,
    /// Failed puts in the window.
    pub errors: u64,
    /// The first failure, so a nonzero `errors` says what went wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
    pub seconds: f64,
    pub puts_per_sec: f64,
    pub latency: Percentiles,
    /// The disk's append + fdatasync p50 just before this side ran: on a shared machine
    /// the disk changes state within seconds, and this says whether both sides met the
    /// same disk.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disk_fdatasync_p50_ms_before: Option<f64>,
}

/// A running workload: clients are putting; the caller moves it through warm-up and
/// the measured window, and may read its own counters at the window's edges.
pub struct Load {
    measuring: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<ClientTally>>,
    seconds: f64,
}

#[derive(Default)]
struct ClientTally {
    latencies: Vec<Duration>,
    errors: u64,
    first_error: Option<String>,
}

impl Load {
    /// Starts one task per client, each putting `value_size` bytes to random keys.
    pub fn spawn<C: PutClient>(clients: Vec<C>, value_size: usize) -> Self {
        let value: Vec<u8> = (0..value_size).map(|i| b'a' + (i % 26) as u8).collect();
        let measuring = Arc::new(AtomicBool::new(false));
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = clients
            .into_iter()
            .enumerate()
            .map(|(c, mut client)| {
                let (value, measuring, stop) = (value.clone(), measuring.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut tally = ClientTally::default();
                    let mut rng = rand::rngs::SmallRng::from_entropy();
                    while !stop.load(Ordering::Relaxed) {
                        let key = format!("/bench/{c}/{}", rng.gen_range(0..KEYS_PER_CLIENT));
                        let t = Instant::now();
                        let res = client.put(key, value.clone()).await;
                        if measuring.load(Ordering::Relaxed) {
                            match res {
                                Ok(()) => tally.latencies.push(t.elapsed()),
                                Err(e) => {
                                    tally.errors += 1;
                                    tally.first_error.get_or_insert(e);
                                }
                            }
                        }
                    }
                    tally
                })
            })
            .collect();
        Load {
            measuring,
            stop,
            tasks,
            seconds: 0.0,
        }
    }

    /// Lets the clients run unmeasured (connections warm, caches filled, batching settled).
    pub async fn warm_up(&mut self, d: Duration) {
        tokio::time::sleep(d).await;
    }

    /// The measured window: puts that complete within it are counted.
    pub async fn measure(&mut self, d: Duration) {
        self.measuring.store(true, Ordering::Relaxed);
        let start = Instant::now();
        tokio::time::sleep(d).await;
        self.measuring.store(false, Ordering::Relaxed);
        self.seconds = start.elapsed().as_secs_f64();
    }

    /// Stops the clients and gathers what the window measured.
    pub async fn finish(self) -> anyhow::Result<Measured> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = ClientTally::default();
        for t in self.tasks {
            let tally = t.await?;
            all.latencies.extend(tally.latencies);
            all.errors += tally.errors;
            if all.first_error.is_none() {
                all.first_error = tally.first_error;
            }
        }
        let puts = all.latencies.len() as u64;
        Ok(Measured {
            puts,
            errors: all.errors,
            first_error: all.first_error,
            seconds: self.seconds,
            puts_per_sec: if self.seconds > 0.0 {
                puts as f64 / self.seconds
            } else {
                0.0
            },
            latency: Percentiles::of(&mut all.latencies),
            disk_fdatasync_p50_ms_before: None,
        })
    }

    /// Warm-up of a fifth of `duration`, then the measured window, then the tally.
    #[cfg_attr(not(feature = "etcd"), allow(dead_code))]
    pub async fn run(mut self, duration: Duration) -> anyhow::Result<Measured> {
        self.warm_up(duration / 5).await;
        self.measure(duration).await;
        self.finish().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Answers every put after a fixed delay, failing every `fail_every`th one.
    struct FakeClient {
        delay: Duration,
        since_failure: u64,
        fail_every: u64,
    }

    impl PutClient for FakeClient {
        async fn put(&mut self, _key: String, value: Vec<u8>) -> Result<(), String> {
            assert_eq!(value.len(), 16);
            tokio::time::sleep(self.delay).await;
            self.since_failure += 1;
            if self.since_failure == self.fail_every {
                self.since_failure = 0;
                return Err(format!("fake failure after {} puts", self.fail_every));
            }
            Ok(())
        }
    }

    /// Puts are counted only inside the window, and failures are counted and explained
    /// rather than timed.
    #[test]
    fn load_counts_window_puts_and_reports_the_first_failure() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let m = rt
            .block_on(async {
                let clients = (0..4)
                    .map(|_| FakeClient {
                        delay: Duration::from_millis(1),
                        since_failure: 0,
                        fail_every: 10,
                    })
                    .collect();
                Load::spawn(clients, 16)
                    .run(Duration::from_millis(100))
                    .await
            })
            .unwrap();
        assert!(m.puts > 0, "{m:?}");
        assert!(m.errors > 0, "{m:?}");
        assert!(m
            .first_error
            .as_deref()
            .unwrap()
            .starts_with("fake failure"));
        // 4 clients at >= 1 ms per put cannot exceed 4 puts per ms of window.
        assert!(
            (m.puts + m.errors) as f64 <= 4.0 * m.seconds * 1e3 + 4.0,
            "{m:?}"
        );
        assert!(m.latency.p50_ms >= 1.0, "{m:?}");
    }
}
