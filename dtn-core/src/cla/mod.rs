//! Convergence-layer protocols, sans-I/O: each takes the bytes a connection delivered and
//! returns the bytes to send and what happened, and the host owns the socket and the clock.
//!
//! - [`tcpcl`]: TCPCLv4 (RFC 9174): message codec and session state machine.
//! - [`mtcp`]: MTCP framing (one CBOR byte string per bundle).
//! - [`ltp`]: LTP (RFC 5326): segment codec and engine for space links.

pub mod ltp;
pub mod mtcp;
pub mod tcpcl;
