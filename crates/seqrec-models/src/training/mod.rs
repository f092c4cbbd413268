//! Training per specification §4.5: lanes of user sequences, 20-step truncated-BPTT
//! windows with the detached state carried across windows, dropout, the L2
//! term on looked-up user rows, global-norm clipping, Adam; validation after
//! every epoch and the best epoch kept; a checkpoint after every epoch.

use crate::checkpoint::{CheckpointState, DataFingerprint};
use crate::cost::{check_cpu_time, cpu_cores};
use crate::device::{DeviceInfo, OpenedDevice, guarded};
pub use crate::epoch::EpochRecord;
use crate::host_adam::HostAdam;
use crate::lanes::LaneSchedule;
use crate::memory::{MemoryEstimate, available_memory};
use crate::model::{GruModel, GruModelConfig};
use crate::{Backend, GruCellConfig, GruError, GruParams, GruScorer, GruVariant, Precision};
use burn::module::Module;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::Tensor;
use seqrec_core::{Cancel, ItemId, Part, SeqRng, Split, UserId};
use seqrec_metrics::{EvalConfig, evaluate};
use serde::{Deserialize, Serialize};
use std::path::Path;
use std::time::Instant;
use window::{WindowPath, WindowTrainer};

mod host_window;
mod options;
mod resume;
mod window;

pub use options::{EpochObserver, TrainOptions, WindowObserver, WindowRecord};

/// The history and outcome of a training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainingReport {
    pub variant: GruVariant,
    pub params: GruParams,
    pub seed: u64,
    pub backend: Backend,
    /// What the products were: TF32 where it was asked for and the device
    /// has it, else fp32 (absent in reports written before the setting).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub precision: Option<Precision>,
    pub history: Vec<EpochRecord>,
    /// The epoch whose parameters were kept (best validation MRR@20).
    pub best_epoch: Option<usize>,
    pub epochs_run: usize,
    /// Whether `patience` ended the run before `epochs`.
    pub stopped_early: bool,
    /// Epochs already done in the checkpoint this run resumed from.
    pub resumed_after: Option<usize>,
    pub memory_estimate_bytes: u64,
    /// The GPU that trained (absent for the CPU backends).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<DeviceInfo>,
}

impl TrainingReport {
    /// Training tuples per second over all epochs, validation excluded.
    pub fn train_tuples_per_second(&self) -> f64 {
        let tuples: usize = self.history.iter().map(|e| e.tuples).sum();
        let seconds: f64 = self.history.iter().map(|e| e.train_seconds).sum();
        if seconds > 0.0 {
            tuples as f64 / seconds
        } else {
            0.0
        }
    }
}

/// A trained model and how it was trained.
#[derive(Debug)]
pub struct FittedGru {
    pub scorer: GruScorer,
    pub report: TrainingReport,
}

fn fingerprint(split: &Split) -> DataFingerprint {
    DataFingerprint {
        users: split.users(),
        items: split.catalogue_size(),
        train_events: split.events(Part::Train),
        validation_events: split.events(Part::Validation),
    }
}

/// Trains `variant` on the training part of `split`.
///
/// Refuses a CPU training estimated to take more than
/// [`crate::cost::CPU_REFUSAL_SECONDS`] unless `options.allow_slow_cpu`,
/// and a GPU backend this machine cannot run, before anything is trained.
pub fn fit(
    variant: GruVariant,
    params: &GruParams,
    split: &Split,
    seed: u64,
    options: &TrainOptions,
) -> Result<FittedGru, GruError> {
    params.validate()?;
    options.precision.check_backend(options.backend)?;
    check_cpu_time(
        variant,
        params,
        split,
        options.backend,
        cpu_cores(),
        options.allow_slow_cpu,
    )?;
    let opened = options.backend.open(options.device_index)?;
    guarded(options.backend, "training", || {
        train(variant, params, split, seed, options, opened)
    })
}

fn train(
    variant: GruVariant,
    params: &GruParams,
    split: &Split,
    seed: u64,
    options: &TrainOptions,
    opened: OpenedDevice,
) -> Result<FittedGru, GruError> {
    let precision = options.precision;
    let effective = precision.effective(opened.info.tf32);
    if precision.worth_naming(options.backend.is_cpu()) {
        tracing::info!(requested = %precision, effective = %effective, "matrix-product precision");
    }
    let inner = opened.device.clone();
    let device = inner.clone().autodiff();
    let (items, users) = (split.catalogue_size(), split.users());
    let chunk_rows = params.chunk_rows_within(items, opened.info.output_chunk_bytes());
    let estimate = MemoryEstimate::with_chunk_rows(variant, params, items, users, chunk_rows);
    tracing::info!(chunk_rows, "output-layer rows per chunk");
    check_memory(&estimate, params, options.backend)?;

    let config = model_config(variant, params, items, users);
    let mut model = config.init(&device, &mut SeqRng::derive(seed, 0));
    // The CPU backends update in one fused pass (equal to burn's Adam bit
    // for bit, with the same state, so checkpoints cross backends).
    let (beta_1, beta_2, epsilon) = (
        params.beta1 as f32,
        params.beta2 as f32,
        params.epsilon as f32,
    );
    let mut optim: ModuleOptimizer = if options.backend.is_cpu() {
        HostAdam::new(beta_1, beta_2, epsilon).into()
    } else if options.elementwise == crate::fused::ElementWise::Fused {
        // One kernel per parameter instead of burn's chain.
        crate::device_adam::DeviceAdam::new(beta_1, beta_2, epsilon).into()
    } else {
        AdamConfig::new()
            .with_beta_1(beta_1)
            .with_beta_2(beta_2)
            .with_epsilon(epsilon)
            .init()
    };
    let mut state = CheckpointState {
        variant,
        params: params.clone(),
        seed,
        data: fingerprint(split),
        epochs_done: 0,
        history: Vec::new(),
        best_epoch: None,
        epochs_without_improvement: 0,
    };
    let mut best: Option<GruModel> = None;
    let mut resumed_after = None;
    if let Some(path) = options
        .checkpoint
        .as_ref()
        .filter(|p| options.resume && p.exists())
    {
        let saved_epochs;
        (model, optim, state, best, saved_epochs) = resume::load(path, model, optim, state)?;
        resumed_after = Some(saved_epochs);
    }

    let sequences: Vec<(u32, &[ItemId])> = (0..users)
        .map(|u| (u as u32, split.train(UserId(u as u32))))
        .filter(|(_, s)| s.len() >= 2)
        .collect();
    if sequences.is_empty() {
        return Err(GruError::NoTrainingData);
    }
    let mut trainer = WindowTrainer {
        params,
        device: &device,
        inner: &inner,
        chunk_rows,
        path: WindowPath::of(options.backend, params),
        precision,
        elementwise: options.elementwise.effective(options.backend.is_cpu()),
    };
    let mut stopped_early = false;
    let mut epochs_this_call = 0;
    while state.epochs_done < params.epochs {
        if options.stop_after_epochs == Some(epochs_this_call) {
            break;
        }
        let epoch = state.epochs_done + 1;
        let mut order = sequences.clone();
        SeqRng::derive(seed, (1 << 32) | epoch as u64).shuffle(&mut order);
        let mut dropout_rng = SeqRng::derive(seed, (2 << 32) | epoch as u64);
        let schedule = LaneSchedule::new(order, params.lanes, params.window, params.lane_switch);
        if let Some(bar) = &options.progress {
            bar.set_length(schedule.total_tuples() as u64);
            bar.set_position(0);
            bar.set_message(format!(
                "{} epoch {epoch}/{}",
                variant.name(),
                params.epochs
            ));
        }
        let lanes = schedule.lanes();
        let mut h = Tensor::<2>::zeros([lanes, params.hidden], &device);
        let mut record = EpochRecord {
            epoch,
            loss: 0.0,
            windows: 0,
            tuples: 0,
            train_seconds: 0.0,
            tuples_per_second: 0.0,
            grad_norm: 0.0,
            clipped_windows: 0,
            validation_mrr20: None,
            validation_recall20: None,
            validation_seconds: 0.0,
        };
        let started = Instant::now();
        for (index, window) in schedule.enumerate() {
            if options.max_windows_per_epoch == Some(index) {
                break;
            }
            if options.cancel.as_ref().is_some_and(Cancel::is_cancelled) {
                return Err(GruError::Cancelled { epoch });
            }
            let tuples = window.tuples();
            if tuples == 0 {
                continue;
            }
            let outcome;
            (model, h, outcome) = trainer.step(model, &mut optim, &window, h, &mut dropout_rng)?;
            if !outcome.loss.is_finite() {
                return Err(GruError::NonFiniteLoss {
                    epoch,
                    window: index + 1,
                    loss: outcome.loss,
                });
            }
            if let Some(observer) = &options.observer {
                (observer.0)(&WindowRecord {
                    epoch,
                    window: index + 1,
                    loss: outcome.loss,
                    tuples,
                    grad_norm: outcome.grad_norm,
                });
            }
            record.loss += f64::from(outcome.loss);
            record.grad_norm += outcome.grad_norm;
            record.clipped_windows += usize::from(outcome.grad_norm > params.clip_norm);
            record.windows += 1;
            record.tuples += tuples;
            if let Some(bar) = &options.progress {
                bar.inc(tuples as u64);
            }
        }
        record.train_seconds = started.elapsed().as_secs_f64();
        if record.windows > 0 {
            record.loss /= record.windows as f64;
            record.grad_norm /= record.windows as f64;
        }
        record.tuples_per_second = record.tuples as f64 / record.train_seconds.max(1e-9);
        let validation_started = Instant::now();
        let improved = if options.skip_validation || split.events(Part::Validation) == 0 {
            true // Nothing to choose on: keep the latest epoch.
        } else {
            // The bar is full once the epoch's tuples are done: say what
            // the wait is now.
            if let Some(bar) = &options.progress {
                bar.set_message(format!(
                    "{} epoch {epoch}/{} validating",
                    variant.name(),
                    params.epochs
                ));
            }
            let scorer = GruScorer::new(
                variant.name(),
                model.valid(),
                inner.clone(),
                options.backend.is_cpu(),
            )
            .with_backend(options.backend)
            .with_elementwise(options.elementwise)
            .with_precision(precision);
            let config = EvalConfig {
                cutoffs: vec![20],
                batch_size: params.eval_batch,
                threads: options.threads,
                cancel: options.cancel.clone(),
                ..EvalConfig::default()
            };
            let report =
                evaluate(&scorer, split, Part::Validation, &config, None).map_err(|e| match e {
                    seqrec_metrics::EvalError::Cancelled => GruError::Cancelled { epoch },
                    e => GruError::Validation(e.to_string()),
                })?;
            let (mrr, recall) = (report.get("mrr@20"), report.get("recall@20"));
            record.validation_mrr20 = mrr;
            record.validation_recall20 = recall;
            let best_so_far = state
                .best_epoch
                .and_then(|b| state.history.get(b - 1))
                .and_then(|r| r.validation_mrr20);
            match (mrr, best_so_far) {
                (Some(m), Some(b)) => m > b,
                _ => true,
            }
        };
        record.validation_seconds = validation_started.elapsed().as_secs_f64();
        tracing::info!(
            method = variant.name(),
            epoch,
            loss = record.loss,
            tuples_per_second = record.tuples_per_second.round(),
            validation_mrr20 = record.validation_mrr20,
            validation_recall20 = record.validation_recall20,
            grad_norm = record.grad_norm,
            "epoch done"
        );
        if let Some(bar) = &options.progress {
            bar.println(format!(
                "{} epoch {epoch}: loss {:.4}, {:.0} tuples/s, validation MRR@20 {}",
                variant.name(),
                record.loss,
                record.tuples_per_second,
                record
                    .validation_mrr20
                    .map_or("-".to_owned(), |m| format!("{m:.5}"))
            ));
        }
        if let Some(observer) = &options.epoch_observer {
            (observer.0)(&record);
        }
        if improved {
            best = Some(model.valid());
            state.best_epoch = Some(epoch);
            state.epochs_without_improvement = 0;
        } else {
            state.epochs_without_improvement += 1;
        }
        state.history.push(record);
        state.epochs_done = epoch;
        epochs_this_call += 1;
        if let Some(path) = &options.checkpoint {
            resume::save(path, &model, &optim, &state, best.as_ref())?;
        }
        if let Some(patience) = params.patience
            && state.epochs_without_improvement >= patience
        {
            stopped_early = state.epochs_done < params.epochs;
            tracing::info!(
                epoch,
                patience,
                "no improvement for `patience` epochs; stopping"
            );
            break;
        }
    }
    let kept = best.unwrap_or_else(|| model.valid());
    Ok(FittedGru {
        scorer: GruScorer::new(variant.name(), kept, inner, options.backend.is_cpu())
            .with_backend(options.backend)
            .with_elementwise(options.elementwise)
            .with_batch_size(params.eval_batch)
            .with_precision(precision),
        report: TrainingReport {
            variant,
            params: params.clone(),
            seed,
            backend: options.backend,
            precision: Some(effective),
            epochs_run: state.epochs_done,
            history: state.history,
            best_epoch: state.best_epoch,
            stopped_early,
            resumed_after,
            memory_estimate_bytes: estimate.total(),
            device: (!options.backend.is_cpu()).then_some(opened.info),
        },
    })
}

/// The model shape and initialisation of `variant` under `params`.
fn model_config(
    variant: GruVariant,
    params: &GruParams,
    items: usize,
    users: usize,
) -> GruModelConfig {
    GruModelConfig::new(
        items,
        users,
        GruCellConfig::new(params.hidden)
            .with_integration(variant.integration())
            .with_init_range(params.init_range)
            .with_attention_init_range(params.attention_init_range)
            .with_omega(params.omega)
            .with_threshold(params.threshold)
            .with_temperature(params.temperature),
    )
}

/// Reads a trained model back from a checkpoint written by [`fit`]: the
/// parameters of the best epoch (the last one where no validation chose),
/// ready to score on device `device_index` of `backend` with products at
/// `precision`, with the checkpoint's state (method, settings, seed, data
/// shape, history).
pub fn load_scorer(
    path: &Path,
    backend: Backend,
    device_index: Option<usize>,
    precision: Precision,
) -> Result<(GruScorer, CheckpointState), GruError> {
    precision.check_backend(backend)?;
    let checkpoint = crate::checkpoint::Checkpoint::load(path)?;
    let state = checkpoint.state.clone();
    let device = backend.open(device_index)?.device;
    let config = model_config(
        state.variant,
        &state.params,
        state.data.items,
        state.data.users,
    );
    let model = config.init(&device, &mut SeqRng::derive(state.seed, 0));
    let bytes = if checkpoint.best_model.is_empty() {
        &checkpoint.model
    } else {
        &checkpoint.best_model
    };
    let model = resume::load_model(model, bytes, path)?;
    let scorer = GruScorer::new(state.variant.name(), model, device, backend.is_cpu())
        .with_backend(backend)
        .with_batch_size(state.params.eval_batch)
        .with_precision(precision);
    Ok((scorer, state))
}

fn check_memory(
    estimate: &MemoryEstimate,
    params: &GruParams,
    backend: Backend,
) -> Result<(), GruError> {
    let gib = 1u64 << 30;
    let limit = match params.memory_limit_gib {
        Some(l) => Some(((l * gib as f64) as u64, "memory_limit_gib".to_owned())),
        None if backend.is_cpu() => {
            available_memory().map(|m| (m, "available memory of this machine".to_owned()))
        }
        None => None,
    };
    tracing::info!(
        estimate_gib = estimate.total() as f64 / gib as f64,
        "estimated peak memory"
    );
    match limit {
        Some((limit, source)) => estimate.check(limit, &source),
        None => {
            tracing::warn!(
                "no memory limit known for this device; set memory_limit_gib to have runs that cannot fit refused"
            );
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
