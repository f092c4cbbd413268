//! The same step as [`GruCell::forward`], arranged for speed as cuDNN-style
//! GRUs are: every product whose input does not depend on the hidden state
//! (the item and user parts of the gates and the candidate, of the rectified
//! thresholds κ and of the attention gate ξ) is done for many steps and lanes
//! at once ([`GruCell::project`]), and each step then does only the products
//! with h (and, where the variant needs them, with the h-dependent user
//! input), with the weight blocks sliced once ([`GruCell::step_weights`]).
//!
//! The mathematics is that of `forward`; only the order of the sums differs
//! (h W_h + x W_x instead of [h; x] W), so results agree to rounding. Tests
//! below compare the two, values and gradients.

use super::{GruCell, Threshold, UserIntegration};
use crate::Precision;
use crate::fused::WindowGather;
use burn::nn::Linear;
use burn::tensor::Tensor;
use burn::tensor::activation::sigmoid;

/// The state-independent parts of the pre-activations of many rows (lane
/// steps), as [`GruCell::project`] computes them; [`Self::rows`] takes one
/// step's rows.
#[derive(Clone, Debug)]
pub struct ProjectedInputs {
    /// Item (and, for the linear GRU, user) part of the gates plus their
    /// bias, `[rows × 2n]`. Absent for the attentional cell, whose gate
    /// inputs depend on h.
    gates: Option<Tensor<2>>,
    /// Item (and user) part of the candidate plus every candidate bias, `[rows × n]`.
    candidate: Option<Tensor<2>>,
    /// Rectified cell: item and user part of κ plus its bias, `[rows × 2n]`.
    thresholds: Option<Tensor<2>>,
    /// Attentional cell: item and user part of ξ plus its biases, `[rows × n]`.
    attention: Option<Tensor<2>>,
    /// The embeddings a step still needs: e_i (attentional), e_v (rectified, attentional).
    e_i: Option<Tensor<2>>,
    e_v: Option<Tensor<2>>,
    /// Which step of the window these rows are, when [`Self::split`] made
    /// them (the fused path's once-per-window weight gradients need it).
    step: Option<usize>,
}

impl ProjectedInputs {
    /// Rows `start..start + len` (one step's lanes).
    pub fn rows(&self, start: usize, len: usize) -> ProjectedInputs {
        let take = |t: &Option<Tensor<2>>| t.as_ref().map(|t| t.clone().narrow(0, start, len));
        ProjectedInputs {
            gates: take(&self.gates),
            candidate: take(&self.candidate),
            thresholds: take(&self.thresholds),
            attention: take(&self.attention),
            e_i: take(&self.e_i),
            e_v: take(&self.e_v),
            step: None,
        }
    }

    /// All `steps` blocks of `lanes` rows at once, as
    /// [`crate::fused::split_rows`] splits them: the same views as
    /// [`Self::rows`], with one backward per tensor instead of one per step.
    pub fn split(&self, steps: usize, lanes: usize) -> Vec<ProjectedInputs> {
        let split = |t: &Option<Tensor<2>>| -> Vec<Option<Tensor<2>>> {
            match t {
                Some(t) => crate::fused::split_rows(t.clone(), steps, lanes)
                    .into_iter()
                    .map(Some)
                    .collect(),
                None => vec![None; steps],
            }
        };
        let mut gates = split(&self.gates).into_iter();
        let mut candidate = split(&self.candidate).into_iter();
        let mut thresholds = split(&self.thresholds).into_iter();
        let mut attention = split(&self.attention).into_iter();
        let mut e_i = split(&self.e_i).into_iter();
        let mut e_v = split(&self.e_v).into_iter();
        (0..steps)
            .map(|step| ProjectedInputs {
                step: Some(step),
                gates: gates.next().flatten(),
                candidate: candidate.next().flatten(),
                thresholds: thresholds.next().flatten(),
                attention: attention.next().flatten(),
                e_i: e_i.next().flatten(),
                e_v: e_v.next().flatten(),
            })
            .collect()
    }
}

/// The weight blocks a step multiplies by, sliced (and joined where one
/// product can serve two maps) once per window instead of once per step.
#[derive(Clone, Debug)]
pub struct StepWeights {
    /// What h is multiplied by: the gates' hidden rows, joined with κ's
    /// (rectified) or ξ's (attentional, in front) hidden rows.
    hidden: Tensor<2>,
    /// T(r ⊙ h) of the candidate.
    candidate_hidden: Tensor<2>,
    /// Rectified: [gates' user rows | T(v) of the candidate], what f is
    /// multiplied by. Attentional: the same for a_v.
    user: Option<Tensor<2>>,
    /// Attentional: [gates' item rows | T(x) of the candidate], for a_i.
    item: Option<Tensor<2>>,
    /// Attentional: [gate bias | every candidate bias].
    bias: Option<Tensor<1>>,
    /// How the step's products are computed.
    precision: Precision,
    /// Whether the element-wise work runs as the fused stages of
    /// [`crate::fused`].
    fused: bool,
    /// Fused attentional cell: `[item; user]`, what the fused mix
    /// `[a_i | a_v]` is multiplied by (one product instead of two).
    mix: Option<Tensor<2>>,
    /// Fused training: each weight's gradient once per window.
    ledgers: Option<WindowLedgers>,
}

/// The [`WindowGather`]s of one window's step products, one per weight a
/// step multiplies by.
#[derive(Clone, Debug)]
struct WindowLedgers {
    hidden: WindowGather,
    candidate_hidden: WindowGather,
    /// Rectified (hard thresholds): `f · user`.
    user: WindowGather,
    /// Attentional: `[a_i | a_v] · mix`.
    mix: WindowGather,
}

impl StepWeights {
    /// Runs the step's element-wise work as the fused stages of
    /// [`crate::fused`] (`true`) or as burn's operations (the rectified
    /// filter with soft thresholds is composed either way).
    /// With the fused stages, gathers each weight's gradient once for a
    /// window of `steps` steps, whose inputs [`ProjectedInputs::split`]
    /// made ([`crate::fused::window_product`]); the weights then must be
    /// used by every step of one window only.
    pub fn with_window_ledgers(mut self, steps: usize) -> Self {
        self.ledgers = self.fused.then(|| WindowLedgers {
            hidden: WindowGather::new(steps),
            candidate_hidden: WindowGather::new(steps),
            user: WindowGather::new(steps),
            mix: WindowGather::new(steps),
        });
        self
    }

    /// `x · weight` at this precision; as step `step` of the window when
    /// the weight has a ledger and the step is known.
    fn product(
        &self,
        x: Tensor<2>,
        weight: &Tensor<2>,
        ledger: impl Fn(&WindowLedgers) -> &WindowGather,
        step: Option<usize>,
    ) -> Tensor<2> {
        match (&self.ledgers, step) {
            (Some(ledgers), Some(step)) => crate::fused::window_product(
                x,
                weight.clone(),
                self.precision,
                step,
                ledger(ledgers).clone(),
            ),
            _ => self.precision.matmul(x, weight.clone()),
        }
    }

    pub fn with_fused_elementwise(mut self, fused: bool) -> Self {
        self.fused = fused;
        self.mix = match (&self.item, &self.user) {
            (Some(item), Some(user)) if fused => {
                Some(Tensor::cat(vec![item.clone(), user.clone()], 0))
            }
            _ => None,
        };
        self
    }
}

/// The bias of a layer (every layer of the cell has one).
fn bias(layer: &Linear) -> Tensor<1> {
    match &layer.bias {
        Some(b) => b.val(),
        None => {
            let [_, outputs] = layer.weight.dims();
            Tensor::zeros([outputs], &layer.weight.device())
        }
    }
}

/// A layer the variant uses (present whenever the variant needs it).
fn layer(layer: &Option<Linear>) -> &Linear {
    match layer {
        Some(layer) => layer,
        None => unreachable!("the cell was built without a layer its variant uses"),
    }
}

/// A piece the variant's projection always provides.
fn missing<T>() -> T {
    unreachable!("projected inputs or step weights of another variant")
}

/// `x W + b` with a bias row broadcast over the rows.
fn affine(x: Tensor<2>, w: Tensor<2>, b: Tensor<1>, precision: Precision) -> Tensor<2> {
    precision.matmul(x, w) + b.unsqueeze::<2>()
}

impl GruCell {
    /// Rows `start..start + len` of the weight of `layer`.
    fn block(layer: &Linear, start: usize, len: usize) -> Tensor<2> {
        layer.weight.val().narrow(0, start, len)
    }

    /// The state-independent products of all rows at once: `e_i`, `e_v`
    /// `[rows × n]` (`e_v` ignored by the standard GRU), with products at
    /// `precision`.
    pub fn project(
        &self,
        e_i: Tensor<2>,
        e_v: Option<Tensor<2>>,
        precision: Precision,
    ) -> ProjectedInputs {
        let n = self.settings.hidden;
        let candidate_bias = bias(&self.candidate_hidden) + bias(&self.candidate_item);
        let mut out = ProjectedInputs {
            step: None,
            gates: None,
            candidate: None,
            thresholds: None,
            attention: None,
            e_i: None,
            e_v: None,
        };
        match (self.settings.integration, e_v) {
            (UserIntegration::None, _) | (_, None) => {
                let w = Tensor::cat(
                    vec![
                        Self::block(&self.gates, n, n),
                        self.candidate_item.weight.val(),
                    ],
                    1,
                );
                let b = Tensor::cat(vec![bias(&self.gates), candidate_bias], 0);
                let p = affine(e_i, w, b, precision);
                out.gates = Some(p.clone().narrow(1, 0, 2 * n));
                out.candidate = Some(p.narrow(1, 2 * n, n));
            }
            (UserIntegration::Linear, Some(e_v)) => {
                let user = layer(&self.candidate_user);
                let w = Tensor::cat(
                    vec![
                        Self::block(&self.gates, n, 2 * n),
                        Tensor::cat(vec![self.candidate_item.weight.val(), user.weight.val()], 0),
                    ],
                    1,
                );
                let b = Tensor::cat(vec![bias(&self.gates), candidate_bias + bias(user)], 0);
                let p = affine(Tensor::cat(vec![e_i, e_v], 1), w, b, precision);
                out.gates = Some(p.clone().narrow(1, 0, 2 * n));
                out.candidate = Some(p.narrow(1, 2 * n, n));
            }
            (UserIntegration::Rectified, Some(e_v)) => {
                let thresholds = layer(&self.thresholds);
                let user = layer(&self.candidate_user);
                let w = Tensor::cat(
                    vec![
                        Self::block(&self.gates, n, n),
                        self.candidate_item.weight.val(),
                        Self::block(thresholds, n, n),
                    ],
                    1,
                );
                let b = Tensor::cat(
                    vec![
                        bias(&self.gates),
                        candidate_bias + bias(user),
                        bias(thresholds),
                    ],
                    0,
                );
                let p = affine(e_i, w, b, precision);
                out.gates = Some(p.clone().narrow(1, 0, 2 * n));
                out.candidate = Some(p.clone().narrow(1, 2 * n, n));
                out.thresholds = Some(
                    p.narrow(1, 3 * n, 2 * n)
                        + precision.matmul(e_v.clone(), Self::block(thresholds, 2 * n, n)),
                );
                out.e_v = Some(e_v);
            }
            (UserIntegration::Attentional, Some(e_v)) => {
                let (a_h, a_i, a_v) = (
                    layer(&self.attention_hidden),
                    layer(&self.attention_item),
                    layer(&self.attention_user),
                );
                let w = Tensor::cat(vec![a_i.weight.val(), a_v.weight.val()], 0);
                let b = bias(a_h) + bias(a_i) + bias(a_v);
                out.attention = Some(affine(
                    Tensor::cat(vec![e_i.clone(), e_v.clone()], 1),
                    w,
                    b,
                    precision,
                ));
                out.e_i = Some(e_i);
                out.e_v = Some(e_v);
            }
        }
        out
    }

    /// The weight blocks of [`Self::step_projected`], sliced once; its
    /// products are computed at `precision`.
    pub fn step_weights(&self, precision: Precision) -> StepWeights {
        let n = self.settings.hidden;
        let gates_hidden = Self::block(&self.gates, 0, n);
        let candidate_hidden = self.candidate_hidden.weight.val();
        match self.settings.integration {
            UserIntegration::None | UserIntegration::Linear => StepWeights {
                hidden: gates_hidden,
                candidate_hidden,
                user: None,
                item: None,
                bias: None,
                precision,
                fused: false,
                mix: None,
                ledgers: None,
            },
            UserIntegration::Rectified => StepWeights {
                hidden: Tensor::cat(
                    vec![gates_hidden, Self::block(layer(&self.thresholds), 0, n)],
                    1,
                ),
                candidate_hidden,
                user: Some(Tensor::cat(
                    vec![
                        Self::block(&self.gates, 2 * n, n),
                        layer(&self.candidate_user).weight.val(),
                    ],
                    1,
                )),
                item: None,
                bias: None,
                precision,
                fused: false,
                mix: None,
                ledgers: None,
            },
            UserIntegration::Attentional => {
                let user = layer(&self.candidate_user);
                StepWeights {
                    hidden: Tensor::cat(
                        vec![layer(&self.attention_hidden).weight.val(), gates_hidden],
                        1,
                    ),
                    candidate_hidden,
                    user: Some(Tensor::cat(
                        vec![Self::block(&self.gates, 2 * n, n), user.weight.val()],
                        1,
                    )),
                    item: Some(Tensor::cat(
                        vec![
                            Self::block(&self.gates, n, n),
                            self.candidate_item.weight.val(),
                        ],
                        1,
                    )),
                    bias: Some(Tensor::cat(
                        vec![
                            bias(&self.gates),
                            bias(&self.candidate_hidden) + bias(&self.candidate_item) + bias(user),
                        ],
                        0,
                    )),
                    precision,
                    fused: false,
                    mix: None,
                    ledgers: None,
                }
            }
        }
    }

    /// One step from `h` with this step's rows of [`Self::project`]; equal
    /// to [`Self::forward`] up to rounding.
    pub fn step_projected(
        &self,
        w: &StepWeights,
        h: Tensor<2>,
        inputs: ProjectedInputs,
    ) -> Tensor<2> {
        let n = self.settings.hidden;
        if w.fused {
            return self.step_fused(w, h, inputs);
        }
        let mm = |a: Tensor<2>, b: &Tensor<2>| w.precision.matmul(a, b.clone());
        let hidden = mm(h.clone(), &w.hidden);
        let (gate_pre, candidate_extra) = match self.settings.integration {
            UserIntegration::None | UserIntegration::Linear => {
                (hidden + inputs.gates.unwrap_or_else(missing), None)
            }
            UserIntegration::Rectified => {
                let user = self.rectified_user(w, &hidden, &inputs);
                let gate_pre = hidden.narrow(1, 0, 2 * n)
                    + inputs.gates.unwrap_or_else(missing)
                    + user.clone().narrow(1, 0, 2 * n);
                (gate_pre, Some(user.narrow(1, 2 * n, n)))
            }
            UserIntegration::Attentional => {
                let mixed = self.attention_mix(w, &hidden, inputs.clone());
                let gate_pre = hidden.narrow(1, n, 2 * n) + mixed.clone().narrow(1, 0, 2 * n);
                (gate_pre, Some(mixed.narrow(1, 2 * n, n)))
            }
        };
        let gates = sigmoid(gate_pre);
        let u = gates.clone().narrow(1, 0, n);
        let r = gates.narrow(1, n, n);
        let mut pre = mm(r * h.clone(), &w.candidate_hidden);
        if let Some(candidate) = inputs.candidate {
            pre = pre + candidate;
        }
        if let Some(extra) = candidate_extra {
            pre = pre + extra;
        }
        let k = pre.tanh();
        h.clone() + u * (k - h)
    }

    /// The same step with its element-wise work in the fused stages of
    /// [`crate::fused`]: the rectified filter or the attention mix (where
    /// the variant has one), the gates with `r ⊙ h`, the update.
    fn step_fused(&self, w: &StepWeights, h: Tensor<2>, inputs: ProjectedInputs) -> Tensor<2> {
        let n = self.settings.hidden;
        let step = inputs.step;
        let hidden = w.product(h.clone(), &w.hidden, |l| &l.hidden, step);
        // What the gates add to `h W_h` (u's columns, then r's) and the
        // candidate's state-independent pre-activation.
        let (hidden_gates, gates, candidate) = match self.settings.integration {
            UserIntegration::None | UserIntegration::Linear => (
                hidden,
                inputs.gates.unwrap_or_else(missing),
                inputs.candidate.unwrap_or_else(missing),
            ),
            UserIntegration::Rectified => {
                let user = match self.settings.threshold {
                    Threshold::Hard => {
                        let f = crate::fused::rectify(
                            hidden.clone().narrow(1, 2 * n, 2 * n),
                            inputs.thresholds.clone().unwrap_or_else(missing),
                            inputs.e_v.clone().unwrap_or_else(missing),
                            self.settings.omega as f32,
                        );
                        let user = w.user.clone().unwrap_or_else(missing);
                        w.product(f, &user, |l| &l.user, step)
                    }
                    // The soft steps have gradients of their own: composed.
                    Threshold::Soft => self.rectified_user(w, &hidden, &inputs),
                };
                (
                    hidden.narrow(1, 0, 2 * n),
                    inputs.gates.unwrap_or_else(missing) + user.clone().narrow(1, 0, 2 * n),
                    inputs.candidate.unwrap_or_else(missing) + user.narrow(1, 2 * n, n),
                )
            }
            UserIntegration::Attentional => {
                let mix = crate::fused::attend(
                    hidden.clone().narrow(1, 0, n),
                    inputs.attention.unwrap_or_else(missing),
                    inputs.e_i.unwrap_or_else(missing),
                    inputs.e_v.unwrap_or_else(missing),
                );
                let weights = w.mix.clone().unwrap_or_else(missing);
                let mixed = w.product(mix, &weights, |l| &l.mix, step)
                    + w.bias.clone().unwrap_or_else(missing).unsqueeze::<2>();
                (
                    hidden.narrow(1, n, 2 * n),
                    mixed.clone().narrow(1, 0, 2 * n),
                    mixed.narrow(1, 2 * n, n),
                )
            }
        };
        let reset = crate::fused::reset_state(hidden_gates.clone(), gates.clone(), h.clone());
        let product = w.product(reset, &w.candidate_hidden, |l| &l.candidate_hidden, step);
        crate::fused::update(product, candidate, hidden_gates, gates, h)
    }

    /// Rectified cell: `f W` for the gates and the candidate (`[m × 3n]`),
    /// with f the user row filtered by this step's thresholds κ.
    fn rectified_user(
        &self,
        w: &StepWeights,
        hidden: &Tensor<2>,
        inputs: &ProjectedInputs,
    ) -> Tensor<2> {
        let n = self.settings.hidden;
        let kappa = hidden.clone().narrow(1, 2 * n, 2 * n)
            + inputs.thresholds.clone().unwrap_or_else(missing);
        let f = self.rectify_with(inputs.e_v.clone().unwrap_or_else(missing), kappa);
        w.precision
            .matmul(f, w.user.clone().unwrap_or_else(missing))
    }

    /// Attentional cell: the attention gate ξ mixes item and user rows,
    /// and the mix's part of the gates and the candidate with every bias
    /// (`[m × 3n]`).
    fn attention_mix(
        &self,
        w: &StepWeights,
        hidden: &Tensor<2>,
        inputs: ProjectedInputs,
    ) -> Tensor<2> {
        let n = self.settings.hidden;
        let mm = |a: Tensor<2>, b: &Option<Tensor<2>>| {
            w.precision.matmul(a, b.clone().unwrap_or_else(missing))
        };
        let xi = sigmoid(hidden.clone().narrow(1, 0, n) + inputs.attention.unwrap_or_else(missing));
        let e_i = inputs.e_i.unwrap_or_else(missing);
        let a_i = e_i.clone() - xi.clone() * e_i;
        let a_v = xi * inputs.e_v.unwrap_or_else(missing);
        mm(a_i, &w.item)
            + mm(a_v, &w.user)
            + w.bias.clone().unwrap_or_else(missing).unsqueeze::<2>()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::cell::GruCellConfig;
    use burn::tensor::{Device, TensorData};
    use seqrec_core::SeqRng;

    fn floats(t: Tensor<2>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap_or_default()
    }

    fn random(rows: usize, n: usize, rng: &mut SeqRng, device: &Device) -> Tensor<2> {
        let v: Vec<f32> = (0..rows * n)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect();
        Tensor::from_data(TensorData::new(v, [rows, n]), device)
    }

    fn max_difference(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// Three steps of four lanes, both ways: the states agree, and so do the
    /// gradients of every weight for the same objective.
    #[test]
    fn projected_steps_equal_the_plain_step_in_values_and_gradients() {
        projected_steps_equal_the_plain_step(&Device::flex().autodiff(), 1e-6);
    }

    /// The check above on `device`: states within `tolerance`, gradients
    /// within 1e-5 of each weight's scale (`gpu_tests` runs it on the
    /// device, where the fused stages are cubecl kernels).
    pub(crate) fn projected_steps_equal_the_plain_step(device: &Device, tolerance: f32) {
        let device = device.clone();
        let (n, lanes, steps) = (5, 4, 3);
        for integration in [
            UserIntegration::None,
            UserIntegration::Linear,
            UserIntegration::Rectified,
            UserIntegration::Attentional,
        ] {
            let mut rng = SeqRng::new(4);
            // A larger range than the spec's, so the gates are far from 0.5
            // and the rectified filter takes all three branches.
            let cell = GruCellConfig::new(n)
                .with_integration(integration)
                .with_init_range(0.6)
                .with_attention_init_range(0.6)
                .init_seeded(&device, &mut rng);
            let e_i = random(steps * lanes, n, &mut rng, &device);
            let e_v = random(steps * lanes, n, &mut rng, &device);
            let h0 = random(lanes, n, &mut rng, &device);
            let weights = |c: &GruCell| {
                let mut w = vec![c.gates.weight.val(), c.candidate_hidden.weight.val()];
                for l in [
                    &c.candidate_user,
                    &c.thresholds,
                    &c.attention_hidden,
                    &c.attention_user,
                ]
                .into_iter()
                .flatten()
                {
                    w.push(l.weight.val());
                }
                w
            };

            let mut plain = h0.clone();
            let mut plain_states = Vec::new();
            for s in 0..steps {
                let rows = |t: &Tensor<2>| t.clone().narrow(0, s * lanes, lanes);
                plain = cell.forward(plain, rows(&e_i), rows(&e_v));
                plain_states.push(plain.clone());
            }
            let plain_all = Tensor::cat(plain_states, 0);
            // A fixed, non-symmetric objective of every state.
            let coefficients = random(steps * lanes, n, &mut SeqRng::new(9), &device);
            let plain_grads = (plain_all.clone() * coefficients.clone()).sum().backward();
            let plain_gradients: Vec<Vec<f32>> = weights(&cell)
                .into_iter()
                .map(|w| {
                    let zeros = || w.clone().inner().zeros_like();
                    floats(w.grad(&plain_grads).unwrap_or_else(zeros))
                })
                .collect();
            // The projected step, with burn's element-wise operations and
            // with the fused stages (composed of the same operations on the
            // CPU; the device's kernels are compared in `gpu_tests`).
            for fused in [false, true] {
                let projected = cell.project(e_i.clone(), Some(e_v.clone()), Precision::Tf32);
                let step_weights = cell
                    .step_weights(Precision::Tf32)
                    .with_fused_elementwise(fused);
                let mut fast = h0.clone();
                let mut fast_states = Vec::new();
                for s in 0..steps {
                    fast =
                        cell.step_projected(&step_weights, fast, projected.rows(s * lanes, lanes));
                    fast_states.push(fast.clone());
                }
                let fast_all = Tensor::cat(fast_states, 0);
                let diff = max_difference(&floats(plain_all.clone()), &floats(fast_all.clone()));
                assert!(
                    diff < tolerance,
                    "{integration:?} (fused {fused}): states differ by {diff}"
                );
                let fast_grads = (fast_all * coefficients.clone()).sum().backward();
                for (i, (w, a)) in weights(&cell).into_iter().zip(&plain_gradients).enumerate() {
                    let zeros = || w.clone().inner().zeros_like();
                    let b = floats(w.grad(&fast_grads).unwrap_or_else(zeros));
                    let scale = a.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
                    let diff = max_difference(a, &b);
                    assert!(
                        diff <= 1e-5 * scale,
                        "{integration:?} (fused {fused}): gradient of weight {i} differs by {diff} (scale {scale})"
                    );
                }
            }
        }
    }
}
