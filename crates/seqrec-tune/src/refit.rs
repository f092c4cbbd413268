//! The end of a search: the best settings and the starting settings, each
//! refitted with every seed of the preset on the full split and measured
//! once on test, compared by the runner's paired tests over per-user test
//! MRR@20 (Wilcoxon signed-rank and a paired bootstrap interval). This is
//! the only place the test split is used.

use crate::TuneError;
use seqrec_core::{Cancel, Part, Scorer, Split};
use seqrec_metrics::{EvalConfig, EvalReport, Metric, evaluate};
use seqrec_runner::config::MethodSettings;
use seqrec_runner::report::{PairedTest, paired_test};
use seqrec_runner::{Compute, Method, SignificanceSettings};
use serde::Serialize;
use std::collections::BTreeMap;
use std::time::Instant;

/// One setting's test results over the seeds.
#[derive(Clone, Debug, Serialize)]
pub struct TestedSettings {
    /// Test metrics, mean over seeds.
    pub test: BTreeMap<String, f64>,
    pub fit_seconds: f64,
    /// Each user's MRR@20, mean over seeds (for the paired tests).
    #[serde(skip)]
    pub per_user: BTreeMap<u32, f64>,
}

/// Tuned against starting settings on test.
#[derive(Clone, Debug, Serialize)]
pub struct FinalComparison {
    pub seeds: Vec<u64>,
    pub best_trial: u64,
    pub tuned: TestedSettings,
    pub start: TestedSettings,
    /// `None` when the best trial is the starting settings.
    pub test: Option<PairedTest>,
    /// Significant only where both tests agree: Wilcoxon's p below alpha
    /// and a bootstrap interval that excludes zero.
    pub significant: Option<bool>,
    /// The level of the Wilcoxon test.
    pub alpha: f64,
}

/// Fits `settings` with each seed on `split` and measures test.
fn fit_and_test(
    method: Method,
    settings: &MethodSettings,
    split: &Split,
    evaluation: &EvalConfig,
    compute: Compute,
    seeds: &[u64],
    cancel: &Cancel,
) -> Result<TestedSettings, TuneError> {
    let mut sums: BTreeMap<String, f64> = BTreeMap::new();
    let mut per_user: BTreeMap<u32, f64> = BTreeMap::new();
    let started = Instant::now();
    let failed = |message: String| TuneError::Trial {
        number: 0,
        message: format!("refit on test: {message}"),
    };
    for &seed in seeds {
        let scorer: Box<dyn Scorer + Send> = match method {
            Method::Baseline(b) => Box::new(
                b.fit_state_with_cancel(&settings.baselines, split, seed, cancel)
                    .map_err(|e| failed(e.to_string()))?,
            ),
            Method::Gru(variant) => {
                let mut options = compute.train_options(None, false, None);
                options.cancel = Some(cancel.clone());
                Box::new(
                    seqrec_models::fit(variant, &settings.gru, split, seed, &options)
                        .map_err(|e| failed(e.to_string()))?
                        .scorer,
                )
            }
        };
        let config = EvalConfig {
            cancel: Some(cancel.clone()),
            ..evaluation.clone()
        };
        let report = evaluate(scorer.as_ref(), split, Part::Test, &config, None)
            .map_err(|e| failed(e.to_string()))?;
        for (key, value) in report.to_map() {
            *sums.entry(key).or_default() += value;
        }
        for (user, value) in mrr20_by_user(&report) {
            *per_user.entry(user).or_default() += value;
        }
    }
    let n = seeds.len().max(1) as f64;
    Ok(TestedSettings {
        test: sums.into_iter().map(|(k, v)| (k, v / n)).collect(),
        fit_seconds: started.elapsed().as_secs_f64(),
        per_user: per_user.into_iter().map(|(u, v)| (u, v / n)).collect(),
    })
}

fn mrr20_by_user(report: &EvalReport) -> Vec<(u32, f64)> {
    let values = report.per_user_values(Metric::Mrr, 20).unwrap_or_default();
    report
        .per_user
        .iter()
        .zip(values)
        .map(|(u, v)| (u.user.0, v))
        .collect()
}

/// Refits both settings and compares them on test.
#[allow(clippy::too_many_arguments)]
pub fn compare_on_test(
    method: Method,
    split: &Split,
    evaluation: &EvalConfig,
    compute: Compute,
    seeds: &[u64],
    (start, tuned): (&MethodSettings, &MethodSettings),
    best_trial: u64,
    significance: &SignificanceSettings,
    cancel: &Cancel,
) -> Result<FinalComparison, TuneError> {
    let start_result = fit_and_test(method, start, split, evaluation, compute, seeds, cancel)?;
    let same = best_trial == 0 || start == tuned;
    let tuned_result = if same {
        start_result.clone()
    } else {
        fit_and_test(method, tuned, split, evaluation, compute, seeds, cancel)?
    };
    let test = if same {
        None
    } else {
        Some(
            paired_test(&tuned_result.per_user, &start_result.per_user, significance).map_err(
                |message| TuneError::Trial {
                    number: best_trial,
                    message,
                },
            )?,
        )
    };
    let significant = test.as_ref().map(|t| {
        let interval_excludes_zero = t.bootstrap.low > 0.0 || t.bootstrap.high < 0.0;
        t.wilcoxon.p_value < significance.alpha && interval_excludes_zero
    });
    Ok(FinalComparison {
        seeds: seeds.to_vec(),
        best_trial,
        tuned: tuned_result,
        start: start_result,
        test,
        significant,
        alpha: significance.alpha,
    })
}
