//! `link-sim`: the space-link model behind both the deterministic constellation simulator and
//! the real-time loopback proxy.
//!
//! This release holds the pure link model ([`model`]): per-link seeded random streams, loss from
//! bit-error rate, flat and Gilbert–Elliott burst loss, and a directed [`model::link::Link`] with
//! contact windows, rate, light time varying over a pass, acquisition lag, a finite buffer and
//! missed passes. The simulator (`sim`) and proxy (`proxy`) drive this same model.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod model;
pub mod sim;
