//! The calling side: unary calls with deadlines, server streams read under flow control,
//! bidi streams (server streams the caller keeps sending on), and one-way messages.

use std::{sync::Arc, time::Duration};

use rkyv::util::AlignedVec;
use thiserror::Error;
use tokio::time::{timeout_at, Instant};

use crate::{
    codes::{self, WireCode},
    endpoint::{Endpoint, EndpointError, Shared},
    frame::{FrameError, FrameTag, ServiceId, StreamHeader, StreamKind},
    framed::{self, CancelOnDrop, StreamReadError},
    hook::MessageKind,
    identity::MemberName,
    metrics::inc,
    service::Service,
    wire::{encode, Received, Wire, WireError},
};

/// A call, stream or one-way send failed.
#[derive(Debug, Error)]
pub enum RpcError {
    /// No connection to the peer could be had.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// The deadline passed before the answer arrived.
    #[error("deadline exceeded")]
    DeadlineExceeded,
    /// The handler (or the peer's dispatcher) answered with an error frame.
    #[error("remote error {code}: {message}")]
    Remote {
        /// The stable code.
        code: WireCode,
        /// The peer's description.
        message: String,
    },
    /// The peer reset the stream (e.g. it refused our frame).
    #[error("stream reset by peer with {0}")]
    Reset(WireCode),
    /// The peer's answer was malformed.
    #[error("bad answer: {0}")]
    Frame(#[from] FrameError),
    /// The stream or connection failed underneath.
    #[error("stream failed: {0}")]
    Stream(String),
}

impl RpcError {
    /// The stable wire code describing this error.
    pub fn code(&self) -> WireCode {
        match self {
            RpcError::Endpoint(_) | RpcError::Stream(_) => codes::CANCELLED,
            RpcError::DeadlineExceeded => codes::DEADLINE_EXCEEDED,
            RpcError::Remote { code, .. } | RpcError::Reset(code) => *code,
            RpcError::Frame(f) => f.code(),
        }
    }

    /// Whether the same call may succeed if retried (connection trouble, timeouts,
    /// shutdown), as opposed to a refusal that will repeat.
    pub fn is_retryable(&self) -> bool {
        match self {
            RpcError::Endpoint(e) => e.is_retryable(),
            RpcError::DeadlineExceeded | RpcError::Stream(_) => true,
            RpcError::Remote { code, .. } => *code == codes::SHUTTING_DOWN,
            RpcError::Reset(code) => *code == codes::CANCELLED || *code == codes::READ_TIMEOUT,
            RpcError::Frame(_) => false,
        }
    }
}

impl From<StreamReadError> for RpcError {
    fn from(e: StreamReadError) -> Self {
        match e {
            StreamReadError::Frame(f) => RpcError::Frame(f),
            StreamReadError::PeerReset(code) => RpcError::Reset(code),
            StreamReadError::Io(s) => RpcError::Stream(s),
        }
    }
}

fn remote_error(body: AlignedVec) -> RpcError {
    match Received::<WireError>::new(body).and_then(|r| r.deserialize()) {
        Ok(e) => RpcError::Remote {
            code: WireCode(e.code),
            message: e.message,
        },
        Err(f) => RpcError::Frame(f),
    }
}

/// Milliseconds left until `deadline`, rounded up so the server's deadline never falls
/// before the caller's.
fn deadline_ms(deadline: Instant) -> u32 {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .as_micros();
    u32::try_from(left.div_ceil(1000))
        .unwrap_or(u32::MAX)
        .max(1)
}

fn check_limit(shared: &Shared, kind: StreamKind, body: &[u8]) -> Result<(), RpcError> {
    let max = shared.config.limits.for_kind(kind);
    if body.len() > max as usize {
        return Err(FrameError::TooLarge {
            declared: u32::try_from(body.len()).unwrap_or(u32::MAX),
            max,
        }
        .into());
    }
    Ok(())
}

/// Opens a bidirectional stream to `peer` (retrying once on a connection that closed
/// under us), writes the header and request, and finishes the send side.
async fn open_request(
    shared: &Arc<Shared>,
    peer: &MemberName,
    header: StreamHeader,
    body: &[u8],
) -> Result<CancelOnDrop, RpcError> {
    let (mut send, recv) = open_stream(shared, peer, header, body).await?;
    let _ = send.finish();
    Ok(recv)
}

/// Opens a bidirectional stream to `peer` (retrying once on a connection that closed
/// under us) and writes the header and request; the send side stays open.
async fn open_stream(
    shared: &Arc<Shared>,
    peer: &MemberName,
    header: StreamHeader,
    body: &[u8],
) -> Result<(quinn::SendStream, CancelOnDrop), RpcError> {
    let conn = shared.connection(peer).await?;
    let (mut send, recv) = match conn.open_bi().await {
        Ok(pair) => pair,
        Err(_) => shared
            .connection(peer)
            .await?
            .open_bi()
            .await
            .map_err(|source| EndpointError::Connection {
                peer: peer.clone(),
                source,
            })?,
    };
    inc(&shared.metrics.streams_opened_total);
    let recv = CancelOnDrop::new(recv);
    let write = async {
        framed::write_stream_header(&mut send, &header).await?;
        framed::write_frame(&mut send, FrameTag::Message, body).await
    };
    write.await.map_err(|e| RpcError::Stream(e.to_string()))?;
    inc(&shared.metrics.frames_sent_total);
    Ok((send, recv))
}

/// Reads the single answer frame of a unary call.
async fn read_answer(
    shared: &Shared,
    peer: &MemberName,
    recv: &mut CancelOnDrop,
    max: u32,
) -> Result<(FrameTag, AlignedVec), RpcError> {
    let Some(stream) = recv.get() else {
        return Err(RpcError::Stream("stream already closed".into()));
    };
    match framed::read_frame(stream, max).await {
        Ok(Some(frame)) => {
            inc(&shared.metrics.frames_received_total);
            recv.disarm();
            Ok(frame)
        }
        Ok(None) => Err(FrameError::Unexpected("stream ended without an answer").into()),
        Err(StreamReadError::Frame(f)) => {
            tracing::warn!(%peer, stream = %stream.id(), code = %f.code(), error = %f, "refusing malformed answer from peer");
            let _ = stream.stop(f.code().varint());
            Err(f.into())
        }
        Err(e) => Err(e.into()),
    }
}

async fn exchange(
    shared: Arc<Shared>,
    peer: MemberName,
    header: StreamHeader,
    body: Vec<u8>,
) -> Result<(FrameTag, AlignedVec), RpcError> {
    let mut recv = open_request(&shared, &peer, header, &body).await?;
    let max = shared.config.limits.for_kind(header.kind);
    read_answer(&shared, &peer, &mut recv, max).await
}

impl Endpoint {
    /// Calls `S` on `peer` and waits at most `timeout` for the response, which is
    /// validated before it is returned.
    pub async fn call<S: Service>(
        &self,
        peer: &MemberName,
        request: &S::Request,
        timeout: Duration,
    ) -> Result<Received<S::Response>, RpcError> {
        let shared = &self.shared;
        inc(&shared.metrics.calls_total);
        let deadline = Instant::now() + timeout;
        let result = match timeout_at(deadline, self.call_inner::<S>(peer, request, deadline)).await
        {
            Ok(Ok(response)) => return Ok(response),
            // The server gave up at the same deadline; to the caller it is the same timeout.
            Ok(Err(RpcError::Remote { code, .. } | RpcError::Reset(code)))
                if code == codes::DEADLINE_EXCEEDED =>
            {
                Err(RpcError::DeadlineExceeded)
            }
            Ok(Err(e)) => Err(e),
            Err(_) => Err(RpcError::DeadlineExceeded),
        };
        inc(&shared.metrics.call_errors_total);
        if matches!(result, Err(RpcError::DeadlineExceeded)) {
            inc(&shared.metrics.call_timeouts_total);
        }
        result
    }

    async fn call_inner<S: Service>(
        &self,
        peer: &MemberName,
        request: &S::Request,
        deadline: Instant,
    ) -> Result<Received<S::Response>, RpcError> {
        let shared = &self.shared;
        let body = encode(request)?.to_vec();
        check_limit(shared, StreamKind::Unary, &body)?;
        let verdict = shared.verdict_send(peer, MessageKind::Request, S::ID);
        if verdict.drop {
            // A lost request: the caller hears nothing until its deadline.
            std::future::pending::<()>().await;
        }
        if !verdict.delay.is_zero() {
            tokio::time::sleep(verdict.delay).await;
        }
        let header = StreamHeader {
            kind: StreamKind::Unary,
            service: S::ID,
            deadline_ms: deadline_ms(deadline),
        };
        for _ in 0..verdict.extra_copies {
            let dup = exchange(shared.clone(), peer.clone(), header, body.clone());
            tokio::spawn(async move {
                let _ = timeout_at(deadline, dup).await;
            });
        }
        let (tag, answer) = exchange(shared.clone(), peer.clone(), header, body).await?;
        let response = match tag {
            FrameTag::Message => Received::<S::Response>::new(answer)?,
            FrameTag::Error => return Err(remote_error(answer)),
        };
        let verdict = shared.verdict_receive(peer, MessageKind::Response, S::ID);
        if verdict.drop {
            std::future::pending::<()>().await;
        }
        if !verdict.delay.is_zero() {
            tokio::time::sleep(verdict.delay).await;
        }
        Ok(response)
    }

    /// Opens a server stream of `S` on `peer`: sends `request` and returns the stream of
    /// responses. Items are read only as [`ResponseStream::next`] is called, so a slow
    /// reader holds the server back through QUIC flow control.
    pub async fn server_stream<S: Service>(
        &self,
        peer: &MemberName,
        request: &S::Request,
    ) -> Result<ResponseStream<S::Response>, RpcError> {
        let (header, body) = self
            .opening::<S>(peer, StreamKind::ServerStream, request)
            .await?;
        let recv = open_request(&self.shared, peer, header, &body).await?;
        Ok(self.responses::<S>(peer, recv, StreamKind::ServerStream))
    }

    /// Opens a bidi stream of `S` on `peer`: sends the opening `request` and returns the
    /// sink for further messages and the stream of responses. Dropping the sink (or
    /// [`RequestSink::finish`]) ends the caller's messages; dropping the response stream
    /// tells the server to stop. Fault rules apply to the opening request and to the
    /// responses (as stream items); later requests go out unfiltered.
    pub async fn bidi_stream<S: Service>(
        &self,
        peer: &MemberName,
        request: &S::Request,
    ) -> Result<(RequestSink<S::Request>, ResponseStream<S::Response>), RpcError> {
        let (header, body) = self.opening::<S>(peer, StreamKind::Bidi, request).await?;
        let (send, recv) = open_stream(&self.shared, peer, header, &body).await?;
        let sink = RequestSink {
            send,
            shared: self.shared.clone(),
            max: self.shared.config.limits.for_kind(StreamKind::Bidi),
            _type: std::marker::PhantomData,
        };
        Ok((sink, self.responses::<S>(peer, recv, StreamKind::Bidi)))
    }

    /// The opening request of a stream of `S`: encoded and checked against the kind's
    /// limit, after the fault filters had their say (a dropped opening never completes,
    /// as a lost packet would not).
    async fn opening<S: Service>(
        &self,
        peer: &MemberName,
        kind: StreamKind,
        request: &S::Request,
    ) -> Result<(StreamHeader, AlignedVec), RpcError> {
        let body = encode(request)?;
        check_limit(&self.shared, kind, &body)?;
        let verdict = self.shared.verdict_send(peer, MessageKind::Request, S::ID);
        if verdict.drop {
            std::future::pending::<()>().await;
        }
        if !verdict.delay.is_zero() {
            tokio::time::sleep(verdict.delay).await;
        }
        let header = StreamHeader {
            kind,
            service: S::ID,
            deadline_ms: 0,
        };
        Ok((header, body))
    }

    /// The response side of a stream of `S` opened on `peer`.
    fn responses<S: Service>(
        &self,
        peer: &MemberName,
        recv: CancelOnDrop,
        kind: StreamKind,
    ) -> ResponseStream<S::Response> {
        ResponseStream {
            recv,
            shared: self.shared.clone(),
            peer: peer.clone(),
            service: S::ID,
            max: self.shared.config.limits.for_kind(kind),
            duplicates: Vec::new(),
            done: false,
        }
    }

    /// Sends a one-way message of `S` to `peer`. Success means the message was handed to
    /// QUIC, not that the peer processed it.
    pub async fn send<S: Service>(
        &self,
        peer: &MemberName,
        message: &S::Request,
    ) -> Result<(), RpcError> {
        let shared = &self.shared;
        let body = encode(message)?;
        check_limit(shared, StreamKind::OneWay, &body)?;
        let verdict = shared.verdict_send(peer, MessageKind::OneWay, S::ID);
        if verdict.drop {
            return Ok(());
        }
        if !verdict.delay.is_zero() {
            // Deliver later without holding up the caller, so later messages can overtake.
            let (shared, peer) = (shared.clone(), peer.clone());
            tokio::spawn(async move {
                tokio::time::sleep(verdict.delay).await;
                for _ in 0..=verdict.extra_copies {
                    if let Err(error) = send_one_way(&shared, &peer, S::ID, &body).await {
                        tracing::debug!(%peer, %error, "delayed one-way message not sent");
                    }
                }
            });
            return Ok(());
        }
        for _ in 0..=verdict.extra_copies {
            send_one_way(shared, peer, S::ID, &body).await?;
        }
        Ok(())
    }
}

async fn send_one_way(
    shared: &Arc<Shared>,
    peer: &MemberName,
    service: ServiceId,
    body: &[u8],
) -> Result<(), RpcError> {
    let conn = shared.connection(peer).await?;
    let mut send = conn
        .open_uni()
        .await
        .map_err(|source| EndpointError::Connection {
            peer: peer.clone(),
            source,
        })?;
    inc(&shared.metrics.streams_opened_total);
    let header = StreamHeader {
        kind: StreamKind::OneWay,
        service,
        deadline_ms: 0,
    };
    let write = async {
        framed::write_stream_header(&mut send, &header).await?;
        framed::write_frame(&mut send, FrameTag::Message, body).await
    };
    write.await.map_err(|e| RpcError::Stream(e.to_string()))?;
    inc(&shared.metrics.frames_sent_total);
    let _ = send.finish();
    Ok(())
}

/// The caller's side of a bidi stream: messages after the opening request, written in
/// order under QUIC flow control. Dropping it finishes the caller's side.
pub struct RequestSink<T> {
    send: quinn::SendStream,
    shared: Arc<Shared>,
    max: u32,
    _type: std::marker::PhantomData<fn(T)>,
}

impl<T: Wire> RequestSink<T> {
    /// Encodes and sends one message; waits while the peer's flow-control window is full.
    pub async fn send(&mut self, message: &T) -> Result<(), RpcError> {
        let body = encode(message)?;
        if body.len() > self.max as usize {
            return Err(FrameError::TooLarge {
                declared: u32::try_from(body.len()).unwrap_or(u32::MAX),
                max: self.max,
            }
            .into());
        }
        framed::write_frame(&mut self.send, FrameTag::Message, &body)
            .await
            .map_err(|e| RpcError::Stream(e.to_string()))?;
        inc(&self.shared.metrics.frames_sent_total);
        Ok(())
    }

    /// Ends the caller's messages (the server's next read sees the end).
    pub fn finish(&mut self) {
        let _ = self.send.finish();
    }
}

/// The responses of a server stream, in order. Dropping it tells the server to stop
/// (the stream is stopped with [`codes::CANCELLED`]).
pub struct ResponseStream<T> {
    recv: CancelOnDrop,
    shared: Arc<Shared>,
    peer: MemberName,
    service: ServiceId,
    max: u32,
    duplicates: Vec<Received<T>>,
    done: bool,
}

impl<T: Wire> ResponseStream<T> {
    /// The next item; `None` when the server finished the stream. An error ends it.
    pub async fn next(&mut self) -> Option<Result<Received<T>, RpcError>> {
        if let Some(dup) = self.duplicates.pop() {
            return Some(Ok(dup));
        }
        loop {
            if self.done {
                return None;
            }
            let stream = self.recv.get()?;
            let frame = framed::read_frame(stream, self.max).await;
            let item = match frame {
                Ok(None) => {
                    self.finish();
                    return None;
                }
                Ok(Some((FrameTag::Message, body))) => {
                    inc(&self.shared.metrics.frames_received_total);
                    match Received::<T>::new(body) {
                        Ok(item) => item,
                        Err(e) => return Some(Err(self.fail(e))),
                    }
                }
                Ok(Some((FrameTag::Error, body))) => {
                    self.finish();
                    return Some(Err(remote_error(body)));
                }
                Err(StreamReadError::Frame(f)) => return Some(Err(self.fail(f))),
                Err(e) => {
                    self.finish();
                    return Some(Err(e.into()));
                }
            };
            let verdict =
                self.shared
                    .verdict_receive(&self.peer, MessageKind::StreamItem, self.service);
            if verdict.drop {
                continue;
            }
            if !verdict.delay.is_zero() {
                tokio::time::sleep(verdict.delay).await;
            }
            for _ in 0..verdict.extra_copies {
                self.duplicates.push(item.clone());
            }
            return Some(Ok(item));
        }
    }

    fn finish(&mut self) {
        self.done = true;
        self.recv.disarm();
    }

    fn fail(&mut self, error: FrameError) -> RpcError {
        tracing::warn!(peer = %self.peer, service = %self.service, code = %error.code(), %error, "refusing malformed stream item from peer");
        if let Some(stream) = self.recv.get() {
            let _ = stream.stop(error.code().varint());
        }
        self.finish();
        error.into()
    }
}
