//! Endpoint metrics: lock-free counters and gauges, read as a plain snapshot.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::socket::SocketStats;

/// A point-in-time copy of an endpoint's counters (`_total` never decreases) and gauges.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct EndpointMetrics {
    /// Connections currently open (gauge).
    pub connections_open: i64,
    /// Connections we dialed successfully.
    pub connections_dialed_total: u64,
    /// Connections peers dialed to us that passed the handshake.
    pub connections_accepted_total: u64,
    /// Connections that closed, for any reason.
    pub connections_closed_total: u64,
    /// Dial attempts that failed (handshake refused by either side, unreachable, timeout).
    pub dial_failures_total: u64,
    /// Incoming handshakes we refused or that failed.
    pub handshakes_refused_total: u64,
    /// Background reconnect attempts after a connection closed.
    pub reconnect_attempts_total: u64,
    /// Streams we opened.
    pub streams_opened_total: u64,
    /// Streams peers opened to us.
    pub streams_accepted_total: u64,
    /// Streams we reset or stopped because of bad input or timeouts.
    pub streams_rejected_total: u64,
    /// Frames written.
    pub frames_sent_total: u64,
    /// Frames read and validated.
    pub frames_received_total: u64,
    /// Unary calls started.
    pub calls_total: u64,
    /// Unary calls that ended in an error (timeouts included).
    pub call_errors_total: u64,
    /// Unary calls whose deadline passed.
    pub call_timeouts_total: u64,
    /// Messages dropped by fault rules.
    pub faults_dropped_total: u64,
    /// Messages delayed by fault rules.
    pub faults_delayed_total: u64,
    /// Extra message copies made by fault rules.
    pub faults_duplicated_total: u64,
    /// The endpoint's UDP socket counters.
    pub socket: SocketStats,
}

macro_rules! counters {
    ($($name:ident),* $(,)?) => {
        /// The live counters behind [`EndpointMetrics`].
        #[derive(Debug, Default)]
        pub(crate) struct Metrics {
            pub(crate) connections_open: AtomicI64,
            $(pub(crate) $name: AtomicU64,)*
        }

        impl Metrics {
            pub(crate) fn snapshot(&self, socket: SocketStats) -> EndpointMetrics {
                EndpointMetrics {
                    connections_open: self.connections_open.load(Ordering::Relaxed),
                    $($name: self.$name.load(Ordering::Relaxed),)*
                    socket,
                }
            }
        }
    };
}

counters!(
    connections_dialed_total,
    connections_accepted_total,
    connections_closed_total,
    dial_failures_total,
    handshakes_refused_total,
    reconnect_attempts_total,
    streams_opened_total,
    streams_accepted_total,
    streams_rejected_total,
    frames_sent_total,
    frames_received_total,
    calls_total,
    call_errors_total,
    call_timeouts_total,
    faults_dropped_total,
    faults_delayed_total,
    faults_duplicated_total,
);

/// Adds one to a counter.
pub(crate) fn inc(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}
