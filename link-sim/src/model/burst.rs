//! Gilbert–Elliott burst loss: a two-state Markov chain (good, bad) with a loss probability
//! per state, stepped once per frame.

use super::loss::LossError;

/// Parameters of the two-state channel.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GilbertElliott {
    /// Probability of moving good → bad per frame.
    pub p_good_to_bad: f64,
    /// Probability of moving bad → good per frame.
    pub p_bad_to_good: f64,
    /// Loss probability in the good state.
    pub loss_good: f64,
    /// Loss probability in the bad state.
    pub loss_bad: f64,
}

impl GilbertElliott {
    /// Checks every parameter is a probability.
    pub fn new(p_good_to_bad: f64, p_bad_to_good: f64, loss_good: f64, loss_bad: f64) -> Result<Self, LossError> {
        for (what, value) in [
            ("p(good→bad)", p_good_to_bad),
            ("p(bad→good)", p_bad_to_good),
            ("loss(good)", loss_good),
            ("loss(bad)", loss_bad),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(LossError::NotAProbability { what, value });
            }
        }
        Ok(GilbertElliott { p_good_to_bad, p_bad_to_good, loss_good, loss_bad })
    }

    /// Long-run loss rate: π_bad·loss_bad + π_good·loss_good.
    pub fn mean_loss(&self) -> f64 {
        let total = self.p_good_to_bad + self.p_bad_to_good;
        if total == 0.0 {
            return self.loss_good;
        }
        let bad = self.p_good_to_bad / total;
        bad * self.loss_bad + (1.0 - bad) * self.loss_good
    }
}

/// The channel's state on one link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BurstState {
    bad: bool,
}

impl BurstState {
    /// Steps the chain with two uniform samples and says whether this frame is lost.
    pub fn step(&mut self, model: &GilbertElliott, u_transition: f64, u_loss: f64) -> bool {
        self.bad = if self.bad { u_transition >= model.p_bad_to_good } else { u_transition < model.p_good_to_bad };
        u_loss < if self.bad { model.loss_bad } else { model.loss_good }
    }

    /// True in the bad state.
    pub fn is_bad(&self) -> bool {
        self.bad
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::rng::LinkRng;

    #[test]
    fn long_run_loss_matches_the_stationary_mix() {
        let model = GilbertElliott::new(0.01, 0.1, 0.001, 0.5).unwrap();
        let mut state = BurstState::default();
        let mut rng = LinkRng::for_link(3, 1, 2);
        let n = 400_000;
        let lost = (0..n).filter(|_| state.step(&model, rng.uniform(), rng.uniform())).count();
        let rate = lost as f64 / n as f64;
        assert!((rate - model.mean_loss()).abs() < 0.005, "{rate} vs {}", model.mean_loss());
    }

    #[test]
    fn losses_come_in_bursts() {
        // Same mean loss as independent drops would give, but runs of losses are much longer.
        let model = GilbertElliott::new(0.005, 0.05, 0.0, 1.0).unwrap();
        let mut state = BurstState::default();
        let mut rng = LinkRng::for_link(9, 1, 2);
        let (mut runs, mut lost, mut previous) = (0usize, 0usize, false);
        for _ in 0..200_000 {
            let l = state.step(&model, rng.uniform(), rng.uniform());
            if l && !previous {
                runs += 1;
            }
            lost += usize::from(l);
            previous = l;
        }
        let mean_run = lost as f64 / runs as f64;
        assert!(mean_run > 10.0, "mean burst length {mean_run}");
    }

    #[test]
    fn rejects_non_probabilities() {
        assert!(GilbertElliott::new(1.5, 0.1, 0.0, 0.0).is_err());
    }
}
