//! `tune`: a hyperparameter search (crate seqrec-tune) from Python, the
//! trials back as a pandas DataFrame (a dict of NumPy columns without
//! pandas). Ctrl-C gives the running trials back to the study, which the
//! same call resumes.

use crate::convert::{array1, dict_to_toml, path_arg};
use crate::errors::{Failure, Kind, Result};
use crate::runtime::run_interruptible;
use pyo3::prelude::*;
use pyo3::types::PyDict;
use seqrec_runner::Method;
use seqrec_tune::{StudyEnd, TrialRecord, TuneError, TuneRequest};
use std::path::PathBuf;

impl From<TuneError> for Failure {
    fn from(e: TuneError) -> Self {
        let kind = match &e {
            TuneError::Config { .. } | TuneError::StudyMismatch { .. } | TuneError::Data { .. } => {
                Kind::BadInput
            }
            TuneError::Runner(r) => return Failure::from_runner_message(r),
            TuneError::Cancelled => Kind::Cancelled,
            TuneError::Io { .. } | TuneError::Store { .. } | TuneError::Trial { .. } => Kind::Other,
        };
        Failure::new(kind, e.to_string())
    }
}

impl Failure {
    fn from_runner_message(e: &seqrec_runner::RunnerError) -> Failure {
        use seqrec_runner::RunnerError;
        let kind = match e {
            RunnerError::UnknownMethod(_)
            | RunnerError::Config(_)
            | RunnerError::InFile { .. }
            | RunnerError::Data { .. } => Kind::BadInput,
            _ => Kind::Other,
        };
        Failure::new(kind, e.to_string())
    }
}

/// The config argument as a file: a path as it is, a dict written to a
/// temporary TOML file (kept alive by the returned guard).
fn config_file(config: &Bound<'_, PyAny>) -> Result<(PathBuf, Option<tempfile::TempDir>)> {
    if config.is_instance_of::<PyDict>() {
        let text = dict_to_toml(config).map_err(|e| e.context("config"))?;
        let dir = tempfile::tempdir().map_err(|e| Failure::new(Kind::Other, e.to_string()))?;
        let path = dir.path().join("tune.toml");
        std::fs::write(&path, text).map_err(|e| Failure::new(Kind::Other, e.to_string()))?;
        return Ok((path, Some(dir)));
    }
    let path = path_arg(config)
        .map_err(|_| Failure::bad_input("config: expected a dict or the path of a TOML file"))?;
    if !path.exists() {
        return Err(Failure::new(
            Kind::Missing,
            format!("{}: file not found", path.display()),
        ));
    }
    Ok((path, None))
}

/// Searches `method`'s hyperparameters on the validation split of
/// `dataset` (a name: `ml-100k`, `synthetic-movielens`, ... read from
/// `data_dir`, else `$SEQREC_DATA_DIR`, else `datasets/`), as
/// `seqrec tune` does.
///
/// `config`: a dict or the path of a TOML file in the preset schema with a
/// `[tune]` table (`{"tune": {"space": {"gru": {...}}}}`). `trials`,
/// `seed`: override `[tune]`. `storage`: the study's store file (default
/// `<out>/study.db`); the same call on the same store resumes the study.
/// `out`: where trials.csv, trials.json, best.toml and the plots go
/// (default `runs/tune/<study>/`). `refit`: when the study ends, refit the
/// best and the starting settings and compare them on test.
///
/// Returns one row per trial (`number`, `state`, `value`, then each
/// hyperparameter, `attempts`, `fit_seconds`, `eval_seconds`) as a pandas
/// DataFrame, or a dict of NumPy arrays when pandas is not installed.
/// Ctrl-C stops the search within a fraction of a second; the study is
/// saved and the same call resumes it.
#[pyfunction]
#[pyo3(signature = (method, dataset, config, trials=None, storage=None, study=None, seed=None, out=None, jobs=1, data_dir=None, refit=true, progress=true))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn tune<'py>(
    py: Python<'py>,
    method: &str,
    dataset: &str,
    config: &Bound<'py, PyAny>,
    trials: Option<u64>,
    storage: Option<&Bound<'py, PyAny>>,
    study: Option<String>,
    seed: Option<u64>,
    out: Option<&Bound<'py, PyAny>>,
    jobs: usize,
    data_dir: Option<&Bound<'py, PyAny>>,
    refit: bool,
    progress: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let method = Method::parse(method).map_err(Failure::from)?;
    if jobs == 0 {
        return Err(Failure::bad_input("jobs must be at least 1").into());
    }
    if trials == Some(0) {
        return Err(Failure::bad_input("trials must be at least 1").into());
    }
    let (path, guard) = config_file(config)?;
    let mut request = TuneRequest::new(path, dataset, method);
    request.trials = trials;
    request.seed = seed;
    request.study = study;
    request.jobs = jobs;
    request.refit = refit;
    request.progress = progress;
    request.storage = storage
        .map(|s| path_arg(s).map(|p| p.display().to_string()))
        .transpose()
        .map_err(|e| e.context("storage"))?;
    request.out = out
        .map(path_arg)
        .transpose()
        .map_err(|e| e.context("out"))?;
    let given = data_dir
        .map(path_arg)
        .transpose()
        .map_err(|e| e.context("data_dir"))?;
    request.data_dir = seqrec_data::resolve_data_dir(given.as_deref());
    request.cache_dir = Some(seqrec_data::resolve_cache_dir(None));
    let cancel = request.cancel.clone();
    let outcome = run_interruptible(py, &cancel, None, move || {
        let outcome = seqrec_tune::tune(&request).map_err(Failure::from);
        drop(guard);
        outcome
    })?;
    if outcome.end == StudyEnd::Cancelled {
        return Err(Failure::new(
            Kind::Cancelled,
            format!(
                "interrupted; the study is saved in {} and resumes when tune is called again",
                outcome.storage
            ),
        )
        .into());
    }
    trials_frame(py, &outcome.trials)
}

/// The trials as columns; a DataFrame when pandas is there.
fn trials_frame<'py>(py: Python<'py>, trials: &[TrialRecord]) -> PyResult<Bound<'py, PyAny>> {
    let columns = PyDict::new(py);
    columns.set_item(
        "number",
        array1(py, trials.iter().map(|t| t.number as i64).collect()),
    )?;
    columns.set_item(
        "state",
        trials.iter().map(|t| t.state.name()).collect::<Vec<_>>(),
    )?;
    columns.set_item(
        "value",
        array1(
            py,
            trials.iter().map(|t| t.value.unwrap_or(f64::NAN)).collect(),
        ),
    )?;
    let mut keys: Vec<&String> = trials.iter().flat_map(|t| t.params.keys()).collect();
    keys.sort();
    keys.dedup();
    for key in keys {
        let values: Vec<Bound<'py, PyAny>> = trials
            .iter()
            .map(|t| match t.params.get(key) {
                Some(v) => crate::convert::to_py(py, v),
                None => Ok(py.None().into_bound(py)),
            })
            .collect::<PyResult<_>>()?;
        columns.set_item(key, values)?;
    }
    columns.set_item(
        "attempts",
        array1(py, trials.iter().map(|t| i64::from(t.attempts)).collect()),
    )?;
    columns.set_item(
        "fit_seconds",
        array1(
            py,
            trials
                .iter()
                .map(|t| t.fit_seconds.unwrap_or(f64::NAN))
                .collect(),
        ),
    )?;
    columns.set_item(
        "eval_seconds",
        array1(
            py,
            trials
                .iter()
                .map(|t| t.eval_seconds.unwrap_or(f64::NAN))
                .collect(),
        ),
    )?;
    match py.import("pandas") {
        Ok(pandas) => pandas.getattr("DataFrame")?.call1((columns,)),
        Err(_) => {
            // Without pandas, every column a NumPy array.
            let numpy = py.import("numpy")?;
            let out = PyDict::new(py);
            for (k, v) in columns.iter() {
                out.set_item(k, numpy.getattr("asarray")?.call1((v,))?)?;
            }
            Ok(out.into_any())
        }
    }
}
