//! Byte-rate limits with `governor` (GCRA): an outduct at its contact's rate, a peer's ingress
//! at its configured limit.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// Pacing works in cells of this many bytes (governor counts cells in `u32`). What does not
/// fill a whole cell is carried to the next take, so a 1,400-byte datagram costs 1,400 bytes
/// of the rate, not two cells' 2,048.
const CELL: u64 = 1024;

/// An outduct's rate: the contact's and the configured cap, whichever is lower (0: none).
pub fn outduct_rate(cap: u64, contact: u64) -> u64 {
    match (cap, contact) {
        (0, r) | (r, 0) => r,
        (a, b) => a.min(b),
    }
}

/// Holds a byte stream to a rate.
#[derive(Debug)]
pub struct Pacer {
    limiter: DefaultDirectRateLimiter,
    burst: u32,
    /// Bytes passed that do not yet make a whole cell.
    carry: AtomicU64,
}

impl Pacer {
    /// A pacer at `bytes_per_sec`, with a burst of about 50 ms of traffic; `None` for 0
    /// (unlimited).
    pub fn new(bytes_per_sec: u64) -> Option<Pacer> {
        Self::with_burst(bytes_per_sec, 50)
    }

    /// A pacer at `bytes_per_sec` with a burst of about `burst_ms` of traffic (at least
    /// 16 KiB): datagram links want short bursts, or a receiver's socket buffer overflows.
    pub fn with_burst(bytes_per_sec: u64, burst_ms: u64) -> Option<Pacer> {
        if bytes_per_sec == 0 {
            return None;
        }
        let cells_per_sec = (bytes_per_sec as f64 / CELL as f64).max(1e-3);
        let period = std::time::Duration::from_secs_f64((1.0 / cells_per_sec).min(3_600.0))
            .max(std::time::Duration::from_nanos(1));
        let burst = ((cells_per_sec * burst_ms.max(1) as f64 / 1000.0) as u32).clamp(16, 1 << 16);
        let quota = Quota::with_period(period)?.allow_burst(NonZeroU32::new(burst)?);
        Some(Pacer { limiter: RateLimiter::direct(quota), burst, carry: AtomicU64::new(0) })
    }

    /// Lets `len` more bytes pass now if the rate allows, else says how long to wait (nothing
    /// is taken then). A datagram above the burst counts as the burst.
    pub fn try_take(&self, len: usize) -> Option<std::time::Duration> {
        let (cells, rest) = self.cells(len);
        let Some(n) = NonZeroU32::new(cells.min(u64::from(self.burst)) as u32) else {
            self.carry.store(rest, Ordering::Relaxed);
            return None;
        };
        match self.limiter.check_n(n) {
            Ok(Ok(())) | Err(_) => {
                self.carry.store(rest, Ordering::Relaxed);
                None
            }
            Ok(Err(not_until)) => {
                use governor::clock::Clock;
                Some(not_until.wait_time_from(governor::clock::DefaultClock::default().now()))
            }
        }
    }

    /// Waits until `len` more bytes may pass.
    pub async fn take(&self, len: usize) {
        let (mut cells, rest) = self.cells(len);
        self.carry.store(rest, Ordering::Relaxed);
        while cells > 0 {
            let n = cells.min(u64::from(self.burst)) as u32;
            cells -= u64::from(n);
            if let Some(n) = NonZeroU32::new(n) {
                // `n` never exceeds the burst, so this cannot fail.
                let _ = self.limiter.until_n_ready(n).await;
            }
        }
    }

    /// Whole cells in `len` bytes and what was carried, and the bytes left over. (Two takes at
    /// once may each count the same carry: at most a cell of slack, never a stall.)
    fn cells(&self, len: usize) -> (u64, u64) {
        let total = self.carry.load(Ordering::Relaxed).saturating_add(len as u64);
        (total / CELL, total % CELL)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn holds_the_rate() {
        assert!(Pacer::new(0).is_none());
        let pacer = Pacer::new(2_000_000).unwrap();
        let start = std::time::Instant::now();
        // 1 MB at 2 MB/s: about half a second (less the burst).
        for _ in 0..100 {
            pacer.take(10_000).await;
        }
        let took = start.elapsed().as_secs_f64();
        assert!((0.4..0.8).contains(&took), "took {took} s");
    }

    #[test]
    fn a_datagram_costs_its_bytes_not_whole_cells() {
        // 10 MB/s with a 2 ms burst (20 KB): 1,400-byte datagrams pass until the burst is
        // spent, and as many pass as their bytes allow (14 of them, not 9 at two cells each).
        let pacer = Pacer::with_burst(10_000_000, 2).unwrap();
        let passed = (0..100).take_while(|_| pacer.try_take(1400).is_none()).count();
        assert!((13..=15).contains(&passed), "{passed} datagrams passed");
    }
}
