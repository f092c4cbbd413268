#![allow(clippy::unwrap_used)]

use super::*;
use burn::tensor::{Device, TensorData};

fn floats(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec::<f32>().unwrap()
}

fn tensor(rows: usize, cols: usize, values: &[f32], device: &Device) -> Tensor<2> {
    Tensor::from_data(TensorData::new(values.to_vec(), [rows, cols]), device)
}

#[test]
fn names_parse_back_and_unknown_ones_list_the_choices() {
    for p in Precision::ALL {
        assert_eq!(Precision::parse(p.name()).unwrap(), p);
        assert_eq!(p.to_string(), p.name());
    }
    let err = Precision::parse("fp16").unwrap_err().to_string();
    assert!(
        err.contains("fp16") && err.contains("fp32, tf32") && err.contains("bf16-emulated"),
        "{err}"
    );
    assert_eq!(Precision::default(), Precision::Tf32);
}

#[test]
fn tf32_is_effective_only_where_the_device_has_it() {
    assert_eq!(Precision::Tf32.effective(true), Precision::Tf32);
    assert_eq!(Precision::Tf32.effective(false), Precision::Fp32);
    assert_eq!(Precision::Fp32.effective(true), Precision::Fp32);
    assert_eq!(Precision::Fp32.effective(false), Precision::Fp32);
}

/// A hand-worked product: [[1, 2], [3, 4]] · [[5, 6, 7], [8, 9, 10]].
#[test]
fn the_fp32_product_of_a_small_matrix_is_exact_on_the_cpu_backends() {
    #[allow(deprecated)]
    for device in [Device::flex(), Device::ndarray()] {
        let a = tensor(2, 2, &[1., 2., 3., 4.], &device);
        let b = tensor(2, 3, &[5., 6., 7., 8., 9., 10.], &device);
        let want = [21., 24., 27., 47., 54., 61.];
        assert_eq!(floats(Precision::Fp32.matmul(a.clone(), b.clone())), want);
        assert_eq!(floats(Precision::Tf32.matmul(a.clone(), b.clone())), want);
        // A transposed (strided) operand: bᵀᵀ = b.
        let bt = tensor(3, 2, &[5., 8., 6., 9., 7., 10.], &device).transpose();
        assert_eq!(floats(Precision::Fp32.matmul(a, bt)), want);
    }
}

/// Under autodiff both operands get the gradients of a plain product:
/// for L = Σ c ⊙ (a · b), ∂L/∂a = c · bᵀ and ∂L/∂b = aᵀ · c.
#[test]
fn the_fp32_product_has_the_gradients_of_the_plain_one() {
    let device = Device::flex().autodiff();
    let a = tensor(2, 2, &[1., -2., 0.5, 4.], &device).require_grad();
    let b = tensor(2, 3, &[0.25, 6., -7., 8., 1., 3.], &device).require_grad();
    let c = tensor(2, 3, &[1., 0., -1., 2., 0.5, 1.], &device);
    let grads = (Precision::Fp32.matmul(a.clone(), b.clone()) * c)
        .sum()
        .backward();
    // c · bᵀ: rows of c against rows of b.
    let want_a = [0.25 + 7., 8. - 3., 0.5 + 3. - 7., 16. + 0.5 + 3.];
    // aᵀ · c.
    let want_b = [1. + 1., 0. + 0.25, -1. + 0.5, -2. + 8., 0. + 2., 2. + 4.];
    assert_eq!(floats(a.grad(&grads).unwrap()), want_a);
    assert_eq!(floats(b.grad(&grads).unwrap()), want_b);

    // Only one side tracked: the other keeps no gradient.
    let a = tensor(2, 2, &[1., -2., 0.5, 4.], &device).require_grad();
    let b = tensor(2, 3, &[0.25, 6., -7., 8., 1., 3.], &device);
    let grads = Precision::Fp32
        .matmul(a.clone(), b.clone())
        .sum()
        .backward();
    assert!(b.grad(&grads).is_none());
    assert_eq!(
        floats(a.grad(&grads).unwrap()),
        [0.25 + 6. - 7., 8. + 1. + 3., 0.25 + 6. - 7., 8. + 1. + 3.]
    );
}

#[test]
fn the_emulation_is_effective_everywhere_and_changes_cpu_results() {
    assert_eq!(
        Precision::Tf32Emulated.effective(true),
        Precision::Tf32Emulated
    );
    assert_eq!(
        Precision::Tf32Emulated.effective(false),
        Precision::Tf32Emulated
    );
    assert!(Precision::Tf32Emulated.differs_from_default(true));
    assert!(!Precision::Fp32.differs_from_default(true));
    assert!(Precision::Fp32.differs_from_default(false));
    assert!(!Precision::Tf32.differs_from_default(false));
    assert_eq!(
        Precision::Tf32Emulated.host_rounding(),
        OperandRounding::Tf32
    );
    assert_eq!(Precision::Tf32.host_rounding(), OperandRounding::Exact);
    assert_eq!(
        toml::from_str::<std::collections::BTreeMap<String, Precision>>("p = \"tf32-emulated\"")
            .unwrap()["p"],
        Precision::Tf32Emulated
    );
}

#[test]
fn bf16_runs_on_cuda_only_and_its_emulation_everywhere() {
    use crate::Backend;
    for backend in Backend::ALL {
        assert_eq!(
            Precision::Bf16.check_backend(backend).is_ok(),
            backend == Backend::Cuda,
            "{backend}"
        );
        for p in [Precision::Fp32, Precision::Tf32, Precision::Tf32Emulated] {
            assert!(p.check_backend(backend).is_ok(), "{p} on {backend}");
        }
        assert!(Precision::Bf16Emulated.check_backend(backend).is_ok());
    }
    let message = Precision::Bf16
        .check_backend(Backend::Wgpu)
        .unwrap_err()
        .to_string();
    assert!(
        message.contains("`bf16`")
            && message.contains("cuda")
            && message.contains("`wgpu`")
            && message.contains("bf16-emulated"),
        "{message}"
    );
    for p in [Precision::Bf16, Precision::Bf16Emulated] {
        assert_eq!(p.effective(true), p);
        assert_eq!(p.effective(false), p);
        assert!(p.differs_from_default(true) && p.worth_naming(true));
        assert_eq!(p.host_rounding(), OperandRounding::Bf16);
    }
    assert!(!Precision::Fp32.worth_naming(true) && Precision::Fp32.worth_naming(false));
    assert_eq!(
        toml::from_str::<std::collections::BTreeMap<String, Precision>>("p = \"bf16-emulated\"")
            .unwrap()["p"],
        Precision::Bf16Emulated
    );
}

/// Random values over many magnitudes, ties of a format dropping `dropped`
/// mantissa bits and their neighbours, a negative, zero, a tiny normal.
fn rounding_probes(dropped: u32) -> Vec<f32> {
    let mut rng = seqrec_core::SeqRng::new(11);
    let mut values: Vec<f32> = (0..4000)
        .map(|i| {
            let x = (rng.next_f64() * 2.0 - 1.0) as f32;
            x * 10f32.powi(i % 9 - 4)
        })
        .collect();
    let step = 2f32.powi(dropped as i32 - 23);
    values.extend([1.0 + 0.5 * step, 1.0 + 0.500_1 * step, 1.0 + 0.499_9 * step]);
    values.extend([-std::f32::consts::PI, 0.0, 1e-30]);
    values
}

/// The tensor rounding (Veltkamp's split, float operations only) agrees
/// with the host's bit rounding; at an exact tie either neighbour is right.
fn tensor_rounding_equals_host_rounding(
    tensor_round: fn(Tensor<2>) -> Tensor<2>,
    host_round: fn(f32) -> f32,
    dropped: u32,
) {
    let device = Device::flex();
    let values = rounding_probes(dropped);
    let got = floats(tensor_round(tensor(1, values.len(), &values, &device)));
    let (mask, half) = ((1u32 << dropped) - 1, 1u32 << (dropped - 1));
    let mut ties = 0;
    for (&x, &y) in values.iter().zip(&got) {
        let want = host_round(x);
        if y != want {
            // Only a tie may differ, and then to its other neighbour.
            let tie = x.to_bits() & mask == half;
            assert!(tie, "{x:e}: tensor {y:e}, host {want:e}");
            assert_eq!(host_round(y), y, "{x:e}: {y:e} has too many bits");
            ties += 1;
        }
        assert_eq!(host_round(y), y, "{x:e} → {y:e} has too many mantissa bits");
    }
    assert!(ties <= 2, "{ties} ties differ");
    let step = 2f32.powi(dropped as i32 - 23);
    assert_eq!(host_round(1.0 + 0.500_1 * step), 1.0 + step);
}

#[test]
fn tensor_rounding_to_tf32_equals_the_host_rounding() {
    tensor_rounding_equals_host_rounding(round_tf32, crate::host_matmul::round_tf32, 13);
}

#[test]
fn tensor_rounding_to_bf16_equals_the_host_rounding() {
    tensor_rounding_equals_host_rounding(round_bf16, crate::host_matmul::round_bf16, 16);
}

/// An emulated precision on a CPU backend: the product of the rounded
/// operands (as the host kernels compute it), not the exact product; the
/// gap to fp32 lies in `expected_gap` (the format's operand error).
fn emulated_product_multiplies_rounded_operands(
    precision: Precision,
    expected_gap: std::ops::Range<f32>,
) -> Vec<f32> {
    use crate::host_matmul::{MatRef, matmul};
    let device = Device::flex();
    let mut rng = seqrec_core::SeqRng::new(3);
    let (m, k, n) = (9, 40, 13);
    let a: Vec<f32> = (0..m * k).map(|_| rng.next_f64() as f32 - 0.5).collect();
    let b: Vec<f32> = (0..k * n).map(|_| rng.next_f64() as f32 - 0.5).collect();
    let product =
        |p: Precision| floats(p.matmul(tensor(m, k, &a, &device), tensor(k, n, &b, &device)));
    let mut host = vec![0f32; m * n];
    matmul(
        &mut host,
        MatRef::row_major(&a, m, k).unwrap(),
        MatRef::row_major(&b, k, n).unwrap(),
        false,
        precision.host_rounding(),
    )
    .unwrap();
    let emulated = product(precision);
    let exact = product(Precision::Fp32);
    // Same operands, sums in another order: fp32 rounding apart.
    assert!(gap(&emulated, &host) < 1e-6, "{}", gap(&emulated, &host));
    let format_gap = gap(&emulated, &exact);
    assert!(
        expected_gap.contains(&format_gap),
        "{precision}: {format_gap}"
    );
    emulated
}

fn gap(x: &[f32], y: &[f32]) -> f32 {
    x.iter()
        .zip(y)
        .map(|(p, q)| (p - q).abs())
        .fold(0f32, f32::max)
}

/// TF32's operand error is ~2⁻¹¹ relative: far above fp32's.
#[test]
fn the_emulated_product_multiplies_tf32_operands() {
    emulated_product_multiplies_rounded_operands(Precision::Tf32Emulated, 1e-5..1e-2);
}

/// bf16's operand error is ~2⁻⁹ relative, eight times TF32's; `bf16` on a
/// CPU backend (reached only past `check_backend`) computes the same.
#[test]
fn the_emulated_product_multiplies_bf16_operands() {
    let tf32 = emulated_product_multiplies_rounded_operands(Precision::Tf32Emulated, 1e-5..1e-2);
    let bf16 = emulated_product_multiplies_rounded_operands(Precision::Bf16Emulated, 1e-4..5e-2);
    let exact = {
        let device = Device::flex();
        let mut rng = seqrec_core::SeqRng::new(3);
        let a: Vec<f32> = (0..9 * 40).map(|_| rng.next_f64() as f32 - 0.5).collect();
        let b: Vec<f32> = (0..40 * 13).map(|_| rng.next_f64() as f32 - 0.5).collect();
        let run = |p: Precision| {
            floats(p.matmul(tensor(9, 40, &a, &device), tensor(40, 13, &b, &device)))
        };
        assert!(gap(&run(Precision::Bf16), &bf16) < 1e-6);
        run(Precision::Fp32)
    };
    assert!(gap(&bf16, &exact) > 2.0 * gap(&tf32, &exact));
}
