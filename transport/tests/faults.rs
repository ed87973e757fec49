//! Fault filters on the real transport (feature `faults`): partitions, healing, delays,
//! duplicates, and seeded schedules.
#![cfg(feature = "faults")]

mod common;

use std::time::{Duration, Instant};

use common::*;
use hive_transport::{
    faults::{Action, FaultInjector, FaultRules, MessageMeta, PeerSet, Rule},
    ClusterCa, MessageKind, Role, RpcError, Service, Stage,
};
use rand::{rngs::SmallRng, SeedableRng};

const CALL: Duration = Duration::from_secs(5);

/// Three members sharing one fault injector, each able to dial the others.
fn cluster(seed: u64) -> (FaultInjector, Vec<Node>) {
    let ca = ClusterCa::generate().unwrap();
    let faults = FaultInjector::new(seed);
    let nodes: Vec<Node> = ["a", "b", "c"]
        .iter()
        .map(|n| {
            let config = hive_transport::EndpointConfig {
                faults: Some(faults.clone()),
                ..test_config()
            };
            node_with(&ca.issue(&name(n), Role::Member).unwrap(), config)
        })
        .collect();
    for x in &nodes {
        for y in &nodes {
            if x.name != y.name {
                x.knows(y);
            }
        }
    }
    (faults, nodes)
}

/// A partition between two members drops their messages both ways while others still
/// talk; healing restores delivery.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_drops_messages_between_the_pair_and_healing_restores_them() {
    let (faults, n) = cluster(1);
    let (a, b, c) = (&n[0], &n[1], &n[2]);
    faults.partition(std::slice::from_ref(&a.name), std::slice::from_ref(&b.name));
    let short = Duration::from_millis(200);
    let cut = a.ep.call::<Echo>(&b.name, &echo("a->b"), short).await;
    assert!(
        matches!(cut, Err(RpcError::DeadlineExceeded)),
        "seed 1: {cut:?}"
    );
    let back = b.ep.call::<Echo>(&a.name, &echo("b->a"), short).await;
    assert!(
        matches!(back, Err(RpcError::DeadlineExceeded)),
        "seed 1: {back:?}"
    );
    b.ep.send::<Notes>(&a.name, &Note { seq: 1 }).await.unwrap();
    // Traffic outside the partition flows.
    a.ep.call::<Echo>(&c.name, &echo("a->c"), CALL)
        .await
        .unwrap();
    c.ep.call::<Echo>(&b.name, &echo("c->b"), CALL)
        .await
        .unwrap();
    assert!(a.notes().is_empty());
    assert!(a.ep.metrics().faults_dropped_total >= 1);

    faults.heal();
    a.ep.call::<Echo>(&b.name, &echo("a->b"), CALL)
        .await
        .unwrap();
    b.ep.send::<Notes>(&a.name, &Note { seq: 2 }).await.unwrap();
    wait_for(|| a.notes() == [2], CALL, "the note sent after healing").await;
}

/// An isolated member reaches no one and no one reaches it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_isolated_member_reaches_no_one() {
    let (faults, n) = cluster(2);
    let (a, b, c) = (&n[0], &n[1], &n[2]);
    faults.isolate(&c.name);
    let short = Duration::from_millis(150);
    assert!(c.ep.call::<Echo>(&a.name, &echo("x"), short).await.is_err());
    assert!(b.ep.call::<Echo>(&c.name, &echo("x"), short).await.is_err());
    a.ep.call::<Echo>(&b.name, &echo("x"), CALL).await.unwrap();
}

/// A one-way rule (receive side, one direction) cuts b->a requests but not a->b.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_receive_side_rule_cuts_one_direction_only() {
    let (faults, n) = cluster(3);
    let (a, b) = (&n[0], &n[1]);
    faults.add(
        Rule::new(Action::Drop { probability: 1.0 })
            .from(PeerSet::one(&b.name))
            .to(PeerSet::one(&a.name))
            .at(Stage::Receive)
            .kind(MessageKind::Request)
            .service(Echo::ID),
    );
    let short = Duration::from_millis(200);
    assert!(matches!(
        b.ep.call::<Echo>(&a.name, &echo("b->a"), short).await,
        Err(RpcError::DeadlineExceeded)
    ));
    a.ep.call::<Echo>(&b.name, &echo("a->b"), CALL)
        .await
        .unwrap();
}

/// A delay rule holds messages for at least its delay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delay_rule_delays_messages() {
    let (faults, n) = cluster(4);
    let (a, b) = (&n[0], &n[1]);
    a.ep.call::<Echo>(&b.name, &echo("warm"), CALL)
        .await
        .unwrap();
    let delay = Duration::from_millis(500);
    faults.add(
        Rule::new(Action::Delay {
            min: delay,
            max: delay,
        })
        .from(PeerSet::one(&a.name))
        .kind(MessageKind::Request),
    );
    let started = Instant::now();
    a.ep.call::<Echo>(&b.name, &echo("slow"), CALL)
        .await
        .unwrap();
    assert!(started.elapsed() >= delay, "{:?}", started.elapsed());
    assert_eq!(a.ep.metrics().faults_delayed_total, 1);
    // b -> a is not selected.
    let started = Instant::now();
    b.ep.call::<Echo>(&a.name, &echo("fast"), CALL)
        .await
        .unwrap();
    assert!(started.elapsed() < delay, "{:?}", started.elapsed());
}

/// A duplicate rule delivers one-way messages and stream items twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_rule_duplicates_messages() {
    let (faults, n) = cluster(5);
    let (a, b) = (&n[0], &n[1]);
    faults.add(Rule::new(Action::Duplicate { probability: 1.0 }).kind(MessageKind::OneWay));
    a.ep.send::<Notes>(&b.name, &Note { seq: 9 }).await.unwrap();
    wait_for(|| b.notes() == [9, 9], CALL, "two copies of note 9").await;

    faults.heal();
    faults.add(
        Rule::new(Action::Duplicate { probability: 1.0 })
            .kind(MessageKind::StreamItem)
            .at(Stage::Receive),
    );
    let mut stream =
        a.ep.server_stream::<Numbers>(&b.name, &NumbersRequest { count: 3, pad: 0 })
            .await
            .unwrap();
    let mut seen = Vec::new();
    while let Some(item) = stream.next().await {
        seen.push(item.unwrap().get().seq.to_native());
    }
    assert_eq!(seen, [0, 0, 1, 1, 2, 2]);
}

/// The notes a seeded drop schedule lets through, predicted from the pure rule set.
fn predicted_deliveries(
    seed: u64,
    rule: &Rule,
    from: &hive_transport::MemberName,
    to: &hive_transport::MemberName,
    count: u64,
) -> Vec<u64> {
    let mut rules = FaultRules::default();
    rules.add(rule.clone());
    let mut rng = SmallRng::seed_from_u64(seed);
    (0..count)
        .filter(|_| {
            !rules
                .decide(
                    &mut rng,
                    &MessageMeta {
                        from,
                        to,
                        stage: Stage::Send,
                        kind: MessageKind::OneWay,
                        service: Notes::ID,
                    },
                )
                .drop
        })
        .collect()
}

/// With a seed, which messages a probabilistic rule drops is the same on every run, and
/// is exactly what the pure rule set predicts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seeded_drop_schedule_is_the_same_on_every_run() {
    const SEED: u64 = 0xC0FFEE;
    const COUNT: u64 = 60;
    let rule = Rule::new(Action::Drop { probability: 0.5 }).kind(MessageKind::OneWay);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let (faults, n) = cluster(SEED);
        let (a, b) = (&n[0], &n[1]);
        faults.add(rule.clone());
        let expected = predicted_deliveries(SEED, &rule, &a.name, &b.name, COUNT);
        assert!(!expected.is_empty() && expected.len() < COUNT as usize);
        for seq in 0..COUNT {
            a.ep.send::<Notes>(&b.name, &Note { seq }).await.unwrap();
        }
        wait_for(
            || {
                let mut got = b.notes();
                got.sort();
                got == expected
            },
            CALL,
            &format!("the predicted deliveries (seed {SEED:#x})"),
        )
        .await;
        runs.push(expected);
    }
    assert_eq!(runs[0], runs[1]);
}
