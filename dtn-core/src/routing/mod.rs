//! Contact Graph Routing (CCSDS 734.3-B-1 "SABR") over scheduled contacts.
//!
//! A [`ContactPlan`] holds every contact (from, to, start, end, rate, light time, confidence),
//! indexed per sending node. [`search`] finds the earliest arrival of a bundle of a given size,
//! counting transmission time, light time, contact end and residual volume, with the fewest
//! hops among the earliest routes. Time is integer nanoseconds ([`PlanTime`]), volumes are
//! 64-bit byte counts with 128-bit intermediates.

pub mod contact;
pub mod parse;
pub mod plan;
pub mod router;
pub mod search;
pub mod time;

pub use contact::{Contact, ContactId, NodeId};
pub use plan::ContactPlan;
pub use router::{CgrRouter, Forwarding, NoRoute, Priority, RouteRequest, Router, StaticRouter};
pub use search::{Route, RouteQuery};
pub use time::PlanTime;
