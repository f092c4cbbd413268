//! [`Fp32Matmul`]: the fp32 product as a burn backend extension, for every
//! backend seqrec runs on, with its backward pass under autodiff.
// ndarray is deprecated in burn 0.22 but is a backend the project was asked
// for; the extension macro's generated dispatch names it too.
#![allow(deprecated)]

use burn::backend::Backend;
use burn::backend::tensor::FloatTensor;

/// A matrix product computed in IEEE fp32 on every backend.
#[burn::backend::backend_extension(
    Cube: cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda")),
    Flex,
    NdArray,
    Autodiff
)]
pub trait Fp32Matmul: Backend {
    /// `lhs · rhs` of two rank-2 float tensors.
    fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self>;
}

impl Fp32Matmul for burn::backend::Flex {
    fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        <Self as burn::backend::ops::FloatTensorOps<Self>>::float_matmul(lhs, rhs)
    }
}

impl Fp32Matmul for burn::backend::NdArray {
    fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        <Self as burn::backend::ops::FloatTensorOps<Self>>::float_matmul(lhs, rhs)
    }
}

#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
impl Fp32Matmul for burn::backend::Cube {
    fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
        cube::matmul_fp32(lhs, rhs)
    }
}

#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
mod cube {
    use burn::backend::cubecl::dtype_to_storage_type;
    use burn_cubecl::kernel::into_contiguous;
    use burn_cubecl::kernel::matmul::init_matmul_output;
    use burn_cubecl::tensor::CubeTensor;
    use cubek::matmul::definition::{MatmulElems, MatmulGlobalElems};
    use cubek::matmul::launch::launch_ref;
    use cubek::matmul::multi_level;
    use cubek::matmul::strategy::Strategy;
    use cubek::std::InputBinding;

    /// cubek's unit routine with f32 in every stage and register.
    pub(super) fn matmul_fp32(lhs: CubeTensor, rhs: CubeTensor) -> CubeTensor {
        let out = init_matmul_output(&lhs, &rhs, lhs.dtype);
        if launch(&lhs, &rhs, &out).is_ok() {
            return out;
        }
        // The routine takes row- and column-major operands; any other
        // layout (a strided view) is copied once.
        let (lhs, rhs) = (into_contiguous(lhs), into_contiguous(rhs));
        if let Err(e) = launch(&lhs, &rhs, &out) {
            // Not expected: this is the routine every device falls back to.
            // A panic here is turned into an error by `device::guarded`.
            panic!("the fp32 matrix product cannot run on this device: {e:?}");
        }
        out
    }

    fn launch(
        lhs: &CubeTensor,
        rhs: &CubeTensor,
        out: &CubeTensor,
    ) -> Result<(), cubek::matmul::definition::MatmulSetupError> {
        let storage = dtype_to_storage_type(lhs.dtype);
        let mut dtypes = MatmulElems::from_globals(&MatmulGlobalElems {
            lhs: storage,
            rhs: dtype_to_storage_type(rhs.dtype),
            out: dtype_to_storage_type(out.dtype),
        });
        let strategy = Strategy::MultiLevel(multi_level::Strategy::SimpleUnit(Default::default()));
        launch_ref(
            &strategy,
            &out.client,
            InputBinding::new(lhs.clone().binding(), storage),
            InputBinding::new(rhs.clone().binding(), dtype_to_storage_type(rhs.dtype)),
            out.clone().binding(),
            &mut dtypes,
        )
    }
}

mod autodiff {
    use super::Fp32Matmul;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, binary};
    use burn::backend::autodiff::{Autodiff, NodeId};
    use burn::backend::tensor::FloatTensor;

    /// The backward of `lhs · rhs`: `g · rhsᵀ` and `lhsᵀ · g`, both fp32.
    #[derive(Debug)]
    struct MatmulFp32Backward;

    impl<B: Fp32Matmul> Backward<B, 2> for MatmulFp32Backward {
        /// The operands each gradient needs (the other side's).
        type State = (Option<NodeId>, Option<NodeId>);

        fn backward(
            self,
            ops: Ops<Self::State, 2>,
            grads: &mut Gradients,
            checkpointer: &mut Checkpointer,
        ) {
            let (lhs, rhs) = ops.state;
            let lhs: Option<FloatTensor<B>> = lhs.map(|id| checkpointer.retrieve_node_output(id));
            let rhs: Option<FloatTensor<B>> = rhs.map(|id| checkpointer.retrieve_node_output(id));
            binary::<B, _, _>(
                ops.parents,
                ops.node,
                grads,
                |grad| match rhs {
                    Some(rhs) => B::matmul_fp32(grad, B::float_transpose(rhs)),
                    None => unreachable!("the right operand is kept whenever the left is tracked"),
                },
                |grad| match lhs {
                    Some(lhs) => B::matmul_fp32(B::float_transpose(lhs), grad),
                    None => unreachable!("the left operand is kept whenever the right is tracked"),
                },
            );
        }
    }

    impl<B: Fp32Matmul, C: CheckpointStrategy> Fp32Matmul for Autodiff<B, C> {
        fn matmul_fp32(lhs: FloatTensor<Self>, rhs: FloatTensor<Self>) -> FloatTensor<Self> {
            let (lhs_tracked, rhs_tracked) = (lhs.is_tracked(), rhs.is_tracked());
            match MatmulFp32Backward
                .prepare::<C>([lhs.node(), rhs.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(mut prep) => {
                    // ∂/∂lhs needs rhs and ∂/∂rhs needs lhs.
                    let lhs_state = rhs_tracked.then(|| prep.checkpoint(&lhs));
                    let rhs_state = lhs_tracked.then(|| prep.checkpoint(&rhs));
                    let out = B::matmul_fp32(lhs.into_primitive(), rhs.into_primitive());
                    prep.finish((lhs_state, rhs_state), out)
                }
                OpsKind::UnTracked(prep) => {
                    prep.finish(B::matmul_fp32(lhs.into_primitive(), rhs.into_primitive()))
                }
            }
        }
    }
}
