//! `link-sim`: the space-link model behind both the deterministic constellation simulator and
//! the real-time loopback proxy.
//!
//! This release holds the first piece of the pure link model, [`model::loss`]: frame loss from
//! a bit-error rate. The simulator (`sim`) and proxy (`proxy`) arrive with their issue and drive
//! this same model.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod model;
