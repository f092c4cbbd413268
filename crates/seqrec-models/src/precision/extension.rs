//! [`PrecisionMatmul`]: the fp32 and the bf16 products as a burn backend
//! extension, for every backend seqrec runs on, with their backward passes
//! under autodiff.
// ndarray is deprecated in burn 0.22 but is a backend the project was asked
// for; the extension macro's generated dispatch names it too.
#![allow(deprecated)]

use burn::backend::Backend;
use burn::backend::ops::FloatTensorOps;
use burn::backend::tensor::FloatTensor;

/// Matrix products at a stated precision on every backend.
#[burn::backend::backend_extension(
    Cube: cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda")),
    Flex,
    NdArray,
    Autodiff
)]
pub trait PrecisionMatmul: Backend {
    /// `lhs · rhs` of two rank-2 float tensors in IEEE fp32.
    fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;
    /// `lhs · rhs` with both operands rounded to bf16, summed in fp32 into
    /// an fp32 result. On CUDA cubek's tensor-core routine reads bf16
    /// copies; elsewhere (only reached when a caller skips
    /// [`crate::Precision::check_backend`]) the rounding is computed.
    fn matmul_bf16(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;
}

/// The CPU backends' products are fp32 already; bf16 rounds first.
macro_rules! host_precision_matmul {
    ($backend:ty) => {
        impl PrecisionMatmul for $backend {
            fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
                <Self as FloatTensorOps<Self>>::float_matmul(lhs, rhs)
            }

            fn matmul_bf16(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
                <Self as FloatTensorOps<Self>>::float_matmul(
                    round_bf16::<Self>(lhs),
                    round_bf16::<Self>(rhs),
                )
            }
        }
    };
}
host_precision_matmul!(burn::backend::Flex);
host_precision_matmul!(burn::backend::NdArray);

/// [`crate::precision::round_bf16`] on a backend's primitive tensor.
fn round_bf16<B: Backend>(x: FloatTensor<B>) -> FloatTensor<B> {
    veltkamp::<B>(x, 65537.0)
}

/// `x` rounded by Veltkamp's split with `factor` = 2^s + 1 (see
/// [`crate::precision::round_tf32`]).
pub(super) fn veltkamp<B: Backend>(x: FloatTensor<B>, factor: f32) -> FloatTensor<B> {
    let c = B::float_mul_scalar(x.clone(), factor.into());
    B::float_sub(c.clone(), B::float_sub(c, x))
}

/// `a · b` of two primitive tensors at `precision`, as
/// [`crate::Precision::matmul`] computes it on tensors (for operations
/// that run products inside their own backward).
pub fn product_at<B: PrecisionMatmul>(
    precision: crate::Precision,
    a: FloatTensor<B>,
    b: FloatTensor<B>,
) -> FloatTensor<B> {
    use crate::Precision;
    match precision {
        Precision::Tf32 => <B as FloatTensorOps<B>>::float_matmul(a, b),
        Precision::Fp32 => B::matmul_fp32(a, b),
        Precision::Tf32Emulated => {
            B::matmul_fp32(veltkamp::<B>(a, 8193.0), veltkamp::<B>(b, 8193.0))
        }
        Precision::Bf16 => B::matmul_bf16(a, b),
        Precision::Bf16Emulated => B::matmul_fp32(round_bf16::<B>(a), round_bf16::<B>(b)),
    }
}

#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
impl PrecisionMatmul for burn::backend::Cube {
    fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        cube::matmul_fp32(lhs, rhs)
    }

    fn matmul_bf16(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        cube::matmul_bf16(lhs, rhs)
    }
}

#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
mod cube {
    use burn::backend::cubecl::dtype_to_storage_type;
    use burn::tensor::DType;
    use burn_cubecl::kernel::matmul::init_matmul_output;
    use burn_cubecl::kernel::{cast, into_contiguous};
    use burn_cubecl::tensor::CubeTensor;
    use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
    use cubek::matmul::launch::launch_ref;
    use cubek::matmul::multi_level;
    use cubek::matmul::strategy::Strategy;
    use cubek::std::InputBinding;

    /// cubek's unit routine with f32 in every stage and register.
    pub(super) fn matmul_fp32(lhs: CubeTensor, rhs: CubeTensor) -> CubeTensor {
        let unit = Strategy::MultiLevel(multi_level::Strategy::SimpleUnit(Default::default()));
        let out = init_matmul_output(&lhs, &rhs, lhs.dtype);
        if launch(&unit, &lhs, &rhs, &out).is_ok() {
            return out;
        }
        // The routine takes row- and column-major operands; any other
        // layout (a strided view) is copied once.
        let (lhs, rhs) = (into_contiguous(lhs), into_contiguous(rhs));
        if let Err(e) = launch(&unit, &lhs, &rhs, &out) {
            // Not expected: this is the routine every device falls back to.
            // A panic here is turned into an error by `device::guarded`.
            panic!("the fp32 matrix product cannot run on this device: {e:?}");
        }
        out
    }

    /// bf16 copies of both operands (rounded to nearest even by the cast),
    /// multiplied by cubek's automatic routine (tensor cores where the
    /// device has bf16 ones) with an fp32 accumulator into an fp32 result:
    /// `MatmulElems::from_globals` accumulates in f32 whenever the output
    /// is f32.
    pub(super) fn matmul_bf16(lhs: CubeTensor, rhs: CubeTensor) -> CubeTensor {
        let (lhs, rhs) = (cast(lhs, DType::BF16), cast(rhs, DType::BF16));
        let out = init_matmul_output(&lhs, &rhs, DType::F32);
        if let Err(e) = launch(&Strategy::Auto, &lhs, &rhs, &out) {
            // `Precision::check_backend` admits bf16 on CUDA only, where
            // cubek has bf16 routines; a panic becomes an error in `guarded`.
            panic!("the bf16 matrix product cannot run on this device: {e:?}");
        }
        out
    }

    fn launch(
        strategy: &Strategy,
        lhs: &CubeTensor,
        rhs: &CubeTensor,
        out: &CubeTensor,
    ) -> Result<(), cubek::matmul::definition::MatmulSetupError> {
        let (lhs_type, rhs_type) = (
            dtype_to_storage_type(lhs.dtype),
            dtype_to_storage_type(rhs.dtype),
        );
        let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems {
            lhs: lhs_type,
            rhs: rhs_type,
            out: dtype_to_storage_type(out.dtype),
        });
        launch_ref(
            strategy,
            &out.client,
            InputBinding::new(lhs.clone().binding(), lhs_type),
            InputBinding::new(rhs.clone().binding(), rhs_type),
            out.clone().binding(),
            &mut dtypes,
        )
    }
}

mod autodiff {
    use super::PrecisionMatmul;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
    use burn::backend::autodiff::{Autodiff, NodeId};
    use burn::backend::tensor::FloatTensor;

    /// Which of the extension's products.
    #[derive(Clone, Copy, Debug)]
    enum Product {
        Fp32,
        Bf16,
    }

    impl Product {
        fn apply<B: PrecisionMatmul>(
            self,
            lhs: FloatTensor<B>,
            rhs: FloatTensor<B>,
        ) -> FloatTensor<B> {
            match self {
                Product::Fp32 => B::matmul_fp32(lhs, rhs),
                Product::Bf16 => B::matmul_bf16(lhs, rhs),
            }
        }
    }

    /// The backward of `lhs · rhs`: `g · rhsᵀ` and `lhsᵀ · g`, at the
    /// forward product's precision (as autocast computes them).
    #[derive(Debug)]
    struct MatmulBackward(Product);

    impl<B: PrecisionMatmul> Backward<B, 2> for MatmulBackward {
        /// The operands each gradient needs (the other side's).
        type State = (Option<NodeId>, Option<NodeId>);

        fn backward(
            self,
            ops: Ops<Self::State, 2>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let product = self.0;
            let (lhs, rhs) = ops.state;
            let lhs: Option<FloatTensor<B>> = lhs.map(|id| checkpointer.retrieve_node_output(id));
            let rhs: Option<FloatTensor<B>> = rhs.map(|id| checkpointer.retrieve_node_output(id));
            binary::<B, _, _>(
                ops.parents,
                ops.node,
                grads,
                |grad| match rhs {
                    Some(rhs) => product.apply::<B>(grad, B::float_transpose(rhs)),
                    None => unreachable!("the right operand is kept whenever the left is tracked"),
                },
                |grad| match lhs {
                    Some(lhs) => product.apply::<B>(B::float_transpose(lhs), grad),
                    None => unreachable!("the left operand is kept whenever the right is tracked"),
                },
            );
        }
    }

    /// The tracked product: operands kept for the backward where needed.
    fn tracked<B: PrecisionMatmul, C: CheckpointStrategy>(
        product: Product,
        lhs: FloatTensor<Autodiff<B, C>>,
        rhs: FloatTensor<Autodiff<B, C>>,
    ) -> FloatTensor<Autodiff<B, C>> {
        let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
        match MatmulBackward(product)
            .prepare::<C>([lhs.node(), rhs.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                // ∂/∂lhs needs rhs and ∂/∂rhs needs lhs.
                let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
                let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
                let out = product.apply::<B>(lhs.into_primitive(), rhs.into_primitive());
                prep.finish((lhs_state, rhs_state), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(product.apply::<B>(lhs.into_primitive(), rhs.into_primitive()))
            }
        }
    }

    impl<B: PrecisionMatmul, C: CheckpointStrategy> PrecisionMatmul for Autodiff<B, C> {
        fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
            tracked::<B, C>(Product::Fp32, lhs, rhs)
        }

        fn matmul_bf16(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
            tracked::<B, C>(Product::Bf16, lhs, rhs)
        }
    }
}
