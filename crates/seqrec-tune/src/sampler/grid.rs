//! The grid: every combination of the space's values, in key order with
//! the last key changing fastest.

use crate::TuneError;
use crate::space::{Params, Space};

/// How many points the grid has (an error names a continuous range).
pub(super) fn points(space: &Space) -> Result<u64, TuneError> {
    let mut total: u64 = 1;
    for (key, d) in &space.params {
        let values = d.grid_values().ok_or_else(|| {
            TuneError::config(
                format!("[tune.space.{}] {key}", space.table.name()),
                "the grid sampler needs a step (or a choice of values) for every float range",
            )
        })?;
        total = total.saturating_mul(values.len() as u64);
    }
    Ok(total)
}

/// Point `index` of the grid (`None` past its end).
pub(super) fn point(space: &Space, index: u64) -> Result<Option<Params>, TuneError> {
    if index >= points(space)? {
        return Ok(None);
    }
    let mut rest = index;
    let mut params = Params::new();
    for (key, d) in space.params.iter().rev() {
        let values = d.grid_values().unwrap_or_default();
        let n = values.len() as u64;
        params.insert(key.clone(), values[(rest % n) as usize].clone());
        rest /= n;
    }
    Ok(Some(params))
}
