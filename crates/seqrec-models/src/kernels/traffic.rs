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
use serde::Serialize;
use std::collections::BTreeMap;

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
        ElementWise::Composed => composed_step(&mut g, variant.integration()),
        ElementWise::Fused => fused_step(&mut g, variant.integration()),
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

/// A tensor of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct V(usize);

/// Where a leaf's gradient goes after the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Leaf {
    /// Computed in the step.
    Computed,
    /// The state entering the step; the window's states are also joined
    /// for the loss, a use of its own.
    State,
    /// A step weight: composed, its gradient is added to the window's
    /// each step; fused, gathered once per window (not in the step).
    Weight,
    /// A bias row broadcast over the lanes (its gradient added to the
    /// window's each step, either way).
    Bias,
    /// This step's rows of a window tensor of `parent` elements: composed,
    /// a zero tensor of the parent's size, the rows written into it, added
    /// to the window's gradient; fused ([`crate::fused::split_rows`]), the
    /// rows kept and joined once per window.
    Rows { parent: u64 },
}

#[derive(Clone, Copy, Debug)]
struct Node {
    elems: u64,
    requires_grad: bool,
    grad_uses: u32,
    leaf: Leaf,
}

/// How an operation passes its output's gradient back.
#[derive(Clone, Copy, Debug)]
enum Rule {
    Add,
    /// `x + bias` with the bias broadcast over rows: its gradient is summed.
    AddRow,
    Sub,
    Mul,
    /// `x · c`.
    MulScalar,
    /// `x + c`: the gradient passes.
    AddScalar,
    Sigmoid,
    Tanh,
    /// The hard threshold's step (a comparison and a cast): no gradient.
    Step,
    /// A slice of columns: zeros of the parent's size, the slice written in.
    Narrow,
    /// `[m × k] · [k × n]`; `window`: the weight's gradient once per window.
    Product {
        m: u64,
        k: u64,
        n: u64,
        window: bool,
    },
    /// One of seqrec's fused stages: its backward is one kernel that reads
    /// `reads` elements, writes `writes`, and sends a gradient to the
    /// inputs marked in `sends`.
    Fused {
        reads: u64,
        writes: u64,
        sends: [bool; 5],
    },
}

#[derive(Clone, Copy, Debug)]
struct Op {
    inputs: [Option<V>; 5],
    output: V,
    rule: Rule,
}

#[derive(Clone, Copy, Debug)]
struct Launch {
    kind: KernelKind,
    read: u64,
    written: u64,
}

struct Graph {
    shape: StepShape,
    fused: bool,
    nodes: Vec<Node>,
    ops: Vec<Op>,
    forward: Vec<Launch>,
}

const ELEMENT: u64 = 4;

impl Graph {
    fn new(shape: StepShape) -> Graph {
        Graph {
            shape,
            fused: false,
            nodes: Vec::new(),
            ops: Vec::new(),
            forward: Vec::new(),
        }
    }

    /// Lanes × `k` hidden widths.
    fn lanes(&self, k: u64) -> u64 {
        self.shape.lanes as u64 * self.shape.hidden as u64 * k
    }

    fn node(&mut self, elems: u64, requires_grad: bool, leaf: Leaf) -> V {
        self.nodes.push(Node {
            elems,
            requires_grad,
            grad_uses: 0,
            leaf,
        });
        V(self.nodes.len() - 1)
    }

    /// A step input of `k` hidden widths per lane.
    fn rows(&mut self, k: u64) -> V {
        let elems = self.lanes(k);
        let parent = elems * self.shape.steps as u64;
        self.node(elems, true, Leaf::Rows { parent })
    }

    fn weight(&mut self, rows: u64, cols: u64) -> V {
        let n = self.shape.hidden as u64;
        self.node(rows * cols * n * n, true, Leaf::Weight)
    }

    fn elems(&self, v: V) -> u64 {
        self.nodes[v.0].elems
    }

    fn op(&mut self, inputs: &[V], elems: u64, rule: Rule, launches: &[Launch]) -> V {
        // A comparison's result carries no gradient.
        let requires_grad =
            !matches!(rule, Rule::Step) && inputs.iter().any(|v| self.nodes[v.0].requires_grad);
        let output = self.node(elems, requires_grad, Leaf::Computed);
        let mut slots = [None; 5];
        for (slot, v) in slots.iter_mut().zip(inputs) {
            *slot = Some(*v);
        }
        self.ops.push(Op {
            inputs: slots,
            output,
            rule,
        });
        self.forward.extend_from_slice(launches);
        output
    }

    fn element_wise(read: u64, written: u64) -> Launch {
        Launch {
            kind: KernelKind::ElementWise,
            read,
            written,
        }
    }

    fn binary(&mut self, a: V, b: V, rule: Rule) -> V {
        let s = self.elems(a);
        let launch = Self::element_wise(s + self.elems(b), s);
        self.op(&[a, b], s, rule, &[launch])
    }

    fn add(&mut self, a: V, b: V) -> V {
        self.binary(a, b, Rule::Add)
    }

    /// `a + bias` with the bias row broadcast over the lanes.
    fn add_row(&mut self, a: V, bias: V) -> V {
        let s = self.elems(a);
        let launch = Self::element_wise(s + self.elems(bias), s);
        self.op(&[a, bias], s, Rule::AddRow, &[launch])
    }

    fn sub(&mut self, a: V, b: V) -> V {
        self.binary(a, b, Rule::Sub)
    }

    fn mul(&mut self, a: V, b: V) -> V {
        self.binary(a, b, Rule::Mul)
    }

    fn unary(&mut self, a: V, rule: Rule, kernels: usize) -> V {
        let s = self.elems(a);
        self.op(&[a], s, rule, &vec![Self::element_wise(s, s); kernels])
    }

    fn sigmoid(&mut self, a: V) -> V {
        self.unary(a, Rule::Sigmoid, 6)
    }

    fn tanh(&mut self, a: V) -> V {
        self.unary(a, Rule::Tanh, 1)
    }

    /// Columns of `a` (`k` hidden widths per lane): a view.
    fn narrow(&mut self, a: V, k: u64) -> V {
        let elems = self.lanes(k);
        self.op(&[a], elems, Rule::Narrow, &[])
    }

    /// `a · w` with `a` `[lanes × k·n]` and `w` `[k·n × j·n]`.
    fn product(&mut self, a: V, w: V, k: u64, j: u64) -> V {
        let (m, n) = (self.shape.lanes as u64, self.shape.hidden as u64);
        let (k, j) = (k * n, j * n);
        let launch = Launch {
            kind: KernelKind::Product,
            read: m * k + k * j,
            written: m * j,
        };
        let rule = Rule::Product {
            m,
            k,
            n: j,
            window: self.fused,
        };
        self.op(&[a, w], m * j, rule, &[launch])
    }

    fn fused(&mut self, inputs: &[V], out_k: u64, sends: [bool; 5], backward_writes: u64) -> V {
        let reads: u64 = inputs.iter().map(|&v| self.elems(v)).sum();
        let out = self.lanes(out_k);
        let rule = Rule::Fused {
            reads: reads + out,
            writes: backward_writes,
            sends,
        };
        self.op(inputs, out, rule, &[Self::element_wise(reads, out)])
    }

    /// The step's kernels: the forward launches, then backward from the
    /// last output (which the loss and the next step use).
    fn traffic(mut self) -> StepTraffic {
        let mut backward = Vec::new();
        let last = self.ops.last().map(|op| op.output);
        // The states of the window are joined for the loss: one copy each.
        if let Some(out) = last {
            let s = self.elems(out);
            self.forward.push(Launch {
                kind: KernelKind::DataMovement,
                read: s,
                written: s,
            });
        }
        for node in &mut self.nodes {
            if node.leaf == Leaf::State {
                node.grad_uses += 1;
            }
        }
        for op in self.ops.clone().into_iter().rev() {
            let reached = Some(op.output) == last || self.nodes[op.output.0].grad_uses > 0;
            if !reached || !self.nodes[op.output.0].requires_grad {
                continue;
            }
            self.backward_of(&op, &mut backward);
        }
        for node in &self.nodes {
            if node.grad_uses == 0 {
                continue;
            }
            let s = node.elems;
            // Gradients from several uses, summed pairwise.
            for _ in 1..node.grad_uses {
                backward.push(Self::element_wise(2 * s, s));
            }
            match node.leaf {
                Leaf::Computed | Leaf::State => {}
                // Added to the window's gradient each step (the bias has
                // no once-per-window product).
                Leaf::Bias => backward.push(Self::element_wise(2 * s, s)),
                Leaf::Weight if !self.fused => backward.push(Self::element_wise(2 * s, s)),
                Leaf::Weight => {}
                Leaf::Rows { parent } if !self.fused => {
                    backward.push(fill(parent));
                    backward.push(copy(s));
                    backward.push(Self::element_wise(2 * parent, parent));
                }
                Leaf::Rows { .. } => backward.push(copy(s)),
            }
        }
        StepTraffic {
            forward: sum(&self.forward),
            backward: sum(&backward),
        }
    }

    fn send(&mut self, v: Option<V>) -> bool {
        match v {
            Some(v) if self.nodes[v.0].requires_grad => {
                self.nodes[v.0].grad_uses += 1;
                true
            }
            _ => false,
        }
    }

    fn backward_of(&mut self, op: &Op, out: &mut Vec<Launch>) {
        let s = self.elems(op.output);
        let [a, b, c, d, e] = op.inputs;
        let ew = Self::element_wise;
        match op.rule {
            Rule::Add | Rule::AddScalar => {
                self.send(a);
                self.send(b);
            }
            Rule::AddRow => {
                self.send(a);
                if let Some(bias) = b.filter(|&v| self.nodes[v.0].requires_grad) {
                    self.send(Some(bias));
                    out.push(Launch {
                        kind: KernelKind::Reduction,
                        read: s,
                        written: self.elems(bias),
                    });
                }
            }
            Rule::Sub => {
                self.send(a);
                if self.send(b) {
                    out.push(ew(s, s));
                }
            }
            Rule::Mul => {
                for (this, other) in [(a, b), (b, a)] {
                    if self.send(this) {
                        let o = other.map_or(0, |v| self.elems(v));
                        out.push(ew(s + o, s));
                    }
                }
            }
            Rule::MulScalar => {
                if self.send(a) {
                    out.push(ew(s, s));
                }
            }
            Rule::Sigmoid => {
                if self.send(a) {
                    // Recomputed (six kernels), then 1 − y, y(1 − y) and
                    // the product with the gradient.
                    out.extend(std::iter::repeat_n(ew(s, s), 8));
                    out.extend(std::iter::repeat_n(ew(2 * s, s), 2));
                }
            }
            Rule::Tanh => {
                if self.send(a) {
                    // tanh recomputed, t², −t², 1 − t², times the gradient.
                    out.push(ew(s, s));
                    out.push(ew(2 * s, s));
                    out.extend(std::iter::repeat_n(ew(s, s), 2));
                    out.push(ew(2 * s, s));
                }
            }
            Rule::Step => {}
            Rule::Narrow => {
                if let Some(parent) = a.filter(|&v| self.nodes[v.0].requires_grad) {
                    self.send(Some(parent));
                    out.push(fill(self.elems(parent)));
                    out.push(copy(s));
                }
            }
            Rule::Product { m, k, n, window } => {
                if self.send(a) {
                    out.push(Launch {
                        kind: KernelKind::Product,
                        read: m * n + k * n,
                        written: m * k,
                    });
                }
                if self.send(b) {
                    if window {
                        // The step's input rows and output gradient, kept
                        // for the weight's product once per window.
                        out.push(copy(m * k));
                        out.push(copy(m * n));
                    } else {
                        out.push(Launch {
                            kind: KernelKind::Product,
                            read: k * m + m * n,
                            written: k * n,
                        });
                    }
                }
            }
            Rule::Fused {
                reads,
                writes,
                sends,
            } => {
                for (input, sent) in [a, b, c, d, e].into_iter().zip(sends) {
                    if sent {
                        self.send(input);
                    }
                }
                out.push(ew(reads, writes));
            }
        }
    }
}

fn fill(elems: u64) -> Launch {
    Launch {
        kind: KernelKind::DataMovement,
        read: 0,
        written: elems,
    }
}

fn copy(elems: u64) -> Launch {
    Launch {
        kind: KernelKind::DataMovement,
        read: elems,
        written: elems,
    }
}

fn sum(launches: &[Launch]) -> BTreeMap<KernelKind, KindTraffic> {
    let mut out: BTreeMap<KernelKind, KindTraffic> = BTreeMap::new();
    for l in launches {
        let t = out.entry(l.kind).or_default();
        t.launches += 1;
        t.bytes_read += l.read * ELEMENT;
        t.bytes_written += l.written * ELEMENT;
    }
    out
}

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
fn composed_step(g: &mut Graph, integration: UserIntegration) {
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
fn fused_step(g: &mut Graph, integration: UserIntegration) {
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

impl Graph {
    /// `[lanes × 2n] · [2n × 3n]`: the attentional mix's product.
    fn product_wide(&mut self, a: V, w: V) -> V {
        self.product(a, w, 2, 3)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Launches per step by kind: the counts the counter measured on
    /// lavapipe (2026-12-05, `cargo xtask bench kernels`: windows of 10
    /// steps minus windows of 5, over 5), per variant, composed then
    /// fused: products, element-wise, reductions, data movement.
    pub(crate) const MEASURED_PER_STEP: [[[u64; 4]; 2]; 4] = [
        [[6, 42, 0, 9], [4, 9, 0, 7]],
        [[6, 42, 0, 9], [4, 9, 0, 7]],
        [[9, 60, 0, 17], [6, 14, 0, 16]],
        [[12, 77, 1, 19], [6, 15, 1, 18]],
    ];

    /// One lane, one hidden unit (so a state is one float), the standard
    /// cell with the fused stages, worked by hand.
    #[test]
    fn a_fused_standard_step_moves_these_bytes() {
        let one = StepShape {
            lanes: 1,
            hidden: 1,
            steps: 1,
        };
        let step = step_traffic(GruVariant::Gru, ElementWise::Fused, one).by_kind();
        // Forward h·W_h (reads 1 + 2, writes 2) and (r ⊙ h)·W_c (1 + 1,
        // 1); backward the gradients of their inputs (2 + 2 → 1, 1 + 1 →
        // 1); the weights' gradients are the window's.
        let products = step[&KernelKind::Product];
        assert_eq!(
            (
                products.launches,
                products.bytes_read,
                products.bytes_written
            ),
            (4, 4 * (3 + 2 + 4 + 2), 4 * (2 + 1 + 1 + 1))
        );
        // reset (reads 2 + 2 + 1, writes 1), update (1 + 1 + 2 + 2 + 1, 1),
        // their backward (each reading its inputs and the gradient, writing
        // 2 + 1 and 1 + 2 + 1), and the sums of gradients from several
        // uses: the gates' product and projected rows (2 each, once), h
        // (1, three times: the product, both stages and the loss's join).
        let element_wise = step[&KernelKind::ElementWise];
        assert_eq!(
            (
                element_wise.launches,
                element_wise.bytes_read,
                element_wise.bytes_written
            ),
            (
                9,
                4 * (5 + 7 + 6 + 8 + 4 + 4 + 6),
                4 * (1 + 1 + 3 + 4 + 2 + 2 + 3)
            )
        );
        assert_eq!(step[&KernelKind::Reduction].launches, 0);
    }

    /// At the paper's ML-10M shape the fused stages move a fraction of the
    /// composed bytes, and no variant goes below its floor.
    #[test]
    fn fused_steps_move_fewer_bytes_than_composed_ones() {
        let paper = StepShape {
            lanes: 1000,
            hidden: 1000,
            steps: 20,
        };
        for variant in GruVariant::ALL {
            let of = |mode| step_traffic(variant, mode, paper).by_kind()[&KernelKind::ElementWise];
            let (composed, fused) = (of(ElementWise::Composed), of(ElementWise::Fused));
            let bytes = |t: KindTraffic| t.bytes_read + t.bytes_written;
            assert!(
                bytes(fused) * 3 < bytes(composed),
                "{variant:?}: {composed:?} → {fused:?}"
            );
            assert!(fused.launches >= element_wise_floor(variant), "{variant:?}");
        }
    }

    #[test]
    fn the_model_launches_what_was_measured() {
        let shape = StepShape {
            lanes: 8,
            hidden: 16,
            steps: 5,
        };
        for (variant, measured) in GruVariant::ALL.into_iter().zip(MEASURED_PER_STEP) {
            for (mode, want) in [ElementWise::Composed, ElementWise::Fused]
                .into_iter()
                .zip(measured)
            {
                let model = step_traffic(variant, mode, shape).by_kind();
                let got: Vec<u64> = KernelKind::ALL.iter().map(|k| model[k].launches).collect();
                assert_eq!(got, want, "{variant:?} {mode:?}");
            }
        }
    }
}
