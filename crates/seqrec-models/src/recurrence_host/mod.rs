//! The recurrence of a training window on the host, forward and backward
//! written by hand, for the CPU backends (as `output_host` does for the
//! output layer).
//!
//! burn's autodiff takes each step's weight gradient as its own thin
//! product (K = lanes), at a third of the CPU's speed. Here the window's
//! activations are kept, each step does only the products that depend on
//! the previous step (with h forward, with the weights' transposes
//! backward), and every weight gradient is one product over the whole
//! window (K = lanes × steps). All products go through `host_matmul`.
//!
//! The mathematics is that of [`GruCell::step_projected`] (specification §4.1–4.4)
//! with the rectified cell's hard threshold (its soft threshold keeps the
//! burn path). `training/tests.rs` checks the loss and every gradient
//! against the burn path, variant by variant.

use crate::GruError;
use crate::cell::{GruCell, UserIntegration};
use crate::host_matmul::{MatRef, OperandRounding, StepWeight};
use burn::module::Param;
use burn::nn::Linear;
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor, TensorData};

mod backward;
mod forward;

pub(crate) use forward::Activations;

/// An owned row-major `f32` matrix.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Matrix {
    pub data: Vec<f32>,
    pub rows: usize,
    pub cols: usize,
}

impl Matrix {
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Matrix {
            data: vec![0.0; rows * cols],
            rows,
            cols,
        }
    }

    pub fn new(data: Vec<f32>, rows: usize, cols: usize) -> Result<Self, GruError> {
        if data.len() != rows * cols {
            return Err(GruError::Backend(format!(
                "host matrix: {} values for {rows} × {cols}",
                data.len()
            )));
        }
        Ok(Matrix { data, rows, cols })
    }

    /// The values of a 2-D tensor.
    pub fn of(t: Tensor<2>) -> Result<Self, GruError> {
        let [rows, cols] = t.dims();
        let data = t
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| GruError::Backend(format!("{e:?}")))?;
        Matrix::new(data, rows, cols)
    }

    pub fn view(&self) -> Result<MatRef<'_>, GruError> {
        MatRef::row_major(&self.data, self.rows, self.cols)
    }

    /// Rows `first..first + count`, copied.
    pub fn row_block(&self, first: usize, count: usize) -> Matrix {
        Matrix {
            data: self.data[first * self.cols..(first + count) * self.cols].to_vec(),
            rows: count,
            cols: self.cols,
        }
    }

    /// Columns `first..first + count`, copied.
    pub fn column_block(&self, first: usize, count: usize) -> Matrix {
        let mut data = Vec::with_capacity(self.rows * count);
        for row in self.data.chunks_exact(self.cols) {
            data.extend_from_slice(&row[first..first + count]);
        }
        Matrix {
            data,
            rows: self.rows,
            cols: count,
        }
    }

    /// The matrices side by side (all with the same rows).
    pub fn hcat(parts: &[&Matrix]) -> Matrix {
        let rows = parts.first().map_or(0, |p| p.rows);
        let cols = parts.iter().map(|p| p.cols).sum();
        let mut data = Vec::with_capacity(rows * cols);
        for r in 0..rows {
            for p in parts {
                data.extend_from_slice(&p.data[r * p.cols..(r + 1) * p.cols]);
            }
        }
        Matrix { data, rows, cols }
    }

    /// The matrices stacked (all with the same columns).
    pub fn vcat(parts: &[&Matrix]) -> Matrix {
        let cols = parts.first().map_or(0, |p| p.cols);
        Matrix {
            data: parts.iter().flat_map(|p| p.data.iter().copied()).collect(),
            rows: parts.iter().map(|p| p.rows).sum(),
            cols,
        }
    }
}

/// Gradients on their way to the optimiser: registered by parameter id as
/// tensors on `device`, with the sum of their squares kept, so the global
/// norm needs no second pass over the tensors.
pub(crate) struct GradientSink<'a> {
    pub grads: GradientsParams,
    square_sum: f64,
    device: &'a Device,
}

impl<'a> GradientSink<'a> {
    pub fn new(device: &'a Device) -> Self {
        GradientSink {
            grads: GradientsParams::new(),
            square_sum: 0.0,
            device,
        }
    }

    /// Registers `data` (row-major, `shape`) as `param`'s gradient.
    pub fn put<const D: usize>(
        &mut self,
        param: &Param<Tensor<D>>,
        data: Vec<f32>,
        shape: [usize; D],
    ) {
        self.square_sum += squares(&data);
        let t = Tensor::<D>::from_data(TensorData::new(data, shape), self.device);
        self.grads.register(param.id, t);
    }

    /// Registers the transpose of `data_t` (row-major `shape`) as `param`'s
    /// gradient: a transposed view, no copy.
    pub fn put_transposed(
        &mut self,
        param: &Param<Tensor<2>>,
        data_t: Vec<f32>,
        shape: [usize; 2],
    ) {
        self.square_sum += squares(&data_t);
        let t = Tensor::<2>::from_data(TensorData::new(data_t, shape), self.device);
        self.grads.register(param.id, t.transpose());
    }

    /// The gradients and their global L2 norm.
    pub fn finish(self) -> (GradientsParams, f64) {
        (self.grads, self.square_sum.sqrt())
    }
}

/// Σ x² in f64.
fn squares(values: &[f32]) -> f64 {
    values.iter().map(|&x| f64::from(x) * f64::from(x)).sum()
}

/// The values of a bias (zeros for a layer without one; every layer the
/// project builds has one).
fn bias_of(layer: &Linear) -> Result<Vec<f32>, GruError> {
    match &layer.bias {
        Some(b) => b
            .val()
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| GruError::Backend(format!("{e:?}"))),
        None => Ok(vec![0.0; layer.weight.dims()[1]]),
    }
}

fn weight_of(layer: &Linear) -> Result<Matrix, GruError> {
    Matrix::of(layer.weight.val())
}

fn needed(layer: &Option<Linear>) -> Result<&Linear, GruError> {
    layer.as_ref().ok_or_else(|| {
        GruError::Backend("the cell was built without a layer its variant uses".to_owned())
    })
}

fn sum(parts: &[&[f32]]) -> Vec<f32> {
    let mut out = parts.first().map(|p| p.to_vec()).unwrap_or_default();
    for p in &parts[1..] {
        for (o, x) in out.iter_mut().zip(p.iter()) {
            *o += x;
        }
    }
    out
}

/// Where each part of a row of the pre-activation gradients lies (see
/// [`CellGradients`]): standard, linear and rectified `[∂a (2n) | ∂c (n)]`,
/// attentional `[∂ξ (n) | ∂a (2n) | ∂c (n)]`, where a is the gates'
/// pre-activation, c the candidate's and ξ the attention gate's.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Layout {
    pub n: usize,
    /// Columns of the pre-activation gradients.
    pub d_cols: usize,
    /// First column of ∂a.
    pub gate: usize,
    /// First column of ∂c.
    pub candidate: usize,
    /// ∂ of h's products: the first `hidden_grad` columns (the rectified
    /// thresholds get none).
    pub hidden_grad: usize,
    /// ∂ of the input projection: the first `input_grad` columns.
    pub input_grad: usize,
}

impl Layout {
    fn of(integration: UserIntegration, n: usize) -> Layout {
        match integration {
            UserIntegration::Attentional => Layout {
                n,
                d_cols: 4 * n,
                gate: n,
                candidate: 3 * n,
                hidden_grad: 3 * n,
                input_grad: n,
            },
            _ => Layout {
                n,
                d_cols: 3 * n,
                gate: 0,
                candidate: 2 * n,
                hidden_grad: 2 * n,
                input_grad: 3 * n,
            },
        }
    }
}

/// A weight the recurrence multiplies by at every step, laid out for both
/// directions: W forward, the transpose of its first `grad_cols` columns
/// backward (see [`StepWeight`] for why not a transposed view).
#[derive(Debug)]
pub(crate) struct StepPair {
    pub forward: StepWeight,
    pub backward: StepWeight,
}

impl StepPair {
    fn new(w: &Matrix, grad_cols: usize, rounding: OperandRounding) -> Result<StepPair, GruError> {
        Ok(StepPair {
            forward: StepWeight::new(w.view()?, rounding)?,
            backward: StepWeight::new(w.view()?.columns(0, grad_cols)?.t(), rounding)?,
        })
    }
}

/// A cell's weights on the host, arranged by what multiplies them.
#[derive(Debug)]
pub(crate) struct HostCell {
    pub integration: UserIntegration,
    pub omega: f32,
    pub layout: Layout,
    /// What h is multiplied by: the gates' hidden rows (standard, linear),
    /// `[gates | κ]` (rectified), `[ξ | gates]` (attentional).
    pub hidden: StepPair,
    /// T(r ⊙ h) of the candidate.
    pub candidate_hidden: StepPair,
    /// The state-independent projection of the item embedding, `[n × p]`:
    /// `[gates | candidate]` (standard, linear), `[gates | candidate | κ]`
    /// (rectified), ξ (attentional).
    pub input_item: Matrix,
    /// The same for the user embedding (linear, attentional).
    pub input_user: Option<Matrix>,
    /// Every bias the projection carries.
    pub input_bias: Vec<f32>,
    /// Rectified: κ's user rows `[n × 2n]` (forward only: no gradient
    /// passes a hard threshold).
    pub threshold_user: Option<Matrix>,
    /// Rectified, attentional: `[gates' user rows | T(v) of the
    /// candidate]`, what f (or a_v) is multiplied by.
    pub user: Option<StepPair>,
    /// Attentional: `[gates' item rows | T(x) of the candidate]`, for a_i.
    pub item: Option<StepPair>,
    /// Attentional: `[gates' bias | every candidate bias]`.
    pub mixed_bias: Option<Vec<f32>>,
    /// What every product does to its operands (TF32 emulation).
    pub rounding: OperandRounding,
}

impl HostCell {
    /// Copies `cell`'s weights to the host; its products round their
    /// operands as `rounding` says.
    pub fn of(cell: &GruCell, rounding: OperandRounding) -> Result<HostCell, GruError> {
        let s = &cell.settings;
        let n = s.hidden;
        let gates = weight_of(&cell.gates)?;
        let gates_bias = bias_of(&cell.gates)?;
        let gates_hidden = gates.row_block(0, n);
        let gates_item = gates.row_block(n, n);
        let candidate_item = weight_of(&cell.candidate_item)?;
        let mut candidate_bias = sum(&[
            &bias_of(&cell.candidate_hidden)?,
            &bias_of(&cell.candidate_item)?,
        ]);
        if let Some(user) = &cell.candidate_user {
            candidate_bias = sum(&[&candidate_bias, &bias_of(user)?]);
        }
        let layout = Layout::of(s.integration, n);
        let kappa = match &cell.thresholds {
            Some(t) if s.integration == UserIntegration::Rectified => Some(weight_of(t)?),
            _ => None,
        };
        let hidden = match (s.integration, &kappa) {
            (UserIntegration::Rectified, Some(kappa)) => {
                Matrix::hcat(&[&gates_hidden, &kappa.row_block(0, n)])
            }
            (UserIntegration::Attentional, _) => {
                Matrix::hcat(&[&weight_of(needed(&cell.attention_hidden)?)?, &gates_hidden])
            }
            _ => gates_hidden,
        };
        let mut user = None;
        let mut item = None;
        let mut host = HostCell {
            integration: s.integration,
            omega: s.omega as f32,
            layout,
            hidden: StepPair::new(&hidden, layout.hidden_grad, rounding)?,
            candidate_hidden: StepPair::new(&weight_of(&cell.candidate_hidden)?, n, rounding)?,
            input_item: Matrix::hcat(&[&gates_item, &candidate_item]),
            input_user: None,
            input_bias: [gates_bias.as_slice(), candidate_bias.as_slice()].concat(),
            threshold_user: None,
            user: None,
            item: None,
            mixed_bias: None,
            rounding,
        };
        match s.integration {
            UserIntegration::None => {}
            UserIntegration::Linear => {
                let candidate_user = weight_of(needed(&cell.candidate_user)?)?;
                host.input_user =
                    Some(Matrix::hcat(&[&gates.row_block(2 * n, n), &candidate_user]));
            }
            UserIntegration::Rectified => {
                let thresholds = needed(&cell.thresholds)?;
                let kappa = part(&kappa)?;
                host.input_item =
                    Matrix::hcat(&[&gates_item, &candidate_item, &kappa.row_block(n, n)]);
                host.input_bias.extend(bias_of(thresholds)?);
                host.threshold_user = Some(kappa.row_block(2 * n, n));
                user = Some(Matrix::hcat(&[
                    &gates.row_block(2 * n, n),
                    &weight_of(needed(&cell.candidate_user)?)?,
                ]));
            }
            UserIntegration::Attentional => {
                let (a_h, a_i, a_v) = (
                    needed(&cell.attention_hidden)?,
                    needed(&cell.attention_item)?,
                    needed(&cell.attention_user)?,
                );
                host.input_item = weight_of(a_i)?;
                host.input_user = Some(weight_of(a_v)?);
                host.input_bias = sum(&[&bias_of(a_h)?, &bias_of(a_i)?, &bias_of(a_v)?]);
                user = Some(Matrix::hcat(&[
                    &gates.row_block(2 * n, n),
                    &weight_of(needed(&cell.candidate_user)?)?,
                ]));
                item = Some(Matrix::hcat(&[&gates_item, &candidate_item]));
                host.mixed_bias = Some([gates_bias.as_slice(), candidate_bias.as_slice()].concat());
            }
        }
        // Backward, f's and a_v's, a_i's products take all 3n columns.
        host.user = user
            .map(|u| StepPair::new(&u, 3 * n, rounding))
            .transpose()?;
        host.item = item
            .map(|i| StepPair::new(&i, 3 * n, rounding))
            .transpose()?;
        Ok(host)
    }

    pub fn n(&self) -> usize {
        self.layout.n
    }
}

/// σ(x).
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

fn part_mut<T>(x: &mut Option<T>) -> Result<&mut T, GruError> {
    x.as_mut()
        .ok_or_else(|| GruError::Backend("host cell: a part of another variant".to_owned()))
}

/// A piece the variant always has (present whenever the variant needs it).
fn part<T>(x: &Option<T>) -> Result<&T, GruError> {
    x.as_ref()
        .ok_or_else(|| GruError::Backend("host cell: a part of another variant".to_owned()))
}
