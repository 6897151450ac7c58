//! The link model: pure functions of the contact plan, a seeded RNG and time. No I/O, no clock.

pub mod burst;
pub mod link;
pub mod loss;
pub mod rng;
