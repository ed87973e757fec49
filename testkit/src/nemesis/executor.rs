//! Applies a [`Schedule`] to a backend at its times, undoes each fault when its time is
//! up, watches who leads meanwhile, and heals everything at the end of the run.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use hive_raftstore::NodeId;
use serde::{Deserialize, Serialize};

use super::{Fault, NemesisKind, Schedule, Target};
use crate::harness::{Capability, ClusterBackend};

/// How often the executor asks who leads.
const LEADER_POLL: Duration = Duration::from_millis(25);

/// A fault aimed at the leader waits at most this many election timeouts for one.
const LEADER_WAIT_TIMEOUTS: u32 = 5;

/// What became of one scheduled fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FaultResult {
    /// It was applied and later undone.
    Applied,
    /// The backend cannot inject it (e.g. disk faults without failpoints).
    Skipped(String),
    /// Applying it failed; the run went on.
    Failed(String),
}

/// A fault as it happened.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppliedFault {
    /// The fault as scheduled.
    pub fault: Fault,
    /// The members it hit, with symbolic targets resolved.
    pub hit: Vec<u64>,
    /// When it was applied, in milliseconds since the start of the run.
    pub at_ms: u64,
    /// When it was undone.
    pub healed_at_ms: u64,
    /// Whether it was applied.
    pub result: FaultResult,
}

/// A change of the member reported as leader.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeaderChange {
    /// Milliseconds since the start of the run.
    pub at_ms: u64,
    /// The previous leader (None: there was none).
    pub from: Option<u64>,
    /// The new leader (None: none leads now).
    pub to: Option<u64>,
}

/// Everything the executor did and saw.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NemesisLog {
    /// Every scheduled fault, in order, with what became of it.
    pub faults: Vec<AppliedFault>,
    /// Every change of leader observed, including a leader disappearing.
    pub leader_changes: Vec<LeaderChange>,
    /// When everything was healed, in milliseconds since the start of the run.
    pub healed_at_ms: u64,
    /// Set if healing failed: the liveness check then tells whether that mattered.
    pub heal_error: Option<String>,
}

impl NemesisLog {
    /// Changes from one leader to a different one (a leader disappearing and the same
    /// member coming back does not count).
    pub fn leader_handovers(&self) -> usize {
        let mut last: Option<u64> = None;
        let mut n = 0;
        for c in &self.leader_changes {
            if let Some(to) = c.to {
                if last.is_some_and(|l| l != to) {
                    n += 1;
                }
                last = Some(to);
            }
        }
        n
    }
}

/// Watches the leader and timestamps changes.
struct LeaderWatch {
    start: Instant,
    current: Option<u64>,
    changes: Vec<LeaderChange>,
}

impl LeaderWatch {
    async fn poll<B: ClusterBackend>(&mut self, backend: &B) {
        let now = backend.leader().await.map(|n| n.0);
        if now != self.current {
            self.changes.push(LeaderChange {
                at_ms: ms_since(self.start),
                from: self.current,
                to: now,
            });
            self.current = now;
        }
    }

    /// Sleeps until `deadline`, polling the leader.
    async fn until<B: ClusterBackend>(&mut self, backend: &B, deadline: Instant) {
        self.poll_until(backend, deadline, |_| false).await;
    }

    /// Polls the leader until someone leads or `deadline` passes.
    async fn until_leader<B: ClusterBackend>(&mut self, backend: &B, deadline: Instant) {
        self.poll_until(backend, deadline, |w| w.current.is_some())
            .await;
    }

    async fn poll_until<B: ClusterBackend>(
        &mut self,
        backend: &B,
        deadline: Instant,
        done: impl Fn(&Self) -> bool,
    ) {
        loop {
            self.poll(backend).await;
            let now = Instant::now();
            if now >= deadline || done(self) {
                return;
            }
            tokio::time::sleep(LEADER_POLL.min(deadline - now)).await;
        }
    }
}

fn ms_since(start: Instant) -> u64 {
    start.elapsed().as_millis() as u64
}

/// Runs `schedule` against `backend` from `start` until `start + duration`, then heals
/// everything. Faults that cannot be applied are recorded and skipped.
pub async fn execute<B: ClusterBackend>(
    backend: &mut B,
    schedule: &Schedule,
    start: Instant,
    duration: Duration,
) -> NemesisLog {
    let mut watch = LeaderWatch {
        start,
        current: None,
        changes: Vec::new(),
    };
    let original: BTreeSet<NodeId> = backend.members().into_iter().collect();
    let mut log = NemesisLog::default();
    for sf in &schedule.faults {
        watch.until(backend, start + sf.at()).await;
        if sf.fault.targets_leader() {
            // Right after a fault that left no leader (a whole-cluster crash, a restart),
            // an election may still be running: a fault meant for the leader waits for
            // it rather than hitting whichever member is lowest, which would often move
            // no leadership at all.
            let wait = backend.election_timeout() * LEADER_WAIT_TIMEOUTS;
            watch.until_leader(backend, Instant::now() + wait).await;
        }
        let at_ms = ms_since(start);
        let (hit, result) = apply(backend, &sf.fault).await;
        if result == FaultResult::Applied {
            tracing::info!(fault = %sf.fault, ?hit, at_ms, "nemesis: applied");
            watch.until(backend, start + sf.at() + sf.duration()).await;
            if let Err(e) = undo(backend, &sf.fault, &hit, &original).await {
                tracing::warn!(fault = %sf.fault, error = %e, "nemesis: undo failed");
            }
        } else {
            tracing::info!(fault = %sf.fault, ?result, "nemesis: not applied");
        }
        log.faults.push(AppliedFault {
            fault: sf.fault.clone(),
            hit,
            at_ms,
            healed_at_ms: ms_since(start),
            result,
        });
    }
    watch.until(backend, start + duration).await;
    if let Err(e) = heal(backend, &original).await {
        log.heal_error = Some(format!("{e:#}"));
    }
    log.healed_at_ms = ms_since(start);
    watch.poll(backend).await;
    log.leader_changes = watch.changes;
    log
}

/// Heals every fault and removes members the run added.
async fn heal<B: ClusterBackend>(
    backend: &mut B,
    original: &BTreeSet<NodeId>,
) -> anyhow::Result<()> {
    backend.heal_all().await?;
    for node in backend.members() {
        if !original.contains(&node) {
            backend.remove_member(node).await?;
        }
    }
    Ok(())
}

/// The member a target names: the leader, else the lowest running member.
async fn resolve<B: ClusterBackend>(backend: &B, target: Target) -> Option<NodeId> {
    match target {
        Target::Node(n) => Some(NodeId(n)),
        Target::Leader => match backend.leader().await {
            Some(l) => Some(l),
            None => backend.running().first().copied(),
        },
    }
}

fn capability(kind: NemesisKind) -> Capability {
    match kind {
        NemesisKind::Partition => Capability::Network,
        NemesisKind::Kill => Capability::Kill,
        NemesisKind::Pause => Capability::Pause,
        NemesisKind::Skew => Capability::Skew,
        NemesisKind::Disk => Capability::Disk,
        NemesisKind::Member => Capability::Membership,
    }
}

/// Applies one fault; answers the members hit and whether it worked.
async fn apply<B: ClusterBackend>(backend: &mut B, fault: &Fault) -> (Vec<u64>, FaultResult) {
    if !backend.supports(capability(fault.kind())) {
        let why = format!(
            "{} cannot inject {} faults",
            backend.describe(),
            fault.kind()
        );
        return (Vec::new(), FaultResult::Skipped(why));
    }
    let target = match fault {
        Fault::Isolate { target }
        | Fault::CutOutbound { target }
        | Fault::Kill { target }
        | Fault::Pause { target } => match resolve(backend, *target).await {
            Some(n) => Some(n),
            None => return (Vec::new(), FaultResult::Failed("no member to hit".into())),
        },
        _ => None,
    };
    let mut hit: Vec<u64> = target.iter().map(|n| n.0).collect();
    let done = match (fault, target) {
        (Fault::Partition { groups }, _) => {
            let groups: Vec<Vec<NodeId>> = groups
                .iter()
                .map(|g| g.iter().copied().map(NodeId).collect())
                .collect();
            hit = groups
                .first()
                .map(|g| g.iter().map(|n| n.0).collect())
                .unwrap_or_default();
            backend.partition(&groups)
        }
        (Fault::LeaderMinority, _) => {
            let members = backend.members();
            let leader = resolve(backend, Target::Leader).await;
            match leader {
                Some(l) => {
                    let others: Vec<NodeId> = members.into_iter().filter(|n| *n != l).collect();
                    // A minority of the whole: the leader and fewer than half of the rest.
                    let extra = (others.len() / 2).saturating_sub(1);
                    let mut minority = vec![l];
                    minority.extend(&others[..extra]);
                    let majority = others[extra..].to_vec();
                    hit = minority.iter().map(|n| n.0).collect();
                    backend.partition(&[minority, majority])
                }
                None => Err(anyhow::anyhow!("no member to hit")),
            }
        }
        (Fault::Isolate { .. }, Some(n)) => backend.isolate(n),
        (Fault::CutOutbound { .. }, Some(n)) => {
            let others: Vec<NodeId> = backend.members().into_iter().filter(|o| *o != n).collect();
            others
                .into_iter()
                .try_for_each(|o| backend.cut_one_way(n, o))
        }
        (Fault::Kill { .. }, Some(n)) => backend.kill(n).await,
        (Fault::Crash, _) => {
            hit = backend.running().iter().map(|n| n.0).collect();
            backend.crash_all().await.map(|_| ())
        }
        (Fault::Pause { .. }, Some(n)) => backend.pause(n).await,
        (Fault::Skew { node, ms }, _) => {
            hit = vec![*node];
            backend.skew_clock(NodeId(*node), *ms)
        }
        (Fault::Disk { fault }, _) => backend.disk_fault(None, *fault),
        (Fault::AddMember, _) => match backend.add_member().await {
            Ok(n) => {
                hit = vec![n.0];
                Ok(())
            }
            Err(e) => Err(e),
        },
        (_, None) => Err(anyhow::anyhow!("unresolved target")),
    };
    match done {
        Ok(()) => (hit, FaultResult::Applied),
        Err(e) => (hit, FaultResult::Failed(format!("{e:#}"))),
    }
}

/// Undoes one applied fault.
async fn undo<B: ClusterBackend>(
    backend: &mut B,
    fault: &Fault,
    hit: &[u64],
    original: &BTreeSet<NodeId>,
) -> anyhow::Result<()> {
    let first = hit.first().copied().map(NodeId);
    match (fault, first) {
        (
            Fault::Partition { .. }
            | Fault::LeaderMinority
            | Fault::Isolate { .. }
            | Fault::CutOutbound { .. },
            _,
        ) => backend.heal_network(),
        (Fault::Kill { .. }, Some(n)) => backend.restart(n).await,
        (Fault::Crash, _) => {
            let mut done = Ok(());
            for &n in hit {
                done = done.and(backend.restart(NodeId(n)).await);
            }
            done
        }
        (Fault::Pause { .. }, Some(n)) => backend.resume(n).await,
        (Fault::Skew { .. }, Some(n)) => backend.skew_clock(n, 0),
        (Fault::AddMember, _) => {
            for node in backend.members() {
                if !original.contains(&node) {
                    backend.remove_member(node).await?;
                }
            }
            Ok(())
        }
        _ => Ok(()),
    }
}
