//! A GRU step's element-wise work in fused kernels, one per stage, forward
//! and backward: the floor the cells' equations allow.
//!
//! The reset gate scales the state before the candidate's product
//! (specification §4.1), so a step needs one element-wise stage after the
//! gates' product and one after the candidate's:
//!
//! - [`reset_state`]: `r = σ(hidden_r + projected_r)`, out `r ⊙ h`;
//! - [`update`]: `u = σ(hidden_u + projected_u)`, `k = tanh(candidate +
//!   projected_candidate)`, out `h + u ⊙ (k − h)`;
//!
//! and the rectified and attentional cells a third, whose output feeds a
//! product of its own: [`rectify`] (the filter f, hard thresholds) and
//! [`attend`] (the gate ξ and the mix `[a_i | a_v]`).
//!
//! Around them, two changes to what autodiff does: [`split_rows`] hands a
//! window's projection to its steps with one backward, and
//! [`window_product`] gives a step weight its gradient once per window.
//!
//! `hidden` is `h · W_h` of both gates (`[m × 2n]`, u first, r second),
//! `projected` the state-independent part of their pre-activations (item,
//! user and bias: the cell's projected inputs). burn composes the same
//! step from about twenty kernels forward (its sigmoid alone is five);
//! these are one each way. The backward kernels recompute σ and tanh from
//! the saved inputs instead of keeping outputs. On the CPU backends the
//! operations are composed of burn's own, with the same mathematics.

// ndarray is deprecated in burn 0.22 but is a backend the project was asked
// for; the extension macro names it.
#![allow(deprecated)]

use burn::backend::tensor::FloatTensor;
use burn::tensor::Tensor;

mod autodiff;
#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
mod cube;
mod gather;
mod host;
mod ledger;
mod rows;
pub use gather::WindowGather;

/// How a GPU computes a GRU step's element-wise work, the output layer's
/// softmax cross-entropy and Adam's update.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ElementWise {
    /// seqrec's fused kernels ([`FusedGruStep`], [`crate::fused_output`],
    /// [`crate::device_adam`]).
    #[default]
    Fused,
    /// burn's operations, one kernel each (the reference the fused kernels
    /// are tested against, and a way around a device the fused kernels
    /// fail on; the CPU backends always compose).
    Composed,
}

impl ElementWise {
    pub const ALL: [ElementWise; 2] = [ElementWise::Fused, ElementWise::Composed];

    pub fn name(self) -> &'static str {
        match self {
            ElementWise::Fused => "fused",
            ElementWise::Composed => "composed",
        }
    }

    /// What runs on a backend: the CPU backends always compose (their
    /// results are the published ones).
    pub fn effective(self, cpu_backend: bool) -> ElementWise {
        if cpu_backend {
            ElementWise::Composed
        } else {
            self
        }
    }

    pub fn parse(name: &str) -> Result<Self, crate::GruError> {
        ElementWise::ALL
            .into_iter()
            .find(|e| e.name() == name)
            .ok_or_else(|| crate::GruError::Unknown {
                kind: "element-wise mode",
                name: name.to_owned(),
                known: "fused, composed",
            })
    }
}

impl std::fmt::Display for ElementWise {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The fused element-wise stages of a GRU step, and the two window-wide
/// operations around them ([`split_rows`], [`window_product`]), whose
/// forward passes are burn's own everywhere (their default bodies): only
/// their backward under autodiff differs.
#[burn::backend::backend_extension(
    Cube: cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda")),
    Flex,
    NdArray,
    Autodiff
)]
pub trait FusedGruStep: crate::precision::PrecisionMatmul {
    /// `σ(hidden_r + projected_r) ⊙ h`, `[m × n]`.
    fn gru_reset_state(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// `h + u ⊙ (tanh(candidate + projected_candidate) − h)` with
    /// `u = σ(hidden_u + projected_u)`, `[m × n]`.
    fn gru_update(
        candidate: FloatTensor<Self>,
        projected_candidate: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The backward of [`Self::gru_reset_state`] for the gradient `grad`
    /// of its output: (the gradient of the gates' pre-activations `[m ×
    /// 2n]`, zero in u's half; the gradient of `h`).
    fn gru_reset_state_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);

    /// The backward of [`Self::gru_update`]: (the gradient of the
    /// candidate's pre-activation `[m × n]`; of the gates' pre-activations
    /// `[m × 2n]`, zero in r's half; of `h`).
    fn gru_update_backward(
        grad: FloatTensor<Self>,
        candidate: FloatTensor<Self>,
        projected_candidate: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// The rectified cell's filter with hard thresholds: with `κ = hidden +
    /// projected` (`[m × 2n]`, κ1 then κ2), `f = 0` where `e_v < κ1`, else
    /// `e_v` where `e_v ≥ κ2` and `ω e_v` where not (`[m × n]`).
    fn gru_rectify(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
        omega: f32,
    ) -> FloatTensor<Self>;

    /// The backward of [`Self::gru_rectify`]: the gradient of `e_v` (the
    /// comparisons pass none to κ).
    fn gru_rectify_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
        omega: f32,
    ) -> FloatTensor<Self>;

    /// Rows `start..start + len` of a window's tensor, as part `index` of
    /// `gather` (whose parts split the tensor's rows): a view whose
    /// gradient is joined with the other parts' once, under autodiff.
    fn gru_window_rows(
        tensor: FloatTensor<Self>,
        start: usize,
        len: usize,
        _index: usize,
        _gather: WindowGather,
    ) -> FloatTensor<Self> {
        host::row_block::<Self>(tensor, start, len)
    }

    /// `x · w` at `precision` as step `index` of `ledger`'s window: under
    /// autodiff `x` receives its gradient at once and `w` one gradient for
    /// the whole window ([`WindowGather`]).
    fn gru_window_product(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        precision: crate::Precision,
        _index: usize,
        _ledger: WindowGather,
    ) -> FloatTensor<Self> {
        crate::precision::product_at::<Self>(precision, x, w)
    }

    /// The attentional cell's mix: with `ξ = σ(hidden + projected)`
    /// (`[m × n]`), `[(1 − ξ) ⊙ e_i | ξ ⊙ e_v]` (`[m × 2n]`).
    fn gru_attend(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_i: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
    ) -> FloatTensor<Self>;

    /// The backward of [`Self::gru_attend`]: (the gradient of ξ's
    /// pre-activation; of `e_i`; of `e_v`).
    fn gru_attend_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_i: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

/// `σ(hidden_r + projected_r) ⊙ h` (autodiff-aware).
pub fn reset_state(hidden: Tensor<2>, projected: Tensor<2>, h: Tensor<2>) -> Tensor<2> {
    Tensor::from_dispatch(burn::backend::Dispatch::gru_reset_state(
        hidden.into_dispatch(),
        projected.into_dispatch(),
        h.into_dispatch(),
    ))
}

/// The next state `h + u ⊙ (k − h)` (autodiff-aware).
pub fn update(
    candidate: Tensor<2>,
    projected_candidate: Tensor<2>,
    hidden: Tensor<2>,
    projected: Tensor<2>,
    h: Tensor<2>,
) -> Tensor<2> {
    Tensor::from_dispatch(burn::backend::Dispatch::gru_update(
        candidate.into_dispatch(),
        projected_candidate.into_dispatch(),
        hidden.into_dispatch(),
        projected.into_dispatch(),
        h.into_dispatch(),
    ))
}

/// The rectified filter with hard thresholds κ = `hidden + projected`
/// (autodiff-aware; `omega` is ω).
pub fn rectify(hidden: Tensor<2>, projected: Tensor<2>, e_v: Tensor<2>, omega: f32) -> Tensor<2> {
    Tensor::from_dispatch(burn::backend::Dispatch::gru_rectify(
        hidden.into_dispatch(),
        projected.into_dispatch(),
        e_v.into_dispatch(),
        omega,
    ))
}

/// `[(1 − ξ) ⊙ e_i | ξ ⊙ e_v]` with `ξ = σ(hidden + projected)`
/// (autodiff-aware).
pub fn attend(
    hidden: Tensor<2>,
    projected: Tensor<2>,
    e_i: Tensor<2>,
    e_v: Tensor<2>,
) -> Tensor<2> {
    Tensor::from_dispatch(burn::backend::Dispatch::gru_attend(
        hidden.into_dispatch(),
        projected.into_dispatch(),
        e_i.into_dispatch(),
        e_v.into_dispatch(),
    ))
}

/// `x · w` at `precision` as step `index` of a window whose weight
/// gradient `ledger` gathers (autodiff-aware).
pub fn window_product(
    x: Tensor<2>,
    w: Tensor<2>,
    precision: crate::Precision,
    index: usize,
    ledger: WindowGather,
) -> Tensor<2> {
    Tensor::from_dispatch(burn::backend::Dispatch::gru_window_product(
        x.into_dispatch(),
        w.into_dispatch(),
        precision,
        index,
        ledger,
    ))
}

/// `tensor` split into `parts` consecutive blocks of `len` rows, views
/// whose gradients are joined once (autodiff-aware; see [`WindowGather`]).
pub fn split_rows(tensor: Tensor<2>, parts: usize, len: usize) -> Vec<Tensor<2>> {
    let gather = WindowGather::new(parts);
    (0..parts)
        .map(|index| {
            Tensor::from_dispatch(burn::backend::Dispatch::gru_window_rows(
                tensor.clone().into_dispatch(),
                index * len,
                len,
                index,
                gather.clone(),
            ))
        })
        .collect()
}

#[cfg(test)]
pub(crate) mod tests;
