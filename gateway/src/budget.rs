//! One bound on the memory of data received and not yet taken in by the agent, across every
//! session of every convergence layer (TCPCL transfers, MTCP frames, QUIC streams,
//! application submissions): partly received bundles reserve it as they grow and give up when
//! it is exhausted (the peer is refused and tries again later), whole bundles carry their
//! share to the agent, which lets it go once the bundle is stored. A per-connection limit
//! (the transfer MRU) would let a thousand connections hold a thousand times as much.

use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Budget granularity: reservations are whole KiB.
const UNIT: usize = 1024;
/// A reservation up to this size (units) may take the budget's last free share; a larger one
/// may not: see [`ReceiveBudget::resize`].
const SMALL_UNITS: usize = 256;
/// The share of the budget kept for small reservations: one part in this many.
const RESERVE_PART: usize = 8;

/// The shared budget (cloned into every session).
#[derive(Debug, Clone)]
pub struct ReceiveBudget {
    permits: Arc<Semaphore>,
    total: usize,
}

/// A bundle received whole, with its share of the budget (`None` when the session ran
/// without one).
#[derive(Debug)]
pub struct Arrival {
    /// The bundle.
    pub bytes: Bytes,
    /// Its share; given back when dropped.
    pub permit: Option<OwnedSemaphorePermit>,
}

/// What one partly received unit (a transfer, a frame, a stream) holds.
#[derive(Debug, Default)]
pub struct Reservation {
    permit: Option<OwnedSemaphorePermit>,
}

fn units(bytes: usize) -> usize {
    bytes.div_ceil(UNIT)
}

impl ReceiveBudget {
    /// A budget of `bytes` (at least one unit).
    pub fn new(bytes: u64) -> Self {
        let total = units(usize::try_from(bytes).unwrap_or(usize::MAX)).clamp(1, Semaphore::MAX_PERMITS);
        ReceiveBudget { permits: Arc::new(Semaphore::new(total)), total }
    }

    /// The whole budget, bytes.
    pub fn total(&self) -> u64 {
        (self.total as u64).saturating_mul(UNIT as u64)
    }

    /// Bytes not reserved now.
    pub fn available(&self) -> u64 {
        (self.permits.available_permits() as u64).saturating_mul(UNIT as u64)
    }

    /// Waits for room for a whole bundle of `len` bytes (one larger than the whole budget
    /// waits for all of it). `None` only if the budget was closed.
    pub async fn permit(&self, len: usize) -> Option<OwnedSemaphorePermit> {
        let want = u32::try_from(units(len).clamp(1, self.total)).unwrap_or(u32::MAX);
        self.permits.clone().acquire_many_owned(want).await.ok()
    }

    /// Makes `reservation` cover `bytes` (growing without waiting, or shrinking); false, and
    /// the reservation unchanged, when the budget has not that much left. A reservation
    /// growing beyond 256 KiB must leave an eighth of the budget free: peers holding big
    /// partial bundles (a flood of them) cannot take the room that small bundles — custody
    /// signals, commands, other clients' ADUs — need to get through.
    pub fn resize(&self, reservation: &mut Reservation, bytes: usize) -> bool {
        let want = units(bytes);
        let held = reservation.units();
        if want > held {
            if want > SMALL_UNITS
                && self.permits.available_permits() < (want - held).saturating_add(self.total / RESERVE_PART)
            {
                return false;
            }
            let Ok(more) = u32::try_from(want - held) else { return false };
            let Ok(extra) = self.permits.clone().try_acquire_many_owned(more) else { return false };
            match reservation.permit.as_mut() {
                Some(p) => p.merge(extra),
                None => reservation.permit = Some(extra),
            }
        } else if want < held {
            reservation.take_units(held - want);
        }
        true
    }
}

impl Reservation {
    fn units(&self) -> usize {
        self.permit.as_ref().map_or(0, OwnedSemaphorePermit::num_permits)
    }

    /// Bytes held (in whole units).
    pub fn bytes(&self) -> usize {
        self.units() * UNIT
    }

    fn take_units(&mut self, n: usize) -> Option<OwnedSemaphorePermit> {
        let held = self.units();
        if n == 0 {
            return None;
        }
        if n >= held {
            return self.permit.take();
        }
        self.permit.as_mut().and_then(|p| p.split(n))
    }

    /// Hands over the share of a bundle of `len` bytes that completed (all that is held, if
    /// less); the rest stays reserved.
    pub fn take(&mut self, len: usize) -> Option<OwnedSemaphorePermit> {
        self.take_units(units(len).max(1))
    }

    /// Gives everything back.
    pub fn release(&mut self) {
        self.permit = None;
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn reservations_grow_shrink_and_hand_over_within_the_total() {
        let budget = ReceiveBudget::new(10 * 1024);
        let mut a = Reservation::default();
        let mut b = Reservation::default();
        assert!(budget.resize(&mut a, 6 * 1024));
        assert!(!budget.resize(&mut b, 5 * 1024), "only 4 KiB left");
        assert_eq!(b.bytes(), 0, "a failed growth holds nothing more");
        assert!(budget.resize(&mut b, 4 * 1024));
        assert_eq!(budget.available(), 0);
        // A bundle of 3 KiB completes in `a`: its share travels on, the rest stays.
        let carried = a.take(3 * 1024).unwrap();
        assert_eq!(carried.num_permits(), 3);
        assert_eq!(a.bytes(), 3 * 1024);
        assert!(budget.resize(&mut a, 1024), "shrinking gives back");
        assert_eq!(budget.available(), 2 * 1024);
        drop(carried);
        assert_eq!(budget.available(), 5 * 1024);
        b.release();
        a.release();
        assert_eq!(budget.available(), budget.total());
    }

    #[test]
    fn big_reservations_leave_an_eighth_of_the_budget_to_small_ones() {
        let budget = ReceiveBudget::new(8 << 20);
        // Big partial bundles take at most seven eighths between them.
        let mut big: Vec<Reservation> = (0..8).map(|_| Reservation::default()).collect();
        let taken = big.iter_mut().map(|r| budget.resize(r, 1 << 20)).filter(|ok| *ok).count();
        assert_eq!(taken, 7);
        assert_eq!(budget.available(), 1 << 20);
        let mut growing = Reservation::default();
        assert!(budget.resize(&mut growing, 200 << 10), "a small one still fits");
        assert!(!budget.resize(&mut growing, 300 << 10), "growing big, it may not take the reserve");
        // Small reservations may use all of it.
        let mut small: Vec<Reservation> = (0..4).map(|_| Reservation::default()).collect();
        assert!(small.iter_mut().all(|r| budget.resize(r, 200 << 10)));
        assert_eq!(budget.available(), 24 << 10);
    }
}
