//! Serving streams peers open: read the stream header, look up the handler by service
//! id, read and validate the request, run the handler, write the answer.
//!
//! Bad input never reaches a handler and never affects other streams: a malformed header
//! or frame, an oversized declared length or an invalid archive resets that one stream
//! (stop + reset with the error's [`crate::codes`] value) and logs a line naming the peer.

use std::sync::Arc;

use quinn::{RecvStream, SendStream};
use rkyv::util::AlignedVec;
use tokio::time::{timeout_at, Instant};

use crate::{
    codes::{self, WireCode},
    endpoint::Shared,
    frame::{FrameError, FrameTag, ServiceId, StreamHeader, StreamKind},
    framed::{self, StreamReadError},
    hook::MessageKind,
    identity::MemberName,
    metrics::inc,
    service::{CallInfo, Handler, ServiceError, SinkError},
    wire::{encode, WireError},
};

/// Accepts and serves streams on `conn` until it closes.
pub(crate) async fn serve_connection(
    shared: Arc<Shared>,
    conn: quinn::Connection,
    peer: MemberName,
) {
    loop {
        tokio::select! {
            bi = conn.accept_bi() => match bi {
                Ok((send, recv)) => {
                    inc(&shared.metrics.streams_accepted_total);
                    tokio::spawn(serve_bi(shared.clone(), peer.clone(), send, recv));
                }
                Err(_) => break,
            },
            uni = conn.accept_uni() => match uni {
                Ok(recv) => {
                    inc(&shared.metrics.streams_accepted_total);
                    tokio::spawn(serve_uni(shared.clone(), peer.clone(), recv));
                }
                Err(_) => break,
            },
        }
    }
}

/// A stream whose request could not be read: why, and the code to refuse it with.
enum Refusal {
    /// Bad bytes or a timeout; reset with this code and log.
    Reject(WireCode, String),
    /// The stream went away on the peer's side; nothing to answer.
    Gone,
}

impl From<StreamReadError> for Refusal {
    fn from(e: StreamReadError) -> Self {
        match e {
            StreamReadError::Frame(f) => Refusal::Reject(f.code(), f.to_string()),
            StreamReadError::PeerReset(_) | StreamReadError::Io(_) => Refusal::Gone,
        }
    }
}

struct Request {
    header: StreamHeader,
    handler: Handler,
    body: AlignedVec,
    deadline: Option<Instant>,
}

/// Reads the header and the single request frame, within the read timeout.
async fn read_request(
    shared: &Shared,
    recv: &mut RecvStream,
    send: Option<&mut SendStream>,
) -> Result<Result<Request, (StreamHeader, ServiceError)>, Refusal> {
    let read_deadline = Instant::now() + shared.config.request_read_timeout;
    let header = timeout_at(read_deadline, framed::read_stream_header(recv))
        .await
        .map_err(|_| Refusal::Reject(codes::READ_TIMEOUT, "no stream header".into()))??;
    let expected_bi = header.kind != StreamKind::OneWay;
    if expected_bi != send.is_some() {
        let e = FrameError::Unexpected("stream kind does not match stream direction");
        return Err(Refusal::Reject(codes::MALFORMED_HEADER, e.to_string()));
    }
    let handler = match shared.router().get(header.service) {
        Some(h) if h.kind() == header.kind => h.clone(),
        Some(h) => {
            let msg = format!(
                "{} is a {:?} service, not {:?}",
                header.service,
                h.kind(),
                header.kind
            );
            return Ok(Err((
                header,
                ServiceError {
                    code: codes::WRONG_PATTERN,
                    message: msg,
                },
            )));
        }
        None => {
            let msg = format!("no handler for {}", header.service);
            return Ok(Err((
                header,
                ServiceError {
                    code: codes::UNKNOWN_SERVICE,
                    message: msg,
                },
            )));
        }
    };
    let max = shared.config.limits.for_kind(header.kind);
    // A bidi stream's caller keeps its side open for further messages.
    let single = header.kind != StreamKind::Bidi;
    let frame = timeout_at(read_deadline, async {
        let frame = framed::read_frame(recv, max).await?;
        if single {
            framed::expect_end(recv).await?;
        }
        Ok::<_, StreamReadError>(frame)
    })
    .await
    .map_err(|_| Refusal::Reject(codes::READ_TIMEOUT, "request not complete".into()))??;
    let body = match frame {
        Some((FrameTag::Message, body)) => body,
        Some((FrameTag::Error, _)) => {
            let e = FrameError::Unexpected("error frame in a request");
            return Err(Refusal::Reject(e.code(), e.to_string()));
        }
        None => {
            let e = FrameError::Unexpected("stream ended before the request");
            return Err(Refusal::Reject(e.code(), e.to_string()));
        }
    };
    inc(&shared.metrics.frames_received_total);
    let deadline = (header.deadline_ms > 0)
        .then(|| Instant::now() + std::time::Duration::from_millis(u64::from(header.deadline_ms)));
    Ok(Ok(Request {
        header,
        handler,
        body,
        deadline,
    }))
}

fn reject(
    shared: &Shared,
    peer: &MemberName,
    send: Option<&mut SendStream>,
    recv: &mut RecvStream,
    code: WireCode,
    reason: &str,
) {
    inc(&shared.metrics.streams_rejected_total);
    tracing::warn!(%peer, stream = %recv.id(), %code, reason, "refusing stream from peer");
    framed::refuse(send, Some(recv), code);
}

async fn write_error(shared: &Shared, send: &mut SendStream, error: &ServiceError) {
    let body = WireError {
        code: error.code.0,
        message: error.message.clone(),
    };
    if let Ok(bytes) = encode(&body) {
        if framed::write_frame(send, FrameTag::Error, &bytes)
            .await
            .is_ok()
        {
            inc(&shared.metrics.frames_sent_total);
        }
    }
    let _ = send.finish();
}

/// Waits until the caller gives up on a request a fault rule dropped, so it looks lost.
async fn hold_until_abandoned(send: &mut SendStream, deadline: Option<Instant>, shared: &Shared) {
    let until = deadline.unwrap_or_else(|| Instant::now() + shared.config.request_read_timeout);
    let _ = timeout_at(until, send.stopped()).await;
    let _ = send.reset(codes::CANCELLED.varint());
}

async fn serve_bi(
    shared: Arc<Shared>,
    peer: MemberName,
    mut send: SendStream,
    mut recv: RecvStream,
) {
    let request = match read_request(&shared, &mut recv, Some(&mut send)).await {
        Ok(Ok(r)) => r,
        Ok(Err((_, error))) => {
            let _ = recv.stop(error.code.varint());
            write_error(&shared, &mut send, &error).await;
            return;
        }
        Err(Refusal::Reject(code, reason)) => {
            return reject(&shared, &peer, Some(&mut send), &mut recv, code, &reason);
        }
        Err(Refusal::Gone) => return,
    };
    let service = request.header.service;
    let verdict = shared.verdict_receive(&peer, MessageKind::Request, service);
    if verdict.drop {
        return hold_until_abandoned(&mut send, request.deadline, &shared).await;
    }
    if !verdict.delay.is_zero() {
        tokio::time::sleep(verdict.delay).await;
    }
    let info = CallInfo {
        peer: peer.clone(),
        service,
        deadline: request.deadline,
    };
    match request.handler {
        Handler::Unary(f) => {
            let started = f(info.clone(), request.body);
            serve_unary(&shared, &peer, info, started, send, recv).await
        }
        Handler::Stream(f) => {
            let send = Arc::new(tokio::sync::Mutex::new(send));
            let sink = RawSink {
                send: send.clone(),
                shared: shared.clone(),
                peer: peer.clone(),
                service,
                max: shared.config.limits.for_kind(StreamKind::ServerStream),
            };
            let result = match f(info, request.body, sink) {
                Ok(fut) => fut.await,
                Err(e) => {
                    let mut send = send.lock().await;
                    return reject(
                        &shared,
                        &peer,
                        Some(&mut send),
                        &mut recv,
                        e.code(),
                        &e.to_string(),
                    );
                }
            };
            let mut send = send.lock().await;
            match result {
                Ok(()) => {
                    let _ = send.finish();
                }
                Err(e) => write_error(&shared, &mut send, &e).await,
            }
        }
        Handler::Bidi(f) => {
            let send = Arc::new(tokio::sync::Mutex::new(send));
            let max = shared.config.limits.for_kind(StreamKind::Bidi);
            let sink = RawSink {
                send: send.clone(),
                shared: shared.clone(),
                peer: peer.clone(),
                service,
                max,
            };
            let inbound = RawInbound {
                recv: Some(recv),
                shared: shared.clone(),
                peer: peer.clone(),
                service,
                max,
            };
            let result = match f(info, request.body, inbound, sink) {
                Ok(fut) => fut.await,
                Err(e) => {
                    // The inbound side was stopped when it was dropped with the call.
                    inc(&shared.metrics.streams_rejected_total);
                    tracing::warn!(%peer, %service, code = %e.code(), reason = %e, "refusing stream from peer");
                    framed::refuse(Some(&mut *send.lock().await), None, e.code());
                    return;
                }
            };
            let mut send = send.lock().await;
            match result {
                Ok(()) => {
                    let _ = send.finish();
                }
                Err(e) => write_error(&shared, &mut send, &e).await,
            }
        }
        Handler::OneWay(_) => {} // excluded by read_request: one-way never arrives on a bidi stream
    }
}

async fn serve_unary(
    shared: &Arc<Shared>,
    peer: &MemberName,
    info: CallInfo,
    started: Result<crate::service::BoxFuture<Result<AlignedVec, ServiceError>>, FrameError>,
    mut send: SendStream,
    mut recv: RecvStream,
) {
    let fut = match started {
        Ok(fut) => fut,
        Err(e) => {
            return reject(
                shared,
                peer,
                Some(&mut send),
                &mut recv,
                e.code(),
                &e.to_string(),
            )
        }
    };
    let result = match info.deadline {
        Some(deadline) => match timeout_at(deadline, fut).await {
            Ok(result) => result,
            Err(_) => {
                // The caller has stopped waiting; an answer would be wasted bytes.
                tracing::debug!(%peer, service = %info.service, "handler ran past the deadline");
                framed::refuse(Some(&mut send), Some(&mut recv), codes::DEADLINE_EXCEEDED);
                return;
            }
        },
        None => fut.await,
    };
    let body = match result {
        Ok(body) => body,
        Err(e) => return write_error(shared, &mut send, &e).await,
    };
    let verdict = shared.verdict_send(peer, MessageKind::Response, info.service);
    if verdict.drop {
        return hold_until_abandoned(&mut send, info.deadline, shared).await;
    }
    if !verdict.delay.is_zero() {
        tokio::time::sleep(verdict.delay).await;
    }
    if framed::write_frame(&mut send, FrameTag::Message, &body)
        .await
        .is_ok()
    {
        inc(&shared.metrics.frames_sent_total);
        let _ = send.finish();
    }
}

async fn serve_uni(shared: Arc<Shared>, peer: MemberName, mut recv: RecvStream) {
    let request = match read_request(&shared, &mut recv, None).await {
        Ok(Ok(r)) => r,
        Ok(Err((header, error))) => {
            let reason = error.message;
            tracing::warn!(%peer, service = %header.service, reason, "dropping one-way message");
            let _ = recv.stop(error.code.varint());
            return;
        }
        Err(Refusal::Reject(code, reason)) => {
            return reject(&shared, &peer, None, &mut recv, code, &reason);
        }
        Err(Refusal::Gone) => return,
    };
    let Handler::OneWay(f) = request.handler else {
        return; // excluded by read_request
    };
    let verdict = shared.verdict_receive(&peer, MessageKind::OneWay, request.header.service);
    if verdict.drop {
        return;
    }
    if !verdict.delay.is_zero() {
        tokio::time::sleep(verdict.delay).await;
    }
    let info = CallInfo {
        peer: peer.clone(),
        service: request.header.service,
        deadline: request.deadline,
    };
    for _ in 0..verdict.extra_copies {
        if let Ok(fut) = f(info.clone(), request.body.clone()) {
            fut.await;
        }
    }
    match f(info, request.body) {
        Ok(fut) => fut.await,
        Err(e) => reject(&shared, &peer, None, &mut recv, e.code(), &e.to_string()),
    }
}

/// The untyped side of a [`crate::StreamSink`]: writes item frames under QUIC flow
/// control and applies fault rules. The dispatcher keeps a handle to the stream so it can
/// finish it (or write an error frame) when the handler returns.
pub(crate) struct RawSink {
    send: Arc<tokio::sync::Mutex<SendStream>>,
    shared: Arc<Shared>,
    peer: MemberName,
    service: ServiceId,
    max: u32,
}

impl RawSink {
    pub(crate) fn peer(&self) -> &MemberName {
        &self.peer
    }

    pub(crate) async fn send_bytes(&mut self, body: &[u8]) -> Result<(), SinkError> {
        if body.len() > self.max as usize {
            return Err(SinkError::TooLarge {
                len: body.len(),
                max: self.max,
            });
        }
        let verdict = self
            .shared
            .verdict_send(&self.peer, MessageKind::StreamItem, self.service);
        if verdict.drop {
            return Ok(());
        }
        if !verdict.delay.is_zero() {
            tokio::time::sleep(verdict.delay).await;
        }
        let mut send = self.send.lock().await;
        for _ in 0..=verdict.extra_copies {
            framed::write_frame(&mut send, FrameTag::Message, body)
                .await
                .map_err(|e| SinkError::Closed(e.to_string()))?;
            inc(&self.shared.metrics.frames_sent_total);
        }
        Ok(())
    }
}

/// The untyped side of a [`crate::RequestStream`]: reads the caller's messages after the
/// opening request of a bidi stream, checking each frame's length before allocating.
/// Dropped before the caller finished, it stops the stream with [`codes::CANCELLED`].
pub(crate) struct RawInbound {
    recv: Option<RecvStream>,
    shared: Arc<Shared>,
    peer: MemberName,
    service: ServiceId,
    max: u32,
}

impl RawInbound {
    /// The next message body; `None` once the caller finished (or the stream ended).
    pub(crate) async fn next(&mut self) -> Option<Result<AlignedVec, FrameError>> {
        let recv = self.recv.as_mut()?;
        match framed::read_frame(recv, self.max).await {
            Ok(Some((FrameTag::Message, body))) => {
                inc(&self.shared.metrics.frames_received_total);
                Some(Ok(body))
            }
            Ok(Some((FrameTag::Error, _))) => {
                let e = FrameError::Unexpected("error frame in a request");
                self.refuse(&e);
                Some(Err(e))
            }
            Ok(None) => {
                self.recv = None;
                None
            }
            Err(StreamReadError::Frame(e)) => {
                self.refuse(&e);
                Some(Err(e))
            }
            // Reset or lost: the caller is gone, which is the end of its messages.
            Err(_) => {
                self.recv = None;
                None
            }
        }
    }

    /// Stops the stream for a malformed message and says so in the log.
    pub(crate) fn refuse(&mut self, e: &FrameError) {
        if let Some(mut recv) = self.recv.take() {
            inc(&self.shared.metrics.streams_rejected_total);
            tracing::warn!(peer = %self.peer, service = %self.service, code = %e.code(), error = %e, "refusing malformed message from peer");
            let _ = recv.stop(e.code().varint());
        }
    }
}

impl Drop for RawInbound {
    fn drop(&mut self) {
        if let Some(recv) = self.recv.as_mut() {
            let _ = recv.stop(codes::CANCELLED.varint());
        }
    }
}
