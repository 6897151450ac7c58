//! The link model: pure functions of the contact plan, a seeded RNG and time. No I/O, no clock.

pub mod loss;
