//! Counts the kernels one training window's recurrence (projection, the
//! steps, and backward through all of them) launches on a wgpu device,
//! per GRU variant and per way of running the element-wise work, as one
//! JSON line each. Built once per burn configuration by `cargo xtask
//! kernel-probe`, which compares the builds: burn's plain kernels (what
//! seqrec ships), burn's `fusion` and `autotune` features, and seqrec's
//! own fused kernels.
//!
//! The window is the one training runs (`GruCell::run_window`); the loss
//! is the surrogate Σ h ⊙ g training back-propagates through the
//! recurrence, with a fixed g. Then Adam updates the cell's weights (as
//! training's does every parameter), counted apart: burn's, or seqrec's
//! with its fused kernels. Counting stops at
//! a device sync, so work a backend holds back (fusion batches operations)
//! is counted in the window that queued it.

use anyhow::{Result, bail};
use clap::Parser;
use std::io::Write as _;

#[derive(Debug, Parser)]
struct Args {
    /// Lanes (rows per step).
    #[arg(long, default_value_t = 8)]
    lanes: usize,
    /// Hidden size n (= embedding size).
    #[arg(long, default_value_t = 16)]
    hidden: usize,
    /// Steps per window.
    #[arg(long, default_value_t = 5)]
    steps: usize,
    /// Windows run before counting (compilation, autotuning, fusion's
    /// first sightings of a graph).
    #[arg(long, default_value_t = 3)]
    warmup: usize,
    /// Windows counted.
    #[arg(long, default_value_t = 4)]
    windows: usize,
    /// Print the model of a step's kernels and bytes
    /// (`seqrec_models::kernels::step_traffic`) at this shape instead of
    /// counting (needs no device).
    #[arg(long)]
    model_only: bool,
    /// Also count the forward pass on its own (a device sync between
    /// forward and backward, which changes what fusion can batch).
    #[arg(long)]
    split_phases: bool,
}

/// Which burn features this build has.
fn build_name() -> &'static str {
    match (
        cfg!(feature = "burn-fusion"),
        cfg!(feature = "burn-autotune"),
    ) {
        (true, true) => "burn-fusion+autotune",
        (true, false) => "burn-fusion",
        (false, true) => "burn-autotune",
        (false, false) => "burn",
    }
}

/// A failure prints as one message with its causes, without the backtrace
/// anyhow attaches under `RUST_BACKTRACE=1`.
fn main() -> std::process::ExitCode {
    match run(&Args::parse()) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<()> {
    if args.windows == 0 || args.steps == 0 || args.lanes == 0 || args.hidden == 0 {
        bail!("--windows, --steps, --lanes and --hidden must be at least 1");
    }
    if args.model_only {
        return print_model(args);
    }
    probe::run(args, build_name())
}

/// The model's step per variant and element-wise mode, one JSON line each.
fn print_model(args: &Args) -> Result<()> {
    use seqrec_models::kernels::{StepShape, step_traffic};
    use seqrec_models::{ElementWise, GruVariant};
    let shape = StepShape {
        lanes: args.lanes,
        hidden: args.hidden,
        steps: args.steps,
    };
    for variant in GruVariant::ALL {
        for mode in [ElementWise::Composed, ElementWise::Fused] {
            let step = step_traffic(variant, mode, shape);
            let by_kind: serde_json::Map<String, serde_json::Value> = step
                .by_kind()
                .into_iter()
                .map(|(kind, t)| {
                    let value = serde_json::to_value(t).unwrap_or_default();
                    (kind.name().to_owned(), value)
                })
                .collect();
            let line = serde_json::json!({
                "variant": variant.name(),
                "elementwise": mode.name(),
                "lanes": shape.lanes,
                "hidden": shape.hidden,
                "steps": shape.steps,
                "per_step": by_kind,
                "element_wise_floor": seqrec_models::kernels::element_wise_floor(variant),
            });
            writeln!(std::io::stdout().lock(), "{line}")?;
        }
    }
    Ok(())
}

#[cfg(not(feature = "wgpu"))]
mod probe {
    pub fn run(_: &super::Args, _: &str) -> anyhow::Result<()> {
        anyhow::bail!(
            "built without a GPU backend: run it through `cargo xtask bench kernels`, which builds it with each burn configuration"
        )
    }
}

#[cfg(feature = "wgpu")]
mod probe {
    use super::Args;
    use anyhow::{Context, Result};
    use burn::cubecl::logging::{LaunchObservation, LaunchObserver};
    use burn::tensor::{Device, DeviceKind, Tensor};
    use seqrec_core::SeqRng;
    use seqrec_models::cell::uniform_tensor;
    use seqrec_models::kernels::{KernelCounts, KernelKind};
    use seqrec_models::{ElementWise, GruCellConfig, GruVariant, Precision, UserIntegration};
    use serde_json::json;
    use std::io::Write as _;
    use std::sync::{Arc, Mutex};

    /// Every launch of the process (seqrec's own counter observes only
    /// under seqrec-models' GPU features, which the fusion builds lack).
    #[derive(Default)]
    struct Counter(Mutex<KernelCounts>);

    impl LaunchObserver for Counter {
        fn launched(&self, kernel: &'static str) {
            if let Ok(mut counts) = self.0.lock() {
                counts.record(kernel);
            }
        }
    }

    impl Counter {
        fn counts(&self) -> KernelCounts {
            self.0.lock().map(|c| c.clone()).unwrap_or_default()
        }
    }

    /// The default wgpu device with autodiff, after a first kernel: a
    /// missing driver is one error, not a panic.
    fn open_device() -> Result<Device> {
        seqrec_models::device::guarded(seqrec_models::Backend::Wgpu, "opening the device", || {
            let device = Device::wgpu(DeviceKind::DefaultDevice);
            let probe = Tensor::<1>::from_floats([1.0, 2.0], &device).sum();
            let value = probe
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| seqrec_models::GruError::Backend(format!("{e:?}")))?;
            if value != [3.0] {
                return Err(seqrec_models::GruError::Backend(format!(
                    "the device summed 1 and 2 to {value:?}"
                )));
            }
            Ok(device.autodiff())
        })
        .context("no wgpu device could be used (a Vulkan driver is needed; without a GPU, Mesa's lavapipe: apt-get install mesa-vulkan-drivers)")
    }

    pub fn run(args: &Args, build: &str) -> Result<()> {
        let device = open_device()?;
        let modes: &[ElementWise] = if cfg!(feature = "seqrec-fused") {
            &[ElementWise::Composed, ElementWise::Fused]
        } else {
            &[ElementWise::Composed]
        };
        for variant in GruVariant::ALL {
            for &mode in modes {
                let Windows {
                    counts,
                    forward,
                    optimizer,
                    parameter_tensors,
                } = count_windows(args, variant, mode, &device)
                    .with_context(|| format!("{} ({})", variant.name(), mode.name()))?;
                let n = counts.len() as f64;
                let total: usize = counts.iter().map(KernelCounts::total).sum();
                let mut by_kind = serde_json::Map::new();
                for kind in KernelKind::ALL {
                    let sum: usize = counts.iter().map(|c| c.by_kind()[&kind]).sum();
                    by_kind.insert(kind.name().to_owned(), json!(sum as f64 / n));
                }
                let forward = forward.map(|f| {
                    let mut by_name = std::collections::BTreeMap::<String, f64>::new();
                    for c in &f {
                        for (name, k) in &c.by_name {
                            *by_name.entry(name.clone()).or_default() += *k as f64 / n;
                        }
                    }
                    by_name
                });
                let optimizer_total: usize = optimizer.iter().map(KernelCounts::total).sum();
                let mut optimizer_by_kind = serde_json::Map::new();
                for kind in KernelKind::ALL {
                    let sum: usize = optimizer.iter().map(|c| c.by_kind()[&kind]).sum();
                    optimizer_by_kind.insert(kind.name().to_owned(), json!(sum as f64 / n));
                }
                let line = json!({
                    "build": build,
                    "variant": variant.name(),
                    "elementwise": mode.name(),
                    "lanes": args.lanes,
                    "hidden": args.hidden,
                    "steps": args.steps,
                    "windows": counts.len(),
                    "launches_per_window": total as f64 / n,
                    "by_kind": by_kind,
                    "by_name_first_window": counts[0].by_name,
                    "forward_by_name": forward,
                    "optimizer": {
                        "weights": parameter_tensors,
                        "launches_per_step": optimizer_total as f64 / n,
                        "by_kind": optimizer_by_kind,
                        "by_name_first_window": optimizer.first().map(|c| c.by_name.clone()),
                    },
                });
                writeln!(std::io::stdout().lock(), "{line}")?;
            }
        }
        Ok(())
    }

    /// What the counted windows launched.
    struct Windows {
        /// The recurrence of each window, forward and backward.
        counts: Vec<KernelCounts>,
        /// Its forward pass alone (`--split-phases`).
        forward: Option<Vec<KernelCounts>>,
        /// Each window's Adam step over the cell's weights.
        optimizer: Vec<KernelCounts>,
        /// How many weight tensors (and biases) that step updates.
        parameter_tensors: usize,
    }

    /// Runs the windows and counts.
    fn count_windows(
        args: &Args,
        variant: GruVariant,
        mode: ElementWise,
        device: &Device,
    ) -> Result<Windows> {
        use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
        let (lanes, steps, n) = (args.lanes, args.steps, args.hidden);
        let mut cell = GruCellConfig::new(n)
            .with_integration(variant.integration())
            .init(device);
        // A weight and a bias per linear map of the cell.
        let optional = [
            cell.candidate_user.is_some(),
            cell.thresholds.is_some(),
            cell.attention_hidden.is_some(),
            cell.attention_item.is_some(),
            cell.attention_user.is_some(),
        ];
        let parameter_tensors = 2 * (3 + optional.iter().filter(|&&b| b).count());
        // With seqrec's fused kernels, its Adam (one kernel per tensor).
        let mut optim: ModuleOptimizer = match mode {
            ElementWise::Fused => {
                seqrec_models::device_adam::DeviceAdam::new(0.9, 0.999, 1e-8).into()
            }
            ElementWise::Composed => AdamConfig::new().init(),
        };
        let mut rng = SeqRng::new(2017);
        let counter = Arc::new(Counter::default());
        let (mut recurrence, mut forward, mut optimizer) = (Vec::new(), Vec::new(), Vec::new());
        let sync = || {
            device
                .sync()
                .map_err(|e| anyhow::anyhow!("the device failed: {e:?}"))
        };
        for window in 0..args.warmup + args.windows {
            let counting = window >= args.warmup;
            // One observation for the window; each phase ends at a sync, so
            // the counts between two readings are that phase's.
            let _observing = counting.then(|| LaunchObservation::new(counter.clone()));
            let start = counter.counts();
            let e_items = uniform_tensor([steps * lanes, n], 0.1, &mut rng, device).require_grad();
            let e_users = (variant.integration() != UserIntegration::None)
                .then(|| uniform_tensor([steps * lanes, n], 0.1, &mut rng, device).require_grad());
            let g = uniform_tensor([steps * lanes, n], 1.0, &mut rng, device);
            let h = Tensor::<2>::zeros([lanes, n], device);
            let states = cell.run_window(
                e_items,
                e_users,
                h,
                lanes,
                steps,
                Precision::Tf32,
                mode,
                None,
            );
            let surrogate = (Tensor::cat(states, 0) * g).sum();
            if args.split_phases && counting {
                sync()?;
                forward.push(counter.counts().since(&start));
            }
            let gradients = surrogate.backward();
            sync()?;
            let backward_done = counter.counts();
            let gradients = GradientsParams::from_grads(gradients, &cell);
            cell = optim.step(0.01, cell, gradients);
            sync()?;
            if counting {
                recurrence.push(backward_done.since(&start));
                optimizer.push(counter.counts().since(&backward_done));
            }
        }
        Ok(Windows {
            counts: recurrence,
            forward: args.split_phases.then_some(forward),
            optimizer,
            parameter_tensors,
        })
    }
}
