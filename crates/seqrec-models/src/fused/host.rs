//! The fused stages on the CPU backends, composed of burn's operations with
//! the mathematics of the cubecl kernels (the CPU trains through its own
//! host recurrence; this serves tests and any caller that asks).
// ndarray is deprecated in burn 0.22 but is a backend the project was asked
// for; the extension macro's generated dispatch names it too.
#![allow(deprecated)]

use super::FusedGruStep;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Backend, TensorMetadata};
use burn::tensor::Slice;

/// Columns `start..start + len` of a rank-2 tensor.
fn columns<B: Backend>(x: FloatTensor<B>, start: usize, len: usize) -> FloatTensor<B> {
    let end = (start + len) as isize;
    B::float_slice(
        x,
        &[
            Slice::from(..),
            Slice {
                start: start as isize,
                end: Some(end),
                step: 1,
            },
        ],
    )
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
        }
    };
}
host_fused_gru_step!(burn::backend::Flex);
host_fused_gru_step!(burn::backend::NdArray);
