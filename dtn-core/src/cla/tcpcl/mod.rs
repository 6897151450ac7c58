//! TCPCLv4 (RFC 9174): the message codec ([`msg`]) and the session state machine
//! ([`session`]).
//!
//! The session does everything but I/O and TLS: contact-header exchange (and whether TLS is
//! to be used: the host runs the handshake and then says so), SESS_INIT negotiation, bundle
//! transfers cut into segments no larger than the peer's segment MRU, per-segment
//! acknowledgements, XFER_REFUSE, keepalives and idle timeout, SESS_TERM in both directions and
//! MSG_REJECT for what it cannot take. Bytes may arrive split anywhere.

pub mod msg;
pub mod session;

pub use msg::{
    ContactHeader, DecodeError, EXT_TRANSFER_LENGTH, ExtItem, Limits, Message, RefuseReason, RejectReason,
    SegmentFlags, SessInit, TermReason, frame_len,
};
pub use session::{Role, Session, SessionConfig, SessionError, SessionEvent};

#[cfg(test)]
mod tests;
