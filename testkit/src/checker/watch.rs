//! etcd's watch guarantees, checked against recordings of what each watcher received.
//!
//! The ground truth is a [`CommittedHistory`]: for each revision, the events it
//! committed (built from acknowledged writes, plus what watchers saw of writes whose
//! acknowledgement was lost, see [`CommittedHistory::add_observed`]). Each
//! [`WatchRecording`] is one watcher's stream: its key range, start revision, and every
//! message in arrival order, with the client's own restarts marked. The checker holds
//! each stream to the guarantees etcd documents: ordered, unique, reliable, atomic,
//! resumable and bookmarkable; and all watchers to agreeing on what each revision did.
//!
//! Not here: checking that writes reached the store at all (that is the
//! linearizability checker's job), or the contents of `prev_kv`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

use serde::{Deserialize, Serialize};

use super::history::Revision;
use super::{CheckReport, ReportedViolation};

#[cfg(test)]
mod tests;

/// Whether an event wrote or removed its key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// The key was created or overwritten.
    Put,
    /// The key was removed.
    Delete,
}

/// One change of one key at some revision.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct WatchEvent {
    /// The key changed.
    pub key: String,
    /// How it changed.
    pub kind: EventKind,
    /// The value written; empty for a delete.
    pub value: String,
}

impl WatchEvent {
    /// A put of `value` to `key`.
    pub fn put(key: impl Into<String>, value: impl Into<String>) -> Self {
        WatchEvent {
            key: key.into(),
            kind: EventKind::Put,
            value: value.into(),
        }
    }

    /// A delete of `key`.
    pub fn delete(key: impl Into<String>) -> Self {
        WatchEvent {
            key: key.into(),
            kind: EventKind::Delete,
            value: String::new(),
        }
    }
}

impl fmt::Display for WatchEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            EventKind::Put => write!(f, "put {:?}={:?}", self.key, self.value),
            EventKind::Delete => write!(f, "delete {:?}", self.key),
        }
    }
}

/// The keys a watcher asked for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyRange {
    /// Exactly one key.
    Key(String),
    /// Every key starting with the prefix; the empty prefix is every key.
    Prefix(String),
    /// Keys in `[start, end)`.
    Range {
        /// First key included.
        start: String,
        /// First key excluded.
        end: String,
    },
    /// Every key `>= start`.
    FromKey(String),
}

impl KeyRange {
    /// Whether `key` is watched.
    pub fn contains(&self, key: &str) -> bool {
        match self {
            KeyRange::Key(k) => key == k,
            KeyRange::Prefix(p) => key.starts_with(p.as_str()),
            KeyRange::Range { start, end } => start.as_str() <= key && key < end.as_str(),
            KeyRange::FromKey(start) => start.as_str() <= key,
        }
    }
}

/// Ground truth: the events every committed revision made.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedHistory {
    /// Revision to its events, in the order the revision's transaction made them.
    pub revisions: BTreeMap<Revision, Vec<WatchEvent>>,
}

impl CommittedHistory {
    /// An empty history.
    pub fn new() -> Self {
        CommittedHistory::default()
    }

    /// Records that `revision` made `events`, replacing anything recorded for it.
    pub fn record(&mut self, revision: Revision, events: Vec<WatchEvent>) {
        self.revisions.insert(revision, events);
    }

    /// Fills revisions the ground truth lacks (writes whose acknowledgement was lost)
    /// with what the watchers saw of them, merged by key. Revisions already recorded are
    /// left alone, so a watcher that disagrees with them is still caught.
    pub fn add_observed(&mut self, recordings: &[WatchRecording]) {
        let mut observed: BTreeMap<Revision, Vec<WatchEvent>> = BTreeMap::new();
        for rec in recordings {
            for msg in &rec.messages {
                let WatchMessage::Events { revision, events } = msg else {
                    continue;
                };
                if self.revisions.contains_key(revision) {
                    continue;
                }
                let merged = observed.entry(*revision).or_default();
                for e in events {
                    if !merged.iter().any(|m| m.key == e.key) {
                        merged.push(e.clone());
                    }
                }
            }
        }
        self.revisions.extend(observed);
    }
}

/// Why the server ended a watch stream.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CancelReason {
    /// The requested revisions were compacted away; the client must re-list.
    Compacted {
        /// The compaction point.
        compacted: Revision,
    },
    /// The watcher fell too far behind; it may resume from `resume_from` without loss.
    Slow {
        /// The first revision the server has not delivered.
        resume_from: Revision,
    },
    /// Any other reason (shutdown, leader change).
    Other,
}

/// One entry of a watcher's recording, in arrival order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum WatchMessage {
    /// The events of one revision.
    Events {
        /// The revision they were committed at.
        revision: Revision,
        /// The events, filtered to the watched range.
        events: Vec<WatchEvent>,
    },
    /// A progress notification (bookmark): everything up to `revision` was delivered.
    Progress {
        /// The revision the stream has caught up to.
        revision: Revision,
    },
    /// The server ended the stream.
    Canceled {
        /// Why.
        reason: CancelReason,
    },
    /// Not sent by the server: the recorder's mark that the client opened the watch
    /// again from `start_revision` (after a cancel, or on its own).
    Resumed {
        /// The revision the new stream starts at.
        start_revision: Revision,
    },
}

/// Everything one watcher received.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchRecording {
    /// The watcher's name, used in violations.
    pub watcher: String,
    /// The keys it watched.
    pub range: KeyRange,
    /// The revision it asked to start at; 0 means "from now", which the recorder cannot
    /// know, so the stream is then judged from its first delivered revision.
    pub start_revision: Revision,
    /// What it received, in order.
    pub messages: Vec<WatchMessage>,
}

/// A watch guarantee; the names follow etcd's API guarantees document.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Guarantee {
    /// Revisions strictly increase within one stream.
    Ordered,
    /// No revision is delivered twice on one stream.
    Unique,
    /// No committed revision touching the range is skipped between the start and the
    /// last revision delivered.
    Reliable,
    /// A revision's events arrive in one message and are exactly its committed events
    /// in the range.
    Atomic,
    /// A stream (re)started at `r` delivers first the first committed revision `>= r`
    /// in the range, and a slow cancel's `resume_from` loses nothing.
    Resumable,
    /// A progress notification at `r` comes only after every revision `<= r` in the
    /// range was delivered.
    Bookmarkable,
    /// Watchers that saw a revision agree on what it did to each key.
    Agreement,
    /// A cancelled stream delivers nothing more.
    Cancellation,
}

impl fmt::Display for Guarantee {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Guarantee::Ordered => "ordered",
            Guarantee::Unique => "unique",
            Guarantee::Reliable => "reliable",
            Guarantee::Atomic => "atomic",
            Guarantee::Resumable => "resumable",
            Guarantee::Bookmarkable => "bookmarkable",
            Guarantee::Agreement => "agreement",
            Guarantee::Cancellation => "cancellation",
        };
        f.write_str(name)
    }
}

/// One broken watch guarantee.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchViolation {
    /// The watcher, or `a vs b` for a disagreement.
    pub watcher: String,
    /// The guarantee broken.
    pub guarantee: Guarantee,
    /// The revisions involved.
    pub revisions: Vec<Revision>,
    /// What happened, in words.
    pub detail: String,
}

impl fmt::Display for WatchViolation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}: {}", self.guarantee, self.watcher, self.detail)
    }
}

/// The result of checking a set of watch recordings.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WatchReport {
    /// Recordings checked.
    pub watchers: usize,
    /// Messages checked.
    pub messages: usize,
    /// Events checked.
    pub events: usize,
    /// Every violation, per watcher in message order, then disagreements.
    pub violations: Vec<WatchViolation>,
}

impl WatchReport {
    /// True when no guarantee was broken.
    pub fn passed(&self) -> bool {
        self.violations.is_empty()
    }

    /// The distinct guarantees broken, in a stable order.
    pub fn broken(&self) -> Vec<Guarantee> {
        let set: BTreeSet<Guarantee> = self.violations.iter().map(|v| v.guarantee).collect();
        set.into_iter().collect()
    }

    /// This result as a [`CheckReport`] named `watch`.
    pub fn report(&self) -> CheckReport {
        let mut report = CheckReport::new("watch");
        report.events_checked = self.events as u64;
        report.violations = self
            .violations
            .iter()
            .map(|v| ReportedViolation {
                property: v.guarantee.to_string(),
                subject: v.watcher.clone(),
                detail: v.detail.clone(),
            })
            .collect();
        report
    }
}

/// Checks every recording against `committed` and against each other.
pub fn check(committed: &CommittedHistory, recordings: &[WatchRecording]) -> WatchReport {
    let mut report = WatchReport {
        watchers: recordings.len(),
        ..WatchReport::default()
    };
    for rec in recordings {
        report.messages += rec.messages.len();
        for msg in &rec.messages {
            if let WatchMessage::Events { events, .. } = msg {
                report.events += events.len();
            }
        }
        let mut stream = Stream::new(committed, rec);
        stream.run();
        report.violations.extend(stream.violations);
    }
    report.violations.extend(disagreements(recordings));
    report
}

/// Watchers that delivered the same revision must agree on each key they both watch.
fn disagreements(recordings: &[WatchRecording]) -> Vec<WatchViolation> {
    let mut seen: BTreeMap<Revision, HashMap<&str, (&WatchEvent, &str)>> = BTreeMap::new();
    let mut found = Vec::new();
    for rec in recordings {
        for msg in &rec.messages {
            let WatchMessage::Events { revision, events } = msg else {
                continue;
            };
            let at = seen.entry(*revision).or_default();
            for e in events {
                match at.get(e.key.as_str()) {
                    None => {
                        at.insert(e.key.as_str(), (e, rec.watcher.as_str()));
                    }
                    Some((first, who)) if *first != e => found.push(WatchViolation {
                        watcher: format!("{who} vs {}", rec.watcher),
                        guarantee: Guarantee::Agreement,
                        revisions: vec![*revision],
                        detail: format!(
                            "at revision {revision}, {who} saw {first} but {} saw {e}",
                            rec.watcher
                        ),
                    }),
                    Some(_) => {}
                }
            }
        }
    }
    found
}

/// One stream between a (re)start and its end.
struct Segment {
    start: Revision,
    resumed: bool,
    delivered: BTreeSet<Revision>,
    first: Option<Revision>,
    highest: Option<Revision>,
    progress: Option<Revision>,
    /// Revisions already blamed on a more specific guarantee than reliability.
    blamed: BTreeSet<Revision>,
    /// Index into the in-range revisions below which, from the origin on, everything
    /// was delivered or blamed: progress checks resume there instead of rescanning.
    settled: Option<usize>,
    closed: bool,
}

impl Segment {
    fn new(start: Revision, resumed: bool) -> Segment {
        Segment {
            start,
            resumed,
            delivered: BTreeSet::new(),
            first: None,
            highest: None,
            progress: None,
            blamed: BTreeSet::new(),
            settled: None,
            closed: false,
        }
    }

    /// Where the stream's obligations begin; unknown for a "from now" stream that has
    /// delivered nothing.
    fn origin(&self) -> Option<Revision> {
        if self.start.0 > 0 {
            Some(self.start)
        } else {
            self.first
        }
    }
}

/// The checks on one recording.
struct Stream<'a> {
    committed: &'a CommittedHistory,
    rec: &'a WatchRecording,
    /// Committed revisions with at least one event in the range, ascending.
    in_range: Vec<Revision>,
    violations: Vec<WatchViolation>,
}

impl<'a> Stream<'a> {
    fn new(committed: &'a CommittedHistory, rec: &'a WatchRecording) -> Stream<'a> {
        let in_range = committed
            .revisions
            .iter()
            .filter(|(_, events)| events.iter().any(|e| rec.range.contains(&e.key)))
            .map(|(r, _)| *r)
            .collect();
        Stream {
            committed,
            rec,
            in_range,
            violations: Vec::new(),
        }
    }

    fn blame(&mut self, guarantee: Guarantee, revisions: Vec<Revision>, detail: String) {
        self.violations.push(WatchViolation {
            watcher: self.rec.watcher.clone(),
            guarantee,
            revisions,
            detail,
        });
    }

    /// Committed in-range revisions in `[from, to]` (inclusive) not yet delivered.
    fn undelivered(&self, seg: &Segment, from: Revision, to: Revision) -> Vec<Revision> {
        let lo = self.in_range.partition_point(|r| *r < from);
        self.in_range[lo..]
            .iter()
            .take_while(|r| **r <= to)
            .filter(|r| !seg.delivered.contains(r) && !seg.blamed.contains(r))
            .copied()
            .collect()
    }

    fn run(&mut self) {
        let rec = self.rec;
        let mut seg = Segment::new(rec.start_revision, false);
        let mut i = 0;
        while let Some(msg) = rec.messages.get(i) {
            match msg {
                WatchMessage::Events { revision, events } => {
                    // Consecutive messages for one revision are examined together.
                    let mut parts = vec![events];
                    while let Some(WatchMessage::Events {
                        revision: r,
                        events: more,
                    }) = rec.messages.get(i + 1)
                    {
                        if r != revision {
                            break;
                        }
                        parts.push(more);
                        i += 1;
                    }
                    self.deliver(&mut seg, *revision, &parts);
                }
                WatchMessage::Progress { revision } => self.progress(&mut seg, *revision),
                WatchMessage::Canceled { reason } => self.cancel(&mut seg, reason),
                WatchMessage::Resumed { start_revision } => {
                    self.close(&mut seg);
                    seg = Segment::new(*start_revision, true);
                }
            }
            i += 1;
        }
        self.close(&mut seg);
    }

    fn deliver(&mut self, seg: &mut Segment, rev: Revision, parts: &[&Vec<WatchEvent>]) {
        if seg.closed {
            let detail = format!("revision {rev} delivered after the stream was cancelled");
            self.blame(Guarantee::Cancellation, vec![rev], detail);
            return;
        }
        let identical = parts.windows(2).all(|w| w[0] == w[1]);
        let events: Vec<&WatchEvent> = if identical {
            parts
                .first()
                .map(|p| p.iter().collect())
                .unwrap_or_default()
        } else {
            parts.iter().flat_map(|p| p.iter()).collect()
        };
        if parts.len() > 1 && identical {
            let detail = format!(
                "revision {rev} delivered in {} identical messages in a row",
                parts.len()
            );
            self.blame(Guarantee::Unique, vec![rev], detail);
        } else if parts.len() > 1 {
            let detail = format!("revision {rev} split across {} messages", parts.len());
            self.blame(Guarantee::Atomic, vec![rev], detail);
        }
        if seg.start.0 > 0 && rev < seg.start {
            let (guarantee, what) = if seg.resumed {
                (Guarantee::Resumable, "resumed")
            } else {
                (Guarantee::Ordered, "started")
            };
            let detail = format!(
                "revision {rev} delivered on a stream {what} at revision {}",
                seg.start
            );
            self.blame(guarantee, vec![rev], detail);
        } else if seg.delivered.contains(&rev) {
            self.blame(
                Guarantee::Unique,
                vec![rev],
                format!("revision {rev} delivered twice"),
            );
        } else if let Some(high) = seg.highest.filter(|h| rev < *h) {
            let detail = format!("revision {rev} delivered after revision {high}");
            self.blame(Guarantee::Ordered, vec![high, rev], detail);
        }
        if let Some(p) = seg
            .progress
            .filter(|p| rev <= *p && !seg.blamed.contains(&rev))
        {
            let detail = format!("revision {rev} delivered after a progress notification at {p}");
            self.blame(Guarantee::Bookmarkable, vec![p, rev], detail);
        }
        self.compare_with_committed(rev, events);
        seg.delivered.insert(rev);
        seg.first.get_or_insert(rev);
        seg.highest = seg.highest.max(Some(rev));
    }

    fn compare_with_committed(&mut self, rev: Revision, mut delivered: Vec<&WatchEvent>) {
        let range = &self.rec.range;
        let committed = self.committed.revisions.get(&rev);
        let mut expected: Vec<&WatchEvent> = committed
            .map(|events| events.iter().filter(|e| range.contains(&e.key)).collect())
            .unwrap_or_default();
        // The order of events inside one revision is not a guarantee we check.
        delivered.sort();
        expected.sort();
        if delivered == expected {
            return;
        }
        let list = |events: &[&WatchEvent]| {
            events
                .iter()
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let detail = if expected.is_empty() {
            format!(
                "revision {rev} delivered [{}] but committed nothing in range",
                list(&delivered)
            )
        } else {
            format!(
                "revision {rev} delivered [{}] but committed [{}] in range",
                list(&delivered),
                list(&expected)
            )
        };
        self.blame(Guarantee::Atomic, vec![rev], detail);
    }

    fn progress(&mut self, seg: &mut Segment, rev: Revision) {
        if seg.closed {
            let detail = format!("progress at {rev} after the stream was cancelled");
            self.blame(Guarantee::Cancellation, vec![rev], detail);
            return;
        }
        if let Some(origin) = seg.origin() {
            let accounted = |r: &Revision| seg.delivered.contains(r) || seg.blamed.contains(r);
            let mut settled = seg
                .settled
                .unwrap_or_else(|| self.in_range.partition_point(|r| *r < origin));
            while self.in_range.get(settled).is_some_and(accounted) {
                settled += 1;
            }
            seg.settled = Some(settled);
            let missing: Vec<Revision> = self.in_range[settled.min(self.in_range.len())..]
                .iter()
                .take_while(|r| **r <= rev)
                .filter(|r| !accounted(r))
                .copied()
                .collect();
            if !missing.is_empty() {
                let detail = format!(
                    "progress at {rev} before revisions {} were delivered",
                    show(&missing)
                );
                seg.blamed.extend(missing.iter().copied());
                self.blame(Guarantee::Bookmarkable, missing, detail);
            }
        }
        seg.progress = seg.progress.max(Some(rev));
    }

    fn cancel(&mut self, seg: &mut Segment, reason: &CancelReason) {
        if seg.closed {
            let detail = "cancelled again after the stream was cancelled".to_string();
            self.blame(Guarantee::Cancellation, Vec::new(), detail);
            return;
        }
        if let (CancelReason::Slow { resume_from }, Some(origin)) = (reason, seg.origin()) {
            if resume_from.0 > 0 {
                let missing = self.undelivered(seg, origin, Revision(resume_from.0 - 1));
                if !missing.is_empty() {
                    let detail = format!(
                        "cancelled as slow with resume_from {resume_from}, but revisions {} were never delivered",
                        show(&missing)
                    );
                    seg.blamed.extend(missing.iter().copied());
                    self.blame(Guarantee::Resumable, missing, detail);
                }
            }
        }
        self.close(seg);
    }

    /// The end-of-stream checks: the first revision after a resume, and gaps.
    fn close(&mut self, seg: &mut Segment) {
        if seg.closed {
            return;
        }
        seg.closed = true;
        let (Some(origin), Some(first), Some(highest)) = (seg.origin(), seg.first, seg.highest)
        else {
            return;
        };
        if seg.resumed && first >= seg.start {
            let skipped = self.undelivered(seg, seg.start, first);
            if let Some(&expected) = skipped.first().filter(|r| **r < first) {
                let detail = format!(
                    "resumed at {} and first delivered {first}, but {expected} is the first committed revision in range",
                    seg.start
                );
                seg.blamed.extend(skipped.iter().copied());
                self.blame(Guarantee::Resumable, vec![expected, first], detail);
            }
        }
        let gaps = self.undelivered(seg, origin, highest);
        if !gaps.is_empty() {
            let detail = format!(
                "revisions {} were committed in range but skipped before {highest}",
                show(&gaps)
            );
            self.blame(Guarantee::Reliable, gaps, detail);
        }
    }
}

/// A list of revisions, shortened when long.
fn show(revisions: &[Revision]) -> String {
    const SHOWN: usize = 10;
    let head: Vec<String> = revisions
        .iter()
        .take(SHOWN)
        .map(|r| r.to_string())
        .collect();
    match revisions.len() {
        n if n > SHOWN => format!("{} (and {} more)", head.join(", "), n - SHOWN),
        _ => head.join(", "),
    }
}
