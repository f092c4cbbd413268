//! The output layer and its softmax cross-entropy, computed in row chunks
//! with a hand-written backward, so peak memory is one chunk of logits
//! rather than `window × lanes × |I|` of them (about 43 GB for the paper's
//! LastFM setting). The gradient with respect to the states is handed back
//! to autodiff for the recurrent part.

use crate::Precision;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};

/// Loss and gradients of the mean cross-entropy over some rows.
#[derive(Debug)]
pub(crate) struct OutputGradients {
    /// Σ over rows of −log p[target] (a one-element tensor, not yet read).
    pub loss_sum: Tensor<1>,
    /// ∂loss/∂W, `[n × items]`.
    pub weight: Tensor<2>,
    /// ∂loss/∂b, `[items]`.
    pub bias: Tensor<1>,
    /// ∂loss/∂h for each row, `[rows × n]`.
    pub states: Tensor<2>,
}

/// Mean softmax cross-entropy of `states · weight + bias` against
/// `targets`, and its gradients; all tensors without autodiff.
/// `scale` is 1 / (number of rows the mean runs over); products are
/// computed at `precision`. With `fused` (cubecl backends only) each
/// chunk's softmax, loss and logit gradient are one kernel
/// ([`crate::fused_output`]) instead of burn's operations.
#[allow(clippy::too_many_arguments)] // the layer's inputs, how to chunk and compute
pub(crate) fn softmax_cross_entropy(
    states: Tensor<2>,
    targets: &[u32],
    weight: Tensor<2>,
    bias: Tensor<1>,
    chunk_rows: usize,
    scale: f64,
    precision: Precision,
    fused: bool,
    device: &Device,
) -> OutputGradients {
    let [rows, n] = states.dims();
    let items = weight.dims()[1];
    let targets = ChunkTargets::new(
        targets,
        items,
        fused && items < crate::fused_output::MAX_ITEMS,
        device,
    );
    // What each chunk's gradient is summed with (∂b), made once.
    let ones = Tensor::<2>::ones([1, chunk_rows.min(rows).max(1)], device);
    let weight_t = weight.clone().transpose();
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    let mut d_weight = Tensor::<2>::zeros([n, items], device);
    let mut d_bias = Tensor::<1>::zeros([items], device);
    let mut d_states = Vec::new();
    let mut start = 0;
    while start < rows {
        let len = chunk_rows.min(rows - start);
        let h = states.clone().narrow(0, start, len);
        let logits = precision.matmul(h.clone(), weight.clone());
        let (loss, g) = targets.loss_and_gradient(logits, &bias, start, len, scale, device);
        loss_sum = loss_sum + loss;
        d_weight = d_weight + precision.matmul(h.transpose(), g.clone());
        d_bias = d_bias + column_sums(ones.clone().narrow(1, 0, len), g.clone());
        d_states.push(precision.matmul(g, weight_t.clone()));
        start += len;
    }
    OutputGradients {
        loss_sum,
        weight: d_weight,
        bias: d_bias,
        states: Tensor::cat(d_states, 0),
    }
}

/// The sums of `x`'s columns (`[rows × cols]` → `[cols]`) as an fp32
/// product with `ones` (`[1 × rows]`). burn's `sum_dim` loses terms over
/// long dimensions on the wgpu backend (measured on lavapipe, 2026-12-05:
/// a column of 70,000 rows summed 6% low, a row of 500,000 columns about
/// half), where a product adds every term, in an order fixed by the
/// kernel.
fn column_sums(ones: Tensor<2>, x: Tensor<2>) -> Tensor<1> {
    let cols = x.dims()[1];
    Precision::Fp32.matmul(ones, x).reshape([cols])
}

/// The sums of `x`'s rows (`[rows × cols]` → `[rows × 1]`) as an fp32
/// product with `ones` (`[cols × 1]`), for the reason [`column_sums`]
/// gives.
fn row_sums(x: Tensor<2>, ones: Tensor<2>) -> Tensor<2> {
    Precision::Fp32.matmul(x, ones)
}

/// Every row's target on the device once (chunks take views), in the form
/// the chunk's loss takes: item indices for burn's gather and scatter (with
/// the column of ones each row's exponentials are summed with), or floats
/// for the fused kernel (exact below 2²⁴ items; the caller checks).
// One value per output-layer call: the variants' sizes do not matter.
#[allow(clippy::large_enum_variant)]
enum ChunkTargets {
    Composed {
        targets: Tensor<2, Int>,
        ones: Tensor<2>,
    },
    Fused(Tensor<1>),
}

impl ChunkTargets {
    fn new(targets: &[u32], items: usize, fused: bool, device: &Device) -> Self {
        if fused {
            let values: Vec<f32> = targets.iter().map(|&i| i as f32).collect();
            ChunkTargets::Fused(Tensor::from_data(
                TensorData::new(values, [targets.len()]),
                device,
            ))
        } else {
            let values: Vec<i64> = targets.iter().map(|&i| i64::from(i)).collect();
            ChunkTargets::Composed {
                targets: Tensor::from_data(TensorData::new(values, [targets.len(), 1]), device),
                ones: Tensor::ones([items, 1], device),
            }
        }
    }

    /// The summed cross-entropy of rows `start..start + len` (a one-element
    /// tensor) and `scale` times its gradient with respect to `logits`
    /// (the chunk's product, before the bias).
    fn loss_and_gradient(
        &self,
        logits: Tensor<2>,
        bias: &Tensor<1>,
        start: usize,
        len: usize,
        scale: f64,
        device: &Device,
    ) -> (Tensor<1>, Tensor<2>) {
        match self {
            ChunkTargets::Fused(all) => {
                let (g, losses) = crate::fused_output::softmax_cross_entropy_in_place(
                    logits,
                    bias.clone(),
                    all.clone().narrow(0, start, len),
                    scale as f32,
                );
                (losses.sum(), g)
            }
            ChunkTargets::Composed { targets, ones } => {
                let t = targets.clone().narrow(0, start, len);
                let logits = logits + bias.clone().unsqueeze::<2>();
                // One exponential pass: e = exp(o − max), loss = max + ln Σe −
                // o[target], ∂(mean CE)/∂o = (e / Σe − one-hot) · scale.
                let max = logits.clone().max_dim(1);
                let target_logit = logits.clone().gather(1, t.clone());
                let e = (logits - max.clone()).exp();
                let sum = row_sums(e.clone(), ones.clone());
                let loss = (max + sum.clone().log() - target_logit).sum();
                let minus_scale = Tensor::<2>::full([len, 1], -scale, device);
                let g = (e * (sum.recip().mul_scalar(scale))).scatter(
                    1,
                    t,
                    minus_scale,
                    IndexingUpdateOp::Add,
                );
                (loss, g)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::log_softmax;

    fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// The chunked hand-written backward equals burn's autodiff of the plain
    /// full-matrix loss, for any chunk size.
    #[test]
    fn chunked_backward_matches_autodiff() {
        let device = Device::flex();
        let ad = device.clone().autodiff();
        let mut rng = seqrec_core::SeqRng::new(5);
        let (rows, n, items) = (7, 3, 5);
        let h = crate::cell::uniform_tensor([rows, n], 1.0, &mut rng, &device);
        let w = crate::cell::uniform_tensor([n, items], 1.0, &mut rng, &device);
        let b = crate::cell::uniform_tensor([items], 1.0, &mut rng, &device);
        let targets: Vec<u32> = (0..rows as u32).map(|r| (r * 3) % items as u32).collect();
        // Reference: autodiff on the whole matrix.
        let h_ad = h.clone().autodiff().require_grad();
        let w_ad = w.clone().autodiff().require_grad();
        let b_ad = b.clone().autodiff().require_grad();
        let t: Vec<i64> = targets.iter().map(|&i| i64::from(i)).collect();
        let t: Tensor<2, Int> = Tensor::from_data(TensorData::new(t, [rows, 1]), &ad);
        let logits = h_ad.clone().matmul(w_ad.clone()) + b_ad.clone().unsqueeze::<2>();
        let loss = log_softmax(logits, 1).gather(1, t).neg().mean();
        let grads = loss.backward();
        let want_h = floats(h_ad.grad(&grads).unwrap());
        let want_w = floats(w_ad.grad(&grads).unwrap());
        let want_b = floats(b_ad.grad(&grads).unwrap());
        let want_loss = floats(loss.inner())[0];
        for chunk in [1, 3, 7, 100] {
            let got = softmax_cross_entropy(
                h.clone(),
                &targets,
                w.clone(),
                b.clone(),
                chunk,
                1.0 / rows as f64,
                Precision::Fp32,
                false,
                &device,
            );
            let close = |a: &[f32], b: &[f32]| {
                assert_eq!(a.len(), b.len());
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-5, "chunk {chunk}: {a:?} vs {b:?}");
                }
            };
            close(&[floats(got.loss_sum)[0] / rows as f32], &[want_loss]);
            close(&floats(got.states), &want_h);
            close(&floats(got.weight), &want_w);
            close(&floats(got.bias), &want_b);
        }
    }
}
