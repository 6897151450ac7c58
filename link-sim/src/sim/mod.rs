//! Deterministic discrete-event simulation in virtual time: one `dtn-core` agent per node,
//! frames carried between them by the [`crate::model`] links, events ordered by time and then
//! by the order they were scheduled. The same inputs and seed give the same run, event for
//! event; the trace hash says so in 64 bits.

mod figures;
pub mod ledger;
pub mod liveness;
pub mod ltp;
pub mod plot;
mod run;
pub mod scenario;
pub mod security;
mod world;
mod world_ltp;

pub use run::{Outcome, run};
pub use world::{AcceptedRecord, DeliveryRecord, LatePass, SimConfig, TxRecord, World};
