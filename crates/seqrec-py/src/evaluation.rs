//! `seqrec.evaluate` (a seqrec `Model` or any Python callable, through the
//! one evaluator behind the paper's table) and `seqrec.compare` (the
//! runner's paired significance tests).

use crate::convert::{array1, serde_to_py};
use crate::dataset::{PyDataset, parse_part};
use crate::errors::{Failure, Kind, Result};
use crate::model::PyModel;
use crate::runtime::{Progress, run_interruptible};
use numpy::PyReadonlyArray2;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use seqrec_core::{Cancel, Part, Query, ScoreError, Scorer};
use seqrec_metrics::{EvalConfig, EvalReport, Metric, TieRule, evaluate as run_evaluation};
use seqrec_runner::SignificanceSettings;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A Python callable `f(user_indices, histories) -> scores` as a
/// [`Scorer`]. Batches are scored one at a time on the calling thread
/// (Python code runs under the GIL anyway, and there Python handles Ctrl-C
/// itself); the callable's exception is kept and re-raised unchanged.
struct PythonScorer {
    callable: Py<PyAny>,
    name: String,
    items: usize,
    error: Mutex<Option<PyErr>>,
}

impl PythonScorer {
    fn call(&self, py: Python<'_>, queries: &[Query<'_>], out: &mut [f32]) -> PyResult<()> {
        py.check_signals()?;
        let users = array1(py, queries.iter().map(|q| i64::from(q.user.0)).collect());
        let histories = PyList::empty(py);
        for q in queries {
            histories.append(array1(
                py,
                q.history.iter().map(|i| i64::from(i.0)).collect(),
            ))?;
        }
        let result = self.callable.bind(py).call1((users, histories))?;
        let array = py
            .import("numpy")?
            .call_method1("ascontiguousarray", (result, "float32"))?;
        let shape: Vec<usize> = array.getattr("shape")?.extract()?;
        if shape != [queries.len(), self.items] {
            return Err(crate::errors::Failure::bad_input(format!(
                "the scorer returned an array of shape {shape:?}; expected [{}, {}] (one row of {} item scores per user index)",
                queries.len(),
                self.items,
                self.items
            )).into());
        }
        let array: PyReadonlyArray2<'_, f32> = array.extract()?;
        out.copy_from_slice(array.as_slice()?);
        Ok(())
    }
}

impl Scorer for PythonScorer {
    fn name(&self) -> &str {
        &self.name
    }

    fn catalogue_size(&self) -> usize {
        self.items
    }

    fn score(&self, queries: &[Query<'_>], out: &mut [f32]) -> Result<(), ScoreError> {
        Python::attach(|py| self.call(py, queries, out)).map_err(|e| {
            let message = e.to_string();
            *self.error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
            ScoreError::from(message)
        })
    }

    fn parallel_batches(&self) -> bool {
        false
    }
}

fn parse_tie_rule(name: &str) -> Result<TieRule> {
    serde_json::from_value(serde_json::Value::String(name.to_owned())).map_err(|_| {
        Failure::bad_input(format!(
            "unknown tie_rule `{name}`; one of: pessimistic, optimistic, average"
        ))
    })
}

/// Measures a recommender on `dataset`'s `split` ("test" or
/// "validation") with seqrec's exact protocol (specification §3): every event of
/// the split is a query whose history is all of the user's earlier events;
/// ties with the target count against it (`tie_rule="pessimistic"`).
///
/// `model_or_scorer`: a seqrec `Model` (trained on this dataset) or any
/// callable `f(user_indices, histories) -> array[batch, n_items]`, where
/// `user_indices` is an int64 array and `histories` a list of int64 arrays
/// of item indices (oldest first); it is called in batches of at most
/// `batch_size` queries, and an exception it raises propagates unchanged.
///
/// Returns a dict with the keys of `seqrec evaluate --json`: `method`,
/// `dataset`, `split`, `events`, `users`, `tie_rule`, `exclude_seen`, every
/// metric (`mrr@20`, `recall@20`, `ndcg@20`, and `..._macro` means over
/// users) at every cutoff, `eval_seconds` (and `fit_seconds` for a model
/// fitted in this process). With `per_user=True`, also `per_user`: a dict
/// of NumPy arrays (`user_index`, `events`, each metric), for `compare`.
#[pyfunction]
#[pyo3(signature = (model_or_scorer, dataset, split="test", cutoffs=vec![5, 10, 20], tie_rule="pessimistic", exclude_seen=false, per_user=false, batch_size=256, progress=true))]
#[allow(clippy::too_many_arguments)] // Python's keyword arguments
pub fn evaluate<'py>(
    py: Python<'py>,
    model_or_scorer: &Bound<'py, PyAny>,
    dataset: PyRef<'_, PyDataset>,
    split: &str,
    cutoffs: Vec<usize>,
    tie_rule: &str,
    exclude_seen: bool,
    per_user: bool,
    batch_size: usize,
    progress: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let part = parse_part(split)?;
    if part == Part::Train {
        return Err(Failure::bad_input("only the validation and test splits are evaluated").into());
    }
    let cancel = Cancel::new();
    let config = EvalConfig {
        cutoffs,
        tie_rule: parse_tie_rule(tie_rule)?,
        exclude_seen,
        batch_size,
        cancel: Some(cancel.clone()),
        ..EvalConfig::default()
    };
    config.validate().map_err(Failure::from)?;
    let data = Arc::clone(&dataset.data);
    let started = Instant::now();
    let (method, report, fit_seconds) = if let Ok(model) = model_or_scorer.cast::<PyModel>() {
        let model = model.get();
        check_model_matches(model, &data)?;
        let inner = Arc::clone(&model.inner);
        let mut bars = Progress::new(py, progress, "events");
        let bar = bars.bar();
        let method = model.inner.saved.method.name().to_owned();
        bar.set_message(format!("evaluating {method}"));
        let report = run_interruptible(py, &cancel, Some(&mut bars), move || {
            Ok(run_evaluation(
                inner.scorer.as_scorer(),
                &data.split,
                part,
                &config,
                Some(&bar),
            )?)
        })?;
        (method, report, model.fit_seconds)
    } else if model_or_scorer.is_callable() {
        let name = model_or_scorer
            .getattr("__name__")
            .and_then(|n| n.extract::<String>())
            .unwrap_or_else(|_| "callable".to_owned());
        let scorer = PythonScorer {
            callable: model_or_scorer.clone().unbind(),
            name: name.clone(),
            items: data.split.catalogue_size(),
            error: Mutex::new(None),
        };
        let outcome = py.detach(|| run_evaluation(&scorer, &data.split, part, &config, None));
        if let Some(error) = scorer
            .error
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            return Err(error);
        }
        (name, outcome.map_err(Failure::from)?, None)
    } else {
        return Err(pyo3::exceptions::PyTypeError::new_err(
            "model_or_scorer must be a seqrec.Model or a callable f(user_indices, histories) -> array[batch, n_items]",
        ));
    };
    let eval_seconds = started.elapsed().as_secs_f64();
    report_dict(
        py,
        &method,
        &dataset.data.name,
        &report,
        eval_seconds,
        fit_seconds,
        per_user,
    )
}

/// The model was trained on data of this shape (what the CLI checks).
fn check_model_matches(model: &PyModel, data: &seqrec_data::Dataset) -> Result<()> {
    let saved = &model.inner.saved;
    match seqrec_runner::model_dir::shape_mismatch(saved, data) {
        Some(message) => Err(Failure::bad_input(format!(
            "{} model of {}: {message}",
            saved.method, saved.dataset
        ))),
        None => Ok(()),
    }
}

fn report_dict<'py>(
    py: Python<'py>,
    method: &str,
    dataset: &str,
    report: &EvalReport,
    eval_seconds: f64,
    fit_seconds: Option<f64>,
    per_user: bool,
) -> PyResult<Bound<'py, PyDict>> {
    let out = PyDict::new(py);
    out.set_item("method", method)?;
    out.set_item("dataset", dataset)?;
    out.set_item("split", report.part.name())?;
    out.set_item("events", report.events)?;
    out.set_item("users", report.users)?;
    out.set_item("tie_rule", serde_to_py(py, &report.tie_rule)?)?;
    out.set_item("exclude_seen", report.exclude_seen)?;
    for (key, value) in report.to_map() {
        out.set_item(key, value)?;
    }
    if let Some(seconds) = fit_seconds {
        out.set_item("fit_seconds", seconds)?;
    }
    out.set_item("eval_seconds", eval_seconds)?;
    if per_user {
        let table = PyDict::new(py);
        let users = &report.per_user;
        table.set_item(
            "user_index",
            array1(py, users.iter().map(|u| i64::from(u.user.0)).collect()),
        )?;
        table.set_item(
            "events",
            array1(py, users.iter().map(|u| u.events as i64).collect()),
        )?;
        for metric in Metric::ALL {
            for (i, k) in report.cutoffs.iter().enumerate() {
                table.set_item(
                    format!("{}@{k}", metric.name()),
                    array1(py, users.iter().map(|u| u.values.get(metric, i)).collect()),
                )?;
            }
        }
        out.set_item("per_user", table)?;
    }
    Ok(out)
}

/// One per-user column by user index, from `evaluate(..., per_user=True)`'s
/// result or its `per_user` dict.
fn per_user_column(
    value: &Bound<'_, PyAny>,
    metric: &str,
    which: &str,
) -> PyResult<BTreeMap<u32, f64>> {
    let table = match value.get_item("per_user") {
        Ok(inner) => inner,
        Err(_) => value.clone(),
    };
    let column = |key: &str| {
        table.get_item(key).map_err(|_| {
            Failure::bad_input(format!(
                "{which}: no `{key}` (pass evaluate(..., per_user=True)'s result or its `per_user` dict)"
            ))
        })
    };
    let users: Vec<u32> = column("user_index")?.extract()?;
    let values: Vec<f64> = column(metric)?.extract()?;
    if users.len() != values.len() {
        return Err(Failure::bad_input(format!(
            "{which}: {} user indices but {} values of {metric}",
            users.len(),
            values.len()
        ))
        .into());
    }
    Ok(users.into_iter().zip(values).collect())
}

/// Paired significance of `a` against `b` on one per-user metric (spec
/// §3): the Wilcoxon signed-rank test (two-sided) and a seeded paired
/// bootstrap interval of the mean per-user difference a − b, exactly as
/// `seqrec reproduce` computes them. `a` and `b`: results of
/// `evaluate(..., per_user=True)` on the same dataset and split (or their
/// `per_user` dicts). Returns a dict: `metric`, `users`, `mean_a`,
/// `mean_b`, `p_value`, `interval` (low, high), and the full `wilcoxon`
/// and `bootstrap` records.
#[pyfunction]
#[pyo3(signature = (a, b, metric="mrr@20", resamples=10_000, confidence=0.95, seed=2017))]
pub fn compare<'py>(
    py: Python<'py>,
    a: &Bound<'py, PyAny>,
    b: &Bound<'py, PyAny>,
    metric: &str,
    resamples: usize,
    confidence: f64,
    seed: u64,
) -> PyResult<Bound<'py, PyAny>> {
    let (ua, ub) = (
        per_user_column(a, metric, "a")?,
        per_user_column(b, metric, "b")?,
    );
    let settings = SignificanceSettings {
        resamples,
        confidence,
        seed,
        ..SignificanceSettings::default()
    };
    let test = py
        .detach(|| seqrec_runner::report::paired_test(&ua, &ub, &settings))
        .map_err(|m| Failure::new(Kind::BadInput, m))?;
    let out = serde_to_py(py, &test)?;
    out.set_item("metric", metric)?;
    out.set_item("p_value", test.wilcoxon.p_value)?;
    out.set_item("interval", (test.bootstrap.low, test.bootstrap.high))?;
    Ok(out)
}
