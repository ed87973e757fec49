//! Fault filters for chaos tests (feature `faults`): drop, delay, duplicate, reorder,
//! partition and isolate messages, selected by peer pair, stage (send / receive),
//! message kind and service.
//!
//! [`FaultRules`] is the pure core: given a message and a random source it returns a
//! [`Verdict`]. [`FaultInjector`] wraps it with a seeded `SmallRng` and a rule set that
//! can change at run time; clones share both, so one injector given to every endpoint of
//! an in-process cluster controls the whole network.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use parking_lot::{Mutex, RwLock};
use rand::{rngs::SmallRng, Rng, SeedableRng};

pub use crate::hook::{MessageKind, Stage, Verdict};
use crate::{frame::ServiceId, identity::MemberName};

/// Which members a rule side matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerSet {
    /// Every member.
    Any,
    /// Only these members.
    Only(BTreeSet<MemberName>),
}

impl PeerSet {
    /// Exactly one member.
    pub fn one(name: &MemberName) -> Self {
        PeerSet::Only(BTreeSet::from([name.clone()]))
    }

    /// The given members.
    pub fn of<'a>(names: impl IntoIterator<Item = &'a MemberName>) -> Self {
        PeerSet::Only(names.into_iter().cloned().collect())
    }

    fn contains(&self, name: &MemberName) -> bool {
        match self {
            PeerSet::Any => true,
            PeerSet::Only(set) => set.contains(name),
        }
    }
}

/// What a matching rule does.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Drop the message with this probability (1.0: always).
    Drop {
        /// In [0, 1].
        probability: f64,
    },
    /// Hold the message for a uniformly random time in `[min, max]`.
    Delay {
        /// Shortest delay.
        min: Duration,
        /// Longest delay.
        max: Duration,
    },
    /// With this probability, deliver one extra copy.
    Duplicate {
        /// In [0, 1].
        probability: f64,
    },
    /// With this probability, hold the message for a random time up to `window`, so that
    /// messages sent after it can overtake it.
    Reorder {
        /// In [0, 1].
        probability: f64,
        /// Longest hold.
        window: Duration,
    },
}

/// One fault rule: a selector and an action.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    /// Senders matched.
    pub from: PeerSet,
    /// Receivers matched.
    pub to: PeerSet,
    /// Where the rule applies.
    pub stage: Stage,
    /// Message kinds matched (`None`: all).
    pub kind: Option<MessageKind>,
    /// Service matched (`None`: all).
    pub service: Option<ServiceId>,
    /// What to do.
    pub action: Action,
}

impl Rule {
    /// A rule applying `action` to every message at send time; narrow it with the
    /// builder methods.
    pub fn new(action: Action) -> Self {
        Rule {
            from: PeerSet::Any,
            to: PeerSet::Any,
            stage: Stage::Send,
            kind: None,
            service: None,
            action,
        }
    }

    /// Only messages sent by `from`.
    pub fn from(mut self, from: PeerSet) -> Self {
        self.from = from;
        self
    }

    /// Only messages addressed to `to`.
    pub fn to(mut self, to: PeerSet) -> Self {
        self.to = to;
        self
    }

    /// Apply at `stage` instead of at send time.
    pub fn at(mut self, stage: Stage) -> Self {
        self.stage = stage;
        self
    }

    /// Only messages of `kind`.
    pub fn kind(mut self, kind: MessageKind) -> Self {
        self.kind = Some(kind);
        self
    }

    /// Only messages of `service`.
    pub fn service(mut self, service: ServiceId) -> Self {
        self.service = Some(service);
        self
    }

    fn matches(&self, m: &MessageMeta<'_>) -> bool {
        self.stage == m.stage
            && self.from.contains(m.from)
            && self.to.contains(m.to)
            && self.kind.is_none_or(|k| k == m.kind)
            && self.service.is_none_or(|s| s == m.service)
    }
}

/// The message a verdict is asked for.
#[derive(Clone, Copy, Debug)]
pub struct MessageMeta<'a> {
    /// Sender.
    pub from: &'a MemberName,
    /// Receiver.
    pub to: &'a MemberName,
    /// Where we are in its journey.
    pub stage: Stage,
    /// Its kind.
    pub kind: MessageKind,
    /// Its service.
    pub service: ServiceId,
}

/// Identifies an installed rule, for removal.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleId(pub u64);

/// A set of rules; the pure decision core.
#[derive(Clone, Debug, Default)]
pub struct FaultRules {
    rules: Vec<(RuleId, Rule)>,
    next: u64,
}

fn chance(rng: &mut impl Rng, probability: f64) -> bool {
    if probability >= 1.0 {
        true
    } else if probability <= 0.0 {
        false
    } else {
        rng.gen_bool(probability)
    }
}

fn uniform(rng: &mut impl Rng, min: Duration, max: Duration) -> Duration {
    if max <= min {
        min
    } else {
        min + (max - min).mul_f64(rng.gen::<f64>())
    }
}

impl FaultRules {
    /// Installs `rule`.
    pub fn add(&mut self, rule: Rule) -> RuleId {
        self.next += 1;
        let id = RuleId(self.next);
        self.rules.push((id, rule));
        id
    }

    /// Removes a rule; false if it was not installed.
    pub fn remove(&mut self, id: RuleId) -> bool {
        let before = self.rules.len();
        self.rules.retain(|(r, _)| *r != id);
        before != self.rules.len()
    }

    /// Removes every rule.
    pub fn clear(&mut self) {
        self.rules.clear();
    }

    /// The installed rules, oldest first.
    pub fn rules(&self) -> impl Iterator<Item = (RuleId, &Rule)> {
        self.rules.iter().map(|(id, r)| (*id, r))
    }

    /// Decides the fate of one message. Rules are consulted in installation order and
    /// draw from `rng` only when probabilistic, so a seeded `rng` and the same message
    /// sequence give the same verdicts.
    pub fn decide(&self, rng: &mut impl Rng, message: &MessageMeta<'_>) -> Verdict {
        let mut v = Verdict::PASS;
        for (_, rule) in self.rules.iter().filter(|(_, r)| r.matches(message)) {
            match rule.action {
                Action::Drop { probability } => v.drop |= chance(rng, probability),
                Action::Delay { min, max } => v.delay += uniform(rng, min, max),
                Action::Duplicate { probability } => {
                    v.extra_copies += u32::from(chance(rng, probability));
                }
                Action::Reorder {
                    probability,
                    window,
                } => {
                    if chance(rng, probability) {
                        v.delay += uniform(rng, Duration::ZERO, window);
                    }
                }
            }
        }
        v
    }
}

/// Seeded, run-time-changeable fault rules; clones share rules and random source.
#[derive(Clone, Debug)]
pub struct FaultInjector {
    seed: u64,
    rules: Arc<RwLock<FaultRules>>,
    rng: Arc<Mutex<SmallRng>>,
}

impl FaultInjector {
    /// An injector with no rules whose random choices follow `seed`.
    pub fn new(seed: u64) -> Self {
        FaultInjector {
            seed,
            rules: Arc::new(RwLock::new(FaultRules::default())),
            rng: Arc::new(Mutex::new(SmallRng::seed_from_u64(seed))),
        }
    }

    /// The seed (print it when a chaos test fails, so the run can be replayed).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Installs a rule.
    pub fn add(&self, rule: Rule) -> RuleId {
        self.rules.write().add(rule)
    }

    /// Removes a rule.
    pub fn remove(&self, id: RuleId) -> bool {
        self.rules.write().remove(id)
    }

    /// Removes every rule: the network is healed.
    pub fn heal(&self) {
        self.rules.write().clear();
    }

    /// Drops every message between the two groups, both ways.
    pub fn partition(&self, a: &[MemberName], b: &[MemberName]) -> [RuleId; 2] {
        let drop = Action::Drop { probability: 1.0 };
        [
            self.add(
                Rule::new(drop.clone())
                    .from(PeerSet::of(a))
                    .to(PeerSet::of(b)),
            ),
            self.add(Rule::new(drop).from(PeerSet::of(b)).to(PeerSet::of(a))),
        ]
    }

    /// Drops every message to and from `member`.
    pub fn isolate(&self, member: &MemberName) -> [RuleId; 2] {
        let drop = Action::Drop { probability: 1.0 };
        [
            self.add(Rule::new(drop.clone()).from(PeerSet::one(member))),
            self.add(Rule::new(drop).to(PeerSet::one(member))),
        ]
    }

    /// A copy of the current rules.
    pub fn rules(&self) -> FaultRules {
        self.rules.read().clone()
    }

    /// Decides the fate of one message.
    pub fn decide(&self, message: &MessageMeta<'_>) -> Verdict {
        let rules = self.rules.read();
        if rules.rules.is_empty() {
            return Verdict::PASS;
        }
        rules.decide(&mut *self.rng.lock(), message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> (MemberName, MemberName, MemberName) {
        let n = |s: &str| MemberName::new(s).unwrap();
        (n("a"), n("b"), n("c"))
    }

    fn meta<'a>(from: &'a MemberName, to: &'a MemberName) -> MessageMeta<'a> {
        MessageMeta {
            from,
            to,
            stage: Stage::Send,
            kind: MessageKind::OneWay,
            service: ServiceId(1),
        }
    }

    /// A partition drops both directions between the groups and nothing else; healing
    /// removes it.
    #[test]
    fn partition_drops_both_directions_between_groups_only() {
        let (a, b, c) = names();
        let f = FaultInjector::new(1);
        f.partition(std::slice::from_ref(&a), std::slice::from_ref(&b));
        assert!(f.decide(&meta(&a, &b)).drop);
        assert!(f.decide(&meta(&b, &a)).drop);
        assert!(!f.decide(&meta(&a, &c)).drop);
        assert!(!f.decide(&meta(&c, &b)).drop);
        f.heal();
        assert_eq!(f.decide(&meta(&a, &b)), Verdict::PASS);
    }

    /// Isolation drops everything to and from one member.
    #[test]
    fn isolate_drops_all_traffic_of_one_member() {
        let (a, b, c) = names();
        let f = FaultInjector::new(1);
        f.isolate(&c);
        assert!(f.decide(&meta(&a, &c)).drop);
        assert!(f.decide(&meta(&c, &b)).drop);
        assert!(!f.decide(&meta(&a, &b)).drop);
    }

    /// Rules select by stage, kind and service.
    #[test]
    fn rules_select_by_stage_kind_and_service() {
        let (a, b, _) = names();
        let f = FaultInjector::new(1);
        f.add(
            Rule::new(Action::Drop { probability: 1.0 })
                .at(Stage::Receive)
                .kind(MessageKind::Request)
                .service(ServiceId(9)),
        );
        let mut m = meta(&a, &b);
        assert!(!f.decide(&m).drop);
        m.stage = Stage::Receive;
        assert!(!f.decide(&m).drop);
        m.kind = MessageKind::Request;
        assert!(!f.decide(&m).drop);
        m.service = ServiceId(9);
        assert!(f.decide(&m).drop);
    }

    /// The same seed yields the same schedule of verdicts; another seed a different one.
    #[test]
    fn seeded_schedule_is_deterministic() {
        let (a, b, _) = names();
        let schedule = |seed: u64| {
            let f = FaultInjector::new(seed);
            f.add(Rule::new(Action::Drop { probability: 0.3 }));
            f.add(Rule::new(Action::Duplicate { probability: 0.2 }));
            f.add(Rule::new(Action::Reorder {
                probability: 0.5,
                window: Duration::from_millis(40),
            }));
            (0..500)
                .map(|_| f.decide(&meta(&a, &b)))
                .collect::<Vec<_>>()
        };
        assert_eq!(schedule(42), schedule(42));
        assert_ne!(schedule(42), schedule(43));
        let drops = schedule(42).iter().filter(|v| v.drop).count();
        assert!((100..200).contains(&drops), "{drops} drops of 500 at p=0.3");
    }
}
