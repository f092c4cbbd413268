//! Running a study: workers claim trials from the store, keep them alive
//! with heartbeats, fit them through the [`Objective`], let the pruner stop
//! the hopeless ones, and record the outcome. Stopping at any moment
//! (Ctrl-C, a time budget, kill -9) leaves a study that the same command
//! resumes: trial numbers are claimed once, and a trial given back or
//! orphaned runs again under its number with its settings.

use crate::TuneError;
use crate::objective::{EpochHook, Interrupted, Objective, TrialResult};
use crate::pruner::Asha;
use crate::sampler::Sampler;
use crate::space::{Params, Space};
use crate::store::{Claim, ClaimRequest, StudyDefinition, StudyStore};
use crate::trial::{TrialOutcome, TrialRecord, now_ms};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use seqrec_core::Cancel;
use seqrec_runner::config::MethodSettings;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a study searches and how.
#[derive(Clone, Debug)]
pub struct StudyPlan {
    pub definition: StudyDefinition,
    pub space: Space,
    /// The settings the search starts from (trial 0) and varies.
    pub base: MethodSettings,
    pub sampler: Sampler,
    pub pruner: Option<Asha>,
}

/// How to run it.
#[derive(Clone, Debug)]
pub struct RunSettings {
    /// The study's number of trials (trial 0 included).
    pub trials: u64,
    /// Parallel workers in this process.
    pub jobs: usize,
    /// GPU devices, one per worker in turn (empty: the backend's default).
    pub devices: Vec<usize>,
    /// A running trial without a heartbeat for this long is run again.
    pub heartbeat_timeout: Duration,
    /// No trial starts after this much time.
    pub time_budget: Option<Duration>,
    /// Draw the progress line on stderr.
    pub progress: bool,
    /// Raised by Ctrl-C: running trials are given back, nothing new starts.
    pub cancel: Cancel,
    /// A name for this process's workers (host and pid by default).
    pub worker_prefix: String,
}

impl RunSettings {
    pub fn new(trials: u64) -> Self {
        RunSettings {
            trials,
            jobs: 1,
            devices: Vec::new(),
            heartbeat_timeout: Duration::from_secs(60),
            time_budget: None,
            progress: false,
            cancel: Cancel::new(),
            worker_prefix: default_worker_prefix(),
        }
    }
}

/// `host:pid`.
pub fn default_worker_prefix() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "localhost".into());
    format!("{host}:{}", std::process::id())
}

/// Why a run of the study ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StudyEnd {
    /// Every trial is finished.
    Finished,
    /// The time budget ran out (the study can be resumed).
    TimeBudget,
    /// Cancelled (the study can be resumed).
    Cancelled,
}

/// Runs (or resumes) the study until it is finished, the budget ends or
/// `cancel` is raised. `on_finished` sees the study after every trial.
pub fn run_study(
    store: Arc<dyn StudyStore>,
    plan: &StudyPlan,
    objective: &Objective,
    run: &RunSettings,
    on_finished: &(dyn Fn(&[TrialRecord]) + Sync),
) -> Result<StudyEnd, TuneError> {
    store.open_study(&plan.definition)?;
    let study = plan.definition.name.as_str();
    let started = Instant::now();
    let existing = store.trials(study)?;
    let initial = existing.iter().filter(|t| t.state.is_finished()).count() as u64;
    let bar = progress_bar(run, &existing, initial);
    let stop_reason = Mutex::new(None::<StudyEnd>);
    let first_error = Mutex::new(None::<TuneError>);
    let budget_over = || run.time_budget.is_some_and(|b| started.elapsed() >= b);
    std::thread::scope(|scope| {
        for job in 0..run.jobs.max(1) {
            let store = store.clone();
            let (bar, stop_reason, first_error) = (&bar, &stop_reason, &first_error);
            let budget_over = &budget_over;
            scope.spawn(move || {
                let worker = format!("{}:{job}", run.worker_prefix);
                let device =
                    (!run.devices.is_empty()).then(|| run.devices[job % run.devices.len()]);
                let outcome = worker_loop(
                    store.clone(),
                    plan,
                    objective,
                    run,
                    &worker,
                    device,
                    budget_over,
                    &|trials| {
                        update_bar(bar, trials, started, initial);
                        on_finished(trials);
                    },
                );
                match outcome {
                    Ok(end) => {
                        let mut reason = stop_reason.lock().unwrap_or_else(|e| e.into_inner());
                        if end != StudyEnd::Finished || reason.is_none() {
                            *reason = Some(end);
                        }
                    }
                    Err(e) => {
                        // One worker's store error stops the others too.
                        run.cancel.cancel();
                        first_error
                            .lock()
                            .unwrap_or_else(|e| e.into_inner())
                            .get_or_insert(e);
                    }
                }
            });
        }
    });
    bar.finish_and_clear();
    if let Some(e) = first_error.into_inner().unwrap_or_else(|e| e.into_inner()) {
        return Err(e);
    }
    let reason = stop_reason
        .into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .unwrap_or(StudyEnd::Finished);
    Ok(if run.cancel.is_cancelled() {
        StudyEnd::Cancelled
    } else {
        reason
    })
}

#[allow(clippy::too_many_arguments)]
fn worker_loop(
    shared: Arc<dyn StudyStore>,
    plan: &StudyPlan,
    objective: &Objective,
    run: &RunSettings,
    worker: &str,
    device: Option<usize>,
    budget_over: &(dyn Fn() -> bool + Sync),
    on_finished: &(dyn Fn(&[TrialRecord]) + Sync),
) -> Result<StudyEnd, TuneError> {
    let store = shared.as_ref();
    let study = plan.definition.name.as_str();
    let start_values = plan.space.starting_values(&plan.base)?;
    loop {
        if run.cancel.is_cancelled() {
            return Ok(StudyEnd::Cancelled);
        }
        if budget_over() {
            return Ok(StudyEnd::TimeBudget);
        }
        let request = ClaimRequest {
            worker: worker.to_owned(),
            now_ms: now_ms(),
            stale_after_ms: run.heartbeat_timeout.as_millis() as u64,
            target: run.trials,
        };
        let mut propose =
            |number: u64, history: &[TrialRecord]| -> Result<Option<Params>, TuneError> {
                if number == 0 {
                    return Ok(Some(start_values.clone()));
                }
                plan.sampler.propose(&plan.space, number, history)
            };
        let trial = match store.claim(study, &request, &mut propose)? {
            Claim::Trial(trial) => trial,
            Claim::Done => return Ok(StudyEnd::Finished),
            Claim::Wait => {
                // Another worker may give a trial back or die: look again
                // well within the heartbeat timeout.
                let pause = (run.heartbeat_timeout / 4)
                    .clamp(Duration::from_millis(50), Duration::from_secs(5));
                sleep_unless_cancelled(pause, &run.cancel);
                continue;
            }
        };
        tracing::info!(trial = trial.number, attempt = trial.attempts, worker, params = %serde_json::Value::from(serde_json::Map::from_iter(trial.params.clone())), "trial started");
        let result = run_trial(shared.clone(), plan, objective, run, worker, device, &trial);
        let outcome = match result {
            Ok(outcome) => outcome,
            Err(Interrupted) => {
                store.release(study, trial.number, worker)?;
                tracing::info!(
                    trial = trial.number,
                    "trial interrupted; given back to the study"
                );
                continue;
            }
        };
        if let TrialOutcome::Failed { error } = &outcome {
            tracing::warn!(trial = trial.number, %error, "trial failed");
        }
        if store.finish(study, trial.number, worker, &outcome, now_ms())? {
            tracing::info!(trial = trial.number, ?outcome, "trial finished");
            on_finished(&store.trials(study)?);
        } else {
            tracing::warn!(
                trial = trial.number,
                "this worker lost the trial (its heartbeat was late); the result is discarded, another worker runs it"
            );
        }
    }
}

/// Runs one trial with a heartbeat beside it.
#[allow(clippy::too_many_arguments)]
fn run_trial(
    shared: Arc<dyn StudyStore>,
    plan: &StudyPlan,
    objective: &Objective,
    run: &RunSettings,
    worker: &str,
    device: Option<usize>,
    trial: &TrialRecord,
) -> TrialResult {
    let store = shared.as_ref();
    let settings = match plan.space.apply(&plan.base, &trial.params) {
        Ok(settings) => settings,
        Err(e) => {
            return Ok(TrialOutcome::Failed {
                error: format!("invalid settings: {e}"),
            });
        }
    };
    let study = plan.definition.name.clone();
    let cancel = Cancel::new();
    let done = AtomicBool::new(false);
    let hook: Option<Arc<EpochHook>> = plan.pruner.clone().map(|asha| {
        let (store, study, worker, number) = (
            shared.clone(),
            study.clone(),
            worker.to_owned(),
            trial.number,
        );
        let rungs = asha.clone();
        let report = move |epoch: u64, value: f64| -> bool {
            match store.report(&study, number, &worker, epoch, value) {
                Ok(Some(trials)) => {
                    let prune = asha.should_prune(number, epoch, value, &trials);
                    if prune {
                        tracing::info!(trial = number, epoch, value, "pruned");
                    }
                    prune
                }
                // The claim is lost: stop, another worker has the trial.
                Ok(None) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "could not record the epoch's value");
                    false
                }
            }
        };
        Arc::new(EpochHook {
            wants: Box::new(move |epoch| rungs.rung(epoch).is_some()),
            report: Box::new(report),
        })
    });
    let interval =
        (run.heartbeat_timeout / 4).clamp(Duration::from_millis(20), Duration::from_secs(15));
    std::thread::scope(|scope| {
        scope.spawn(|| {
            let mut last = Instant::now();
            while !done.load(Ordering::SeqCst) {
                if run.cancel.is_cancelled() {
                    cancel.cancel();
                }
                if last.elapsed() >= interval {
                    last = Instant::now();
                    match store.heartbeat(&study, trial.number, worker, now_ms()) {
                        Ok(true) => {}
                        Ok(false) => {
                            tracing::warn!(trial = trial.number, "claim lost; stopping the trial");
                            cancel.cancel();
                        }
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let result = objective.run(&settings, &cancel, device, hook);
        done.store(true, Ordering::SeqCst);
        result
    })
}

fn sleep_unless_cancelled(pause: Duration, cancel: &Cancel) {
    let until = Instant::now() + pause;
    while Instant::now() < until && !cancel.is_cancelled() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn progress_bar(run: &RunSettings, trials: &[TrialRecord], initial: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(
        Some(run.trials),
        if run.progress {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        },
    );
    bar.set_style(
        ProgressStyle::with_template("tune [{elapsed_precise}] {bar:30} trial {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    update_bar(&bar, trials, Instant::now(), initial);
    bar
}

/// Trials finished, best so far, and the time left at the pace of this
/// run (`initial` trials were finished before it started).
fn update_bar(bar: &ProgressBar, trials: &[TrialRecord], started: Instant, initial: u64) {
    let finished = trials.iter().filter(|t| t.state.is_finished()).count() as u64;
    bar.set_position(finished);
    let best = crate::trial::best(trials)
        .map(|t| {
            format!(
                "best {:.5} (trial {})",
                t.value.unwrap_or(f64::NAN),
                t.number
            )
        })
        .unwrap_or_else(|| "no complete trial yet".into());
    let done_here = finished.saturating_sub(initial);
    let total = bar.length().unwrap_or(finished);
    let eta = if done_here > 0 && finished < total {
        let per = started.elapsed().as_secs_f64() / done_here as f64;
        format!(", ETA {}", human((total - finished) as f64 * per))
    } else {
        String::new()
    };
    bar.set_message(format!("{best}{eta}"));
}

fn human(seconds: f64) -> String {
    let s = seconds.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, (s % 3600) / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}
