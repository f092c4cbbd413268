//! The `[tune]` table: what a study optimises and how it searches.

use crate::TuneError;
use seqrec_baselines::Baseline;
use seqrec_runner::Method;
use serde::{Deserialize, Serialize};

/// How trials' settings are proposed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SamplerKind {
    /// Tree-structured Parzen estimator (Bergstra et al. 2011), with
    /// Optuna's published defaults.
    #[default]
    Tpe,
    Random,
    /// Every combination of the space's values, in key order.
    Grid,
}

/// Whether trials may be stopped early.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrunerKind {
    #[default]
    None,
    /// Asynchronous successive halving over epochs (GRUs).
    Asha,
}

/// Settings of the TPE sampler (`[tune.tpe]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TpeSettings {
    /// Trials drawn at random before the model takes over (Optuna: 10).
    pub startup_trials: u64,
    /// Candidates drawn from the good trials' density per proposal (24).
    pub candidates: usize,
}

impl Default for TpeSettings {
    fn default() -> Self {
        TpeSettings {
            startup_trials: 10,
            candidates: 24,
        }
    }
}

/// Settings of the ASHA pruner (`[tune.asha]`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AshaSettings {
    /// The first rung: epochs every trial runs.
    pub min_epochs: u64,
    /// η: rungs at min_epochs · η^k; the best 1/η of a rung go on.
    pub reduction_factor: u64,
    /// The methods pruned (default: every method that trains in epochs:
    /// the GRUs, BPR-MF and sequential MF); the others run every trial to
    /// the end.
    pub methods: Option<Vec<String>>,
}

impl AshaSettings {
    /// Whether trials of `method` are pruned.
    pub fn prunes(&self, method: Method) -> bool {
        trains_in_epochs(method)
            && self
                .methods
                .as_ref()
                .is_none_or(|names| names.iter().any(|n| n == method.name()))
    }
}

/// The GRUs, BPR-MF and sequential MF train in epochs the pruner can look
/// at; the kNN methods and POP fit in one pass.
pub fn trains_in_epochs(method: Method) -> bool {
    match method {
        Method::Gru(_) => true,
        Method::Baseline(b) => matches!(b, Baseline::BprMf | Baseline::SeqMf),
    }
}

impl Default for AshaSettings {
    fn default() -> Self {
        AshaSettings {
            min_epochs: 1,
            reduction_factor: 3,
            methods: None,
        }
    }
}

/// `[tune]`: everything of a study but the search space's entries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TuneSettings {
    /// The validation metric maximised: `mrr@20`, `recall@10`,
    /// `ndcg@20_macro`, ... (a cutoff of the evaluation).
    #[serde(default = "default_metric")]
    pub metric: String,
    /// Trials of the study, trial 0 (the starting settings) included.
    #[serde(default = "default_trials")]
    pub trials: u64,
    #[serde(default)]
    pub sampler: SamplerKind,
    /// Seed of the sampler (and of every trial's fit where the file is not
    /// a preset with seeds).
    #[serde(default = "default_seed")]
    pub seed: u64,
    #[serde(default)]
    pub pruner: PrunerKind,
    #[serde(default)]
    pub tpe: TpeSettings,
    #[serde(default)]
    pub asha: AshaSettings,
    /// `[tune.space.<table>]`: read by [`crate::space::Space`].
    #[serde(default)]
    pub space: toml::Table,
}

fn default_metric() -> String {
    "mrr@20".into()
}

fn default_trials() -> u64 {
    20
}

fn default_seed() -> u64 {
    2017
}

impl TuneSettings {
    /// The `[tune]` table of a preset or settings file's text.
    pub fn from_toml(text: &str) -> Result<TuneSettings, TuneError> {
        let mut table: toml::Table =
            toml::from_str(text).map_err(|e| TuneError::config("the file", e.to_string()))?;
        let Some(tune) = table.remove("tune") else {
            return Err(TuneError::config(
                "[tune]",
                "missing: the file has no [tune] table with the search space ([tune.space.<table>])",
            ));
        };
        let settings: TuneSettings = tune
            .try_into()
            .map_err(|e: toml::de::Error| TuneError::config("[tune]", e.to_string().trim()))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what the types cannot (the metric against the cutoffs comes
    /// with [`TuneSettings::check_metric`]).
    pub fn validate(&self) -> Result<(), TuneError> {
        if self.trials == 0 {
            return Err(TuneError::config("[tune] trials", "must be at least 1"));
        }
        if self.asha.reduction_factor < 2 {
            return Err(TuneError::config(
                "[tune.asha] reduction_factor",
                "must be at least 2",
            ));
        }
        if self.asha.min_epochs == 0 {
            return Err(TuneError::config(
                "[tune.asha] min_epochs",
                "must be at least 1",
            ));
        }
        for name in self.asha.methods.iter().flatten() {
            let method = Method::parse(name)
                .map_err(|e| TuneError::config("[tune.asha] methods", e.to_string()))?;
            if !trains_in_epochs(method) {
                return Err(TuneError::config(
                    "[tune.asha] methods",
                    format!("`{name}` fits in one pass, without epochs to prune at"),
                ));
            }
        }
        if self.tpe.candidates == 0 {
            return Err(TuneError::config(
                "[tune.tpe] candidates",
                "must be at least 1",
            ));
        }
        Ok(())
    }

    /// The metric is `<mrr|recall|ndcg>@k[_macro]` with k one of `cutoffs`.
    pub fn check_metric(&self, cutoffs: &[usize]) -> Result<(), TuneError> {
        let bad = |why: String| Err(TuneError::config("[tune] metric", why));
        let name = self.metric.strip_suffix("_macro").unwrap_or(&self.metric);
        let Some((metric, k)) = name.split_once('@') else {
            return bad(format!(
                "`{}` is not of the form mrr@20, recall@10 or ndcg@20_macro",
                self.metric
            ));
        };
        if !["mrr", "recall", "ndcg"].contains(&metric) {
            return bad(format!("unknown metric `{metric}` (mrr, recall or ndcg)"));
        }
        match k.parse::<usize>() {
            Ok(k) if cutoffs.contains(&k) => Ok(()),
            _ => bad(format!(
                "cutoff `{k}` is not one the evaluation computes ({cutoffs:?})"
            )),
        }
    }

    /// The per-epoch value a GRU's training reports for this metric, which
    /// the pruner compares (`None`: training validates another metric).
    pub fn epoch_metric(&self) -> Option<EpochMetric> {
        match self.metric.as_str() {
            "mrr@20" => Some(EpochMetric::Mrr20),
            "recall@20" => Some(EpochMetric::Recall20),
            _ => None,
        }
    }
}

/// What a GRU's per-epoch validation measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EpochMetric {
    Mrr20,
    Recall20,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_errors() {
        let s = TuneSettings::from_toml("[tune.space.gru]\n").expect("valid");
        assert_eq!(
            (s.metric.as_str(), s.trials, s.sampler),
            ("mrr@20", 20, SamplerKind::Tpe)
        );
        assert!(s.check_metric(&[5, 10, 20]).is_ok());
        let error = |text: &str| {
            TuneSettings::from_toml(text)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(error("[tune]\nsampler = \"cmaes\"\n").contains("cmaes"));
        assert!(error("[tune]\ntrails = 3\n").contains("trails"));
        assert!(error("[tune]\ntrials = 0\n").contains("at least 1"));
        assert!(error("[gru]\nhidden = 3\n").contains("[tune]"));
        let m = |metric: &str| TuneSettings {
            metric: metric.into(),
            ..TuneSettings::from_toml("[tune]\n").expect("valid")
        };
        assert!(m("ndcg@10_macro").check_metric(&[5, 10, 20]).is_ok());
        assert!(m("mrr@50").check_metric(&[5, 10, 20]).is_err());
        assert!(m("auc").check_metric(&[5, 10, 20]).is_err());
        assert_eq!(m("recall@20").epoch_metric(), Some(EpochMetric::Recall20));
        assert_eq!(m("ndcg@20").epoch_metric(), None);
    }

    #[test]
    fn asha_prunes_the_methods_that_train_in_epochs_or_those_listed() {
        let method = |name: &str| Method::parse(name).expect("method");
        let all = AshaSettings::default();
        for (name, pruned) in [
            ("gru", true),
            ("attentional-user-gru", true),
            ("bpr-mf", true),
            ("seq-mf", true),
            ("item-knn", false),
            ("decay-knn", false),
            ("pop", false),
        ] {
            assert_eq!(all.prunes(method(name)), pruned, "{name}");
        }
        let listed = TuneSettings::from_toml(
            "[tune.asha]
methods = [\"gru\", \"seq-mf\"]
",
        )
        .expect("valid")
        .asha;
        assert!(listed.prunes(method("gru")) && listed.prunes(method("seq-mf")));
        assert!(!listed.prunes(method("bpr-mf")) && !listed.prunes(method("linear-user-gru")));
        let error = |text: &str| TuneSettings::from_toml(text).err().map(|e| e.to_string());
        let knn = error("[tune.asha]\nmethods = [\"item-knn\"]\n").unwrap_or_default();
        assert!(
            knn.contains("[tune.asha] methods") && knn.contains("one pass"),
            "{knn}"
        );
        let typo = error("[tune.asha]\nmethods = [\"gur\"]\n").unwrap_or_default();
        assert!(typo.contains("gur"), "{typo}");
    }
}
