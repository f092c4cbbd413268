//! The final report of a finished study: `final.json` (the test
//! comparison) and `summary.md` (what was searched, what it cost, the best
//! settings, tuned against starting settings on test).

use crate::TuneError;
use crate::refit::FinalComparison;
use crate::report::describe;
use crate::study::StudyPlan;
use crate::trial::{TrialRecord, TrialState, best};
use std::fmt::Write as _;
use std::path::Path;

/// The cost of a study: summed fit and evaluation time of its trials, and
/// the wall time from the first start to the last finish.
pub fn cost(trials: &[TrialRecord]) -> (f64, f64) {
    let compute: f64 = trials
        .iter()
        .map(|t| t.fit_seconds.unwrap_or(0.0) + t.eval_seconds.unwrap_or(0.0))
        .sum();
    let first = trials.iter().map(|t| t.started_ms).min().unwrap_or(0);
    let last = trials
        .iter()
        .filter_map(|t| t.finished_ms)
        .max()
        .unwrap_or(first);
    (compute, last.saturating_sub(first) as f64 / 1000.0)
}

pub fn write_final(
    out: &Path,
    plan: &StudyPlan,
    trials: &[TrialRecord],
    comparison: &FinalComparison,
) -> Result<(), TuneError> {
    let json = serde_json::to_string_pretty(comparison)
        .map_err(|e| TuneError::io(&out.join("final.json"), e))?;
    let path = out.join("final.json");
    seqrec_core::fs::write_atomic(&path, json.as_bytes()).map_err(|e| TuneError::io(&path, e))?;
    let path = out.join("summary.md");
    let text = summary(plan, trials, comparison);
    seqrec_core::fs::write_atomic(&path, text.as_bytes()).map_err(|e| TuneError::io(&path, e))
}

fn summary(plan: &StudyPlan, trials: &[TrialRecord], comparison: &FinalComparison) -> String {
    let d = &plan.definition;
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let (compute, wall) = cost(trials);
    let mut text = format!(
        "# Study `{}`: {} on {}\n\nSampler {:?}, pruner {:?}, seed {}; objective: validation {} (maximised).\n\n",
        d.name, d.method, d.dataset, d.sampler, d.pruner, d.seed, d.metric
    );
    let _ = writeln!(
        text,
        "{} trials: {} complete, {} pruned, {} failed. Trial fits and validations took {:.0} s in all; the study ran for {:.0} s of wall time.\n",
        trials.len(),
        count(TrialState::Complete),
        count(TrialState::Pruned),
        count(TrialState::Failed),
        compute,
        wall
    );
    let start_value = trials.iter().find(|t| t.number == 0).and_then(|t| t.value);
    let best = best(trials);
    if let Some(b) = best {
        let _ = writeln!(
            text,
            "Best: trial {} ({}), validation {} = {:.5}.\n",
            b.number,
            describe(&b.params),
            d.metric,
            b.value.unwrap_or(f64::NAN)
        );
    }
    let seeds: Vec<String> = comparison.seeds.iter().map(u64::to_string).collect();
    let _ = writeln!(
        text,
        "Refitted with seeds {} on the training split and measured once on test:\n",
        seeds.join(", ")
    );
    text.push_str("| settings | validation | test MRR@20 | test Recall@20 | refit seconds |\n|---|---|---|---|---|\n");
    let metric = |m: &std::collections::BTreeMap<String, f64>, k: &str| {
        m.get(k).map_or("-".to_owned(), |v| format!("{v:.5}"))
    };
    let value = |v: Option<f64>| v.map_or("-".to_owned(), |v| format!("{v:.5}"));
    let _ = writeln!(
        text,
        "| starting (trial 0) | {} | {} | {} | {:.0} |",
        value(start_value),
        metric(&comparison.start.test, "mrr@20"),
        metric(&comparison.start.test, "recall@20"),
        comparison.start.fit_seconds
    );
    let _ = writeln!(
        text,
        "| tuned (trial {}) | {} | {} | {} | {:.0} |\n",
        comparison.best_trial,
        value(best.and_then(|b| b.value)),
        metric(&comparison.tuned.test, "mrr@20"),
        metric(&comparison.tuned.test, "recall@20"),
        comparison.tuned.fit_seconds
    );
    match (&comparison.test, comparison.significant) {
        (Some(t), Some(significant)) => {
            let _ = writeln!(
                text,
                "Tuned vs starting, per-user test MRR@20 over {} users: Wilcoxon signed-rank p = {:.4}; mean difference {:+.5}, {:.0}% bootstrap interval [{:+.5}, {:+.5}]. {} (a difference counts only when p < {} and the interval excludes zero).",
                t.users,
                t.wilcoxon.p_value,
                t.bootstrap.mean_difference,
                t.bootstrap.confidence * 100.0,
                t.bootstrap.low,
                t.bootstrap.high,
                if significant {
                    "Significant"
                } else {
                    "Not significant"
                },
                comparison.alpha
            );
        }
        _ => text.push_str("The best trial is the starting settings: nothing to compare.\n"),
    }
    text
}
