//! What the message layer asks the fault filters about, and what they answer.
//!
//! These small types exist with or without the `faults` feature so the send and receive
//! paths read the same either way; without the feature the answer is always
//! [`Verdict::PASS`], a constant the compiler folds away.

use std::time::Duration;

/// The kind of message a fault rule can select.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
pub enum MessageKind {
    /// The request of a unary call or a server stream.
    Request,
    /// The response of a unary call.
    Response,
    /// One item of a server stream.
    StreamItem,
    /// A one-way message.
    OneWay,
}

/// Where a rule applies: at the sender before the frame is written, or at the receiver
/// after the frame is read and validated.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, serde::Serialize)]
pub enum Stage {
    /// Before sending (the default).
    #[default]
    Send,
    /// After receiving.
    Receive,
}

/// What to do with one message.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Verdict {
    /// Do not deliver it.
    pub drop: bool,
    /// Hold it this long first.
    pub delay: Duration,
    /// Deliver this many extra copies.
    pub extra_copies: u32,
}

impl Verdict {
    /// Deliver once, now.
    pub const PASS: Verdict = Verdict {
        drop: false,
        delay: Duration::ZERO,
        extra_copies: 0,
    };
}
