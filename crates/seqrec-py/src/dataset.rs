//! `seqrec.load` and `seqrec.Dataset`: a dataset loaded, numbered and split
//! exactly as the CLI does it (the same pipeline, options and cache).

use crate::convert::{array1, dict_to_toml, path_arg, serde_to_py};
use crate::errors::{Failure, Result};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use seqrec_core::{Part, UserId, Vocabulary};
use seqrec_data::{Dataset, DatasetName, DatasetOptions, DatasetStats, LoadRequest, Titles};
use std::sync::Arc;

/// A loaded dataset: every user's chronological events, split 90/5/5 per
/// user (specification §2.5), with the way back to the original ids.
#[derive(Debug)]
#[pyclass(name = "Dataset", module = "seqrec", frozen)]
pub struct PyDataset {
    pub data: Arc<Dataset>,
    /// The options it was loaded with (a fitted model records them).
    pub options: DatasetOptions,
    pub titles: Option<Arc<Titles>>,
}

/// The split part a name means (`train`, `validation`, `test`).
pub fn parse_part(name: &str) -> Result<Part> {
    // The names are `Part::name`'s, so files, the CLI and Python agree.
    [Part::Train, Part::Validation, Part::Test]
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| {
            Failure::bad_input(format!(
                "unknown split `{name}`; one of: train, validation, test"
            ))
        })
}

/// Loads a dataset by name (`ml-100k`, `ml-latest-small`, `ml-10m`,
/// `lastfm-1k`, `synthetic-movielens`, `synthetic-lastfm`) or table path
/// (`.csv`, `.tsv`, `.parquet`), exactly as `seqrec data stats --dataset`
/// does: the same readers, numbering, split and cache.
///
/// `data_dir`: the data root (default: `$SEQREC_DATA_DIR`, else
/// `datasets/`). `options`: the loading options as a dict with the keys of
/// the TOML options file (`{"split": {"min_train": 3}}`, ...); unknown keys
/// are an error. `cache`: read and write the cache of preprocessed splits
/// (`$SEQREC_CACHE_DIR`, else `~/.cache/seqrec`).
#[pyfunction]
#[pyo3(signature = (dataset, data_dir=None, options=None, cache=true))]
pub fn load(
    py: Python<'_>,
    dataset: &Bound<'_, PyAny>,
    data_dir: Option<&Bound<'_, PyAny>>,
    options: Option<&Bound<'_, PyAny>>,
    cache: bool,
) -> PyResult<PyDataset> {
    let name = path_arg(dataset)?.to_string_lossy().into_owned();
    let data_dir = data_dir.map(path_arg).transpose()?;
    let options = match options {
        None => DatasetOptions::default(),
        Some(dict) => {
            let text = dict_to_toml(dict).map_err(|e| e.context("options"))?;
            DatasetOptions::from_toml(&text).map_err(|e| Failure::from(e).context("options"))?
        }
    };
    let request = LoadRequest {
        data_dir: seqrec_data::resolve_data_dir(data_dir.as_deref()),
        options: options.clone(),
        cache_dir: cache.then(|| seqrec_data::resolve_cache_dir(None)),
    };
    let (data, titles) = py.detach(|| -> Result<_> {
        let parsed = DatasetName::parse(&name)?;
        let data = crate::runtime::in_pool(|| seqrec_data::load(&parsed, &request))?;
        let titles = match parsed {
            DatasetName::Table(_) => None,
            named => seqrec_data::read_titles(&named, &request.data_dir)?,
        };
        Ok((data, titles))
    })?;
    Ok(PyDataset {
        data: Arc::new(data),
        options,
        titles: titles.map(Arc::new),
    })
}

/// Original ids as a NumPy array: int64 for integer ids, else an object
/// array of str.
fn original_ids<'py>(
    py: Python<'py>,
    vocab: &Vocabulary,
    indices: impl Iterator<Item = usize>,
) -> PyResult<Vec<(&'static str, Bound<'py, PyAny>)>> {
    Ok(match vocab {
        Vocabulary::Integer(keys) => {
            vec![(
                "",
                array1(py, indices.map(|i| keys[i]).collect()).into_any(),
            )]
        }
        Vocabulary::Text(keys) => {
            let list: Vec<&str> = indices.map(|i| keys[i].as_str()).collect();
            vec![("", object_array(py, list)?)]
        }
        Vocabulary::Pair(keys) => {
            let indices: Vec<usize> = indices.collect();
            let first: Vec<&str> = indices.iter().map(|&i| keys[i].0.as_str()).collect();
            let second: Vec<&str> = indices.iter().map(|&i| keys[i].1.as_str()).collect();
            vec![
                ("artist", object_array(py, first)?),
                ("track", object_array(py, second)?),
            ]
        }
    })
}

/// A NumPy object array of Python str.
fn object_array<'py>(py: Python<'py>, values: Vec<&str>) -> PyResult<Bound<'py, PyAny>> {
    let list = PyList::new(py, values)?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("dtype", "object")?;
    py.import("numpy")?
        .getattr("array")?
        .call((list,), Some(&kwargs))
}

#[pymethods]
impl PyDataset {
    /// The dataset's name (or the table's path).
    #[getter]
    fn name(&self) -> &str {
        &self.data.name
    }

    /// Users after preprocessing.
    #[getter]
    fn n_users(&self) -> usize {
        self.data.split.users()
    }

    /// Items of the training catalogue (the items every model ranks).
    #[getter]
    fn n_items(&self) -> usize {
        self.data.split.catalogue_size()
    }

    /// What `seqrec data stats --json` prints, as a dict.
    fn stats<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        serde_to_py(py, &DatasetStats::of(&self.data))
    }

    /// The events as a dict of NumPy arrays, the columns of `seqrec data
    /// export`: `user` and `item` (original ids; `artist` and `track` for
    /// LastFM's pair key), `timestamp`, `split`, `user_index`, `item_index`
    /// (the dense indices models use) and `position` (the event's index in
    /// its user's sequence). Rows are grouped by user, in sequence order.
    /// `split`: only `"train"`, `"validation"` or `"test"` events.
    #[pyo3(signature = (split=None))]
    fn events<'py>(&self, py: Python<'py>, split: Option<&str>) -> PyResult<Bound<'py, PyDict>> {
        let only = split.map(parse_part).transpose()?;
        let s = &self.data.split;
        let (mut users, mut items, mut times, mut parts, mut positions) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for u in 0..s.users() {
            let user = UserId(u as u32);
            for part in [Part::Train, Part::Validation, Part::Test] {
                if only.is_some_and(|o| o != part) {
                    continue;
                }
                for p in s.range(user, part) {
                    users.push(u as i64);
                    items.push(i64::from(s.sequences().items(user)[p].0));
                    times.push(s.sequences().timestamps(user)[p]);
                    parts.push(part.name());
                    positions.push(p as i64);
                }
            }
        }
        let out = PyDict::new(py);
        let user_ids = original_ids(py, &self.data.users, users.iter().map(|&u| u as usize))?;
        for (suffix, column) in user_ids {
            out.set_item(if suffix.is_empty() { "user" } else { suffix }, column)?;
        }
        let item_ids = original_ids(py, &self.data.items, items.iter().map(|&i| i as usize))?;
        for (suffix, column) in item_ids {
            out.set_item(if suffix.is_empty() { "item" } else { suffix }, column)?;
        }
        out.set_item("timestamp", array1(py, times))?;
        out.set_item("split", object_array(py, parts)?)?;
        out.set_item("user_index", array1(py, users))?;
        out.set_item("item_index", array1(py, items))?;
        out.set_item("position", array1(py, positions))?;
        Ok(out)
    }

    /// The original user ids by user index (NumPy array).
    fn user_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        single_column(py, &self.data.users)
    }

    /// The original item ids by item index (NumPy array; for LastFM's pair
    /// key, `"artist - track"` labels).
    fn item_ids<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        single_column(py, &self.data.items)
    }

    /// Item titles by original item id (str), where the dataset has them
    /// (MovieLens); `None` otherwise.
    fn titles<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        let Some(titles) = &self.titles else {
            return Ok(None);
        };
        let out = PyDict::new(py);
        for (item, title) in titles.iter() {
            out.set_item(item, title)?;
        }
        Ok(Some(out))
    }

    /// The events as a `pandas.DataFrame` (needs pandas).
    #[pyo3(signature = (split=None))]
    fn to_pandas<'py>(&self, py: Python<'py>, split: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let frame = optional_module(py, "pandas", "to_pandas")?.getattr("DataFrame")?;
        frame.call1((self.events(py, split)?,))
    }

    /// The events as a `polars.DataFrame` (needs polars).
    #[pyo3(signature = (split=None))]
    fn to_polars<'py>(&self, py: Python<'py>, split: Option<&str>) -> PyResult<Bound<'py, PyAny>> {
        let events = self.events(py, split)?;
        // polars reads object arrays of str best as lists.
        for column in ["user", "item", "artist", "track", "split"] {
            if let Some(values) = events.get_item(column)?
                && values.getattr("dtype")?.str()? == "object"
            {
                events.set_item(column, values.call_method0("tolist")?)?;
            }
        }
        optional_module(py, "polars", "to_polars")?
            .getattr("DataFrame")?
            .call1((events,))
    }

    fn __repr__(&self) -> String {
        format!(
            "Dataset('{}': {} users, {} items, {} events)",
            self.data.name,
            self.data.split.users(),
            self.data.split.catalogue_size(),
            self.data.split.sequences().events()
        )
    }

    fn __len__(&self) -> usize {
        self.data.split.sequences().events()
    }
}

fn single_column<'py>(py: Python<'py>, vocab: &Vocabulary) -> PyResult<Bound<'py, PyAny>> {
    match vocab {
        Vocabulary::Integer(keys) => Ok(array1(py, keys.clone()).into_any()),
        other => {
            let labels: Vec<String> = (0..other.len())
                .map(|i| other.label(i).map(|l| l.into_owned()).unwrap_or_default())
                .collect();
            object_array(py, labels.iter().map(String::as_str).collect())
        }
    }
}

/// An optional dependency, or an ImportError that says what needs it.
fn optional_module<'py>(
    py: Python<'py>,
    name: &str,
    method: &str,
) -> PyResult<Bound<'py, PyModule>> {
    py.import(name).map_err(|_| {
        pyo3::exceptions::PyImportError::new_err(format!(
            "Dataset.{method}() needs {name}: pip install {name}"
        ))
    })
}
