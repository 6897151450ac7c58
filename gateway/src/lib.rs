//! The ground-station gateway: convergence layers driven by tokio around `dtn-core`, the
//! crash-safe store, and the daemon that ties them to one agent.

pub mod app;
pub mod bpsec_ring;
pub mod budget;
pub mod daemon;
pub mod loadgen;
pub mod logstore;
pub mod ltp;
pub mod mtcp;
pub mod plan_file;
pub mod quic;
pub mod store;
pub mod tcpcl;
