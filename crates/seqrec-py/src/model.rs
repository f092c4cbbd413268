//! `seqrec.fit` and `seqrec.Model`: a fitted method in memory, backed by
//! the CLI's self-contained model directory (kept in a private temporary
//! directory), so `save` writes exactly what `seqrec train --out` writes
//! and `load` reads what it reads.

use crate::convert::{dict_to_toml, path_arg, serde_to_py};
use crate::dataset::PyDataset;
use crate::errors::{Failure, Kind, Result};
use crate::queries::{OwnedQuery, queries};
use crate::runtime::{Progress, run_interruptible};
use numpy::{IntoPyArray, PyArray2, ndarray::Array2};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use seqrec_core::{Cancel, Query, Vocabulary};
use seqrec_models::{Backend, Precision};
use seqrec_runner::config::MethodSettings;
use seqrec_runner::model_dir::{
    self, CHECKPOINT_FILE, DATA_FILE, LoadedModel, MODEL_FILE, STATE_FILE, TITLES_FILE, TrainSpec,
};
use seqrec_runner::{Compute, Method};
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

/// A fitted recommender: any of the nine methods, trained by `seqrec.fit`
/// or read by `Model.load`.
#[derive(Debug)]
#[pyclass(name = "Model", module = "seqrec", frozen)]
pub struct PyModel {
    pub inner: Arc<LoadedModel>,
    /// The model directory behind `inner` (removed with the model).
    files: Arc<tempfile::TempDir>,
    /// Seconds `seqrec.fit` took (None for a loaded model).
    pub fit_seconds: Option<f64>,
}

/// Every file a model directory may hold, `model.toml` last: its presence
/// marks a complete directory.
const MODEL_FILES: [&str; 5] = [
    DATA_FILE,
    TITLES_FILE,
    CHECKPOINT_FILE,
    STATE_FILE,
    MODEL_FILE,
];

/// Copies a model directory's files from `from` into `to` (created), each
/// through a temporary name, removing files of the other kind (a GRU
/// checkpoint where a baseline is saved, say) left by an earlier model.
fn copy_model_files(from: &Path, to: &Path) -> Result<()> {
    let failed = |path: &Path, e: std::io::Error| {
        let kind = if e.kind() == std::io::ErrorKind::NotFound {
            Kind::Missing
        } else {
            Kind::Other
        };
        Failure::new(kind, format!("{}: {e}", path.display()))
    };
    std::fs::create_dir_all(to).map_err(|e| failed(to, e))?;
    for name in MODEL_FILES {
        let (source, target) = (from.join(name), to.join(name));
        if source.exists() {
            let partial = to.join(format!("{name}.partial"));
            std::fs::copy(&source, &partial).map_err(|e| failed(&source, e))?;
            std::fs::rename(&partial, &target).map_err(|e| failed(&target, e))?;
        } else if target.exists() {
            std::fs::remove_file(&target).map_err(|e| failed(&target, e))?;
        }
    }
    Ok(())
}

fn private_dir() -> Result<tempfile::TempDir> {
    tempfile::Builder::new()
        .prefix("seqrec-model-")
        .tempdir()
        .map_err(|e| Failure::new(Kind::Other, format!("creating a temporary directory: {e}")))
}

fn parse_backend(name: Option<&str>, default: Backend) -> Result<Backend> {
    match name {
        Some(name) => Backend::parse(name).map_err(Failure::from),
        None => Ok(default),
    }
}

fn parse_precision(name: Option<&str>, default: Option<Precision>) -> Result<Precision> {
    match name {
        Some(name) => Precision::parse(name).map_err(Failure::from),
        None => Ok(default.unwrap_or_default()),
    }
}

/// The settings of `config` for `dataset`: None (Table 1), a dict in the
/// preset schema (`{"gru": {"hidden": 64}, "baselines": {"bpr_mf":
/// {"epochs": 5}}}`) or the path of a TOML preset or settings file.
fn read_settings(config: Option<&Bound<'_, PyAny>>, dataset: &str) -> Result<MethodSettings> {
    let Some(config) = config else {
        return Ok(MethodSettings::default());
    };
    if config.is_instance_of::<PyDict>() {
        let text = dict_to_toml(config).map_err(|e| e.context("config"))?;
        return MethodSettings::from_toml(&text, dataset)
            .map_err(|e| Failure::from(e).context("config"));
    }
    let path = path_arg(config)
        .map_err(|_| Failure::bad_input("config: expected a dict or the path of a TOML file"))?;
    if !path.exists() {
        return Err(Failure::new(
            Kind::Missing,
            format!("{}: file not found", path.display()),
        ));
    }
    Ok(MethodSettings::from_file(&path, dataset)?)
}

/// Fits `method` (`pop`, `item-knn`, `decay-knn`, `bpr-mf`, `seq-mf`,
/// `gru`, `linear-user-gru`, `rectified-user-gru`, `attentional-user-gru`)
/// on the training part of `dataset`, exactly as `seqrec train` does.
///
/// `config`: the method settings in the preset schema, as a dict or the
/// path of a TOML file (Table 1 values by default). `seed`: every random
/// choice of the fit. `backend`: where a GRU trains (`flex`, `ndarray`, or
/// a GPU backend this build has; default: the config's, else `flex`),
/// `device` which of its devices, `precision` how a GPU computes its
/// matrix products (`tf32`: TF32 tensor cores where the device has them;
/// `fp32`: IEEE fp32 throughout; `bf16`: bf16 operands with fp32
/// accumulation, cuda only; `tf32-emulated`, `bf16-emulated`: that
/// format's rounding emulated on any device; default: the config's, else
/// `tf32`). A GRU training estimated to take more
/// than 12 hours on the CPU is refused unless `allow_slow_cpu`. Shows a
/// progress bar (tqdm when installed) unless `progress=False`; Ctrl-C
/// stops the fit within a fraction of a second with `KeyboardInterrupt`.
#[pyfunction]
#[pyo3(signature = (method, dataset, config=None, seed=2017, backend=None, device=None, allow_slow_cpu=false, progress=true, precision=None))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn fit(
    py: Python<'_>,
    method: &str,
    dataset: PyRef<'_, PyDataset>,
    config: Option<&Bound<'_, PyAny>>,
    seed: u64,
    backend: Option<&str>,
    device: Option<usize>,
    allow_slow_cpu: bool,
    progress: bool,
    precision: Option<&str>,
) -> PyResult<PyModel> {
    let method = Method::parse(method).map_err(Failure::from)?;
    let data = Arc::clone(&dataset.data);
    let settings = read_settings(config, &data.name)?;
    if let Some(options) = &settings.options
        && *options != dataset.options
    {
        return Err(Failure::bad_input(
            "config sets loading [options] that differ from the dataset's: pass them to seqrec.load(options=...) instead",
        )
        .into());
    }
    let compute = Compute {
        backend: parse_backend(backend, settings.backend.unwrap_or(Backend::Flex))?,
        device,
        allow_slow_cpu,
        precision: parse_precision(precision, settings.precision)?,
        ..Compute::default()
    };
    compute
        .precision
        .check_backend(compute.backend)
        .map_err(Failure::from)?;
    let cancel = Cancel::new();
    let spec = TrainSpec {
        method,
        gru: settings.gru,
        baselines: settings.baselines,
        seed,
        compute,
        cancel: cancel.clone(),
        log_position: None,
    };
    let files = private_dir()?;
    let dir = files.path().to_path_buf();
    let options = dataset.options.clone();
    let titles = dataset.titles.clone();
    let mut progress = Progress::new(py, progress, "tuples");
    let bar = progress.bar();
    let started = Instant::now();
    let loaded = run_interruptible(py, &cancel, Some(&mut progress), move || {
        if !method.is_gru() {
            bar.set_message(format!("fitting {method}"));
        }
        let context = format!("training {method} on {}", data.name);
        let (saved, _) =
            model_dir::train(&spec, &data, &options, titles.as_deref(), &dir, Some(bar))
                .map_err(|e| Failure::from(e).context(&context))?;
        model_dir::open(&dir, saved, compute).map_err(|e| Failure::from(e).context(&context))
    })?;
    Ok(PyModel {
        inner: Arc::new(loaded),
        files: Arc::new(files),
        fit_seconds: Some(started.elapsed().as_secs_f64()),
    })
}

#[pymethods]
impl PyModel {
    /// Reads a model directory written by `seqrec train` or `Model.save`
    /// (no dataset needed). `backend`/`device`: where a GRU scores
    /// (default: the backend it was trained with); `precision`: its GPU
    /// products (default: what it was trained with, else `tf32`).
    #[staticmethod]
    #[pyo3(signature = (path, backend=None, device=None, precision=None))]
    fn load(
        py: Python<'_>,
        path: &Bound<'_, PyAny>,
        backend: Option<&str>,
        device: Option<usize>,
        precision: Option<&str>,
    ) -> PyResult<PyModel> {
        let dir = path_arg(path)?;
        let backend = backend.map(str::to_owned);
        let precision = precision.map(str::to_owned);
        let (loaded, files) = py.detach(move || -> Result<_> {
            if !dir.join(MODEL_FILE).is_file() {
                return Err(Failure::new(
                    Kind::Missing,
                    format!(
                        "{}: no {MODEL_FILE} (is it a model directory written by `seqrec train` or Model.save?)",
                        dir.display()
                    ),
                ));
            }
            let saved = model_dir::read_saved(&dir)?;
            let compute = Compute {
                backend: parse_backend(backend.as_deref(), saved.backend)?,
                device,
                allow_slow_cpu: false,
                precision: parse_precision(precision.as_deref(), saved.precision)?,
                ..Compute::default()
            };
            compute
                .precision
                .check_backend(compute.backend)
                .map_err(Failure::from)?;
            let files = private_dir()?;
            copy_model_files(&dir, files.path())?;
            let loaded = crate::runtime::in_pool(|| model_dir::open(files.path(), saved, compute))?;
            Ok((loaded, files))
        })?;
        Ok(PyModel {
            inner: Arc::new(loaded),
            files: Arc::new(files),
            fit_seconds: None,
        })
    }

    /// Writes the model as a self-contained model directory (what `seqrec
    /// train --out` writes), which `seqrec recommend`, `seqrec serve` and
    /// `Model.load` read without the dataset.
    fn save(&self, py: Python<'_>, path: &Bound<'_, PyAny>) -> PyResult<()> {
        let dir = path_arg(path)?;
        let from = self.files.path().to_path_buf();
        py.detach(|| copy_model_files(&from, &dir))?;
        Ok(())
    }

    /// The method's name (`gru`, `item-knn`, ...).
    #[getter]
    fn method(&self) -> &'static str {
        self.inner.saved.method.name()
    }

    /// The dataset it was trained on.
    #[getter]
    fn dataset(&self) -> &str {
        &self.inner.saved.dataset
    }

    #[getter]
    fn seed(&self) -> u64 {
        self.inner.saved.seed
    }

    /// Users the model knows (the training data's).
    #[getter]
    fn n_users(&self) -> usize {
        self.inner.saved.users
    }

    /// Items it ranks (the training catalogue).
    #[getter]
    fn n_items(&self) -> usize {
        self.inner.saved.items
    }

    /// Seconds `seqrec.fit` took (None for a loaded model).
    #[getter]
    fn fit_seconds(&self) -> Option<f64> {
        self.fit_seconds
    }

    /// Validation metrics of the model (`mrr@20`, `recall@20`, ...).
    #[getter]
    fn validation<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner.saved.validation)
    }

    /// Everything `model.toml` records (method, dataset, options,
    /// settings, seed, backend, data shape, git commit), as a dict.
    fn info<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &self.inner.saved)
    }

    /// Scores of every item, NumPy `float32` `[n, n_items]`, higher is
    /// better. Without arguments: every user after their whole history
    /// (training, validation and test events). `users`: user indices (the
    /// dataset's `user_index`); `histories`: with `users`, one array of
    /// item indices per user, oldest first, replacing the stored history
    /// (`times`, Unix seconds of the same length, are needed by
    /// `decay-knn` only).
    #[pyo3(signature = (users=None, histories=None, times=None))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        users: Option<&Bound<'py, PyAny>>,
        histories: Option<&Bound<'py, PyAny>>,
        times: Option<&Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyArray2<f32>>> {
        let queries = queries(py, &self.inner, users, histories, times)?;
        let inner = Arc::clone(&self.inner);
        let cancel = Cancel::new();
        let stop = cancel.clone();
        let rows = queries.len();
        let scores = run_interruptible(py, &cancel, None, move || {
            let scorer = inner.scorer.as_scorer();
            let items = scorer.catalogue_size();
            let mut scores = vec![0.0f32; rows * items];
            let batch = scorer.preferred_batch_size().unwrap_or(256).max(1);
            for (chunk, out) in queries.chunks(batch).zip(scores.chunks_mut(batch * items)) {
                if stop.is_cancelled() {
                    return Err(Failure::new(Kind::Cancelled, "cancelled"));
                }
                let batch: Vec<Query<'_>> = chunk.iter().map(OwnedQuery::as_query).collect();
                scorer
                    .score(&batch, out)
                    .map_err(|e| Failure::new(Kind::Other, format!("scoring: {e}")))?;
            }
            Ok((scores, items))
        })?;
        let (scores, items) = scores;
        let array = Array2::from_shape_vec((rows, items), scores)
            .map_err(|e| Failure::new(Kind::Other, e.to_string()))?;
        Ok(array.into_pyarray(py))
    }

    /// The top `k` items for `user` (an original user id, as in the
    /// dataset's files) after their whole history: a list of
    /// `(item, score, title)`, best first, equal scores in catalogue order;
    /// `title` is None where the dataset has no titles. With
    /// `exclude_seen`, items already in the history are left out. The same
    /// list as `seqrec recommend`.
    #[pyo3(signature = (user, k=20, exclude_seen=false))]
    fn recommend<'py>(
        &self,
        py: Python<'py>,
        user: &Bound<'py, PyAny>,
        k: usize,
        exclude_seen: bool,
    ) -> PyResult<Bound<'py, PyList>> {
        let user = user.str()?.to_string();
        let inner = Arc::clone(&self.inner);
        let list = py.detach(move || {
            crate::runtime::in_pool(|| {
                model_dir::recommend(
                    inner.scorer.as_scorer(),
                    &inner.data,
                    &user,
                    k,
                    exclude_seen,
                    inner.titles.as_ref(),
                )
            })
            .map_err(Failure::from)
        })?;
        let integer_ids = matches!(self.inner.data.items, Vocabulary::Integer(_));
        let out = PyList::empty(py);
        for r in list {
            let item = match (integer_ids, r.item.parse::<i64>()) {
                (true, Ok(id)) => id.into_pyobject(py)?.into_any(),
                _ => r.item.into_pyobject(py)?.into_any(),
            };
            out.append((item, r.score, r.title))?;
        }
        Ok(out)
    }

    fn __repr__(&self) -> String {
        let s = &self.inner.saved;
        format!(
            "Model({} on '{}', seed {}: {} users, {} items)",
            s.method, s.dataset, s.seed, s.users, s.items
        )
    }
}
