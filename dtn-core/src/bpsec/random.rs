//! The randomness the security source needs (IVs, per-bundle keys), without I/O: a
//! generator the host seeds once with fresh entropy (the gateway from the OS; a simulation
//! from its seed, so runs repeat). Output block i is HMAC-SHA-256(seed, i): a PRF in counter
//! mode, so no two IVs of one start repeat, and a new seed each start keeps restarts apart.

use super::hmac_sha2::{ShaVariant, mac};

/// A seeded generator.
#[derive(Clone)]
pub struct Drbg {
    seed: [u8; 32],
    counter: u64,
}

impl core::fmt::Debug for Drbg {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Drbg(<seeded>)")
    }
}

impl Drbg {
    /// A generator from 32 bytes of entropy.
    pub fn new(seed: [u8; 32]) -> Self {
        Drbg { seed, counter: 0 }
    }

    /// Fills `out` with fresh output.
    pub fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(32) {
            self.counter = self.counter.wrapping_add(1);
            let block = mac(ShaVariant::Sha256, &self.seed, &self.counter.to_be_bytes());
            for (o, b) in chunk.iter_mut().zip(block) {
                *o = b;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outputs_differ_by_call_and_by_seed_and_repeat_for_one_seed() {
        let (mut a, mut b, mut c) = (Drbg::new([1; 32]), Drbg::new([1; 32]), Drbg::new([2; 32]));
        let (mut x, mut y, mut z) = ([0u8; 40], [0u8; 40], [0u8; 40]);
        a.fill(&mut x);
        b.fill(&mut y);
        c.fill(&mut z);
        assert_eq!(x, y);
        assert_ne!(x, z);
        a.fill(&mut y);
        assert_ne!(x, y);
    }
}
