//! What one trial computes: the method fitted with the trial's settings on
//! the training part and measured on the validation part of a split that
//! has no test events at all ([`seqrec_core::Split::without_test`]), so no
//! trial can depend on the test split. A GRU reports its validation value
//! after every epoch and an SGD baseline (BPR-MF, sequential MF) after the
//! epochs the pruner asks for; there the pruner may stop it.

use crate::TuneError;
use crate::settings::EpochMetric;
use crate::trial::TrialOutcome;
use seqrec_core::{Cancel, Part, Scorer, Split};
use seqrec_metrics::{EvalConfig, EvalError, evaluate};
use seqrec_models::{EpochObserver, GruError};
use seqrec_runner::config::MethodSettings;
use seqrec_runner::{Compute, Method};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Where a trial's per-epoch validation values go (the pruner).
pub struct EpochHook {
    /// Whether the value after this epoch (1-based) is wanted. A GRU
    /// measures every epoch anyway and reports each; an SGD baseline is
    /// evaluated on validation only where this says yes, since that
    /// evaluation costs more than one of its epochs.
    pub wants: Box<dyn Fn(u64) -> bool + Send + Sync>,
    /// Records (epoch, value); `true` stops the trial there (pruned).
    pub report: Box<dyn Fn(u64, f64) -> bool + Send + Sync>,
}

impl std::fmt::Debug for EpochHook {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EpochHook")
    }
}

/// A trial stopped from outside (Ctrl-C, a lost claim): it is given back
/// to the study and run again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Interrupted;

/// How a trial's fit ended: a [`TrialOutcome`] to record, or [`Interrupted`].
pub type TrialResult = Result<TrialOutcome, Interrupted>;

/// The search's objective on one dataset.
#[derive(Clone, Debug)]
pub struct Objective {
    pub method: Method,
    /// Training and validation only (checked in [`Objective::new`]).
    split: Split,
    pub evaluation: EvalConfig,
    /// A key of the evaluation report: `mrr@20`, `recall@10_macro`, ...
    pub metric: String,
    /// What a GRU's per-epoch validation measures of `metric`, if anything.
    pub epoch_metric: Option<EpochMetric>,
    pub compute: Compute,
    /// Seed of every trial's fit (the same for all, so trials differ by
    /// their settings alone).
    pub seed: u64,
}

impl Objective {
    /// An objective on `split` with its test events removed.
    pub fn new(
        method: Method,
        split: &Split,
        evaluation: EvalConfig,
        metric: &str,
        epoch_metric: Option<EpochMetric>,
        compute: Compute,
        seed: u64,
    ) -> Result<Objective, TuneError> {
        let split = split.without_test().map_err(|e| TuneError::Data {
            dataset: "split".into(),
            message: e.to_string(),
        })?;
        if split.events(Part::Validation) == 0 {
            return Err(TuneError::Data {
                dataset: "split".into(),
                message: "the validation split is empty: there is nothing to tune on".into(),
            });
        }
        Ok(Objective {
            method,
            split,
            evaluation,
            metric: metric.to_owned(),
            epoch_metric,
            compute,
            seed,
        })
    }

    /// The split trials see (no test events).
    pub fn split(&self) -> &Split {
        &self.split
    }

    /// Fits and measures `settings`. `cancel` stops the trial from outside;
    /// `hook` sees the epochs of a GRU or an SGD baseline.
    pub fn run(
        &self,
        settings: &MethodSettings,
        cancel: &Cancel,
        device: Option<usize>,
        hook: Option<Arc<EpochHook>>,
    ) -> TrialResult {
        let started = Instant::now();
        let pruned_at = Arc::new(AtomicU64::new(0));
        let eval_config = EvalConfig {
            cancel: Some(cancel.clone()),
            ..self.evaluation.clone()
        };
        let fitted: Result<Box<dyn Scorer + Send>, TrialResult> = match self.method {
            Method::Baseline(baseline) => baseline
                .fit_state_observed(
                    &settings.baselines,
                    &self.split,
                    self.seed,
                    cancel,
                    &mut |epoch, model| {
                        let Some(hook) = &hook else { return };
                        let epoch = epoch as u64;
                        if !(hook.wants)(epoch) {
                            return;
                        }
                        match self.measure(model, &eval_config) {
                            Ok(value) => {
                                if (hook.report)(epoch, value) {
                                    pruned_at.store(epoch, Ordering::SeqCst);
                                    cancel.cancel();
                                }
                            }
                            // Cancelled: the fit sees the flag and stops.
                            Err(None) => {}
                            Err(Some(e)) => {
                                tracing::warn!(epoch, error = %e, "could not measure the epoch")
                            }
                        }
                    },
                )
                .map(|f| Box::new(f) as Box<dyn Scorer + Send>)
                .map_err(|e| match e {
                    seqrec_baselines::BaselineError::Cancelled { .. } => Err(Interrupted),
                    e => Ok(failed(e)),
                }),
            Method::Gru(variant) => {
                let mut compute = self.compute;
                compute.device = device.or(compute.device);
                let mut options = compute.train_options(None, false, None);
                options.cancel = Some(cancel.clone());
                if let (Some(hook), Some(which)) = (hook, self.epoch_metric) {
                    let (cancel, pruned_at) = (cancel.clone(), pruned_at.clone());
                    options.epoch_observer = Some(EpochObserver::new(move |record| {
                        let value = match which {
                            EpochMetric::Mrr20 => record.validation_mrr20,
                            EpochMetric::Recall20 => record.validation_recall20,
                        };
                        if let Some(value) = value
                            && (hook.report)(record.epoch as u64, value)
                        {
                            pruned_at.store(record.epoch as u64, Ordering::SeqCst);
                            cancel.cancel();
                        }
                    }));
                }
                match seqrec_models::fit(variant, &settings.gru, &self.split, self.seed, &options) {
                    Ok(fitted) => Ok(Box::new(fitted.scorer)),
                    Err(GruError::Cancelled { .. }) => Err(Err(Interrupted)),
                    Err(e) => Err(Ok(failed(e))),
                }
            }
        };
        let fit_seconds = started.elapsed().as_secs_f64();
        let epoch = pruned_at.load(Ordering::SeqCst);
        if epoch > 0 {
            return Ok(TrialOutcome::Pruned { epoch, fit_seconds });
        }
        let scorer = match fitted {
            Ok(scorer) => scorer,
            Err(result) => return result,
        };
        let started = Instant::now();
        match self.measure(scorer.as_ref(), &eval_config) {
            Ok(value) => Ok(TrialOutcome::Complete {
                value,
                fit_seconds,
                eval_seconds: started.elapsed().as_secs_f64(),
            }),
            Err(None) => Err(Interrupted),
            Err(Some(e)) => Ok(failed(e)),
        }
    }

    /// The metric of `scorer` on validation: `Err(None)` when cancelled,
    /// `Err(Some(why))` when it cannot be had (or is not finite).
    fn measure(&self, scorer: &dyn Scorer, config: &EvalConfig) -> Result<f64, Option<String>> {
        match evaluate(scorer, &self.split, Part::Validation, config, None) {
            Ok(report) => match report.get(&self.metric) {
                Some(value) if value.is_finite() => Ok(value),
                Some(value) => Err(Some(format!("{} is {value}", self.metric))),
                None => Err(Some(format!(
                    "the evaluation has no `{}` (it has {})",
                    self.metric,
                    report.to_map().into_keys().collect::<Vec<_>>().join(", ")
                ))),
            },
            Err(EvalError::Cancelled) => Err(None),
            Err(e) => Err(Some(e.to_string())),
        }
    }
}

/// A failed trial's outcome, with the error's message.
fn failed(error: impl std::fmt::Display) -> TrialOutcome {
    TrialOutcome::Failed {
        error: error.to_string(),
    }
}
