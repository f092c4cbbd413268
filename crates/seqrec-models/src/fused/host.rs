//! The fused stages on the CPU backends, composed of burn's operations with
//! the mathematics of the cubecl kernels (the CPU trains through its own
//! host recurrence; this serves tests and any caller that asks).
// ndarray is deprecated in burn 0.22 but is a backend the project was asked
// for; the extension macro's generated dispatch names it too.
#![allow(deprecated)]

use super::FusedGruStep;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, BoolDType, FloatDType, TensorMetadata};
use burn::tensor::Slice;

/// Indices `start..start + len` along one axis.
fn span(start: usize, len: usize) -> Slice {
    Slice {
        start: start as isize,
        end: Some((start + len) as isize),
        step: 1,
    }
}

/// Columns `start..start + len` of a rank-2 tensor (a view).
fn columns<B: Backend>(x: FloatTensor<B>, start: usize, len: usize) -> FloatTensor<B> {
    B::float_slice(x, &[Slice::from(..), span(start, len)])
}

/// Rows `start..start + len` of a rank-2 tensor (a view).
pub(super) fn row_block<B: Backend>(x: FloatTensor<B>, start: usize, len: usize) -> FloatTensor<B> {
    B::float_slice(x, &[span(start, len), Slice::from(..)])
}

fn width<B: Backend>(x: &FloatTensor<B>) -> usize {
    x.shape().dims::<2>()[1]
}

fn sigmoid<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_recip(B::float_add_scalar(
        B::float_exp(B::float_neg(x)),
        1.0.into(),
    ))
}

/// `1 − x`.
fn one_minus<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::float_add_scalar(B::float_neg(x), 1.0.into())
}

/// σ of one gate's pre-activation: u's (`gate` 0) or r's (1).
fn gate<B: Backend>(
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    n: usize,
    gate: usize,
) -> FloatTensor<B> {
    sigmoid::<B>(B::float_add(
        columns::<B>(hidden, gate * n, n),
        columns::<B>(projected, gate * n, n),
    ))
}

/// `[a | b]` along columns.
fn join<B: Backend>(a: FloatTensor<B>, b: FloatTensor<B>) -> FloatTensor<B> {
    B::float_cat(vec![a, b], 1)
}

pub(super) fn reset_state<B: Backend>(
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    h: FloatTensor<B>,
) -> FloatTensor<B> {
    let n = width::<B>(&h);
    B::float_mul(gate::<B>(hidden, projected, n, 1), h)
}

pub(super) fn update<B: Backend>(
    candidate: FloatTensor<B>,
    projected_candidate: FloatTensor<B>,
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    h: FloatTensor<B>,
) -> FloatTensor<B> {
    let n = width::<B>(&h);
    let u = gate::<B>(hidden, projected, n, 0);
    let k = B::float_tanh(B::float_add(candidate, projected_candidate));
    B::float_add(h.clone(), B::float_mul(u, B::float_sub(k, h)))
}

pub(super) fn reset_state_backward<B: Backend>(
    grad: FloatTensor<B>,
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    h: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>) {
    let n = width::<B>(&h);
    let r = gate::<B>(hidden, projected, n, 1);
    let d_r = B::float_mul(
        B::float_mul(grad.clone(), h),
        B::float_mul(r.clone(), one_minus::<B>(r.clone())),
    );
    let zeros = B::float_mul_scalar(d_r.clone(), 0.0.into());
    (join::<B>(zeros, d_r), B::float_mul(grad, r))
}

pub(super) fn update_backward<B: Backend>(
    grad: FloatTensor<B>,
    candidate: FloatTensor<B>,
    projected_candidate: FloatTensor<B>,
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    h: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let n = width::<B>(&h);
    let u = gate::<B>(hidden, projected, n, 0);
    let k = B::float_tanh(B::float_add(candidate, projected_candidate));
    let d_candidate = B::float_mul(
        B::float_mul(grad.clone(), u.clone()),
        one_minus::<B>(B::float_mul(k.clone(), k.clone())),
    );
    let d_u = B::float_mul(
        B::float_mul(grad.clone(), B::float_sub(k, h)),
        B::float_mul(u.clone(), one_minus::<B>(u.clone())),
    );
    let zeros = B::float_mul_scalar(d_u.clone(), 0.0.into());
    let d_h = B::float_mul(grad, one_minus::<B>(u));
    (d_candidate, join::<B>(d_u, zeros), d_h)
}

/// `x ≥ 0` as 1 or 0 (the CPU backends' native booleans).
fn at_least_zero<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    B::bool_into_float(
        B::float_greater_equal_elem(x, 0.0.into(), BoolDType::Native),
        FloatDType::F32,
    )
}

/// The filter's factor: 0 below κ1, ω between, 1 from κ2 on (`hidden +
/// projected` is κ).
fn rectifier<B: Backend>(
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    e_v: FloatTensor<B>,
    omega: f32,
) -> FloatTensor<B> {
    let n = width::<B>(&e_v);
    let kappa = B::float_add(hidden, projected);
    let lower = at_least_zero::<B>(B::float_sub(e_v.clone(), columns::<B>(kappa.clone(), 0, n)));
    let upper = at_least_zero::<B>(B::float_sub(e_v, columns::<B>(kappa, n, n)));
    B::float_mul(
        lower,
        B::float_add_scalar(
            B::float_mul_scalar(upper, (1.0 - omega).into()),
            omega.into(),
        ),
    )
}

pub(super) fn rectify<B: Backend>(
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    e_v: FloatTensor<B>,
    omega: f32,
) -> FloatTensor<B> {
    B::float_mul(e_v.clone(), rectifier::<B>(hidden, projected, e_v, omega))
}

pub(super) fn rectify_backward<B: Backend>(
    grad: FloatTensor<B>,
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    e_v: FloatTensor<B>,
    omega: f32,
) -> FloatTensor<B> {
    B::float_mul(grad, rectifier::<B>(hidden, projected, e_v, omega))
}

pub(super) fn attend<B: Backend>(
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    e_i: FloatTensor<B>,
    e_v: FloatTensor<B>,
) -> FloatTensor<B> {
    let xi = sigmoid::<B>(B::float_add(hidden, projected));
    join::<B>(
        B::float_mul(one_minus::<B>(xi.clone()), e_i),
        B::float_mul(xi, e_v),
    )
}

pub(super) fn attend_backward<B: Backend>(
    grad: FloatTensor<B>,
    hidden: FloatTensor<B>,
    projected: FloatTensor<B>,
    e_i: FloatTensor<B>,
    e_v: FloatTensor<B>,
) -> (FloatTensor<B>, FloatTensor<B>, FloatTensor<B>) {
    let n = width::<B>(&e_i);
    let xi = sigmoid::<B>(B::float_add(hidden, projected));
    let (d_a_i, d_a_v) = (columns::<B>(grad.clone(), 0, n), columns::<B>(grad, n, n));
    let d_xi = B::float_sub(
        B::float_mul(d_a_v.clone(), e_v),
        B::float_mul(d_a_i.clone(), e_i),
    );
    let d_pre = B::float_mul(d_xi, B::float_mul(xi.clone(), one_minus::<B>(xi.clone())));
    let d_e_i = B::float_mul(d_a_i, one_minus::<B>(xi.clone()));
    (d_pre, d_e_i, B::float_mul(d_a_v, xi))
}

/// The CPU backends compose the stages (see the module's comment).
macro_rules! host_fused_gru_step {
    ($backend:ty) => {
        impl FusedGruStep for $backend {
            fn gru_reset_state(
                hidden: FloatTensor<Self>,
                projected: FloatTensor<Self>,
                h: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                reset_state::<Self>(hidden, projected, h)
            }

            fn gru_update(
                candidate: FloatTensor<Self>,
                projected_candidate: FloatTensor<Self>,
                hidden: FloatTensor<Self>,
                projected: FloatTensor<Self>,
                h: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                update::<Self>(candidate, projected_candidate, hidden, projected, h)
            }

            fn gru_reset_state_backward(
                grad: FloatTensor<Self>,
                hidden: FloatTensor<Self>,
                projected: FloatTensor<Self>,
                h: FloatTensor<Self>,
            ) -> (FloatTensor<Self>, FloatTensor<Self>) {
                reset_state_backward::<Self>(grad, hidden, projected, h)
            }

            fn gru_update_backward(
                grad: FloatTensor<Self>,
                candidate: FloatTensor<Self>,
                projected_candidate: FloatTensor<Self>,
                hidden: FloatTensor<Self>,
                projected: FloatTensor<Self>,
                h: FloatTensor<Self>,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                update_backward::<Self>(grad, candidate, projected_candidate, hidden, projected, h)
            }

            fn gru_rectify(
                hidden: FloatTensor<Self>,
                projected: FloatTensor<Self>,
                e_v: FloatTensor<Self>,
                omega: f32,
            ) -> FloatTensor<Self> {
                rectify::<Self>(hidden, projected, e_v, omega)
            }

            fn gru_rectify_backward(
                grad: FloatTensor<Self>,
                hidden: FloatTensor<Self>,
                projected: FloatTensor<Self>,
                e_v: FloatTensor<Self>,
                omega: f32,
            ) -> FloatTensor<Self> {
                rectify_backward::<Self>(grad, hidden, projected, e_v, omega)
            }

            fn gru_attend(
                hidden: FloatTensor<Self>,
                projected: FloatTensor<Self>,
                e_i: FloatTensor<Self>,
                e_v: FloatTensor<Self>,
            ) -> FloatTensor<Self> {
                attend::<Self>(hidden, projected, e_i, e_v)
            }

            fn gru_attend_backward(
                grad: FloatTensor<Self>,
                hidden: FloatTensor<Self>,
                projected: FloatTensor<Self>,
                e_i: FloatTensor<Self>,
                e_v: FloatTensor<Self>,
            ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
                attend_backward::<Self>(grad, hidden, projected, e_i, e_v)
            }
        }
    };
}
host_fused_gru_step!(burn::backend::Flex);
host_fused_gru_step!(burn::backend::NdArray);
