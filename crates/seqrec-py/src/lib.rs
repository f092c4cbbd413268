//! `seqrec` for Python: seqrec's data, its nine methods and its exact
//! evaluation protocol as a Python module (pyo3, stable ABI, built with
//! maturin; `pip install ./crates/seqrec-py`).
//!
//! The crate adds no logic of its own beyond conversions: datasets load
//! through `seqrec_data::load`, models train and save through
//! `seqrec_runner::model_dir` (the CLI's self-contained model directory),
//! evaluation is `seqrec_metrics::evaluate` and the significance tests are
//! the runner's. Modules, bottom up:
//!
//! - `convert`: Python values ↔ JSON/TOML, NumPy arrays (leaf).
//! - `errors`: seqrec's errors as Python exceptions (`ValueError` for bad
//!   input, `FileNotFoundError` for missing files, `KeyboardInterrupt` for a
//!   cancelled run, `RuntimeError` otherwise).
//! - `runtime`: the thread pool of `set_num_threads`, and running long work
//!   on a worker thread while Python keeps its signals (Ctrl-C) and draws
//!   progress.
//! - `dataset`: `load` and `Dataset`.
//! - `queries`: the requests of `Model.score` from Python arguments.
//! - `model`: `fit` and `Model` (save, load, score, recommend).
//! - `evaluation`: `evaluate` (a `Model` or any Python callable) and
//!   `compare`.
//! - `tuning`: `tune` (a resumable hyperparameter search on validation).

mod convert;
mod dataset;
mod errors;
mod evaluation;
mod model;
mod queries;
mod runtime;
mod tuning;

use pyo3::prelude::*;

/// Sets the number of worker threads seqrec uses for training, scoring and
/// evaluation (default: one per core). Takes effect for the next call.
#[pyfunction]
fn set_num_threads(n: usize) -> PyResult<()> {
    runtime::set_num_threads(n)
}

/// The number of worker threads seqrec uses now.
#[pyfunction]
fn get_num_threads() -> usize {
    runtime::num_threads()
}

/// The native part of the `seqrec` package (import `seqrec`, not this).
#[pymodule]
#[pyo3(name = "_seqrec")]
fn seqrec_module(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    let py = m.py();
    m.add("SeqrecError", py.get_type::<errors::SeqrecError>())?;
    let types = errors::error_types(py)?;
    m.add("SeqrecValueError", types.value.bind(py))?;
    m.add("SeqrecFileNotFoundError", types.missing.bind(py))?;
    m.add("SeqrecRuntimeError", types.runtime.bind(py))?;
    m.add(
        "METHODS",
        seqrec_runner::Method::ALL
            .iter()
            .map(|m| m.name())
            .collect::<Vec<_>>(),
    )?;
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(dataset::load, m)?)?;
    m.add_class::<dataset::PyDataset>()?;
    m.add_function(wrap_pyfunction!(model::fit, m)?)?;
    m.add_class::<model::PyModel>()?;
    m.add_function(wrap_pyfunction!(evaluation::evaluate, m)?)?;
    m.add_function(wrap_pyfunction!(evaluation::compare, m)?)?;
    m.add_function(wrap_pyfunction!(tuning::tune, m)?)?;
    Ok(())
}
