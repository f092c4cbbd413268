//! The model's graph: tensors, the operations that made them, and the
//! rules by which their backward launches kernels.

use super::{KindTraffic, StepShape, StepTraffic};
use crate::kernels::KernelKind;
use std::collections::BTreeMap;

/// A tensor of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct V(usize);

/// Where a leaf's gradient goes after the step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Leaf {
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
pub(super) enum Rule {
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

pub(super) struct Graph {
    pub(super) shape: StepShape,
    pub(super) fused: bool,
    nodes: Vec<Node>,
    ops: Vec<Op>,
    forward: Vec<Launch>,
}

const ELEMENT: u64 = 4;

impl Graph {
    pub(super) fn new(shape: StepShape) -> Graph {
        Graph {
            shape,
            fused: false,
            nodes: Vec::new(),
            ops: Vec::new(),
            forward: Vec::new(),
        }
    }

    /// Lanes × `k` hidden widths.
    pub(super) fn lanes(&self, k: u64) -> u64 {
        self.shape.lanes as u64 * self.shape.hidden as u64 * k
    }

    pub(super) fn node(&mut self, elems: u64, requires_grad: bool, leaf: Leaf) -> V {
        self.nodes.push(Node {
            elems,
            requires_grad,
            grad_uses: 0,
            leaf,
        });
        V(self.nodes.len() - 1)
    }

    /// A step input of `k` hidden widths per lane.
    pub(super) fn rows(&mut self, k: u64) -> V {
        let elems = self.lanes(k);
        let parent = elems * self.shape.steps as u64;
        self.node(elems, true, Leaf::Rows { parent })
    }

    pub(super) fn weight(&mut self, rows: u64, cols: u64) -> V {
        let n = self.shape.hidden as u64;
        self.node(rows * cols * n * n, true, Leaf::Weight)
    }

    pub(super) fn elems(&self, v: V) -> u64 {
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

    pub(super) fn binary(&mut self, a: V, b: V, rule: Rule) -> V {
        let s = self.elems(a);
        let launch = Self::element_wise(s + self.elems(b), s);
        self.op(&[a, b], s, rule, &[launch])
    }

    pub(super) fn add(&mut self, a: V, b: V) -> V {
        self.binary(a, b, Rule::Add)
    }

    /// `a + bias` with the bias row broadcast over the lanes.
    pub(super) fn add_row(&mut self, a: V, bias: V) -> V {
        let s = self.elems(a);
        let launch = Self::element_wise(s + self.elems(bias), s);
        self.op(&[a, bias], s, Rule::AddRow, &[launch])
    }

    pub(super) fn sub(&mut self, a: V, b: V) -> V {
        self.binary(a, b, Rule::Sub)
    }

    pub(super) fn mul(&mut self, a: V, b: V) -> V {
        self.binary(a, b, Rule::Mul)
    }

    pub(super) fn unary(&mut self, a: V, rule: Rule, kernels: usize) -> V {
        let s = self.elems(a);
        self.op(&[a], s, rule, &vec![Self::element_wise(s, s); kernels])
    }

    pub(super) fn sigmoid(&mut self, a: V) -> V {
        self.unary(a, Rule::Sigmoid, 6)
    }

    pub(super) fn tanh(&mut self, a: V) -> V {
        self.unary(a, Rule::Tanh, 1)
    }

    /// Columns of `a` (`k` hidden widths per lane): a view.
    pub(super) fn narrow(&mut self, a: V, k: u64) -> V {
        let elems = self.lanes(k);
        self.op(&[a], elems, Rule::Narrow, &[])
    }

    /// `a · w` with `a` `[lanes × k·n]` and `w` `[k·n × j·n]`.
    pub(super) fn product(&mut self, a: V, w: V, k: u64, j: u64) -> V {
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

    pub(super) fn fused(
        &mut self,
        inputs: &[V],
        out_k: u64,
        sends: [bool; 5],
        backward_writes: u64,
    ) -> V {
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
    pub(super) fn traffic(mut self) -> StepTraffic {
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

    /// `[lanes × 2n] · [2n × 3n]`: the attentional mix's product.
    pub(super) fn product_wide(&mut self, a: V, w: V) -> V {
        self.product(a, w, 2, 3)
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
