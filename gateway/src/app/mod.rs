//! The application bridge (docs/app-protocol.md): ground applications reach a gateway over
//! QUIC with mutual TLS. `server` is the gateway's side, `client` the applications' (and the
//! `dtn send | recv | ping | status` tools').

pub mod client;
pub mod server;
pub mod submit;
pub mod wire;
