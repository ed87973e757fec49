//! Shared test fixtures: test services, a node builder, and `wait_for`.
#![allow(dead_code)]

use std::{
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use hive_transport::{
    ClusterCa, Endpoint, EndpointConfig, Identity, MemberName, Role, Router, Service, ServiceError,
    ServiceId,
};
use parking_lot::Mutex;
use rkyv::{Archive, Deserialize, Serialize};

/// Polls `cond` until it holds, failing the test with `what` after `timeout`.
pub async fn wait_for(mut cond: impl FnMut() -> bool, timeout: Duration, what: &str) {
    let deadline = tokio::time::Instant::now() + timeout;
    while !cond() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

pub fn name(s: &str) -> MemberName {
    MemberName::new(s).expect("valid test name")
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EchoRequest {
    pub text: String,
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct EchoResponse {
    pub text: String,
    /// The caller's name as the server saw it.
    pub caller: String,
}

/// Echoes the text; the text "fail" makes it fail with application code 7.
pub struct Echo;
impl Service for Echo {
    const NAME: &'static str = "test.echo";
    const ID: ServiceId = ServiceId(1);
    type Request = EchoRequest;
    type Response = EchoResponse;
}

/// Never answers.
pub struct Stall;
impl Service for Stall {
    const NAME: &'static str = "test.stall";
    const ID: ServiceId = ServiceId(2);
    type Request = EchoRequest;
    type Response = EchoResponse;
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct NumbersRequest {
    pub count: u64,
    pub pad: u32,
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Number {
    pub seq: u64,
    pub pad: Vec<u8>,
}

/// Streams `count` numbers, each padded with `pad` bytes.
pub struct Numbers;
impl Service for Numbers {
    const NAME: &'static str = "test.numbers";
    const ID: ServiceId = ServiceId(3);
    type Request = NumbersRequest;
    type Response = Number;
}

#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct Note {
    pub seq: u64,
}

/// A one-way note; the receiver records its sequence number.
pub struct Notes;
impl Service for Notes {
    const NAME: &'static str = "test.notes";
    const ID: ServiceId = ServiceId(4);
    type Request = Note;
    type Response = ();
}

/// A bidi stream: the opening note starts a running sum, each further note adds to it
/// and is answered with the sum so far; the stream ends when the caller finishes.
pub struct Sums;
impl Service for Sums {
    const NAME: &'static str = "test.sums";
    const ID: ServiceId = ServiceId(5);
    type Request = Note;
    type Response = Number;
}

/// Registered nowhere.
pub struct Nobody;
impl Service for Nobody {
    const NAME: &'static str = "test.nobody";
    const ID: ServiceId = ServiceId(99);
    type Request = EchoRequest;
    type Response = EchoResponse;
}

/// An endpoint with the test services and what they observed.
pub struct Node {
    pub ep: Endpoint,
    pub name: MemberName,
    /// Notes received, in arrival order.
    pub notes: Arc<Mutex<Vec<u64>>>,
    /// Numbers the stream handler has handed to the sink so far.
    pub sent: Arc<AtomicU64>,
    /// Stream handlers that have returned.
    pub streams_ended: Arc<AtomicU64>,
}

impl Node {
    pub fn notes(&self) -> Vec<u64> {
        self.notes.lock().clone()
    }

    pub fn streams_ended(&self) -> u64 {
        self.streams_ended.load(Ordering::SeqCst)
    }

    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::SeqCst)
    }

    /// Lets this node dial `other`.
    pub fn knows(&self, other: &Node) {
        self.ep
            .add_peer(other.name.clone(), other.ep.local_addr().expect("bound"));
    }
}

pub fn router(notes: Arc<Mutex<Vec<u64>>>, sent: Arc<AtomicU64>, ended: Arc<AtomicU64>) -> Router {
    Router::new()
        .unary::<Echo, _, _>(|call| async move {
            let text = call.request().text.to_string();
            if text == "fail" {
                return Err(ServiceError::app(7, "asked to fail"));
            }
            Ok(EchoResponse {
                text,
                caller: call.peer().to_string(),
            })
        })
        .unary::<Stall, _, _>(|_call| async move { std::future::pending().await })
        .server_stream::<Numbers, _, _>(move |call, mut sink| {
            let (sent, ended) = (sent.clone(), ended.clone());
            async move {
                let (count, pad) = (
                    call.request().count.to_native(),
                    call.request().pad.to_native(),
                );
                let mut result = Ok(());
                for seq in 0..count {
                    let item = Number {
                        seq,
                        pad: vec![0; pad as usize],
                    };
                    if let Err(e) = sink.send(&item).await {
                        result = Err(e.into());
                        break;
                    }
                    sent.fetch_add(1, Ordering::SeqCst);
                }
                ended.fetch_add(1, Ordering::SeqCst);
                result
            }
        })
        .bidi_stream::<Sums, _, _>(|call, mut inbound, mut sink| async move {
            let mut sum = call.request().seq.to_native();
            while let Some(note) = inbound.next().await {
                sum += note?.get().seq.to_native();
                sink.send(&Number {
                    seq: sum,
                    pad: Vec::new(),
                })
                .await?;
            }
            Ok(())
        })
        .one_way::<Notes, _, _>(move |call| {
            let notes = notes.clone();
            async move {
                notes.lock().push(call.request().seq.to_native());
            }
        })
}

/// Binds a node for `identity` with `config` and the test services.
pub fn node_with(identity: &Identity, config: EndpointConfig) -> Node {
    let notes = Arc::new(Mutex::new(Vec::new()));
    let sent = Arc::new(AtomicU64::new(0));
    let ended = Arc::new(AtomicU64::new(0));
    let router = router(notes.clone(), sent.clone(), ended.clone());
    let ep = Endpoint::bind(identity, config, router).expect("bind");
    Node {
        ep,
        name: identity.name().clone(),
        notes,
        sent,
        streams_ended: ended,
    }
}

/// A node called `n` with a certificate from `ca` and default settings.
pub fn node(ca: &ClusterCa, n: &str) -> Node {
    let identity = ca.issue(&name(n), Role::Member).expect("issue");
    node_with(&identity, test_config())
}

/// Loopback, fixed seed, quick backoff.
pub fn test_config() -> EndpointConfig {
    EndpointConfig {
        seed: 7,
        backoff: hive_transport::Backoff {
            base: Duration::from_millis(20),
            max: Duration::from_millis(500),
        },
        connect_timeout: Duration::from_secs(5),
        ..EndpointConfig::default()
    }
}

pub fn echo(text: &str) -> EchoRequest {
    EchoRequest { text: text.into() }
}
