//! Tolerances of `reproduce --check`: how far a re-run may move each
//! metric before the regression check names the cell.

use crate::RunnerError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Absolute tolerances per metric key (`mrr@20`, `recall@20_macro`, ...;
/// `"*"` for every other compared key), separately for the baselines and
/// for the GRUs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CheckTolerances {
    /// The metrics compared (keys of a cell's `metrics`).
    pub metrics: Vec<String>,
    /// Baselines are deterministic given the seed: by default only float
    /// formatting noise is tolerated.
    pub baselines: BTreeMap<String, f64>,
    /// GRUs: matrix kernels may sum in another order on another CPU.
    pub grus: BTreeMap<String, f64>,
}

impl Default for CheckTolerances {
    fn default() -> Self {
        CheckTolerances {
            metrics: [
                "mrr@20",
                "recall@20",
                "ndcg@20",
                "mrr@20_macro",
                "recall@20_macro",
            ]
            .map(String::from)
            .to_vec(),
            baselines: BTreeMap::from([("*".to_owned(), 1e-9)]),
            grus: BTreeMap::from([("*".to_owned(), 1e-6)]),
        }
    }
}

impl CheckTolerances {
    /// The tolerance of `metric` for a GRU (`gru = true`) or a baseline.
    pub fn tolerance(&self, metric: &str, gru: bool) -> f64 {
        let table = if gru { &self.grus } else { &self.baselines };
        table
            .get(metric)
            .or_else(|| table.get("*"))
            .copied()
            .unwrap_or(0.0)
    }

    /// Every key must name a metric at one of the evaluated cutoffs.
    pub fn validate(&self, cutoffs: &[usize]) -> Result<(), RunnerError> {
        let known = |key: &str| -> bool {
            let key = key.strip_suffix("_macro").unwrap_or(key);
            let Some((name, k)) = key.split_once('@') else {
                return false;
            };
            ["mrr", "recall", "ndcg"].contains(&name)
                && k.parse::<usize>().is_ok_and(|k| cutoffs.contains(&k))
        };
        for key in &self.metrics {
            if !known(key) {
                return Err(RunnerError::Config(format!(
                    "[check] metrics: `{key}` is not a metric at an evaluated cutoff (e.g. `mrr@20`, `recall@10_macro`)"
                )));
            }
        }
        for (table, values) in [("baselines", &self.baselines), ("grus", &self.grus)] {
            for (key, value) in values {
                if key != "*" && !known(key) {
                    return Err(RunnerError::Config(format!(
                        "[check.{table}]: `{key}` is not a metric at an evaluated cutoff"
                    )));
                }
                if !(value.is_finite() && *value >= 0.0) {
                    return Err(RunnerError::Config(format!(
                        "[check.{table}] `{key}` = {value}: a tolerance must be finite and non-negative"
                    )));
                }
            }
        }
        Ok(())
    }
}
