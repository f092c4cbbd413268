//! Each variant's step as the cell runs it, written on the model's graph.

use super::graph::{Graph, Leaf, Rule};
use crate::cell::UserIntegration;

/// The hidden product's width (in hidden widths) per integration: the
/// gates' 2, with κ's 2 (rectified) or ξ's 1 (attentional).
fn hidden_width(integration: UserIntegration) -> u64 {
    match integration {
        UserIntegration::None | UserIntegration::Linear => 2,
        UserIntegration::Rectified => 4,
        UserIntegration::Attentional => 3,
    }
}

/// `GruCell::step_projected` with burn's operations.
pub(super) fn composed(g: &mut Graph, integration: UserIntegration) {
    let h = g.node(g.lanes(1), true, Leaf::State);
    let w_hidden = g.weight(1, hidden_width(integration));
    let w_candidate = g.weight(1, 1);
    let hidden = g.product(h, w_hidden, 1, hidden_width(integration));
    let (gate_pre, extra, candidate) = match integration {
        UserIntegration::None | UserIntegration::Linear => {
            let gates = g.rows(2);
            (g.add(hidden, gates), None, Some(g.rows(1)))
        }
        UserIntegration::Rectified => {
            let (gates, candidate, thresholds, e_v) = (g.rows(2), g.rows(1), g.rows(2), g.rows(1));
            let w_user = g.weight(1, 3);
            // κ = h W_κ + projected κ; f = e_v ⊙ step(e_v − κ1) ⊙ (ω + (1 − ω) step(e_v − κ2)).
            let kappa_hidden = g.narrow(hidden, 2);
            let kappa = g.add(kappa_hidden, thresholds);
            let k1 = g.narrow(kappa, 1);
            let k2 = g.narrow(kappa, 1);
            let below = g.sub(e_v, k1);
            let lower = g.unary(below, Rule::Step, 2);
            let above = g.sub(e_v, k2);
            let upper = g.unary(above, Rule::Step, 2);
            let scaled = g.unary(upper, Rule::MulScalar, 1);
            let upper = g.unary(scaled, Rule::AddScalar, 1);
            let kept = g.mul(e_v, lower);
            let f = g.mul(kept, upper);
            let user = g.product(f, w_user, 1, 3);
            let hidden_gates = g.narrow(hidden, 2);
            let sum = g.add(hidden_gates, gates);
            let user_gates = g.narrow(user, 2);
            let gate_pre = g.add(sum, user_gates);
            (gate_pre, Some(g.narrow(user, 1)), Some(candidate))
        }
        UserIntegration::Attentional => {
            let (attention, e_i, e_v) = (g.rows(1), g.rows(1), g.rows(1));
            let (w_item, w_user) = (g.weight(1, 3), g.weight(1, 3));
            let bias = g.node(3 * g.shape.hidden as u64, true, Leaf::Bias);
            let xi_hidden = g.narrow(hidden, 1);
            let xi_pre = g.add(xi_hidden, attention);
            let xi = g.sigmoid(xi_pre);
            let xi_e_i = g.mul(xi, e_i);
            let a_i = g.sub(e_i, xi_e_i);
            let a_v = g.mul(xi, e_v);
            let item = g.product(a_i, w_item, 1, 3);
            let user = g.product(a_v, w_user, 1, 3);
            let both = g.add(item, user);
            let mixed = g.add_row(both, bias);
            let hidden_gates = g.narrow(hidden, 2);
            let mixed_gates = g.narrow(mixed, 2);
            (
                g.add(hidden_gates, mixed_gates),
                Some(g.narrow(mixed, 1)),
                None,
            )
        }
    };
    let gates = g.sigmoid(gate_pre);
    let u = g.narrow(gates, 1);
    let r = g.narrow(gates, 1);
    let reset = g.mul(r, h);
    let mut pre = g.product(reset, w_candidate, 1, 1);
    if let Some(candidate) = candidate {
        pre = g.add(pre, candidate);
    }
    if let Some(extra) = extra {
        pre = g.add(pre, extra);
    }
    let k = g.tanh(pre);
    let delta = g.sub(k, h);
    let step = g.mul(u, delta);
    g.add(h, step);
}

/// `GruCell::step_fused`: the stages of `crate::fused`, each weight's
/// gradient once per window.
pub(super) fn fused(g: &mut Graph, integration: UserIntegration) {
    g.fused = true;
    let (n1, n2) = (g.lanes(1), g.lanes(2));
    let h = g.node(n1, true, Leaf::State);
    let w_hidden = g.weight(1, hidden_width(integration));
    let w_candidate = g.weight(1, 1);
    let hidden = g.product(h, w_hidden, 1, hidden_width(integration));
    let (hidden_gates, gates, candidate) = match integration {
        UserIntegration::None | UserIntegration::Linear => (hidden, g.rows(2), g.rows(1)),
        UserIntegration::Rectified => {
            let (gates, candidate, thresholds, e_v) = (g.rows(2), g.rows(1), g.rows(2), g.rows(1));
            let w_user = g.weight(1, 3);
            let kappa_hidden = g.narrow(hidden, 2);
            // Backward: reads the gradient and κ's inputs, writes ∂e_v.
            let f = g.fused(
                &[kappa_hidden, thresholds, e_v],
                1,
                [false, false, true, false, false],
                n1,
            );
            let user = g.product(f, w_user, 1, 3);
            let user_gates = g.narrow(user, 2);
            let user_candidate = g.narrow(user, 1);
            let hidden_gates = g.narrow(hidden, 2);
            (
                hidden_gates,
                g.add(gates, user_gates),
                g.add(candidate, user_candidate),
            )
        }
        UserIntegration::Attentional => {
            let (attention, e_i, e_v) = (g.rows(1), g.rows(1), g.rows(1));
            let w_mix = g.weight(2, 3);
            let bias = g.node(3 * g.shape.hidden as u64, true, Leaf::Bias);
            let xi_hidden = g.narrow(hidden, 1);
            // Backward: writes ∂ξ's pre-activation, ∂e_i and ∂e_v.
            let mix = g.fused(
                &[xi_hidden, attention, e_i, e_v],
                2,
                [true, true, true, true, false],
                3 * n1,
            );
            let mixed = g.product_wide(mix, w_mix);
            let mixed = g.add_row(mixed, bias);
            let hidden_gates = g.narrow(hidden, 2);
            let gates = g.narrow(mixed, 2);
            let candidate = g.narrow(mixed, 1);
            (hidden_gates, gates, candidate)
        }
    };
    // Backward: ∂ of the gates' pre-activations (to both of their
    // summands) and ∂h.
    let reset = g.fused(
        &[hidden_gates, gates, h],
        1,
        [true, true, true, false, false],
        n2 + n1,
    );
    let product = g.product(reset, w_candidate, 1, 1);
    g.fused(
        &[product, candidate, hidden_gates, gates, h],
        1,
        [true; 5],
        n1 + n2 + n1,
    );
}
