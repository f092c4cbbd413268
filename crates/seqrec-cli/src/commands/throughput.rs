//! `seqrec throughput`: GRU training speed over a fixed number of windows
//! and evaluation speed on a sample of test users, through the real code
//! paths (`fit` with dropout, L2, clipping and Adam; the evaluator), one
//! JSON line per method. The GPU check runs it at the paper's setting.

use super::data::load_with;
use super::{Common, ComputeArgs, SettingsArgs, data::loading_options};
use anyhow::{Context, Result, bail};
use clap::Args;
use seqrec_core::Part;
use seqrec_metrics::{EvalConfig, evaluate};
use seqrec_models::{Backend, GruParams, WindowObserver};
use seqrec_runner::Method;
use serde_json::json;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

#[derive(Debug, Args)]
pub struct ThroughputArgs {
    /// Dataset name or table path.
    #[arg(long)]
    dataset: String,
    /// TOML file of loading options.
    #[arg(long)]
    options: Option<PathBuf>,
    /// GRU methods (comma-separated; default: all four).
    #[arg(long, value_delimiter = ',')]
    methods: Option<Vec<String>>,
    /// `[gru]` settings (default: Table 1, the paper's: hidden 1000, 1000 lanes).
    #[command(flatten)]
    settings: SettingsArgs,
    /// Timed training windows.
    #[arg(long, default_value_t = 5)]
    windows: usize,
    /// Untimed windows first (kernel compilation and autotuning).
    #[arg(long, default_value_t = 1)]
    warmup: usize,
    /// Evaluate the test events of this many users (0: no evaluation).
    #[arg(long, default_value_t = 200)]
    eval_users: usize,
    #[command(flatten)]
    compute: ComputeArgs,
}

pub fn run(args: ThroughputArgs, common: &Common) -> Result<()> {
    if args.windows == 0 {
        bail!("--windows must be at least 1");
    }
    let settings = args.settings.read(&args.dataset)?;
    let gru = settings.gru;
    let compute = args.compute.compute(
        settings.backend.unwrap_or(Backend::Flex),
        settings.precision,
    )?;
    let options = loading_options(args.options.as_deref(), settings.options.as_ref())?;
    let data = load_with(&args.dataset, options, common)?;
    let split = &data.split;
    let sample = split
        .with_evaluation_of_first(args.eval_users)
        .context("sampling the test users")?;
    let names = args.methods.clone().unwrap_or_else(|| {
        Method::ALL
            .iter()
            .filter(|m| m.is_gru())
            .map(|m| m.name().to_owned())
            .collect()
    });
    let mut out = std::io::stdout().lock();
    for name in names {
        let Method::Gru(variant) = Method::parse(&name)? else {
            bail!("{name} is not a GRU method");
        };
        let params = GruParams {
            epochs: 1,
            ..gru.clone()
        };
        let marks = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&marks);
        // Kernel launches per window (cubecl backends; none elsewhere).
        let counting = seqrec_models::kernels::count_kernels();
        let counter = Arc::clone(&counting.counter);
        let kernel_marks = Arc::new(Mutex::new(vec![counter.counts()]));
        let kernel_sink = Arc::clone(&kernel_marks);
        let mut options = compute.train_options(None, false, None);
        options.max_windows_per_epoch = Some(args.warmup + args.windows);
        options.skip_validation = true;
        options.observer = Some(WindowObserver::new(move |w| {
            if let Ok(mut m) = sink.lock() {
                m.push((Instant::now(), w.tuples, w.loss));
            }
            if let Ok(mut k) = kernel_sink.lock() {
                k.push(counter.counts());
            }
        }));
        let started = Instant::now();
        let fitted = seqrec_models::fit(variant, &params, split, 2017, &options)
            .with_context(|| format!("training {name}"))?;
        drop(counting);
        let marks = marks.lock().map(|m| m.clone()).unwrap_or_default();
        let kernels = kernels_per_window(
            &kernel_marks.lock().map(|k| k.clone()).unwrap_or_default(),
            args.warmup,
        );
        if marks.len() <= args.warmup {
            bail!(
                "{name}: only {} windows in an epoch of {}; lower --warmup",
                marks.len(),
                args.dataset
            );
        }
        let first_window = marks[0].0.duration_since(started).as_secs_f64();
        let timed = &marks[args.warmup..];
        let since = if args.warmup == 0 {
            started
        } else {
            marks[args.warmup - 1].0
        };
        let seconds = timed
            .last()
            .map_or(0.0, |m| m.0.duration_since(since).as_secs_f64());
        let tuples: usize = timed.iter().map(|m| m.1).sum();
        let eval_counting = seqrec_models::kernels::count_all_kernels();
        let (eval_events, eval_seconds) = if args.eval_users > 0 {
            let begun = Instant::now();
            let report = evaluate(
                &fitted.scorer,
                &sample,
                Part::Test,
                &EvalConfig::default(),
                None,
            )
            .with_context(|| format!("evaluating {name}"))?;
            (report.events, begun.elapsed().as_secs_f64())
        } else {
            (0, 0.0)
        };
        let eval_launches = eval_counting.counter.counts();
        drop(eval_counting);
        // The evaluator's batches: the scorer's preferred size, else the default.
        let eval_batch = seqrec_core::Scorer::preferred_batch_size(&fitted.scorer)
            .unwrap_or(EvalConfig::default().batch_size)
            .max(1);
        let eval_batches = eval_events.div_ceil(eval_batch);
        let kernels_per_eval_batch = (eval_launches.total() > 0 && eval_batches > 0).then(|| {
            let mut by_kind = serde_json::Map::new();
            for (kind, n) in eval_launches.by_kind() {
                by_kind.insert(
                    kind.name().to_owned(),
                    json!(n as f64 / eval_batches as f64),
                );
            }
            json!({
                "batch_size": eval_batch,
                "batches": eval_batches,
                "total": eval_launches.total() as f64 / eval_batches as f64,
                "by_kind": by_kind,
            })
        });
        // The output layer's rows per chunk on this device (the PyTorch
        // reference of the GPU check uses the same on the LastFM shape).
        let items = split.catalogue_size();
        let chunk_rows = match &fitted.report.device {
            Some(device) => params.chunk_rows_within(items, device.output_chunk_bytes()),
            None => params.chunk_rows(items),
        };
        // The step's kernels and their bytes, from the shapes (a model whose
        // launch counts the lavapipe tests check against the counter).
        let elementwise = compute.elementwise.effective(compute.backend.is_cpu());
        let step_model = seqrec_models::kernels::step_traffic(
            variant,
            elementwise,
            seqrec_models::kernels::StepShape {
                lanes: params.lanes,
                hidden: params.hidden,
                steps: params.window,
            },
        );
        let parameters = seqrec_models::MemoryEstimate::parameter_count(
            variant,
            params.hidden,
            split.catalogue_size(),
            split.users(),
        );
        let line = json!({
            "method": name,
            "dataset": data.name,
            "users": split.users(),
            "items": split.catalogue_size(),
            "epoch_tuples": seqrec_models::TrainingCost::tuples_per_epoch(split),
            "validation_events": split.events(Part::Validation),
            "test_events": split.events(Part::Test),
            "backend": compute.backend.name(),
            // Asked for, and what the products were on this device.
            "precision_requested": compute.precision.name(),
            "precision": fitted.report.precision.map(|p| p.name()),
            // How the element-wise work ran.
            "elementwise": elementwise.name(),
            "device": fitted.report.device,
            "hidden": params.hidden,
            "lanes": params.lanes,
            "window": params.window,
            "chunk_rows": chunk_rows,
            "warmup_windows": args.warmup,
            "timed_windows": timed.len(),
            "first_window_seconds": first_window,
            "train_tuples": tuples,
            "train_seconds": seconds,
            "train_tuples_per_second": tuples as f64 / seconds.max(1e-9),
            "losses": marks.iter().map(|m| m.2).collect::<Vec<_>>(),
            "eval_events": eval_events,
            "eval_seconds": eval_seconds,
            "eval_events_per_second": eval_events as f64 / eval_seconds.max(1e-9),
            "kernels_per_window": kernels,
            "kernels_per_eval_batch": kernels_per_eval_batch,
            "step_traffic_model": step_traffic_json(&step_model, params.window),
            // Adam's floor per window from the shapes: every parameter,
            // its gradient and both moments read, three written back
            // (what the fused Adam and the CPU's host Adam move).
            "adam_bytes_per_window": {
                "parameters": parameters,
                "bytes_read": 16 * parameters,
                "bytes_written": 12 * parameters,
            },
        });
        writeln!(out, "{line}")?;
        out.flush()?;
    }
    Ok(())
}

/// The model's kernels of one step by kind (launches, bytes read and
/// written), and the recurrence's share of a window (`window` steps).
fn step_traffic_json(
    step: &seqrec_models::kernels::StepTraffic,
    window: usize,
) -> serde_json::Value {
    let kinds = |scale: u64| {
        let mut by_kind = serde_json::Map::new();
        for (kind, t) in step.by_kind() {
            by_kind.insert(
                kind.name().to_owned(),
                json!({
                    "launches": t.launches * scale,
                    "bytes_read": t.bytes_read * scale,
                    "bytes_written": t.bytes_written * scale,
                }),
            );
        }
        by_kind
    };
    json!({
        "per_step": kinds(1),
        "steps_of_a_window": kinds(window as u64),
    })
}

/// The kernels launched per timed window, by kind and by name, from the
/// counter's readings after each window (`null` where nothing was
/// counted: a CPU backend, or a build without a GPU backend).
fn kernels_per_window(
    marks: &[seqrec_models::kernels::KernelCounts],
    warmup: usize,
) -> serde_json::Value {
    let windows: Vec<_> = marks.windows(2).map(|w| w[1].since(&w[0])).collect();
    let timed = windows.get(warmup..).unwrap_or_default();
    if timed.iter().all(|c| c.total() == 0) {
        return serde_json::Value::Null;
    }
    let n = timed.len().max(1) as f64;
    let mut by_kind = serde_json::Map::new();
    for kind in seqrec_models::kernels::KernelKind::ALL {
        let sum: usize = timed.iter().map(|c| c.by_kind()[&kind]).sum();
        by_kind.insert(kind.name().to_owned(), json!(sum as f64 / n));
    }
    let total: usize = timed.iter().map(|c| c.total()).sum();
    let mut by_name: std::collections::BTreeMap<String, f64> = std::collections::BTreeMap::new();
    for c in timed {
        for (name, count) in &c.by_name {
            *by_name.entry(name.clone()).or_default() += *count as f64 / n;
        }
    }
    json!({
        "total": total as f64 / n,
        "by_kind": by_kind,
        "by_name": by_name,
    })
}
