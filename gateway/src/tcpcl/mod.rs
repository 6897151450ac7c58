//! TCPCLv4 (RFC 9174) over tokio: [`link::connect`] and [`link::accept`] drive a
//! `dtn-core` [`dtn_core::cla::tcpcl::Session`] over a TCP stream, with TLS 1.3 (rustls)
//! when both sides offer it and the peer's node ID checked against its certificate.

pub mod link;
pub mod tls;

pub use link::{LinkError, TcpclConfig, TcpclLink, accept, connect};
pub use tls::{NodeIdPolicy, TlsSetup};
