//! One direction of the proxied link: the link model deciding each chunk's or datagram's fate,
//! the pacing that holds a stream's sender to the contact's rate, and the counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use dtn_core::routing::PlanTime;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

use super::clock::PlanClock;
use crate::model::link::{Fate, Link};

/// Pacing works in cells of this many bytes (governor counts cells in `u32`; bytes would
/// overflow its per-second quota at the 12.5 GB/s of an optical crosslink).
const CELL: u64 = 1024;

/// A lost stream chunk is sent again; after this many losses in a row the link is deemed
/// unable to carry the stream.
const MAX_ATTEMPTS: u32 = 64;

/// Why a datagram did not pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    /// No contact open, or the datagram could not leave before it closed.
    NoContact,
    /// Lost on the way (bit errors, flat or burst loss).
    Lost,
    /// The link's buffer was full.
    BufferFull,
}

/// Counters of one direction.
#[derive(Debug, Default)]
pub struct Counters {
    /// Frames (stream chunks or datagrams) taken in.
    pub frames_in: AtomicU64,
    /// Bytes taken in.
    pub bytes_in: AtomicU64,
    /// Frames delivered to the far side.
    pub frames_out: AtomicU64,
    /// Bytes delivered to the far side.
    pub bytes_out: AtomicU64,
    /// Datagrams lost on the way.
    pub lost: AtomicU64,
    /// Datagrams dropped because no contact could carry them.
    pub no_contact: AtomicU64,
    /// Datagrams dropped at a full buffer.
    pub buffer_full: AtomicU64,
    /// Stream chunks sent again after a loss.
    pub resent: AtomicU64,
}

/// A copy of [`Counters`] at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct CounterSnapshot {
    /// Frames taken in.
    pub frames_in: u64,
    /// Bytes taken in.
    pub bytes_in: u64,
    /// Frames delivered.
    pub frames_out: u64,
    /// Bytes delivered.
    pub bytes_out: u64,
    /// Datagrams lost on the way.
    pub lost: u64,
    /// Datagrams with no contact to carry them.
    pub no_contact: u64,
    /// Datagrams dropped at a full buffer.
    pub buffer_full: u64,
    /// Stream chunks sent again.
    pub resent: u64,
}

impl Counters {
    /// The current values.
    pub fn snapshot(&self) -> CounterSnapshot {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterSnapshot {
            frames_in: get(&self.frames_in),
            bytes_in: get(&self.bytes_in),
            frames_out: get(&self.frames_out),
            bytes_out: get(&self.bytes_out),
            lost: get(&self.lost),
            no_contact: get(&self.no_contact),
            buffer_full: get(&self.buffer_full),
            resent: get(&self.resent),
        }
    }

    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// One direction, shared by every connection through the proxy (they share the radio).
#[derive(Debug)]
pub struct Channel {
    link: Mutex<Link>,
    pacer: Mutex<Option<(u64, Arc<DefaultDirectRateLimiter>)>>,
    clock: PlanClock,
    /// What passed and what did not.
    pub counters: Counters,
}

impl Channel {
    /// A direction over `link`, on `clock`.
    pub fn new(link: Link, clock: PlanClock) -> Self {
        Channel { link: Mutex::new(link), pacer: Mutex::new(None), clock, counters: Counters::default() }
    }

    /// The clock.
    pub fn clock(&self) -> &PlanClock {
        &self.clock
    }

    fn with_link<T>(&self, f: impl FnOnce(&mut Link) -> T) -> T {
        // A panic elsewhere while holding the lock leaves the link model usable.
        let mut link = self.link.lock().unwrap_or_else(PoisonError::into_inner);
        f(&mut link)
    }

    /// A datagram of `len` bytes handed over at plan time `now`: when it arrives, or why not.
    pub fn datagram(&self, now: PlanTime, len: u64) -> Result<PlanTime, Dropped> {
        Counters::add(&self.counters.frames_in, 1);
        Counters::add(&self.counters.bytes_in, len);
        let fate = self.with_link(|l| l.send_now(now, len));
        let (counter, result) = match fate {
            Fate::Arrives(at) => return Ok(at),
            Fate::Lost { .. } => (&self.counters.lost, Err(Dropped::Lost)),
            Fate::BufferFull => (&self.counters.buffer_full, Err(Dropped::BufferFull)),
            Fate::NoContact => (&self.counters.no_contact, Err(Dropped::NoContact)),
        };
        Counters::add(counter, 1);
        result
    }

    /// A chunk of a reliable stream of `len` bytes handed over at `now`: when it arrives. A
    /// lost chunk is sent again a round trip after it left (what the stream's own
    /// retransmission would cost), queueing what follows behind it; a chunk handed over
    /// outside a contact waits for the next. `None`: no contact left can carry it.
    pub fn stream_chunk(&self, now: PlanTime, len: u64) -> Option<PlanTime> {
        Counters::add(&self.counters.frames_in, 1);
        Counters::add(&self.counters.bytes_in, len);
        self.with_link(|link| {
            let mut at = now;
            for _ in 0..MAX_ATTEMPTS {
                match link.send(at, len) {
                    Fate::Arrives(arrival) => return Some(arrival),
                    Fate::Lost { sent } => {
                        Counters::add(&self.counters.resent, 1);
                        let owlt = link.open_at(sent).map_or(0, |w| w.owlt_at(sent));
                        at = sent.plus(2 * owlt.max(1_000_000));
                    }
                    // The buffer drains as the link sends; try once what is queued has left.
                    Fate::BufferFull => at = link.busy_until().max(at.plus(1_000_000)),
                    Fate::NoContact => return None,
                }
            }
            None
        })
    }

    /// Waits until the contact open now lets `len` more bytes of a stream in (governor's GCRA
    /// at the contact's rate, scaled to wall time). Outside contacts nothing is paced here: the
    /// chunks wait in the delay queue, whose bound stops the reader.
    pub async fn pace(&self, len: usize) {
        let now = self.clock.now();
        let rate = self.with_link(|l| l.open_at(now).map_or(0, |w| w.rate_bytes_per_sec));
        if rate == 0 {
            return;
        }
        let limiter = {
            let mut pacer = self.pacer.lock().unwrap_or_else(PoisonError::into_inner);
            match pacer.as_ref() {
                Some((r, limiter)) if *r == rate => limiter.clone(),
                _ => {
                    let limiter = Arc::new(limiter_for(rate as f64 * self.clock.scale()));
                    *pacer = Some((rate, limiter.clone()));
                    limiter
                }
            }
        };
        let cells = (len as u64).div_ceil(CELL).clamp(1, u64::from(u32::MAX)) as u32;
        let Some(cells) = std::num::NonZeroU32::new(cells) else { return };
        // A request above the burst size cannot ever be granted; it is split by the caller's
        // chunk size, so this only guards a bug.
        let _ = limiter.until_n_ready(cells).await;
    }
}

/// A GCRA limiter for `bytes_per_sec` of wall time, with a burst of about 100 ms of traffic
/// (16 to 1,024 cells).
fn limiter_for(bytes_per_sec: f64) -> DefaultDirectRateLimiter {
    let cells_per_sec = (bytes_per_sec / CELL as f64).max(1e-3);
    let period =
        std::time::Duration::from_secs_f64((1.0 / cells_per_sec).min(3_600.0)).max(std::time::Duration::from_nanos(1));
    let burst = ((cells_per_sec / 10.0) as u32).clamp(MIN_BURST_CELLS, 1024);
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(std::num::NonZeroU32::MIN))
        .allow_burst(std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN));
    RateLimiter::direct(quota)
}

/// The smallest burst: one full read chunk must always fit.
pub(crate) const MIN_BURST_CELLS: u32 = (super::CHUNK as u64 / CELL) as u32;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::link::{Impairments, Window};
    use crate::model::loss::FrameLoss;

    fn channel(loss: f64) -> Channel {
        let window = Window {
            start: PlanTime::from_secs(10),
            end: PlanTime::from_secs(20),
            rate_bytes_per_sec: 1_000,
            owlt_min_nanos: 100_000_000,
            owlt_max_nanos: 100_000_000,
        };
        let impairments =
            Impairments { loss: FrameLoss::new(0.0, loss).unwrap_or(FrameLoss::NONE), ..Impairments::default() };
        Channel::new(Link::new(1, 2, vec![window], impairments, 3), PlanClock::new(PlanTime(0), 1.0))
    }

    #[test]
    fn datagrams_pass_only_in_a_contact() {
        let c = channel(0.0);
        assert_eq!(c.datagram(PlanTime::from_secs(5), 100), Err(Dropped::NoContact));
        let at = c.datagram(PlanTime::from_secs(11), 100);
        assert_eq!(at, Ok(PlanTime::from_secs(11).plus(100_000_000 + 100_000_000)), "0.1 s on the wire + 0.1 s light");
        assert_eq!(c.datagram(PlanTime::from_secs(21), 100), Err(Dropped::NoContact));
        assert_eq!(c.counters.snapshot().no_contact, 2);
    }

    #[test]
    fn overlapping_contacts_carry_a_datagram_the_shorter_one_cannot() {
        // Found by the property below: [105 s, 128 s) and [64 s, 129 s); 701 bytes at
        // 10,000 B/s handed over at 127.93 s leave at 128.0001 s, inside the longer contact.
        let w = |start: i64, end: i64| Window {
            start: PlanTime::from_secs(start),
            end: PlanTime::from_secs(end),
            rate_bytes_per_sec: 10_000,
            owlt_min_nanos: 20_000_000,
            owlt_max_nanos: 20_000_000,
        };
        let link = Link::new(1, 2, vec![w(105, 128), w(64, 129)], Impairments::default(), 1);
        let c = Channel::new(link, PlanClock::new(PlanTime(0), 1.0));
        let at = c.datagram(PlanTime::from_millis(127_930), 701).unwrap_or(PlanTime(0));
        assert!(at > PlanTime::from_secs(128) && at < PlanTime::from_secs(129), "{at:?}");
    }

    #[test]
    fn stream_chunks_wait_for_the_contact_and_are_resent_when_lost() {
        let clean = channel(0.0);
        assert_eq!(clean.stream_chunk(PlanTime::from_secs(5), 100), Some(PlanTime::from_secs(10).plus(200_000_000)));
        assert_eq!(clean.stream_chunk(PlanTime::from_secs(25), 100), None, "no contact left");
        let lossy = channel(0.5);
        let mut late = 0;
        for i in 0..20 {
            let at = lossy.stream_chunk(PlanTime::from_secs(10).plus(i * 300_000_000), 100);
            let Some(at) = at else { continue };
            if at > PlanTime::from_secs(10).plus(i * 300_000_000 + 300_000_000) {
                late += 1;
            }
        }
        assert!(lossy.counters.snapshot().resent > 0 && late > 0, "losses cost a round trip");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;
    use crate::model::link::{Impairments, Window};
    use crate::model::loss::FrameLoss;

    proptest! {
        /// A stream's chunks, handed over in order at any times, arrive in order, only after
        /// crossing inside a contact, never before they were handed over plus the light time;
        /// datagrams pass only in the contact open when they are handed over.
        #[test]
        fn chunks_cross_only_inside_contacts_and_in_order(
            spans in prop::collection::vec((0i64..1_000, 1i64..100), 1..5),
            chunks in prop::collection::vec((0i64..1_200_000, 1u64..4_000), 1..60),
            loss in 0.0f64..0.6,
        ) {
            const OWLT: i64 = 20_000_000;
            let windows: Vec<Window> = spans.iter().map(|&(s, d)| Window {
                start: PlanTime::from_secs(s),
                end: PlanTime::from_secs(s + d),
                rate_bytes_per_sec: 10_000,
                owlt_min_nanos: OWLT,
                owlt_max_nanos: OWLT,
            }).collect();
            let impairments = Impairments { loss: FrameLoss::new(0.0, loss).unwrap_or(FrameLoss::NONE), ..Impairments::default() };
            let inside = |sent: PlanTime| windows.iter().any(|w| w.start <= sent && sent <= w.end);
            let stream = Channel::new(Link::new(1, 2, windows.clone(), impairments, 9), PlanClock::new(PlanTime(0), 1.0));
            let radio = Channel::new(Link::new(1, 2, windows.clone(), impairments, 9), PlanClock::new(PlanTime(0), 1.0));
            let mut chunks = chunks;
            chunks.sort_unstable();
            let mut last = PlanTime(i64::MIN);
            for (at_ms, len) in chunks {
                let now = PlanTime::from_millis(at_ms);
                if let Some(arrival) = stream.stream_chunk(now, len) {
                    prop_assert!(arrival.0 >= now.0 + OWLT);
                    prop_assert!(inside(PlanTime(arrival.0 - OWLT)), "left at {:?} outside every contact", arrival.0 - OWLT);
                    prop_assert!(arrival >= last, "out of order");
                    last = arrival;
                }
                if let Ok(arrival) = radio.datagram(now, len) {
                    // Some contact open when it was handed over carried it to its end (contacts
                    // may overlap).
                    let carried = windows.iter().any(|w| w.start <= now && now < w.end && arrival.0 - OWLT <= w.end.0);
                    prop_assert!(carried, "datagram outside its contact");
                }
            }
        }
    }
}
