//! Cell tests at n = 2 (or 3) with fixed weights; the expected values are
//! worked out by hand below, in f64, independently of burn.

use super::*;
use burn::module::Param;

fn device() -> Device {
    Device::flex()
}

fn sig(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// Sets a linear map y = x W + b (W is `[inputs][outputs]`).
fn set(layer: &mut Linear, w: &[&[f32]], b: &[f32]) {
    let rows: Vec<f32> = w.iter().flat_map(|r| r.iter().copied()).collect();
    let shape = [w.len(), w[0].len()];
    layer.weight = Param::from_tensor(Tensor::<2>::from_data(
        burn::tensor::TensorData::new(rows, shape),
        &device(),
    ));
    layer.bias = Some(Param::from_tensor(Tensor::<1>::from_floats(b, &device())));
}

fn row(values: &[f32]) -> Tensor<2> {
    Tensor::<2>::from_data(
        burn::tensor::TensorData::new(values.to_vec(), [1, values.len()]),
        &device(),
    )
}

fn values(t: Tensor<2>) -> Vec<f64> {
    t.into_data()
        .try_to_vec::<f32>()
        .unwrap()
        .into_iter()
        .map(f64::from)
        .collect()
}

fn close(got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert!((g - w).abs() < 1e-6, "got {got:?}, want {want:?}");
    }
}

const H: [f32; 2] = [0.5, -0.5];
const E_I: [f32; 2] = [1.0, 0.0];
const E_V: [f32; 2] = [0.2, -0.4];
const I2: [&[f32]; 2] = [&[1.0, 0.0], &[0.0, 1.0]];

/// Gates shared by the tests: u1 = σ(2 h1) = σ(1), u2 = σ(x1) = σ(1) for x1 = 1,
/// r1 = σ(ln 3) = 0.75, r2 = σ(0) = 0.5 (plus 5 v1 when a user input exists).
fn set_gates(cell: &mut GruCell, with_user: bool) {
    let mut w: Vec<&[f32]> = vec![
        &[2.0, 0.0, 0.0, 0.0],
        &[0.0; 4],
        &[0.0, 1.0, 0.0, 0.0],
        &[0.0; 4],
    ];
    if with_user {
        w.push(&[0.0, 0.0, 0.0, 5.0]);
        w.push(&[0.0; 4]);
    }
    set(&mut cell.gates, &w, &[0.0, 0.0, 3f32.ln(), 0.0]);
    set(&mut cell.candidate_hidden, &I2, &[0.0, 0.0]);
    set(
        &mut cell.candidate_item,
        &[&[0.5, 0.0], &[0.0, 0.5]],
        &[0.1, 0.0],
    );
    if let Some(user) = cell.candidate_user.as_mut() {
        set(user, &I2, &[0.0, 0.3]);
    }
}

#[test]
fn standard_gru_step_by_hand() {
    let mut cell = GruCellConfig::new(2).init(&device());
    set_gates(&mut cell, false);
    let out = values(cell.forward(row(&H), row(&E_I), row(&E_V)));
    // u = (σ(1), σ(1)); r = (0.75, 0.5)
    // k = tanh(r*h + 0.5 e_i + (0.1, 0)) = tanh(0.375 + 0.6, -0.25 + 0) = tanh(0.975, -0.25)
    let u = sig(1.0);
    let k = [0.975f64.tanh(), (-0.25f64).tanh()];
    // h' = (1 - u) h + u k
    close(
        &out,
        &[(1.0 - u) * 0.5 + u * k[0], (1.0 - u) * -0.5 + u * k[1]],
    );
}

#[test]
fn linear_user_gru_step_by_hand() {
    let mut cell = GruCellConfig::new(2)
        .with_integration(UserIntegration::Linear)
        .init(&device());
    set_gates(&mut cell, true);
    let out = values(cell.forward(row(&H), row(&E_I), row(&E_V)));
    // r2 = σ(5 v1) = σ(1) now; candidate adds T(e_v) = e_v + (0, 0.3) = (0.2, -0.1).
    let u = sig(1.0);
    let r = [0.75, sig(1.0)];
    let k = [
        (r[0] * 0.5 + 0.6 + 0.2).tanh(),
        (r[1] * -0.5 + 0.0 - 0.1).tanh(),
    ];
    close(
        &out,
        &[(1.0 - u) * 0.5 + u * k[0], (1.0 - u) * -0.5 + u * k[1]],
    );
}

#[test]
fn rectified_filter_has_three_regions() {
    let mut cell = GruCellConfig::new(3)
        .with_integration(UserIntegration::Rectified)
        .init(&device());
    // κ1 = 0 and κ2 = 0.5 everywhere (weights 0, biases set).
    let zeros: Vec<&[f32]> = vec![&[0.0; 6]; 9];
    set(
        cell.thresholds.as_mut().unwrap(),
        &zeros,
        &[0.0, 0.0, 0.0, 0.5, 0.5, 0.5],
    );
    let h = row(&[0.3, 0.3, 0.3]);
    let f = values(cell.rectify(h.clone(), h.clone(), row(&[-0.5, 0.2, 0.9])));
    // below κ1 -> 0; between -> ω e_v = 0.2 * 0.2; above κ2 -> e_v.
    close(&f, &[0.0, 0.04, 0.9]);
    // The soft option is a smooth version: close to the hard values far from the thresholds.
    let soft = GruCellConfig::new(3)
        .with_integration(UserIntegration::Rectified)
        .with_threshold(Threshold::Soft)
        .with_temperature(0.01)
        .init(&device());
    let mut soft = soft;
    set(
        soft.thresholds.as_mut().unwrap(),
        &zeros,
        &[0.0, 0.0, 0.0, 0.5, 0.5, 0.5],
    );
    let f = values(soft.rectify(h.clone(), h, row(&[-0.5, 0.2, 0.9])));
    close(
        &f.iter()
            .map(|x| (x * 1e4).round() / 1e4)
            .collect::<Vec<_>>(),
        &[0.0, 0.04, 0.9],
    );
}

#[test]
fn rectified_user_gru_step_by_hand() {
    let mut cell = GruCellConfig::new(2)
        .with_integration(UserIntegration::Rectified)
        .init(&device());
    set_gates(&mut cell, true);
    // κ1 = (0, -1), κ2 = (0.5, -0.5): e_v = (0.2, -0.4) gives f = (0.2 * 0.2, -0.4).
    let zeros: Vec<&[f32]> = vec![&[0.0; 4]; 6];
    set(
        cell.thresholds.as_mut().unwrap(),
        &zeros,
        &[0.0, -1.0, 0.5, -0.5],
    );
    let out = values(cell.forward(row(&H), row(&E_I), row(&E_V)));
    let f = [0.04, -0.4];
    // f replaces e_v in the gates (r2 = σ(5 f1) = σ(0.2)) and in the candidate.
    let u = sig(1.0);
    let r = [0.75, sig(5.0 * f[0])];
    let k = [
        (r[0] * 0.5 + 0.6 + f[0]).tanh(),
        (r[1] * -0.5 + 0.0 + f[1] + 0.3).tanh(),
    ];
    close(
        &out,
        &[(1.0 - u) * 0.5 + u * k[0], (1.0 - u) * -0.5 + u * k[1]],
    );
}

#[test]
fn attentional_user_gru_step_by_hand() {
    let mut cell = GruCellConfig::new(2)
        .with_integration(UserIntegration::Attentional)
        .init(&device());
    set_gates(&mut cell, true);
    // ξ = σ(T(h) + T(e_i) + T(e_v)) with zero weights and biases (ln 3, 0), 0, 0: ξ = (0.75, 0.5).
    let zeros: [&[f32]; 2] = [&[0.0, 0.0], &[0.0, 0.0]];
    set(
        cell.attention_hidden.as_mut().unwrap(),
        &zeros,
        &[3f32.ln(), 0.0],
    );
    set(cell.attention_item.as_mut().unwrap(), &zeros, &[0.0, 0.0]);
    set(cell.attention_user.as_mut().unwrap(), &zeros, &[0.0, 0.0]);
    let out = values(cell.forward(row(&H), row(&E_I), row(&E_V)));
    // a_i = (1 - ξ) e_i = (0.25, 0); a_v = ξ e_v = (0.15, -0.2).
    let (a_i, a_v) = ([0.25, 0.0], [0.15, -0.2]);
    // Gates see (h, a_i, a_v): u1 = σ(2 h1) = σ(1), u2 = σ(a_i1) = σ(0.25),
    // r1 = 0.75, r2 = σ(5 a_v1) = σ(0.75).
    let u = [sig(1.0), sig(a_i[0])];
    let r = [0.75, sig(5.0 * a_v[0])];
    let k = [
        (r[0] * 0.5 + 0.5 * a_i[0] + 0.1 + a_v[0]).tanh(),
        (r[1] * -0.5 + 0.5 * a_i[1] + a_v[1] + 0.3).tanh(),
    ];
    close(
        &out,
        &[
            (1.0 - u[0]) * 0.5 + u[0] * k[0],
            (1.0 - u[1]) * -0.5 + u[1] * k[1],
        ],
    );
}

#[test]
fn attention_starts_near_one_half() {
    let n = 100;
    let cell = GruCellConfig::new(n)
        .with_integration(UserIntegration::Attentional)
        .init(&device());
    let input = || {
        Tensor::<2>::random(
            [8, n],
            burn::tensor::Distribution::Uniform(-0.1, 0.1),
            &device(),
        )
    };
    let xi = values(cell.attention(input(), input(), input()));
    // Weights and biases in [-0.01, 0.01], inputs in [-0.1, 0.1]: |pre-activation| <= 3 (0.01 + 100 * 0.001) = 0.33 at worst.
    assert!(xi.iter().all(|x| (x - 0.5).abs() < 0.08), "{xi:?}");
    let mean = xi.iter().sum::<f64>() / xi.len() as f64;
    assert!((mean - 0.5).abs() < 0.01, "{mean}");
}
