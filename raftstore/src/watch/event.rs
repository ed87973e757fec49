//! The encode-once form of a watch event.
//!
//! An event is archived with rkyv exactly once per revision and wrapped in `Bytes`; every
//! watcher that matches it gets a clone of those `Bytes` (a refcount bump), and a
//! transport can put them on the wire as they are. Receivers validate before reading.

use bytes::Bytes;

use crate::types::{Event, Revision};

/// What one encoded event holds: the revision it was written at and the change.
#[derive(Clone, Debug, PartialEq, Eq, rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]
pub struct WireEvent {
    /// The revision the change was written at.
    pub revision: Revision,
    /// The change itself.
    pub event: Event,
}

/// Why an event could not be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// rkyv could not archive the event (e.g. past its 2 GiB relative-pointer range).
    #[error("encoding a watch event: {0}")]
    Encode(#[source] rkyv::rancor::Error),
    /// The bytes are not a valid archived `WireEvent`.
    #[error("decoding a watch event: {0}")]
    Decode(#[source] rkyv::rancor::Error),
}

/// One event archived once and shared by reference count among all its watchers.
///
/// Invariant: the bytes are a validated archive, aligned for zero-copy access.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SharedEvent(Bytes);

/// The alignment `AlignedVec` gives and archived events need (at most 8 in practice).
const ALIGN: usize = 16;

/// Copies `bytes` into a buffer aligned for rkyv access, unless they already are.
fn aligned(bytes: Bytes) -> Bytes {
    if bytes.as_ptr().align_offset(ALIGN) == 0 {
        return bytes;
    }
    let mut v = rkyv::util::AlignedVec::<ALIGN>::with_capacity(bytes.len());
    v.extend_from_slice(&bytes);
    Bytes::from_owner(v)
}

impl SharedEvent {
    /// Archives `event` written at `revision`.
    pub fn encode(revision: Revision, event: &Event) -> Result<Self, WatchError> {
        // One clone to build the wire struct; archiving borrowed data would need a
        // second, layout-identical archived type, which is not worth the risk.
        let wire = WireEvent {
            revision,
            event: event.clone(),
        };
        let buf = rkyv::to_bytes::<rkyv::rancor::Error>(&wire).map_err(WatchError::Encode)?;
        Ok(SharedEvent(Bytes::from_owner(buf)))
    }

    /// Wraps bytes received from elsewhere (e.g. the wire) after validating them.
    pub fn from_bytes(bytes: Bytes) -> Result<Self, WatchError> {
        let bytes = aligned(bytes);
        rkyv::access::<ArchivedWireEvent, rkyv::rancor::Error>(&bytes)
            .map_err(WatchError::Decode)?;
        Ok(SharedEvent(bytes))
    }

    /// The encoded bytes, shared with every other holder of this event.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The encoded bytes, e.g. to hand to a transport.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Zero-copy, validated view of the archived event.
    pub fn archived(&self) -> Result<&ArchivedWireEvent, WatchError> {
        rkyv::access::<ArchivedWireEvent, rkyv::rancor::Error>(&self.0).map_err(WatchError::Decode)
    }

    /// The revision the event was written at.
    pub fn revision(&self) -> Result<Revision, WatchError> {
        Ok(Revision(self.archived()?.revision.0.to_native()))
    }

    /// The event as an owned value.
    pub fn decode(&self) -> Result<WireEvent, WatchError> {
        rkyv::deserialize::<WireEvent, rkyv::rancor::Error>(self.archived()?)
            .map_err(WatchError::Decode)
    }
}
