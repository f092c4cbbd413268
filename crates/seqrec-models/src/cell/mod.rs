//! The recurrent cells of specification §4.1–4.4: one GRU skeleton with the user
//! integration as a variant, not four copies.
//!
//! Notation as in the spec: `T(x) = W x + b` is an affine map with its own
//! W and b each time it appears; the reset gate multiplies h *before* its
//! transformation (Chung et al. 2014), not after (the cuDNN form).

use burn::config::Config;
use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, Tensor, TensorData};
use seqrec_core::SeqRng;
use serde::{Deserialize, Serialize};

/// How the user embedding enters the cell.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserIntegration {
    /// Standard GRU, no user (§4.1).
    #[default]
    None,
    /// e_v as an extra input of the gates and the candidate (§4.2).
    Linear,
    /// e_v filtered by two learned thresholds (§4.3).
    Rectified,
    /// A gate ξ mixes item and user embeddings (§4.4).
    Attentional,
}

/// The threshold step of the rectified filter.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Threshold {
    /// The paper's comparisons: the thresholds receive no gradient (spec decision).
    #[default]
    Hard,
    /// A sigmoid of temperature τ instead of each step, so the thresholds
    /// learn. An extension, never reported as the paper's model.
    Soft,
}

/// Configuration of a [`GruCell`]; defaults are specification §4 / Table 1.
#[derive(Config, Debug)]
pub struct GruCellConfig {
    /// n: hidden size = embedding size.
    pub hidden: usize,
    #[config(default = "UserIntegration::None")]
    pub integration: UserIntegration,
    /// Weights and biases start uniform in [-init_range, init_range].
    #[config(default = 0.1)]
    pub init_range: f64,
    /// The attention gate starts uniform in this smaller range, so ξ ≈ 0.5.
    #[config(default = 0.01)]
    pub attention_init_range: f64,
    /// ω of the rectified filter.
    #[config(default = 0.2)]
    pub omega: f64,
    #[config(default = "Threshold::Hard")]
    pub threshold: Threshold,
    /// τ of the soft threshold.
    #[config(default = 0.1)]
    pub temperature: f64,
}

/// One GRU step with optional user integration.
#[derive(Module, Debug)]
pub struct GruCell {
    /// [u; r] = σ(T([h; x; v])): inputs 2n (no user) or 3n, outputs 2n.
    pub gates: Linear,
    /// T(r * h) in the candidate.
    pub candidate_hidden: Linear,
    /// T(x) in the candidate (x = e_i, or a_i).
    pub candidate_item: Linear,
    /// T(v) in the candidate (v = e_v, f or a_v).
    pub candidate_user: Option<Linear>,
    /// [κ1; κ2] = T([h; e_i; e_v]) of the rectified filter.
    pub thresholds: Option<Linear>,
    /// ξ = σ(T(h) + T(e_i) + T(e_v)) of the attentional cell.
    pub attention_hidden: Option<Linear>,
    pub attention_item: Option<Linear>,
    pub attention_user: Option<Linear>,
    #[module(skip)]
    pub settings: CellSettings,
}

/// The non-learned settings a cell keeps.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct CellSettings {
    pub hidden: usize,
    pub integration: UserIntegration,
    pub omega: f64,
    pub threshold: Threshold,
    pub temperature: f64,
}

impl GruCellConfig {
    /// Builds the cell on `device` with the spec's initialisation, drawn
    /// from `SeqRng::new(0)`.
    pub fn init(&self, device: &Device) -> GruCell {
        self.init_seeded(device, &mut SeqRng::new(0))
    }

    /// Builds the cell with weights drawn from `rng` (the same numbers on
    /// every backend, so a seed means one initial model everywhere).
    pub fn init_seeded(&self, device: &Device, rng: &mut SeqRng) -> GruCell {
        let n = self.hidden;
        let mut linear = |inputs: usize, outputs: usize, range: f64| {
            uniform_linear(inputs, outputs, range, rng, device)
        };
        let r = self.init_range;
        let with_user = self.integration != UserIntegration::None;
        let attention = self.integration == UserIntegration::Attentional;
        let rectified = self.integration == UserIntegration::Rectified;
        let a = self.attention_init_range;
        // Built in a fixed order so the draws from `rng` never depend on layout.
        let gates = linear(if with_user { 3 * n } else { 2 * n }, 2 * n, r);
        let candidate_hidden = linear(n, n, r);
        let candidate_item = linear(n, n, r);
        let candidate_user = with_user.then(|| linear(n, n, r));
        let thresholds = rectified.then(|| linear(3 * n, 2 * n, r));
        let attention_hidden = attention.then(|| linear(n, n, a));
        let attention_item = attention.then(|| linear(n, n, a));
        let attention_user = attention.then(|| linear(n, n, a));
        GruCell {
            gates,
            candidate_hidden,
            candidate_item,
            candidate_user,
            thresholds,
            attention_hidden,
            attention_item,
            attention_user,
            settings: CellSettings {
                hidden: n,
                integration: self.integration,
                omega: self.omega,
                threshold: self.threshold,
                temperature: self.temperature,
            },
        }
    }
}

/// A tensor of `shape` with entries uniform in [-range, range] from `rng`.
pub fn uniform_tensor<const D: usize>(
    shape: [usize; D],
    range: f64,
    rng: &mut SeqRng,
    device: &Device,
) -> Tensor<D> {
    let count: usize = shape.iter().product();
    let values: Vec<f32> = (0..count)
        .map(|_| ((rng.next_f64() * 2.0 - 1.0) * range) as f32)
        .collect();
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// y = x W + b with W `[inputs × outputs]` and b uniform in [-range, range].
pub fn uniform_linear(
    inputs: usize,
    outputs: usize,
    range: f64,
    rng: &mut SeqRng,
    device: &Device,
) -> Linear {
    Linear {
        weight: Param::from_tensor(uniform_tensor([inputs, outputs], range, rng, device)),
        bias: Some(Param::from_tensor(uniform_tensor(
            [outputs],
            range,
            rng,
            device,
        ))),
    }
}

/// Applies an optional linear map (present whenever the variant needs it).
fn apply(layer: &Option<Linear>, x: Tensor<2>) -> Tensor<2> {
    match layer {
        Some(layer) => layer.forward(x),
        None => unreachable!("the cell was built without a layer its variant uses"),
    }
}

impl GruCell {
    /// The rectified filter f of §4.3, written as
    /// `f = e_v · step(e_v − κ1) · (ω + (1 − ω) · step(e_v − κ2))`:
    /// 0 below κ1, ω e_v between κ1 and κ2, e_v above both.
    pub fn rectify(&self, h: Tensor<2>, e_i: Tensor<2>, e_v: Tensor<2>) -> Tensor<2> {
        let kappa = apply(&self.thresholds, Tensor::cat(vec![h, e_i, e_v.clone()], 1));
        self.rectify_with(e_v, kappa)
    }

    /// The rectified filter given the thresholds `kappa` = [κ1; κ2].
    pub(crate) fn rectify_with(&self, e_v: Tensor<2>, kappa: Tensor<2>) -> Tensor<2> {
        let s = &self.settings;
        let n = s.hidden;
        let k1 = kappa.clone().narrow(1, 0, n);
        let k2 = kappa.narrow(1, n, n);
        let step = |x: Tensor<2>| -> Tensor<2> {
            match s.threshold {
                // A comparison: no gradient reaches the thresholds.
                Threshold::Hard => x.greater_equal_elem(0.0).float(),
                Threshold::Soft => sigmoid(x.div_scalar(s.temperature)),
            }
        };
        let lower = step(e_v.clone() - k1);
        let upper = step(e_v.clone() - k2);
        e_v * lower * (upper.mul_scalar(1.0 - s.omega).add_scalar(s.omega))
    }

    /// The attention gate ξ of §4.4.
    pub fn attention(&self, h: Tensor<2>, e_i: Tensor<2>, e_v: Tensor<2>) -> Tensor<2> {
        sigmoid(
            apply(&self.attention_hidden, h)
                + apply(&self.attention_item, e_i)
                + apply(&self.attention_user, e_v),
        )
    }

    /// One step: `h` `[batch × n]`, item embeddings `e_i` `[batch × n]`, user
    /// embeddings `e_v` `[batch × n]` (ignored by the standard GRU).
    pub fn forward(&self, h: Tensor<2>, e_i: Tensor<2>, e_v: Tensor<2>) -> Tensor<2> {
        let n = self.settings.hidden;
        // The inputs of gates and candidate: (x, v) per variant.
        let (x, v) = match self.settings.integration {
            UserIntegration::None => (e_i, None),
            UserIntegration::Linear => (e_i, Some(e_v)),
            UserIntegration::Rectified => {
                let f = self.rectify(h.clone(), e_i.clone(), e_v);
                (e_i, Some(f))
            }
            UserIntegration::Attentional => {
                let xi = self.attention(h.clone(), e_i.clone(), e_v.clone());
                let a_i = (xi.ones_like() - xi.clone()) * e_i;
                let a_v = xi * e_v;
                (a_i, Some(a_v))
            }
        };
        let gate_input = match &v {
            Some(v) => Tensor::cat(vec![h.clone(), x.clone(), v.clone()], 1),
            None => Tensor::cat(vec![h.clone(), x.clone()], 1),
        };
        let gates = sigmoid(self.gates.forward(gate_input));
        let u = gates.clone().narrow(1, 0, n);
        let r = gates.narrow(1, n, n);
        let mut pre = self.candidate_hidden.forward(r * h.clone()) + self.candidate_item.forward(x);
        if let Some(v) = v {
            pre = pre + apply(&self.candidate_user, v);
        }
        let k = pre.tanh();
        (u.ones_like() - u.clone()) * h + u * k
    }
}

pub(crate) mod batched;
#[cfg(test)]
mod tests;
mod window;

pub use batched::{ProjectedInputs, StepWeights};
pub use window::LaneResets;
