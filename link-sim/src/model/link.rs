//! One directed space link: its contact windows, rate, light time over a pass, acquisition lag,
//! finite buffer and losses. Time is the contact plan's clock ([`PlanTime`], nanoseconds).

use std::collections::BTreeMap;

use dtn_core::routing::parse::csv::OwltColumn;
use dtn_core::routing::parse::{ImportPolicy, PlanError, csv};
use dtn_core::routing::time::transmission_nanos;
use dtn_core::routing::{NodeId, PlanTime};

use super::burst::{BurstState, GilbertElliott};
use super::loss::FrameLoss;
use super::rng::LinkRng;

/// One contact of the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// Start of the contact.
    pub start: PlanTime,
    /// End of the contact.
    pub end: PlanTime,
    /// Bytes per second (0: unlimited).
    pub rate_bytes_per_sec: u64,
    /// Shortest one-way light time during the pass (at closest approach), ns.
    pub owlt_min_nanos: i64,
    /// Longest one-way light time during the pass (at its edges), ns.
    pub owlt_max_nanos: i64,
}

impl Window {
    /// The routing contact `from → to` for this window, planned with light time `owlt_nanos`.
    pub fn contact(&self, from: NodeId, to: NodeId, owlt_nanos: i64) -> dtn_core::routing::Contact {
        dtn_core::routing::Contact {
            from,
            to,
            start: self.start,
            end: self.end,
            rate_bytes_per_sec: self.rate_bytes_per_sec,
            owlt_nanos,
            confidence: 1.0,
        }
    }

    /// Light time at `t`: longest at the edges of the pass, shortest at its middle, linear in
    /// between (a LEO pass closes and opens its range roughly so).
    pub fn owlt_at(&self, t: PlanTime) -> i64 {
        let span = (self.end.0 - self.start.0).max(1) as f64;
        let x = ((t.0 - self.start.0) as f64 / span).clamp(0.0, 1.0);
        let towards_middle = 1.0 - (2.0 * x - 1.0).abs();
        let delta = (self.owlt_max_nanos - self.owlt_min_nanos) as f64;
        self.owlt_max_nanos - (delta * towards_middle).round() as i64
    }
}

/// What the channel does besides delaying.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Impairments {
    /// Time after a contact starts before frames get through (pointing, lock), ns.
    pub acquisition_lag_nanos: i64,
    /// Bytes the sender's link buffer holds; a frame that does not fit is dropped.
    pub buffer_bytes: u64,
    /// Independent losses (bit errors by frame size, flat).
    pub loss: FrameLoss,
    /// Burst losses on top.
    pub burst: Option<GilbertElliott>,
    /// Light time varies over a pass between the plan's minimum and maximum; when false it is
    /// the maximum throughout (what routing plans with).
    pub varying_light_time: bool,
}

impl Default for Impairments {
    fn default() -> Self {
        Impairments {
            acquisition_lag_nanos: 0,
            buffer_bytes: u64::MAX,
            loss: FrameLoss::NONE,
            burst: None,
            varying_light_time: true,
        }
    }
}

/// What happens to a frame handed to the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fate {
    /// It reaches the far end at this time.
    Arrives(PlanTime),
    /// It is sent (occupying the link until `sent`) but lost on the way.
    Lost {
        /// When its last bit left.
        sent: PlanTime,
    },
    /// The link buffer was full.
    BufferFull,
    /// No remaining contact can carry it.
    NoContact,
}

/// A directed link `from → to` and its state.
#[derive(Debug, Clone)]
pub struct Link {
    /// Sending node.
    pub from: NodeId,
    /// Receiving node.
    pub to: NodeId,
    windows: Vec<Window>,
    missed: Vec<bool>,
    impairments: Impairments,
    rng: LinkRng,
    burst: BurstState,
    busy_until: PlanTime,
}

impl Link {
    /// A link with its windows (any order) and a random stream for run `seed`.
    pub fn new(from: NodeId, to: NodeId, mut windows: Vec<Window>, impairments: Impairments, seed: u64) -> Self {
        windows.sort_by_key(|w| (w.start, w.end));
        let missed = vec![false; windows.len()];
        Link {
            from,
            to,
            windows,
            missed,
            impairments,
            rng: LinkRng::for_link(seed, from, to),
            burst: BurstState::default(),
            busy_until: PlanTime(i64::MIN),
        }
    }

    /// The contact windows, in start order.
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }

    /// Takes a pass out (a scripted disruption): nothing gets through during it.
    pub fn miss_pass(&mut self, index: usize) {
        if let Some(m) = self.missed.get_mut(index) {
            *m = true;
        }
    }

    /// The time after a window opens before frames get through.
    pub fn acquisition_lag_nanos(&self) -> i64 {
        self.impairments.acquisition_lag_nanos
    }

    /// The window open at `t` (after acquisition), if any.
    pub fn open_at(&self, t: PlanTime) -> Option<&Window> {
        let lag = self.impairments.acquisition_lag_nanos;
        self.windows
            .iter()
            .zip(&self.missed)
            .find(|(w, missed)| !**missed && w.start.plus(lag) <= t && t < w.end)
            .map(|(w, _)| w)
    }

    /// Hands a frame of `bytes` to the link at `now`: when (and whether) it arrives. A frame
    /// handed over outside a contact waits in the buffer for the next one that can carry it.
    pub fn send(&mut self, now: PlanTime, bytes: u64) -> Fate {
        self.send_from(now, bytes, false)
    }

    /// [`Self::send`] for a radio without store: only the contact open at `now` may carry the
    /// frame ([`Fate::NoContact`] if none is open, or the frame cannot leave before it ends).
    pub fn send_now(&mut self, now: PlanTime, bytes: u64) -> Fate {
        if self.open_at(now).is_none() {
            return Fate::NoContact;
        }
        self.send_from(now, bytes, true)
    }

    /// When the frames handed over so far have all left.
    pub fn busy_until(&self) -> PlanTime {
        self.busy_until
    }

    fn send_from(&mut self, now: PlanTime, bytes: u64, this_window_only: bool) -> Fate {
        let lag = self.impairments.acquisition_lag_nanos;
        // Bytes still waiting to be serialised, at the current window's rate.
        let backlog_nanos = self.busy_until.0.saturating_sub(now.0).max(0);
        let rate = self.open_at(now).map_or(0, |w| w.rate_bytes_per_sec);
        let backlog_bytes = if rate == 0 { 0 } else { (backlog_nanos as u128 * rate as u128 / 1_000_000_000) as u64 };
        if backlog_bytes.saturating_add(bytes) > self.impairments.buffer_bytes {
            return Fate::BufferFull;
        }
        let earliest = now.max(self.busy_until);
        for (w, missed) in self.windows.iter().zip(&self.missed) {
            if *missed || w.end <= earliest {
                continue;
            }
            let start = earliest.max(w.start.plus(lag));
            let done = start.plus(transmission_nanos(bytes, w.rate_bytes_per_sec));
            if done > w.end {
                if this_window_only {
                    return Fate::NoContact;
                }
                continue;
            }
            self.busy_until = done;
            let owlt = if self.impairments.varying_light_time { w.owlt_at(done) } else { w.owlt_max_nanos };
            let arrival = done.plus(owlt);
            return if self.lost(bytes) { Fate::Lost { sent: done } } else { Fate::Arrives(arrival) };
        }
        Fate::NoContact
    }

    fn lost(&mut self, bytes: u64) -> bool {
        let independent = self.impairments.loss.is_lost(bytes, self.rng.uniform());
        let burst = match &self.impairments.burst {
            Some(model) => {
                let (a, b) = (self.rng.uniform(), self.rng.uniform());
                self.burst.step(model, a, b)
            }
            None => false,
        };
        independent || burst
    }
}

/// Every directed link of a CSV plan with its light-time range, keyed by (from, to).
pub fn windows_from_csv(text: &str) -> Result<BTreeMap<(NodeId, NodeId), Vec<Window>>, PlanError> {
    let min = csv::parse(text, OwltColumn::Min, ImportPolicy::Reject)?.plan;
    let max = csv::parse(text, OwltColumn::Max, ImportPolicy::Reject)?.plan;
    let mut links: BTreeMap<(NodeId, NodeId), Vec<Window>> = BTreeMap::new();
    for (lo, hi) in min.contacts().iter().zip(max.contacts()) {
        links.entry((lo.from, lo.to)).or_default().push(Window {
            start: lo.start,
            end: lo.end,
            rate_bytes_per_sec: lo.rate_bytes_per_sec,
            owlt_min_nanos: lo.owlt_nanos,
            owlt_max_nanos: hi.owlt_nanos,
        });
    }
    Ok(links)
}

/// Every directed link of an ION `.rc` plan (`a contact` and `a range` lines); the light time
/// is the range's, the same throughout a pass.
pub fn windows_from_ionrc(text: &str) -> Result<BTreeMap<(NodeId, NodeId), Vec<Window>>, PlanError> {
    let plan = dtn_core::routing::parse::ion::parse(text, ImportPolicy::Reject)?.plan;
    let mut links: BTreeMap<(NodeId, NodeId), Vec<Window>> = BTreeMap::new();
    for c in plan.contacts() {
        links.entry((c.from, c.to)).or_default().push(Window {
            start: c.start,
            end: c.end,
            rate_bytes_per_sec: c.rate_bytes_per_sec,
            owlt_min_nanos: c.owlt_nanos,
            owlt_max_nanos: c.owlt_nanos,
        });
    }
    Ok(links)
}

/// A plan in our CSV format (recognised by its header) or ION's `.rc`.
pub fn windows_from_plan_text(text: &str) -> Result<BTreeMap<(NodeId, NodeId), Vec<Window>>, PlanError> {
    let first = text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("");
    if first == csv::HEADER { windows_from_csv(text) } else { windows_from_ionrc(text) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn window(start: i64, end: i64, rate: u64) -> Window {
        Window {
            start: PlanTime::from_secs(start),
            end: PlanTime::from_secs(end),
            rate_bytes_per_sec: rate,
            owlt_min_nanos: 10_000_000,
            owlt_max_nanos: 30_000_000,
        }
    }

    fn link(windows: Vec<Window>, impairments: Impairments) -> Link {
        Link::new(1, 2, windows, impairments, 42)
    }

    #[test]
    fn light_time_is_longest_at_the_edges_of_a_pass() {
        let w = window(0, 100, 1000);
        assert_eq!(w.owlt_at(PlanTime::from_secs(0)), 30_000_000);
        assert_eq!(w.owlt_at(PlanTime::from_secs(50)), 10_000_000);
        assert_eq!(w.owlt_at(PlanTime::from_secs(25)), 20_000_000);
        assert_eq!(w.owlt_at(PlanTime::from_secs(100)), 30_000_000);
    }

    #[test]
    fn frames_are_serialised_at_the_rate_and_delayed_by_light_time() {
        let mut l = link(vec![window(0, 100, 1000)], Impairments::default());
        // 500 bytes at 1000 B/s: 0.5 s on the wire, then the light time at 0.5 s.
        let Fate::Arrives(t) = l.send(PlanTime::from_secs(0), 500) else { panic!() };
        let w = l.windows()[0];
        assert_eq!(t, PlanTime(S / 2).plus(w.owlt_at(PlanTime(S / 2))));
        // The next frame queues behind the first.
        let Fate::Arrives(t2) = l.send(PlanTime::from_secs(0), 500) else { panic!() };
        assert!(t2 >= PlanTime(S).plus(w.owlt_min_nanos));
    }

    #[test]
    fn nothing_passes_outside_contacts_or_before_acquisition() {
        let impairments = Impairments { acquisition_lag_nanos: 5 * S, ..Impairments::default() };
        let mut l = link(vec![window(10, 20, 1000)], impairments);
        let Fate::Arrives(t) = l.send(PlanTime::from_secs(0), 100) else { panic!() };
        assert!(t >= PlanTime::from_secs(15), "waits for the window and the acquisition lag");
        assert!(l.open_at(PlanTime::from_secs(12)).is_none());
        assert!(l.open_at(PlanTime::from_secs(16)).is_some());
        assert_eq!(l.send(PlanTime::from_secs(25), 100), Fate::NoContact);
        // A frame too long for what is left of the pass waits for the next one (none here).
        let mut short = link(vec![window(0, 1, 100)], Impairments::default());
        assert_eq!(short.send(PlanTime::from_secs(0), 1_000), Fate::NoContact);
    }

    #[test]
    fn a_radio_without_store_carries_only_in_the_open_window() {
        let mut l = link(vec![window(10, 20, 1000)], Impairments::default());
        assert_eq!(l.send_now(PlanTime::from_secs(5), 100), Fate::NoContact, "before the window");
        assert!(matches!(l.send_now(PlanTime::from_secs(12), 100), Fate::Arrives(_)));
        // 2,000 bytes need 2 s; only 1 s is left of the pass.
        assert_eq!(l.send_now(PlanTime::from_secs(19), 2_000), Fate::NoContact);
        assert!(l.busy_until() < PlanTime::from_secs(13), "a refused frame does not occupy the link");
    }

    #[test]
    fn reads_ion_contact_plans() {
        let text = "a contact +0 +100 1 2 1000\na range +0 +100 1 2 1\n";
        let links = windows_from_plan_text(text).unwrap();
        let w = links[&(1, 2)][0];
        assert_eq!((w.end, w.rate_bytes_per_sec, w.owlt_max_nanos), (PlanTime::from_secs(100), 1000, 1_000_000_000));
    }

    #[test]
    fn missed_passes_carry_nothing() {
        let mut l = link(vec![window(0, 10, 1000), window(20, 30, 1000)], Impairments::default());
        l.miss_pass(0);
        let Fate::Arrives(t) = l.send(PlanTime::from_secs(0), 100) else { panic!() };
        assert!(t >= PlanTime::from_secs(20));
    }

    #[test]
    fn a_full_buffer_drops_frames() {
        let impairments = Impairments { buffer_bytes: 1_000, ..Impairments::default() };
        let mut l = link(vec![window(0, 100, 100)], impairments);
        assert!(matches!(l.send(PlanTime::from_secs(0), 800), Fate::Arrives(_)));
        assert_eq!(l.send(PlanTime::from_secs(0), 800), Fate::BufferFull);
    }

    #[test]
    fn flat_loss_rate_is_observed() {
        let impairments = Impairments { loss: FrameLoss::new(0.0, 0.1).unwrap(), ..Impairments::default() };
        let mut l = link(vec![window(0, 1_000_000, 0)], impairments);
        let n = 20_000;
        let lost = (0..n).filter(|i| matches!(l.send(PlanTime(i * 1000), 100), Fate::Lost { .. })).count();
        let rate = lost as f64 / n as f64;
        assert!((rate - 0.1).abs() < 0.01, "{rate}");
    }

    #[test]
    fn reads_light_time_ranges_from_the_shared_csv_format() {
        let text = format!("{}\n1,2,0,100,1000,68.520,70.000,leo-ground,0,100\n", csv::HEADER);
        let links = windows_from_csv(&text).unwrap();
        let w = links[&(1, 2)][0];
        assert_eq!((w.owlt_min_nanos, w.owlt_max_nanos), (68_520_000, 70_000_000));
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn frames_only_travel_inside_open_windows(
            spans in prop::collection::vec((0i64..1_000, 1i64..200, 1u64..10_000), 1..6),
            frames in prop::collection::vec((0i64..1_500, 1u64..5_000), 1..40),
            lag in 0i64..20,
            missed in prop::option::of(0usize..6),
        ) {
            let windows: Vec<Window> = spans.iter().map(|&(s, d, r)| Window {
                start: PlanTime::from_secs(s),
                end: PlanTime::from_secs(s + d),
                rate_bytes_per_sec: r,
                owlt_min_nanos: 1_000,
                owlt_max_nanos: 5_000,
            }).collect();
            let impairments = Impairments { acquisition_lag_nanos: lag * 1_000_000_000, ..Impairments::default() };
            let mut link = Link::new(1, 2, windows, impairments, 7);
            if let Some(m) = missed {
                link.miss_pass(m);
            }
            let mut frames = frames;
            frames.sort_unstable();
            for (at, bytes) in frames {
                let now = PlanTime::from_secs(at);
                if let Fate::Arrives(t) = link.send(now, bytes) {
                    // Sent entirely inside one usable window, after `now`.
                    // (`missed` indexes the windows in start order, as the link keeps them.)
                    let ok = link.windows().iter().enumerate().any(|(i, w)| {
                        Some(i) != missed
                            && t.0 - w.owlt_max_nanos <= w.end.0
                            && t.0 - w.owlt_min_nanos >= w.start.0 + lag * 1_000_000_000
                    });
                    prop_assert!(ok, "arrival {t:?} outside every usable window");
                    prop_assert!(t > now);
                }
            }
        }
    }
}
