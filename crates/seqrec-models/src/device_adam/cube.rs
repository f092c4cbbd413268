//! The Adam kernel: one thread per value, reading its operands through
//! their strides (a gradient can be a transposed view; copying it first
//! would cost a pass), writing fresh contiguous outputs.

use super::FusedAdam;
use burn::backend::cubecl::dtype_to_storage_type;
use burn::backend::tensor::FloatTensor;
use burn_cubecl::ops::numeric::empty_device_dtype;
use burn_cubecl::tensor::CubeTensor;
use cubecl::calculate_cube_count_elemwise;
use cubecl::prelude::*;

/// Value `index` of `t` in row-major order, wherever its strides put it.
#[cube]
fn value<F: Float>(t: &Tensor<F>, index: usize) -> F {
    let rank = t.rank();
    let mut offset = 0;
    let mut rest = index;
    for k in 0..rank {
        let d = rank - 1 - k;
        let size = t.shape(d);
        offset += (rest % size) * t.stride(d);
        rest /= size;
    }
    t[offset]
}

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
    let g = value::<F>(grad, i);
    let (b1, b2) = (F::cast_from(beta_1), F::cast_from(beta_2));
    // burn's order: m·β1 + g·(1 − β1); v·β2 + (g·g)·(1 − β2), with the
    // factors 1 − β rounded to f32 first, as burn does.
    let (f1, f2) = (F::cast_from(1.0f32 - beta_1), F::cast_from(1.0f32 - beta_2));
    let m = value::<F>(moment_1, i) * b1 + g * f1;
    let v = value::<F>(moment_2, i) * b2 + (g * g) * f2;
    let update = (m * F::cast_from(combined)) / (F::sqrt(v) + F::cast_from(epsilon));
    param_out[i] = value::<F>(param, i) - update * F::cast_from(lr);
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
