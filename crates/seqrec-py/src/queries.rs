//! The scoring requests of `Model.score`, built from Python arguments.

use crate::errors::{Failure, Result};
use numpy::PyReadonlyArray1;
use pyo3::prelude::*;
use seqrec_baselines::Baseline;
use seqrec_core::{ItemId, Query, UserId};
use seqrec_runner::Method;
use seqrec_runner::model_dir::LoadedModel;

/// One scoring request with owned data (histories given from Python).
pub struct OwnedQuery {
    pub user: UserId,
    pub history: Vec<ItemId>,
    pub times: Vec<i64>,
}

/// One array (or list) of integers, held to the CLI's standard: floats,
/// booleans and unsigned values past `i64` are errors, never truncated or
/// wrapped; any strides (a slice `a[::2]`) work.
fn int_array(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> Result<Vec<i64>> {
    let bad = |m: String| Failure::bad_input(format!("{what}: {m}"));
    let numpy = py.import("numpy").map_err(|e| bad(e.to_string()))?;
    let array = numpy
        .call_method1("asarray", (value,))
        .map_err(|e| bad(e.to_string()))?;
    let attr = |name: &str| array.getattr(name).map_err(|e| bad(e.to_string()));
    let ndim: usize = attr("ndim")?
        .extract::<usize>()
        .map_err(|e| bad(e.to_string()))?;
    if ndim != 1 {
        return Err(bad(format!(
            "expected a one-dimensional array or list of integers, got {ndim} dimensions"
        )));
    }
    let size: usize = attr("size")?
        .extract::<usize>()
        .map_err(|e| bad(e.to_string()))?;
    if size == 0 {
        return Ok(Vec::new());
    }
    let dtype = attr("dtype")?;
    let kind: String = dtype
        .getattr("kind")
        .and_then(|k| k.extract())
        .map_err(|e| bad(e.to_string()))?;
    match kind.as_str() {
        "i" => {}
        "u" => {
            let max: u64 = array
                .call_method0("max")
                .and_then(|m| m.extract())
                .map_err(|e| bad(e.to_string()))?;
            if max > i64::MAX as u64 {
                return Err(bad(format!("{max} is out of range")));
            }
        }
        "f" | "c" => {
            return Err(bad(format!(
                "expected integers, got {dtype} values (indices are never rounded or truncated)"
            )));
        }
        "b" => return Err(bad("expected integers, got booleans".into())),
        _ => return Err(bad(format!("expected integers, got {dtype} values"))),
    }
    numpy
        .call_method1("ascontiguousarray", (array, "int64"))
        .and_then(|a| {
            Ok(a.extract::<PyReadonlyArray1<'_, i64>>()?
                .as_slice()?
                .to_vec())
        })
        .map_err(|e| bad(e.to_string()))
}

/// A list of arrays (or lists) of integers.
fn int_arrays(py: Python<'_>, value: &Bound<'_, PyAny>, what: &str) -> Result<Vec<Vec<i64>>> {
    let items = value
        .try_iter()
        .map_err(|_| Failure::bad_input(format!("{what}: expected a list of integer arrays")))?;
    items
        .enumerate()
        .map(|(i, item)| {
            let item = item.map_err(|e| Failure::bad_input(e.to_string()))?;
            int_array(py, &item, &format!("{what}[{i}]"))
        })
        .collect()
}

impl OwnedQuery {
    pub fn as_query(&self) -> Query<'_> {
        Query {
            user: self.user,
            history: &self.history,
            times: &self.times,
        }
    }
}

/// The requests of `Model.score` (see its docstring): every or the given
/// user after their stored history, or after histories given from Python,
/// each item index and time checked against the model's data.
pub fn queries(
    py: Python<'_>,
    model: &LoadedModel,
    users: Option<&Bound<'_, PyAny>>,
    histories: Option<&Bound<'_, PyAny>>,
    times: Option<&Bound<'_, PyAny>>,
) -> Result<Vec<OwnedQuery>> {
    let data = &model.data;
    let sequences = data.split.sequences();
    let (n_users, n_items) = (data.split.users(), data.split.catalogue_size());
    let users: Vec<usize> = match users {
        None if histories.is_some() => {
            return Err(Failure::bad_input(
                "histories need users (one user index per history)",
            ));
        }
        None => (0..n_users).collect(),
        Some(users) => int_array(py, users, "users")?
            .into_iter()
            .map(|u| {
                usize::try_from(u)
                    .ok()
                    .filter(|&u| u < n_users)
                    .ok_or_else(|| {
                        Failure::bad_input(format!("user index {u} is outside 0..{n_users}"))
                    })
            })
            .collect::<Result<_>>()?,
    };
    let Some(histories) = histories else {
        if times.is_some() {
            return Err(Failure::bad_input("times go with histories"));
        }
        return Ok(users
            .into_iter()
            .map(|u| {
                let user = UserId(u as u32);
                OwnedQuery {
                    user,
                    history: sequences.items(user).to_vec(),
                    times: sequences.timestamps(user).to_vec(),
                }
            })
            .collect());
    };
    let histories = int_arrays(py, histories, "histories")?;
    if histories.len() != users.len() {
        return Err(Failure::bad_input(format!(
            "{} histories for {} users",
            histories.len(),
            users.len()
        )));
    }
    let times = match times {
        Some(times) => int_arrays(py, times, "times")?,
        None if model.saved.method == Method::Baseline(Baseline::DecayKnn) => {
            return Err(Failure::bad_input(
                "decay-knn weighs a history by the age of its events: pass times (Unix seconds) with histories",
            ));
        }
        None => histories.iter().map(|h| vec![0; h.len()]).collect(),
    };
    users
        .into_iter()
        .zip(histories)
        .zip(times)
        .enumerate()
        .map(|(i, ((u, history), times))| {
            if times.len() != history.len() {
                return Err(Failure::bad_input(format!(
                    "times[{i}] has {} entries for {} history items",
                    times.len(),
                    history.len()
                )));
            }
            let history = history
                .into_iter()
                .map(|item| {
                    u32::try_from(item)
                        .ok()
                        .filter(|&item| (item as usize) < n_items)
                        .map(ItemId)
                        .ok_or_else(|| {
                            Failure::bad_input(format!(
                                "histories[{i}]: item index {item} is outside 0..{n_items}"
                            ))
                        })
                })
                .collect::<Result<_>>()?;
            Ok(OwnedQuery {
                user: UserId(u as u32),
                history,
                times,
            })
        })
        .collect()
}
