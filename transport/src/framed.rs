//! Frames on quinn streams: read a header or a frame (checking the limit before
//! allocating), write a frame, and refuse a stream with a stable code.

use quinn::{ReadExactError, RecvStream, SendStream};
use rkyv::util::AlignedVec;
use thiserror::Error;

use crate::{
    codes::WireCode,
    frame::{FrameError, FrameHeader, FrameTag, StreamHeader, FRAME_HEADER_LEN, STREAM_HEADER_LEN},
};

/// Reading from a stream failed.
#[derive(Debug, Error)]
pub(crate) enum StreamReadError {
    /// The bytes were malformed; the stream should be refused with `FrameError::code`.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// The peer reset its side of the stream.
    #[error("peer reset the stream with {0}")]
    PeerReset(WireCode),
    /// The stream or connection failed underneath.
    #[error("stream failed: {0}")]
    Io(String),
}

fn map_exact(err: ReadExactError, needed: usize) -> StreamReadError {
    match err {
        ReadExactError::FinishedEarly(available) => {
            StreamReadError::Frame(FrameError::Truncated { needed, available })
        }
        ReadExactError::ReadError(quinn::ReadError::Reset(code)) => {
            StreamReadError::PeerReset(WireCode::from_varint(code).unwrap_or(WireCode(u32::MAX)))
        }
        ReadExactError::ReadError(other) => StreamReadError::Io(other.to_string()),
    }
}

/// Reads and decodes the stream header.
pub(crate) async fn read_stream_header(
    recv: &mut RecvStream,
) -> Result<StreamHeader, StreamReadError> {
    let mut buf = [0u8; STREAM_HEADER_LEN];
    recv.read_exact(&mut buf)
        .await
        .map_err(|e| map_exact(e, STREAM_HEADER_LEN))?;
    Ok(StreamHeader::decode(&buf)?)
}

/// Reads one frame whose body may be at most `max` bytes; `None` at a clean end of stream.
/// The body buffer is allocated only after the declared length passed the limit check.
pub(crate) async fn read_frame(
    recv: &mut RecvStream,
    max: u32,
) -> Result<Option<(FrameTag, AlignedVec)>, StreamReadError> {
    let mut head = [0u8; FRAME_HEADER_LEN];
    match recv.read_exact(&mut head).await {
        Ok(()) => {}
        Err(ReadExactError::FinishedEarly(0)) => return Ok(None),
        Err(e) => return Err(map_exact(e, FRAME_HEADER_LEN)),
    }
    let header = FrameHeader::parse(&head, max)?;
    let len = header.len as usize;
    let mut body = AlignedVec::<16>::with_capacity(len);
    body.resize(len, 0);
    recv.read_exact(body.as_mut_slice())
        .await
        .map_err(|e| map_exact(e, len))?;
    Ok(Some((header.tag, body)))
}

/// Succeeds if the peer finished the stream with no further bytes.
pub(crate) async fn expect_end(recv: &mut RecvStream) -> Result<(), StreamReadError> {
    let mut probe = [0u8; 1];
    match recv.read(&mut probe).await {
        Ok(None) => Ok(()),
        Ok(Some(0)) => Ok(()),
        Ok(Some(_)) => Err(FrameError::Unexpected("bytes after the last frame").into()),
        Err(quinn::ReadError::Reset(code)) => Err(StreamReadError::PeerReset(
            WireCode::from_varint(code).unwrap_or(WireCode(u32::MAX)),
        )),
        Err(other) => Err(StreamReadError::Io(other.to_string())),
    }
}

/// Writes one frame.
pub(crate) async fn write_frame(
    send: &mut SendStream,
    tag: FrameTag,
    body: &[u8],
) -> Result<(), quinn::WriteError> {
    // Bodies come from our own encoder; a body over 4 GiB would be a local bug, and the
    // peer refuses anything above its limit anyway.
    let len = u32::try_from(body.len()).unwrap_or(u32::MAX);
    send.write_all(&FrameHeader::encode(tag, len)).await?;
    send.write_all(body).await
}

/// Writes the stream header.
pub(crate) async fn write_stream_header(
    send: &mut SendStream,
    header: &StreamHeader,
) -> Result<(), quinn::WriteError> {
    send.write_all(&header.encode()).await
}

/// Refuses a stream in both directions with `code` (errors mean it is already closed).
pub(crate) fn refuse(send: Option<&mut SendStream>, recv: Option<&mut RecvStream>, code: WireCode) {
    if let Some(recv) = recv {
        let _ = recv.stop(code.varint());
    }
    if let Some(send) = send {
        let _ = send.reset(code.varint());
    }
}

/// A receive stream that is stopped with [`crate::codes::CANCELLED`] if dropped before
/// [`CancelOnDrop::disarm`] (a caller gave up or its deadline passed).
pub(crate) struct CancelOnDrop {
    recv: Option<RecvStream>,
}

impl CancelOnDrop {
    pub(crate) fn new(recv: RecvStream) -> Self {
        CancelOnDrop { recv: Some(recv) }
    }

    pub(crate) fn get(&mut self) -> Option<&mut RecvStream> {
        self.recv.as_mut()
    }

    /// The stream ended normally; do not stop it on drop.
    pub(crate) fn disarm(&mut self) {
        self.recv = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(recv) = self.recv.as_mut() {
            let _ = recv.stop(crate::codes::CANCELLED.varint());
        }
    }
}
