//! The methods a run can hold: the five classic baselines and the four GRUs.

use crate::RunnerError;
use seqrec_baselines::Baseline;
use seqrec_models::GruVariant;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One recommender of Table 2 (or the extra POP baseline).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Method {
    Baseline(Baseline),
    Gru(GruVariant),
}

impl Method {
    /// Every method in the row order of the paper's Table 2, POP first (it
    /// is not in the paper's table).
    pub const ALL: [Method; 9] = [
        Method::Baseline(Baseline::Pop),
        Method::Baseline(Baseline::ItemKnn),
        Method::Baseline(Baseline::DecayKnn),
        Method::Baseline(Baseline::BprMf),
        Method::Baseline(Baseline::SeqMf),
        Method::Gru(GruVariant::Gru),
        Method::Gru(GruVariant::LinearUserGru),
        Method::Gru(GruVariant::RectifiedUserGru),
        Method::Gru(GruVariant::AttentionalUserGru),
    ];

    /// The command-line name: `pop`, `item-knn`, ..., `attentional-user-gru`.
    pub fn name(self) -> &'static str {
        match self {
            Method::Baseline(b) => b.name(),
            Method::Gru(v) => v.name(),
        }
    }

    /// The row label of the paper's Table 2.
    pub fn label(self) -> &'static str {
        match self {
            Method::Baseline(Baseline::Pop) => "Most popular (POP, not in the paper)",
            Method::Baseline(Baseline::ItemKnn) => "Item-based kNN",
            Method::Baseline(Baseline::DecayKnn) => "Exp. dec. item-based kNN",
            Method::Baseline(Baseline::BprMf) => "Matrix factorisation (BPR)",
            Method::Baseline(Baseline::SeqMf) => "Sequential MF",
            Method::Gru(GruVariant::Gru) => "Standard GRU",
            Method::Gru(GruVariant::LinearUserGru) => "Linear user-based GRU",
            Method::Gru(GruVariant::RectifiedUserGru) => "Rectified linear user-based GRU",
            Method::Gru(GruVariant::AttentionalUserGru) => "Attentional user-based GRU",
        }
    }

    /// A label short enough for a plot axis.
    pub fn short(self) -> &'static str {
        match self {
            Method::Baseline(Baseline::Pop) => "POP",
            Method::Baseline(Baseline::ItemKnn) => "kNN",
            Method::Baseline(Baseline::DecayKnn) => "decay kNN",
            Method::Baseline(Baseline::BprMf) => "BPR-MF",
            Method::Baseline(Baseline::SeqMf) => "seq. MF",
            Method::Gru(GruVariant::Gru) => "GRU",
            Method::Gru(GruVariant::LinearUserGru) => "linear",
            Method::Gru(GruVariant::RectifiedUserGru) => "rectified",
            Method::Gru(GruVariant::AttentionalUserGru) => "attentional",
        }
    }

    /// The method called `name`.
    pub fn parse(name: &str) -> Result<Self, RunnerError> {
        Method::ALL
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| RunnerError::UnknownMethod(name.to_owned()))
    }

    pub fn is_gru(self) -> bool {
        matches!(self, Method::Gru(_))
    }

    /// Whether this is one of the three user-based GRUs.
    pub fn is_user_based(self) -> bool {
        matches!(self, Method::Gru(v) if v != GruVariant::Gru)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Method {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Method::parse(&name).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_errors() {
        for method in Method::ALL {
            assert_eq!(Method::parse(method.name()).ok(), Some(method));
        }
        let error = Method::parse("lstm").err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("lstm") && e.contains("attentional-user-gru")));
        assert_eq!(Method::ALL.iter().filter(|m| m.is_user_based()).count(), 3);
    }
}
