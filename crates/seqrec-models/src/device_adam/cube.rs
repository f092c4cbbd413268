//! The Adam kernel: one thread per value, over contiguous buffers, fresh
//! outputs.

use super::FusedAdam;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::kernel::into_contiguous;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::*;

#[allow(clippy::too_many_arguments)]
#[cube(launch, address_type = "dynamic")]
fn adam_kernel<F: Float>(
    param: &Tensor<F>,
    grad: &Tensor<F>,
    moment_1: &Tensor<F>,
    moment_2: &Tensor<F>,
    param_out: &mut Tensor<F>,
    moment_1_out: &mut Tensor<F>,
    moment_2_out: &mut Tensor<F>,
    lr: f32,
    beta_1: f32,
    beta_2: f32,
    combined: f32,
    epsilon: f32,
    #[define(F)] _dtype: ElemType,
) {
    let i = ABSOLUTE_POS;
    if i >= param_out.len() {
        terminate!();
    }
    let g = grad[i];
    let (b1, b2) = (F::cast_from(beta_1), F::cast_from(beta_2));
    // burn's order: m·β1 + g·(1 − β1); v·β2 + (g·g)·(1 − β2), with the
    // factors 1 − β rounded to f32 first, as burn does.
    let (f1, f2) = (F::cast_from(1.0f32 - beta_1), F::cast_from(1.0f32 - beta_2));
    let m = moment_1[i] * b1 + g * f1;
    let v = moment_2[i] * b2 + (g * g) * f2;
    let update = (m * F::cast_from(combined)) / (F::sqrt(v) + F::cast_from(epsilon));
    param_out[i] = param[i] - update * F::cast_from(lr);
    moment_1_out[i] = m;
    moment_2_out[i] = v;
}

/// A fresh contiguous tensor shaped like `like`.
fn output(like: &CubeTensor) -> CubeTensor {
    empty_device_dtype(
        like.client.clone(),
        like.device.clone(),
        like.meta.shape().clone(),
        like.dtype,
    )
}

impl FusedAdam for burn::backend::Cube {
    fn adam_step(
        param: FloatTensor<Self>,
        grad: FloatTensor<Self>,
        moment_1: FloatTensor<Self>,
        moment_2: FloatTensor<Self>,
        lr: f32,
        beta_1: f32,
        beta_2: f32,
        combined: f32,
        epsilon: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        // Indexed as flat buffers: each input contiguous (no copy when it
        // is already).
        let [param, grad, moment_1, moment_2] =
            [param, grad, moment_1, moment_2].map(into_contiguous);
        let (param_out, m_out, v_out) = (output(&param), output(&param), output(&param));
        let elements = param.meta.num_elements();
        let cube_dim = CubeDim::new(&param.client, elements);
        let count = calculate_cube_count_elemwise(&param.client, elements, cube_dim);
        let address = if elements < u32::MAX as usize / 2 {
            AddressType::U32
        } else {
            AddressType::U64
        };
        let dtype = dtype_to_storage_type(param.dtype);
        adam_kernel::launch(
            &param.client.clone(),
            count,
            cube_dim,
            address,
            param.into_tensor_arg(),
            grad.into_tensor_arg(),
            moment_1.into_tensor_arg(),
            moment_2.into_tensor_arg(),
            param_out.clone().into_tensor_arg(),
            m_out.clone().into_tensor_arg(),
            v_out.clone().into_tensor_arg(),
            lr,
            beta_1,
            beta_2,
            combined,
            epsilon,
            dtype,
        );
        (param_out, m_out, v_out)
    }
}
