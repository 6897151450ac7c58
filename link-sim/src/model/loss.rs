//! Frame loss on a space link.
//!
//! A frame of `L` bytes survives a channel with independent bit errors at rate `BER` only if
//! all `8·L` bits do: p_loss = 1 − (1 − BER)^(8·L). Computed as −expm1(8·L·ln1p(−BER)) so tiny
//! error rates (1e-12) on small frames keep their precision instead of rounding to zero.

/// Why a loss parameter was refused.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
pub enum LossError {
    /// A probability or rate outside `[0, 1]` (or NaN).
    #[error("{what} = {value} is not a probability in [0, 1]")]
    NotAProbability {
        /// The parameter's name.
        what: &'static str,
        /// The value given.
        value: f64,
    },
}

fn probability(what: &'static str, value: f64) -> Result<f64, LossError> {
    if (0.0..=1.0).contains(&value) { Ok(value) } else { Err(LossError::NotAProbability { what, value }) }
}

/// Independent losses: a flat per-frame probability and a bit-error rate applied by frame size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameLoss {
    bit_error_rate: f64,
    flat: f64,
}

impl FrameLoss {
    /// A lossless link.
    pub const NONE: FrameLoss = FrameLoss { bit_error_rate: 0.0, flat: 0.0 };

    /// Loss from a bit-error rate and a flat per-frame loss probability (both in `[0, 1]`).
    pub fn new(bit_error_rate: f64, flat: f64) -> Result<Self, LossError> {
        Ok(FrameLoss {
            bit_error_rate: probability("bit error rate", bit_error_rate)?,
            flat: probability("flat loss", flat)?,
        })
    }

    /// Probability that a frame of `frame_bytes` is lost.
    pub fn loss_probability(&self, frame_bytes: u64) -> f64 {
        let bits = 8.0 * frame_bytes as f64;
        let ber_loss = if self.bit_error_rate >= 1.0 {
            if frame_bytes == 0 { 0.0 } else { 1.0 }
        } else {
            -(bits * (-self.bit_error_rate).ln_1p()).exp_m1()
        };
        // Independent causes: the frame survives only if it survives both.
        1.0 - (1.0 - ber_loss) * (1.0 - self.flat)
    }

    /// Whether a frame is lost, given a uniform sample `u` in `[0, 1)` from the link's RNG.
    pub fn is_lost(&self, frame_bytes: u64, u: f64) -> bool {
        u < self.loss_probability(frame_bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn lossless_link_never_loses() {
        assert_eq!(FrameLoss::NONE.loss_probability(1 << 20), 0.0);
        assert!(!FrameLoss::NONE.is_lost(1500, 0.0));
    }

    #[test]
    fn matches_closed_form_for_moderate_ber() {
        let loss = FrameLoss::new(1e-5, 0.0).unwrap();
        let expected = 1.0 - (1.0 - 1e-5f64).powf(8.0 * 1000.0);
        assert!((loss.loss_probability(1000) - expected).abs() < 1e-12);
    }

    #[test]
    fn keeps_precision_for_tiny_ber() {
        let loss = FrameLoss::new(1e-12, 0.0).unwrap();
        let p = loss.loss_probability(100);
        assert!((p - 8e-10).abs() / 8e-10 < 1e-6, "{p}");
    }

    #[test]
    fn combines_flat_and_bit_errors_as_independent() {
        let loss = FrameLoss::new(1.0, 0.0).unwrap();
        assert_eq!(loss.loss_probability(1), 1.0);
        let both = FrameLoss::new(1e-4, 0.5).unwrap();
        let ber_only = FrameLoss::new(1e-4, 0.0).unwrap().loss_probability(100);
        assert!((both.loss_probability(100) - (1.0 - (1.0 - ber_only) * 0.5)).abs() < 1e-12);
    }

    #[test]
    fn rejects_non_probabilities() {
        assert!(FrameLoss::new(-0.1, 0.0).is_err());
        assert!(FrameLoss::new(0.0, 1.5).is_err());
        assert!(FrameLoss::new(f64::NAN, 0.0).is_err());
    }

    proptest! {
        #[test]
        fn probability_is_in_range_and_grows_with_size(ber in 0.0f64..1.0, flat in 0.0f64..1.0, a in 0u64..100_000, b in 0u64..100_000) {
            let loss = FrameLoss::new(ber, flat).unwrap();
            let (small, large) = (a.min(b), a.max(b));
            let (ps, pl) = (loss.loss_probability(small), loss.loss_probability(large));
            prop_assert!((0.0..=1.0).contains(&ps) && (0.0..=1.0).contains(&pl));
            prop_assert!(ps <= pl + 1e-12);
        }
    }
}
