//! Bad bytes on a stream cost that stream only: the server refuses it with the documented
//! code, never panics, and keeps serving the same connection.

mod common;

use std::{collections::HashMap, time::Duration};

use common::*;
use futures::StreamExt;
use hive_transport::{
    codes,
    frame::{encode_frame, FrameHeader, FrameTag, StreamHeader, DEFAULT_MAX_FRAME},
    wire::{check_archive, encode},
    ClusterCa, EndpointConfig, Role, Service, ServiceId, StreamKind, TransportSettings, WireCode,
};
use rand::{rngs::SmallRng, Rng, SeedableRng};

const STREAMS: usize = 10_000;
const IN_FLIGHT: usize = 256;
const SEED: u64 = 0x5EED;

fn request_header(service: ServiceId) -> Vec<u8> {
    StreamHeader {
        kind: StreamKind::Unary,
        service,
        deadline_ms: 10_000,
    }
    .encode()
    .to_vec()
}

/// One malformed stream's bytes and the code the server must answer with.
fn malformed_case(i: usize, rng: &mut SmallRng) -> (Vec<u8>, WireCode) {
    let mut bytes = request_header(Echo::ID);
    let code = match i % 7 {
        // A declared length above the limit: refused from the frame header alone.
        0 => {
            let len = rng.gen_range(DEFAULT_MAX_FRAME + 1..=u32::MAX);
            bytes.extend(FrameHeader::encode(FrameTag::Message, len));
            bytes.extend((0..rng.gen_range(0..64)).map(|_| rng.gen::<u8>()));
            codes::FRAME_TOO_LARGE
        }
        // A body shorter than declared, then end of stream.
        1 => {
            let len = rng.gen_range(10..2000u32);
            bytes.extend(FrameHeader::encode(FrameTag::Message, len));
            bytes.extend((0..rng.gen_range(0..len)).map(|_| rng.gen::<u8>()));
            codes::MALFORMED_FRAME
        }
        // A body of the declared length that is not a valid archive of the request type.
        2 => {
            let body = loop {
                let body: Vec<u8> = (0..rng.gen_range(0..200)).map(|_| rng.gen()).collect();
                if check_archive::<EchoRequest>(&body).is_err() {
                    break body;
                }
            };
            bytes.extend(encode_frame(FrameTag::Message, &body).unwrap());
            codes::INVALID_ARCHIVE
        }
        // A garbage stream header.
        3 => {
            let mut junk: Vec<u8> = (0..16).map(|_| rng.gen()).collect();
            junk[0] = b'X';
            bytes = junk;
            codes::MALFORMED_HEADER
        }
        // The stream ends inside the frame header.
        4 => {
            bytes.extend((0..rng.gen_range(1..5)).map(|_| rng.gen::<u8>()));
            codes::MALFORMED_FRAME
        }
        // A valid request followed by trailing bytes.
        5 => {
            let body = encode(&echo("valid")).unwrap();
            bytes.extend(encode_frame(FrameTag::Message, &body).unwrap());
            bytes.extend((0..rng.gen_range(1..50)).map(|_| rng.gen::<u8>()));
            codes::MALFORMED_FRAME
        }
        // An unknown frame tag.
        _ => {
            let mut head = FrameHeader::encode(FrameTag::Message, 4);
            head[4] = rng.gen_range(3..=255);
            bytes.extend(head);
            bytes.extend([1, 2, 3, 4]);
            codes::MALFORMED_FRAME
        }
    };
    (bytes, code)
}

/// 10,000 malformed streams (oversized declared lengths, truncated bodies, garbage
/// archives, garbage headers, trailing bytes, unknown tags) on one connection: each is
/// reset with its documented code, the server does not panic, and a valid request on the
/// same connection succeeds afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_malformed_streams_are_each_refused_and_the_connection_keeps_working() {
    let ca = ClusterCa::generate().unwrap();
    let server_config = EndpointConfig {
        transport: TransportSettings {
            max_concurrent_bidi_streams: 4096,
            ..TransportSettings::default()
        },
        ..test_config()
    };
    let server = node_with(
        &ca.issue(&name("server"), Role::Member).unwrap(),
        server_config,
    );
    let client = node(&ca, "client");
    client.knows(&server);
    let conn = client.ep.connection(&server.name).await.unwrap();

    let mut rng = SmallRng::seed_from_u64(SEED);
    let cases: Vec<_> = (0..STREAMS).map(|i| malformed_case(i, &mut rng)).collect();
    let started = std::time::Instant::now();
    let outcomes: Vec<Result<WireCode, String>> = futures::stream::iter(cases.iter().cloned())
        .map(|(bytes, _)| {
            let conn = conn.clone();
            async move {
                let (mut send, mut recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
                // The server may refuse before reading everything; that is fine.
                let _ = send.write_all(&bytes).await;
                let _ = send.finish();
                match recv.read_to_end(1 << 20).await {
                    Err(quinn::ReadToEndError::Read(quinn::ReadError::Reset(code))) => {
                        WireCode::from_varint(code).ok_or_else(|| format!("code {code}"))
                    }
                    other => Err(format!("stream was not reset: {other:?}")),
                }
            }
        })
        .buffered(IN_FLIGHT)
        .collect()
        .await;
    let mut wrong: HashMap<String, usize> = HashMap::new();
    for (i, (outcome, (_, expected))) in outcomes.iter().zip(&cases).enumerate() {
        if outcome.as_ref() != Ok(expected) {
            *wrong
                .entry(format!(
                    "case {} expected {expected}, got {outcome:?}",
                    i % 7
                ))
                .or_default() += 1;
        }
    }
    assert!(wrong.is_empty(), "seed {SEED:#x}: {wrong:#?}");
    eprintln!(
        "{STREAMS} malformed streams refused in {:?}",
        started.elapsed()
    );

    let reply = client
        .ep
        .call::<Echo>(&server.name, &echo("still here"), Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(reply.get().text.as_str(), "still here");
    let (s, c) = (server.ep.metrics(), client.ep.metrics());
    assert_eq!(s.streams_rejected_total, STREAMS as u64);
    assert_eq!(s.connections_accepted_total, 1, "{s:?}");
    assert_eq!(c.connections_dialed_total, 1, "{c:?}");
    assert_eq!(
        client
            .ep
            .connection(&server.name)
            .await
            .unwrap()
            .stable_id(),
        conn.stable_id(),
        "the call used the same connection"
    );
}
