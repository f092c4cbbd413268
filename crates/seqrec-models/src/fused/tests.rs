#![allow(clippy::unwrap_used)]

use super::*;
use burn::tensor::activation::sigmoid;
use burn::tensor::{Device, TensorData};
use seqrec_core::SeqRng;

fn floats(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn random(rows: usize, cols: usize, rng: &mut SeqRng, device: &Device) -> Tensor<2> {
    let v: Vec<f32> = (0..rows * cols)
        .map(|_| (rng.next_f64() * 4.0 - 2.0) as f32)
        .collect();
    Tensor::from_data(TensorData::new(v, [rows, cols]), device)
}

/// The inputs of one step: hidden `[m × 2n]`, projected gates as a column
/// view of a wider tensor (as the projection hands them over), candidate,
/// projected candidate, h.
pub(crate) struct StepInputs {
    pub hidden: Tensor<2>,
    pub projected: Tensor<2>,
    pub candidate: Tensor<2>,
    pub projected_candidate: Tensor<2>,
    pub h: Tensor<2>,
}

pub(crate) fn step_inputs(m: usize, n: usize, seed: u64, device: &Device) -> StepInputs {
    let mut rng = SeqRng::new(seed);
    let wide = random(m, 3 * n, &mut rng, device).require_grad();
    StepInputs {
        hidden: random(m, 2 * n, &mut rng, device).require_grad(),
        projected: wide.clone().narrow(1, 0, 2 * n),
        projected_candidate: wide.narrow(1, 2 * n, n),
        candidate: random(m, n, &mut rng, device).require_grad(),
        h: random(m, n, &mut rng, device).require_grad(),
    }
}

/// The step as burn's operations compose it (the cell's unfused path).
pub(crate) fn composed(x: &StepInputs, n: usize) -> Tensor<2> {
    let gates = sigmoid(x.hidden.clone() + x.projected.clone());
    let u = gates.clone().narrow(1, 0, n);
    let r = gates.narrow(1, n, n);
    let rh = r * x.h.clone();
    // The candidate's product reads r ⊙ h; a fixed map stands in for it.
    let k = (x.candidate.clone() + rh.clone() * 0.5 + x.projected_candidate.clone()).tanh();
    x.h.clone() + u * (k - x.h.clone())
}

pub(crate) fn fused(x: &StepInputs, _n: usize) -> Tensor<2> {
    let rh = reset_state(x.hidden.clone(), x.projected.clone(), x.h.clone());
    update(
        x.candidate.clone() + rh * 0.5,
        x.projected_candidate.clone(),
        x.hidden.clone(),
        x.projected.clone(),
        x.h.clone(),
    )
}

/// Values and the gradients of every input of a fixed objective, fused
/// against composed, within `tolerance` relative to each tensor's scale.
pub(crate) fn fused_equals_composed(device: &Device, tolerance: f32) {
    let (m, n) = (7, 5);
    let objective = |t: Tensor<2>| {
        let weights = random(m, n, &mut SeqRng::new(99), device);
        (t * weights).sum()
    };
    let a = step_inputs(m, n, 3, device);
    let b = step_inputs(m, n, 3, device);
    let (plain, fast) = (composed(&a, n), fused(&b, n));
    let scale_gap = |x: &[f32], y: &[f32]| {
        let scale = x.iter().fold(1e-3f32, |s, v| s.max(v.abs()));
        x.iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max)
            / scale
    };
    let gap = scale_gap(&floats(plain.clone()), &floats(fast.clone()));
    assert!(gap <= tolerance, "states differ by {gap}");
    let (ga, gb) = (objective(plain).backward(), objective(fast).backward());
    let pairs = [
        ("hidden", &a.hidden, &b.hidden),
        ("candidate", &a.candidate, &b.candidate),
        ("h", &a.h, &b.h),
    ];
    for (name, x, y) in pairs {
        let want = floats(x.grad(&ga).unwrap());
        let got = floats(y.grad(&gb).unwrap());
        let gap = scale_gap(&want, &got);
        assert!(gap <= tolerance, "gradient of {name} differs by {gap}");
        assert!(want.iter().any(|v| *v != 0.0), "{name}: no gradient");
    }
}

#[test]
fn fused_stages_equal_the_composed_step_on_the_cpu() {
    fused_equals_composed(&Device::flex().autodiff(), 1e-5);
}

/// A hand-worked element: hidden_r + projected_r = 0 gives r = ½, so
/// `r ⊙ h` halves h; with u's pre-activation 0 too and a candidate
/// pre-activation of 0 (k = 0), the next state is h / 2.
#[test]
fn hand_worked_element() {
    let device = Device::flex();
    let zeros = |cols| Tensor::<2>::zeros([1, cols], &device);
    let h = Tensor::<2>::from_data(TensorData::new(vec![0.8f32], [1, 1]), &device);
    let rh = reset_state(zeros(2), zeros(2), h.clone());
    assert_eq!(floats(rh), vec![0.4]);
    let next = update(zeros(1), zeros(1), zeros(2), zeros(2), h);
    assert_eq!(floats(next), vec![0.4]);
}

/// The leaves of [`third_stages_equal_composed`], fresh for each graph
/// (burn keeps no tape across two backward passes).
struct ThirdStageInputs {
    wide: Tensor<2>,
    projected: Tensor<2>,
    attention: Tensor<2>,
    e_i: Tensor<2>,
    e_v: Tensor<2>,
}

fn third_stage_inputs(m: usize, n: usize, device: &Device) -> ThirdStageInputs {
    let mut rng = SeqRng::new(21);
    ThirdStageInputs {
        wide: random(m, 4 * n, &mut rng, device).require_grad(),
        projected: random(m, 2 * n, &mut rng, device),
        attention: random(m, n, &mut rng, device).require_grad(),
        e_i: random(m, n, &mut rng, device).require_grad(),
        e_v: random(m, n, &mut rng, device).require_grad(),
    }
}

/// The rectified filter and the attention mix, fused against burn's
/// operations on `device`: values and the gradients of `e_i`, `e_v` and
/// of ξ's inputs. The thresholds and ξ's hidden part are column views of a
/// wider tensor, as in the cell.
pub(crate) fn third_stages_equal_composed(device: &Device, tolerance: f32) {
    let (m, n, omega) = (6, 4, 0.2f32);
    let gap = |want: Tensor<2>, got: Tensor<2>, what: &str| {
        let (want, got) = (floats(want), floats(got));
        let scale = want.iter().fold(1e-3f32, |s, v| s.max(v.abs()));
        for (i, (a, b)) in want.iter().zip(&got).enumerate() {
            assert!(
                (a - b).abs() <= tolerance * scale,
                "{what} [{i}]: fused {b}, composed {a}"
            );
        }
    };
    // Rectified: e_v · step(e_v − κ1) · (ω + (1 − ω) · step(e_v − κ2)).
    let rectified = |fused: bool| {
        let x = third_stage_inputs(m, n, device);
        let hidden = x.wide.narrow(1, 2 * n, 2 * n);
        let f = if fused {
            rectify(hidden, x.projected, x.e_v.clone(), omega)
        } else {
            let kappa = hidden + x.projected;
            let step = |t: Tensor<2>| t.greater_equal_elem(0.0).float();
            let lower = step(x.e_v.clone() - kappa.clone().narrow(1, 0, n));
            let upper = step(x.e_v.clone() - kappa.narrow(1, n, n));
            x.e_v.clone() * lower * (upper.mul_scalar(1.0 - omega).add_scalar(omega))
        };
        let weights = random(m, n, &mut SeqRng::new(5), device);
        let grads = (f.clone() * weights).sum().backward();
        (f, x.e_v.grad(&grads).unwrap())
    };
    let ((composed, d_composed), (fused, d_fused)) = (rectified(false), rectified(true));
    gap(composed, fused, "rectified filter");
    gap(d_composed, d_fused, "rectified ∂e_v");

    // Attentional: [(1 − ξ) e_i | ξ e_v], ξ = σ(hidden + projected).
    let attentional = |fused: bool| {
        let x = third_stage_inputs(m, n, device);
        let hidden = x.wide.clone().narrow(1, n, n);
        let mix = if fused {
            attend(hidden, x.attention.clone(), x.e_i.clone(), x.e_v.clone())
        } else {
            let xi = sigmoid(hidden + x.attention.clone());
            Tensor::cat(
                vec![
                    x.e_i.clone() - xi.clone() * x.e_i.clone(),
                    xi * x.e_v.clone(),
                ],
                1,
            )
        };
        let weights = random(m, 2 * n, &mut SeqRng::new(6), device);
        let grads = (mix.clone() * weights).sum().backward();
        let leaves = [&x.e_i, &x.e_v, &x.attention, &x.wide].map(|t| t.grad(&grads).unwrap());
        (mix, leaves)
    };
    let ((composed, d_composed), (fused, d_fused)) = (attentional(false), attentional(true));
    gap(composed, fused, "attention mix");
    for ((what, want), got) in ["∂e_i", "∂e_v", "∂ξ's input", "∂ξ's hidden part"]
        .into_iter()
        .zip(d_composed)
        .zip(d_fused)
    {
        gap(want, got, what);
    }
}

#[test]
fn third_stages_equal_composed_on_the_cpu() {
    third_stages_equal_composed(&Device::flex().autodiff(), 1e-6);
}

/// A tensor split into step blocks by `split_rows` gives the same values as
/// narrowing it, and the same gradient, joined once: each block used
/// differently (and one block twice) by a fixed objective.
#[test]
fn split_rows_has_the_gradient_of_narrowing() {
    let device = Device::flex().autodiff();
    let (parts, len, cols) = (4, 3, 5);
    let run = |split: bool| {
        let x = random(parts * len, cols, &mut SeqRng::new(8), &device).require_grad();
        let blocks = if split {
            split_rows(x.clone(), parts, len)
        } else {
            (0..parts)
                .map(|i| x.clone().narrow(0, i * len, len))
                .collect()
        };
        let mut objective = Tensor::<1>::zeros([1], &device);
        for (i, block) in blocks.iter().enumerate() {
            let used = (block.clone() * (i as f32 + 1.0)).tanh().sum();
            objective = objective + used;
        }
        objective = objective + (blocks[1].clone() * blocks[1].clone()).sum();
        let values: Vec<f32> = blocks.into_iter().flat_map(floats).collect();
        let grads = objective.backward();
        (values, floats(x.grad(&grads).unwrap()))
    };
    let (narrow_values, narrow_grad) = run(false);
    let (split_values, split_grad) = run(true);
    assert_eq!(narrow_values, split_values);
    for (a, b) in narrow_grad.iter().zip(&split_grad) {
        assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{a} vs {b}");
    }
    assert!(
        split_grad.iter().all(|g| *g != 0.0),
        "every row has a gradient"
    );
}

/// A weight multiplied once per step through `window_product` gets the
/// gradient of plain products, summed over the window, in one product; the
/// steps' inputs get theirs at once. The steps chain (each input depends
/// on the previous output), as a recurrence does, and the first input is
/// not tracked, as a window's initial state is not.
#[test]
fn window_products_have_the_gradients_of_plain_ones() {
    let device = Device::flex().autodiff();
    let (steps, rows, n) = (4, 3, 5);
    let run = |ledgered: bool| {
        let w = random(n, n, &mut SeqRng::new(12), &device).require_grad();
        let inputs = random(steps * rows, n, &mut SeqRng::new(13), &device).require_grad();
        let ledger = WindowGather::new(steps);
        let mut x = random(rows, n, &mut SeqRng::new(14), &device);
        let mut objective = Tensor::<1>::zeros([1], &device);
        for step in 0..steps {
            let y = if ledgered {
                window_product(x, w.clone(), crate::Precision::Fp32, step, ledger.clone())
            } else {
                crate::Precision::Fp32.matmul(x, w.clone())
            };
            x = (y + inputs.clone().narrow(0, step * rows, rows)).tanh();
            objective = objective + (x.clone() * (step as f32 + 0.5)).sum();
        }
        let grads = objective.backward();
        (
            floats(w.grad(&grads).unwrap()),
            floats(inputs.grad(&grads).unwrap()),
        )
    };
    let (plain_w, plain_inputs) = run(false);
    let (window_w, window_inputs) = run(true);
    for (want, got) in [(plain_w, window_w), (plain_inputs, window_inputs)] {
        let scale = want.iter().fold(1e-3f32, |s, v| s.max(v.abs()));
        for (a, b) in want.iter().zip(&got) {
            assert!((a - b).abs() <= 1e-5 * scale, "{a} vs {b}");
        }
        assert!(want.iter().any(|v| *v != 0.0));
    }
}
