//! Lease deadlines: the leader-only, clock-driven half of leases.
//!
//! Which leases exist and which keys they hold is replicated state (the MVCC state
//! machine). *When* a lease expires is not: like etcd, only the leader tracks deadlines,
//! refreshes them on keep-alive, and proposes a `LeaseExpire` command when they pass.
//! A new leader starts every deadline afresh at `now + ttl` (etcd's "promote"), so a
//! leader change never expires a lease early. This module is that bookkeeping as a pure
//! function of (leases, keep-alives, now); the shard actor feeds it a [`Clock`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::types::LeaseId;

/// Where the shard reads the time for lease deadlines; testkit skews it.
pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> Instant;
}

/// The process's monotonic clock, optionally shifted by a settable skew (chaos tests
/// skew a member's clock to check that leases stay safe).
#[derive(Clone, Default)]
pub struct SkewableClock {
    skew_ms: Arc<AtomicI64>,
}

impl SkewableClock {
    /// Moves this clock `ms` milliseconds ahead (negative: behind) of the real one.
    pub fn set_skew_ms(&self, ms: i64) {
        self.skew_ms.store(ms, Ordering::Relaxed);
    }
}

impl Clock for SkewableClock {
    fn now(&self) -> Instant {
        let skew = self.skew_ms.load(Ordering::Relaxed);
        let now = Instant::now();
        if skew >= 0 {
            now + Duration::from_millis(skew as u64)
        } else {
            now.checked_sub(Duration::from_millis(skew.unsigned_abs()))
                .unwrap_or(now)
        }
    }
}

/// Deadlines of the leases this member knows, meaningful only while it leads.
#[derive(Debug, Default)]
pub struct Lessor {
    deadlines: HashMap<LeaseId, (Instant, Duration)>,
    /// Leases already proposed for expiry, not proposed again until they reappear.
    expiring: HashMap<LeaseId, Instant>,
}

impl Lessor {
    pub fn new() -> Self {
        Self::default()
    }

    /// Forgets every deadline: on losing leadership, or before a promote.
    pub fn clear(&mut self) {
        self.deadlines.clear();
        self.expiring.clear();
    }

    /// Reconciles with the replicated lease table: new leases get `now + ttl`, revoked
    /// ones are forgotten, known ones keep their deadline.
    pub fn sync(&mut self, leases: &[(LeaseId, u64)], now: Instant) {
        let live: HashMap<LeaseId, u64> = leases.iter().copied().collect();
        self.deadlines.retain(|id, _| live.contains_key(id));
        self.expiring.retain(|id, _| live.contains_key(id));
        for (&id, &ttl) in &live {
            let ttl = Duration::from_secs(ttl);
            self.deadlines.entry(id).or_insert((now + ttl, ttl));
        }
    }

    /// Refreshes a lease's deadline; returns its TTL, or `None` if the lease is unknown.
    pub fn keep_alive(&mut self, id: LeaseId, now: Instant) -> Option<Duration> {
        let (deadline, ttl) = self.deadlines.get_mut(&id)?;
        *deadline = now + *ttl;
        self.expiring.remove(&id);
        Some(*ttl)
    }

    /// Time left on a lease, for `lease timetolive`.
    pub fn remaining(&self, id: LeaseId, now: Instant) -> Option<Duration> {
        self.deadlines
            .get(&id)
            .map(|(d, _)| d.saturating_duration_since(now))
    }

    /// Leases whose deadline has passed and that were not already proposed for expiry
    /// within `retry` (a lost proposal is retried after that).
    pub fn take_expired(&mut self, now: Instant, retry: Duration) -> Vec<LeaseId> {
        let mut out: Vec<LeaseId> = self
            .deadlines
            .iter()
            .filter(|(id, (deadline, _))| {
                *deadline <= now
                    && self
                        .expiring
                        .get(id)
                        .is_none_or(|at| now.duration_since(*at) >= retry)
            })
            .map(|(id, _)| *id)
            .collect();
        out.sort();
        for id in &out {
            self.expiring.insert(*id, now);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A lease expires exactly once its TTL has passed without a keep-alive; a
    /// keep-alive pushes the deadline out; an expired lease is proposed once per retry.
    #[test]
    fn lease_expires_after_ttl_unless_kept_alive() {
        let t0 = Instant::now();
        let mut l = Lessor::new();
        l.sync(&[(LeaseId(1), 2), (LeaseId(2), 2)], t0);
        assert!(l
            .take_expired(t0 + Duration::from_millis(1999), Duration::from_secs(1))
            .is_empty());
        assert_eq!(
            l.keep_alive(LeaseId(2), t0 + Duration::from_secs(1)),
            Some(Duration::from_secs(2))
        );
        let at = t0 + Duration::from_secs(2);
        assert_eq!(l.take_expired(at, Duration::from_secs(1)), vec![LeaseId(1)]);
        assert!(
            l.take_expired(at, Duration::from_secs(1)).is_empty(),
            "not proposed twice"
        );
        assert_eq!(
            l.take_expired(at + Duration::from_secs(1), Duration::from_secs(1)),
            vec![LeaseId(1), LeaseId(2)]
        );
        l.sync(&[(LeaseId(2), 2)], at);
        assert_eq!(
            l.keep_alive(LeaseId(1), at),
            None,
            "revoked lease is forgotten"
        );
    }

    /// After a leader change (clear + sync), every lease gets a full TTL again.
    #[test]
    fn new_leader_restarts_every_deadline() {
        let t0 = Instant::now();
        let mut l = Lessor::new();
        l.sync(&[(LeaseId(7), 5)], t0);
        let later = t0 + Duration::from_secs(4);
        l.clear();
        l.sync(&[(LeaseId(7), 5)], later);
        assert_eq!(l.remaining(LeaseId(7), later), Some(Duration::from_secs(5)));
    }

    #[test]
    fn skewed_clock_runs_ahead_by_the_skew() {
        let c = SkewableClock::default();
        c.set_skew_ms(10_000);
        assert!(c.now() >= Instant::now() + Duration::from_millis(9_000));
    }
}
