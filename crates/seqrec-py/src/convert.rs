//! Conversions between Python values and seqrec's serde types (through
//! JSON values: a dict of options or settings becomes the TOML text the CLI
//! reads, so both are validated by the same code with the same messages),
//! and NumPy arrays.

use crate::errors::{Failure, Result};
use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyDict, PyFloat, PyInt, PyList, PyString, PyTuple};
use serde_json::Value;

/// A Python value as JSON: `None`, bool, int, float, str, list/tuple and
/// dict with str keys.
pub fn to_json(value: &Bound<'_, PyAny>) -> Result<Value> {
    if value.is_none() {
        return Ok(Value::Null);
    }
    if value.is_instance_of::<PyBool>() {
        return Ok(Value::Bool(value.extract::<bool>().map_err(bad)?));
    }
    if value.is_instance_of::<PyInt>() {
        return Ok(Value::from(value.extract::<i64>().map_err(bad)?));
    }
    if value.is_instance_of::<PyFloat>() {
        let x = value.extract::<f64>().map_err(bad)?;
        return serde_json::Number::from_f64(x)
            .map(Value::Number)
            .ok_or_else(|| Failure::bad_input(format!("{x} is not a finite number")));
    }
    if value.is_instance_of::<PyString>() {
        return Ok(Value::String(value.extract::<String>().map_err(bad)?));
    }
    if value.is_instance_of::<PyList>() || value.is_instance_of::<PyTuple>() {
        let mut items = Vec::new();
        for item in value.try_iter().map_err(bad)? {
            items.push(to_json(&item.map_err(bad)?)?);
        }
        return Ok(Value::Array(items));
    }
    if let Ok(dict) = value.cast::<PyDict>() {
        let mut map = serde_json::Map::new();
        for (key, item) in dict.iter() {
            let key: String = key.extract().map_err(|_| {
                Failure::bad_input(format!("dictionary keys must be strings, not {key}"))
            })?;
            map.insert(key, to_json(&item)?);
        }
        return Ok(Value::Object(map));
    }
    // NumPy scalars (np.int64(3), np.float32(0.5), np.bool_) and arrays
    // (as lists) are what they hold.
    if value.hasattr("dtype").unwrap_or(false) {
        let ndim: usize = value
            .getattr("ndim")
            .and_then(|n| n.extract())
            .map_err(bad)?;
        let plain = value
            .call_method0(if ndim == 0 { "item" } else { "tolist" })
            .map_err(bad)?;
        if !plain.hasattr("dtype").unwrap_or(false) {
            return to_json(&plain);
        }
    }
    Err(Failure::bad_input(format!(
        "cannot use a value of type {} here (expected None, bool, int, float, str, list or dict)",
        value
            .get_type()
            .name()
            .map(|n| n.to_string())
            .unwrap_or_default()
    )))
}

fn bad(e: PyErr) -> Failure {
    Failure::bad_input(e.to_string())
}

/// A dict as the TOML text of the same tables (None is left out: TOML has
/// no null).
pub fn dict_to_toml(value: &Bound<'_, PyAny>) -> Result<String> {
    let json = to_json(value)?;
    if !json.is_object() {
        return Err(Failure::bad_input("expected a dict"));
    }
    let toml_value: toml::Value =
        serde_json::from_value(strip_nulls(json)).map_err(|e| Failure::bad_input(e.to_string()))?;
    toml::to_string(&toml_value).map_err(|e| Failure::bad_input(e.to_string()))
}

fn strip_nulls(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k, strip_nulls(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_nulls).collect()),
        other => other,
    }
}

/// A JSON value as Python objects (objects become dicts).
pub fn to_py<'py>(py: Python<'py>, value: &Value) -> PyResult<Bound<'py, PyAny>> {
    Ok(match value {
        Value::Null => py.None().into_bound(py),
        Value::Bool(b) => PyBool::new(py, *b).to_owned().into_any(),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => i.into_pyobject(py)?.into_any(),
            (None, Some(u)) => u.into_pyobject(py)?.into_any(),
            _ => n.as_f64().unwrap_or(f64::NAN).into_pyobject(py)?.into_any(),
        },
        Value::String(s) => PyString::new(py, s).into_any(),
        Value::Array(items) => {
            let list = PyList::empty(py);
            for item in items {
                list.append(to_py(py, item)?)?;
            }
            list.into_any()
        }
        Value::Object(map) => {
            let dict = PyDict::new(py);
            for (key, item) in map {
                dict.set_item(key, to_py(py, item)?)?;
            }
            dict.into_any()
        }
    })
}

/// Any serde value as Python objects.
pub fn serde_to_py<'py>(
    py: Python<'py>,
    value: &impl serde::Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let json = serde_json::to_value(value)
        .map_err(|e| pyo3::exceptions::PyRuntimeError::new_err(e.to_string()))?;
    to_py(py, &json)
}

/// A vector as a one-dimensional NumPy array (moved, not copied).
pub fn array1<'py, T: numpy::Element>(py: Python<'py>, values: Vec<T>) -> Bound<'py, PyArray1<T>> {
    values.into_pyarray(py)
}

/// A path argument: `str` or any `os.PathLike`.
pub fn path_arg(value: &Bound<'_, PyAny>) -> Result<std::path::PathBuf> {
    value
        .extract::<std::path::PathBuf>()
        .map_err(|_| Failure::bad_input("expected a path (str or os.PathLike)"))
}
