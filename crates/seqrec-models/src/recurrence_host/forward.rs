//! The window's forward pass, keeping what the backward pass reads.
// Element loops index several row slices at once (h, gates, k, ∂…):
// one index reads more plainly here than zips of four or five slices.
#![allow(clippy::needless_range_loop)]

use super::{HostCell, Matrix, part, part_mut, sigmoid};
use crate::GruError;
use crate::cell::UserIntegration;
use crate::host_matmul::{MatRef, matmul_parallel};
use rayon::prelude::*;

/// Everything the backward pass of one window needs, one row per lane-step
/// (row `step · lanes + lane`).
#[derive(Debug)]
pub(crate) struct Activations {
    pub lanes: usize,
    pub steps: usize,
    /// The state each step starts from (after the lane resets).
    pub h_in: Matrix,
    /// The state each step ends in.
    pub states: Matrix,
    /// `[u | r]` after the sigmoid.
    pub gates: Matrix,
    /// The candidate k.
    pub candidate: Matrix,
    /// r ⊙ h.
    pub reset_hidden: Matrix,
    /// The (dropped-out) embeddings.
    pub e_i: Matrix,
    pub e_v: Option<Matrix>,
    /// Rectified: f and the factor m with f = e_v ⊙ m.
    pub filtered: Option<Matrix>,
    pub factor: Option<Matrix>,
    /// Attentional: ξ, a_i and a_v.
    pub xi: Option<Matrix>,
    pub a_i: Option<Matrix>,
    pub a_v: Option<Matrix>,
}

/// Elements per parallel block of the elementwise loops.
const BLOCK: usize = 16 * 1024;

/// `out[i] = f(out[i])`, in parallel blocks.
fn par_apply(out: &mut [f32], f: impl Fn(f32) -> f32 + Sync) {
    out.par_chunks_mut(BLOCK)
        .for_each(|block| block.iter_mut().for_each(|x| *x = f(*x)));
}

impl HostCell {
    /// Runs `steps` steps of `lanes` lanes from `h0` (`[lanes × n]`):
    /// `keep` (one entry per lane-step, 0 or 1) resets lanes before a step,
    /// `e_i`, `e_v` are the embeddings of every lane-step.
    pub fn forward(
        &self,
        h0: &[f32],
        keep: Option<&[f32]>,
        e_i: Matrix,
        e_v: Option<Matrix>,
        lanes: usize,
        steps: usize,
    ) -> Result<Activations, GruError> {
        let n = self.n();
        let rows = lanes * steps;
        if h0.len() != lanes * n || e_i.rows != rows || keep.is_some_and(|k| k.len() != rows) {
            return Err(GruError::Backend(format!(
                "host recurrence: {} state values, {} embedding rows for {lanes} lanes × {steps} steps",
                h0.len(),
                e_i.rows
            )));
        }
        let with_user = self.integration != UserIntegration::None;
        if with_user != e_v.is_some() {
            return Err(GruError::Backend(
                "host recurrence: user embeddings given to the wrong variant".to_owned(),
            ));
        }
        // Every product that does not depend on h, for all lane-steps at once.
        let pc = self.input_bias.len();
        let mut projected = Matrix::zeros(rows, pc);
        for row in projected.data.chunks_exact_mut(pc) {
            row.copy_from_slice(&self.input_bias);
        }
        matmul_parallel(
            &mut projected.data,
            e_i.view()?,
            self.input_item.view()?,
            true,
            self.rounding,
        )?;
        if let (Some(w), Some(e_v)) = (&self.input_user, &e_v) {
            matmul_parallel(
                &mut projected.data,
                e_v.view()?,
                w.view()?,
                true,
                self.rounding,
            )?;
        }
        if let (Some(w), Some(e_v)) = (&self.threshold_user, &e_v) {
            let mut user_part = Matrix::zeros(rows, 2 * n);
            matmul_parallel(
                &mut user_part.data,
                e_v.view()?,
                w.view()?,
                false,
                self.rounding,
            )?;
            for (p, t) in projected
                .data
                .chunks_exact_mut(pc)
                .zip(user_part.data.chunks_exact(2 * n))
            {
                for (p, t) in p[3 * n..].iter_mut().zip(t) {
                    *p += t;
                }
            }
        }

        let rectified = self.integration == UserIntegration::Rectified;
        let attentional = self.integration == UserIntegration::Attentional;
        let mut a = Activations {
            lanes,
            steps,
            h_in: Matrix::zeros(rows, n),
            states: Matrix::zeros(rows, n),
            gates: Matrix::zeros(rows, 2 * n),
            candidate: Matrix::zeros(rows, n),
            reset_hidden: Matrix::zeros(rows, n),
            e_i,
            e_v,
            filtered: rectified.then(|| Matrix::zeros(rows, n)),
            factor: rectified.then(|| Matrix::zeros(rows, n)),
            xi: attentional.then(|| Matrix::zeros(rows, n)),
            a_i: attentional.then(|| Matrix::zeros(rows, n)),
            a_v: attentional.then(|| Matrix::zeros(rows, n)),
        };
        let hc = self.hidden.forward.cols();
        let mut scratch = Vec::new();
        let mut hidden = vec![0f32; lanes * hc];
        let mut mixed = vec![0f32; lanes * 3 * n];
        let mut candidate_pre = vec![0f32; lanes * n];
        let ln = lanes * n;
        for s in 0..steps {
            let rs = s * lanes * n..(s + 1) * lanes * n;
            let previous: &[f32] = if s == 0 {
                h0
            } else {
                &a.states.data[(s - 1) * ln..s * ln]
            };
            let h_in = &mut a.h_in.data[rs.clone()];
            h_in.copy_from_slice(previous);
            if let Some(keep) = keep {
                for (row, &k) in h_in.chunks_exact_mut(n).zip(&keep[s * lanes..]) {
                    if k != 1.0 {
                        row.iter_mut().for_each(|x| *x *= k);
                    }
                }
            }
            let h_in = &a.h_in.data[rs.clone()];
            self.hidden.forward.multiply(
                &mut hidden,
                MatRef::row_major(h_in, lanes, n)?,
                false,
                &mut scratch,
            )?;
            let gates = &mut a.gates.data[s * lanes * 2 * n..(s + 1) * lanes * 2 * n];
            let projected = &projected.data[s * lanes * pc..(s + 1) * lanes * pc];
            match self.integration {
                UserIntegration::None | UserIntegration::Linear => {
                    for lane in 0..lanes {
                        let (g, hd, p) = (
                            &mut gates[lane * 2 * n..(lane + 1) * 2 * n],
                            &hidden[lane * hc..lane * hc + 2 * n],
                            &projected[lane * pc..lane * pc + 2 * n],
                        );
                        for ((g, h), p) in g.iter_mut().zip(hd).zip(p) {
                            *g = h + p;
                        }
                        candidate_pre[lane * n..(lane + 1) * n]
                            .copy_from_slice(&projected[lane * pc + 2 * n..lane * pc + 3 * n]);
                    }
                }
                UserIntegration::Rectified => {
                    let e_v = &part(&a.e_v)?.data[rs.clone()];
                    let f = &mut part_mut(&mut a.filtered)?.data[rs.clone()];
                    let m = &mut part_mut(&mut a.factor)?.data[rs.clone()];
                    let omega = self.omega;
                    for lane in 0..lanes {
                        let hd = &hidden[lane * hc..(lane + 1) * hc];
                        let p = &projected[lane * pc..(lane + 1) * pc];
                        for j in 0..n {
                            let i = lane * n + j;
                            let k1 = hd[2 * n + j] + p[3 * n + j];
                            let k2 = hd[3 * n + j] + p[4 * n + j];
                            let lower = if e_v[i] - k1 >= 0.0 { 1.0 } else { 0.0 };
                            let upper = if e_v[i] - k2 >= 0.0 { 1.0 } else { 0.0 };
                            let factor = upper * (1.0 - omega) + omega;
                            f[i] = e_v[i] * lower * factor;
                            m[i] = lower * factor;
                        }
                    }
                    part(&self.user)?.forward.multiply(
                        &mut mixed,
                        MatRef::row_major(f, lanes, n)?,
                        false,
                        &mut scratch,
                    )?;
                    for lane in 0..lanes {
                        let (g, hd, p, u) = (
                            &mut gates[lane * 2 * n..(lane + 1) * 2 * n],
                            &hidden[lane * hc..lane * hc + 2 * n],
                            &projected[lane * pc..(lane + 1) * pc],
                            &mixed[lane * 3 * n..(lane + 1) * 3 * n],
                        );
                        for j in 0..2 * n {
                            g[j] = hd[j] + p[j] + u[j];
                        }
                        for j in 0..n {
                            candidate_pre[lane * n + j] = p[2 * n + j] + u[2 * n + j];
                        }
                    }
                }
                UserIntegration::Attentional => {
                    let e_i = &a.e_i.data[rs.clone()];
                    let e_v = &part(&a.e_v)?.data[rs.clone()];
                    let xi = &mut part_mut(&mut a.xi)?.data[rs.clone()];
                    let a_i = &mut part_mut(&mut a.a_i)?.data[rs.clone()];
                    let a_v = &mut part_mut(&mut a.a_v)?.data[rs.clone()];
                    for lane in 0..lanes {
                        for j in 0..n {
                            let i = lane * n + j;
                            let x = sigmoid(hidden[lane * hc + j] + projected[lane * pc + j]);
                            xi[i] = x;
                            a_i[i] = e_i[i] - x * e_i[i];
                            a_v[i] = x * e_v[i];
                        }
                    }
                    let bias = part(&self.mixed_bias)?;
                    for row in mixed.chunks_exact_mut(3 * n) {
                        row.copy_from_slice(bias);
                    }
                    let item = &part(&self.item)?.forward;
                    let user = &part(&self.user)?.forward;
                    let (a_i, a_v) = (
                        MatRef::row_major(a_i, lanes, n)?,
                        MatRef::row_major(a_v, lanes, n)?,
                    );
                    item.multiply(&mut mixed, a_i, true, &mut scratch)?;
                    user.multiply(&mut mixed, a_v, true, &mut scratch)?;
                    for lane in 0..lanes {
                        let (g, hd, u) = (
                            &mut gates[lane * 2 * n..(lane + 1) * 2 * n],
                            &hidden[lane * hc + n..lane * hc + 3 * n],
                            &mixed[lane * 3 * n..(lane + 1) * 3 * n],
                        );
                        for j in 0..2 * n {
                            g[j] = hd[j] + u[j];
                        }
                        candidate_pre[lane * n..(lane + 1) * n].copy_from_slice(&u[2 * n..]);
                    }
                }
            }
            par_apply(gates, sigmoid);
            let gates = &a.gates.data[s * lanes * 2 * n..(s + 1) * lanes * 2 * n];
            let rh = &mut a.reset_hidden.data[rs.clone()];
            for lane in 0..lanes {
                let r = &gates[lane * 2 * n + n..(lane + 1) * 2 * n];
                for j in 0..n {
                    rh[lane * n + j] = r[j] * h_in[lane * n + j];
                }
            }
            self.candidate_hidden.forward.multiply(
                &mut candidate_pre,
                MatRef::row_major(rh, lanes, n)?,
                true,
                &mut scratch,
            )?;
            par_apply(&mut candidate_pre, f32::tanh);
            a.candidate.data[rs.clone()].copy_from_slice(&candidate_pre);
            let out = &mut a.states.data[rs.clone()];
            for lane in 0..lanes {
                let u = &gates[lane * 2 * n..lane * 2 * n + n];
                for j in 0..n {
                    let i = lane * n + j;
                    let h = h_in[i];
                    out[i] = h + u[j] * (candidate_pre[i] - h);
                }
            }
        }
        Ok(a)
    }
}
