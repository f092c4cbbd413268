//! Search spaces: `[tune.space.<table>]` of a preset or settings file, one
//! entry per hyperparameter, checked against the settings they vary, and
//! applied to those settings to give a trial's [`MethodSettings`].
//!
//! A table is named like the settings it varies: `gru` for `[gru]` (all
//! four GRUs), `item_knn`, `decay_knn`, `bpr_mf`, `seq_mf` for
//! `[baselines.*]`. Keys of nested settings are dotted (`"sgd.epochs"`).

use crate::TuneError;
use seqrec_baselines::{Baseline, BaselineParams};
use seqrec_models::GruParams;
use seqrec_runner::Method;
use seqrec_runner::config::MethodSettings;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One hyperparameter's value in a trial (JSON, as stored).
pub type ParamValue = serde_json::Value;

/// A trial's values by key (sorted by key, as the space is).
pub type Params = BTreeMap<String, ParamValue>;

/// How a numeric range is explored.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Scale {
    #[default]
    Linear,
    /// Uniform in the logarithm (learning rates, regularisation).
    Log,
}

/// The values one hyperparameter may take.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum Distribution {
    /// Integers `min, min + step, ..., max`.
    Int {
        min: i64,
        max: i64,
        #[serde(default = "one")]
        step: i64,
        #[serde(default)]
        scale: Scale,
    },
    /// Reals in `[min, max]`, on a grid of `step` where one is given.
    Float {
        min: f64,
        max: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        step: Option<f64>,
        #[serde(default)]
        scale: Scale,
    },
    /// One of a list of values (numbers, strings or booleans).
    Choice { values: Vec<ParamValue> },
}

fn one() -> i64 {
    1
}

impl Distribution {
    /// Checks the definition itself (not yet against the settings).
    fn validate(&self) -> Result<(), String> {
        match *self {
            Distribution::Int {
                min,
                max,
                step,
                scale,
            } => {
                if min > max {
                    return Err(format!("empty range: min {min} is above max {max}"));
                }
                if step < 1 {
                    return Err(format!("step must be at least 1, got {step}"));
                }
                if (max - min) % step != 0 {
                    return Err(format!(
                        "max - min ({}) must be a multiple of step {step}",
                        max - min
                    ));
                }
                if scale == Scale::Log && min < 1 {
                    return Err(format!("a log scale needs min >= 1, got {min}"));
                }
                if scale == Scale::Log && step != 1 {
                    return Err("a log scale cannot have a step".into());
                }
            }
            Distribution::Float {
                min,
                max,
                step,
                scale,
            } => {
                if !(min.is_finite() && max.is_finite()) {
                    return Err("min and max must be finite numbers".into());
                }
                if min > max {
                    return Err(format!("empty range: min {min} is above max {max}"));
                }
                if scale == Scale::Log && min <= 0.0 {
                    return Err(format!("a log scale needs min > 0, got {min}"));
                }
                if let Some(step) = step {
                    if !(step.is_finite() && step > 0.0) {
                        return Err(format!("step must be positive, got {step}"));
                    }
                    if scale == Scale::Log {
                        return Err("a log scale cannot have a step".into());
                    }
                    let steps = (max - min) / step;
                    if (steps - steps.round()).abs() > 1e-9 * steps.max(1.0) {
                        return Err(format!(
                            "max - min ({}) must be a multiple of step {step}",
                            max - min
                        ));
                    }
                }
            }
            Distribution::Choice { ref values } => {
                if values.is_empty() {
                    return Err("a choice needs at least one value".into());
                }
                if values.iter().any(|v| v.is_array() || v.is_object()) {
                    return Err("choice values must be numbers, strings or booleans".into());
                }
            }
        }
        Ok(())
    }

    /// Whether a numeric range is explored in its logarithm.
    pub fn is_log(&self) -> bool {
        matches!(
            self,
            Distribution::Int {
                scale: Scale::Log,
                ..
            } | Distribution::Float {
                scale: Scale::Log,
                ..
            }
        )
    }

    /// Whether the value is drawn from numbers (TPE models it as such).
    pub fn is_numeric(&self) -> bool {
        !matches!(self, Distribution::Choice { .. })
    }

    /// The interval in which samplers work for a numeric distribution: the
    /// logarithm for a log scale; widened by half a step on each side for a
    /// grid of values, so that rounding gives each value an equal share.
    pub fn internal_bounds(&self) -> Option<(f64, f64)> {
        match *self {
            Distribution::Int {
                min,
                max,
                step,
                scale,
            } => Some(match scale {
                Scale::Linear => (
                    min as f64 - step as f64 / 2.0,
                    max as f64 + step as f64 / 2.0,
                ),
                Scale::Log => ((min as f64 - 0.5).ln(), (max as f64 + 0.5).ln()),
            }),
            Distribution::Float {
                min,
                max,
                step,
                scale,
            } => Some(match (scale, step) {
                (Scale::Log, _) => (min.ln(), max.ln()),
                (Scale::Linear, Some(step)) => (min - step / 2.0, max + step / 2.0),
                (Scale::Linear, None) => (min, max),
            }),
            Distribution::Choice { .. } => None,
        }
    }

    /// A value as a sampler sees it (`None`: not a value of this
    /// distribution's kind).
    pub fn to_internal(&self, value: &ParamValue) -> Option<f64> {
        let x = value.as_f64()?;
        match self {
            Distribution::Int {
                scale: Scale::Log, ..
            }
            | Distribution::Float {
                scale: Scale::Log, ..
            } => (x > 0.0).then(|| x.ln()),
            Distribution::Int { .. } | Distribution::Float { .. } => Some(x),
            Distribution::Choice { .. } => None,
        }
    }

    /// The value of internal point `x`: back from the logarithm, rounded to
    /// the step and kept in range.
    pub fn from_internal(&self, x: f64) -> ParamValue {
        match *self {
            Distribution::Int {
                min,
                max,
                step,
                scale,
            } => {
                let v = if scale == Scale::Log { x.exp() } else { x };
                let k = ((v - min as f64) / step as f64).round();
                let v = (min + (k.max(0.0) as i64) * step).clamp(min, max);
                ParamValue::from(v)
            }
            Distribution::Float {
                min,
                max,
                step,
                scale,
            } => {
                let v = if scale == Scale::Log { x.exp() } else { x };
                let v = match step {
                    Some(step) => min + ((v - min) / step).round() * step,
                    None => v,
                };
                float_value(v.clamp(min, max))
            }
            Distribution::Choice { ref values } => {
                let index = (x.max(0.0) as usize).min(values.len().saturating_sub(1));
                values.get(index).cloned().unwrap_or(ParamValue::Null)
            }
        }
    }

    /// Every value, for the grid sampler (`None`: a continuous range).
    pub fn grid_values(&self) -> Option<Vec<ParamValue>> {
        match *self {
            Distribution::Int { min, max, step, .. } => Some(
                (0..=((max - min) / step))
                    .map(|k| ParamValue::from(min + k * step))
                    .collect(),
            ),
            Distribution::Float {
                min,
                max,
                step: Some(step),
                ..
            } => {
                let n = ((max - min) / step).round() as i64;
                Some(
                    (0..=n)
                        .map(|k| float_value((min + k as f64 * step).min(max)))
                        .collect(),
                )
            }
            Distribution::Float { step: None, .. } => None,
            Distribution::Choice { ref values } => Some(values.clone()),
        }
    }

    /// Whether `value` sits on an end of a numeric range (within one step,
    /// or 1% of the range where there is no step): a hint that the range
    /// may cut off better settings.
    pub fn on_boundary(&self, value: &ParamValue) -> Option<&'static str> {
        let (lo, hi) = self.internal_bounds()?;
        let x = self.to_internal(value)?;
        let margin = match *self {
            Distribution::Int { step, .. } => step as f64 * 0.5 + 1e-9,
            Distribution::Float { step: Some(s), .. } => s * 0.5 + 1e-12,
            _ => 0.0,
        };
        let (lo, hi) = match *self {
            // Back from the half-step widening to the ends themselves.
            Distribution::Int {
                scale: Scale::Linear,
                ..
            }
            | Distribution::Float { step: Some(_), .. } => (lo + margin, hi - margin),
            _ => (lo, hi),
        };
        let tolerance = ((hi - lo) * 0.01).max(1e-12);
        if x <= lo + tolerance {
            Some("min")
        } else if x >= hi - tolerance {
            Some("max")
        } else {
            None
        }
    }
}

/// A float as JSON, rounded to 12 significant digits so that grid values
/// such as 0.1 + 2 × 0.1 read as written.
fn float_value(v: f64) -> ParamValue {
    let rounded: f64 = format!("{v:.12e}").parse().unwrap_or(v);
    ParamValue::from(rounded)
}

/// Which settings a space varies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SettingsTable {
    /// `[gru]`, shared by the four GRUs.
    Gru,
    /// `[baselines.<name>]`.
    Baseline(Baseline),
}

impl SettingsTable {
    /// The table of `method`'s settings; POP has none to tune.
    pub fn of(method: Method) -> Result<Self, TuneError> {
        match method {
            Method::Gru(_) => Ok(SettingsTable::Gru),
            Method::Baseline(Baseline::Pop) => Err(TuneError::config(
                "--method pop",
                "POP has no hyperparameters to tune (it ranks by training counts)",
            )),
            Method::Baseline(b) => Ok(SettingsTable::Baseline(b)),
        }
    }

    /// `gru`, `item_knn`, ...: the name under `[tune.space]`.
    pub fn name(self) -> String {
        match self {
            SettingsTable::Gru => "gru".into(),
            SettingsTable::Baseline(b) => b.name().replace('-', "_"),
        }
    }

    /// How the settings file spells the table (`[gru]`, `[baselines.bpr_mf]`).
    pub fn settings_name(self) -> String {
        match self {
            SettingsTable::Gru => "[gru]".into(),
            SettingsTable::Baseline(_) => format!("[baselines.{}]", self.name()),
        }
    }

    /// Every name a `[tune.space.*]` table may have.
    pub fn all_names() -> Vec<String> {
        std::iter::once(SettingsTable::Gru)
            .chain(
                Baseline::ALL
                    .into_iter()
                    .filter(|b| *b != Baseline::Pop)
                    .map(SettingsTable::Baseline),
            )
            .map(SettingsTable::name)
            .collect()
    }
}

/// The search space of one method: its hyperparameters, by dotted key.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Space {
    pub table: SettingsTable,
    pub params: BTreeMap<String, Distribution>,
}

impl Space {
    /// Reads `[tune.space.<table>]` from the `[tune.space]` table for
    /// `method`, checking each entry against `base` (the settings the
    /// search starts from). Every table is checked, not only the method's,
    /// so a mistake in a shared file is found on the first run.
    pub fn from_tables(
        spaces: &toml::Table,
        method: Method,
        base: &MethodSettings,
    ) -> Result<Space, TuneError> {
        let table = SettingsTable::of(method)?;
        let known = SettingsTable::all_names();
        let mut own = None;
        for (name, value) in spaces {
            let path = format!("[tune.space.{name}]");
            if name == "pop" {
                return Err(TuneError::config(
                    path,
                    "POP has no hyperparameters to tune",
                ));
            }
            let Some(which) = [SettingsTable::Gru]
                .into_iter()
                .chain(Baseline::ALL.into_iter().map(SettingsTable::Baseline))
                .find(|t| t.name() == *name)
            else {
                return Err(TuneError::config(
                    path,
                    format!("no such settings table; known: {}", known.join(", ")),
                ));
            };
            let toml::Value::Table(entries) = value else {
                return Err(TuneError::config(
                    path,
                    "must be a table of hyperparameters",
                ));
            };
            let space = Space::read(which, entries, base)?;
            if which == table {
                own = Some(space);
            }
        }
        own.ok_or_else(|| {
            TuneError::config(
                format!("[tune.space.{}]", table.name()),
                format!(
                    "missing: the file defines no search space for {method} (spaces found: {})",
                    if spaces.is_empty() {
                        "none".to_owned()
                    } else {
                        spaces.keys().cloned().collect::<Vec<_>>().join(", ")
                    }
                ),
            )
        })
    }

    /// One `[tune.space.<table>]`, checked against `base`.
    pub fn read(
        table: SettingsTable,
        entries: &toml::Table,
        base: &MethodSettings,
    ) -> Result<Space, TuneError> {
        let mut flat = Vec::new();
        flatten(entries, "", &mut flat);
        let mut params = BTreeMap::new();
        for (key, value) in flat {
            let path = format!("[tune.space.{}] {key}", table.name());
            let distribution: Distribution = value
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| TuneError::config(&path, clean(&e.to_string())))?;
            distribution
                .validate()
                .map_err(|m| TuneError::config(&path, m))?;
            check_against_settings(table, &key, &distribution, base)
                .map_err(|m| TuneError::config(&path, m))?;
            params.insert(key, distribution);
        }
        if params.is_empty() {
            return Err(TuneError::config(
                format!("[tune.space.{}]", table.name()),
                "defines no hyperparameter",
            ));
        }
        Ok(Space { table, params })
    }

    /// The values `base` has for this space's keys: trial 0 of a study.
    pub fn starting_values(&self, base: &MethodSettings) -> Result<Params, TuneError> {
        let table = settings_table(self.table, base)?;
        self.params
            .keys()
            .map(|key| {
                let value = lookup(&table, key).ok_or_else(|| {
                    TuneError::config(
                        format!("[tune.space.{}] {key}", self.table.name()),
                        format!(
                            "{} has no value for it to start from",
                            self.table.settings_name()
                        ),
                    )
                })?;
                let json = serde_json::to_value(value).map_err(|e| {
                    TuneError::config(
                        format!("[tune.space.{}] {key}", self.table.name()),
                        e.to_string(),
                    )
                })?;
                Ok((key.clone(), json))
            })
            .collect()
    }

    /// `base` with a trial's values in place, read and validated as the
    /// settings type (an invalid combination is an error, not a panic).
    pub fn apply(&self, base: &MethodSettings, params: &Params) -> Result<MethodSettings, String> {
        apply(self.table, base, params)
    }
}

/// Dotted keys of nested tables: `sgd.learning_rate = {...}` and
/// `"sgd.learning_rate" = {...}` are the same entry.
fn flatten(table: &toml::Table, prefix: &str, out: &mut Vec<(String, toml::Value)>) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) if !inner.contains_key("type") => {
                flatten(inner, &full, out);
            }
            _ => out.push((full, value.clone())),
        }
    }
}

/// serde's message without the TOML parser's trailing blank lines.
fn clean(message: &str) -> String {
    message.trim().replace('\n', " ")
}

/// The method's current settings as a TOML table.
fn settings_table(table: SettingsTable, base: &MethodSettings) -> Result<toml::Table, TuneError> {
    let value = match table {
        SettingsTable::Gru => toml::Value::try_from(&base.gru),
        SettingsTable::Baseline(_) => toml::Value::try_from(&base.baselines).map(|v| {
            v.get(table.name())
                .cloned()
                .unwrap_or(toml::Value::Table(toml::Table::new()))
        }),
    };
    match value {
        Ok(toml::Value::Table(t)) => Ok(t),
        Ok(_) => Ok(toml::Table::new()),
        Err(e) => Err(TuneError::config(table.settings_name(), e.to_string())),
    }
}

fn lookup<'a>(table: &'a toml::Table, dotted: &str) -> Option<&'a toml::Value> {
    let mut parts = dotted.split('.');
    let mut value = table.get(parts.next()?)?;
    for part in parts {
        value = value.as_table()?.get(part)?;
    }
    Some(value)
}

fn set(table: &mut toml::Table, dotted: &str, value: toml::Value) {
    let mut parts: Vec<&str> = dotted.split('.').collect();
    let last = parts.pop().unwrap_or_default();
    let mut current = table;
    for part in parts {
        let entry = current
            .entry(part.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if !entry.is_table() {
            *entry = toml::Value::Table(toml::Table::new());
        }
        let toml::Value::Table(inner) = entry else {
            return;
        };
        current = inner;
    }
    current.insert(last.to_owned(), value);
}

/// Every dotted key of a settings table, for error messages.
fn keys_of(table: &toml::Table, prefix: &str, out: &mut Vec<String>) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => keys_of(inner, &full, out),
            _ => out.push(full),
        }
    }
}

fn to_toml(value: &ParamValue) -> Result<toml::Value, String> {
    toml::Value::try_from(value).map_err(|e| format!("value {value} has no TOML form: {e}"))
}

fn apply(
    table: SettingsTable,
    base: &MethodSettings,
    params: &Params,
) -> Result<MethodSettings, String> {
    let mut settings = base.clone();
    match table {
        SettingsTable::Gru => {
            let mut t = settings_table(table, base).map_err(|e| e.to_string())?;
            for (key, value) in params {
                set(&mut t, key, to_toml(value)?);
            }
            let gru: GruParams = toml::Value::Table(t)
                .try_into()
                .map_err(|e: toml::de::Error| clean(&e.to_string()))?;
            gru.validate().map_err(|e| e.to_string())?;
            settings.gru = gru;
        }
        SettingsTable::Baseline(_) => {
            let mut all = match toml::Value::try_from(&base.baselines) {
                Ok(toml::Value::Table(t)) => t,
                Ok(_) => toml::Table::new(),
                Err(e) => return Err(e.to_string()),
            };
            for (key, value) in params {
                set(
                    &mut all,
                    &format!("{}.{key}", table.name()),
                    to_toml(value)?,
                );
            }
            let baselines: BaselineParams = toml::Value::Table(all)
                .try_into()
                .map_err(|e: toml::de::Error| clean(&e.to_string()))?;
            baselines.validate().map_err(|e| e.to_string())?;
            settings.baselines = baselines;
        }
    }
    Ok(settings)
}

/// The key exists in the settings, and the range's ends (every value of a
/// choice) are values the settings accept.
fn check_against_settings(
    table: SettingsTable,
    key: &str,
    distribution: &Distribution,
    base: &MethodSettings,
) -> Result<(), String> {
    let current = settings_table(table, base).map_err(|e| e.to_string())?;
    if lookup(&current, key).is_none() {
        let mut known = Vec::new();
        keys_of(&current, "", &mut known);
        return Err(format!(
            "{} has no key `{key}` (it has: {})",
            table.settings_name(),
            known.join(", ")
        ));
    }
    let probes: Vec<ParamValue> = match distribution {
        Distribution::Int { min, max, .. } => vec![(*min).into(), (*max).into()],
        Distribution::Float { min, max, .. } => vec![float_value(*min), float_value(*max)],
        Distribution::Choice { values } => values.clone(),
    };
    for value in probes {
        let params = Params::from([(key.to_owned(), value.clone())]);
        apply(table, base, &params).map_err(|e| format!("{value} is not a valid value: {e}"))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use seqrec_models::GruVariant;

    fn space(text: &str, method: Method) -> Result<Space, TuneError> {
        let table: toml::Table = toml::from_str(text).expect("toml");
        Space::from_tables(&table, method, &MethodSettings::default())
    }

    const GRU: Method = Method::Gru(GruVariant::Gru);

    #[test]
    fn a_gru_space_reads_and_applies() {
        let s = space(
            r#"
            [gru]
            hidden = { type = "int", min = 64, max = 1024, step = 32 }
            learning_rate = { type = "float", min = 1e-4, max = 3e-2, scale = "log" }
            lanes = { type = "choice", values = [32, 100, 1000] }
            "#,
            GRU,
        )
        .expect("valid");
        assert_eq!(s.params.len(), 3);
        let start = s
            .starting_values(&MethodSettings::default())
            .expect("start");
        assert_eq!(start["hidden"], 1000);
        assert_eq!(start["lanes"], 1000);
        let trial = Params::from([
            ("hidden".to_owned(), 96.into()),
            ("learning_rate".to_owned(), 0.01.into()),
            ("lanes".to_owned(), 32.into()),
        ]);
        let applied = s
            .apply(&MethodSettings::default(), &trial)
            .expect("applies");
        assert_eq!(
            (
                applied.gru.hidden,
                applied.gru.lanes,
                applied.gru.learning_rate
            ),
            (96, 32, 0.01)
        );
    }

    #[test]
    fn nested_baseline_keys_are_dotted_either_way() {
        for text in [
            "[seq_mf]\n\"sgd.learning_rate\" = { type = \"float\", min = 0.001, max = 0.1, scale = \"log\" }\n",
            "[seq_mf.sgd]\nlearning_rate = { type = \"float\", min = 0.001, max = 0.1, scale = \"log\" }\n",
        ] {
            let s = space(text, Method::Baseline(Baseline::SeqMf)).expect("valid");
            assert!(s.params.contains_key("sgd.learning_rate"), "{:?}", s.params);
            let p = Params::from([("sgd.learning_rate".to_owned(), 0.05.into())]);
            let applied = s.apply(&MethodSettings::default(), &p).expect("applies");
            assert_eq!(applied.baselines.seq_mf.sgd.learning_rate, 0.05);
        }
        // BPR-MF writes its SGD settings flat.
        let s = space(
            "[bpr_mf]\nfactors = { type = \"int\", min = 8, max = 64, step = 8 }\n",
            Method::Baseline(Baseline::BprMf),
        )
        .expect("valid");
        let p = Params::from([("factors".to_owned(), 16.into())]);
        let applied = s.apply(&MethodSettings::default(), &p).expect("applies");
        assert_eq!(applied.baselines.bpr_mf.sgd.factors, 16);
    }

    fn error(text: &str, method: Method) -> String {
        match space(text, method) {
            Ok(s) => panic!("accepted: {s:?}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn bad_definitions_are_errors_naming_the_entry() {
        let cases = [
            (
                "[gru]\nhiden = { type = \"int\", min = 1, max = 4 }\n",
                "hiden",
            ),
            (
                "[gru]\nhidden = { type = \"int\", min = 8, max = 4 }\n",
                "empty range",
            ),
            (
                "[gru]\nlearning_rate = { type = \"float\", min = 0.1, max = 0.01 }\n",
                "empty range",
            ),
            (
                "[gru]\nlearning_rate = { type = \"float\", min = 0.001, max = 0.1, scale = \"logarithmic\" }\n",
                "logarithmic",
            ),
            (
                "[gru]\nlearning_rate = { type = \"float\", min = 0.0, max = 0.1, scale = \"log\" }\n",
                "min > 0",
            ),
            (
                "[gru]\nhidden = { type = \"int\", min = 64, max = 1000, step = 32 }\n",
                "multiple of step",
            ),
            (
                "[gru]\nhidden = { type = \"real\", min = 1, max = 4 }\n",
                "real",
            ),
            (
                "[gru]\nhidden = { type = \"int\", min = 1, max = 4, stepp = 1 }\n",
                "stepp",
            ),
            (
                "[gru]\nlanes = { type = \"choice\", values = [] }\n",
                "at least one value",
            ),
            (
                "[gru]\nhidden = { type = \"float\", min = 0.5, max = 4.0 }\n",
                "not a valid value",
            ),
            (
                "[gru]\nlearning_rate = { type = \"float\", min = -1.0, max = 0.1 }\n",
                "not a valid value",
            ),
            (
                "[lstm]\nhidden = { type = \"int\", min = 1, max = 4 }\n",
                "no such settings table",
            ),
            (
                "[item_knn]\nneighbours = { type = \"int\", min = 5, max = 50 }\n",
                "missing",
            ),
            ("[gru]\n", "no hyperparameter"),
        ];
        for (text, expected) in cases {
            let message = error(text, GRU);
            assert!(message.contains(expected), "{text}: {message}");
            assert!(message.contains("[tune.space."), "{text}: {message}");
        }
        assert!(
            error(
                "[gru]\nhidden = { type = \"int\", min = 1, max = 4 }\n",
                Method::Baseline(Baseline::Pop)
            )
            .contains("POP")
        );
    }

    #[test]
    fn internal_points_round_to_the_grid_and_stay_in_range() {
        let hidden = Distribution::Int {
            min: 64,
            max: 1024,
            step: 32,
            scale: Scale::Linear,
        };
        let (lo, hi) = hidden.internal_bounds().expect("numeric");
        assert_eq!((lo, hi), (48.0, 1040.0));
        assert_eq!(hidden.from_internal(79.0), 64);
        assert_eq!(hidden.from_internal(81.0), 96);
        assert_eq!(hidden.from_internal(5000.0), 1024);
        assert_eq!(hidden.grid_values().map(|v| v.len()), Some(31));
        let lr = Distribution::Float {
            min: 1e-4,
            max: 1e-2,
            step: None,
            scale: Scale::Log,
        };
        let (lo, hi) = lr.internal_bounds().expect("numeric");
        assert!((lo - 1e-4f64.ln()).abs() < 1e-12 && (hi - 1e-2f64.ln()).abs() < 1e-12);
        // The middle of the log range is the geometric mean.
        let mid = lr.from_internal((lo + hi) / 2.0).as_f64().expect("float");
        assert!((mid - 1e-3).abs() < 1e-12, "{mid}");
        let keep = Distribution::Float {
            min: 0.3,
            max: 1.0,
            step: Some(0.1),
            scale: Scale::Linear,
        };
        assert_eq!(keep.from_internal(0.54), 0.5);
        assert_eq!(
            keep.grid_values().expect("grid"),
            [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0].map(ParamValue::from)
        );
        assert_eq!(keep.on_boundary(&0.3.into()), Some("min"));
        assert_eq!(keep.on_boundary(&1.0.into()), Some("max"));
        assert_eq!(keep.on_boundary(&0.6.into()), None);
        assert_eq!(hidden.on_boundary(&1024.into()), Some("max"));
    }
}
