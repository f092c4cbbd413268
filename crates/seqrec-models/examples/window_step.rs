//! Throughput of one truncated-BPTT training window of a (user-based) GRU:
//! B lanes × 20 steps forward, full-softmax cross-entropy, backward, Adam.
//! A measurement tool for backends, not the training loop of the project.
//!
//! ```text
//! cargo run -p seqrec-models --example window_step -- device=flex hidden=100 lanes=100 items=9000 windows=5
//! cargo run -p seqrec-models --features vulkan --example window_step -- device=vulkan hidden=1000 lanes=1000 items=10677
//! ```

#![allow(clippy::print_stdout, clippy::unwrap_used)] // A command-line measurement.

use burn::module::{Module, Param};
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Int, Tensor, TensorData};
use seqrec_core::SeqRng;
use seqrec_models::{GruCell, GruCellConfig, UserIntegration};
use std::time::Instant;

const STEPS: usize = 20;

#[derive(Module, Debug)]
struct WindowModel {
    items: Param<Tensor<2>>,
    users: Param<Tensor<2>>,
    cell: GruCell,
    output: Linear,
}

fn arg<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::args()
        .skip(1)
        .find_map(|a| a.strip_prefix(&format!("{name}=")).map(|v| v.parse().ok()))
        .flatten()
        .unwrap_or(default)
}

#[allow(deprecated)] // ndarray is deprecated in burn 0.22 but is the backend the project was asked for.
fn device(name: &str) -> Device {
    match name {
        "flex" => Device::flex(),
        "ndarray" => Device::ndarray(),
        #[cfg(feature = "cuda")]
        "cuda" => Device::cuda(0),
        #[cfg(feature = "vulkan")]
        "vulkan" => Device::vulkan(burn::tensor::DeviceKind::DiscreteGpu(0)),
        #[cfg(feature = "vulkan")]
        "vulkan-default" => Device::vulkan(burn::tensor::DeviceKind::DefaultDevice),
        #[cfg(feature = "vulkan")]
        "wgpu-default" => Device::wgpu(burn::tensor::DeviceKind::DefaultDevice),
        other => {
            panic!("unknown device `{other}` (flex, ndarray; cuda or vulkan with those features)")
        }
    }
}

fn ints(values: Vec<i64>, device: &Device) -> Tensor<1, Int> {
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

fn main() {
    let device_name: String = arg("device", "flex".to_string());
    let hidden: usize = arg("hidden", 100);
    let lanes: usize = arg("lanes", 100);
    let items: usize = arg("items", 9000);
    let users: usize = arg("users", 600);
    let windows: usize = arg("windows", 5);
    let integration = match arg("integration", "attentional".to_string()).as_str() {
        "none" => UserIntegration::None,
        "linear" => UserIntegration::Linear,
        "rectified" => UserIntegration::Rectified,
        _ => UserIntegration::Attentional,
    };
    let device = device(&device_name).autodiff();
    device.seed(1);
    let uniform = Initializer::Uniform {
        min: -0.1,
        max: 0.1,
    };
    let mut model = WindowModel {
        items: uniform.init([items, hidden], &device),
        users: uniform.init([users, hidden], &device),
        cell: GruCellConfig::new(hidden)
            .with_integration(integration)
            .init(&device),
        output: LinearConfig::new(hidden, items)
            .with_initializer(uniform.clone())
            .init(&device),
    };
    let mut optim = AdamConfig::new().with_epsilon(1e-8).init();
    let mut rng = SeqRng::new(7);
    let mut timings = Vec::new();
    for window in 0..=windows {
        let sequence: Vec<Vec<i64>> = (0..=STEPS)
            .map(|_| (0..lanes).map(|_| rng.index(items) as i64).collect())
            .collect();
        let lane_users = ints(
            (0..lanes).map(|_| rng.index(users) as i64).collect(),
            &device,
        );
        let started = Instant::now();
        let e_v = model.users.val().select(0, lane_users);
        let mut h = Tensor::<2>::zeros([lanes, hidden], &device);
        let mut states = Vec::with_capacity(STEPS);
        for step in &sequence[..STEPS] {
            let e_i = model.items.val().select(0, ints(step.clone(), &device));
            h = model.cell.forward(h, e_i, e_v.clone());
            states.push(h.clone());
        }
        let logits = model.output.forward(Tensor::cat(states, 0));
        let targets: Vec<i64> = sequence[1..].iter().flatten().copied().collect();
        let targets = ints(targets, &device).reshape([STEPS * lanes, 1]);
        let loss = log_softmax(logits, 1).gather(1, targets).neg().mean();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(1e-3, model, grads);
        let value: f32 = loss.into_data().try_to_vec::<f32>().unwrap()[0];
        let seconds = started.elapsed().as_secs_f64();
        // Window 0 warms up (allocations, kernel compilation) and is not counted.
        if window > 0 {
            timings.push(seconds);
        }
        println!("window {window}: loss {value:.4}, {seconds:.3} s");
    }
    let mean = timings.iter().sum::<f64>() / timings.len().max(1) as f64;
    println!(
        "{device_name} {integration:?} hidden={hidden} lanes={lanes} items={items}: {:.3} s/window, {:.0} tuples/s",
        mean,
        (lanes * STEPS) as f64 / mean
    );
}
