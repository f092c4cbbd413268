//! The output layer's softmax cross-entropy for one chunk of rows in one
//! kernel: row maximum and log-sum-exp (one online pass over the logits),
//! the row's loss, and the gradient of the logits written over them (a
//! second pass): a chunk's logits are read twice and written once, where
//! burn's operations take about twenty kernels, each reading or writing
//! the chunk. The bias is added as the logits are read.
//!
//! Runs on the cubecl backends; the CPU trains through its own output
//! layer (`output_host`) and the device path composes burn's operations
//! there (`crate::output`).

use burn::backend::Backend;
use burn::backend::tensor::FloatTensor;
use burn::tensor::Tensor;

#[cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda"))]
mod cube;

/// The fused output-layer kernel (cubecl backends only).
#[burn::backend::backend_extension(Cube: cfg(any(feature = "wgpu", feature = "vulkan", feature = "cuda")))]
pub trait FusedSoftmaxCrossEntropy: Backend {
    /// For `logits` `[rows × items]` (contiguous, overwritten), `bias`
    /// `[items]` and `targets` `[rows]` (item indices as floats, exact
    /// below 2²⁴): returns (the logits' gradient of `scale` × the summed
    /// cross-entropy, in the logits' memory; each row's cross-entropy
    /// `[rows]`).
    fn softmax_cross_entropy_in_place(
        logits: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        targets: FloatTensor<Self>,
        // Without a GPU feature (but burn's cubecl on, as in the kernel
        // probe's builds) the dispatch the macro writes never reads it.
        #[allow(unused_variables)] scale: f32,
    ) -> (FloatTensor<Self>, FloatTensor<Self>);
}

/// The largest catalogue whose item indices a float target holds exactly.
pub const MAX_ITEMS: usize = 1 << 24;

/// (∂(scale · Σ CE)/∂logits, each row's CE) for `logits` of one chunk; the
/// logits' memory is reused for the gradient.
pub fn softmax_cross_entropy_in_place(
    logits: Tensor<2>,
    bias: Tensor<1>,
    targets: Tensor<1>,
    scale: f32,
) -> (Tensor<2>, Tensor<1>) {
    let (gradient, losses) = burn::backend::Dispatch::softmax_cross_entropy_in_place(
        logits.into_dispatch(),
        bias.into_dispatch(),
        targets.into_dispatch(),
        scale,
    );
    (
        Tensor::from_dispatch(gradient),
        Tensor::from_dispatch(losses),
    )
}
