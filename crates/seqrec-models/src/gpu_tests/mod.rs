//! The GPU code path against the CPU one, on whatever device the build's GPU
//! backend finds: `wgpu` where compiled (CI: WGSL shaders on Mesa's software
//! Vulkan driver lavapipe, so every CI run exercises burn's cubecl path —
//! kernel compilation, the device-side chunked output layer, checkpoints
//! crossing backends — with no GPU), else `vulkan` (cubecl's SPIR-V, which
//! lavapipe cannot compile: run these on a real GPU). Without a device the
//! tests say so loudly; where `CI` or `SEQREC_REQUIRE_VULKAN` is set that is
//! a failure.
//!
//! `CUBECL_AUTOTUNE_LEVEL=minimal` keeps cubecl's kernel autotuning short
//! (`.ci/run` sets it).
#![allow(clippy::unwrap_used)]

use crate::fused::ElementWise;
use crate::output::softmax_cross_entropy;
use crate::output_host::softmax_cross_entropy_host;
use crate::{
    Backend, GruParams, GruVariant, OpenedDevice, Precision, TrainOptions, WindowObserver, fit,
    load_scorer,
};
use burn::tensor::{Tensor, TensorData};
use seqrec_core::{ItemId, Part, SeqRng, Split, SplitConfig, UserSequences};
use seqrec_metrics::{EvalConfig, evaluate};
use std::sync::{Arc, Mutex};

/// The GPU backend under test.
const GPU: Backend = if cfg!(feature = "wgpu") {
    Backend::Wgpu
} else {
    Backend::Vulkan
};

fn required() -> bool {
    std::env::var_os("CI").is_some() || std::env::var_os("SEQREC_REQUIRE_VULKAN").is_some()
}

/// The GPU device (its adapter and compiler path printed), or a loud
/// notice (a failure in CI) when the machine has none.
fn gpu() -> Option<OpenedDevice> {
    match GPU.open(None) {
        Ok(opened) => {
            eprintln!("GPU test device: {}", opened.info.summary());
            Some(opened)
        }
        Err(e) if required() => panic!("no device for the GPU-path tests: {e}"),
        Err(e) => {
            eprintln!("GPU (VULKAN) TEST NOT RUN: {e}");
            None
        }
    }
}

/// Users walking through the catalogue in small random steps: learnable,
/// with ties and repeats, the same on every run.
fn random_split(users: u32, items: u32, length: u32) -> Split {
    let mut rng = SeqRng::new(41);
    let rows: Vec<_> = (0..users)
        .map(|_| {
            let mut item = rng.below(u64::from(items)) as u32;
            let seq: Vec<ItemId> = (0..length)
                .map(|_| {
                    item = (item + 1 + rng.below(3) as u32) % items;
                    ItemId(item)
                })
                .collect();
            (seq, (0..i64::from(length)).collect::<Vec<_>>())
        })
        .collect();
    Split::compute(
        &UserSequences::from_users(rows),
        items as usize,
        &SplitConfig::default(),
    )
    .unwrap()
    .split
}

fn params() -> GruParams {
    GruParams {
        hidden: 16,
        lanes: 8,
        window: 5,
        epochs: 1,
        learning_rate: 0.01,
        ..GruParams::default()
    }
}

fn close(a: f64, b: f64, relative: f64) -> bool {
    (a - b).abs() <= relative * a.abs().max(b.abs()).max(1e-12)
}

#[test]
fn the_device_output_layer_matches_the_host_one() {
    let Some(gpu) = gpu() else { return };
    // 53 items: fewer than a fused kernel's units per row; 600: each unit
    // strides over several.
    for items in [53, 600] {
        for fused in [false, true] {
            device_output_layer_matches_the_host_one(&gpu, 37, items, fused, &[5, 37, 64], 1e-5);
        }
    }
    // Long sums: a chunk of 70,000 rows (∂b sums them; the fused kernel's
    // rows then span two grid axes, past Vulkan's 65,535 cubes per axis)
    // and LastFM's catalogue of 500,000 items (each row's softmax sums
    // them), where burn's `sum_dim` drops terms on this backend. (Sums of
    // 500,000 terms in another order than the host's: 1e-4.)
    for fused in [false, true] {
        device_output_layer_matches_the_host_one(&gpu, 70_000, 3, fused, &[70_000], 1e-5);
        device_output_layer_matches_the_host_one(&gpu, 8, 500_000, fused, &[8], 1e-4);
    }
}

/// [`the_device_output_layer_matches_the_host_one`] at one shape, composed
/// or with the fused softmax kernel.
fn device_output_layer_matches_the_host_one(
    gpu: &OpenedDevice,
    rows: usize,
    items: usize,
    fused: bool,
    chunks: &[usize],
    tolerance: f32,
) {
    let n = 8;
    let mut rng = SeqRng::new(9);
    let mut values = |count: usize| -> Vec<f32> {
        (0..count)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect()
    };
    let (h, w, b) = (values(rows * n), values(n * items), values(items));
    let targets: Vec<u32> = (0..rows as u32).map(|r| (r * 7) % items as u32).collect();
    let scale = 1.0 / rows as f64;
    for &chunk in chunks {
        let host = softmax_cross_entropy_host(
            &h,
            &targets,
            &w,
            &b,
            n,
            chunk,
            scale as f32,
            crate::host_matmul::OperandRounding::Exact,
        )
        .unwrap();
        let on = |data: &[f32], shape: [usize; 2]| {
            Tensor::<2>::from_data(TensorData::new(data.to_vec(), shape), &gpu.device)
        };
        let device = softmax_cross_entropy(
            on(&h, [rows, n]),
            &targets,
            on(&w, [n, items]),
            Tensor::<1>::from_data(TensorData::new(b.clone(), [items]), &gpu.device),
            chunk,
            scale,
            Precision::Tf32,
            fused,
            &gpu.device,
        );
        let read = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
        let mean_loss =
            f64::from(device.loss_sum.into_data().try_to_vec::<f32>().unwrap()[0]) * scale;
        assert!(
            (mean_loss - host.loss_sum * scale).abs() < f64::from(tolerance),
            "chunk {chunk} ({items} items, fused {fused}): loss {mean_loss} vs {}",
            host.loss_sum * scale
        );
        let within = |name: &str, got: &[f32], want: &[f32]| {
            assert_eq!(got.len(), want.len(), "{name}");
            let worst = got
                .iter()
                .zip(want)
                .map(|(x, y)| (x - y).abs())
                .fold(0.0f32, f32::max);
            assert!(
                worst < tolerance,
                "chunk {chunk} ({items} items, fused {fused}): {name} differs by {worst}"
            );
        };
        within("∂h", &read(device.states), &host.states);
        // The host keeps ∂W transposed ([items × n]).
        within("∂W", &read(device.weight.transpose()), &host.weight_t);
        within(
            "∂b",
            &device.bias.into_data().try_to_vec::<f32>().unwrap(),
            &host.bias,
        );
    }
}

/// The first 10 windows' losses of a run on `backend`.
fn window_losses(
    variant: GruVariant,
    split: &Split,
    backend: Backend,
    precision: Precision,
) -> Vec<f32> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&seen);
    let options = TrainOptions {
        backend,
        precision,
        max_windows_per_epoch: Some(10),
        skip_validation: true,
        observer: Some(WindowObserver::new(move |w| {
            sink.lock().unwrap().push(w.loss);
        })),
        ..TrainOptions::default()
    };
    fit(variant, &params(), split, 3, &options).unwrap();
    seen.lock().unwrap().clone()
}

/// Dropout masks, lane resets and padding included (the paper's keep
/// probabilities), the device path and the CPU path agree window by window,
/// at both precisions; on a device without TF32 the two are one kernel.
#[test]
fn every_variant_trains_like_flex_window_by_window() {
    let Some(opened) = gpu() else { return };
    let split = random_split(30, 40, 25);
    for variant in GruVariant::ALL {
        let cpu = window_losses(variant, &split, Backend::Flex, Precision::Tf32);
        let gpu = window_losses(variant, &split, GPU, Precision::Tf32);
        let gpu_fp32 = window_losses(variant, &split, GPU, Precision::Fp32);
        assert_eq!(cpu.len(), 10, "{variant:?}");
        assert_eq!(gpu.len(), 10, "{variant:?}");
        for (w, (a, b)) in cpu.iter().zip(&gpu_fp32).enumerate() {
            assert!(
                close(f64::from(*a), f64::from(*b), 1e-4),
                "{variant:?} window {}: flex {a} vs {GPU} fp32 {b}",
                w + 1
            );
        }
        // TF32 (10-bit mantissa inputs) may move the losses by ~1e-3.
        let tolerance = if opened.info.tf32 { 1e-2 } else { 1e-4 };
        for (w, (a, b)) in cpu.iter().zip(&gpu).enumerate() {
            assert!(
                close(f64::from(*a), f64::from(*b), tolerance),
                "{variant:?} window {}: flex {a} vs {GPU} tf32 {b}",
                w + 1
            );
        }
        if !opened.info.tf32 {
            assert_eq!(
                gpu, gpu_fp32,
                "{variant:?}: no TF32 here, so the same kernels"
            );
        }
    }
}

/// The fp32 product on the device: equal to the CPU's within fp32
/// rounding, for strided operands too, with the gradients of a plain
/// product; where the device has no TF32 it is the automatic strategy's
/// own fallback kernel, so equal to burn's product bit for bit.
#[test]
fn the_fp32_product_matches_the_cpu_and_burns_own() {
    let Some(gpu) = gpu() else { return };
    let cpu = burn::tensor::Device::flex();
    let mut rng = SeqRng::new(13);
    let mut values = |count: usize| -> Vec<f32> {
        (0..count)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect()
    };
    let (m, k, n) = (37, 53, 29);
    let (a, b, c) = (values(m * k), values(k * n), values(m * n));
    let on = |data: &[f32], shape: [usize; 2], device: &burn::tensor::Device| {
        Tensor::<2>::from_data(TensorData::new(data.to_vec(), shape), device)
    };
    let read = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    let within = |name: &str, got: &[f32], want: &[f32]| {
        assert_eq!(got.len(), want.len(), "{name}");
        let scale = want.iter().fold(1.0f32, |s, x| s.max(x.abs()));
        let worst = got
            .iter()
            .zip(want)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst <= 1e-5 * scale,
            "{name}: differs by {worst} (scale {scale})"
        );
    };
    // Plain operands, a transposed right operand and a row window of the left.
    type Operands = fn(Tensor<2>, Tensor<2>) -> (Tensor<2>, Tensor<2>);
    let cases: [(&str, Operands); 3] = [
        ("plain", |a, b| (a, b)),
        ("transposed", |a, b| (a, b.transpose().transpose())),
        ("row window", |a, b| (a.narrow(0, 3, 30), b)),
    ];
    for (name, shape) in cases {
        let (ga, gb) = shape(on(&a, [m, k], &gpu.device), on(&b, [k, n], &gpu.device));
        let (ca, cb) = shape(on(&a, [m, k], &cpu), on(&b, [k, n], &cpu));
        let fp32 = read(Precision::Fp32.matmul(ga.clone(), gb.clone()));
        within(name, &fp32, &read(ca.matmul(cb)));
        if !gpu.info.tf32 {
            assert_eq!(fp32, read(ga.matmul(gb)), "{name}: same kernel, same bits");
        }
    }
    // Gradients of Σ c ⊙ (a · b) on the device against the CPU's.
    let grads = |device: &burn::tensor::Device| {
        let ad = device.clone().autodiff();
        let a_t = on(&a, [m, k], &ad).require_grad();
        let b_t = on(&b, [k, n], &ad).require_grad();
        let g = (Precision::Fp32.matmul(a_t.clone(), b_t.clone()) * on(&c, [m, n], &ad))
            .sum()
            .backward();
        (read(a_t.grad(&g).unwrap()), read(b_t.grad(&g).unwrap()))
    };
    let (want_a, want_b) = grads(&cpu);
    let (got_a, got_b) = grads(&gpu.device);
    within("∂a", &got_a, &want_a);
    within("∂b", &got_b, &want_b);
}

/// An emulated precision on the device: its tensor rounding gives the
/// host's values (up to exact ties), so its product equals the host
/// kernel's product of rounded operands within fp32 rounding.
fn emulated_product_on_the_device_rounds_like_the_host(precision: Precision, dropped: u32) {
    use crate::host_matmul::{MatRef, matmul};
    let Some(gpu) = gpu() else { return };
    let rounding = precision.host_rounding();
    let mut rng = SeqRng::new(17);
    let (m, k, n) = (21, 45, 17);
    let mut values = |count: usize| -> Vec<f32> {
        (0..count)
            .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
            .collect()
    };
    let (a, b) = (values(m * k), values(k * n));
    let on = |data: &[f32], shape: [usize; 2]| {
        Tensor::<2>::from_data(TensorData::new(data.to_vec(), shape), &gpu.device)
    };
    let read = |t: Tensor<2>| t.into_data().try_to_vec::<f32>().unwrap();
    let rounded = read(match precision {
        Precision::Tf32Emulated => crate::precision::round_tf32(on(&a, [m, k])),
        _ => crate::precision::round_bf16(on(&a, [m, k])),
    });
    let (mask, half) = ((1u32 << dropped) - 1, 1u32 << (dropped - 1));
    let ties = a
        .iter()
        .zip(&rounded)
        .filter(|(x, y)| rounding.apply(**x) != **y)
        .inspect(|(x, _)| assert_eq!(x.to_bits() & mask, half, "{x:e} is no tie"))
        .count();
    assert!(ties <= 1, "{ties} ties");
    let got = read(precision.matmul(on(&a, [m, k]), on(&b, [k, n])));
    let mut want = vec![0f32; m * n];
    matmul(
        &mut want,
        MatRef::row_major(&a, m, k).unwrap(),
        MatRef::row_major(&b, k, n).unwrap(),
        false,
        rounding,
    )
    .unwrap();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 1e-5, "{precision} differs by {worst}");
}

#[test]
fn the_emulated_tf32_product_on_the_device_rounds_like_the_host() {
    emulated_product_on_the_device_rounds_like_the_host(Precision::Tf32Emulated, 13);
}

#[test]
fn the_emulated_bf16_product_on_the_device_rounds_like_the_host() {
    emulated_product_on_the_device_rounds_like_the_host(Precision::Bf16Emulated, 16);
}

#[test]
fn every_variant_reaches_the_same_test_mrr_as_flex() {
    if gpu().is_none() {
        return;
    }
    let split = random_split(30, 40, 25);
    let config = EvalConfig::default();
    for variant in GruVariant::ALL {
        let params = GruParams {
            epochs: 3,
            ..params()
        };
        let mrr = |backend| {
            let options = TrainOptions {
                backend,
                skip_validation: true,
                ..TrainOptions::default()
            };
            let fitted = fit(variant, &params, &split, 3, &options).unwrap();
            let report = evaluate(&fitted.scorer, &split, Part::Test, &config, None).unwrap();
            assert!(report.events > 20);
            report.get("mrr@20").unwrap()
        };
        let (cpu, gpu) = (mrr(Backend::Flex), mrr(GPU));
        eprintln!("{variant:?}: test MRR@20 flex {cpu:.6}, {GPU} {gpu:.6}");
        assert!((cpu - gpu).abs() <= 1e-3, "{variant:?}: {cpu} vs {gpu}");
    }
}

/// A run killed after epoch 1 on one backend finishes on the other: the
/// first epoch is the checkpoint's, the second matches an uninterrupted CPU
/// run, and the model scores the same loaded on either backend.
#[test]
fn a_checkpoint_written_on_one_backend_resumes_on_the_other() {
    if gpu().is_none() {
        return;
    }
    let split = random_split(20, 30, 25);
    let variant = GruVariant::AttentionalUserGru;
    let params = GruParams {
        epochs: 2,
        ..params()
    };
    let reference = fit(variant, &params, &split, 5, &TrainOptions::default()).unwrap();
    let config = EvalConfig::default();
    for (first, second) in [(Backend::Flex, GPU), (GPU, Backend::Flex)] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run.ckpt");
        let killed = TrainOptions {
            backend: first,
            checkpoint: Some(path.clone()),
            resume: true,
            stop_after_epochs: Some(1),
            ..TrainOptions::default()
        };
        let half = fit(variant, &params, &split, 5, &killed).unwrap();
        let resumed = fit(
            variant,
            &params,
            &split,
            5,
            &TrainOptions {
                backend: second,
                stop_after_epochs: None,
                ..killed
            },
        )
        .unwrap();
        assert_eq!(resumed.report.resumed_after, Some(1), "{first} → {second}");
        assert_eq!(resumed.report.history[0], half.report.history[0]);
        let (got, want) = (
            resumed.report.history[1].loss,
            reference.report.history[1].loss,
        );
        assert!(
            close(got, want, 1e-4),
            "{first} → {second}: {got} vs {want}"
        );
        // The finished checkpoint scores alike on both backends.
        let on = |backend| {
            let (scorer, _) = load_scorer(&path, backend, None, Precision::Tf32).unwrap();
            evaluate(&scorer, &split, Part::Test, &config, None)
                .unwrap()
                .get("mrr@20")
                .unwrap()
        };
        let (a, b) = (on(Backend::Flex), on(GPU));
        assert!((a - b).abs() <= 1e-3, "{first} → {second}: {a} vs {b}");
    }
}

#[test]
fn a_device_index_past_the_last_lists_the_devices() {
    let Some(gpu) = gpu() else { return };
    let past = gpu.info.available;
    let err = GPU.open(Some(past)).unwrap_err().to_string();
    assert!(err.contains(&format!("no device {past}")), "{err}");
    assert!(err.contains("0 = "), "{err}");
    // Device 0 explicitly is the default device.
    let first = GPU.open(Some(0)).unwrap();
    assert_eq!(first.info, gpu.info);
}

/// Ten fp32 training windows on the GPU, no validation, each seen by
/// `observer`.
fn ten_windows(elementwise: ElementWise, observer: WindowObserver) -> TrainOptions {
    TrainOptions {
        backend: GPU,
        precision: Precision::Fp32,
        elementwise,
        max_windows_per_epoch: Some(10),
        skip_validation: true,
        observer: Some(observer),
        ..TrainOptions::default()
    }
}

/// The fused stages on the device equal burn's composed ones: values and
/// the gradients of every input, strided projected inputs included.
#[test]
fn fused_stages_equal_the_composed_step_on_the_device() {
    let Some(opened) = gpu() else { return };
    crate::fused::tests::fused_equals_composed(&opened.device.autodiff(), 1e-5);
}

/// The fused Adam step equals burn's Adam on the device (values and
/// state, three steps, a matrix of many cubes and a bias).
#[test]
fn device_adam_equals_burns_adam_on_the_device() {
    let Some(opened) = gpu() else { return };
    crate::device_adam::tests::device_adam_equals_burns_adam(&opened.device, 1e-6);
}

/// The rectified filter's and the attention mix's kernels equal burn's
/// operations on the device, values and gradients.
#[test]
fn fused_third_stages_equal_the_composed_ones_on_the_device() {
    let Some(opened) = gpu() else { return };
    crate::fused::tests::third_stages_equal_composed(&opened.device.autodiff(), 1e-5);
}

/// Every variant's projected step with the fused kernels (and with burn's
/// operations) equals the plain step on the device: states and the
/// gradients of every weight.
#[test]
fn fused_projected_steps_equal_the_plain_step_on_the_device() {
    let Some(opened) = gpu() else { return };
    crate::cell::batched::tests::projected_steps_equal_the_plain_step(
        &opened.device.autodiff(),
        1e-5,
    );
}

/// Training windows with the fused stages equal composed ones window by
/// window (dropout masks, lane resets and padding included): losses and
/// gradient norms within 1e-5 relative, so every parameter moved alike.
#[test]
fn fused_windows_train_like_composed_ones() {
    let Some(_) = gpu() else { return };
    let split = random_split(30, 40, 25);
    let records = |variant: GruVariant, elementwise: ElementWise| {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let options = ten_windows(
            elementwise,
            WindowObserver::new(move |w| {
                sink.lock().unwrap().push((w.loss, w.grad_norm));
            }),
        );
        fit(variant, &params(), &split, 3, &options).unwrap();
        seen.lock().unwrap().clone()
    };
    for variant in GruVariant::ALL {
        let fused = records(variant, ElementWise::Fused);
        let composed = records(variant, ElementWise::Composed);
        assert_eq!(fused.len(), 10, "{variant:?}");
        for (w, ((a, ga), (b, gb))) in composed.iter().zip(&fused).enumerate() {
            assert!(
                close(f64::from(*a), f64::from(*b), 1e-5) && close(*ga, *gb, 1e-5),
                "{variant:?} window {}: composed loss {a}, norm {ga}; fused {b}, {gb}",
                w + 1
            );
        }
    }
}

mod launches;
