//! A weight's gradient once per window instead of once per step: each
//! step's product `x · W` keeps its input `x` and, in its backward, the
//! gradient `dC` of its output; it hands `x` its gradient `dC · Wᵀ` at once,
//! and when the window's last step has reported, `W` receives
//! `[x₁; …; x_T]ᵀ · [dC₁; …; dC_T]`: one product for the window, where
//! autodiff computes `xᵀ · dC` every step and adds it to the sum so far.

use super::FusedGruStep;
use crate::Precision;
use crate::precision::{PrecisionMatmul, product_at};
use burn::backend::autodiff::Autodiff;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use std::any::Any;
use std::sync::{Arc, Mutex};

/// One step's (input, output gradient), kept until the window is complete
/// (a backend's primitive tensors: the trait that carries the ledger is
/// not generic).
type Entry = Option<Box<dyn Any + Send>>;

/// The steps' inputs and output gradients of one weight's products in one
/// window.
#[derive(Clone)]
pub struct ProductLedger(Arc<Mutex<Vec<Entry>>>);

impl ProductLedger {
    /// For a weight multiplied once in each of `steps` steps.
    pub fn new(steps: usize) -> Self {
        ProductLedger(Arc::new(Mutex::new((0..steps).map(|_| None).collect())))
    }

    /// Keeps step `index`'s pair; every pair in step order once each step
    /// has reported (each step's backward runs once per graph).
    fn receive<T: Send + 'static>(&self, index: usize, pair: (T, T)) -> Option<Vec<(T, T)>> {
        let mut entries = self.0.lock().unwrap_or_else(|e| e.into_inner());
        entries[index] = Some(Box::new(pair));
        if entries.iter().any(Option::is_none) {
            return None;
        }
        let mut pairs = Vec::with_capacity(entries.len());
        for entry in entries.iter_mut() {
            match entry.take().map(|b| b.downcast::<(T, T)>()) {
                Some(Ok(pair)) => pairs.push(*pair),
                // One ledger serves one weight of one backend.
                _ => unreachable!("a window's product entries of another type"),
            }
        }
        Some(pairs)
    }
}

impl std::fmt::Debug for ProductLedger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProductLedger")
    }
}

/// Step `index`'s product; its state: the input and the weight (values).
#[derive(Debug)]
struct ProductBackward {
    index: usize,
    ledger: ProductLedger,
    precision: Precision,
}

impl<B: FusedGruStep + PrecisionMatmul> Backward<B, 2> for ProductBackward {
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
pub(super) fn window_product<B: FusedGruStep + PrecisionMatmul, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    w: FloatTensor<Autodiff<B, C>>,
    precision: Precision,
    index: usize,
    ledger: ProductLedger,
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
