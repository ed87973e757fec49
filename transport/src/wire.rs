//! Typed rkyv messages: what may cross the wire, a validated received message read in
//! place, and a message encoded once and sent to many peers.
//!
//! Validation (rkyv bytecheck) happens exactly once, when a [`Received`] is built; after
//! that the archive is read without copying or re-checking.

use std::marker::PhantomData;

use bytes::Bytes;
use rkyv::{
    api::high::{HighDeserializer, HighSerializer, HighValidator},
    bytecheck::CheckBytes,
    rancor,
    ser::allocator::ArenaHandle,
    util::AlignedVec,
    Archive, Archived, Deserialize, Serialize,
};

use crate::frame::FrameError;

/// A type that can be sent as a message: rkyv-serializable, and whose archive can be
/// validated and deserialized. Implemented automatically for every such type.
pub trait Wire:
    Sized
    + Archive<
        Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
                      + Deserialize<Self, HighDeserializer<rancor::Error>>,
    > + for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>
    + Send
    + Sync
    + 'static
{
}

impl<T> Wire for T where
    T: Archive<
            Archived: for<'a> CheckBytes<HighValidator<'a, rancor::Error>>
                          + Deserialize<T, HighDeserializer<rancor::Error>>,
        > + for<'a> Serialize<HighSerializer<AlignedVec, ArenaHandle<'a>, rancor::Error>>
        + Send
        + Sync
        + 'static
{
}

/// Serializes `value` into an aligned buffer.
pub fn encode<T: Wire>(value: &T) -> Result<AlignedVec, FrameError> {
    rkyv::to_bytes::<rancor::Error>(value).map_err(|e| FrameError::Encode(e.to_string()))
}

/// Checks that `bytes` is a valid archive of `T` (rkyv bytecheck) without keeping it.
pub fn check_archive<T: Wire>(bytes: &[u8]) -> Result<(), FrameError> {
    let mut aligned = AlignedVec::<16>::with_capacity(bytes.len());
    aligned.extend_from_slice(bytes);
    rkyv::access::<Archived<T>, rancor::Error>(&aligned)
        .map(|_| ())
        .map_err(|e| FrameError::InvalidArchive(e.to_string()))
}

/// A received message whose archive has been validated for `T`; read it in place with
/// [`Received::get`] or turn it into an owned value with [`Received::deserialize`].
pub struct Received<T> {
    bytes: AlignedVec,
    _type: PhantomData<fn() -> T>,
}

impl<T: Wire> Received<T> {
    /// Validates `bytes` as an archive of `T`.
    pub fn new(bytes: AlignedVec) -> Result<Self, FrameError> {
        rkyv::access::<Archived<T>, rancor::Error>(&bytes)
            .map_err(|e| FrameError::InvalidArchive(e.to_string()))?;
        Ok(Self {
            bytes,
            _type: PhantomData,
        })
    }

    /// Encodes `value` and wraps it as if received (for local delivery and tests).
    pub fn from_value(value: &T) -> Result<Self, FrameError> {
        Self::new(encode(value)?)
    }

    /// The archived message, read in place.
    pub fn get(&self) -> &Archived<T> {
        // SAFETY: `new` is the only constructor and it validated these exact bytes as an
        // archive of `T`; the buffer is immutable and owned by `self` since then.
        unsafe { rkyv::access_unchecked::<Archived<T>>(&self.bytes) }
    }

    /// Deserializes the archive into an owned `T`.
    pub fn deserialize(&self) -> Result<T, FrameError> {
        rkyv::deserialize::<T, rancor::Error>(self.get())
            .map_err(|e| FrameError::InvalidArchive(e.to_string()))
    }

    /// The raw archive bytes (already validated).
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }
}

impl<T> Clone for Received<T> {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Received<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Received")
            .field("type", &std::any::type_name::<T>())
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// A message encoded once; cloning shares the bytes, so one event can be sent to every
/// watcher without re-encoding.
pub struct Encoded<T> {
    bytes: Bytes,
    _type: PhantomData<fn() -> T>,
}

impl<T: Wire> Encoded<T> {
    /// Encodes `value`.
    pub fn new(value: &T) -> Result<Self, FrameError> {
        let aligned = encode(value)?;
        Ok(Self {
            bytes: Bytes::copy_from_slice(&aligned),
            _type: PhantomData,
        })
    }

    /// The encoded archive.
    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }
}

impl<T> Clone for Encoded<T> {
    fn clone(&self) -> Self {
        Self {
            bytes: self.bytes.clone(),
            _type: PhantomData,
        }
    }
}

impl<T> std::fmt::Debug for Encoded<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoded")
            .field("type", &std::any::type_name::<T>())
            .field("len", &self.bytes.len())
            .finish()
    }
}

/// The body of an error frame: a stable code and a human-readable message.
#[derive(Archive, Serialize, Deserialize, Clone, Debug, PartialEq, Eq)]
pub struct WireError {
    /// A [`crate::codes`] constant or a service code at or above [`crate::codes::APP_BASE`].
    pub code: u32,
    /// What went wrong, for logs.
    pub message: String,
}
