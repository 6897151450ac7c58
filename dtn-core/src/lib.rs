//! `dtn-core`: the Bundle Protocol v7 stack as a sans-I/O library.
//!
//! Everything here takes bytes and time as input and returns decisions; nothing touches a
//! socket, a file, a thread or the wall clock (apart from [`time::DtnTime::now`] under `std`).
//! The same code runs on a flight computer (`no_std + alloc`), in the ground gateway and many
//! times over in the simulator.
//!
//! | module | implements |
//! |---|---|
//! | [`cbor`] | the canonical CBOR subset of RFC 8949 that bundles use |
//! | [`crc`] | CRC-16/X.25 and CRC-32C block CRCs (RFC 9171 4.2.1) |
//! | [`time`] | DTN time and creation timestamps (RFC 9171 4.2.6-4.2.7) |
//! | [`eid`] | endpoint IDs, `dtn` and `ipn` incl. RFC 9758 |
//! | [`bundle`] | zero-copy bundle parser, builder, encoder and editor (RFC 9171 4) |
//! | [`fragment`] | fragmentation and reassembly (RFC 9171 5.8-5.9) |
//! | [`admin`] | administrative records: status reports (RFC 9171 6.1) |
//! | [`cla`] | convergence layers: TCPCLv4 codec and session (RFC 9174) |

#![cfg_attr(not(feature = "std"), no_std)]
#![forbid(unsafe_code)]
#![cfg_attr(not(test), deny(clippy::indexing_slicing))]
#![warn(missing_docs)]

extern crate alloc;

pub mod admin;
pub mod app;
pub mod bpa;
pub mod bpsec;
pub mod bundle;
pub mod cbor;
pub mod cla;
pub mod crc;
pub mod custody;
pub mod eid;
pub mod fragment;
pub mod parse_mode;
pub mod routing;
pub mod store;
pub mod time;

pub use bundle::{Bundle, BundleBuilder, BundleError};
pub use eid::Eid;
pub use parse_mode::ParseMode;
