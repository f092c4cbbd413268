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
    let items = weight.dims()[1];
    if fused && items < crate::fused_output::MAX_ITEMS {
        return fused_softmax_cross_entropy(
            states, targets, weight, bias, chunk_rows, scale, precision, device,
        );
    }
    let [rows, n] = states.dims();
    let items = weight.dims()[1];
    let weight_t = weight.clone().transpose();
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    let mut d_weight = Tensor::<2>::zeros([n, items], device);
    let mut d_bias = Tensor::<1>::zeros([items], device);
    let mut d_states = Vec::new();
    // All targets go to the device once; chunks take views of them.
    let all_targets: Vec<i64> = targets.iter().map(|&i| i64::from(i)).collect();
    let all_targets: Tensor<2, Int> =
        Tensor::from_data(TensorData::new(all_targets, [targets.len(), 1]), device);
    let mut start = 0;
    while start < rows {
        let len = chunk_rows.min(rows - start);
        let h = states.clone().narrow(0, start, len);
        let t = all_targets.clone().narrow(0, start, len);
        let logits = precision.matmul(h.clone(), weight.clone()) + bias.clone().unsqueeze::<2>();
        // One exponential pass: e = exp(o − max), loss = max + ln Σe − o[target],
        // ∂(mean CE)/∂o = (e / Σe − one-hot) · scale.
        let max = logits.clone().max_dim(1);
        let target_logit = logits.clone().gather(1, t.clone());
        let e = (logits - max.clone()).exp();
        let sum = e.clone().sum_dim(1);
        loss_sum = loss_sum + (max + sum.clone().log() - target_logit).sum();
        let minus_scale = Tensor::<2>::full([len, 1], -scale, device);
        let g =
            (e * (sum.recip().mul_scalar(scale))).scatter(1, t, minus_scale, IndexingUpdateOp::Add);
        d_weight = d_weight + precision.matmul(h.transpose(), g.clone());
        d_bias = d_bias + g.clone().sum_dim(0).squeeze_dim::<1>(0);
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

/// [`softmax_cross_entropy`] with one fused kernel per chunk after its
/// product: the chunk's logits are then the only chunk-sized buffer (the
/// gradient is written over them).
#[allow(clippy::too_many_arguments)]
fn fused_softmax_cross_entropy(
    states: Tensor<2>,
    targets: &[u32],
    weight: Tensor<2>,
    bias: Tensor<1>,
    chunk_rows: usize,
    scale: f64,
    precision: Precision,
    device: &Device,
) -> OutputGradients {
    let [rows, n] = states.dims();
    let items = weight.dims()[1];
    let weight_t = weight.clone().transpose();
    let mut loss_sum = Tensor::<1>::zeros([1], device);
    let mut d_weight = Tensor::<2>::zeros([n, items], device);
    let mut d_bias = Tensor::<1>::zeros([items], device);
    let mut d_states = Vec::new();
    // Item indices below 2²⁴ are exact in f32 (the caller checks).
    let all_targets: Vec<f32> = targets.iter().map(|&i| i as f32).collect();
    let all_targets: Tensor<1> =
        Tensor::from_data(TensorData::new(all_targets, [targets.len()]), device);
    let mut start = 0;
    while start < rows {
        let len = chunk_rows.min(rows - start);
        let h = states.clone().narrow(0, start, len);
        let logits = precision.matmul(h.clone(), weight.clone());
        let (g, losses) = crate::fused_output::softmax_cross_entropy_in_place(
            logits,
            bias.clone(),
            all_targets.clone().narrow(0, start, len),
            scale as f32,
        );
        loss_sum = loss_sum + losses.sum();
        d_weight = d_weight + precision.matmul(h.transpose(), g.clone());
        d_bias = d_bias + g.clone().sum_dim(0).squeeze_dim::<1>(0);
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
