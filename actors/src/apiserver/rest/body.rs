//! Request bodies read to their end before an HTTP/2 answer goes out.
//!
//! Over HTTP/2, actix-http (with `h2` 0.3) loses an answer given before the request
//! body was read: when the handler drops an unread body and then the response stream,
//! the stream is reset with the response still queued, and the client sees the stream
//! close with no status at all. The edge answers early on purpose — 401 before
//! reading a body, 429 under overload, 413 as soon as a body passes 3 MiB — so this
//! outermost middleware hands the request a body that it still owns, and once the
//! answer is ready reads whatever the handler left (at most [`DRAIN_LIMIT`]; a client
//! that sends more than that has its stream reset, as Kubernetes' server would close
//! it). HTTP/1.1 requests pass through untouched.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::Version;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::Error;
use futures::Stream;

/// The most of an unread body read (and dropped) after the answer is ready.
pub const DRAIN_LIMIT: usize = 2 * super::MAX_BODY_BYTES;

/// The body, shared between the handler (which reads it through [`Shared`]) and the
/// middleware (which reads the rest).
type Cell = Rc<RefCell<Payload>>;

/// The handler's view of a body the middleware keeps.
struct Shared(Cell);

impl Stream for Shared {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut payload = self.0.borrow_mut();
        Pin::new(&mut *payload).poll_next(cx)
    }
}

/// Reads what is left of `body`, up to [`DRAIN_LIMIT`] bytes.
async fn drain(body: &Cell) {
    let mut left = DRAIN_LIMIT;
    loop {
        let next = std::future::poll_fn(|cx| Pin::new(&mut *body.borrow_mut()).poll_next(cx));
        match next.await {
            Some(Ok(chunk)) if chunk.len() <= left => left -= chunk.len(),
            _ => return,
        }
    }
}

/// The middleware (see the module's documentation).
pub async fn complete(
    mut req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    if req.version() != Version::HTTP_2 {
        return next.call(req).await;
    }
    let (_, payload) = req.parts_mut();
    let body: Cell = Rc::new(RefCell::new(payload.take()));
    let shared: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> =
        Box::pin(Shared(body.clone()));
    req.set_payload(Payload::from(shared));
    let response = next.call(req).await;
    drain(&body).await;
    response
}
