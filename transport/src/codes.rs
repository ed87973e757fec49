//! Stable wire codes: QUIC stream reset / stop codes, error-frame codes and connection
//! close codes.
//!
//! These numbers cross the wire and appear in peers' logs, so they never change meaning.
//! Stream-level codes (`0x1xx`) say the transport refused the bytes on a stream; error-frame
//! codes (`0x2xx`) say a well-formed request could not be served; codes from
//! [`APP_BASE`] upwards belong to services ([`crate::ServiceError`]).

use quinn::VarInt;

/// A stable numeric code carried in a stream reset, a STOP_SENDING frame, an error frame or
/// a connection close.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct WireCode(pub u32);

impl WireCode {
    /// The code as a QUIC variable-length integer, for `reset` / `stop` / `close`.
    pub fn varint(self) -> VarInt {
        VarInt::from_u32(self.0)
    }

    /// The code carried by a QUIC variable-length integer, if it fits in 32 bits.
    pub fn from_varint(v: VarInt) -> Option<WireCode> {
        u32::try_from(v.into_inner()).ok().map(WireCode)
    }

    /// A short stable name for logs and metrics.
    pub fn name(self) -> &'static str {
        match self {
            NO_ERROR => "no_error",
            MALFORMED_HEADER => "malformed_header",
            FRAME_TOO_LARGE => "frame_too_large",
            MALFORMED_FRAME => "malformed_frame",
            INVALID_ARCHIVE => "invalid_archive",
            READ_TIMEOUT => "read_timeout",
            CANCELLED => "cancelled",
            UNKNOWN_SERVICE => "unknown_service",
            WRONG_PATTERN => "wrong_pattern",
            DEADLINE_EXCEEDED => "deadline_exceeded",
            HANDLER_FAILED => "handler_failed",
            SHUTTING_DOWN => "shutting_down",
            ENCODE_FAILED => "encode_failed",
            c if c.0 >= APP_BASE.0 => "application",
            _ => "unknown",
        }
    }
}

impl std::fmt::Display for WireCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:#x} ({})", self.0, self.name())
    }
}

/// Nothing went wrong (graceful stream or connection end).
pub const NO_ERROR: WireCode = WireCode(0);

/// The stream header (magic, version, kind, reserved bits) was invalid.
pub const MALFORMED_HEADER: WireCode = WireCode(0x101);
/// A frame declared a length above the stream kind's maximum.
pub const FRAME_TOO_LARGE: WireCode = WireCode(0x102);
/// A frame was truncated, had an unknown tag, or arrived where none was allowed.
pub const MALFORMED_FRAME: WireCode = WireCode(0x103);
/// A frame's body failed rkyv validation (bytecheck) for the expected type.
pub const INVALID_ARCHIVE: WireCode = WireCode(0x104);
/// The peer did not send a complete request within the read timeout.
pub const READ_TIMEOUT: WireCode = WireCode(0x105);
/// The local side gave up on the stream (deadline passed, caller dropped the call).
pub const CANCELLED: WireCode = WireCode(0x106);

/// No handler is registered for the service id in the stream header.
pub const UNKNOWN_SERVICE: WireCode = WireCode(0x201);
/// The service exists but is registered for another pattern (unary / stream / one-way).
pub const WRONG_PATTERN: WireCode = WireCode(0x202);
/// The request's deadline passed before the handler finished.
pub const DEADLINE_EXCEEDED: WireCode = WireCode(0x203);
/// The handler failed without a service-specific code.
pub const HANDLER_FAILED: WireCode = WireCode(0x204);
/// The endpoint is shutting down.
pub const SHUTTING_DOWN: WireCode = WireCode(0x205);
/// The response could not be encoded.
pub const ENCODE_FAILED: WireCode = WireCode(0x206);

/// The first code available to services for their own errors.
pub const APP_BASE: WireCode = WireCode(0x1_0000);

/// Every stream-level code, for tests and documentation.
pub const STREAM_CODES: [WireCode; 6] = [
    MALFORMED_HEADER,
    FRAME_TOO_LARGE,
    MALFORMED_FRAME,
    INVALID_ARCHIVE,
    READ_TIMEOUT,
    CANCELLED,
];

#[cfg(test)]
mod tests {
    use super::*;

    /// Every code round-trips through a QUIC varint and has a distinct name.
    #[test]
    fn codes_round_trip_through_varints_and_have_distinct_names() {
        let all = [
            NO_ERROR,
            MALFORMED_HEADER,
            FRAME_TOO_LARGE,
            MALFORMED_FRAME,
            INVALID_ARCHIVE,
            READ_TIMEOUT,
            CANCELLED,
            UNKNOWN_SERVICE,
            WRONG_PATTERN,
            DEADLINE_EXCEEDED,
            HANDLER_FAILED,
            SHUTTING_DOWN,
            ENCODE_FAILED,
        ];
        let mut names = std::collections::HashSet::new();
        for code in all {
            assert_eq!(WireCode::from_varint(code.varint()), Some(code));
            assert!(names.insert(code.name()), "duplicate name {}", code.name());
        }
        assert_eq!(WireCode(APP_BASE.0 + 7).name(), "application");
    }
}
