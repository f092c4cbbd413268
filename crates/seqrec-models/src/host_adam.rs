//! Adam for the CPU backends as one fused pass per parameter.
//!
//! burn's Adam updates a parameter through about a dozen tensor operations,
//! each a pass over the parameter's values (and, on the first step, a fresh
//! allocation): at hidden 1000 that is over 20 million values per
//! operation, every window. [`HostAdam`] reads the value, the gradient and
//! both moments once and writes the new ones in the same loop, with burn's
//! arithmetic in burn's order, so its results equal burn's bit for bit on
//! `flex` (a test below checks). Its state is burn's [`AdamState`], so
//! checkpoints written with either optimiser resume with the other (a run
//! on `flex` continues on a GPU backend and back).

use burn::optim::{AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

/// Values per parallel block.
const BLOCK: usize = 64 * 1024;

/// burn's bias correction of step `time`, in f32 as burn computes it: the
/// update is `m · combined / (√v + epsilon)`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct BiasCorrection {
    pub(crate) combined: f32,
    pub(crate) epsilon: f32,
}

impl BiasCorrection {
    pub(crate) fn at(time: usize, beta_1: f32, beta_2: f32, epsilon: f32) -> BiasCorrection {
        let t = time as i32;
        let bias_correction2_sqrt = (1.0 - beta_2.powi(t)).sqrt();
        BiasCorrection {
            combined: bias_correction2_sqrt / (1.0 - beta_1.powi(t)),
            epsilon: epsilon * bias_correction2_sqrt,
        }
    }
}

/// Adam's hyperparameters (no weight decay, no AMSGrad: what training
/// uses), shared by the host and the device optimisers, with burn's own
/// Adam for what their fused steps do not take.
#[derive(Clone)]
pub(crate) struct AdamSettings {
    pub(crate) beta_1: f32,
    pub(crate) beta_2: f32,
    pub(crate) epsilon: f32,
    /// burn's own Adam, for tensors that are not f32 and AMSGrad states.
    pub(crate) fallback: burn::optim::Adam,
}

impl std::fmt::Debug for AdamSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Adam")
            .field("beta_1", &self.beta_1)
            .field("beta_2", &self.beta_2)
            .field("epsilon", &self.epsilon)
            .finish_non_exhaustive()
    }
}

impl AdamSettings {
    pub(crate) fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> AdamSettings {
        AdamSettings {
            beta_1,
            beta_2,
            epsilon,
            fallback: AdamConfig::new()
                .with_beta_1(beta_1)
                .with_beta_2(beta_2)
                .with_epsilon(epsilon)
                .build(),
        }
    }

    /// Whether a fused step takes this parameter: f32 values and gradient,
    /// no AMSGrad state.
    pub(crate) fn fused_takes<const D: usize>(
        param: &Tensor<D>,
        grad: &Tensor<D>,
        state: &Option<AdamState<D>>,
    ) -> bool {
        param.dtype() == DType::F32
            && grad.dtype() == DType::F32
            && state
                .as_ref()
                .is_none_or(|s| s.momentum.max_moment_2.is_none())
    }

    /// The bias correction of step `time`.
    pub(crate) fn correction(&self, time: usize) -> BiasCorrection {
        BiasCorrection::at(time, self.beta_1, self.beta_2, self.epsilon)
    }
}

/// Adam on the host, one fused pass per parameter.
#[derive(Clone, Debug)]
pub struct HostAdam(AdamSettings);

impl HostAdam {
    pub fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> HostAdam {
        HostAdam(AdamSettings::new(beta_1, beta_2, epsilon))
    }
}

impl HostAdam {
    /// One fused pass: `p`, `m`, `v` updated in place from `g` (an error,
    /// before anything is written, when a buffer is not f32 or the sizes
    /// differ).
    fn fused(
        &self,
        lr: f32,
        time: usize,
        fresh: bool,
        (p, g, m, v): (
            &mut TensorData,
            &TensorData,
            &mut TensorData,
            &mut TensorData,
        ),
    ) -> Result<(), String> {
        let text = |e: burn::tensor::DataError| format!("{e:?}");
        let (p, g) = (
            p.as_mut_slice::<f32>().map_err(text)?,
            g.as_slice::<f32>().map_err(text)?,
        );
        let (m, v) = (
            m.as_mut_slice::<f32>().map_err(text)?,
            v.as_mut_slice::<f32>().map_err(text)?,
        );
        // A state of another shape (a foreign record) must not be zipped short.
        if g.len() != p.len() || m.len() != p.len() || v.len() != p.len() {
            return Err(format!(
                "{} values, {} gradients, moments of {} and {}",
                p.len(),
                g.len(),
                m.len(),
                v.len()
            ));
        }
        let (b1, b2) = (self.0.beta_1, self.0.beta_2);
        let (f1, f2) = (1.0 - b1, 1.0 - b2);
        let BiasCorrection {
            combined,
            epsilon: eps,
        } = self.0.correction(time);
        p.par_chunks_mut(BLOCK)
            .zip(m.par_chunks_mut(BLOCK))
            .zip(v.par_chunks_mut(BLOCK))
            .zip(g.par_chunks(BLOCK))
            .for_each(|(((p, m), v), g)| {
                for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
                    if fresh {
                        *m = g * f1;
                        *v = g * g * f2;
                    } else {
                        *m = *m * b1 + g * f1;
                        *v = *v * b2 + g * g * f2;
                    }
                    let update = *m * combined / (v.sqrt() + eps);
                    *p -= update * lr;
                }
            });
        Ok(())
    }
}

impl Optimizer for HostAdam {
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
        let shape: [usize; D] = param.dims();
        let device = param.device();
        let fresh = state.is_none();
        let time = state.as_ref().map_or(1, |s| s.momentum.time + 1);
        let (mut p, g) = (param.into_data(), grad.into_data());
        let (mut m, mut v) = match state {
            Some(s) => (
                s.momentum.moment_1.into_data(),
                s.momentum.moment_2.into_data(),
            ),
            None => {
                let zeros = || TensorData::new(vec![0f32; p.num_elements()], shape);
                (zeros(), zeros())
            }
        };
        let back = |d: TensorData| Tensor::<D>::from_data(d, &device);
        match self.fused(lr as f32, time, fresh, (&mut p, &g, &mut m, &mut v)) {
            Ok(()) => {
                let state = AdamState::new(AdaptiveMomentumState::new(time, back(m), back(v)));
                (back(p), Some(state))
            }
            // Not f32 or not matching after all: burn's Adam on the
            // untouched data (which reports a mismatch its own way).
            Err(why) => {
                tracing::debug!(%why, "Adam: the fused pass does not apply");
                let state = (!fresh).then(|| {
                    AdamState::new(AdaptiveMomentumState::new(time - 1, back(m), back(v)))
                });
                self.0.fallback.step(lr, back(p), back(g), state)
            }
        }
    }

    fn to_device<const D: usize>(mut state: AdamState<D>, device: &Device) -> AdamState<D> {
        state.momentum = state.momentum.to_device(device);
        state
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use seqrec_core::SeqRng;

    fn tensor(values: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
        Tensor::from_data(TensorData::new(values, shape), device)
    }

    fn random(rng: &mut SeqRng, n: usize) -> Vec<f32> {
        (0..n).map(|_| rng.next_f64() as f32 - 0.5).collect()
    }

    /// Three steps from no state, on a parameter of 70,000 values (several
    /// parallel blocks): the fused pass equals burn's Adam bit for bit, and
    /// its state is burn's.
    #[test]
    fn fused_adam_equals_burns_adam_bit_for_bit() {
        let device = Device::flex();
        let shape = [350, 200];
        let mut rng = SeqRng::new(11);
        let start = random(&mut rng, 70_000);
        let (b1, b2, eps) = (0.9f32, 0.999f32, 1e-8f32);
        let burn_adam = AdamConfig::new()
            .with_beta_1(b1)
            .with_beta_2(b2)
            .with_epsilon(eps)
            .build();
        let ours = HostAdam::new(b1, b2, eps);
        let (mut p_burn, mut p_ours) = (
            tensor(start.clone(), shape, &device),
            tensor(start, shape, &device),
        );
        let (mut s_burn, mut s_ours) = (None, None);
        for step in 0..3 {
            let g = random(&mut rng, 70_000);
            let lr = 0.001 * f64::from(step + 1);
            (p_burn, s_burn) =
                burn_adam.step(lr, p_burn, tensor(g.clone(), shape, &device), s_burn);
            (p_ours, s_ours) = ours.step(lr, p_ours, tensor(g, shape, &device), s_ours);
            let read = |t: &Tensor<2>| t.to_data().try_to_vec::<f32>().unwrap_or_default();
            assert_eq!(read(&p_burn), read(&p_ours), "parameter after step {step}");
            let (Some(a), Some(b)) = (&s_burn, &s_ours) else {
                panic!("no state after step {step}");
            };
            assert_eq!(a.momentum.time, b.momentum.time);
            assert_eq!(read(&a.momentum.moment_1), read(&b.momentum.moment_1));
            assert_eq!(read(&a.momentum.moment_2), read(&b.momentum.moment_2));
        }
    }
}
