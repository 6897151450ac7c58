//! LTP, the Licklider Transmission Protocol (RFC 5326, as CCSDS 734.1-B-1 profiles it for
//! space links), sans-I/O: the convergence layer for links with long light time, loss and
//! scheduled contacts, where TCP-based layers stall.
//!
//! - [`sdnv`]: the numeric encoding every field uses.
//! - [`segment`]: the segment codec, checked against hostile input.
//! - [`engine`]: sessions, checkpoints, reports, retransmission, cancellation, with timers
//!   that stop while the link is down; limits on sessions and memory.
//! - [`config`]: engine and span settings.
//! - [`bp`]: the client service for the Bundle Protocol: bundles aggregated into blocks.
//!
//! The engine has no socket and no clock: a host (the gateway over UDP, the simulator over
//! its link model) moves datagrams and time.

pub mod bp;
pub mod config;
pub mod engine;
pub mod ranges;
pub mod sdnv;
pub mod segment;

mod clock;
mod export;
mod import;
mod ingress;

#[cfg(test)]
mod codec_tests;
#[cfg(test)]
mod tests;

pub use config::{EngineConfig, SpanConfig};
pub use engine::{Engine, Event, IngressError, SendError, SpanStats};

/// A session's identity: the engine that originated it (the block sender) and its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SessionId {
    /// The sending engine's ID.
    pub originator: u64,
    /// The number the sender gave the session.
    pub number: u64,
}
