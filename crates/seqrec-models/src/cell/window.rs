//! A truncated-BPTT window of steps through [`GruCell::project`] and
//! [`GruCell::step_projected`]: the recurrence the autodiff training
//! window runs (and the kernel probe measures), written once.

use super::GruCell;
use crate::Precision;
use crate::fused::ElementWise;
use burn::tensor::Tensor;

/// The lanes a window resets to a zero state before some of its steps.
#[derive(Clone, Debug)]
pub struct LaneResets {
    /// `[steps·lanes × 1]`, step-major: 0 where a lane starts a new user
    /// at that step, else 1.
    pub keep: Tensor<2>,
    /// Per step, whether any lane is reset there (the others skip the
    /// product).
    pub at_step: Vec<bool>,
}

impl GruCell {
    /// The states after each of `steps` steps of `lanes` lanes from `h`,
    /// over every step's item (and user) embeddings at once
    /// (`[steps·lanes × n]`, step-major). The state-independent products
    /// are done for the whole window first; with fused element-wise work
    /// the projection is split once and each step weight's gradient is
    /// gathered once per window.
    #[allow(clippy::too_many_arguments)]
    pub fn run_window(
        &self,
        e_items: Tensor<2>,
        e_users: Option<Tensor<2>>,
        h: Tensor<2>,
        lanes: usize,
        steps: usize,
        precision: Precision,
        elementwise: ElementWise,
        resets: Option<&LaneResets>,
    ) -> Vec<Tensor<2>> {
        let fused = elementwise == ElementWise::Fused;
        let projected = self.project(e_items, e_users, precision);
        let weights = self
            .step_weights(precision)
            .with_fused_elementwise(fused)
            .with_window_ledgers(steps);
        let mut split = fused.then(|| projected.split(steps, lanes).into_iter());
        let mut h = h;
        let mut states = Vec::with_capacity(steps);
        for s in 0..steps {
            if let Some(resets) = resets.filter(|r| r.at_step.get(s).copied().unwrap_or(false)) {
                h = h * resets.keep.clone().narrow(0, s * lanes, lanes);
            }
            let inputs = match split.as_mut().and_then(Iterator::next) {
                Some(inputs) => inputs,
                None => projected.rows(s * lanes, lanes),
            };
            h = self.step_projected(&weights, h, inputs);
            states.push(h.clone());
        }
        states
    }
}
