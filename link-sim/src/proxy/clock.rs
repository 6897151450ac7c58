//! The proxy's clock: wall time mapped onto the contact plan's time, optionally sped up.

use std::time::{Duration, Instant};

use dtn_core::routing::PlanTime;

/// Plan time runs `scale` times as fast as the wall clock, from `start` at `origin`.
#[derive(Debug, Clone, Copy)]
pub struct PlanClock {
    origin: Instant,
    start: PlanTime,
    scale: f64,
}

impl PlanClock {
    /// Plan time `start` now, running `scale` times as fast as the wall clock (`scale > 0`; a
    /// non-positive or non-finite scale is taken as 1).
    pub fn new(start: PlanTime, scale: f64) -> Self {
        Self::starting_at(Instant::now(), start, scale)
    }

    /// Plan time `start` at wall instant `origin`.
    pub fn starting_at(origin: Instant, start: PlanTime, scale: f64) -> Self {
        let scale = if scale.is_finite() && scale > 0.0 { scale } else { 1.0 };
        PlanClock { origin, start, scale }
    }

    /// How many plan seconds pass per wall second.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Plan time now.
    pub fn now(&self) -> PlanTime {
        self.plan_at(Instant::now())
    }

    /// Plan time at a wall instant (instants before the origin map to the start).
    pub fn plan_at(&self, wall: Instant) -> PlanTime {
        let elapsed = wall.saturating_duration_since(self.origin).as_nanos() as f64;
        self.start.plus((elapsed * self.scale) as i64)
    }

    /// The wall instant at which the plan reaches `t` (the origin for times before the start).
    pub fn wall_at(&self, t: PlanTime) -> Instant {
        let ahead = (t.0.saturating_sub(self.start.0)).max(0) as f64 / self.scale;
        self.origin + Duration::from_nanos(ahead as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn maps_both_ways_at_scale() {
        let origin = Instant::now();
        let clock = PlanClock::starting_at(origin, PlanTime::from_secs(100), 10.0);
        assert_eq!(clock.plan_at(origin + Duration::from_secs(2)), PlanTime::from_secs(120));
        assert_eq!(clock.wall_at(PlanTime::from_secs(150)), origin + Duration::from_secs(5));
        assert_eq!(clock.wall_at(PlanTime::from_secs(50)), origin, "the past maps to the origin");
        assert_eq!(PlanClock::starting_at(origin, PlanTime(0), -3.0).scale(), 1.0);
    }
}
