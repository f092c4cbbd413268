//! One training window entirely on the host (the CPU backends): the
//! recurrence of `recurrence_host`, the output layer of `output_host`, the
//! L2 term, and every gradient registered for the optimiser. Equal to the
//! burn path of [`WindowTrainer::gradients`] up to rounding (tests in
//! `training/tests.rs`).

use super::window::{WindowTrainer, backend_error};
use crate::lanes::Window;
use crate::model::{GruModel, index_tensor};
use crate::output_host::softmax_cross_entropy_host;
use crate::recurrence_host::{GradientSink, HostCell, Matrix};
use crate::{GruError, dropout};
use burn::module::Param;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};
use seqrec_core::SeqRng;

/// The rows of an embedding table for `ids`, on the host.
fn rows_of(table: &Param<Tensor<2>>, ids: &[u32], device: &Device) -> Result<Matrix, GruError> {
    Matrix::of(table.val().inner().select(0, index_tensor(ids, device)))
}

/// Adds row r of `rows` into row `ids[r]` of `table`.
fn scatter_add(table: &mut Matrix, ids: &[u32], rows: &[f32]) -> Result<(), GruError> {
    let (n, size) = (table.cols, table.rows);
    for (&id, row) in ids.iter().zip(rows.chunks_exact(n)) {
        let target = table
            .data
            .get_mut(id as usize * n..(id as usize + 1) * n)
            .ok_or_else(|| {
                GruError::Backend(format!("embedding row {id} outside a table of {size}"))
            })?;
        for (t, x) in target.iter_mut().zip(row) {
            *t += x;
        }
    }
    Ok(())
}

fn multiply(values: &mut [f32], mask: &[f32]) {
    for (v, m) in values.iter_mut().zip(mask) {
        *v *= m;
    }
}

fn host_vec<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>, GruError> {
    t.into_data().try_to_vec::<f32>().map_err(backend_error)
}

impl WindowTrainer<'_> {
    /// [`WindowTrainer::gradients`] on the host, with the gradients'
    /// global norm.
    pub(super) fn host_gradients(
        &self,
        model: &GruModel,
        w: &Window,
        h: Tensor<2>,
        rng: &mut SeqRng,
    ) -> Result<(GradientsParams, Tensor<2>, Tensor<1>, f64), GruError> {
        let p = self.params;
        let (lanes, steps, n) = (w.lanes, w.steps, p.hidden);
        let rows = lanes * steps;
        let inner = self.inner;
        let items = model.items();

        // The window's embeddings, with dropout drawn as the burn path draws it.
        let mut e_i = rows_of(&model.item_embedding, &w.inputs, inner)?;
        let item_mask =
            (p.item_keep < 1.0).then(|| dropout::mask_values(rows, n, p.item_keep, rng));
        if let Some(mask) = &item_mask {
            multiply(&mut e_i.data, mask);
        }
        let mut user_mask = None;
        let e_v = match &model.user_embedding {
            Some(table) => {
                let mut e_v = rows_of(table, &w.users, inner)?;
                if p.user_keep < 1.0 {
                    let mask = dropout::mask_values(rows, n, p.user_keep, rng);
                    multiply(&mut e_v.data, &mask);
                    user_mask = Some(mask);
                }
                Some(e_v)
            }
            None => None,
        };
        let keep: Option<Vec<f32>> = (0..steps)
            .any(|s| w.any_reset(s))
            .then(|| w.reset.iter().map(|&r| if r { 0.0 } else { 1.0 }).collect());

        let cell = HostCell::of(&model.cell, self.precision.host_rounding())?;
        let h0 = host_vec(h.inner())?;
        let acts = cell.forward(&h0, keep.as_deref(), e_i, e_v, lanes, steps)?;

        // The output layer on the active lane-steps.
        let active: Vec<usize> = (0..rows).filter(|&i| w.active[i]).collect();
        let targets: Vec<u32> = active.iter().map(|&i| w.targets[i]).collect();
        let mut states = Vec::with_capacity(active.len() * n);
        for &i in &active {
            states.extend_from_slice(&acts.states.data[i * n..(i + 1) * n]);
        }
        let bias = match &model.output.bias {
            Some(b) => host_vec(b.val().inner())?,
            None => vec![0.0; items],
        };
        let scale = 1.0 / active.len() as f64;
        let out = softmax_cross_entropy_host(
            &states,
            &targets,
            &host_vec(model.output.weight.val().inner())?,
            &bias,
            n,
            self.chunk_rows,
            scale as f32,
            self.precision.host_rounding(),
        )?;
        let mut d_states = vec![0f32; rows * n];
        for (k, &i) in active.iter().enumerate() {
            d_states[i * n..(i + 1) * n].copy_from_slice(&out.states[k * n..(k + 1) * n]);
        }
        let mut loss = out.loss_sum * scale;

        let mut cell_grads = cell.backward(&acts, &d_states, keep.as_deref())?;
        let mut grads = GradientSink::new(inner);

        // Embedding tables: dense gradients, as autodiff's would be.
        let mut d_e_i = std::mem::take(&mut cell_grads.e_i.data);
        if let Some(mask) = &item_mask {
            multiply(&mut d_e_i, mask);
        }
        let mut item_table = Matrix::zeros(items, n);
        scatter_add(&mut item_table, &w.inputs, &d_e_i)?;
        grads.put(&model.item_embedding, item_table.data, [items, n]);
        let mut user_weights_l2 = None;
        if let Some(table) = &model.user_embedding {
            let users = model.users();
            let mut user_grad = Matrix::zeros(users, n);
            if let Some(d_e_v) = cell_grads.e_v.take() {
                let mut d = d_e_v.data;
                if let Some(mask) = &user_mask {
                    multiply(&mut d, mask);
                }
                scatter_add(&mut user_grad, &w.users, &d)?;
            }
            // The L2 term on the window's looked-up user rows (and, as an
            // option, on the cell's user-side weights).
            if p.user_l2 > 0.0 && !w.stretch_users.is_empty() {
                let count = w.stretch_users.len() as f64;
                let stretch = rows_of(table, &w.stretch_users, inner)?;
                let squares: f64 = stretch.data.iter().map(|&x| f64::from(x * x)).sum();
                loss += 0.5 * p.user_l2 / count * squares;
                let factor = (p.user_l2 / count) as f32;
                let scaled: Vec<f32> = stretch.data.iter().map(|x| x * factor).collect();
                scatter_add(&mut user_grad, &w.stretch_users, &scaled)?;
                if p.user_l2_weights
                    && let Some(half_square) = model.user_weight_half_square()
                {
                    loss += p.user_l2 * f64::from(half_square.into_scalar::<f32>());
                    user_weights_l2 = Some(p.user_l2 as f32);
                }
            }
            grads.put(table, user_grad.data, [users, n]);
        }
        cell_grads.register(&model.cell, user_weights_l2, &mut grads)?;

        // The output layer's weight is `[n × items]`; the host gives ∂Wᵀ.
        grads.put_transposed(&model.output.weight, out.weight_t, [items, n]);
        if let Some(b) = &model.output.bias {
            grads.put(b, out.bias, [items]);
        }
        let (grads, norm) = grads.finish();
        let last = acts.states.data[(steps - 1) * lanes * n..].to_vec();
        let h_next = Tensor::<2>::from_data(TensorData::new(last, [lanes, n]), self.device);
        let loss = Tensor::<1>::from_data(TensorData::new(vec![loss as f32], [1]), inner);
        Ok((grads, h_next, loss, norm))
    }
}
