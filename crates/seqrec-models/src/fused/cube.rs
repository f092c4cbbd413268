//! The four cubecl kernels: one thread per element of the `[m × n]` state,
//! reading operands through their strides (the projected inputs are
//! column views of a wider projection, never copied) and writing fresh
//! contiguous outputs.

use super::FusedGruStep;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::*;

/// Element `(row, col)` of a rank-2 tensor.
#[cube]
fn at<F: Float>(t: &Tensor<F>, row: usize, col: usize) -> F {
    t[row * t.stride(0) + col * t.stride(1)]
}

#[cube]
fn sigmoid<F: Float>(x: F) -> F {
    F::new(1.0) / (F::new(1.0) + F::exp(-x))
}

/// σ of the gate pre-activation in column `col` (u: `j`, r: `n + j`).
#[cube]
fn gate<F: Float>(hidden: &Tensor<F>, projected: &Tensor<F>, row: usize, col: usize) -> F {
    sigmoid::<F>(at::<F>(hidden, row, col) + at::<F>(projected, row, col))
}

#[cube(launch, address_type = "dynamic")]
fn reset_state_kernel<F: Float>(
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    h: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let n = out.shape(1);
    if ABSOLUTE_POS >= out.shape(0) * n {
        terminate!();
    }
    let (row, j) = (ABSOLUTE_POS / n, ABSOLUTE_POS % n);
    let r = gate::<F>(hidden, projected, row, n + j);
    out[ABSOLUTE_POS] = r * at::<F>(h, row, j);
}

#[cube(launch, address_type = "dynamic")]
fn update_kernel<F: Float>(
    candidate: &Tensor<F>,
    projected_candidate: &Tensor<F>,
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    h: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let n = out.shape(1);
    if ABSOLUTE_POS >= out.shape(0) * n {
        terminate!();
    }
    let (row, j) = (ABSOLUTE_POS / n, ABSOLUTE_POS % n);
    let u = gate::<F>(hidden, projected, row, j);
    let k = F::tanh(at::<F>(candidate, row, j) + at::<F>(projected_candidate, row, j));
    let state = at::<F>(h, row, j);
    out[ABSOLUTE_POS] = state + u * (k - state);
}

#[cube(launch, address_type = "dynamic")]
fn reset_state_backward_kernel<F: Float>(
    grad: &Tensor<F>,
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    h: &Tensor<F>,
    d_gates: &mut Tensor<F>,
    d_h: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let n = d_h.shape(1);
    if ABSOLUTE_POS >= d_h.shape(0) * n {
        terminate!();
    }
    let (row, j) = (ABSOLUTE_POS / n, ABSOLUTE_POS % n);
    let r = gate::<F>(hidden, projected, row, n + j);
    let g = at::<F>(grad, row, j);
    let gates_row = row * 2 * n;
    d_gates[gates_row + j] = F::new(0.0);
    d_gates[gates_row + n + j] = g * at::<F>(h, row, j) * r * (F::new(1.0) - r);
    d_h[ABSOLUTE_POS] = g * r;
}

#[cube(launch, address_type = "dynamic")]
fn update_backward_kernel<F: Float>(
    grad: &Tensor<F>,
    candidate: &Tensor<F>,
    projected_candidate: &Tensor<F>,
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    h: &Tensor<F>,
    d_candidate: &mut Tensor<F>,
    d_gates: &mut Tensor<F>,
    d_h: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let n = d_h.shape(1);
    if ABSOLUTE_POS >= d_h.shape(0) * n {
        terminate!();
    }
    let (row, j) = (ABSOLUTE_POS / n, ABSOLUTE_POS % n);
    let u = gate::<F>(hidden, projected, row, j);
    let k = F::tanh(at::<F>(candidate, row, j) + at::<F>(projected_candidate, row, j));
    let g = at::<F>(grad, row, j);
    let state = at::<F>(h, row, j);
    d_candidate[ABSOLUTE_POS] = g * u * (F::new(1.0) - k * k);
    let gates_row = row * 2 * n;
    d_gates[gates_row + j] = g * (k - state) * u * (F::new(1.0) - u);
    d_gates[gates_row + n + j] = F::new(0.0);
    d_h[ABSOLUTE_POS] = g * (F::new(1.0) - u);
}

/// The rectified filter's factor at `(row, j)`: 0 below κ1; from κ1 on, 1
/// at or above κ2 and ω below it.
#[cube]
fn rectifier<F: Float>(
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    e_v: F,
    omega: F,
    row: usize,
    j: usize,
    n: usize,
) -> F {
    let k1 = at::<F>(hidden, row, j) + at::<F>(projected, row, j);
    let k2 = at::<F>(hidden, row, n + j) + at::<F>(projected, row, n + j);
    // As the cell writes it: step(e_v − κ1) · (ω + (1 − ω) · step(e_v − κ2)),
    // so below κ1 is 0 even where κ2 < κ1.
    let upper = select(e_v >= k2, F::new(1.0), omega);
    select(e_v >= k1, upper, F::new(0.0))
}

#[cube(launch, address_type = "dynamic")]
fn rectify_kernel<F: Float>(
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    e_v: &Tensor<F>,
    out: &mut Tensor<F>,
    omega: f32,
    #[define(F)] _dtype: ElemType,
) {
    let n = out.shape(1);
    if ABSOLUTE_POS >= out.shape(0) * n {
        terminate!();
    }
    let (row, j) = (ABSOLUTE_POS / n, ABSOLUTE_POS % n);
    let v = at::<F>(e_v, row, j);
    let omega = F::cast_from(omega);
    out[ABSOLUTE_POS] = v * rectifier::<F>(hidden, projected, v, omega, row, j, n);
}

#[cube(launch, address_type = "dynamic")]
fn rectify_backward_kernel<F: Float>(
    grad: &Tensor<F>,
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    e_v: &Tensor<F>,
    d_e_v: &mut Tensor<F>,
    omega: f32,
    #[define(F)] _dtype: ElemType,
) {
    let n = d_e_v.shape(1);
    if ABSOLUTE_POS >= d_e_v.shape(0) * n {
        terminate!();
    }
    let (row, j) = (ABSOLUTE_POS / n, ABSOLUTE_POS % n);
    let v = at::<F>(e_v, row, j);
    let omega = F::cast_from(omega);
    d_e_v[ABSOLUTE_POS] =
        at::<F>(grad, row, j) * rectifier::<F>(hidden, projected, v, omega, row, j, n);
}

#[cube(launch, address_type = "dynamic")]
fn attend_kernel<F: Float>(
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    e_i: &Tensor<F>,
    e_v: &Tensor<F>,
    out: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let n = e_i.shape(1);
    if ABSOLUTE_POS >= e_i.shape(0) * n {
        terminate!();
    }
    let (row, j) = (ABSOLUTE_POS / n, ABSOLUTE_POS % n);
    let xi = sigmoid::<F>(at::<F>(hidden, row, j) + at::<F>(projected, row, j));
    out[row * 2 * n + j] = (F::new(1.0) - xi) * at::<F>(e_i, row, j);
    out[row * 2 * n + n + j] = xi * at::<F>(e_v, row, j);
}

#[cube(launch, address_type = "dynamic")]
fn attend_backward_kernel<F: Float>(
    grad: &Tensor<F>,
    hidden: &Tensor<F>,
    projected: &Tensor<F>,
    e_i: &Tensor<F>,
    e_v: &Tensor<F>,
    d_pre: &mut Tensor<F>,
    d_e_i: &mut Tensor<F>,
    d_e_v: &mut Tensor<F>,
    #[define(F)] _dtype: ElemType,
) {
    let n = e_i.shape(1);
    if ABSOLUTE_POS >= e_i.shape(0) * n {
        terminate!();
    }
    let (row, j) = (ABSOLUTE_POS / n, ABSOLUTE_POS % n);
    let xi = sigmoid::<F>(at::<F>(hidden, row, j) + at::<F>(projected, row, j));
    let d_a_i = at::<F>(grad, row, j);
    let d_a_v = at::<F>(grad, row, n + j);
    let d_xi = d_a_v * at::<F>(e_v, row, j) - d_a_i * at::<F>(e_i, row, j);
    d_pre[ABSOLUTE_POS] = d_xi * xi * (F::new(1.0) - xi);
    d_e_i[ABSOLUTE_POS] = d_a_i * (F::new(1.0) - xi);
    d_e_v[ABSOLUTE_POS] = d_a_v * xi;
}

/// A fresh contiguous `[m × width]` tensor beside `like` (`[m × n]`).
fn output(like: &CubeTensor, width: usize) -> CubeTensor {
    let rows = like.meta.shape()[0];
    empty_device_dtype(
        like.client.clone(),
        like.device.clone(),
        [rows, width].into(),
        like.dtype,
    )
}

/// Threads for the `[m × n]` elements of `state`.
fn grid(state: &CubeTensor) -> (CubeCount, CubeDim) {
    let elements = state.meta.num_elements();
    let cube_dim = CubeDim::new(&state.client, elements);
    let count = calculate_cube_count_elemwise(&state.client, elements, cube_dim);
    (count, cube_dim)
}

/// 32-bit addressing unless a tensor is past it (a step's tensors are far
/// below).
fn address(tensors: &[&CubeTensor]) -> AddressType {
    let largest = tensors
        .iter()
        .map(|t| t.meta.num_elements())
        .max()
        .unwrap_or(0);
    if largest < u32::MAX as usize / 2 {
        AddressType::U32
    } else {
        AddressType::U64
    }
}

fn width(t: &CubeTensor) -> usize {
    t.meta.shape()[1]
}

impl FusedGruStep for burn::backend::Cube {
    fn gru_reset_state(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let out = output(&h, width(&h));
        let (count, dim) = grid(&h);
        let dtype = dtype_to_storage_type(h.dtype);
        reset_state_kernel::launch(
            &out.client,
            count,
            dim,
            address(&[&hidden, &projected, &h]),
            hidden.into_tensor_arg(),
            projected.into_tensor_arg(),
            h.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            dtype,
        );
        out
    }

    fn gru_update(
        candidate: FloatTensor<Self>,
        projected_candidate: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let out = output(&h, width(&h));
        let (count, dim) = grid(&h);
        let dtype = dtype_to_storage_type(h.dtype);
        update_kernel::launch(
            &out.client,
            count,
            dim,
            address(&[&candidate, &projected_candidate, &hidden, &projected, &h]),
            candidate.into_tensor_arg(),
            projected_candidate.into_tensor_arg(),
            hidden.into_tensor_arg(),
            projected.into_tensor_arg(),
            h.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            dtype,
        );
        out
    }

    fn gru_reset_state_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        let n = width(&h);
        let (d_gates, d_h) = (output(&h, 2 * n), output(&h, n));
        let (count, dim) = grid(&h);
        let dtype = dtype_to_storage_type(h.dtype);
        reset_state_backward_kernel::launch(
            &h.client.clone(),
            count,
            dim,
            address(&[&grad, &hidden, &projected, &h, &d_gates]),
            grad.into_tensor_arg(),
            hidden.into_tensor_arg(),
            projected.into_tensor_arg(),
            h.into_tensor_arg(),
            d_gates.clone().into_tensor_arg(),
            d_h.clone().into_tensor_arg(),
            dtype,
        );
        (d_gates, d_h)
    }

    fn gru_update_backward(
        grad: FloatTensor<Self>,
        candidate: FloatTensor<Self>,
        projected_candidate: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let n = width(&h);
        let (d_candidate, d_gates, d_h) = (output(&h, n), output(&h, 2 * n), output(&h, n));
        let (count, dim) = grid(&h);
        let dtype = dtype_to_storage_type(h.dtype);
        update_backward_kernel::launch(
            &h.client.clone(),
            count,
            dim,
            address(&[
                &grad,
                &candidate,
                &projected_candidate,
                &hidden,
                &projected,
                &h,
                &d_gates,
            ]),
            grad.into_tensor_arg(),
            candidate.into_tensor_arg(),
            projected_candidate.into_tensor_arg(),
            hidden.into_tensor_arg(),
            projected.into_tensor_arg(),
            h.into_tensor_arg(),
            d_candidate.clone().into_tensor_arg(),
            d_gates.clone().into_tensor_arg(),
            d_h.clone().into_tensor_arg(),
            dtype,
        );
        (d_candidate, d_gates, d_h)
    }

    fn gru_rectify(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
        omega: f32,
    ) -> FloatTensor<Self> {
        let out = output(&e_v, width(&e_v));
        let (count, dim) = grid(&e_v);
        let dtype = dtype_to_storage_type(e_v.dtype);
        rectify_kernel::launch(
            &out.client,
            count,
            dim,
            address(&[&hidden, &projected, &e_v]),
            hidden.into_tensor_arg(),
            projected.into_tensor_arg(),
            e_v.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            omega,
            dtype,
        );
        out
    }

    fn gru_rectify_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
        omega: f32,
    ) -> FloatTensor<Self> {
        let d_e_v = output(&e_v, width(&e_v));
        let (count, dim) = grid(&e_v);
        let dtype = dtype_to_storage_type(e_v.dtype);
        rectify_backward_kernel::launch(
            &d_e_v.client,
            count,
            dim,
            address(&[&grad, &hidden, &projected, &e_v]),
            grad.into_tensor_arg(),
            hidden.into_tensor_arg(),
            projected.into_tensor_arg(),
            e_v.into_tensor_arg(),
            d_e_v.clone().into_tensor_arg(),
            omega,
            dtype,
        );
        d_e_v
    }

    fn gru_attend(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_i: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        let out = output(&e_i, 2 * width(&e_i));
        let (count, dim) = grid(&e_i);
        let dtype = dtype_to_storage_type(e_i.dtype);
        attend_kernel::launch(
            &out.client,
            count,
            dim,
            address(&[&hidden, &projected, &e_i, &e_v, &out]),
            hidden.into_tensor_arg(),
            projected.into_tensor_arg(),
            e_i.into_tensor_arg(),
            e_v.into_tensor_arg(),
            out.clone().into_tensor_arg(),
            dtype,
        );
        out
    }

    fn gru_attend_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_i: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let n = width(&e_i);
        let (d_pre, d_e_i, d_e_v) = (output(&e_i, n), output(&e_i, n), output(&e_i, n));
        let (count, dim) = grid(&e_i);
        let dtype = dtype_to_storage_type(e_i.dtype);
        attend_backward_kernel::launch(
            &d_pre.client,
            count,
            dim,
            address(&[&grad, &hidden, &projected, &e_i, &e_v]),
            grad.into_tensor_arg(),
            hidden.into_tensor_arg(),
            projected.into_tensor_arg(),
            e_i.into_tensor_arg(),
            e_v.into_tensor_arg(),
            d_pre.clone().into_tensor_arg(),
            d_e_i.clone().into_tensor_arg(),
            d_e_v.clone().into_tensor_arg(),
            dtype,
        );
        (d_pre, d_e_i, d_e_v)
    }
}
