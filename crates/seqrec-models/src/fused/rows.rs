//! A window's rows split into its steps with one backward: each step's
//! rows are a view, as a narrow is, but where burn's narrow gives its
//! parent a zero tensor the size of the whole window with the step's rows
//! assigned (a fill, an assignment and an addition per step), the steps'
//! gradients here are kept until the last arrives and joined once.

use super::{FusedGruStep, WindowGather};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::tensor::FloatTensor;

/// Part `index` of a split: its backward hands the gradient to the gather.
#[derive(Debug)]
struct RowsBackward {
    index: usize,
    gather: WindowGather,
}

impl<B: FusedGruStep> Backward<B, 1> for RowsBackward {
    type State = ();

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let grad = grads.consume::<B>(&ops.node);
        let [parent] = ops.parents;
        if let Some(parts) = self.gather.receive::<FloatTensor<B>>(self.index, grad)
            && let Some(node) = parent
        {
            grads.register::<B>(node.id, B::float_cat(parts, 0));
        }
    }
}

/// Rows `start..start + len` of `tensor` as part `index` of `gather`.
pub(super) fn window_rows<B: FusedGruStep, C: CheckpointStrategy>(
    tensor: FloatTensor<Autodiff<B, C>>,
    start: usize,
    len: usize,
    index: usize,
    gather: WindowGather,
) -> FloatTensor<Autodiff<B, C>> {
    let node = tensor.node();
    let rows = super::host::row_block::<B>(tensor.into_primitive(), start, len);
    RowsBackward { index, gather }
        .prepare::<C>([node])
        .compute_bound()
        .stateless(rows)
}
