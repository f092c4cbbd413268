//! A weight's gradient once per window instead of once per step: each
//! step's product `x · W` keeps its input `x` and, in its backward, the
//! gradient `dC` of its output; it hands `x` its gradient `dC · Wᵀ` at once,
//! and when the window's last step has reported, `W` receives
//! `[x₁; …; x_T]ᵀ · [dC₁; …; dC_T]`: one product for the window, where
//! autodiff computes `xᵀ · dC` every step and adds it to the sum so far.

use super::{FusedGruStep, WindowGather};
use crate::Precision;
use crate::precision::product_at;
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;

/// Step `index`'s product; its state: the input and the weight (values).
#[derive(Debug)]
struct ProductBackward {
    index: usize,
    ledger: WindowGather,
    precision: Precision,
}

impl<B: FusedGruStep> Backward<B, 2> for ProductBackward {
    type State = (FloatTensor<B>, FloatTensor<B>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, _: &mut Checkpointer) {
        let (x, w) = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let [p_x, p_w] = ops.parents;
        if let Some(node) = p_x {
            let d_x = product_at::<B>(self.precision, grad.clone(), B::float_transpose(w));
            grads.register::<B>(node.id, d_x);
        }
        if let Some(pairs) = self.ledger.receive(self.index, (x, grad))
            && let Some(node) = p_w
        {
            let (xs, ds): (Vec<_>, Vec<_>) = pairs.into_iter().unzip();
            let (x, d) = (B::float_cat(xs, 0), B::float_cat(ds, 0));
            let d_w = product_at::<B>(self.precision, B::float_transpose(x), d);
            grads.register::<B>(node.id, d_w);
        }
    }
}

/// `x · w` as step `index` of `ledger`'s window.
pub(super) fn window_product<B: FusedGruStep, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    w: FloatTensor<Autodiff<B, C>>,
    precision: Precision,
    index: usize,
    ledger: WindowGather,
) -> FloatTensor<Autodiff<B, C>> {
    let backward = ProductBackward {
        index,
        ledger,
        precision,
    };
    match backward
        .prepare::<C>([x.node(), w.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(prep) => {
            let (x, w) = (x.into_primitive(), w.into_primitive());
            let out = product_at::<B>(precision, x.clone(), w.clone());
            prep.finish((x, w), out)
        }
        OpsKind::UnTracked(prep) => prep.finish(product_at::<B>(
            precision,
            x.into_primitive(),
            w.into_primitive(),
        )),
    }
}
