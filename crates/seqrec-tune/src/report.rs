//! A study's outputs, rebuilt from its trials at any time: `trials.csv`
//! (one row per trial number), `trials.json`, `best.toml` (a settings file
//! that works as `--config`) and the plots; plus the warnings a person
//! should see (the best value on the edge of its range).

use crate::TuneError;
use crate::space::{Params, SettingsTable, Space};
use crate::store::StudyDefinition;
use crate::trial::{TrialRecord, TrialState, best};
use seqrec_runner::config::MethodSettings;
use serde::Serialize;
use std::fmt::Write as _;
use std::path::Path;

/// What `trials.json` holds.
#[derive(Debug, Serialize)]
pub struct StudySummary<'a> {
    pub study: &'a StudyDefinition,
    pub trials_finished: usize,
    pub complete: usize,
    pub pruned: usize,
    pub failed: usize,
    pub best: Option<&'a TrialRecord>,
    pub warnings: Vec<String>,
    pub trials: &'a [TrialRecord],
}

/// Warnings about the best trial: each value on an end of its range.
pub fn boundary_warnings(space: &Space, trials: &[TrialRecord]) -> Vec<String> {
    let Some(best) = best(trials) else {
        return Vec::new();
    };
    space
        .params
        .iter()
        .filter_map(|(key, d)| {
            let value = best.params.get(key)?;
            let end = d.on_boundary(value)?;
            Some(format!(
                "the best {key} ({value}) lies on the {end} of its range; a wider range may find better settings"
            ))
        })
        .collect()
}

/// Writes every output into `out` and returns the warnings.
pub fn write_outputs(
    out: &Path,
    definition: &StudyDefinition,
    space: &Space,
    base: &MethodSettings,
    trials: &[TrialRecord],
) -> Result<Vec<String>, TuneError> {
    std::fs::create_dir_all(out).map_err(|e| TuneError::io(out, e))?;
    let warnings = boundary_warnings(space, trials);
    write(&out.join("trials.csv"), &trials_csv(space, trials))?;
    let count = |s: TrialState| trials.iter().filter(|t| t.state == s).count();
    let summary = StudySummary {
        study: definition,
        trials_finished: trials.iter().filter(|t| t.state.is_finished()).count(),
        complete: count(TrialState::Complete),
        pruned: count(TrialState::Pruned),
        failed: count(TrialState::Failed),
        best: best(trials),
        warnings: warnings.clone(),
        trials,
    };
    let json = serde_json::to_string_pretty(&summary)
        .map_err(|e| TuneError::io(&out.join("trials.json"), e))?;
    write(&out.join("trials.json"), &json)?;
    if let Some(best) = best(trials) {
        let text = best_toml(definition, space, base, best)?;
        write(&out.join("best.toml"), &text)?;
    }
    crate::plots::write_plots(&out.join("plots"), definition, space, trials)?;
    Ok(warnings)
}

fn write(path: &Path, text: &str) -> Result<(), TuneError> {
    seqrec_core::fs::write_atomic(path, text.as_bytes()).map_err(|e| TuneError::io(path, e))
}

/// One row per trial: `number,state,value`, the parameters in key order,
/// then attempts, timings and the error of a failed trial.
pub fn trials_csv(space: &Space, trials: &[TrialRecord]) -> String {
    let mut text = String::from("number,state,value");
    for key in space.params.keys() {
        text.push(',');
        text.push_str(&csv_field(key));
    }
    text.push_str(",attempts,fit_seconds,eval_seconds,started,finished,error\n");
    for t in trials {
        let _ = write!(
            text,
            "{},{},{}",
            t.number,
            t.state.name(),
            t.value.map(|v| v.to_string()).unwrap_or_default()
        );
        for key in space.params.keys() {
            text.push(',');
            text.push_str(&csv_field(&plain(t.params.get(key))));
        }
        let _ = writeln!(
            text,
            ",{},{},{},{},{},{}",
            t.attempts,
            t.fit_seconds.map(|v| format!("{v:.3}")).unwrap_or_default(),
            t.eval_seconds
                .map(|v| format!("{v:.3}"))
                .unwrap_or_default(),
            iso8601(t.started_ms),
            t.finished_ms.map(iso8601).unwrap_or_default(),
            csv_field(t.error.as_deref().unwrap_or_default())
        );
    }
    text
}

/// A value as a cell: strings without their JSON quotes.
fn plain(value: Option<&serde_json::Value>) -> String {
    match value {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(v) => v.to_string(),
        None => String::new(),
    }
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

/// `2026-12-04T20:30:00Z` from milliseconds since the epoch.
fn iso8601(ms: u64) -> String {
    seqrec_data::formats::format_iso8601((ms / 1000) as i64)
}

/// The best trial's complete settings as a settings file.
pub fn best_toml(
    definition: &StudyDefinition,
    space: &Space,
    base: &MethodSettings,
    best: &TrialRecord,
) -> Result<String, TuneError> {
    let settings = space
        .apply(base, &best.params)
        .map_err(|message| TuneError::Trial {
            number: best.number,
            message,
        })?;
    let mut table = toml::Table::new();
    if let Some(options) = &settings.options {
        table.insert("options".into(), to_value(options)?);
    }
    match space.table {
        SettingsTable::Gru => {
            table.insert("gru".into(), to_value(&settings.gru)?);
        }
        SettingsTable::Baseline(_) => {
            let all = to_value(&settings.baselines)?;
            let own = all
                .get(space.table.name())
                .cloned()
                .unwrap_or(toml::Value::Table(toml::Table::new()));
            let mut baselines = toml::Table::new();
            baselines.insert(space.table.name(), own);
            table.insert("baselines".into(), toml::Value::Table(baselines));
        }
    }
    let body =
        toml::to_string(&table).map_err(|e| TuneError::config("best.toml", e.to_string()))?;
    let mut header = format!(
        "# The best settings of study `{}`: {} on {}, validation {} = {} (trial {}).\n# Use it as `--config` of evaluate, train or tune. Tuned keys: {}.\n",
        definition.name,
        definition.method,
        definition.dataset,
        definition.metric,
        best.value.map(|v| format!("{v:.6}")).unwrap_or_default(),
        best.number,
        space.params.keys().cloned().collect::<Vec<_>>().join(", ")
    );
    header.push('\n');
    Ok(header + &body)
}

fn to_value<T: Serialize>(value: &T) -> Result<toml::Value, TuneError> {
    toml::Value::try_from(value).map_err(|e| TuneError::config("best.toml", e.to_string()))
}

/// The space's values of a trial, one line (for logs and summaries).
pub fn describe(params: &Params) -> String {
    params
        .iter()
        .map(|(k, v)| format!("{k} = {}", plain(Some(v))))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_by_hand() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00Z");
        // 2026-12-04T20:30:00Z = 1796416200 s.
        assert_eq!(iso8601(1_796_416_200_000), "2026-12-04T20:30:00Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00Z");
    }

    #[test]
    fn csv_fields_are_quoted_where_needed() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"x\""), "\"say \"\"x\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
