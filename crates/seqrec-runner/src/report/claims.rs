//! The paper's claims (specification §6), checked against one dataset's results.

use super::{CellSummary, Comparison, DatasetSummary};
use crate::Method;
use crate::paper::PaperColumn;
use seqrec_baselines::Baseline;
use seqrec_models::GruVariant;
use serde::{Deserialize, Serialize};

/// One claim and whether our numbers support it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub claim: String,
    /// `None` when a method it needs was not run.
    pub holds: Option<bool>,
    /// The numbers behind the verdict.
    pub evidence: String,
}

const PAPER_BASELINES: [Baseline; 4] = [
    Baseline::ItemKnn,
    Baseline::DecayKnn,
    Baseline::BprMf,
    Baseline::SeqMf,
];
const METRICS: [&str; 2] = ["mrr@20", "recall@20"];

/// Checks the four claims of specification §6 on one dataset (MRR@20 and Recall@20,
/// test means over seeds).
pub fn claims(
    dataset: &DatasetSummary,
    cells: &[CellSummary],
    comparisons: &[Comparison],
    alpha: f64,
) -> Vec<Claim> {
    let cell = |m: Method| cells.iter().find(|c| c.method == m);
    let grus: Vec<&CellSummary> = GruVariant::ALL
        .into_iter()
        .filter_map(|v| cell(Method::Gru(v)))
        .collect();
    let baselines: Vec<&CellSummary> = PAPER_BASELINES
        .into_iter()
        .filter_map(|b| cell(Method::Baseline(b)))
        .collect();
    let all_grus = grus.len() == GruVariant::ALL.len();
    let all_baselines = baselines.len() == PAPER_BASELINES.len();
    let mut out = Vec::new();

    // 1. Every GRU beats every baseline.
    out.push(if all_grus && all_baselines {
        let mut failures = Vec::new();
        for metric in METRICS {
            for g in &grus {
                for b in &baselines {
                    if g.metric(metric) <= b.metric(metric) {
                        failures.push(format!(
                            "{} {metric} {:.5} ≤ {} {:.5}",
                            g.method,
                            g.metric(metric),
                            b.method,
                            b.metric(metric)
                        ));
                    }
                }
            }
            }
        let worst_gru = |m: &str| grus.iter().map(|c| c.metric(m)).fold(f64::INFINITY, f64::min);
        let best_base = |m: &str| baselines.iter().map(|c| c.metric(m)).fold(f64::NEG_INFINITY, f64::max);
        Claim {
            claim: "every GRU beats every baseline".into(),
            holds: Some(failures.is_empty()),
            evidence: if failures.is_empty() {
                format!(
                    "weakest GRU {:.5} / {:.5} > strongest baseline {:.5} / {:.5} (MRR@20 / Recall@20)",
                    worst_gru("mrr@20"),
                    worst_gru("recall@20"),
                    best_base("mrr@20"),
                    best_base("recall@20")
                )
            } else {
                format!("{} of {} pairs fail, e.g. {}", failures.len(), 2 * grus.len() * baselines.len(), failures[0])
            },
        }
    } else {
        missing("every GRU beats every baseline")
    });

    // 2. Every user-based GRU beats the standard GRU.
    let standard = cell(Method::Gru(GruVariant::Gru));
    out.push(match (standard, all_grus) {
        (Some(standard), true) => {
            let mut parts = Vec::new();
            let mut holds = true;
            for g in grus.iter().filter(|g| g.method.is_user_based()) {
                let wins = METRICS.iter().all(|m| g.metric(m) > standard.metric(m));
                holds &= wins;
                let p = comparisons
                    .iter()
                    .find(|c| c.a == g.method && c.b == standard.method)
                    .map(|c| {
                        let verdict = if c.significant {
                            "significant: both tests agree"
                        } else if c.wilcoxon.p_value < alpha {
                            "not significant: the bootstrap interval contains 0"
                        } else {
                            "not significant"
                        };
                        format!(
                            ", Wilcoxon p = {:.3}, bootstrap [{:+.5}, {:+.5}] ({verdict} at {alpha})",
                            c.wilcoxon.p_value, c.bootstrap.low, c.bootstrap.high
                        )
                    })
                    .unwrap_or_default();
                parts.push(format!(
                    "{}: MRR@20 {:+.5}, Recall@20 {:+.5}{p}",
                    g.method,
                    g.metric("mrr@20") - standard.metric("mrr@20"),
                    g.metric("recall@20") - standard.metric("recall@20"),
                ));
            }
            Claim {
                claim: "every user-based GRU beats the standard GRU".into(),
                holds: Some(holds),
                evidence: parts.join("; "),
            }
        }
        _ => missing("every user-based GRU beats the standard GRU"),
    });

    // 3. Attentional is best, except LastFM MRR@20 where rectified is best.
    out.push(if all_grus && all_baselines {
        let contenders: Vec<&CellSummary> = grus.iter().chain(baselines.iter()).copied().collect();
        let mut holds = true;
        let mut parts = Vec::new();
        for metric in METRICS {
            let expected = if dataset.paper_column == PaperColumn::Lastfm && metric == "mrr@20" {
                Method::Gru(GruVariant::RectifiedUserGru)
            } else {
                Method::Gru(GruVariant::AttentionalUserGru)
            };
            let best = contenders
                .iter()
                .max_by(|a, b| a.metric(metric).total_cmp(&b.metric(metric)))
                .map(|c| c.method);
            holds &= best == Some(expected);
            parts.push(format!(
                "{metric}: best {} (paper: {expected})",
                best.map_or("-", |m| m.name())
            ));
        }
        Claim {
            claim: match dataset.paper_column {
                PaperColumn::Lastfm => {
                    "attentional GRU is best, except MRR@20 where rectified linear is best".into()
                }
                PaperColumn::Movielens => "attentional GRU is best".into(),
            },
            holds: Some(holds),
            evidence: parts.join("; "),
        }
    } else {
        missing("attentional GRU is best")
    });

    // 4. Exp.-decay kNN beats item-kNN.
    let knn = cell(Method::Baseline(Baseline::ItemKnn));
    let decay = cell(Method::Baseline(Baseline::DecayKnn));
    out.push(match (knn, decay) {
        (Some(knn), Some(decay)) => Claim {
            claim: "exp.-decay kNN beats item-kNN".into(),
            holds: Some(METRICS.iter().all(|m| decay.metric(m) > knn.metric(m))),
            evidence: format!(
                "decay-knn {:.5} / {:.5}, item-knn {:.5} / {:.5} (MRR@20 / Recall@20)",
                decay.metric("mrr@20"),
                decay.metric("recall@20"),
                knn.metric("mrr@20"),
                knn.metric("recall@20")
            ),
        },
        _ => missing("exp.-decay kNN beats item-kNN"),
    });
    out
}

fn missing(claim: &str) -> Claim {
    Claim {
        claim: claim.to_owned(),
        holds: None,
        evidence: "not every method it needs was run".into(),
    }
}
