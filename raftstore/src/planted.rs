//! Planted bugs and fault switches for chaos tests: the proof that the testkit's
//! checkers catch what they claim to catch.
//!
//! With the `failpoints` feature, each [`Bug`] is a runtime switch, off until a test
//! plants it with [`plant`] (or a member process is started with the environment
//! variable [`ENV`] naming it, e.g. `HIVE_PLANTED_BUGS=stale-read`). The store calls one
//! hook per bug at the place the bug lives; without the feature every hook is a
//! constant that compiles to nothing, so release builds carry no bug.
//!
//! [`DiskSwitch`] gives the testkit a handle on a cluster's disk faults that exists in
//! every build (it is only ever handed out when the feature is on), so the testkit need
//! not know which features its store was built with.

use std::fmt;
use std::str::FromStr;

use crate::log::LogOptions;

/// The environment variable a member process reads its planted bugs from: names
/// separated by commas.
pub const ENV: &str = "HIVE_PLANTED_BUGS";

/// Whether this build can plant bugs and inject disk faults.
pub const AVAILABLE: bool = cfg!(feature = "failpoints");

/// A deliberate bug, each breaking one promise of the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Bug {
    /// A member that believes it leads answers linearizable reads without confirming
    /// its leadership (no read index), so a deposed leader serves stale reads.
    StaleRead,
    /// Log appends are acknowledged as soon as they are written, before any fsync, and
    /// the fsync is left to a round at most once a second, so a power cut loses up to a
    /// second of acknowledged writes while throughput stays normal.
    AckBeforeFsync,
    /// The watch hub drops every live event of each 50th revision.
    DropWatchEvent,
    /// A watch asked to start at revision r starts at r + 1.
    LateWatchResume,
}

impl Bug {
    /// Every bug.
    pub const ALL: [Bug; 4] = [
        Bug::StaleRead,
        Bug::AckBeforeFsync,
        Bug::DropWatchEvent,
        Bug::LateWatchResume,
    ];

    /// The name used in [`ENV`] and on command lines.
    pub fn name(self) -> &'static str {
        match self {
            Bug::StaleRead => "stale-read",
            Bug::AckBeforeFsync => "ack-before-fsync",
            Bug::DropWatchEvent => "drop-watch-event",
            Bug::LateWatchResume => "late-watch-resume",
        }
    }

    #[cfg(feature = "failpoints")]
    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

impl fmt::Display for Bug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Bug {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Bug::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                format!(
                    "unknown planted bug {s:?} (expected stale-read, ack-before-fsync, drop-watch-event or late-watch-resume)"
                )
            })
    }
}

/// Parses a comma-separated list of bug names.
pub fn parse_list(text: &str) -> Result<Vec<Bug>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::parse)
        .collect()
}

#[cfg(feature = "failpoints")]
mod switches {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Once;

    use super::{Bug, ENV};

    static PLANTED: AtomicU32 = AtomicU32::new(0);
    static FROM_ENV: Once = Once::new();

    fn bits() -> u32 {
        FROM_ENV.call_once(|| {
            let Ok(text) = std::env::var(ENV) else { return };
            match super::parse_list(&text) {
                Ok(bugs) => {
                    for b in bugs {
                        tracing::warn!(bug = %b, "planted bug switched on from {ENV}");
                        PLANTED.fetch_or(b.bit(), Ordering::SeqCst);
                    }
                }
                Err(e) => tracing::error!(error = %e, "{ENV} ignored"),
            }
        });
        PLANTED.load(Ordering::Relaxed)
    }

    pub(super) fn set(bug: Bug, on: bool) {
        bits();
        if on {
            PLANTED.fetch_or(bug.bit(), Ordering::SeqCst);
        } else {
            PLANTED.fetch_and(!bug.bit(), Ordering::SeqCst);
        }
    }

    pub(super) fn is_on(bug: Bug) -> bool {
        bits() & bug.bit() != 0
    }
}

/// Switches `bug` on in this process; fails in a build without the `failpoints` feature.
pub fn plant(bug: Bug) -> Result<(), String> {
    #[cfg(feature = "failpoints")]
    {
        tracing::warn!(%bug, "planted bug switched on");
        switches::set(bug, true);
        Ok(())
    }
    #[cfg(not(feature = "failpoints"))]
    {
        Err(format!(
            "cannot plant {bug}: hive-raftstore was built without the `failpoints` feature"
        ))
    }
}

/// Switches `bug` off again.
pub fn remove(bug: Bug) {
    #[cfg(feature = "failpoints")]
    switches::set(bug, false);
    #[cfg(not(feature = "failpoints"))]
    let _ = bug;
}

/// Whether `bug` is switched on in this process.
#[inline(always)]
pub fn is_planted(bug: Bug) -> bool {
    #[cfg(feature = "failpoints")]
    {
        switches::is_on(bug)
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = bug;
        false
    }
}

// ---- the hooks, one call each at the place the bug lives ------------------------------

/// The read index before a linearizable read; with [`Bug::StaleRead`] planted, a member
/// that believes it leads skips it.
pub(crate) async fn read_index(
    raft: &crate::raft_types::Raft,
) -> Result<
    Option<openraft::LogId<crate::types::NodeId>>,
    openraft::error::RaftError<
        crate::types::NodeId,
        openraft::error::CheckIsLeaderError<crate::types::NodeId, openraft::BasicNode>,
    >,
> {
    if is_planted(Bug::StaleRead) && raft.metrics().borrow().state == openraft::ServerState::Leader
    {
        return Ok(None);
    }
    raft.ensure_linearizable().await
}

/// [`Bug::AckBeforeFsync`]: acknowledges `appends` at once through `ack` (taking them
/// out of the vector) and answers whether their fsync is put off to a later round: it
/// is unless this flusher thread last synced [`LAZY_FSYNC`] ago or longer. Otherwise
/// leaves `appends` alone and answers false.
#[inline(always)]
pub(crate) fn ack_before_fsync<T>(appends: &mut Vec<T>, ack: impl FnOnce(Vec<T>)) -> bool {
    #[cfg(feature = "failpoints")]
    if is_planted(Bug::AckBeforeFsync) && !appends.is_empty() {
        ack(std::mem::take(appends));
        return lazy_fsync::put_off();
    }
    let _ = (appends, ack);
    false
}

/// How long [`Bug::AckBeforeFsync`] lets a log go without an fsync while it acknowledges
/// appends: a store that acknowledges on write() and syncs on a timer.
#[cfg(feature = "failpoints")]
pub(crate) const LAZY_FSYNC: std::time::Duration = std::time::Duration::from_secs(1);

#[cfg(feature = "failpoints")]
mod lazy_fsync {
    use std::cell::Cell;
    use std::time::Instant;

    thread_local! {
        /// When this flusher thread (one per log) last let an fsync through.
        static LAST_FSYNC: Cell<Option<Instant>> = const { Cell::new(None) };
    }

    /// True while the last fsync let through is under [`super::LAZY_FSYNC`] old;
    /// otherwise records that one happens now.
    pub(super) fn put_off() -> bool {
        LAST_FSYNC.with(|last| match last.get() {
            Some(at) if at.elapsed() < super::LAZY_FSYNC => true,
            _ => {
                last.set(Some(Instant::now()));
                false
            }
        })
    }
}

/// [`Bug::DropWatchEvent`]: true when the live events of `revision` are to be dropped.
#[inline(always)]
pub(crate) fn drop_watch_event(revision: crate::types::Revision) -> bool {
    is_planted(Bug::DropWatchEvent) && revision.0.is_multiple_of(50)
}

/// [`Bug::LateWatchResume`]: the watch request, starting one revision late.
#[inline(always)]
pub(crate) fn resume_late(mut req: crate::watch::WatchRequest) -> crate::watch::WatchRequest {
    if is_planted(Bug::LateWatchResume) {
        if let Some(r) = req.start_revision.filter(|r| r.0 > 0) {
            req.start_revision = Some(r.next());
        }
    }
    req
}

// ---- disk faults, in every build --------------------------------------------------------

/// A handle on the disk faults of every log built from one [`LogOptions`]. Handed out
/// only by a build with the `failpoints` feature.
#[derive(Clone, Debug)]
pub struct DiskSwitch {
    #[cfg(feature = "failpoints")]
    faults: crate::log::DiskFaults,
}

/// Installs a fresh disk-fault switchboard in `opts` and answers a handle on it, or
/// `None` in a build without the `failpoints` feature.
pub fn disk_switch(opts: &mut LogOptions) -> Option<DiskSwitch> {
    #[cfg(feature = "failpoints")]
    {
        let faults = crate::log::DiskFaults::default();
        opts.faults = faults.clone();
        Some(DiskSwitch { faults })
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = opts;
        None
    }
}

impl DiskSwitch {
    /// The next fsync of any log sharing the switchboard fails.
    pub fn fail_next_fsync(&self) {
        #[cfg(feature = "failpoints")]
        self.faults.fail_next_fsync();
    }

    /// The next log write stores half its bytes, then fails.
    pub fn tear_next_write(&self) {
        #[cfg(feature = "failpoints")]
        self.faults.tear_next_write();
    }

    /// From now on a killed member loses what its log had not yet synced, as a machine
    /// losing power would (LazyFS style).
    pub fn lose_unsynced_on_kill(&self) {
        #[cfg(feature = "failpoints")]
        self.faults.lose_unsynced_on_drop();
    }

    /// Every log of the cluster loses power at this instant: nothing syncs or is
    /// acknowledged after it, so killing the members one by one afterwards loses, on
    /// each, exactly what it had not synced at this instant (a whole-cluster power cut,
    /// not a rolling one). Members started later are powered again.
    pub fn cut_power(&self) {
        #[cfg(feature = "failpoints")]
        self.faults.cut_power();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bug names round-trip and an unknown name is refused with the list of known ones.
    #[test]
    fn bug_names_parse_back_and_unknown_names_are_refused() {
        for b in Bug::ALL {
            assert_eq!(b.name().parse::<Bug>(), Ok(b));
        }
        assert_eq!(
            parse_list("stale-read, late-watch-resume"),
            Ok(vec![Bug::StaleRead, Bug::LateWatchResume])
        );
        let e = parse_list("stale-read,flaky").expect_err("unknown");
        assert!(e.contains("flaky") && e.contains("drop-watch-event"), "{e}");
    }

    /// Planting switches a bug on and removing it switches it off; a build without
    /// failpoints refuses to plant.
    #[test]
    fn planting_and_removing_a_bug_switches_its_hook() {
        assert!(!is_planted(Bug::DropWatchEvent));
        if AVAILABLE {
            plant(Bug::DropWatchEvent).expect("plants");
            assert!(drop_watch_event(crate::types::Revision(100)));
            assert!(!drop_watch_event(crate::types::Revision(101)));
            remove(Bug::DropWatchEvent);
            assert!(!drop_watch_event(crate::types::Revision(100)));
        } else {
            assert!(plant(Bug::DropWatchEvent).is_err());
        }
    }
}
