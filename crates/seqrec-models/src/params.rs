//! Hyperparameters of GRU training (specification §4.5, Table 1 by default), one
//! typed struct shared by the four variants; the variant is the method.

use crate::GruError;
use crate::cell::{Threshold, UserIntegration};
use crate::lanes::LaneSwitch;
use serde::{Deserialize, Serialize};

/// The four GRU recommenders by method name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum GruVariant {
    Gru,
    LinearUserGru,
    RectifiedUserGru,
    AttentionalUserGru,
}

impl GruVariant {
    pub const ALL: [GruVariant; 4] = [
        GruVariant::Gru,
        GruVariant::LinearUserGru,
        GruVariant::RectifiedUserGru,
        GruVariant::AttentionalUserGru,
    ];

    /// `gru`, `linear-user-gru`, `rectified-user-gru`, `attentional-user-gru`.
    pub fn name(self) -> &'static str {
        match self {
            GruVariant::Gru => "gru",
            GruVariant::LinearUserGru => "linear-user-gru",
            GruVariant::RectifiedUserGru => "rectified-user-gru",
            GruVariant::AttentionalUserGru => "attentional-user-gru",
        }
    }

    /// The variant called `name`.
    pub fn parse(name: &str) -> Result<Self, GruError> {
        GruVariant::ALL
            .into_iter()
            .find(|v| v.name() == name)
            .ok_or_else(|| GruError::Unknown {
                kind: "GRU method",
                name: name.to_owned(),
                known: "gru, linear-user-gru, rectified-user-gru, attentional-user-gru",
            })
    }

    /// How the user enters the cell.
    pub fn integration(self) -> UserIntegration {
        match self {
            GruVariant::Gru => UserIntegration::None,
            GruVariant::LinearUserGru => UserIntegration::Linear,
            GruVariant::RectifiedUserGru => UserIntegration::Rectified,
            GruVariant::AttentionalUserGru => UserIntegration::Attentional,
        }
    }
}

/// Training hyperparameters; every default is specification §4.5 / Table 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GruParams {
    /// n: hidden size = embedding size.
    pub hidden: usize,
    /// B: parallel lanes (fewer when there are fewer users).
    pub lanes: usize,
    /// Steps per truncated-BPTT window.
    pub window: usize,
    pub epochs: usize,
    /// Stop after this many epochs without a better validation MRR@20 (off
    /// by default: all epochs run, the best is kept).
    pub patience: Option<usize>,
    pub learning_rate: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
    /// Global L2 norm the gradients are clipped to.
    pub clip_norm: f64,
    /// Keep probability of item-embedding dropout.
    pub item_keep: f64,
    /// Keep probability of user-embedding dropout.
    pub user_keep: f64,
    /// Weight of the L2 term on looked-up user rows.
    pub user_l2: f64,
    /// Also penalise the user-side weight blocks of the cell (an option; off in the spec).
    pub user_l2_weights: bool,
    /// Weights and biases start uniform in [-init_range, init_range].
    pub init_range: f64,
    /// The attention gate's start range (so ξ ≈ 0.5).
    pub attention_init_range: f64,
    /// ω of the rectified filter.
    pub omega: f64,
    pub threshold: Threshold,
    /// τ of the soft threshold.
    pub temperature: f64,
    pub lane_switch: LaneSwitch,
    /// Rows of the output layer computed at once (0: chosen from the
    /// catalogue size so one chunk's logits stay near 64 MiB on the CPU,
    /// near a sixteenth of the device's memory, up to 4 GiB, on a GPU).
    pub output_chunk_rows: usize,
    /// Refuse runs whose estimated peak exceeds this (default: the machine's
    /// available memory on CPU; no limit on a GPU unless set).
    pub memory_limit_gib: Option<f64>,
    /// Queries per scoring batch in evaluation.
    pub eval_batch: usize,
}

impl Default for GruParams {
    fn default() -> Self {
        GruParams {
            hidden: 1000,
            lanes: 1000,
            window: 20,
            epochs: 10,
            patience: None,
            learning_rate: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-8,
            clip_norm: 5.0,
            item_keep: 0.8,
            user_keep: 0.5,
            user_l2: 0.01,
            user_l2_weights: false,
            init_range: 0.1,
            attention_init_range: 0.01,
            omega: 0.2,
            threshold: Threshold::Hard,
            temperature: 0.1,
            lane_switch: LaneSwitch::Window,
            output_chunk_rows: 0,
            memory_limit_gib: None,
            eval_batch: 1024,
        }
    }
}

impl GruParams {
    /// Parses and validates TOML; unknown keys are an error naming the key.
    pub fn from_toml(text: &str) -> Result<Self, GruError> {
        let params: GruParams = toml::from_str(text).map_err(|e| GruError::Toml(e.to_string()))?;
        params.validate()?;
        Ok(params)
    }

    /// Checks every field's domain.
    pub fn validate(&self) -> Result<(), GruError> {
        let bad = |m: String| Err(GruError::InvalidParams(m));
        for (name, v) in [
            ("hidden", self.hidden),
            ("lanes", self.lanes),
            ("window", self.window),
            ("epochs", self.epochs),
            ("eval_batch", self.eval_batch),
        ] {
            if v == 0 {
                return bad(format!("{name} must be positive"));
            }
        }
        if self.patience == Some(0) {
            return bad("patience must be positive when set".into());
        }
        for (name, v) in [
            ("learning_rate", self.learning_rate),
            ("epsilon", self.epsilon),
            ("clip_norm", self.clip_norm),
            ("init_range", self.init_range),
            ("attention_init_range", self.attention_init_range),
            ("temperature", self.temperature),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return bad(format!("{name} must be a positive number, got {v}"));
            }
        }
        for (name, v) in [("beta1", self.beta1), ("beta2", self.beta2)] {
            if !(0.0..1.0).contains(&v) {
                return bad(format!("{name} must be in [0, 1), got {v}"));
            }
        }
        for (name, v) in [("item_keep", self.item_keep), ("user_keep", self.user_keep)] {
            if !(v > 0.0 && v <= 1.0) {
                return bad(format!("{name} must be in (0, 1], got {v}"));
            }
        }
        if !(self.user_l2.is_finite() && self.user_l2 >= 0.0) {
            return bad(format!("user_l2 must be ≥ 0, got {}", self.user_l2));
        }
        if !(0.0..=1.0).contains(&self.omega) {
            return bad(format!("omega must be in [0, 1], got {}", self.omega));
        }
        if let Some(limit) = self.memory_limit_gib
            && !(limit.is_finite() && limit > 0.0)
        {
            return bad(format!("memory_limit_gib must be positive, got {limit}"));
        }
        Ok(())
    }

    /// Output-layer rows per chunk for a catalogue of `items` on the CPU
    /// (one chunk near 64 MiB).
    pub fn chunk_rows(&self, items: usize) -> usize {
        self.chunk_rows_within(items, CPU_OUTPUT_CHUNK_BYTES)
    }

    /// Output-layer rows per chunk for a catalogue of `items` when one
    /// chunk may take `budget` bytes (`output_chunk_rows` wins if set).
    pub fn chunk_rows_within(&self, items: usize, budget: u64) -> usize {
        if self.output_chunk_rows > 0 {
            return self.output_chunk_rows;
        }
        // Logits, probabilities and their gradient: 3 floats per entry.
        let rows = budget / (12 * items.max(1) as u64);
        (rows.min(8192) as usize).max(16)
    }
}

/// One output chunk's bytes on the CPU: it stays in cache-friendly sizes
/// and leaves the machine's memory to the data.
pub const CPU_OUTPUT_CHUNK_BYTES: u64 = 64 << 20;

/// One output chunk's bytes on a GPU with `memory` bytes (None: unknown):
/// a sixteenth of it, between 64 MiB and 4 GiB. A GPU runs a few large
/// products far faster than many thin ones — on a LastFM-size catalogue
/// (500,000 items) the CPU's 64 MiB would be 16-row chunks, 1,250 per
/// window — while the chunk, with burn's temporaries, stays a small share
/// of the device.
pub fn gpu_output_chunk_bytes(memory: Option<u64>) -> u64 {
    match memory {
        Some(m) => (m / 16).clamp(CPU_OUTPUT_CHUNK_BYTES, 4 << 30),
        None => CPU_OUTPUT_CHUNK_BYTES,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_chunks_are_sized_by_where_they_run() {
        let p = GruParams::default();
        let gib = 1u64 << 30;
        // The CPU: 64 MiB of 3 floats per entry.
        assert_eq!(p.chunk_rows(10_677), (64 << 20) / (12 * 10_677));
        assert_eq!(p.chunk_rows(500_000), 16, "at least 16 rows");
        // A GPU: a sixteenth of its memory, between 64 MiB and 4 GiB.
        assert_eq!(gpu_output_chunk_bytes(Some(141 * gib)), 4 * gib);
        assert_eq!(gpu_output_chunk_bytes(Some(8 * gib)), gib / 2);
        assert_eq!(gpu_output_chunk_bytes(Some(100 << 20)), 64 << 20);
        assert_eq!(gpu_output_chunk_bytes(None), 64 << 20);
        assert_eq!(p.chunk_rows_within(500_000, 4 * gib), 715);
        assert_eq!(p.chunk_rows_within(10_677, 4 * gib), 8192, "at most 8192");
        // An explicit setting wins everywhere.
        let fixed = GruParams {
            output_chunk_rows: 100,
            ..GruParams::default()
        };
        assert_eq!(fixed.chunk_rows_within(500_000, 4 * gib), 100);
        let cpu = crate::Backend::Flex.open(None).expect("flex");
        assert_eq!(cpu.info.output_chunk_bytes(), 64 << 20);
    }

    #[test]
    fn defaults_are_table_1() {
        let p = GruParams::default();
        assert_eq!(
            (p.hidden, p.lanes, p.window, p.epochs),
            (1000, 1000, 20, 10)
        );
        assert_eq!((p.learning_rate, p.clip_norm), (1e-3, 5.0));
        assert_eq!((p.item_keep, p.user_keep, p.user_l2), (0.8, 0.5, 0.01));
        assert_eq!((p.beta1, p.beta2, p.epsilon), (0.9, 0.999, 1e-8));
        assert_eq!(p.threshold, Threshold::Hard);
        assert_eq!(p.lane_switch, LaneSwitch::Window);
        assert_eq!(p.patience, None);
        p.validate().unwrap();
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected_by_name() {
        let e = GruParams::from_toml("hiden = 10\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("hiden"), "{e}");
        let e = GruParams::from_toml("item_keep = 0.0\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("item_keep"), "{e}");
        let e = GruParams::from_toml("threshold = \"fuzzy\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("fuzzy"), "{e}");
        let p = GruParams::from_toml("hidden = 64\nthreshold = \"soft\"\nlane_switch = \"step\"\n")
            .unwrap();
        assert_eq!(p.hidden, 64);
        assert_eq!(p.threshold, Threshold::Soft);
        assert_eq!(p.lane_switch, LaneSwitch::Step);
    }

    #[test]
    fn variants_round_trip_their_names() {
        for v in GruVariant::ALL {
            assert_eq!(GruVariant::parse(v.name()).unwrap(), v);
        }
        assert!(
            GruVariant::parse("lstm")
                .unwrap_err()
                .to_string()
                .contains("lstm")
        );
    }
}
