//! The kernels of one GRU step (forward and backward) and the bytes each
//! reads and writes, computed from the tensor shapes: cubecl's launch
//! observer names kernels but not their operands, so the operands come
//! from a model of the step.
//!
//! The model writes each variant's step the way `cell/batched.rs` runs it
//! (burn's operations, or seqrec's fused stages), and derives the backward
//! pass with the rules burn 0.22's autodiff and its cubecl backend follow:
//! one kernel per operation, sigmoid as `exp(−log(1 + exp(−x)))` (six
//! kernels, recomputed in backward), a gradient reaching a tensor from
//! several uses summed one addition at a time, a slice's gradient written
//! into a zero tensor of its parent's size. Its launch counts are checked
//! against the counter on lavapipe (`gpu_tests`), so the model describes
//! the kernels that actually run; the bytes assume each kernel reads every
//! operand once and writes its result once (fp32).
//!
//! Only the step is modelled: what a window does once (the input
//! projection, the once-per-window weight gradients of the fused path, the
//! output layer, the optimizer) is counted by the observer but not here.

use super::KernelKind;
use crate::GruVariant;
use crate::cell::UserIntegration;
use crate::fused::ElementWise;
use graph::Graph;
use serde::Serialize;
use std::collections::BTreeMap;

mod graph;
mod steps;
#[cfg(test)]
mod tests;

/// The shape of a step: `lanes` rows of `hidden` units, in a window of
/// `steps` steps (a composed step's gradient of its projection rows is
/// written into a tensor of the whole window's rows).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct StepShape {
    pub lanes: usize,
    pub hidden: usize,
    pub steps: usize,
}

/// What the kernels of one kind do in a step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct KindTraffic {
    pub launches: u64,
    pub bytes_read: u64,
    pub bytes_written: u64,
}

/// One step's kernels, by kind and pass.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct StepTraffic {
    pub forward: BTreeMap<KernelKind, KindTraffic>,
    pub backward: BTreeMap<KernelKind, KindTraffic>,
}

impl StepTraffic {
    /// Forward and backward together, every kind present.
    pub fn by_kind(&self) -> BTreeMap<KernelKind, KindTraffic> {
        let mut out: BTreeMap<KernelKind, KindTraffic> = KernelKind::ALL
            .iter()
            .map(|&k| (k, KindTraffic::default()))
            .collect();
        for (kind, t) in self.forward.iter().chain(&self.backward) {
            let sum = out.entry(*kind).or_default();
            sum.launches += t.launches;
            sum.bytes_read += t.bytes_read;
            sum.bytes_written += t.bytes_written;
        }
        out
    }

    pub fn launches(&self) -> u64 {
        self.by_kind().values().map(|t| t.launches).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.by_kind()
            .values()
            .map(|t| t.bytes_read + t.bytes_written)
            .sum()
    }
}

/// The model's kernels of one step of `variant` (hard thresholds for the
/// rectified cell) run `elementwise`.
pub fn step_traffic(
    variant: GruVariant,
    elementwise: ElementWise,
    shape: StepShape,
) -> StepTraffic {
    let mut g = Graph::new(shape);
    match elementwise {
        ElementWise::Composed => steps::composed(&mut g, variant.integration()),
        ElementWise::Fused => steps::fused(&mut g, variant.integration()),
    }
    g.traffic()
}

/// The fewest element-wise launches a step of `variant` can take: the
/// reset gate scales h before the candidate's product, so one stage after
/// the gates' product and one after the candidate's, a third where the
/// rectified filter or the attention mix feeds a product of its own; as
/// many again backward.
pub fn element_wise_floor(variant: GruVariant) -> u64 {
    match variant.integration() {
        UserIntegration::None | UserIntegration::Linear => 4,
        UserIntegration::Rectified | UserIntegration::Attentional => 6,
    }
}
