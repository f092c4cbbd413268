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

/// The backward of `gru_rectify`. Its only parent is `e_v`: the
/// thresholds are compared, so no gradient reaches them, and they are kept
/// out of the graph (as burn's comparisons keep them out of the composed
/// filter's). State: the thresholds' two parts (values), e_v, ω.
#[derive(Debug)]
struct RectifyBackward;

impl<B: FusedGruStep> Backward<B, 1> for RectifyBackward {
    type State = (FloatTensor<B>, FloatTensor<B>, NodeId, f32);

    fn backward(
        self,
        ops: Ops<Self::State, 1>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let (hidden, projected, e_v, omega) = ops.state;
        let e_v = checkpointer.retrieve_node_output::<FloatTensor<B>>(e_v);
        let grad = grads.consume::<B>(&ops.node);
        let [p_e_v] = ops.parents;
        if let Some(node) = p_e_v {
            let d_e_v = B::gru_rectify_backward(grad, hidden, projected, e_v, omega);
            grads.register::<B>(node.id, d_e_v);
        }
    }
}

/// The backward of `gru_attend`; its state: hidden, projected, e_i, e_v.
#[derive(Debug)]
struct AttendBackward;

impl<B: FusedGruStep> Backward<B, 4> for AttendBackward {
    type State = [NodeId; 4];

    fn backward(
        self,
        ops: Ops<Self::State, 4>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [hidden, projected, e_i, e_v] = ops
            .state
            .map(|id| checkpointer.retrieve_node_output::<FloatTensor<B>>(id));
        let grad = grads.consume::<B>(&ops.node);
        let (d_pre, d_e_i, d_e_v) = B::gru_attend_backward(grad, hidden, projected, e_i, e_v);
        let [p_hidden, p_projected, p_e_i, p_e_v] = ops.parents;
        let pairs = [
            (p_hidden, d_pre.clone()),
            (p_projected, d_pre),
            (p_e_i, d_e_i),
            (p_e_v, d_e_v),
        ];
        for (parent, gradient) in pairs {
            if let Some(node) = parent {
                grads.register::<B>(node.id, gradient);
            }
        }
    }
}

/// An operation whose backward needs its `N` inputs: they are kept
/// (checkpointed) when the graph is tracked, and `forward` computes the
/// output from their primitives.
fn with_inputs_kept<B, C, O, const N: usize>(
    backward: O,
    inputs: [FloatTensor<Autodiff<B, C>>; N],
    forward: impl FnOnce([FloatTensor<B>; N]) -> FloatTensor<B>,
) -> FloatTensor<Autodiff<B, C>>
where
    B: FusedGruStep,
    C: CheckpointStrategy,
    O: Backward<B, N, State = [NodeId; N]>,
{
    match backward
        .prepare::<C>(inputs.each_ref().map(|t| t.node()))
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            let state = inputs.each_ref().map(|t| prep.checkpoint(t));
            prep.finish(state, forward(inputs.map(|t| t.into_primitive())))
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(inputs.map(|t| t.into_primitive()))),
    }
}

impl<B: FusedGruStep, C: CheckpointStrategy> FusedGruStep for Autodiff<B, C> {
    fn gru_rectify(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
        omega: f32,
    ) -> FloatTensor<Self> {
        match RectifyBackward
            .prepare::<C>([e_v.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(mut prep) => {
                let e_v_id = prep.checkpoint(&e_v);
                let (hidden, projected) = (hidden.into_primitive(), projected.into_primitive());
                let out = B::gru_rectify(
                    hidden.clone(),
                    projected.clone(),
                    e_v.into_primitive(),
                    omega,
                );
                prep.finish((hidden, projected, e_v_id, omega), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(B::gru_rectify(
                hidden.into_primitive(),
                projected.into_primitive(),
                e_v.into_primitive(),
                omega,
            )),
        }
    }

    fn gru_attend(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_i: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        with_inputs_kept::<B, C, _, 4>(
            AttendBackward,
            [hidden, projected, e_i, e_v],
            |[hidden, projected, e_i, e_v]| B::gru_attend(hidden, projected, e_i, e_v),
        )
    }

    fn gru_window_product(
        x: FloatTensor<Self>,
        w: FloatTensor<Self>,
        precision: crate::Precision,
        index: usize,
        ledger: super::WindowGather,
    ) -> FloatTensor<Self> {
        super::ledger::window_product::<B, C>(x, w, precision, index, ledger)
    }

    fn gru_window_rows(
        tensor: FloatTensor<Self>,
        start: usize,
        len: usize,
        index: usize,
        gather: super::WindowGather,
    ) -> FloatTensor<Self> {
        super::rows::window_rows::<B, C>(tensor, start, len, index, gather)
    }

    fn gru_rectify_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
        omega: f32,
    ) -> FloatTensor<Self> {
        host::rectify_backward::<Self>(grad, hidden, projected, e_v, omega)
    }

    fn gru_attend_backward(
        grad: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        e_i: FloatTensor<Self>,
        e_v: FloatTensor<Self>,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        host::attend_backward::<Self>(grad, hidden, projected, e_i, e_v)
    }

    fn gru_reset_state(
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        with_inputs_kept::<B, C, _, 3>(
            ResetStateBackward,
            [hidden, projected, h],
            |[hidden, projected, h]| B::gru_reset_state(hidden, projected, h),
        )
    }

    fn gru_update(
        candidate: FloatTensor<Self>,
        projected_candidate: FloatTensor<Self>,
        hidden: FloatTensor<Self>,
        projected: FloatTensor<Self>,
        h: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        with_inputs_kept::<B, C, _, 5>(
            UpdateBackward,
            [candidate, projected_candidate, hidden, projected, h],
            |[candidate, projected_candidate, hidden, projected, h]| {
                B::gru_update(candidate, projected_candidate, hidden, projected, h)
            },
        )
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
