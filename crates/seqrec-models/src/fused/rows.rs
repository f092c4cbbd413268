//! A window's rows split into its steps with one backward: each step's
//! rows are a view, as a narrow is, but where burn's narrow gives its
//! parent a zero tensor the size of the whole window with the step's rows
//! assigned (a fill, an assignment and an addition per step), the steps'
//! gradients here are kept until the last arrives and joined once.

use super::FusedGruStep;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops};
use burn::backend::tensor::FloatTensor;
use std::any::Any;
use std::sync::{Arc, Mutex};

/// One step's gradient, kept until the window's last arrives (a backend's
/// primitive tensor: the trait that carries it is not generic).
type Part = Option<Box<dyn Any + Send>>;

/// The gradients of one window's steps, collected as their backward passes
/// run (any order), joined when the last arrives.
#[derive(Clone)]
pub struct RowsGather(Arc<Mutex<Vec<Part>>>);

impl RowsGather {
    /// For a tensor split into `parts` consecutive row blocks.
    pub fn new(parts: usize) -> Self {
        RowsGather(Arc::new(Mutex::new((0..parts).map(|_| None).collect())))
    }

    /// Keeps part `index`'s gradient; all of them in order once every part
    /// has one (each part's backward runs once per graph).
    fn receive<T: Send + 'static>(&self, index: usize, grad: T) -> Option<Vec<T>> {
        let mut parts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        parts[index] = Some(Box::new(grad));
        if parts.iter().any(Option::is_none) {
            return None;
        }
        let mut joined = Vec::with_capacity(parts.len());
        for part in parts.iter_mut() {
            match part.take().map(|b| b.downcast::<T>()) {
                Some(Ok(grad)) => joined.push(*grad),
                // One gather serves one tensor of one backend.
                _ => unreachable!("a window's row gradients of another type"),
            }
        }
        Some(joined)
    }
}

impl std::fmt::Debug for RowsGather {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RowsGather")
    }
}

/// Part `index` of a split: its backward hands the gradient to the gather.
#[derive(Debug)]
struct RowsBackward {
    index: usize,
    gather: RowsGather,
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
    gather: RowsGather,
) -> FloatTensor<Autodiff<B, C>> {
    let node = tensor.node();
    let rows = super::host::row_block::<B>(tensor.into_primitive(), start, len);
    RowsBackward { index, gather }
        .prepare::<C>([node])
        .compute_bound()
        .stateless(rows)
}
