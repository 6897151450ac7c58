//! The ground-station gateway: convergence layers driven by tokio around `dtn-core`.

pub mod mtcp;
pub mod store;
pub mod tcpcl;
