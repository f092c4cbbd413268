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
