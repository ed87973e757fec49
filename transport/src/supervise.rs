//! Supervision: restart failed actors with backoff, escalate when they fail too often.
//!
//! actix's own `Supervisor` restarts an actor whose context *stops*, but a panic inside
//! a handler drops the actor's future and nothing restarts it. Hive's supervision works
//! at the level of that drop: every supervised child holds a [`ChildLink`], and the link
//! reports to the supervisor when it is dropped — whether the actor stopped on purpose
//! ([`ChildLink::stop_normal`]), failed on purpose ([`ChildLink::fail`]), or died in a
//! panic (the link is dropped while unwinding without having reported anything).
//!
//! The decision what to do about a failure is a pure function ([`RestartTracker`]), in
//! the OTP manner: restart with exponential backoff, count restarts in a sliding window,
//! and escalate to the parent supervisor when the limit is hit.

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, Instant};

use actix::prelude::*;
use parking_lot::Mutex;

/// When to restart a failed child and when to give up on it.
#[derive(Clone, Debug)]
pub struct RestartPolicy {
    /// At most this many restarts within `window`; one more failure escalates.
    pub max_restarts: u32,
    pub window: Duration,
    /// Delay before the first restart; doubled for each further failure in the window.
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for RestartPolicy {
    fn default() -> Self {
        RestartPolicy {
            max_restarts: 5,
            window: Duration::from_secs(30),
            initial_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_secs(5),
        }
    }
}

/// What a supervisor does about one failure of a child.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Restart {
        after: Duration,
    },
    /// The child failed more than `max_restarts` times in the window.
    Escalate {
        failures_in_window: u32,
    },
}

/// The pure core of a restart policy: failures in, decisions out.
#[derive(Debug)]
pub struct RestartTracker {
    policy: RestartPolicy,
    failures: VecDeque<Instant>,
}

impl RestartTracker {
    pub fn new(policy: RestartPolicy) -> Self {
        RestartTracker {
            policy,
            failures: VecDeque::new(),
        }
    }

    /// Records a failure at `now` and decides what to do.
    pub fn on_failure(&mut self, now: Instant) -> Decision {
        while let Some(&first) = self.failures.front() {
            if now.duration_since(first) > self.policy.window {
                self.failures.pop_front();
            } else {
                break;
            }
        }
        self.failures.push_back(now);
        let n = self.failures.len() as u32;
        if n > self.policy.max_restarts {
            return Decision::Escalate {
                failures_in_window: n,
            };
        }
        let factor = 1u32.checked_shl(n.saturating_sub(1)).unwrap_or(u32::MAX);
        let after = self
            .policy
            .initial_backoff
            .saturating_mul(factor)
            .min(self.policy.max_backoff);
        Decision::Restart { after }
    }
}

/// Why a child stopped.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ExitReason {
    /// Stopped on purpose; not restarted.
    Normal,
    /// Failed; restarted according to the policy.
    Failed(String),
}

impl fmt::Display for ExitReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitReason::Normal => write!(f, "normal exit"),
            ExitReason::Failed(why) => write!(f, "failed: {why}"),
        }
    }
}

/// Sent to a supervisor when one of its children has stopped (or to a parent when a
/// supervisor gives up).
#[derive(Message, Debug)]
#[rtype(result = "()")]
pub struct ChildExited {
    pub name: String,
    pub generation: u64,
    pub reason: ExitReason,
}

/// A child's tie to its supervisor. Keep it in the actor: when the actor is dropped —
/// after a normal stop, a deliberate failure or a panic — the link tells the supervisor.
pub struct ChildLink {
    name: String,
    generation: u64,
    supervisor: Option<Recipient<ChildExited>>,
    reason: Arc<Mutex<Option<ExitReason>>>,
}

impl ChildLink {
    /// A link that reports to nobody, for running a child without a supervisor (tests).
    pub fn detached(name: impl Into<String>) -> Self {
        ChildLink {
            name: name.into(),
            generation: 0,
            supervisor: None,
            reason: Default::default(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Marks the coming stop as deliberate; the child will not be restarted.
    pub fn stop_normal(&self) {
        self.reason.lock().get_or_insert(ExitReason::Normal);
    }

    /// Marks the child failed (the first reason wins) and stops its context.
    pub fn fail<A>(&self, ctx: &mut A::Context, why: impl Into<String>)
    where
        A: Actor,
        A::Context: ActorContext,
    {
        let why = why.into();
        tracing::error!(child = %self.name, reason = %why, "supervised actor failed");
        self.reason.lock().get_or_insert(ExitReason::Failed(why));
        ctx.stop();
    }
}

impl Drop for ChildLink {
    fn drop(&mut self) {
        let reason = self.reason.lock().take().unwrap_or_else(|| {
            if std::thread::panicking() {
                ExitReason::Failed("panicked".into())
            } else {
                ExitReason::Failed("dropped without stopping".into())
            }
        });
        if let Some(sup) = &self.supervisor {
            sup.do_send(ChildExited {
                name: self.name.clone(),
                generation: self.generation,
                reason,
            });
        }
    }
}

/// Starts one child actor, given its link; called again for every restart.
pub type StartFn = Box<dyn FnMut(ChildLink) + Send>;

/// Adds a child to a supervisor and starts it.
#[derive(Message)]
#[rtype(result = "()")]
pub struct StartChild {
    pub name: String,
    pub start: StartFn,
}

/// Forgets a child without restarting it: its later exit report is ignored.
#[derive(Message)]
#[rtype(result = "()")]
pub struct RemoveChild {
    pub name: String,
}

/// One child as its supervisor sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChildStatus {
    pub name: String,
    pub running: bool,
    pub restarts: u64,
}

/// Asks a supervisor for the state of its children.
#[derive(Message)]
#[rtype(result = "Vec<ChildStatus>")]
pub struct GetChildren;

struct Child {
    start: StartFn,
    tracker: RestartTracker,
    generation: u64,
    running: bool,
    restarts: u64,
}

/// A node of the supervision tree. It restarts failed children per its policy and, when
/// a child fails too often, stops and reports the failure to its own parent.
pub struct Supervisor {
    name: String,
    policy: RestartPolicy,
    children: BTreeMap<String, Child>,
    parent: Option<Recipient<ChildExited>>,
}

impl Supervisor {
    pub fn new(name: impl Into<String>, policy: RestartPolicy) -> Self {
        Supervisor {
            name: name.into(),
            policy,
            children: BTreeMap::new(),
            parent: None,
        }
    }

    /// Reports this supervisor's own failure to `parent`.
    pub fn with_parent(mut self, parent: Recipient<ChildExited>) -> Self {
        self.parent = Some(parent);
        self
    }

    fn launch(&mut self, name: &str, ctx: &mut Context<Self>) {
        let me = ctx.address().recipient();
        if let Some(child) = self.children.get_mut(name) {
            child.generation += 1;
            child.running = true;
            let link = ChildLink {
                name: name.to_string(),
                generation: child.generation,
                supervisor: Some(me),
                reason: Default::default(),
            };
            tracing::debug!(supervisor = %self.name, child = %name, generation = child.generation, "starting child");
            (child.start)(link);
        }
    }
}

impl Actor for Supervisor {
    type Context = Context<Self>;

    fn stopped(&mut self, _ctx: &mut Self::Context) {
        tracing::info!(supervisor = %self.name, "supervisor stopped");
    }
}

impl Handler<StartChild> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: StartChild, ctx: &mut Context<Self>) {
        let child = Child {
            start: msg.start,
            tracker: RestartTracker::new(self.policy.clone()),
            generation: 0,
            running: false,
            restarts: 0,
        };
        self.children.insert(msg.name.clone(), child);
        self.launch(&msg.name, ctx);
    }
}

impl Handler<ChildExited> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: ChildExited, ctx: &mut Context<Self>) {
        let Some(child) = self.children.get_mut(&msg.name) else {
            return;
        };
        if msg.generation != child.generation {
            return; // a late report from an incarnation already replaced
        }
        child.running = false;
        match msg.reason {
            ExitReason::Normal => {
                tracing::info!(supervisor = %self.name, child = %msg.name, "child exited normally");
                self.children.remove(&msg.name);
            }
            ExitReason::Failed(why) => match child.tracker.on_failure(Instant::now()) {
                Decision::Restart { after } => {
                    child.restarts += 1;
                    tracing::warn!(supervisor = %self.name, child = %msg.name, reason = %why,
                        restart_in_ms = after.as_millis() as u64, restarts = child.restarts, "restarting child");
                    let name = msg.name.clone();
                    ctx.run_later(after, move |act, ctx| act.launch(&name, ctx));
                }
                Decision::Escalate { failures_in_window } => {
                    let why = format!(
                        "child {} failed {failures_in_window} times within {:?}: {why}",
                        msg.name, self.policy.window
                    );
                    tracing::error!(supervisor = %self.name, reason = %why, "escalating");
                    if let Some(parent) = &self.parent {
                        parent.do_send(ChildExited {
                            name: self.name.clone(),
                            generation: 0,
                            reason: ExitReason::Failed(why),
                        });
                    }
                    ctx.stop();
                }
            },
        }
    }
}

impl Handler<RemoveChild> for Supervisor {
    type Result = ();

    fn handle(&mut self, msg: RemoveChild, _: &mut Context<Self>) {
        self.children.remove(&msg.name);
    }
}

impl Handler<GetChildren> for Supervisor {
    type Result = MessageResult<GetChildren>;

    fn handle(&mut self, _: GetChildren, _: &mut Context<Self>) -> Self::Result {
        MessageResult(
            self.children
                .iter()
                .map(|(name, c)| ChildStatus {
                    name: name.clone(),
                    running: c.running,
                    restarts: c.restarts,
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    const POLL: Duration = Duration::from_millis(2);

    fn policy(max: u32) -> RestartPolicy {
        RestartPolicy {
            max_restarts: max,
            window: Duration::from_secs(10),
            initial_backoff: Duration::from_millis(1),
            max_backoff: Duration::from_millis(4),
        }
    }

    /// Backoff doubles per failure in the window, is capped, and the failure after
    /// `max_restarts` escalates; failures older than the window are forgotten.
    #[test]
    fn restart_tracker_backs_off_then_escalates_and_forgets_old_failures() {
        let mut t = RestartTracker::new(policy(3));
        let t0 = Instant::now();
        assert_eq!(
            t.on_failure(t0),
            Decision::Restart {
                after: Duration::from_millis(1)
            }
        );
        assert_eq!(
            t.on_failure(t0),
            Decision::Restart {
                after: Duration::from_millis(2)
            }
        );
        assert_eq!(
            t.on_failure(t0),
            Decision::Restart {
                after: Duration::from_millis(4)
            }
        );
        assert_eq!(
            t.on_failure(t0),
            Decision::Escalate {
                failures_in_window: 4
            }
        );
        let later = t0 + Duration::from_secs(11);
        assert_eq!(
            t.on_failure(later),
            Decision::Restart {
                after: Duration::from_millis(1)
            }
        );
    }

    struct Crashy {
        _link: ChildLink,
    }
    impl Actor for Crashy {
        type Context = Context<Self>;
    }
    #[derive(Message)]
    #[rtype(result = "()")]
    struct Boom;
    impl Handler<Boom> for Crashy {
        type Result = ();
        fn handle(&mut self, _: Boom, _: &mut Context<Self>) {
            panic!("planted panic in a handler");
        }
    }

    async fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for: {what}");
            tokio::time::sleep(POLL).await;
        }
    }

    /// A panic inside a child's handler is seen by the supervisor, which starts a fresh
    /// incarnation; a child that keeps failing is escalated to the parent.
    #[actix_rt::test]
    async fn supervisor_restarts_a_panicking_child_then_escalates() {
        let starts = Arc::new(AtomicU32::new(0));
        let current: Arc<Mutex<Option<Addr<Crashy>>>> = Default::default();
        let escalations = Arc::new(Mutex::new(Vec::<ChildExited>::new()));

        struct Parent(Arc<Mutex<Vec<ChildExited>>>);
        impl Actor for Parent {
            type Context = Context<Self>;
        }
        impl Handler<ChildExited> for Parent {
            type Result = ();
            fn handle(&mut self, m: ChildExited, _: &mut Context<Self>) {
                self.0.lock().push(m);
            }
        }
        let parent = Parent(escalations.clone()).start();
        let sup = Supervisor::new("test-sup", policy(2))
            .with_parent(parent.recipient())
            .start();

        let (s, c) = (starts.clone(), current.clone());
        sup.do_send(StartChild {
            name: "crashy".into(),
            start: Box::new(move |link| {
                s.fetch_add(1, Ordering::SeqCst);
                *c.lock() = Some(Crashy { _link: link }.start());
            }),
        });
        wait_for("first start", || starts.load(Ordering::SeqCst) == 1).await;

        for n in 2..=3 {
            let addr = current.lock().clone().expect("child started");
            addr.do_send(Boom);
            wait_for("restart after panic", || starts.load(Ordering::SeqCst) == n).await;
        }
        let kids = sup.send(GetChildren).await.expect("supervisor alive");
        assert_eq!(
            kids,
            vec![ChildStatus {
                name: "crashy".into(),
                running: true,
                restarts: 2
            }]
        );

        current.lock().clone().expect("child").do_send(Boom);
        wait_for("escalation to parent", || !escalations.lock().is_empty()).await;
        let esc = &escalations.lock()[0];
        assert_eq!(esc.name, "test-sup");
        assert!(
            matches!(&esc.reason, ExitReason::Failed(w) if w.contains("crashy failed 3 times"))
        );
        assert_eq!(
            starts.load(Ordering::SeqCst),
            3,
            "no restart after escalation"
        );
    }

    /// A child that stops on purpose is not restarted.
    #[actix_rt::test]
    async fn normal_exit_is_not_restarted() {
        struct Quitter(ChildLink);
        impl Actor for Quitter {
            type Context = Context<Self>;
            fn started(&mut self, ctx: &mut Context<Self>) {
                self.0.stop_normal();
                ctx.stop();
            }
        }
        let starts = Arc::new(AtomicU32::new(0));
        let sup = Supervisor::new("s", policy(3)).start();
        let s = starts.clone();
        sup.do_send(StartChild {
            name: "quitter".into(),
            start: Box::new(move |link| {
                s.fetch_add(1, Ordering::SeqCst);
                Quitter(link).start();
            }),
        });
        let sup2 = sup.clone();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let kids = sup2.send(GetChildren).await.expect("alive");
            if kids.is_empty() && starts.load(Ordering::SeqCst) == 1 {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "child never reported a normal exit"
            );
            tokio::time::sleep(POLL).await;
        }
        assert_eq!(starts.load(Ordering::SeqCst), 1);
    }
}
