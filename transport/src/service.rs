//! Typed services: a service declares its id and message types once ([`Service`]); a
//! [`Router`] maps service ids to handlers for one of four patterns (unary, server
//! stream, bidi stream, one-way); handlers get a validated [`Call`] and, for streams, a
//! [`StreamSink`] (and, for a bidi stream, the caller's further messages as a
//! [`RequestStream`]).

use std::{collections::HashMap, future::Future, marker::PhantomData, pin::Pin, sync::Arc};

use rkyv::{util::AlignedVec, Archived};
use thiserror::Error;
use tokio::time::Instant;

use crate::{
    codes::{self, WireCode},
    dispatch::{RawInbound, RawSink},
    frame::{FrameError, ServiceId, StreamKind},
    identity::MemberName,
    wire::{encode, Encoded, Received, Wire},
};

/// A service: its wire id and name, and the types of its request and response. For a
/// server stream the response is the item type; for a one-way message it is unused (`()`).
/// See the crate documentation for a complete example.
pub trait Service: Send + Sync + 'static {
    /// Human-readable name, for logs.
    const NAME: &'static str;
    /// The id carried in stream headers; unique per process.
    const ID: ServiceId;
    /// What the caller sends.
    type Request: Wire;
    /// What the handler answers (each item, for a server stream).
    type Response: Wire;
}

/// A handler's failure, sent to the caller as an error frame.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[error("{code}: {message}")]
pub struct ServiceError {
    /// A stable code: a [`codes`] constant or a service code at or above [`codes::APP_BASE`].
    pub code: WireCode,
    /// What went wrong.
    pub message: String,
}

impl ServiceError {
    /// A service-specific error; `code` is added to [`codes::APP_BASE`].
    pub fn app(code: u32, message: impl Into<String>) -> Self {
        ServiceError {
            code: WireCode(codes::APP_BASE.0.saturating_add(code)),
            message: message.into(),
        }
    }

    /// A failure with no more specific code.
    pub fn internal(message: impl Into<String>) -> Self {
        ServiceError {
            code: codes::HANDLER_FAILED,
            message: message.into(),
        }
    }
}

impl From<SinkError> for ServiceError {
    fn from(e: SinkError) -> Self {
        ServiceError::internal(e.to_string())
    }
}

impl From<FrameError> for ServiceError {
    fn from(e: FrameError) -> Self {
        ServiceError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

/// Who called, which service, and by when the caller wants an answer.
#[derive(Clone, Debug)]
pub struct CallInfo {
    /// The caller's verified member name.
    pub peer: MemberName,
    /// The service addressed.
    pub service: ServiceId,
    /// When the caller stops waiting, if it said.
    pub deadline: Option<Instant>,
}

/// An incoming request for service `S`, already validated.
pub struct Call<S: Service> {
    info: CallInfo,
    request: Received<S::Request>,
}

impl<S: Service> Call<S> {
    /// The caller's verified member name.
    pub fn peer(&self) -> &MemberName {
        &self.info.peer
    }

    /// When the caller stops waiting, if it said.
    pub fn deadline(&self) -> Option<Instant> {
        self.info.deadline
    }

    /// The archived request, read in place.
    pub fn request(&self) -> &Archived<S::Request> {
        self.request.get()
    }

    /// The validated request buffer.
    pub fn received(&self) -> &Received<S::Request> {
        &self.request
    }

    /// Who called and when they stop waiting.
    pub fn info(&self) -> &CallInfo {
        &self.info
    }
}

/// Sending a stream item failed.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum SinkError {
    /// The caller stopped reading or the connection closed; stop producing.
    #[error("stream closed by the caller: {0}")]
    Closed(String),
    /// The item could not be encoded.
    #[error(transparent)]
    Encode(#[from] FrameError),
    /// The item is larger than the stream's frame limit.
    #[error("item of {len} bytes exceeds the frame limit of {max}")]
    TooLarge {
        /// Encoded item size.
        len: usize,
        /// The limit.
        max: u32,
    },
}

/// Where a server-stream handler sends its items. `send` waits while the caller's QUIC
/// flow-control window is full, so a slow reader slows the producer instead of growing a
/// buffer.
pub struct StreamSink<T> {
    raw: RawSink,
    _type: PhantomData<fn(T)>,
}

impl<T: Wire> StreamSink<T> {
    pub(crate) fn new(raw: RawSink) -> Self {
        StreamSink {
            raw,
            _type: PhantomData,
        }
    }

    /// Encodes and sends one item.
    pub async fn send(&mut self, item: &T) -> Result<(), SinkError> {
        let bytes = encode(item)?;
        self.raw.send_bytes(&bytes).await
    }

    /// Sends an item encoded once elsewhere (e.g. one watch event for many watchers).
    pub async fn send_encoded(&mut self, item: &Encoded<T>) -> Result<(), SinkError> {
        self.raw.send_bytes(item.bytes()).await
    }

    /// The caller's member name.
    pub fn peer(&self) -> &MemberName {
        self.raw.peer()
    }
}

/// The caller's messages after the opening request of a bidi stream, validated one by
/// one as they are read. Reading nothing holds the caller back through QUIC flow control.
pub struct RequestStream<T> {
    raw: RawInbound,
    _type: PhantomData<fn() -> T>,
}

impl<T: Wire> RequestStream<T> {
    pub(crate) fn new(raw: RawInbound) -> Self {
        RequestStream {
            raw,
            _type: PhantomData,
        }
    }

    /// The next message; `None` once the caller finished its side of the stream. A
    /// malformed message ends the stream (it is stopped with the error's code).
    pub async fn next(&mut self) -> Option<Result<Received<T>, FrameError>> {
        match self.raw.next().await? {
            Ok(body) => Some(Received::new(body).inspect_err(|e| self.raw.refuse(e))),
            Err(e) => Some(Err(e)),
        }
    }
}

pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

type UnaryFn = dyn Fn(CallInfo, AlignedVec) -> Result<BoxFuture<Result<AlignedVec, ServiceError>>, FrameError>
    + Send
    + Sync;
type StreamFn = dyn Fn(CallInfo, AlignedVec, RawSink) -> Result<BoxFuture<Result<(), ServiceError>>, FrameError>
    + Send
    + Sync;
type BidiFn = dyn Fn(
        CallInfo,
        AlignedVec,
        RawInbound,
        RawSink,
    ) -> Result<BoxFuture<Result<(), ServiceError>>, FrameError>
    + Send
    + Sync;
type OneWayFn = dyn Fn(CallInfo, AlignedVec) -> Result<BoxFuture<()>, FrameError> + Send + Sync;

/// A registered handler with its type erased; invoking it validates the request first.
#[derive(Clone)]
pub(crate) enum Handler {
    Unary(Arc<UnaryFn>),
    Stream(Arc<StreamFn>),
    Bidi(Arc<BidiFn>),
    OneWay(Arc<OneWayFn>),
}

impl Handler {
    pub(crate) fn kind(&self) -> StreamKind {
        match self {
            Handler::Unary(_) => StreamKind::Unary,
            Handler::Stream(_) => StreamKind::ServerStream,
            Handler::Bidi(_) => StreamKind::Bidi,
            Handler::OneWay(_) => StreamKind::OneWay,
        }
    }
}

/// The server side's handler registry, keyed by service id.
#[derive(Clone, Default)]
pub struct Router {
    pub(crate) handlers: HashMap<ServiceId, (&'static str, Handler)>,
}

impl std::fmt::Debug for Router {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self
            .handlers
            .iter()
            .map(|(id, (n, _))| (id.0, *n))
            .collect();
        names.sort();
        f.debug_struct("Router").field("services", &names).finish()
    }
}

impl Router {
    /// An empty router.
    pub fn new() -> Self {
        Self::default()
    }

    #[track_caller]
    fn insert<S: Service>(&mut self, handler: Handler) {
        if let Some((existing, _)) = self.handlers.insert(S::ID, (S::NAME, handler)) {
            panic!(
                "service id {} registered twice ({existing} and {})",
                S::ID,
                S::NAME
            );
        }
    }

    /// Registers a unary handler for `S`: one request in, one response out.
    ///
    /// # Panics
    /// If a handler for `S::ID` is already registered (a startup wiring bug).
    #[track_caller]
    pub fn unary<S, F, Fut>(mut self, handler: F) -> Self
    where
        S: Service,
        F: Fn(Call<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<S::Response, ServiceError>> + Send + 'static,
    {
        let erased: Arc<UnaryFn> = Arc::new(move |info, body| {
            let call = Call::<S> {
                info,
                request: Received::new(body)?,
            };
            let fut = handler(call);
            Ok(Box::pin(async move {
                let response = fut.await?;
                encode(&response).map_err(ServiceError::from)
            }) as BoxFuture<_>)
        });
        self.insert::<S>(Handler::Unary(erased));
        self
    }

    /// Registers a server-stream handler for `S`: one request in, items out through the
    /// sink until the handler returns.
    ///
    /// # Panics
    /// If a handler for `S::ID` is already registered.
    #[track_caller]
    pub fn server_stream<S, F, Fut>(mut self, handler: F) -> Self
    where
        S: Service,
        F: Fn(Call<S>, StreamSink<S::Response>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), ServiceError>> + Send + 'static,
    {
        let erased: Arc<StreamFn> = Arc::new(move |info, body, raw| {
            let call = Call::<S> {
                info,
                request: Received::new(body)?,
            };
            Ok(Box::pin(handler(call, StreamSink::new(raw))) as BoxFuture<_>)
        });
        self.insert::<S>(Handler::Stream(erased));
        self
    }

    /// Registers a bidi-stream handler for `S`: an opening request, then the caller's
    /// further messages (of the same type) through the [`RequestStream`] and items out
    /// through the sink, until the handler returns.
    ///
    /// # Panics
    /// If a handler for `S::ID` is already registered.
    #[track_caller]
    pub fn bidi_stream<S, F, Fut>(mut self, handler: F) -> Self
    where
        S: Service,
        F: Fn(Call<S>, RequestStream<S::Request>, StreamSink<S::Response>) -> Fut
            + Send
            + Sync
            + 'static,
        Fut: Future<Output = Result<(), ServiceError>> + Send + 'static,
    {
        let erased: Arc<BidiFn> = Arc::new(move |info, body, inbound, raw| {
            let call = Call::<S> {
                info,
                request: Received::new(body)?,
            };
            let fut = handler(call, RequestStream::new(inbound), StreamSink::new(raw));
            Ok(Box::pin(fut) as BoxFuture<_>)
        });
        self.insert::<S>(Handler::Bidi(erased));
        self
    }

    /// Registers a one-way handler for `S`: messages in, nothing out.
    ///
    /// # Panics
    /// If a handler for `S::ID` is already registered.
    #[track_caller]
    pub fn one_way<S, F, Fut>(mut self, handler: F) -> Self
    where
        S: Service,
        F: Fn(Call<S>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let erased: Arc<OneWayFn> = Arc::new(move |info, body| {
            let call = Call::<S> {
                info,
                request: Received::new(body)?,
            };
            Ok(Box::pin(handler(call)) as BoxFuture<_>)
        });
        self.insert::<S>(Handler::OneWay(erased));
        self
    }

    /// Adds every handler of `other`.
    ///
    /// # Panics
    /// If both routers register the same service id.
    #[track_caller]
    pub fn merge(mut self, other: Router) -> Self {
        for (id, (name, handler)) in other.handlers {
            if let Some((existing, _)) = self.handlers.insert(id, (name, handler)) {
                panic!("service id {id} registered twice ({existing} and {name})");
            }
        }
        self
    }

    pub(crate) fn get(&self, id: ServiceId) -> Option<&Handler> {
        self.handlers.get(&id).map(|(_, h)| h)
    }
}
