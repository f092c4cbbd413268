//! Adam on the GPU backends as one kernel per parameter: burn's Adam
//! updates a parameter through thirteen one-operation kernels,
//! each a pass over the parameter (measured on lavapipe by the kernel
//! probe); [`DeviceAdam`] reads the value, the gradient and both moments
//! once and writes the new three, with burn's arithmetic in burn's order
//! (the CPU backends' `HostAdam` does the same on the host). Its state is
//! burn's [`AdamState`], so checkpoints move between it, burn's Adam and
//! the host one.
//!
//! Used on the cubecl backends with the fused element-wise kernels
//! (`ElementWise::Fused`); `composed` keeps burn's Adam.

use crate::host_adam::{AdamSettings, BiasCorrection};
use burn::backend::Backend;
use burn::backend::tensor::FloatTensor;
use burn::optim::{AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{Device, Tensor};

#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
mod cube;

/// One Adam step in one kernel (cubecl backends only).
#[burn::backend::backend_extension(Cube: cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda")))]
pub trait FusedAdam: Backend {
    /// For a parameter, its gradient and both moments (same shape, f32):
    /// `m ← β1 m + (1 − β1) g`, `v ← β2 v + (1 − β2) g²`, the parameter
    /// less `lr · m · combined / (√v + epsilon)`; returns (parameter, m,
    /// v), new tensors.
    #[allow(clippy::too_many_arguments)]
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        // Without a GPU feature (but burn's cubecl on, as in the kernel
        // probe's builds) the dispatch the macro writes never reads them.
        #[allow(unused_variables)] lr: f32,
        #[allow(unused_variables)] beta_1: f32,
        #[allow(unused_variables)] beta_2: f32,
        #[allow(unused_variables)] combined: f32,
        #[allow(unused_variables)] epsilon: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// Adam stepped by [`FusedAdam`] (no weight decay, no AMSGrad: what
/// training uses).
#[derive(Clone, Debug)]
pub struct DeviceAdam(AdamSettings);

impl DeviceAdam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> DeviceAdam {
        DeviceAdam(AdamSettings::new(beta_1, beta_2, epsilon))
    }
}

impl Optimizer for DeviceAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        param: Tensor<D>,
        grad: Tensor<D>,
        state: Option<AdamState<D>>,
    ) -> (Tensor<D>, Option<AdamState<D>>) {
        if !AdamSettings::fused_takes(&param, &grad, &state) {
            return self.0.fallback.step(lr, param, grad, state);
        }
        let time = state.as_ref().map_or(1, |s| s.momentum.time + 1);
        // The first step's moments are zeros: 0 · β + x is x, so the
        // result is burn's first step exactly.
        let (moment_1, moment_2) = match state {
            Some(s) => (s.momentum.moment_1, s.momentum.moment_2),
            None => (param.zeros_like(), param.zeros_like()),
        };
        let BiasCorrection { combined, epsilon } = self.0.correction(time);
        let (param, moment_1, moment_2) = burn::backend::Dispatch::adam_step(
            param.into_dispatch(),
            grad.into_dispatch(),
            moment_1.into_dispatch(),
            moment_2.into_dispatch(),
            lr as f32,
            self.0.beta_1,
            self.0.beta_2,
            combined,
            epsilon,
        );
        let state = AdamState::new(AdaptiveMomentumState::new(
            time,
            Tensor::from_dispatch(moment_1),
            Tensor::from_dispatch(moment_2),
        ));
        (Tensor::from_dispatch(param), Some(state))
    }

    fn to_device<const D: usize>(mut state: AdamState<D>, device: &Device) -> AdamState<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

#[cfg(all(test, any(feature = "wgpu", feature = "vulkan")))]
pub(crate) mod tests {
    use super::*;
    use burn::optim::AdamConfig;
    use burn::tensor::TensorData;
    use seqrec_core::SeqRng;

    fn random(rng: &mut SeqRng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.next_f64() as f32 - 0.5).collect()
    }

    /// Three steps from no state on `device` (a cubecl one), a matrix of
    /// 70,000 values (many cubes; one gradient a transposed view) and a
    /// bias: the fused step equals burn's Adam on the same device within
    /// `tolerance` (relative to each tensor's largest value), state
    /// included.
    pub(crate) fn device_adam_equals_burns_adam(device: &Device, tolerance: f32) {
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let burn_adam = AdamConfig::new()
            .with_beta_1(b1)
            .with_beta_2(b2)
            .with_epsilon(eps)
            .build();
        let ours = DeviceAdam::new(b1, b2, eps);
        let mut rng = SeqRng::new(5);
        let read = |t: &Tensor<2>| t.to_data().try_to_vec::<f32>().unwrap_or_default();
        let close = |what: &str, a: Vec<f32>, b: Vec<f32>| {
            assert_eq!(a.len(), b.len(), "{what}");
            let scale = a.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-30);
            let worst = a
                .iter()
                .zip(&b)
                .fold(0f32, |m, (x, y)| m.max((x - y).abs()));
            assert!(
                worst <= tolerance * scale,
                "{what}: {worst} apart (scale {scale})"
            );
        };
        for shape in [[350, 200], [1, 37]] {
            let count = shape[0] * shape[1];
            let start =
                Tensor::<2>::from_data(TensorData::new(random(&mut rng, count), shape), device);
            let (mut p_burn, mut p_ours) = (start.clone(), start);
            let (mut s_burn, mut s_ours) = (None, None);
            for step in 0..3 {
                // The second step's gradient is a transposed view (strided).
                let g = if step == 1 {
                    let [rows, cols] = shape;
                    let values = TensorData::new(random(&mut rng, count), [cols, rows]);
                    Tensor::<2>::from_data(values, device).transpose()
                } else {
                    Tensor::<2>::from_data(TensorData::new(random(&mut rng, count), shape), device)
                };
                let lr = 0.001 * f64::from(step + 1);
                (p_burn, s_burn) = burn_adam.step(lr, p_burn, g.clone(), s_burn);
                (p_ours, s_ours) = ours.step(lr, p_ours, g, s_ours);
                close(
                    &format!("{shape:?} parameter, step {step}"),
                    read(&p_burn),
                    read(&p_ours),
                );
                let (Some(a), Some(b)) = (&s_burn, &s_ours) else {
                    panic!("no state after step {step}");
                };
                assert_eq!(a.momentum.time, b.momentum.time);
                close("m", read(&a.momentum.moment_1), read(&b.momentum.moment_1));
                close("v", read(&a.momentum.moment_2), read(&b.momentum.moment_2));
            }
        }
    }
}
