//! A trial as the store keeps it: its number, settings, state, value and
//! the per-epoch values the pruner sees.

use crate::space::Params;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Where a trial stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TrialState {
    /// Claimed by a worker whose heartbeat keeps it.
    Running,
    /// Claimed once, then given back (Ctrl-C, or its worker died): the
    /// next worker runs it again under the same number and settings.
    Waiting,
    /// Finished with a value.
    Complete,
    /// Stopped by the pruner; never competes for best.
    Pruned,
    /// Its settings were invalid or its fit failed (the error is kept).
    Failed,
}

impl TrialState {
    pub fn name(self) -> &'static str {
        match self {
            TrialState::Running => "running",
            TrialState::Waiting => "waiting",
            TrialState::Complete => "complete",
            TrialState::Pruned => "pruned",
            TrialState::Failed => "failed",
        }
    }

    /// Complete, pruned or failed: nothing more will happen to it.
    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Failed
        )
    }
}

/// One trial of a study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrialRecord {
    /// 0, 1, 2, ...: trial 0 is the starting settings.
    pub number: u64,
    pub state: TrialState,
    pub params: Params,
    /// The validation metric (complete trials; a pruned trial keeps its
    /// last per-epoch value here too, for the record only).
    pub value: Option<f64>,
    /// Epoch → validation metric, as training reported it.
    #[serde(default)]
    pub intermediate: BTreeMap<u64, f64>,
    /// The worker that holds or last held the claim.
    pub worker: Option<String>,
    /// How many times the trial was claimed (more than 1 after a worker died).
    pub attempts: u32,
    /// Milliseconds since the Unix epoch.
    pub heartbeat_ms: u64,
    pub started_ms: u64,
    pub finished_ms: Option<u64>,
    pub fit_seconds: Option<f64>,
    pub eval_seconds: Option<f64>,
    pub error: Option<String>,
}

impl TrialRecord {
    /// A freshly claimed trial.
    pub fn claimed(number: u64, params: Params, worker: &str, now_ms: u64) -> Self {
        TrialRecord {
            number,
            state: TrialState::Running,
            params,
            value: None,
            intermediate: BTreeMap::new(),
            worker: Some(worker.to_owned()),
            attempts: 1,
            heartbeat_ms: now_ms,
            started_ms: now_ms,
            finished_ms: None,
            fit_seconds: None,
            eval_seconds: None,
            error: None,
        }
    }

    /// The same trial claimed again by `worker` (its settings kept, its
    /// partial record cleared).
    pub fn reclaimed(&self, worker: &str, now_ms: u64) -> Self {
        let mut again = TrialRecord::claimed(self.number, self.params.clone(), worker, now_ms);
        again.attempts = self.attempts + 1;
        again
    }
}

/// How a trial ended, as its worker reports it.
#[derive(Clone, Debug, PartialEq)]
pub enum TrialOutcome {
    Complete {
        value: f64,
        fit_seconds: f64,
        eval_seconds: f64,
    },
    Pruned {
        epoch: u64,
        fit_seconds: f64,
    },
    Failed {
        error: String,
    },
}

/// The best complete trial (highest value; the lower number on a tie).
pub fn best(trials: &[TrialRecord]) -> Option<&TrialRecord> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.value.filter(|v| v.is_finite()).map(|v| (t, v)))
        .fold(
            None,
            |best: Option<(&TrialRecord, f64)>, (t, v)| match best {
                Some((_, b)) if b >= v => best,
                _ => Some((t, v)),
            },
        )
        .map(|(t, _)| t)
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trial(number: u64, state: TrialState, value: f64) -> TrialRecord {
        let mut t = TrialRecord::claimed(number, Params::new(), "w", 0);
        t.state = state;
        t.value = Some(value);
        t
    }

    #[test]
    fn a_pruned_trial_is_never_best_even_with_the_highest_value() {
        let trials = [
            trial(0, TrialState::Complete, 0.10),
            trial(1, TrialState::Pruned, 0.90),
            trial(2, TrialState::Complete, 0.20),
            trial(3, TrialState::Failed, 0.95),
            trial(4, TrialState::Complete, 0.20),
            trial(5, TrialState::Running, 0.99),
        ];
        assert_eq!(best(&trials).map(|t| t.number), Some(2));
        assert!(best(&trials[1..2]).is_none());
    }
}
