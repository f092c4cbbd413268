//! The output layer's softmax cross-entropy and its backward on the CPU,
//! fused and parallel: each row's logits are exponentiated once while in
//! cache, and the products are split into independent blocks (rows for the
//! logits and ∂h, catalogue items for ∂W), so any number of threads gives
//! bit-identical results. Used by the CPU backends instead of
//! [`crate::output::softmax_cross_entropy`], which it must equal.

use crate::GruError;
use crate::host_matmul::{MatRef, OperandRounding, matmul};
use rayon::prelude::*;

/// `count` split into one block per thread (each block repacks the other
/// operand, so blocks are few and large). Every output element is computed
/// by the same products whatever the split, so results do not depend on it.
fn block(count: usize) -> usize {
    count.div_ceil(rayon::current_num_threads().max(1)).max(1)
}

/// Folds `values` with `f` in 8 interleaved accumulators (so the compiler
/// can vectorise it), combined in a fixed order.
fn lanes_fold(values: &[f32], init: f32, f: impl Fn(f32, f32) -> f32) -> f32 {
    let mut acc = [init; 8];
    let chunks = values.chunks_exact(8);
    let tail = chunks.remainder();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = f(*a, x);
        }
    }
    let mut total = tail.iter().fold(init, |a, &x| f(a, x));
    for a in acc {
        total = f(total, a);
    }
    total
}

/// `out` (`[rows × items]`) = `h` (`[rows × n]`) · `w` + `bias`, row-major:
/// the logits of training's output layer and of CPU scoring.
fn logits_into(
    h: &[f32],
    w: MatRef<'_>,
    bias: &[f32],
    out: &mut [f32],
    rounding: OperandRounding,
) -> Result<(), GruError> {
    let items = bias.len();
    let rows = out.len() / items.max(1);
    for row in out.chunks_exact_mut(items) {
        row.copy_from_slice(bias);
    }
    let h = MatRef::row_major(h, rows, w.rows())?;
    matmul(out, h, w, true, rounding)
}

/// Gradients on the host: `weight_t` is ∂W transposed, `[items × n]`.
#[derive(Debug)]
pub(crate) struct HostGradients {
    pub loss_sum: f64,
    pub weight_t: Vec<f32>,
    pub bias: Vec<f32>,
    pub states: Vec<f32>,
}

/// Mean cross-entropy of `states · weight + bias` (`states` `[rows × n]`,
/// `weight` `[n × items]`, row-major) against `targets`, in chunks of
/// `chunk_rows` rows; `scale` = 1 / rows of the mean. Every product rounds
/// its operands as `rounding` says.
#[allow(clippy::too_many_arguments)]
pub(crate) fn softmax_cross_entropy_host(
    states: &[f32],
    targets: &[u32],
    weight: &[f32],
    bias: &[f32],
    n: usize,
    chunk_rows: usize,
    scale: f32,
    rounding: OperandRounding,
) -> Result<HostGradients, GruError> {
    let items = bias.len();
    let rows = targets.len();
    if states.len() != rows * n || weight.len() != n * items {
        return Err(GruError::Backend(format!(
            "output layer: {} state values for {rows} rows × {n}, {} weights for {n} × {items}",
            states.len(),
            weight.len()
        )));
    }
    if let Some(&bad) = targets.iter().find(|&&t| t as usize >= items) {
        return Err(GruError::Backend(format!(
            "output layer: target item {bad} outside the catalogue of {items}"
        )));
    }
    let w = MatRef::row_major(weight, n, items)?;
    let mut out = HostGradients {
        loss_sum: 0.0,
        weight_t: vec![0.0; items * n],
        bias: vec![0.0; items],
        states: vec![0.0; rows * n],
    };
    // Equal chunks (a short last chunk would repack W for a few rows).
    let chunks = rows.div_ceil(chunk_rows.max(1)).max(1);
    let chunk_rows = rows.div_ceil(chunks);
    let mut g = vec![0f32; chunk_rows.min(rows) * items];
    let mut start = 0;
    while start < rows {
        let len = chunk_rows.min(rows - start);
        let h = &states[start * n..(start + len) * n];
        let t = &targets[start..start + len];
        let g = &mut g[..len * items];
        let row_block = block(len);
        // Logits, then in place (e / Σe − one-hot) · scale, row blocks in parallel.
        let losses: Vec<f64> = g
            .par_chunks_mut(row_block * items)
            .zip(h.par_chunks(row_block * n))
            .zip(t.par_chunks(row_block))
            .map(|((g_block, h_block), t_block)| -> Result<f64, GruError> {
                logits_into(h_block, w, bias, &mut *g_block, rounding)?;
                let mut loss = 0.0f64;
                for (row, &target) in g_block.chunks_exact_mut(items).zip(t_block) {
                    let target = target as usize;
                    let max = lanes_fold(row, f32::NEG_INFINITY, f32::max);
                    let target_logit = row[target];
                    for x in row.iter_mut() {
                        *x = (*x - max).exp();
                    }
                    let sum = lanes_fold(row, 0.0, |a, b| a + b);
                    loss += f64::from(max + sum.ln() - target_logit);
                    let factor = scale / sum;
                    for x in row.iter_mut() {
                        *x *= factor;
                    }
                    row[target] -= scale;
                }
                Ok(loss)
            })
            .collect::<Result<_, _>>()?;
        out.loss_sum += losses.iter().sum::<f64>();
        let g = &*g;
        // ∂h = G Wᵀ, row blocks in parallel.
        out.states[start * n..(start + len) * n]
            .par_chunks_mut(row_block * n)
            .zip(g.par_chunks(row_block * items))
            .try_for_each(|(dh, g_block)| -> Result<(), GruError> {
                let gb = MatRef::row_major(g_block, dh.len() / n, items)?;
                matmul(dh, gb, w.t(), false, rounding)
            })?;
        // ∂Wᵀ += Gᵀ H and ∂b += Σ G, item blocks in parallel.
        let hv = MatRef::row_major(h, len, n)?;
        let gv = MatRef::row_major(g, len, items)?;
        let item_block = block(items);
        out.weight_t
            .par_chunks_mut(item_block * n)
            .zip(out.bias.par_chunks_mut(item_block))
            .enumerate()
            .try_for_each(|(index, (dw, db))| -> Result<(), GruError> {
                let first = index * item_block;
                let count = db.len();
                matmul(dw, gv.columns(first, count)?.t(), hv, true, rounding)?;
                // Row by row: contiguous reads, the same order for every split.
                for row in g.chunks_exact(items) {
                    for (d, x) in db.iter_mut().zip(&row[first..first + count]) {
                        *d += x;
                    }
                }
                Ok(())
            })?;
        start += len;
    }
    Ok(out)
}

/// The output layer's weights on the host, for scoring on the CPU: the
/// logits of a batch go straight into the evaluator's score buffer, through
/// the same matrix kernel as training's output layer (faster than burn
/// `flex`'s matmul plus a copy out of the tensor, `benches/matmul_shapes.rs`).
#[derive(Debug, Clone)]
pub(crate) struct HostLogits {
    /// `[n × items]`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    n: usize,
}

impl HostLogits {
    pub(crate) fn new(weight: Vec<f32>, bias: Vec<f32>, n: usize) -> Result<Self, GruError> {
        if weight.len() != n * bias.len() {
            return Err(GruError::Backend(format!(
                "output layer: {} weights for {n} × {} items",
                weight.len(),
                bias.len()
            )));
        }
        Ok(HostLogits { weight, bias, n })
    }

    /// `scores` (`[rows × items]`) = `states` (`[rows × n]`) · W + b.
    pub(crate) fn scores(
        &self,
        states: &[f32],
        scores: &mut [f32],
        rounding: OperandRounding,
    ) -> Result<(), GruError> {
        let (n, items) = (self.n, self.bias.len());
        let rows = states.len() / n.max(1);
        if states.len() != rows * n || scores.len() != rows * items {
            return Err(GruError::Backend(format!(
                "scoring: {} state values and {} score slots for {rows} rows of {n} → {items}",
                states.len(),
                scores.len()
            )));
        }
        let w = MatRef::row_major(&self.weight, n, items)?;
        logits_into(states, w, &self.bias, scores, rounding)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cell::uniform_tensor;
    use crate::output::softmax_cross_entropy;
    use burn::tensor::{Device, Tensor};
    use seqrec_core::SeqRng;

    fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().try_to_vec::<f32>().unwrap()
    }

    /// Equal to the burn version for shapes that cross every block edge.
    #[test]
    fn equals_the_burn_output_layer() {
        let device = Device::flex();
        let mut rng = SeqRng::new(2);
        let (rows, n, items) = (75, 5, 600);
        let h = uniform_tensor([rows, n], 1.0, &mut rng, &device);
        let w = uniform_tensor([n, items], 1.0, &mut rng, &device);
        let b = uniform_tensor([items], 1.0, &mut rng, &device);
        let targets: Vec<u32> = (0..rows as u32).map(|r| (r * 37) % items as u32).collect();
        let scale = 1.0 / rows as f64;
        let want = softmax_cross_entropy(
            h.clone(),
            &targets,
            w.clone(),
            b.clone(),
            40,
            scale,
            crate::Precision::Tf32,
            false,
            &device,
        );
        for chunk in [1, 33, 40, 1000] {
            let got = softmax_cross_entropy_host(
                &floats(h.clone()),
                &targets,
                &floats(w.clone()),
                &floats(b.clone()),
                n,
                chunk,
                scale as f32,
                OperandRounding::Exact,
            )
            .unwrap_or_else(|e| panic!("{e}"));
            let close = |a: &[f32], b: &[f32], what: &str| {
                assert_eq!(a.len(), b.len(), "{what}");
                for (x, y) in a.iter().zip(b) {
                    assert!((x - y).abs() < 1e-5, "{what}, chunk {chunk}: {x} vs {y}");
                }
            };
            close(
                &[got.loss_sum as f32],
                &floats(want.loss_sum.clone()),
                "loss",
            );
            close(&got.states, &floats(want.states.clone()), "states");
            close(&got.bias, &floats(want.bias.clone()), "bias");
            close(
                &got.weight_t,
                &floats(want.weight.clone().transpose()),
                "weight",
            );
        }
    }
}
