//! The fused stages under autodiff: each output's backward is the backend's
//! fused backward kernel, fed with the saved inputs.

use super::{FusedGruStep, host};
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::autodiff::{Autodiff, NodeId};
use burn::backend::tensor::FloatTensor;

/// The backward of `gru_reset_state`; its state: hidden, projected, h.
#[derive(Debug)]
struct ResetStateBackward;

impl<B: FusedGruStep> Backward<B, 3> for ResetStateBackward {
    type State = [NodeId; 3];

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [hidden, projected, h] = ops
            .state
            .map(|id| checkpointer.retrieve_node_output::<FloatTensor<B>>(id));
        let grad = grads.consume::<B>(&ops.node);
        let (d_gates, d_h) = B::gru_reset_state_backward(grad, hidden, projected, h);
        let [p_hidden, p_projected, p_h] = ops.parents;
        // Both gate inputs are summed into the pre-activation: one gradient.
        if let Some(node) = p_hidden {
            grads.register::<B>(node.id, d_gates.clone());
        }
        if let Some(node) = p_projected {
            grads.register::<B>(node.id, d_gates);
        }
        if let Some(node) = p_h {
            grads.register::<B>(node.id, d_h);
        }
    }
}

/// The backward of `gru_update`; its state: candidate, projected
/// candidate, hidden, projected, h.
#[derive(Debug)]
struct UpdateBackward;

impl<B: FusedGruStep> Backward<B, 5> for UpdateBackward {
    type State = [NodeId; 5];

    fn backward(
        self,
        ops: Ops<Self::State, 5>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [candidate, projected_candidate, hidden, projected, h] = ops
            .state
            .map(|id| checkpointer.retrieve_node_output::<FloatTensor<B>>(id));
        let grad = grads.consume::<B>(&ops.node);
        let (d_candidate, d_gates, d_h) =
            B::gru_update_backward(grad, candidate, projected_candidate, hidden, projected, h);
        let [
            p_candidate,
            p_projected_candidate,
            p_hidden,
            p_projected,
            p_h,
        ] = ops.parents;
        let pairs = [
            (p_candidate, d_candidate.clone()),
            (p_projected_candidate, d_candidate),
            (p_hidden, d_gates.clone()),
            (p_projected, d_gates),
            (p_h, d_h),
        ];
        for (parent, gradient) in pairs {
            if let Some(node) = parent {
                grads.register::<B>(node.id, gradient);
            }
        }
    }
}

impl<B: FusedGruStep, C: CheckpointStrategy> FusedGruStep for Autodiff<B, C> {
    fn gru_reset_state(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match ResetStateBackward
            .prepare::<C>([hidden.node(), projected.node(), h.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = [
                    prep.checkpoint(&hidden),
                    prep.checkpoint(&projected),
                    prep.checkpoint(&h),
                ];
                let out = B::gru_reset_state(
                    hidden.into_primitive(),
                    projected.into_primitive(),
                    h.into_primitive(),
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gru_reset_state(
                hidden.into_primitive(),
                projected.into_primitive(),
                h.into_primitive(),
            )),
        }
    }

    fn gru_update(
        candidate: FloatTensor<Self>,
        projected_candidate: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        match UpdateBackward
            .prepare::<C>([
                candidate.node(),
                projected_candidate.node(),
                hidden.node(),
                projected.node(),
                h.node(),
            ])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let state = [
                    prep.checkpoint(&candidate),
                    prep.checkpoint(&projected_candidate),
                    prep.checkpoint(&hidden),
                    prep.checkpoint(&projected),
                    prep.checkpoint(&h),
                ];
                let out = B::gru_update(
                    candidate.into_primitive(),
                    projected_candidate.into_primitive(),
                    hidden.into_primitive(),
                    projected.into_primitive(),
                    h.into_primitive(),
                );
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gru_update(
                candidate.into_primitive(),
                projected_candidate.into_primitive(),
                hidden.into_primitive(),
                projected.into_primitive(),
                h.into_primitive(),
            )),
        }
    }

    // A second derivative through the fused stages: composed of
    // differentiable operations (nothing in seqrec asks for one).
    fn gru_reset_state_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>) {
        host::reset_state_backward::<Self>(grad, hidden, projected, h)
    }

    fn gru_update_backward(
        grad: FloatTensor<Self>,
        candidate: FloatTensor<Self>,
        projected_candidate: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        host::update_backward::<Self>(grad, candidate, projected_candidate, hidden, projected, h)
    }
}
