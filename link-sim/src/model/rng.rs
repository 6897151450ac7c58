//! Seeded random streams, one per link: a link's draws depend only on the run's seed and the
//! link's own name, so adding a link does not perturb any other.

/// A SplitMix64 stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRng(u64);

impl LinkRng {
    /// The stream of link `from → to` in a run seeded with `seed`.
    pub fn for_link(seed: u64, from: u64, to: u64) -> Self {
        // Mix the seed and the link name through two rounds so nearby names diverge at once.
        let mut rng = LinkRng(seed ^ 0x5851_f42d_4c95_7f2d);
        let a = rng.next_u64() ^ from.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let mut rng = LinkRng(a);
        let b = rng.next_u64() ^ to.wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
        LinkRng(b)
    }

    /// A stream from a raw state (for node-level or scenario-level draws).
    pub fn from_state(state: u64) -> Self {
        LinkRng(state)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform sample in `[0, 1)` (53 random bits).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// An exponential sample with the given mean (inverse transform).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.uniform()).ln()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_depend_only_on_seed_and_link() {
        let a: Vec<u64> = (0..4)
            .map({
                let mut r = LinkRng::for_link(7, 1, 2);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..4)
            .map({
                let mut r = LinkRng::for_link(7, 1, 2);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        assert_ne!(LinkRng::for_link(7, 2, 1), LinkRng::for_link(7, 1, 2), "direction matters");
        assert_ne!(LinkRng::for_link(8, 1, 2), LinkRng::for_link(7, 1, 2), "seed matters");
    }

    #[test]
    fn uniform_and_exponential_have_the_right_means() {
        let mut r = LinkRng::for_link(1, 2, 3);
        let n = 100_000;
        let mean_u: f64 = (0..n).map(|_| r.uniform()).sum::<f64>() / n as f64;
        assert!((mean_u - 0.5).abs() < 0.01, "{mean_u}");
        let mean_e: f64 = (0..n).map(|_| r.exponential(3.0)).sum::<f64>() / n as f64;
        assert!((mean_e - 3.0).abs() < 0.05, "{mean_e}");
        assert!((0..1000).map(|_| r.uniform()).all(|u| (0.0..1.0).contains(&u)));
    }
}
