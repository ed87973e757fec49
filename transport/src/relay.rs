//! A user-space UDP relay that puts seeded delay, loss and duplication between peers.
//!
//! This machine's kernel has no netem, so chaos tests point a dialer at the relay's
//! loopback port instead of the real peer; the relay forwards each datagram to the
//! target (and answers back to the sender) after deciding its fate. The impairment can
//! be changed while traffic flows.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use parking_lot::{Mutex, RwLock};
use rand::{rngs::SmallRng, Rng, SeedableRng};
use thiserror::Error;
use tokio::{net::UdpSocket, task::JoinHandle};

/// Starting the relay failed.
#[derive(Debug, Error)]
pub enum RelayError {
    /// A socket could not be bound.
    #[error("relay bind: {0}")]
    Bind(#[from] std::io::Error),
}

/// How the relay mistreats datagrams (each direction alike).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Impairment {
    /// Probability that a datagram is lost, in [0, 1].
    pub loss: f64,
    /// Shortest added delay.
    pub delay_min: Duration,
    /// Longest added delay (uniform between min and max; unequal delays reorder).
    pub delay_max: Duration,
    /// Probability that a datagram is delivered twice, in [0, 1].
    pub duplicate: f64,
}

/// What happens to one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fate {
    /// How many copies are delivered (0: lost).
    pub copies: u32,
    /// Delay before delivery.
    pub delay: Duration,
}

impl Impairment {
    /// No impairment: forward everything at once.
    pub const NONE: Impairment = Impairment {
        loss: 0.0,
        delay_min: Duration::ZERO,
        delay_max: Duration::ZERO,
        duplicate: 0.0,
    };

    /// Decides one datagram's fate from `rng` (pure apart from the random source).
    pub fn decide(&self, rng: &mut impl Rng) -> Fate {
        let p = |rng: &mut dyn rand::RngCore, x: f64| x > 0.0 && rng.gen::<f64>() < x;
        if p(rng, self.loss) {
            return Fate {
                copies: 0,
                delay: Duration::ZERO,
            };
        }
        let copies = if p(rng, self.duplicate) { 2 } else { 1 };
        let delay = if self.delay_max > self.delay_min {
            self.delay_min + (self.delay_max - self.delay_min).mul_f64(rng.gen::<f64>())
        } else {
            self.delay_min
        };
        Fate { copies, delay }
    }
}

/// Datagram counts of a relay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RelayStats {
    /// Datagrams received from either side.
    pub received: u64,
    /// Datagrams sent on (copies included).
    pub forwarded: u64,
    /// Datagrams lost on purpose.
    pub dropped: u64,
    /// Extra copies sent.
    pub duplicated: u64,
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    forwarded: AtomicU64,
    dropped: AtomicU64,
    duplicated: AtomicU64,
}

struct State {
    impairment: RwLock<Impairment>,
    rng: Mutex<SmallRng>,
    counters: Counters,
}

impl State {
    /// Sends `data` to `to` on `socket` according to the impairment.
    fn forward(self: &Arc<Self>, socket: &Arc<UdpSocket>, data: &[u8], to: Option<SocketAddr>) {
        self.counters.received.fetch_add(1, Ordering::Relaxed);
        let fate = self.impairment.read().decide(&mut *self.rng.lock());
        if fate.copies == 0 {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        self.counters
            .duplicated
            .fetch_add(u64::from(fate.copies - 1), Ordering::Relaxed);
        let send = |socket: &UdpSocket, data: &[u8]| match to {
            Some(addr) => socket.try_send_to(data, addr),
            None => socket.try_send(data),
        };
        if fate.delay.is_zero() {
            for _ in 0..fate.copies {
                // A full socket buffer is loss, as on a real link.
                if send(socket, data).is_ok() {
                    self.counters.forwarded.fetch_add(1, Ordering::Relaxed);
                }
            }
            return;
        }
        let (state, socket, data) = (self.clone(), socket.clone(), data.to_vec());
        tokio::spawn(async move {
            tokio::time::sleep(fate.delay).await;
            for _ in 0..fate.copies {
                let sent = match to {
                    Some(addr) => socket.send_to(&data, addr).await,
                    None => socket.send(&data).await,
                };
                if sent.is_ok() {
                    state.counters.forwarded.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
}

/// A running relay; stops when dropped.
pub struct UdpRelay {
    local_addr: SocketAddr,
    state: Arc<State>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for UdpRelay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpRelay")
            .field("local_addr", &self.local_addr)
            .finish_non_exhaustive()
    }
}

impl UdpRelay {
    /// Listens on `listen` (a loopback address; port 0 picks one) and forwards to `target`,
    /// with random choices following `seed`.
    pub async fn start(
        listen: SocketAddr,
        target: SocketAddr,
        impairment: Impairment,
        seed: u64,
    ) -> Result<UdpRelay, RelayError> {
        let socket = Arc::new(UdpSocket::bind(listen).await?);
        let local_addr = socket.local_addr()?;
        let state = Arc::new(State {
            impairment: RwLock::new(impairment),
            rng: Mutex::new(SmallRng::seed_from_u64(seed)),
            counters: Counters::default(),
        });
        let task = tokio::spawn(run(socket, target, state.clone()));
        Ok(UdpRelay {
            local_addr,
            state,
            task,
        })
    }

    /// Where dialers should send instead of the target.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Changes the impairment for datagrams from now on.
    pub fn set_impairment(&self, impairment: Impairment) {
        *self.state.impairment.write() = impairment;
    }

    /// Counters since start.
    pub fn stats(&self) -> RelayStats {
        let c = &self.state.counters;
        RelayStats {
            received: c.received.load(Ordering::Relaxed),
            forwarded: c.forwarded.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            duplicated: c.duplicated.load(Ordering::Relaxed),
        }
    }
}

impl Drop for UdpRelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Accepts datagrams from senders; each sender gets its own upstream socket so that the
/// target's answers can be routed back to it.
async fn run(listen: Arc<UdpSocket>, target: SocketAddr, state: Arc<State>) {
    let mut upstreams: HashMap<SocketAddr, Arc<UdpSocket>> = HashMap::new();
    let mut tasks = tokio::task::JoinSet::new();
    let mut buf = vec![0u8; 65_536];
    loop {
        let (len, from) = match listen.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(error) if transient(&error) => continue,
            Err(error) => {
                tracing::warn!(%error, "relay stopped: receive failed");
                return;
            }
        };
        let upstream = match upstreams.get(&from) {
            Some(u) => u.clone(),
            None => {
                let bind = SocketAddr::new(target.ip(), 0);
                let upstream = match UdpSocket::bind(bind).await {
                    Ok(s) => s,
                    Err(error) => {
                        tracing::warn!(%error, "relay cannot bind an upstream socket");
                        continue;
                    }
                };
                if let Err(error) = upstream.connect(target).await {
                    tracing::warn!(%error, %target, "relay cannot reach target");
                    continue;
                }
                let upstream = Arc::new(upstream);
                upstreams.insert(from, upstream.clone());
                tasks.spawn(back(upstream.clone(), listen.clone(), from, state.clone()));
                upstream
            }
        };
        state.forward(&upstream, &buf[..len], None);
    }
}

/// Relays the target's answers back to one sender.
async fn back(upstream: Arc<UdpSocket>, listen: Arc<UdpSocket>, to: SocketAddr, state: Arc<State>) {
    let mut buf = vec![0u8; 65_536];
    loop {
        match upstream.recv(&mut buf).await {
            Ok(len) => state.forward(&listen, &buf[..len], Some(to)),
            Err(error) if transient(&error) => continue,
            Err(error) => {
                tracing::warn!(%error, "relay upstream stopped: receive failed");
                return;
            }
        }
    }
}

/// ICMP "port unreachable" and the like surface as receive errors on UDP sockets; they
/// say nothing about this socket and relaying goes on.
fn transient(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionReset | Interrupted | WouldBlock
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The loss rate of decided fates is close to the configured rate, and the same seed
    /// decides the same fates.
    #[test]
    fn impairment_decisions_follow_rate_and_seed() {
        let imp = Impairment {
            loss: 0.3,
            duplicate: 0.1,
            delay_min: Duration::from_millis(1),
            delay_max: Duration::from_millis(5),
        };
        let run = |seed| {
            let mut rng = SmallRng::seed_from_u64(seed);
            (0..2000).map(|_| imp.decide(&mut rng)).collect::<Vec<_>>()
        };
        let fates = run(7);
        assert_eq!(fates, run(7));
        let lost = fates.iter().filter(|f| f.copies == 0).count();
        assert!((500..700).contains(&lost), "{lost} lost of 2000 at 30%");
        assert!(fates
            .iter()
            .filter(|f| f.copies > 0)
            .all(|f| f.delay >= imp.delay_min && f.delay <= imp.delay_max));
        assert_eq!(
            Impairment::NONE
                .decide(&mut SmallRng::seed_from_u64(1))
                .copies,
            1
        );
    }
}
