//! `link-sim`: the space-link model behind both the deterministic constellation simulator and
//! the real-time loopback proxy.
//!
//! - [`model`]: the pure link model: per-link seeded random streams, loss from bit-error rate,
//!   flat and Gilbert–Elliott burst loss, and a directed [`model::link::Link`] with contact
//!   windows, rate, light time varying over a pass, acquisition lag, a finite buffer and
//!   missed passes.
//! - [`sim`]: the discrete-event simulator in virtual time, one `dtn-core` agent per node over
//!   that model, with TOML scenarios, disruptions and invariant oracles.
//! - [`proxy`]: the same model applied in real time to a live TCP stream or UDP datagrams.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod model;
pub mod proxy;
pub mod sim;
