//! The window's backward pass: per step only the products that carry ∂h
//! to the step before; every weight gradient afterwards as one product
//! over all lane-steps.
// Element loops index several row slices at once (h, gates, k, ∂…):
// one index reads more plainly here than zips of four or five slices.
#![allow(clippy::needless_range_loop)]

use super::GradientSink;
use super::{Activations, HostCell, Matrix, part, part_mut};
use crate::GruError;
use crate::cell::{GruCell, UserIntegration};
use crate::host_matmul::{MatRef, OperandRounding, matmul_parallel};
use burn::module::Param;
use burn::tensor::Tensor;

/// The gradients of one window's recurrence, arranged as [`HostCell`]'s
/// weights are.
#[derive(Debug)]
pub(crate) struct CellGradients {
    /// ∂ of `HostCell::hidden`'s first `layout.hidden_grad` columns.
    pub hidden: Matrix,
    pub candidate_hidden: Matrix,
    /// ∂ of `HostCell::input_item`'s first `layout.input_grad` columns.
    pub input_item: Matrix,
    pub input_user: Option<Matrix>,
    /// Rectified, attentional: ∂ of `HostCell::user`; attentional: of `item`.
    pub user: Option<Matrix>,
    pub item: Option<Matrix>,
    /// Column sums of the pre-activations' gradients (one row per
    /// lane-step, columns as [`super::Layout`] says): the biases' gradients.
    pub bias: Vec<f32>,
    /// ∂ of the (dropped-out) embeddings of every lane-step.
    pub e_i: Matrix,
    pub e_v: Option<Matrix>,
}

/// `aᵀ · b` for row-major `a` `[rows × p]` and columns `first..first + q`
/// of `b` `[rows × _]`: one product over all lane-steps.
fn weight_gradient(
    a: &Matrix,
    b: &Matrix,
    first: usize,
    q: usize,
    rounding: OperandRounding,
) -> Result<Matrix, GruError> {
    let mut out = Matrix::zeros(a.cols, q);
    matmul_parallel(
        &mut out.data,
        a.view()?.t(),
        b.view()?.columns(first, q)?,
        false,
        rounding,
    )?;
    Ok(out)
}

impl HostCell {
    /// Backpropagates `d_states` (∂loss/∂ each step's output state, one row
    /// per lane-step) through the window of `a`. No gradient flows into the
    /// window's initial state (it is carried over detached).
    pub fn backward(
        &self,
        a: &Activations,
        d_states: &[f32],
        keep: Option<&[f32]>,
    ) -> Result<CellGradients, GruError> {
        let l = self.layout;
        let n = l.n;
        let (lanes, steps) = (a.lanes, a.steps);
        let rows = lanes * steps;
        if d_states.len() != rows * n {
            return Err(GruError::Backend(format!(
                "host recurrence: {} state gradients for {rows} rows × {n}",
                d_states.len()
            )));
        }
        let dc = l.d_cols;
        let mut pre = Matrix::zeros(rows, dc);
        let mut e_i_grad = Matrix::zeros(rows, n);
        let mut e_v_grad = a.e_v.as_ref().map(|_| Matrix::zeros(rows, n));
        let ln = lanes * n;
        let mut carry = vec![0f32; ln];
        let mut dh = vec![0f32; ln];
        let mut d_rh = vec![0f32; ln];
        let mut d_x = vec![0f32; ln];
        let mut d_y = vec![0f32; ln];
        let mut scratch = Vec::new();
        for s in (0..steps).rev() {
            let rs = s * ln..(s + 1) * ln;
            let h_in = &a.h_in.data[rs.clone()];
            let k = &a.candidate.data[rs.clone()];
            let gates = &a.gates.data[s * lanes * 2 * n..(s + 1) * lanes * 2 * n];
            let d_out = &d_states[rs.clone()];
            let step_pre = &mut pre.data[s * lanes * dc..(s + 1) * lanes * dc];
            // ∂c and ∂u; dh holds ∂h' for now.
            for lane in 0..lanes {
                let row = &mut step_pre[lane * dc..(lane + 1) * dc];
                for j in 0..n {
                    let i = lane * n + j;
                    let d = d_out[i] + carry[i];
                    let u = gates[lane * 2 * n + j];
                    let kj = k[i];
                    row[l.candidate + j] = d * u * (1.0 - kj * kj);
                    row[l.gate + j] = d * (kj - h_in[i]) * u * (1.0 - u);
                    dh[i] = d * (1.0 - u);
                }
            }
            let step_view = MatRef::row_major(step_pre, lanes, dc)?;
            self.candidate_hidden.backward.multiply(
                &mut d_rh,
                step_view.columns(l.candidate, n)?,
                false,
                &mut scratch,
            )?;
            for lane in 0..lanes {
                let row = &mut step_pre[lane * dc..(lane + 1) * dc];
                for j in 0..n {
                    let i = lane * n + j;
                    let r = gates[lane * 2 * n + n + j];
                    row[l.gate + n + j] = d_rh[i] * h_in[i] * r * (1.0 - r);
                    dh[i] += d_rh[i] * r;
                }
            }
            match self.integration {
                UserIntegration::None | UserIntegration::Linear => {}
                UserIntegration::Rectified => {
                    // ∂f = [∂a | ∂c] · userᵀ; ∂e_v = ∂f ⊙ m (the thresholds pass none).
                    let step_view = MatRef::row_major(step_pre, lanes, dc)?;
                    let user = &part(&self.user)?.backward;
                    user.multiply(&mut d_x, step_view, false, &mut scratch)?;
                    let m = &part(&a.factor)?.data[rs.clone()];
                    let out = &mut part_mut(&mut e_v_grad)?.data[rs.clone()];
                    for ((o, d), m) in out.iter_mut().zip(&d_x).zip(m) {
                        *o = d * m;
                    }
                }
                UserIntegration::Attentional => {
                    let step_view = MatRef::row_major(step_pre, lanes, dc)?;
                    let mixed = step_view.columns(n, 3 * n)?;
                    let item = &part(&self.item)?.backward;
                    let user = &part(&self.user)?.backward;
                    item.multiply(&mut d_x, mixed, false, &mut scratch)?;
                    user.multiply(&mut d_y, mixed, false, &mut scratch)?;
                    let xi = &part(&a.xi)?.data[rs.clone()];
                    let e_i = &a.e_i.data[rs.clone()];
                    let e_v = &part(&a.e_v)?.data[rs.clone()];
                    let g_i = &mut e_i_grad.data[rs.clone()];
                    let g_v = &mut part_mut(&mut e_v_grad)?.data[rs.clone()];
                    for lane in 0..lanes {
                        for j in 0..n {
                            let i = lane * n + j;
                            let x = xi[i];
                            let d_xi = d_y[i] * e_v[i] - d_x[i] * e_i[i];
                            step_pre[lane * dc + j] = d_xi * x * (1.0 - x);
                            g_i[i] = d_x[i] * (1.0 - x);
                            g_v[i] = d_y[i] * x;
                        }
                    }
                }
            }
            let step_view = MatRef::row_major(step_pre, lanes, dc)?;
            self.hidden.backward.multiply(
                &mut dh,
                step_view.columns(0, l.hidden_grad)?,
                true,
                &mut scratch,
            )?;
            match keep {
                Some(keep) => {
                    for lane in 0..lanes {
                        let k = keep[s * lanes + lane];
                        for j in 0..n {
                            carry[lane * n + j] = dh[lane * n + j] * k;
                        }
                    }
                }
                None => carry.copy_from_slice(&dh),
            }
        }

        // The weights' gradients: one product each over the whole window.
        let hidden = weight_gradient(&a.h_in, &pre, 0, l.hidden_grad, self.rounding)?;
        let candidate_hidden =
            weight_gradient(&a.reset_hidden, &pre, l.candidate, n, self.rounding)?;
        let input_item = weight_gradient(&a.e_i, &pre, 0, l.input_grad, self.rounding)?;
        let input_user = match (&self.input_user, &a.e_v) {
            (Some(_), Some(e_v)) => {
                Some(weight_gradient(e_v, &pre, 0, l.input_grad, self.rounding)?)
            }
            _ => None,
        };
        let (user, item) = match self.integration {
            UserIntegration::Rectified => (
                Some(weight_gradient(
                    part(&a.filtered)?,
                    &pre,
                    0,
                    3 * n,
                    self.rounding,
                )?),
                None,
            ),
            UserIntegration::Attentional => (
                Some(weight_gradient(
                    part(&a.a_v)?,
                    &pre,
                    n,
                    3 * n,
                    self.rounding,
                )?),
                Some(weight_gradient(
                    part(&a.a_i)?,
                    &pre,
                    n,
                    3 * n,
                    self.rounding,
                )?),
            ),
            _ => (None, None),
        };
        let mut bias = vec![0f32; dc];
        for row in pre.data.chunks_exact(dc) {
            for (b, x) in bias.iter_mut().zip(row) {
                *b += x;
            }
        }
        // The embeddings' gradients through the projection.
        let pre_input = pre.view()?.columns(0, l.input_grad)?;
        matmul_parallel(
            &mut e_i_grad.data,
            pre_input,
            self.input_item.view()?.columns(0, l.input_grad)?.t(),
            true,
            self.rounding,
        )?;
        if let (Some(w), Some(g)) = (&self.input_user, e_v_grad.as_mut()) {
            matmul_parallel(
                &mut g.data,
                pre_input,
                w.view()?.columns(0, l.input_grad)?.t(),
                true,
                self.rounding,
            )?;
        }
        Ok(CellGradients {
            hidden,
            candidate_hidden,
            input_item,
            input_user,
            user,
            item,
            bias,
            e_i: e_i_grad,
            e_v: e_v_grad,
        })
    }
}

/// Adds `extra` (row-major, same shape) into `m`.
fn add_into(m: &mut Matrix, extra: &Matrix) {
    for (a, b) in m.data.iter_mut().zip(&extra.data) {
        *a += b;
    }
}

impl CellGradients {
    /// Registers the cell's gradients in `grads`, shaped as `cell`'s
    /// parameters. `user_weights_l2`: the optional L2 term on the cell's
    /// user-side weight blocks (see `GruModel::user_weight_half_square`),
    /// whose gradient is added here.
    pub fn register(
        self,
        cell: &GruCell,
        user_weights_l2: Option<f32>,
        grads: &mut GradientSink<'_>,
    ) -> Result<(), GruError> {
        let n = cell.settings.hidden;
        let l = super::Layout::of(cell.settings.integration, n);
        let put = |grads: &mut GradientSink<'_>, param: &Param<Tensor<2>>, m: Matrix| {
            let shape = [m.rows, m.cols];
            grads.put(param, m.data, shape);
        };
        let put_bias = |grads: &mut GradientSink<'_>, layer: &burn::nn::Linear, b: &[f32]| {
            if let Some(bias) = &layer.bias {
                grads.put(bias, b.to_vec(), [b.len()]);
            }
        };
        let gate_bias = &self.bias[l.gate..l.gate + 2 * n];
        let candidate_bias = &self.bias[l.candidate..l.candidate + n];
        // The gates' rows: [h; x; v].
        let gates_h = match cell.settings.integration {
            UserIntegration::Attentional => self.hidden.column_block(n, 2 * n),
            _ => self.hidden.clone(),
        };
        let (gates_x, candidate_x) = match cell.settings.integration {
            UserIntegration::Attentional => {
                let item = part(&self.item)?;
                (item.column_block(0, 2 * n), item.column_block(2 * n, n))
            }
            _ => (
                self.input_item.column_block(0, 2 * n),
                self.input_item.column_block(2 * n, n),
            ),
        };
        let user_blocks = match cell.settings.integration {
            UserIntegration::None => None,
            UserIntegration::Linear => {
                let u = part(&self.input_user)?;
                Some((u.column_block(0, 2 * n), u.column_block(2 * n, n)))
            }
            UserIntegration::Rectified | UserIntegration::Attentional => {
                let u = part(&self.user)?;
                Some((u.column_block(0, 2 * n), u.column_block(2 * n, n)))
            }
        };
        let l2_of = |param: &Param<Tensor<2>>,
                     first: usize,
                     count: usize|
         -> Result<Option<Matrix>, GruError> {
            match user_weights_l2 {
                Some(l2) => {
                    let mut m = Matrix::of(param.val())?.row_block(first, count);
                    m.data.iter_mut().for_each(|x| *x *= l2);
                    Ok(Some(m))
                }
                None => Ok(None),
            }
        };
        let mut gate_rows = vec![gates_h, gates_x];
        let mut candidate_user = None;
        if let Some((mut gates_v, mut candidate_v)) = user_blocks {
            if let Some(extra) = l2_of(&cell.gates.weight, 2 * n, n)? {
                add_into(&mut gates_v, &extra);
            }
            let cu = super::needed(&cell.candidate_user)?;
            if let Some(extra) = l2_of(&cu.weight, 0, n)? {
                add_into(&mut candidate_v, &extra);
            }
            gate_rows.push(gates_v);
            candidate_user = Some((cu, candidate_v));
        }
        let gate_refs: Vec<&Matrix> = gate_rows.iter().collect();
        put(grads, &cell.gates.weight, Matrix::vcat(&gate_refs));
        put_bias(grads, &cell.gates, gate_bias);
        put(grads, &cell.candidate_hidden.weight, self.candidate_hidden);
        put_bias(grads, &cell.candidate_hidden, candidate_bias);
        put(grads, &cell.candidate_item.weight, candidate_x);
        put_bias(grads, &cell.candidate_item, candidate_bias);
        if let Some((layer, g)) = candidate_user {
            put(grads, &layer.weight, g);
            put_bias(grads, layer, candidate_bias);
        }
        // Rectified: a hard threshold passes no gradient to κ; only the
        // optional L2 term reaches its user rows.
        if let Some(t) = &cell.thresholds
            && let Some(extra) = l2_of(&t.weight, 2 * n, n)?
        {
            let zeros = Matrix::zeros(2 * n, 2 * n);
            put(grads, &t.weight, Matrix::vcat(&[&zeros, &extra]));
        }
        if cell.settings.integration == UserIntegration::Attentional {
            let (a_h, a_i, a_v) = (
                super::needed(&cell.attention_hidden)?,
                super::needed(&cell.attention_item)?,
                super::needed(&cell.attention_user)?,
            );
            let xi_bias = &self.bias[0..n];
            put(grads, &a_h.weight, self.hidden.column_block(0, n));
            put_bias(grads, a_h, xi_bias);
            put(grads, &a_i.weight, self.input_item);
            put_bias(grads, a_i, xi_bias);
            let mut user = part(&self.input_user)?.clone();
            if let Some(extra) = l2_of(&a_v.weight, 0, n)? {
                add_into(&mut user, &extra);
            }
            put(grads, &a_v.weight, user);
            put_bias(grads, a_v, xi_bias);
        }
        Ok(())
    }
}
