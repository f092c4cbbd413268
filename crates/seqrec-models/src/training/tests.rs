//! A finite-difference check of the whole window gradient: the chunked,
//! hand-written output backward, the surrogate that hands ∂loss/∂h to
//! autodiff, and the L2 term, against a plain reference loss.

use super::*;
use crate::lanes::{LaneSchedule, LaneSwitch, Window};
use crate::{Threshold, UserIntegration};
use burn::module::Param;
use burn::tensor::Device;
use burn::tensor::TensorData;
use burn::tensor::activation::log_softmax;

fn floats<const D: usize>(t: Tensor<D>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

/// The loss of one window written plainly: full logits, log-softmax, mean
/// over active lane-steps, plus 0.01 · mean ½‖e_v‖² over the window's users.
fn reference_loss(model: &GruModel, w: &Window, params: &GruParams, device: &Device) -> f64 {
    let lanes = w.lanes;
    let mut h = Tensor::<2>::zeros([lanes, params.hidden], device);
    let mut total = 0.0;
    for s in 0..w.steps {
        let range = s * lanes..(s + 1) * lanes;
        let keep: Vec<f32> = w.reset[range.clone()]
            .iter()
            .map(|&r| if r { 0.0 } else { 1.0 })
            .collect();
        h = h * Tensor::<2>::from_data(TensorData::new(keep, [lanes, 1]), device);
        let e_i = model.embed_items(&w.inputs[range.clone()], device);
        let e_v = model.embed_users(&w.users[range.clone()], device);
        h = model.step(h, e_i, e_v);
        let log_p = floats(log_softmax(
            model.logits(h.clone(), crate::Precision::Tf32),
            1,
        ));
        let items = model.items();
        for lane in 0..lanes {
            let i = s * lanes + lane;
            if w.active[i] {
                total -= f64::from(log_p[lane * items + w.targets[i] as usize]);
            }
        }
    }
    let mut loss = total / w.tuples() as f64;
    if let Some(rows) = model.embed_users(&w.stretch_users, device) {
        let squares: f64 = floats(rows)
            .iter()
            .map(|&x| f64::from(x) * f64::from(x))
            .sum();
        loss += params.user_l2 * 0.5 * squares / w.stretch_users.len() as f64;
    }
    loss
}

/// Every 2-D parameter of the model, by name.
fn matrices(model: &mut GruModel) -> Vec<(&'static str, &mut Param<Tensor<2>>)> {
    let cell = &mut model.cell;
    let mut out: Vec<(&'static str, &mut Param<Tensor<2>>)> = vec![
        ("item_embedding", &mut model.item_embedding),
        ("output", &mut model.output.weight),
        ("gates", &mut cell.gates.weight),
        ("candidate_hidden", &mut cell.candidate_hidden.weight),
        ("candidate_item", &mut cell.candidate_item.weight),
    ];
    if let Some(e) = model.user_embedding.as_mut() {
        out.push(("user_embedding", e));
    }
    for (name, layer) in [
        ("candidate_user", cell.candidate_user.as_mut()),
        ("thresholds", cell.thresholds.as_mut()),
        ("attention_hidden", cell.attention_hidden.as_mut()),
        ("attention_item", cell.attention_item.as_mut()),
        ("attention_user", cell.attention_user.as_mut()),
    ] {
        if let Some(layer) = layer {
            out.push((name, &mut layer.weight));
        }
    }
    out
}

/// The windows of `lanes` lanes and `steps` steps over users 0, 1, … with
/// these item sequences (lanes switch users within a window).
fn windows_of(seqs: &[Vec<u32>], lanes: usize, steps: usize) -> Vec<Window> {
    let seqs: Vec<Vec<ItemId>> = seqs
        .iter()
        .map(|s| s.iter().map(|&i| ItemId(i)).collect())
        .collect();
    let input: Vec<(u32, &[ItemId])> = seqs
        .iter()
        .enumerate()
        .map(|(u, s)| (u as u32, &s[..]))
        .collect();
    LaneSchedule::new(input, lanes, steps, LaneSwitch::Step).collect()
}

fn nudge(param: &mut Param<Tensor<2>>, index: usize, delta: f32, device: &Device) {
    let value = param.val();
    let shape = value.dims();
    let mut data = floats(value);
    data[index] += delta;
    *param = Param::from_tensor(Tensor::from_data(TensorData::new(data, shape), device));
}

#[test]
fn window_gradient_matches_finite_differences_for_every_variant() {
    let inner = Device::flex();
    let device = inner.clone().autodiff();
    let seqs = [vec![1u32, 2, 3, 4, 0], vec![0, 4, 2], vec![3, 3, 1, 0, 2]];
    // Two lanes, three steps: the second window has a mid-run reset on lane 1.
    let windows = windows_of(&seqs, 2, 3);
    let params = GruParams {
        hidden: 3,
        lanes: 2,
        window: 3,
        item_keep: 1.0,
        user_keep: 1.0,
        init_range: 0.5,
        attention_init_range: 0.5,
        threshold: Threshold::Soft,
        temperature: 0.5,
        ..GruParams::default()
    };
    for variant in GruVariant::ALL {
        let config = GruModelConfig::new(
            5,
            3,
            GruCellConfig::new(3)
                .with_integration(variant.integration())
                .with_init_range(0.5)
                .with_attention_init_range(0.5)
                .with_threshold(Threshold::Soft)
                .with_temperature(0.5),
        );
        let model = config.init(&device, &mut SeqRng::new(11));
        for path in [WindowPath::Device, WindowPath::HostOutput] {
            let trainer = WindowTrainer {
                params: &params,
                device: &device,
                inner: &inner,
                chunk_rows: 2, // Several chunks, so the chunking is checked too.
                path,
                precision: crate::Precision::Tf32,
                elementwise: crate::fused::ElementWise::Composed,
            };
            for w in &windows {
                let h = Tensor::<2>::zeros([2, 3], &device);
                let (grads, _, loss) = trainer
                    .gradients(&model, w, h, &mut SeqRng::new(0))
                    .unwrap();
                let plain = model.valid();
                let want_loss = reference_loss(&plain, w, &params, &inner);
                let got_loss = f64::from(loss.into_scalar::<f32>());
                assert!(
                    (got_loss - want_loss).abs() < 1e-5,
                    "{variant:?}: loss {got_loss} vs {want_loss}"
                );
                let mut probe = model.valid();
                let names: Vec<(&str, ParamIdOf)> = matrices(&mut probe)
                    .into_iter()
                    .map(|(name, p)| (name, (p.id, p.val().dims()[0] * p.val().dims()[1])))
                    .collect();
                for (k, (name, (id, len))) in names.into_iter().enumerate() {
                    let analytic = floats(
                        grads
                            .get::<2>(id)
                            .unwrap_or_else(|| panic!("{variant:?}: no gradient for {name}")),
                    );
                    for index in [0, len / 3, len / 2, len - 1] {
                        let eps = 1e-2f32;
                        let loss_at = |delta: f32| {
                            let mut m = model.valid();
                            nudge(matrices(&mut m).swap_remove(k).1, index, delta, &inner);
                            reference_loss(&m, w, &params, &inner)
                        };
                        let numeric = (loss_at(eps) - loss_at(-eps)) / (2.0 * f64::from(eps));
                        let a = f64::from(analytic[index]);
                        assert!(
                            (numeric - a).abs() <= 2e-3 + 0.03 * a.abs(),
                            "{variant:?} {name}[{index}]: analytic {a}, numeric {numeric}"
                        );
                    }
                }
            }
            // The hard threshold gives the thresholds no gradient (spec decision).
            if variant.integration() == UserIntegration::Rectified {
                let hard = GruModelConfig::new(
                    5,
                    3,
                    GruCellConfig::new(3).with_integration(UserIntegration::Rectified),
                )
                .init(&device, &mut SeqRng::new(11));
                let h = Tensor::<2>::zeros([2, 3], &device);
                let (grads, _, _) = trainer
                    .gradients(&hard, &windows[0], h, &mut SeqRng::new(0))
                    .unwrap();
                let id = hard.cell.thresholds.as_ref().unwrap().weight.id;
                let g = grads.get::<2>(id).map(floats).unwrap_or_default();
                assert!(g.iter().all(|&x| x == 0.0), "{g:?}");
            }
        }
    }
}

type ParamIdOf = (burn::module::ParamId, usize);

#[test]
fn dropout_masks_change_with_the_rng_and_padding_gets_no_loss() {
    // A window where only lane 0 is active: the loss equals the reference.
    let inner = Device::flex();
    let device = inner.clone().autodiff();
    let seq: Vec<ItemId> = [1u32, 2, 3].iter().map(|&i| ItemId(i)).collect();
    let w: Window = LaneSchedule::new(vec![(0, &seq[..])], 1, 4, LaneSwitch::Window)
        .next()
        .unwrap();
    assert_eq!(w.tuples(), 2);
    let params = GruParams {
        hidden: 4,
        item_keep: 1.0,
        user_keep: 1.0,
        ..GruParams::default()
    };
    let model = GruModelConfig::new(4, 1, GruCellConfig::new(4)).init(&device, &mut SeqRng::new(1));
    let trainer = WindowTrainer {
        params: &params,
        device: &device,
        inner: &inner,
        chunk_rows: 8,
        path: WindowPath::Host,
        precision: crate::Precision::Tf32,
        elementwise: crate::fused::ElementWise::Composed,
    };
    let (_, _, loss) = trainer
        .gradients(
            &model,
            &w,
            Tensor::zeros([1, 4], &device),
            &mut SeqRng::new(0),
        )
        .unwrap();
    let want = reference_loss(&model.valid(), &w, &params, &inner);
    assert!((f64::from(loss.into_scalar::<f32>()) - want).abs() < 1e-5);
    // With dropout the loss depends on the mask stream.
    let dropped = GruParams {
        item_keep: 0.5,
        ..params
    };
    let trainer = WindowTrainer {
        params: &dropped,
        device: &device,
        inner: &inner,
        chunk_rows: 8,
        path: WindowPath::Device,
        precision: crate::Precision::Tf32,
        elementwise: crate::fused::ElementWise::Composed,
    };
    let run = |seed| {
        let (_, _, l) = trainer
            .gradients(
                &model,
                &w,
                Tensor::zeros([1, 4], &device),
                &mut SeqRng::new(seed),
            )
            .unwrap();
        l.into_scalar::<f32>()
    };
    assert_eq!(run(1), run(1));
    assert_ne!(run(1), run(2));
}

/// Every parameter's id and rank.
struct ParamIds(Vec<(burn::module::ParamId, usize)>);

impl burn::module::ModuleVisitor for ParamIds {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.0.push((param.id, D));
    }
}

fn gradient_values(
    grads: &burn::optim::GradientsParams,
    id: burn::module::ParamId,
    rank: usize,
) -> Option<Vec<f32>> {
    match rank {
        1 => grads.get::<1>(id).map(floats),
        _ => grads.get::<2>(id).map(floats),
    }
}

/// Six users' sequences over 9 items in windows of 3 lanes × 4 steps, for
/// the host-window tests.
fn host_test_windows() -> Vec<Window> {
    let seqs: Vec<Vec<u32>> = (0..6u32)
        .map(|u| (0..4 + 2 * u).map(|k| (u * 7 + k * 3) % 9).collect())
        .collect();
    windows_of(&seqs, 3, 4)
}

/// A `variant` model on those 9 items and 6 users, hidden size `n`, with
/// wide initial weights (so every gate is far from its linear range).
fn host_test_model(variant: GruVariant, n: usize, device: &Device) -> GruModel {
    GruModelConfig::new(
        9,
        6,
        GruCellConfig::new(n)
            .with_integration(variant.integration())
            .with_init_range(0.5)
            .with_attention_init_range(0.5),
    )
    .init(device, &mut SeqRng::new(21))
}

/// The host path (hand-written backward through the recurrence) equals
/// the burn path: loss, carried state and the gradient of every parameter,
/// for every variant, with dropout, lane resets, a carried-in state, and
/// the L2 term on user rows and (as an option) on user-side weights.
#[test]
fn host_window_equals_the_burn_path_for_every_variant() {
    let inner = Device::flex();
    let device = inner.clone().autodiff();
    let windows = host_test_windows();
    assert!(
        windows
            .iter()
            .take(3)
            .any(|w| w.reset.iter().skip(3).any(|&r| r)),
        "the windows checked include a mid-window lane reset"
    );
    let n = 5;
    for variant in GruVariant::ALL {
        for user_l2_weights in [false, true] {
            let params = GruParams {
                hidden: n,
                lanes: 3,
                window: 4,
                init_range: 0.5,
                attention_init_range: 0.5,
                user_l2: 0.05,
                user_l2_weights,
                ..GruParams::default()
            };
            let model = host_test_model(variant, n, &device);
            let mut ids = ParamIds(Vec::new());
            model.visit(&mut ids);
            let trainer = |path| WindowTrainer {
                params: &params,
                device: &device,
                inner: &inner,
                chunk_rows: 4,
                path,
                precision: crate::Precision::Tf32,
                elementwise: crate::fused::ElementWise::Composed,
            };
            let values: Vec<f32> = (0..3 * n)
                .map(|i| ((i * 37 % 11) as f32 - 5.0) / 6.0)
                .collect();
            let mut h = Tensor::<2>::from_data(TensorData::new(values, [3, n]), &device);
            for (index, w) in windows.iter().take(3).enumerate() {
                let what = format!("{variant:?} (weights L2 {user_l2_weights}) window {index}");
                let (burn_grads, burn_h, burn_loss) = trainer(WindowPath::HostOutput)
                    .gradients(&model, w, h.clone(), &mut SeqRng::new(5))
                    .unwrap();
                let (host_grads, host_h, host_loss, host_norm) = trainer(WindowPath::Host)
                    .host_gradients(&model, w, h.clone(), &mut SeqRng::new(5))
                    .unwrap();
                // The norm summed while registering is the global norm.
                let norm = crate::clip::global_norm(&model, &host_grads);
                assert!(
                    (host_norm - norm).abs() <= 1e-5 * norm,
                    "{what}: norm {host_norm} vs {norm}"
                );
                let (a, b) = (
                    burn_loss.into_scalar::<f32>(),
                    host_loss.into_scalar::<f32>(),
                );
                assert!((a - b).abs() <= 1e-5 * a.abs(), "{what}: loss {b} vs {a}");
                let (a, b) = (floats(burn_h.clone()), floats(host_h));
                for (x, y) in a.iter().zip(&b) {
                    assert!((x - y).abs() <= 1e-5, "{what}: state {y} vs {x}");
                }
                for (k, &(id, rank)) in ids.0.iter().enumerate() {
                    let want = gradient_values(&burn_grads, id, rank);
                    let got = gradient_values(&host_grads, id, rank);
                    let (want, got) = match (want, got) {
                        (Some(a), Some(b)) => (a, b),
                        (None, None) => continue,
                        // A gradient only one path registers must be zero.
                        (Some(a), None) | (None, Some(a)) => {
                            assert!(
                                a.iter().all(|&x| x == 0.0),
                                "{what}: parameter {k} only on one path"
                            );
                            continue;
                        }
                    };
                    assert_eq!(want.len(), got.len(), "{what}: parameter {k}");
                    let scale = want.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
                    for (i, (x, y)) in want.iter().zip(&got).enumerate() {
                        assert!(
                            (x - y).abs() <= 2e-5 * scale,
                            "{what}: parameter {k} [{i}]: host {y} vs burn {x}"
                        );
                    }
                }
                h = burn_h;
            }
        }
    }
}

/// `tf32-emulated` and `bf16-emulated` reach the host training path: every
/// variant's window loss and gradients move by the format's rounding
/// (about 2⁻¹¹ relative for TF32, 2⁻⁹ for bf16), no more, and do move;
/// bf16 moves them further than TF32.
#[test]
fn emulated_precisions_move_host_windows_by_their_rounding_only() {
    use crate::Precision;
    let inner = Device::flex();
    let device = inner.clone().autodiff();
    let windows = host_test_windows();
    let n = 5;
    for variant in GruVariant::ALL {
        let params = GruParams {
            hidden: n,
            lanes: 3,
            window: 4,
            init_range: 0.5,
            attention_init_range: 0.5,
            ..GruParams::default()
        };
        let model = host_test_model(variant, n, &device);
        let mut ids = ParamIds(Vec::new());
        model.visit(&mut ids);
        let run = |precision| {
            let trainer = WindowTrainer {
                params: &params,
                device: &device,
                inner: &inner,
                chunk_rows: 4,
                path: WindowPath::Host,
                precision,
                elementwise: crate::fused::ElementWise::Composed,
            };
            let h = Tensor::<2>::zeros([3, n], &device);
            let (grads, _, loss, _) = trainer
                .host_gradients(&model, &windows[0], h, &mut SeqRng::new(5))
                .unwrap();
            let values: Vec<Vec<f32>> = ids
                .0
                .iter()
                .filter_map(|&(id, rank)| gradient_values(&grads, id, rank))
                .collect();
            (loss.into_scalar::<f32>(), values)
        };
        let (exact_loss, exact) = run(Precision::Tf32);
        // The largest gradient change relative to its parameter's scale.
        let mut moved_by = Vec::new();
        for (precision, tolerance) in [
            (Precision::Tf32Emulated, 1e-2f32),
            (Precision::Bf16Emulated, 8e-2),
        ] {
            let (loss, grads) = run(precision);
            let gap = (exact_loss - loss).abs() / exact_loss.abs();
            assert!(
                gap < tolerance / 10.0,
                "{variant:?} {precision}: loss {loss} vs {exact_loss}"
            );
            let mut largest = gap;
            for (k, (want, got)) in exact.iter().zip(&grads).enumerate() {
                let scale = want.iter().fold(1e-3f32, |m, x| m.max(x.abs()));
                for (x, y) in want.iter().zip(got) {
                    let change = (x - y).abs() / scale;
                    assert!(
                        change <= tolerance,
                        "{variant:?} {precision} [{k}]: {y} vs {x}"
                    );
                    largest = largest.max(change);
                }
            }
            assert!(largest > 0.0, "{variant:?}: {precision} changed nothing");
            moved_by.push(largest);
        }
        assert!(
            moved_by[1] > moved_by[0],
            "{variant:?}: bf16 moved the window by {} and TF32 by {}",
            moved_by[1],
            moved_by[0]
        );
    }
}
