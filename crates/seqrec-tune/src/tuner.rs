//! One call from a request to a finished study: read the file's `[tune]`
//! and settings, load the dataset, run or resume the study, write its
//! outputs, then refit the best settings and test them against the
//! starting ones. The CLI (`seqrec tune`) and the Python package call this.

use crate::TuneError;
use crate::objective::Objective;
use crate::pruner::Asha;
use crate::refit::{FinalComparison, compare_on_test};
use crate::report::{describe, write_outputs};
use crate::sampler::Sampler;
use crate::settings::{PrunerKind, TuneSettings};
use crate::space::Space;
use crate::store::{StudyDefinition, StudyStore, open_store};
use crate::study::{RunSettings, StudyEnd, StudyPlan, run_study};
use crate::trial::{TrialRecord, best};
use seqrec_core::Cancel;
use seqrec_data::{DatasetName, LoadRequest};
use seqrec_metrics::EvalConfig;
use seqrec_models::Backend;
use seqrec_runner::config::MethodSettings;
use seqrec_runner::{Compute, ExperimentConfig, Method, SignificanceSettings};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// What to tune, where, and how.
#[derive(Clone, Debug)]
pub struct TuneRequest {
    /// A preset or settings file with a `[tune]` table.
    pub config: PathBuf,
    pub dataset: String,
    pub method: Method,
    /// Overrides `[tune] trials`.
    pub trials: Option<u64>,
    /// Overrides `[tune] seed`.
    pub seed: Option<u64>,
    /// A store file (default: `<out>/study.db`).
    pub storage: Option<String>,
    /// Default: `<method>-<dataset>`.
    pub study: Option<String>,
    /// Default: `runs/tune/<study>/`.
    pub out: Option<PathBuf>,
    pub jobs: usize,
    pub devices: Vec<usize>,
    pub heartbeat_timeout: Duration,
    pub time_budget: Option<Duration>,
    pub progress: bool,
    pub cancel: Cancel,
    pub data_dir: PathBuf,
    pub cache_dir: Option<PathBuf>,
    /// Where the GRUs run (default: the preset's backend, else flex).
    pub backend: Option<Backend>,
    /// Refit the best settings and test them when the study is finished.
    pub refit: bool,
}

impl TuneRequest {
    pub fn new(config: impl Into<PathBuf>, dataset: &str, method: Method) -> Self {
        TuneRequest {
            config: config.into(),
            dataset: dataset.to_owned(),
            method,
            trials: None,
            seed: None,
            storage: None,
            study: None,
            out: None,
            jobs: 1,
            devices: Vec::new(),
            heartbeat_timeout: Duration::from_secs(60),
            time_budget: None,
            progress: false,
            cancel: Cancel::new(),
            data_dir: PathBuf::from("datasets"),
            cache_dir: None,
            backend: None,
            refit: true,
        }
    }
}

/// Everything read from the request's file.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub plan: StudyPlan,
    pub settings: TuneSettings,
    pub out: PathBuf,
    pub storage: String,
    /// Seeds of the final refit (the preset's, else the study's seed).
    pub seeds: Vec<u64>,
    pub evaluation: EvalConfig,
    pub significance: SignificanceSettings,
    pub compute: Compute,
}

/// What a call did.
#[derive(Debug)]
pub struct TuneOutcome {
    pub end: StudyEnd,
    pub out: PathBuf,
    pub storage: String,
    pub trials: Vec<TrialRecord>,
    pub warnings: Vec<String>,
    /// Present when the study finished and the refit ran.
    pub comparison: Option<FinalComparison>,
}

impl TuneOutcome {
    pub fn best(&self) -> Option<&TrialRecord> {
        best(&self.trials)
    }
}

/// Reads and checks the request's file (nothing is fitted or stored).
pub fn prepare(request: &TuneRequest) -> Result<Prepared, TuneError> {
    let path = &request.config;
    let text = std::fs::read_to_string(path).map_err(|e| TuneError::io(path, e))?;
    let in_file = |e: TuneError| match e {
        TuneError::Config { path: p, message } => TuneError::Config {
            path: format!("{}: {p}", path.display()),
            message,
        },
        e => e,
    };
    let mut settings = TuneSettings::from_toml(&text).map_err(in_file)?;
    if let Some(trials) = request.trials {
        settings.trials = trials;
    }
    if let Some(seed) = request.seed {
        settings.seed = seed;
    }
    settings.validate().map_err(in_file)?;
    let base = MethodSettings::from_toml(&text, &request.dataset)
        .map_err(|e| TuneError::Runner(e.in_file(path)))?;
    let preset = is_preset(&text)
        .then(|| ExperimentConfig::from_toml(&text).map_err(|e| e.in_file(path)))
        .transpose()?;
    let (evaluation, significance, seeds) = match &preset {
        Some(p) => (
            p.evaluation.clone(),
            p.significance.clone(),
            p.seeds.clone(),
        ),
        None => (
            EvalConfig::default(),
            SignificanceSettings::default(),
            vec![settings.seed],
        ),
    };
    settings
        .check_metric(&evaluation.cutoffs)
        .map_err(in_file)?;
    let space = Space::from_tables(&settings.space, request.method, &base).map_err(in_file)?;
    let sampler = Sampler {
        kind: settings.sampler,
        seed: settings.seed,
        tpe: settings.tpe.clone(),
    };
    sampler.check(&space).map_err(in_file)?;
    let pruner = match settings.pruner {
        PrunerKind::Asha if !settings.asha.prunes(request.method) => {
            tracing::info!(method = %request.method, "no pruning: the method fits in one pass, or [tune.asha] methods leaves it out");
            None
        }
        PrunerKind::Asha if request.method.is_gru() => {
            if settings.epoch_metric().is_none() {
                return Err(in_file(TuneError::config(
                    "[tune] pruner",
                    format!(
                        "asha compares the validation value of each epoch, which GRU training measures as mrr@20 and recall@20 only; metric `{}` cannot be pruned on",
                        settings.metric
                    ),
                )));
            }
            Some(Asha {
                settings: settings.asha.clone(),
            })
        }
        PrunerKind::Asha => Some(Asha {
            settings: settings.asha.clone(),
        }),
        PrunerKind::None => None,
    };
    let backend = request.backend.or(base.backend).unwrap_or(Backend::Flex);
    let compute = Compute {
        backend,
        device: None,
        allow_slow_cpu: false,
        precision: base.precision.unwrap_or_default(),
        ..Compute::default()
    };
    let fit_seed = seeds.first().copied().unwrap_or(settings.seed);
    let name = request.study.clone().unwrap_or_else(|| {
        format!(
            "{}-{}",
            request.method.name(),
            seqrec_runner::experiment::dataset_slug(&request.dataset)
        )
    });
    if name.is_empty() || name.chars().any(|c| c.is_control() || c == '/') {
        return Err(TuneError::config(
            "--study",
            format!("`{name}` is not a usable name"),
        ));
    }
    let out = request
        .out
        .clone()
        .unwrap_or_else(|| Path::new("runs/tune").join(&name));
    let storage = request
        .storage
        .clone()
        .unwrap_or_else(|| out.join("study.db").display().to_string());
    let settings_hash = settings_hash(&base, &space, &evaluation, fit_seed, compute)?;
    let definition = StudyDefinition {
        name,
        method: request.method.name().to_owned(),
        dataset: request.dataset.clone(),
        metric: settings.metric.clone(),
        sampler: settings.sampler,
        pruner: settings.pruner,
        seed: settings.seed,
        space: space.clone(),
        settings_hash,
    };
    Ok(Prepared {
        plan: StudyPlan {
            definition,
            space,
            base,
            sampler,
            pruner,
        },
        settings,
        out,
        storage,
        seeds,
        evaluation,
        significance,
        compute,
    })
}

fn is_preset(text: &str) -> bool {
    toml::from_str::<toml::Table>(text)
        .map(|t| {
            ["name", "seeds", "datasets"]
                .iter()
                .any(|k| t.contains_key(*k))
        })
        .unwrap_or(false)
}

/// What decides the trials' numbers besides their own values.
fn settings_hash(
    base: &MethodSettings,
    space: &Space,
    evaluation: &EvalConfig,
    fit_seed: u64,
    compute: Compute,
) -> Result<String, TuneError> {
    let key = serde_json::json!({
        "table": space.table.name(),
        "settings": match space.table {
            crate::space::SettingsTable::Gru => serde_json::to_value(&base.gru),
            crate::space::SettingsTable::Baseline(_) => serde_json::to_value(&base.baselines)
                .map(|v| v.get(space.table.name()).cloned().unwrap_or_default()),
        }.map_err(|e| TuneError::config("settings", e.to_string()))?,
        "options": base.options,
        "cutoffs": evaluation.cutoffs,
        "tie_rule": evaluation.tie_rule,
        "exclude_seen": evaluation.exclude_seen,
        "fit_seed": fit_seed,
        "backend": compute.backend.name(),
        "precision": compute.precision.name(),
    });
    Ok(format!(
        "{:016x}",
        xxhash_rust::xxh3::xxh3_64(key.to_string().as_bytes())
    ))
}

/// Loads the dataset of the request with the file's options.
fn load(request: &TuneRequest, prepared: &Prepared) -> Result<seqrec_data::Dataset, TuneError> {
    let data_error = |e: &dyn std::fmt::Display| TuneError::Data {
        dataset: request.dataset.clone(),
        message: e.to_string(),
    };
    let name = DatasetName::parse(&request.dataset).map_err(|e| data_error(&e))?;
    let load_request = LoadRequest {
        data_dir: request.data_dir.clone(),
        options: prepared.plan.base.options.clone().unwrap_or_default(),
        cache_dir: request.cache_dir.clone(),
    };
    seqrec_data::load(&name, &load_request).map_err(|e| data_error(&e))
}

/// Runs or resumes the study; when it is finished, writes the outputs and
/// the test comparison.
pub fn tune(request: &TuneRequest) -> Result<TuneOutcome, TuneError> {
    let prepared = prepare(request)?;
    let data = load(request, &prepared)?;
    let plan = &prepared.plan;
    let objective = Objective::new(
        request.method,
        &data.split,
        prepared.evaluation.clone(),
        &prepared.settings.metric,
        prepared.settings.epoch_metric(),
        prepared.compute,
        prepared
            .seeds
            .first()
            .copied()
            .unwrap_or(prepared.settings.seed),
    )?;
    let store: Arc<dyn StudyStore> = Arc::from(open_store(&prepared.storage)?);
    let run = RunSettings {
        trials: prepared.settings.trials,
        jobs: request.jobs.max(request.devices.len()).max(1),
        devices: request.devices.clone(),
        heartbeat_timeout: request.heartbeat_timeout,
        time_budget: request.time_budget,
        progress: request.progress,
        cancel: request.cancel.clone(),
        worker_prefix: crate::study::default_worker_prefix(),
    };
    tracing::info!(
        study = %plan.definition.name,
        store = %store.describe(),
        trials = run.trials,
        "tuning {} on {}",
        request.method,
        request.dataset
    );
    let out = prepared.out.clone();
    let on_finished = |trials: &[TrialRecord]| {
        if let Err(e) = write_outputs(&out, &plan.definition, &plan.space, &plan.base, trials) {
            tracing::warn!(error = %e, "could not write the study's outputs");
        }
    };
    let end = run_study(store.clone(), plan, &objective, &run, &on_finished)?;
    let trials = store.trials(&plan.definition.name)?;
    let warnings = write_outputs(&out, &plan.definition, &plan.space, &plan.base, &trials)?;
    for warning in &warnings {
        tracing::warn!("{warning}");
    }
    let comparison = match (end, best(&trials)) {
        (StudyEnd::Finished, Some(best)) if request.refit => {
            let tuned = plan
                .space
                .apply(&plan.base, &best.params)
                .map_err(|message| TuneError::Trial {
                    number: best.number,
                    message,
                })?;
            tracing::info!(best = best.number, settings = %describe(&best.params), seeds = ?prepared.seeds, "refitting the best and the starting settings; measuring test");
            let comparison = compare_on_test(
                request.method,
                &data.split,
                &prepared.evaluation,
                prepared.compute,
                &prepared.seeds,
                (&plan.base, &tuned),
                best.number,
                &prepared.significance,
                &request.cancel,
            )?;
            crate::summary::write_final(&out, plan, &trials, &comparison)?;
            Some(comparison)
        }
        _ => None,
    };
    Ok(TuneOutcome {
        end,
        out,
        storage: prepared.storage,
        trials,
        warnings,
        comparison,
    })
}

/// Rebuilds the outputs of a stored study (`seqrec tune --report`).
pub fn report(request: &TuneRequest) -> Result<TuneOutcome, TuneError> {
    let prepared = prepare(request)?;
    let plan = &prepared.plan;
    // A report reads a store: it never creates one (a mistyped path would
    // otherwise leave an empty database behind).
    let is_url = prepared.storage.starts_with("postgres://")
        || prepared.storage.starts_with("postgresql://");
    if !is_url && !Path::new(&prepared.storage).exists() {
        return Err(TuneError::Store {
            store: prepared.storage.clone(),
            message: "does not exist: --report reads the store of a study that has run (give its --storage, or the --study and --out it ran with)".into(),
        });
    }
    let store = open_store(&prepared.storage)?;
    let name = &plan.definition.name;
    match store.definition(name)? {
        None => {
            return Err(TuneError::Store {
                store: store.describe(),
                message: format!("has no study `{name}`"),
            });
        }
        Some(stored) => {
            if let Some(difference) = stored.difference(&plan.definition) {
                return Err(TuneError::StudyMismatch {
                    study: name.clone(),
                    store: store.describe(),
                    difference,
                });
            }
        }
    }
    let trials = store.trials(name)?;
    let warnings = write_outputs(
        &prepared.out,
        &plan.definition,
        &plan.space,
        &plan.base,
        &trials,
    )?;
    let finished = trials.iter().all(|t| t.state.is_finished())
        && trials.len() as u64 >= prepared.settings.trials;
    Ok(TuneOutcome {
        end: if finished {
            StudyEnd::Finished
        } else {
            StudyEnd::Cancelled
        },
        out: prepared.out,
        storage: prepared.storage,
        trials,
        warnings,
        comparison: None,
    })
}
