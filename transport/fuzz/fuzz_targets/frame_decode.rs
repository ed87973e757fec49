//! Fuzzes the pure frame decoder: any byte string must decode to frames or an error,
//! never panic, never allocate a declared length above the limit, and every decoded body
//! must survive rkyv validation attempts for the transport's own message types.
#![no_main]

use hive_transport::{
    bench::{BenchPayload, StreamRequest},
    frame::{decode_with_limit, StreamHeader, FRAME_HEADER_LEN, STREAM_HEADER_LEN},
    wire::{check_archive, WireError},
};
use libfuzzer_sys::fuzz_target;

/// A small limit so oversized declarations are common in the corpus.
const LIMIT: u32 = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    // A stream is a header followed by frames; decode as far as the bytes allow.
    let mut rest = data;
    if data.len() >= STREAM_HEADER_LEN && StreamHeader::decode(data).is_ok() {
        rest = &data[STREAM_HEADER_LEN..];
    }
    while !rest.is_empty() {
        match decode_with_limit(rest, LIMIT) {
            Ok(frame) => {
                assert!(frame.body.len() <= LIMIT as usize);
                assert!(frame.encoded_len() >= FRAME_HEADER_LEN);
                let _ = check_archive::<WireError>(frame.body);
                let _ = check_archive::<BenchPayload>(frame.body);
                let _ = check_archive::<StreamRequest>(frame.body);
                rest = &rest[frame.encoded_len()..];
            }
            Err(e) => {
                let _ = e.code();
                break;
            }
        }
    }
});
