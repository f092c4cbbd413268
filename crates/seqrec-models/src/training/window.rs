//! One truncated-BPTT window: forward through the recurrence, the output
//! layer's loss and backward by hand (chunked), autodiff for the recurrence
//! through the surrogate Σ h ⊙ ∂L/∂h, the L2 term, clipping and Adam. The
//! CPU backends do the whole window on the host instead (`host_window.rs`).

use crate::cell::LaneResets;
use crate::clip::{clip_global_norm, clip_to_norm};
use crate::lanes::Window;
use crate::model::{GruModel, index_tensor};
use crate::output::{OutputGradients, softmax_cross_entropy};
use crate::output_host::softmax_cross_entropy_host;
use crate::{GruError, GruParams, dropout};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor, TensorData};
use seqrec_core::SeqRng;

/// What one window did.
pub(super) struct StepOutcome {
    pub(super) loss: f32,
    pub(super) grad_norm: f64,
}

/// Where a window's gradients are computed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum WindowPath {
    /// burn's autodiff through the recurrence, the output layer on the
    /// device (the GPU backends).
    Device,
    /// burn's autodiff through the recurrence, the output layer on the
    /// host: fused and parallel.
    HostOutput,
    /// Everything on the host with hand-written backward passes (the CPU
    /// backends, except the rectified cell's soft threshold).
    Host,
}

impl WindowPath {
    /// The fastest path that computes the model `params` describe on `backend`.
    pub(super) fn of(backend: crate::Backend, params: &GruParams) -> WindowPath {
        match (backend.is_cpu(), params.threshold) {
            (false, _) => WindowPath::Device,
            (true, crate::Threshold::Hard) => WindowPath::Host,
            (true, crate::Threshold::Soft) => WindowPath::HostOutput,
        }
    }
}

/// One training window: forward, hand-written output backward, autodiff
/// through the recurrence (or all of it by hand on the host), clipping, Adam.
pub(super) struct WindowTrainer<'a> {
    pub(super) params: &'a GruParams,
    pub(super) device: &'a Device,
    pub(super) inner: &'a Device,
    pub(super) chunk_rows: usize,
    pub(super) path: WindowPath,
    /// How the device path's products are computed.
    pub(super) precision: crate::Precision,
    /// How the device path's element-wise work is computed.
    pub(super) elementwise: crate::fused::ElementWise,
}

pub(super) fn backend_error(e: impl std::fmt::Debug) -> GruError {
    GruError::Backend(format!("{e:?}"))
}

/// A host vector of a tensor's values.
fn host(t: Tensor<2>) -> Result<Vec<f32>, GruError> {
    t.into_data().try_to_vec::<f32>().map_err(backend_error)
}

impl WindowTrainer<'_> {
    pub(super) fn step(
        &mut self,
        model: GruModel,
        optim: &mut ModuleOptimizer,
        w: &Window,
        h: Tensor<2>,
        rng: &mut SeqRng,
    ) -> Result<(GruModel, Tensor<2>, StepOutcome), GruError> {
        let (grads, h_next, loss, grad_norm) = if self.path == WindowPath::Host {
            let (mut grads, h_next, loss, norm) = self.host_gradients(&model, w, h, rng)?;
            clip_to_norm(&model, &mut grads, norm, self.params.clip_norm);
            (grads, h_next, loss, norm)
        } else {
            let (mut grads, h_next, loss) = self.gradients(&model, w, h, rng)?;
            let norm = clip_global_norm(&model, &mut grads, self.params.clip_norm);
            (grads, h_next, loss, norm)
        };
        let model = optim.step(self.params.learning_rate, model, grads);
        let loss = loss.into_scalar::<f32>();
        Ok((model, h_next, StepOutcome { loss, grad_norm }))
    }

    /// The window's gradients (before clipping), the carried state and the
    /// loss (a one-element tensor, not yet read).
    pub(super) fn gradients(
        &self,
        model: &GruModel,
        w: &Window,
        h: Tensor<2>,
        rng: &mut SeqRng,
    ) -> Result<(GradientsParams, Tensor<2>, Tensor<1>), GruError> {
        if self.path == WindowPath::Host {
            let (grads, h_next, loss, _) = self.host_gradients(model, w, h, rng)?;
            return Ok((grads, h_next, loss));
        }
        let p = self.params;
        let (lanes, steps, n) = (w.lanes, w.steps, p.hidden);
        let device = self.device;
        // All steps' embeddings at once: one gather and one scatter in backward.
        let mut e_items = model.embed_items(&w.inputs, device);
        if p.item_keep < 1.0 {
            e_items = e_items * dropout::mask(steps * lanes, n, p.item_keep, rng, device);
        }
        let e_users = model.embed_users(&w.users, device).map(|u| {
            if p.user_keep < 1.0 {
                u * dropout::mask(steps * lanes, n, p.user_keep, rng, device)
            } else {
                u
            }
        });
        // The lane resets of the whole window go to the device once.
        let resets = (0..steps).any(|s| w.any_reset(s)).then(|| {
            let keep: Vec<f32> = w.reset.iter().map(|&r| if r { 0.0 } else { 1.0 }).collect();
            LaneResets {
                keep: Tensor::<2>::from_data(TensorData::new(keep, [steps * lanes, 1]), device),
                at_step: (0..steps).map(|s| w.any_reset(s)).collect(),
            }
        });
        let states = model.cell.run_window(
            e_items,
            e_users,
            h.clone(),
            lanes,
            steps,
            self.precision,
            self.elementwise,
            resets.as_ref(),
        );
        let h = states.last().cloned().unwrap_or(h);
        let h_next = h.detach();
        let active: Vec<u32> = (0..steps * lanes)
            .filter(|&i| w.active[i])
            .map(|i| i as u32)
            .collect();
        let targets: Vec<u32> = active.iter().map(|&i| w.targets[i as usize]).collect();
        let mut states = Tensor::cat(states, 0);
        if active.len() < steps * lanes {
            states = states.select(0, index_tensor(&active, device));
        }
        let items = model.items();
        let bias = match &model.output.bias {
            Some(b) => b.val().inner(),
            None => Tensor::zeros([items], self.inner),
        };
        let scale = 1.0 / active.len() as f64;
        let out = if self.path == WindowPath::HostOutput {
            let inner = self.inner;
            let bias: Vec<f32> = bias
                .into_data()
                .try_to_vec::<f32>()
                .map_err(backend_error)?;
            let g = softmax_cross_entropy_host(
                &host(states.clone().inner())?,
                &targets,
                &host(model.output.weight.val().inner())?,
                &bias,
                n,
                self.chunk_rows,
                scale as f32,
                self.precision.host_rounding(),
            )?;
            OutputGradients {
                loss_sum: Tensor::from_data(TensorData::new(vec![g.loss_sum as f32], [1]), inner),
                weight: Tensor::<2>::from_data(TensorData::new(g.weight_t, [items, n]), inner)
                    .transpose(),
                bias: Tensor::from_data(TensorData::new(g.bias, [items]), inner),
                states: Tensor::from_data(TensorData::new(g.states, [active.len(), n]), inner),
            }
        } else {
            softmax_cross_entropy(
                states.clone().inner(),
                &targets,
                model.output.weight.val().inner(),
                bias,
                self.chunk_rows,
                scale,
                self.precision,
                self.elementwise == crate::fused::ElementWise::Fused,
                self.inner,
            )
        };
        // d(loss)/d(states) is known; backpropagate it through the recurrence
        // with the surrogate Σ states ⊙ dstates, plus the L2 term.
        let mut objective = (states * out.states).sum();
        let mut loss = out.loss_sum.mul_scalar(scale);
        if p.user_l2 > 0.0
            && !w.stretch_users.is_empty()
            && let Some(rows) = model.embed_users(&w.stretch_users, device)
        {
            let count = w.stretch_users.len() as f64;
            let mut penalty = rows
                .powi_scalar(2)
                .sum()
                .mul_scalar(0.5 * p.user_l2 / count);
            if p.user_l2_weights
                && let Some(weights) = model.user_weight_half_square()
            {
                penalty = penalty + weights.mul_scalar(p.user_l2);
            }
            loss = loss + penalty.clone().inner();
            objective = objective + penalty;
        }
        let mut grads = GradientsParams::from_grads(objective.backward(), model);
        grads.register(model.output.weight.id, out.weight);
        if let Some(b) = &model.output.bias {
            grads.register(b.id, out.bias);
        }
        Ok((grads, h_next, loss))
    }
}
