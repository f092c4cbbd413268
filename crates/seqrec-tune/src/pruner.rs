//! Asynchronous successive halving (ASHA; Li et al. 2018, Optuna's
//! `SuccessiveHalvingPruner`) over epochs. Rungs lie at
//! `min_epochs · η^k` epochs; a trial reaching a rung goes on only if its
//! validation value is among the best 1/η of all values recorded at that
//! rung so far, by any trial in any state (the best one when fewer than η
//! are there). Trials never wait for each other, so several workers prune
//! without synchronising.

use crate::settings::AshaSettings;
use crate::trial::TrialRecord;

/// A configured ASHA pruner.
#[derive(Clone, Debug)]
pub struct Asha {
    pub settings: AshaSettings,
}

impl Asha {
    /// The rung `epoch` is on, if it is one.
    pub fn rung(&self, epoch: u64) -> Option<u32> {
        let (min, eta) = (self.settings.min_epochs, self.settings.reduction_factor);
        if epoch < min {
            return None;
        }
        let mut at = min;
        let mut k = 0;
        while at < epoch {
            at = at.saturating_mul(eta);
            k += 1;
        }
        (at == epoch).then_some(k)
    }

    /// Whether trial `number`, whose validation value after `epoch` is
    /// `value`, stops here; `trials` are the study's trials as stored.
    pub fn should_prune(
        &self,
        number: u64,
        epoch: u64,
        value: f64,
        trials: &[TrialRecord],
    ) -> bool {
        if self.rung(epoch).is_none() {
            return false;
        }
        if !value.is_finite() {
            return true;
        }
        let mut competing: Vec<f64> = trials
            .iter()
            .filter(|t| t.number != number)
            .filter_map(|t| t.intermediate.get(&epoch).copied())
            .filter(|v| v.is_finite())
            .collect();
        competing.push(value);
        competing.sort_by(|a, b| b.total_cmp(a));
        let promoted = (competing.len() as u64 / self.settings.reduction_factor).max(1) as usize;
        value < competing[promoted - 1]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Params;
    use crate::trial::TrialState;

    fn asha() -> Asha {
        Asha {
            settings: AshaSettings {
                min_epochs: 1,
                reduction_factor: 3,
                methods: None,
            },
        }
    }

    fn at(number: u64, epoch: u64, value: f64) -> TrialRecord {
        let mut t = TrialRecord::claimed(number, Params::new(), "w", 0);
        t.state = TrialState::Complete;
        t.intermediate.insert(epoch, value);
        t
    }

    #[test]
    fn rungs_are_min_times_powers_of_eta() {
        let a = asha();
        let rungs: Vec<u64> = (1..=30).filter(|e| a.rung(*e).is_some()).collect();
        assert_eq!(rungs, [1, 3, 9, 27]);
        let b = Asha {
            settings: AshaSettings {
                min_epochs: 2,
                reduction_factor: 2,
                methods: None,
            },
        };
        assert_eq!(
            (1..=10)
                .filter(|e| b.rung(*e).is_some())
                .collect::<Vec<_>>(),
            [2, 4, 8]
        );
    }

    #[test]
    fn the_best_third_goes_on() {
        let a = asha();
        // Alone at a rung: promoted.
        assert!(!a.should_prune(0, 1, 0.1, &[]));
        // Two others at epoch 1 with 0.3 and 0.2: 3 values, 1 promoted.
        let others = [at(0, 1, 0.3), at(1, 1, 0.2)];
        assert!(a.should_prune(2, 1, 0.25, &others));
        assert!(!a.should_prune(2, 1, 0.35, &others));
        // Not a rung: never pruned.
        assert!(!a.should_prune(2, 2, 0.0, &[at(0, 2, 0.9)]));
        // Six values: the best two go on.
        let six: Vec<TrialRecord> = (0..5).map(|i| at(i, 3, i as f64)).collect();
        assert!(!a.should_prune(9, 3, 3.5, &six));
        assert!(a.should_prune(9, 3, 2.5, &six));
        // Its own earlier record does not count twice.
        assert!(!a.should_prune(0, 1, 0.3, &others));
    }
}
