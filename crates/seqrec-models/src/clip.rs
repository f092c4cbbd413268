//! Clipping of all gradients together to a global L2 norm (specification §4.5).
//! burn's `GradientClipping::Norm` clips each tensor on its own, which is a
//! different (and weaker) rule.

use burn::module::{Module, ModuleVisitor, Param, ParamId};
use burn::optim::GradientsParams;
use burn::tensor::Tensor;

struct SquareSum<'a> {
    grads: &'a GradientsParams,
    sum: Option<Tensor<1>>,
}

impl ModuleVisitor for SquareSum<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(param.id) {
            let s = g.powi_scalar(2).sum();
            self.sum = Some(match self.sum.take() {
                Some(acc) => acc + s,
                None => s,
            });
        }
    }
}

struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
    seen: Vec<ParamId>,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        if self.seen.contains(&param.id) {
            return; // A parameter shared by two fields is scaled once.
        }
        if let Some(g) = self.grads.remove::<D>(param.id) {
            self.grads.register(param.id, g.mul_scalar(self.factor));
            self.seen.push(param.id);
        }
    }
}

/// The global L2 norm of `grads` over `module`'s parameters.
pub fn global_norm<M: Module>(module: &M, grads: &GradientsParams) -> f64 {
    let mut visitor = SquareSum { grads, sum: None };
    module.visit(&mut visitor);
    visitor
        .sum
        .map_or(0.0, |s| f64::from(s.into_scalar::<f32>()).sqrt())
}

/// Scales every gradient by `max_norm / norm` when the global norm exceeds
/// `max_norm`; returns the norm before clipping.
pub fn clip_global_norm<M: Module>(module: &M, grads: &mut GradientsParams, max_norm: f64) -> f64 {
    let norm = global_norm(module, grads);
    clip_to_norm(module, grads, norm, max_norm);
    norm
}

/// [`clip_global_norm`] with the global norm already known (the host
/// training path sums the squares while it builds the gradients).
pub fn clip_to_norm<M: Module>(module: &M, grads: &mut GradientsParams, norm: f64, max_norm: f64) {
    if norm > max_norm && norm.is_finite() {
        let mut visitor = Scale {
            grads,
            factor: max_norm / norm,
            seen: Vec::new(),
        };
        module.visit(&mut visitor);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, TensorData};

    /// Two parameters with gradients (3, 4) and (12): global norm 13. Clipped
    /// to 6.5, every entry halves, so the direction is kept, unlike per-tensor
    /// clipping, which would leave (12) → (6.5) and (3, 4) alone.
    #[test]
    fn clips_all_tensors_by_one_factor() {
        let device = Device::flex();
        let layer: Linear = LinearConfig::new(2, 1).init(&device);
        let mut grads = GradientsParams::new();
        let w = Tensor::<2>::from_data(TensorData::new(vec![3.0f32, 4.0], [2, 1]), &device);
        let b = Tensor::<1>::from_floats([12.0], &device);
        grads.register(layer.weight.id, w);
        let bias_id = layer.bias.as_ref().map(|b| b.id).unwrap();
        grads.register(bias_id, b);
        let norm = clip_global_norm(&layer, &mut grads, 6.5);
        assert!((norm - 13.0).abs() < 1e-5);
        let values =
            |g: Option<burn::tensor::TensorData>| -> Vec<f32> { g.unwrap().try_to_vec().unwrap() };
        let bias = |grads: &GradientsParams| values(grads.get::<1>(bias_id).map(|t| t.into_data()));
        let weight = values(grads.get::<2>(layer.weight.id).map(|t| t.into_data()));
        assert_eq!(weight, vec![1.5, 2.0]);
        assert_eq!(bias(&grads), vec![6.0]);
        // Below the limit nothing changes.
        let norm = clip_global_norm(&layer, &mut grads, 100.0);
        assert!((norm - 6.5).abs() < 1e-5);
        assert_eq!(bias(&grads), vec![6.0]);
    }
}
