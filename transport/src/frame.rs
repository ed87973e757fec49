//! The pure frame codec: stream headers and length-prefixed frames, no I/O.
//!
//! Every stream starts with a fixed 16-byte [`StreamHeader`] naming the pattern and the
//! service. Then come frames: a 4-byte big-endian body length, a 1-byte [`FrameTag`],
//! and the body (an rkyv archive). A declared length is checked against the stream
//! kind's maximum *before* anything is allocated for it. [`decode`] is the entry point
//! the fuzzer drives.

use thiserror::Error;

use crate::codes::{self, WireCode};

/// Size of the stream header in bytes.
pub const STREAM_HEADER_LEN: usize = 16;
/// Size of a frame header (length + tag) in bytes.
pub const FRAME_HEADER_LEN: usize = 5;
/// Default maximum frame body size: 16 MiB.
pub const DEFAULT_MAX_FRAME: u32 = 16 * 1024 * 1024;

const MAGIC: [u8; 2] = *b"HV";
const VERSION: u8 = 1;

/// A frame could not be decoded or encoded. Each variant maps to a stable stream code.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// The stream header's magic bytes are wrong.
    #[error("bad stream header magic {0:02x?}")]
    BadMagic([u8; 2]),
    /// The stream header names a protocol version we do not speak.
    #[error("unsupported protocol version {0}")]
    UnsupportedVersion(u8),
    /// The stream header names an unknown stream kind.
    #[error("unknown stream kind {0}")]
    UnknownStreamKind(u8),
    /// Reserved header bits were set.
    #[error("reserved stream header bits set")]
    ReservedBitsSet,
    /// A frame declared a body larger than the stream kind allows.
    #[error("frame of {declared} bytes exceeds the maximum of {max}")]
    TooLarge {
        /// The declared body length.
        declared: u32,
        /// The maximum for this stream kind.
        max: u32,
    },
    /// The input ended before the header or body was complete.
    #[error("truncated: needed {needed} bytes, had {available}")]
    Truncated {
        /// Bytes needed to complete the current element.
        needed: usize,
        /// Bytes that were available.
        available: usize,
    },
    /// The frame tag is unknown.
    #[error("unknown frame tag {0}")]
    UnknownTag(u8),
    /// A frame arrived where the protocol allows none (e.g. a second request).
    #[error("unexpected frame: {0}")]
    Unexpected(&'static str),
    /// The body is not a valid archive of the expected type.
    #[error("invalid archive: {0}")]
    InvalidArchive(String),
    /// A local value could not be serialized.
    #[error("encode failed: {0}")]
    Encode(String),
}

impl FrameError {
    /// The stable code sent in the stream reset / stop for this error.
    pub fn code(&self) -> WireCode {
        match self {
            FrameError::BadMagic(_)
            | FrameError::UnsupportedVersion(_)
            | FrameError::UnknownStreamKind(_)
            | FrameError::ReservedBitsSet => codes::MALFORMED_HEADER,
            FrameError::TooLarge { .. } => codes::FRAME_TOO_LARGE,
            FrameError::Truncated { .. }
            | FrameError::UnknownTag(_)
            | FrameError::Unexpected(_) => codes::MALFORMED_FRAME,
            FrameError::InvalidArchive(_) => codes::INVALID_ARCHIVE,
            FrameError::Encode(_) => codes::ENCODE_FAILED,
        }
    }
}

/// The communication pattern of a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum StreamKind {
    /// One request, one response, on a bidirectional stream.
    Unary,
    /// One request, a sequence of responses, on a bidirectional stream.
    ServerStream,
    /// One message, no response, on a unidirectional stream.
    OneWay,
    /// An opening request, then messages both ways for as long as both sides keep the
    /// stream open, on a bidirectional stream.
    Bidi,
}

impl StreamKind {
    fn to_byte(self) -> u8 {
        match self {
            StreamKind::Unary => 1,
            StreamKind::ServerStream => 2,
            StreamKind::OneWay => 3,
            StreamKind::Bidi => 4,
        }
    }

    fn from_byte(b: u8) -> Result<Self, FrameError> {
        match b {
            1 => Ok(StreamKind::Unary),
            2 => Ok(StreamKind::ServerStream),
            3 => Ok(StreamKind::OneWay),
            4 => Ok(StreamKind::Bidi),
            other => Err(FrameError::UnknownStreamKind(other)),
        }
    }
}

/// Identifies a service on the wire; declared once per service ([`crate::Service::ID`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct ServiceId(pub u32);

impl std::fmt::Display for ServiceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "svc#{}", self.0)
    }
}

/// The fixed header that opens every stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StreamHeader {
    /// The pattern the opener expects.
    pub kind: StreamKind,
    /// The service addressed.
    pub service: ServiceId,
    /// Milliseconds the caller will wait for the answer; 0 means no deadline.
    pub deadline_ms: u32,
}

impl StreamHeader {
    /// Encodes the header.
    pub fn encode(&self) -> [u8; STREAM_HEADER_LEN] {
        let mut out = [0u8; STREAM_HEADER_LEN];
        out[0..2].copy_from_slice(&MAGIC);
        out[2] = VERSION;
        out[3] = self.kind.to_byte();
        out[4..8].copy_from_slice(&self.service.0.to_be_bytes());
        out[8..12].copy_from_slice(&self.deadline_ms.to_be_bytes());
        out
    }

    /// Decodes a header from the first [`STREAM_HEADER_LEN`] bytes of `buf`.
    pub fn decode(buf: &[u8]) -> Result<Self, FrameError> {
        let b: &[u8; STREAM_HEADER_LEN] = buf
            .get(..STREAM_HEADER_LEN)
            .and_then(|s| s.try_into().ok())
            .ok_or(FrameError::Truncated {
                needed: STREAM_HEADER_LEN,
                available: buf.len(),
            })?;
        if b[0..2] != MAGIC {
            return Err(FrameError::BadMagic([b[0], b[1]]));
        }
        if b[2] != VERSION {
            return Err(FrameError::UnsupportedVersion(b[2]));
        }
        let kind = StreamKind::from_byte(b[3])?;
        if b[12..16] != [0; 4] {
            return Err(FrameError::ReservedBitsSet);
        }
        Ok(StreamHeader {
            kind,
            service: ServiceId(u32::from_be_bytes([b[4], b[5], b[6], b[7]])),
            deadline_ms: u32::from_be_bytes([b[8], b[9], b[10], b[11]]),
        })
    }
}

/// What a frame carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameTag {
    /// An rkyv archive of the stream's message type.
    Message,
    /// An rkyv archive of [`crate::WireError`]; ends the stream's answer.
    Error,
}

impl FrameTag {
    fn to_byte(self) -> u8 {
        match self {
            FrameTag::Message => 1,
            FrameTag::Error => 2,
        }
    }

    fn from_byte(b: u8) -> Result<Self, FrameError> {
        match b {
            1 => Ok(FrameTag::Message),
            2 => Ok(FrameTag::Error),
            other => Err(FrameError::UnknownTag(other)),
        }
    }
}

/// A parsed frame header: the body length has already been checked against the limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the body is.
    pub tag: FrameTag,
    /// Body length in bytes (at most the limit it was parsed with).
    pub len: u32,
}

impl FrameHeader {
    /// Encodes a frame header for a body of `len` bytes.
    pub fn encode(tag: FrameTag, len: u32) -> [u8; FRAME_HEADER_LEN] {
        let l = len.to_be_bytes();
        [l[0], l[1], l[2], l[3], tag.to_byte()]
    }

    /// Parses a frame header, refusing a body longer than `max` before anyone allocates it.
    pub fn parse(buf: &[u8; FRAME_HEADER_LEN], max: u32) -> Result<Self, FrameError> {
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
        if len > max {
            return Err(FrameError::TooLarge { declared: len, max });
        }
        Ok(FrameHeader {
            tag: FrameTag::from_byte(buf[4])?,
            len,
        })
    }
}

/// A frame decoded from a buffer; the body borrows from it and is not yet validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame<'a> {
    /// What the body is.
    pub tag: FrameTag,
    /// The (unvalidated) body.
    pub body: &'a [u8],
}

impl Frame<'_> {
    /// Bytes this frame occupied in the input, header included.
    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER_LEN + self.body.len()
    }
}

/// Decodes the first frame in `buf` with the default limit ([`DEFAULT_MAX_FRAME`]).
pub fn decode(buf: &[u8]) -> Result<Frame<'_>, FrameError> {
    decode_with_limit(buf, DEFAULT_MAX_FRAME)
}

/// Decodes the first frame in `buf`, refusing bodies longer than `max`. Bytes after the
/// frame are left for the caller ([`Frame::encoded_len`] says where the next one starts).
pub fn decode_with_limit(buf: &[u8], max: u32) -> Result<Frame<'_>, FrameError> {
    let header: &[u8; FRAME_HEADER_LEN] = buf
        .get(..FRAME_HEADER_LEN)
        .and_then(|s| s.try_into().ok())
        .ok_or(FrameError::Truncated {
            needed: FRAME_HEADER_LEN,
            available: buf.len(),
        })?;
    let header = FrameHeader::parse(header, max)?;
    let rest = &buf[FRAME_HEADER_LEN..];
    // `len <= max <= u32::MAX` always fits in usize on the 32/64-bit targets we build for.
    let len = header.len as usize;
    let body = rest.get(..len).ok_or(FrameError::Truncated {
        needed: len,
        available: rest.len(),
    })?;
    Ok(Frame {
        tag: header.tag,
        body,
    })
}

/// Encodes a whole frame (header and body) into a new buffer.
pub fn encode_frame(tag: FrameTag, body: &[u8]) -> Result<Vec<u8>, FrameError> {
    let len =
        u32::try_from(body.len()).map_err(|_| FrameError::Encode("body over 4 GiB".into()))?;
    let mut out = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
    out.extend_from_slice(&FrameHeader::encode(tag, len));
    out.extend_from_slice(body);
    Ok(out)
}

/// Maximum frame body size for each stream kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameLimits {
    /// Request and response frames of unary calls.
    pub unary: u32,
    /// Request and item frames of server streams and of bidi streams (both ways).
    pub server_stream: u32,
    /// One-way messages.
    pub one_way: u32,
}

impl Default for FrameLimits {
    fn default() -> Self {
        FrameLimits {
            unary: DEFAULT_MAX_FRAME,
            server_stream: DEFAULT_MAX_FRAME,
            one_way: DEFAULT_MAX_FRAME,
        }
    }
}

impl FrameLimits {
    /// The same limit for every kind.
    pub fn uniform(max: u32) -> Self {
        FrameLimits {
            unary: max,
            server_stream: max,
            one_way: max,
        }
    }

    /// The limit for `kind`.
    pub fn for_kind(&self, kind: StreamKind) -> u32 {
        match kind {
            StreamKind::Unary => self.unary,
            // A bidi stream's frames are a server stream's, both ways.
            StreamKind::ServerStream | StreamKind::Bidi => self.server_stream,
            StreamKind::OneWay => self.one_way,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A stream header survives encode/decode and any corruption of its fixed fields is refused.
    #[test]
    fn stream_header_round_trips_and_rejects_corruption() {
        let h = StreamHeader {
            kind: StreamKind::ServerStream,
            service: ServiceId(77),
            deadline_ms: 1500,
        };
        let bytes = h.encode();
        assert_eq!(StreamHeader::decode(&bytes), Ok(h));
        let mut bad = bytes;
        bad[0] = b'X';
        assert!(matches!(
            StreamHeader::decode(&bad),
            Err(FrameError::BadMagic(_))
        ));
        let mut bad = bytes;
        bad[2] = 9;
        assert_eq!(
            StreamHeader::decode(&bad),
            Err(FrameError::UnsupportedVersion(9))
        );
        let mut bad = bytes;
        bad[3] = 0;
        assert_eq!(
            StreamHeader::decode(&bad),
            Err(FrameError::UnknownStreamKind(0))
        );
        let mut bad = bytes;
        bad[15] = 1;
        assert_eq!(StreamHeader::decode(&bad), Err(FrameError::ReservedBitsSet));
        assert!(matches!(
            StreamHeader::decode(&bytes[..5]),
            Err(FrameError::Truncated { .. })
        ));
    }

    /// A frame decodes to its tag and body, and the next frame starts after `encoded_len`.
    #[test]
    fn frames_decode_in_sequence() {
        let mut buf = encode_frame(FrameTag::Message, b"hello").unwrap();
        buf.extend(encode_frame(FrameTag::Error, b"").unwrap());
        let first = decode(&buf).unwrap();
        assert_eq!(first.tag, FrameTag::Message);
        assert_eq!(first.body, b"hello");
        let second = decode(&buf[first.encoded_len()..]).unwrap();
        assert_eq!(second.tag, FrameTag::Error);
        assert!(second.body.is_empty());
    }

    /// A declared length above the limit is refused from the header alone, even when the
    /// buffer is tiny, so no allocation of the declared size can follow.
    #[test]
    fn oversized_declared_length_is_refused_before_reading_the_body() {
        let header = FrameHeader::encode(FrameTag::Message, u32::MAX);
        assert_eq!(
            decode_with_limit(&header, 1024),
            Err(FrameError::TooLarge {
                declared: u32::MAX,
                max: 1024
            })
        );
        assert_eq!(
            decode_with_limit(&header, 1024).unwrap_err().code(),
            codes::FRAME_TOO_LARGE
        );
    }

    /// Short input, an unknown tag and a short body are errors with the documented codes.
    #[test]
    fn truncated_input_and_unknown_tags_are_malformed_frames() {
        assert_eq!(decode(&[0, 0]).unwrap_err().code(), codes::MALFORMED_FRAME);
        let mut bad_tag = FrameHeader::encode(FrameTag::Message, 0);
        bad_tag[4] = 0x7f;
        assert_eq!(decode(&bad_tag), Err(FrameError::UnknownTag(0x7f)));
        let short = &encode_frame(FrameTag::Message, b"0123456789").unwrap()[..9];
        assert_eq!(decode(short).unwrap_err().code(), codes::MALFORMED_FRAME);
    }

    /// The decoder never panics and never yields a body above its limit, whatever the
    /// input (a stable-toolchain stand-in for the cargo-fuzz target).
    #[test]
    fn random_input_never_panics_the_decoder() {
        use rand::{rngs::SmallRng, Rng, SeedableRng};
        let mut rng = SmallRng::seed_from_u64(0xF022);
        for _ in 0..50_000 {
            let len = rng.gen_range(0..64);
            let mut buf: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
            if rng.gen_bool(0.5) && buf.len() >= FRAME_HEADER_LEN {
                // Plausible small lengths and valid tags reach the body checks more often.
                let body_len = rng.gen_range(0..64u32);
                buf[..4].copy_from_slice(&body_len.to_be_bytes());
                buf[4] = rng.gen_range(1..=2);
            }
            let _ = StreamHeader::decode(&buf);
            if let Ok(frame) = decode_with_limit(&buf, 48) {
                assert!(frame.body.len() <= 48);
                assert!(frame.encoded_len() <= buf.len());
            }
        }
    }
}
