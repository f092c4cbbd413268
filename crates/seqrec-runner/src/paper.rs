//! The paper's published numbers (specification §6, Table 2), the reference every
//! run is put beside.

use crate::Method;
use seqrec_baselines::Baseline;
use seqrec_models::GruVariant;
use serde::{Deserialize, Serialize};

/// The paper's two dataset columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PaperColumn {
    /// MovieLens 10M.
    Movielens,
    /// LastFM 1K.
    Lastfm,
}

impl PaperColumn {
    pub fn label(self) -> &'static str {
        match self {
            PaperColumn::Movielens => "MovieLens",
            PaperColumn::Lastfm => "LastFM",
        }
    }

    /// The column a dataset is compared with when its entry does not say:
    /// LastFM for the LastFM data and its synthetic stand-in, MovieLens for
    /// everything else.
    pub fn for_dataset(name: &str) -> PaperColumn {
        if name.contains("lastfm") {
            PaperColumn::Lastfm
        } else {
            PaperColumn::Movielens
        }
    }
}

/// MRR@20 and Recall@20 of one Table 2 cell.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct PaperCell {
    #[serde(rename = "mrr@20")]
    pub mrr20: f64,
    #[serde(rename = "recall@20")]
    pub recall20: f64,
}

/// The paper's value of `method` in `column`; POP is not in the paper.
pub fn paper_cell(method: Method, column: PaperColumn) -> Option<PaperCell> {
    // (ML MRR, ML Recall, LastFM MRR, LastFM Recall), specification §6.
    let row: [f64; 4] = match method {
        Method::Baseline(Baseline::Pop) => return None,
        Method::Baseline(Baseline::ItemKnn) => [0.03639, 0.12142, 0.04438, 0.10126],
        Method::Baseline(Baseline::DecayKnn) => [0.04231, 0.12853, 0.05594, 0.16724],
        Method::Baseline(Baseline::BprMf) => [0.01192, 0.07744, 0.03289, 0.12723],
        Method::Baseline(Baseline::SeqMf) => [0.01550, 0.10730, 0.02769, 0.11224],
        Method::Gru(GruVariant::Gru) => [0.04730, 0.15773, 0.14374, 0.20269],
        Method::Gru(GruVariant::LinearUserGru) => [0.05251, 0.16028, 0.18252, 0.24920],
        Method::Gru(GruVariant::RectifiedUserGru) => [0.05901, 0.18697, 0.19154, 0.25409],
        Method::Gru(GruVariant::AttentionalUserGru) => [0.06255, 0.20540, 0.18731, 0.25485],
    };
    let (mrr20, recall20) = match column {
        PaperColumn::Movielens => (row[0], row[1]),
        PaperColumn::Lastfm => (row[2], row[3]),
    };
    Some(PaperCell { mrr20, recall20 })
}

/// Training tuples per second the paper reports on MovieLens (TensorFlow,
/// one K80 GPU).
pub fn paper_tuples_per_second(variant: GruVariant) -> f64 {
    match variant {
        GruVariant::Gru => 24_917.0,
        GruVariant::LinearUserGru => 22_887.0,
        GruVariant::RectifiedUserGru => 22_840.0,
        GruVariant::AttentionalUserGru => 22_822.0,
    }
}
