//! One log record: its on-disk framing and the rkyv mirror of openraft's `Entry` it
//! carries (the QUIC Raft network sends the same mirror on the wire). Pure functions
//! over byte slices; no I/O.
//!
//! Frame: `[body len: u32 LE][crc32 (IEEE) of body: u32 LE][body]`.

use std::fmt;

use openraft::{CommittedLeaderId, EntryPayload};
use rkyv::rancor;
use rkyv::util::AlignedVec;

use super::error::LogError;
use crate::raft_types::{Entry, LogId, Membership};
use crate::types::{NodeId, Proposal};

/// Bytes of framing before each body.
pub(crate) const HEADER_LEN: usize = 8;

/// Largest body we write or accept. Far above any sane command; its job is to make a
/// garbage length field fail fast instead of looking like a very long record.
pub(crate) const MAX_BODY_LEN: usize = 256 << 20;

/// The stored form of one entry. Mirrors `openraft::Entry<TypeConfig>` field by field so
/// that openraft's types need not derive rkyv.
#[derive(Debug, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub(crate) struct EntryRecord {
    pub(crate) term: u64,
    pub(crate) node: u64,
    pub(crate) index: u64,
    pub(crate) payload: PayloadRecord,
}

impl EntryRecord {
    /// The mirror of `entry`; fails only if its membership cannot be serialized.
    pub(crate) fn from_entry(entry: Entry) -> Result<Self, String> {
        let payload = match entry.payload {
            EntryPayload::Blank => PayloadRecord::Blank,
            EntryPayload::Normal(cmd) => PayloadRecord::Normal(cmd),
            EntryPayload::Membership(m) => {
                PayloadRecord::Membership(serde_json::to_vec(&m).map_err(|e| e.to_string())?)
            }
        };
        Ok(EntryRecord {
            term: entry.log_id.leader_id.term,
            node: entry.log_id.leader_id.node_id.0,
            index: entry.log_id.index,
            payload,
        })
    }

    /// The entry this record mirrors; fails if its membership payload is not valid.
    pub(crate) fn into_entry(self) -> Result<Entry, FrameError> {
        let payload = match self.payload {
            PayloadRecord::Blank => EntryPayload::Blank,
            PayloadRecord::Normal(cmd) => EntryPayload::Normal(cmd),
            PayloadRecord::Membership(json) => EntryPayload::Membership(
                serde_json::from_slice(&json).map_err(|e| FrameError::Membership(e.to_string()))?,
            ),
        };
        Ok(Entry {
            log_id: log_id(self.term, self.node, self.index),
            payload,
        })
    }
}

/// The stored form of an entry's payload.
#[derive(Debug, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub(crate) enum PayloadRecord {
    Blank,
    Normal(Proposal),
    /// `openraft::Membership` as serde_json: rare, and openraft owns its shape.
    Membership(Vec<u8>),
}

/// Why the bytes at some offset are not a valid record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// Fewer than [`HEADER_LEN`] bytes remain.
    ShortHeader { have: usize },
    /// The length field is zero or above [`MAX_BODY_LEN`].
    BadLength { len: u32 },
    /// The body runs past the end of the data.
    ShortBody { len: u32, have: usize },
    /// The body does not match its checksum.
    Checksum { stored: u32, computed: u32 },
    /// The checksum matched but the body is not a valid archive.
    Archive(String),
    /// The archive is valid but its membership payload is not.
    Membership(String),
}

impl fmt::Display for FrameError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FrameError::ShortHeader { have } => {
                write!(f, "truncated header ({have} of {HEADER_LEN} bytes)")
            }
            FrameError::BadLength { len } => write!(f, "implausible body length {len}"),
            FrameError::ShortBody { len, have } => {
                write!(f, "truncated body ({have} of {len} bytes)")
            }
            FrameError::Checksum { stored, computed } => {
                write!(
                    f,
                    "checksum mismatch (stored {stored:#010x}, computed {computed:#010x})"
                )
            }
            FrameError::Archive(e) => write!(f, "invalid entry archive: {e}"),
            FrameError::Membership(e) => write!(f, "invalid membership payload: {e}"),
        }
    }
}

/// Appends `entry` to `out` as one complete frame and returns its log id.
pub(crate) fn encode(entry: Entry, out: &mut Vec<u8>) -> Result<LogId, LogError> {
    let log_id = entry.log_id;
    let encode_err = |reason: String| LogError::Encode {
        index: log_id.index,
        reason,
    };
    let rec = EntryRecord::from_entry(entry).map_err(encode_err)?;
    let body = rkyv::to_bytes::<rancor::Error>(&rec).map_err(|e| encode_err(e.to_string()))?;
    if body.is_empty() || body.len() > MAX_BODY_LEN {
        return Err(encode_err(format!(
            "record body of {} bytes is outside 1..={MAX_BODY_LEN}",
            body.len()
        )));
    }
    // Fits: MAX_BODY_LEN < u32::MAX.
    let len = body.len() as u32;
    out.reserve(HEADER_LEN + body.len());
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    out.extend_from_slice(&body);
    Ok(log_id)
}

/// Checks the framing of the record at the start of `buf`: plausible length, whole body
/// present, checksum matches. Returns the body and the frame's total length.
pub(crate) fn split_frame(buf: &[u8]) -> Result<(&[u8], usize), FrameError> {
    let (Some(len_bytes), Some(crc_bytes)) = (buf.get(0..4), buf.get(4..HEADER_LEN)) else {
        return Err(FrameError::ShortHeader { have: buf.len() });
    };
    let len = u32::from_le_bytes([len_bytes[0], len_bytes[1], len_bytes[2], len_bytes[3]]);
    let stored = u32::from_le_bytes([crc_bytes[0], crc_bytes[1], crc_bytes[2], crc_bytes[3]]);
    let body_len = len as usize;
    if body_len == 0 || body_len > MAX_BODY_LEN {
        return Err(FrameError::BadLength { len });
    }
    let Some(body) = buf.get(HEADER_LEN..HEADER_LEN + body_len) else {
        return Err(FrameError::ShortBody {
            len,
            have: buf.len() - HEADER_LEN,
        });
    };
    let computed = crc32fast::hash(body);
    if computed != stored {
        return Err(FrameError::Checksum { stored, computed });
    }
    Ok((body, HEADER_LEN + body_len))
}

/// Validates a body (already checksummed) down to its membership payload and returns
/// the entry's log id, without building the entry.
pub(crate) fn check_body(body: &[u8], scratch: &mut AlignedVec) -> Result<LogId, FrameError> {
    let rec = access(body, scratch)?;
    if let ArchivedPayloadRecord::Membership(json) = &rec.payload {
        serde_json::from_slice::<Membership>(json.as_slice())
            .map_err(|e| FrameError::Membership(e.to_string()))?;
    }
    Ok(log_id(
        rec.term.to_native(),
        rec.node.to_native(),
        rec.index.to_native(),
    ))
}

/// Decodes a body (already checksummed) into the entry it stores.
pub(crate) fn decode_body(body: &[u8], scratch: &mut AlignedVec) -> Result<Entry, FrameError> {
    let archived = access(body, scratch)?;
    let rec: EntryRecord = rkyv::deserialize::<EntryRecord, rancor::Error>(archived)
        .map_err(|e| FrameError::Archive(e.to_string()))?;
    rec.into_entry()
}

/// Whether a whole valid record (framing, checksum, archive) starts at `buf[0]`.
pub(crate) fn is_valid_record(buf: &[u8], scratch: &mut AlignedVec) -> bool {
    match split_frame(buf) {
        Ok((body, _)) => check_body(body, scratch).is_ok(),
        Err(_) => false,
    }
}

/// Builds the log id a record stores.
pub(crate) fn log_id(term: u64, node: u64, index: u64) -> LogId {
    LogId::new(CommittedLeaderId::new(term, NodeId(node)), index)
}

/// rkyv needs the archive aligned; bytes read from a file at an arbitrary offset are not.
fn access<'a>(
    body: &[u8],
    scratch: &'a mut AlignedVec,
) -> Result<&'a ArchivedEntryRecord, FrameError> {
    scratch.clear();
    scratch.extend_from_slice(body);
    rkyv::access::<ArchivedEntryRecord, rancor::Error>(scratch.as_slice())
        .map_err(|e| FrameError::Archive(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::LeaseId;

    fn lease_entry(index: u64) -> Entry {
        Entry {
            log_id: log_id(3, 7, index),
            payload: EntryPayload::Normal(Proposal::one(crate::types::Command::LeaseGrant {
                id: LeaseId(index as i64),
                ttl_secs: 10,
            })),
        }
    }

    /// A frame decodes back to exactly the entry that was encoded.
    #[test]
    fn an_encoded_entry_decodes_to_the_same_entry() {
        let mut buf = Vec::new();
        let id = encode(lease_entry(42), &mut buf).expect("encode");
        let mut scratch = AlignedVec::new();
        let (body, len) = split_frame(&buf).expect("frame");
        assert_eq!(len, buf.len());
        assert_eq!(check_body(body, &mut scratch), Ok(id));
        assert_eq!(
            decode_body(body, &mut scratch).expect("decode"),
            lease_entry(42)
        );
    }

    /// Every kind of damage to a frame is reported, never decoded.
    #[test]
    fn a_damaged_frame_is_rejected_for_the_right_reason() {
        let mut buf = Vec::new();
        encode(lease_entry(1), &mut buf).expect("encode");
        assert!(matches!(
            split_frame(&buf[..5]),
            Err(FrameError::ShortHeader { have: 5 })
        ));
        assert!(matches!(
            split_frame(&buf[..buf.len() - 1]),
            Err(FrameError::ShortBody { .. })
        ));
        assert!(matches!(
            split_frame(&[0u8; 16]),
            Err(FrameError::BadLength { len: 0 })
        ));
        let mut flipped = buf.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 0x40;
        assert!(matches!(
            split_frame(&flipped),
            Err(FrameError::Checksum { .. })
        ));
    }

    /// A body whose checksum is right but whose bytes are not an archive is rejected by
    /// validation rather than trusted.
    #[test]
    fn a_checksummed_body_that_is_not_an_archive_is_rejected() {
        let mut scratch = AlignedVec::new();
        let garbage = [0xffu8; 40];
        assert!(matches!(
            check_body(&garbage, &mut scratch),
            Err(FrameError::Archive(_))
        ));
        assert!(matches!(
            decode_body(&garbage, &mut scratch),
            Err(FrameError::Archive(_))
        ));
    }
}
