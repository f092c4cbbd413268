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
    let err = Precision::parse("bf16").unwrap_err().to_string();
    assert!(err.contains("bf16") && err.contains("fp32, tf32"), "{err}");
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

/// The tensor rounding (Veltkamp's split, float operations only) agrees
/// with the host's bit rounding; at an exact tie either neighbour is right.
#[test]
fn tensor_rounding_to_tf32_equals_the_host_rounding() {
    use crate::host_matmul::round_tf32 as host_round;
    let device = Device::flex();
    let mut rng = seqrec_core::SeqRng::new(11);
    let mut values: Vec<f32> = (0..4000)
        .map(|i| {
            let x = (rng.next_f64() * 2.0 - 1.0) as f32;
            x * 10f32.powi(i % 9 - 4)
        })
        .collect();
    // Hand-picked: a tie (1 + half a TF32 step), just above and below it,
    // a negative, zero, a tiny normal.
    let step = 2f32.powi(-10);
    values.extend([1.0 + 0.5 * step, 1.0 + 0.500_1 * step, 1.0 + 0.499_9 * step]);
    values.extend([-std::f32::consts::PI, 0.0, 1e-30]);
    let got = floats(round_tf32(tensor(1, values.len(), &values, &device)));
    let mut ties = 0;
    for (&x, &y) in values.iter().zip(&got) {
        let want = host_round(x);
        if y != want {
            // Only a tie may differ, and then to its other neighbour.
            let tie = x.to_bits() & 0x1FFF == 0x1000;
            assert!(tie, "{x:e}: tensor {y:e}, host {want:e}");
            assert_eq!(host_round(y), y, "{x:e}: {y:e} is no TF32 value");
            ties += 1;
        }
        assert_eq!(
            host_round(y),
            y,
            "{x:e} → {y:e} has more than 10 mantissa bits"
        );
    }
    assert!(ties <= 2, "{ties} ties differ");
    assert_eq!(host_round(1.0 + 0.500_1 * step), 1.0 + step);
}

/// Emulated TF32 on a CPU backend: the product of the rounded operands
/// (as the host kernels compute it), not the exact product.
#[test]
fn the_emulated_product_multiplies_tf32_operands() {
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
        OperandRounding::Tf32,
    )
    .unwrap();
    let emulated = product(Precision::Tf32Emulated);
    let exact = product(Precision::Fp32);
    let gap = |x: &[f32], y: &[f32]| {
        x.iter()
            .zip(y)
            .map(|(p, q)| (p - q).abs())
            .fold(0f32, f32::max)
    };
    // Same operands, sums in another order: fp32 rounding apart.
    assert!(gap(&emulated, &host) < 1e-6, "{}", gap(&emulated, &host));
    // TF32's operand error is ~2⁻¹¹ relative: far above fp32's.
    let tf32_gap = gap(&emulated, &exact);
    assert!(tf32_gap > 1e-5 && tf32_gap < 1e-2, "{tf32_gap}");
}
