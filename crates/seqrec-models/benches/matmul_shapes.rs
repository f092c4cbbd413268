//! GFLOP/s of the matrix products one training window does, in the kernels
//! seqrec uses on the CPU: burn `flex`'s matmul (the recurrence; a tensor
//! product read back to the host), the `gemm` crate on host slices
//! (`host_matmul`, the output layer) and, for comparison, `matrixmultiply`
//! (the output layer's kernel before). The same shapes in PyTorch:
//! `benches/torch_matmul_shapes.py`. What it showed is in the book ("GRU
//! training and evaluation on the CPU").
//!
//! ```text
//! RAYON_NUM_THREADS=1 cargo bench -p seqrec-models --bench matmul_shapes -- hidden=1000 lanes=100
//! ```

#![allow(clippy::print_stdout, clippy::unwrap_used)] // A command-line measurement.

use burn::tensor::{Device, Tensor, TensorData};
use ndarray::Array2;
use ndarray::linalg::general_mat_mul;
use seqrec_models::host_matmul::{MatRef, OperandRounding, matmul, matmul_parallel};
use std::time::Instant;

fn arg(name: &str, default: usize) -> usize {
    std::env::args()
        .skip(1)
        .find_map(|a| a.strip_prefix(&format!("{name}=")).map(|v| v.parse().ok()))
        .flatten()
        .unwrap_or(default)
}

/// The best of `repeats` timings of `f`, in seconds.
fn best(repeats: usize, mut f: impl FnMut()) -> f64 {
    (0..repeats)
        .map(|_| {
            let started = Instant::now();
            f();
            started.elapsed().as_secs_f64()
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() {
    let (hidden, lanes, items) = (arg("hidden", 1000), arg("lanes", 100), arg("items", 8917));
    let rows = lanes * 20;
    let repeats = arg("repeats", 3);
    // (what, m, k, n) of C[m × n] = A[m × k] B[k × n].
    let shapes = [
        ("step: h W_h (forward, per step)", lanes, hidden, 2 * hidden),
        (
            "step: h-side dW (backward, per step)",
            hidden,
            lanes,
            2 * hidden,
        ),
        (
            "window: inputs (all steps at once)",
            rows,
            hidden,
            3 * hidden,
        ),
        (
            "window: input dW (all steps at once)",
            hidden,
            rows,
            3 * hidden,
        ),
        ("output: logits H W", rows, hidden, items),
        ("output: dH = G Wᵀ", rows, items, hidden),
        ("output: dWᵀ = Gᵀ H", items, rows, hidden),
    ];
    let device = Device::flex();
    println!(
        "| product | m × k × n | flex tensor GFLOP/s | gemm (host) GFLOP/s | matrixmultiply GFLOP/s |"
    );
    println!("|---|---|---|---|---|");
    for (what, m, k, n) in shapes {
        let a = Array2::<f32>::from_shape_fn((m, k), |(i, j)| ((i * 7 + j * 3) % 13) as f32 * 0.01);
        let b =
            Array2::<f32>::from_shape_fn((k, n), |(i, j)| ((i * 5 + j * 11) % 17) as f32 * 0.01);
        let mut c = Array2::<f32>::zeros((m, n));
        let flops = 2.0 * (m * k * n) as f64;
        let ta: Tensor<2> = Tensor::from_data(
            TensorData::new(a.iter().copied().collect(), [m, k]),
            &device,
        );
        let tb: Tensor<2> = Tensor::from_data(
            TensorData::new(b.iter().copied().collect(), [k, n]),
            &device,
        );
        let flex = best(repeats, || {
            // Reading the result forces the product (and counts its copy out).
            let _ = ta.clone().matmul(tb.clone()).into_data();
        });
        let (a_host, b_host) = (a.as_slice().unwrap(), b.as_slice().unwrap());
        let mut c_host = vec![0f32; m * n];
        let gemm = best(repeats, || {
            let (a, b) = (
                MatRef::row_major(a_host, m, k).unwrap(),
                MatRef::row_major(b_host, k, n).unwrap(),
            );
            matmul(&mut c_host, a, b, false, OperandRounding::Exact).unwrap();
        });
        let mm = best(repeats, || general_mat_mul(1.0, &a, &b, 0.0, &mut c));
        println!(
            "| {what} | {m} × {k} × {n} | {:.1} | {:.1} | {:.1} |",
            flops / flex / 1e9,
            flops / gemm / 1e9,
            flops / mm / 1e9
        );
    }
    packing(hidden, lanes, repeats.max(20));
}

/// The recurrence's per-step products as `gemm` sees them: it repacks a
/// weight that is not stored column-contiguous with a multiple of the SIMD
/// width as its row count, on every call. Padding the weight's columns (and
/// storing its transpose for the backward products) avoids that.
fn packing(n: usize, lanes: usize, repeats: usize) {
    let padded = n.next_multiple_of(16);
    let fill = |len: usize, seed: usize| -> Vec<f32> {
        (0..len)
            .map(|i| ((i * 7 + seed) % 13) as f32 * 0.01)
            .collect()
    };
    println!();
    println!(
        "| per-step product (gemm on rayon's threads) | as stored | padded to {padded} columns |"
    );
    println!("|---|---|---|");
    // Forward: (r ⊙ h) · T with T [n × n].
    let a = fill(lanes * n, 1);
    let w = fill(n * n, 2);
    let mut w_pad = vec![0f32; n * padded];
    for (row, src) in w_pad.chunks_exact_mut(padded).zip(w.chunks_exact(n)) {
        row[..n].copy_from_slice(src);
    }
    let mut c = vec![0f32; lanes * padded];
    let flops = 2.0 * (lanes * n * n) as f64;
    let plain = best(repeats, || {
        let a = MatRef::row_major(&a, lanes, n).unwrap();
        let b = MatRef::row_major(&w, n, n).unwrap();
        matmul_parallel(&mut c[..lanes * n], a, b, false, OperandRounding::Exact).unwrap();
    });
    let pad = best(repeats, || {
        let a = MatRef::row_major(&a, lanes, n).unwrap();
        let b = MatRef::row_major(&w_pad, n, padded).unwrap();
        matmul_parallel(&mut c, a, b, false, OperandRounding::Exact).unwrap();
    });
    println!(
        "| forward (r ⊙ h) T, {lanes} × {n} × {n} | {:.1} GFLOP/s | {:.1} GFLOP/s |",
        flops / plain / 1e9,
        flops / pad / 1e9
    );
    // Backward: ∂a · W_hᵀ with W_h [n × 2n]; padded: Wᵀ stored [2n × padded].
    let d = fill(lanes * 2 * n, 3);
    let wh = fill(n * 2 * n, 4);
    let mut wt = vec![0f32; 2 * n * padded];
    for i in 0..n {
        for g in 0..2 * n {
            wt[g * padded + i] = wh[i * 2 * n + g];
        }
    }
    let flops = 2.0 * (lanes * 2 * n * n) as f64;
    let plain = best(repeats, || {
        let a = MatRef::row_major(&d, lanes, 2 * n).unwrap();
        let b = MatRef::row_major(&wh, n, 2 * n).unwrap().t();
        matmul_parallel(&mut c[..lanes * n], a, b, false, OperandRounding::Exact).unwrap();
    });
    let pad = best(repeats, || {
        let a = MatRef::row_major(&d, lanes, 2 * n).unwrap();
        let b = MatRef::row_major(&wt, 2 * n, padded).unwrap();
        matmul_parallel(&mut c, a, b, false, OperandRounding::Exact).unwrap();
    });
    println!(
        "| backward ∂a W_hᵀ, {lanes} × {} × {n} | {:.1} GFLOP/s | {:.1} GFLOP/s |",
        2 * n,
        flops / plain / 1e9,
        flops / pad / 1e9
    );
}
