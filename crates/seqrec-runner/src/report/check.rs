//! A run against the published results (`results/<preset>/results.json`),
//! metric by metric within the config's `[check]` tolerances: which cells
//! agree, which moved, which could not run and why, which are new.

use super::Results;
use crate::Method;
use crate::config::CheckTolerances;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Metric name → value.
type Metrics = BTreeMap<String, f64>;

/// One metric of one cell outside its tolerance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MovedCell {
    pub dataset: String,
    pub method: Method,
    /// The one seed compared, when the run's seeds differ from the
    /// published cell's (`None`: the means over the same seeds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    pub metric: String,
    pub expected: f64,
    /// `None`: the fresh run lacks this metric.
    pub actual: Option<f64>,
    pub tolerance: f64,
}

/// Published cells the run does not have, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct NotRun {
    /// `dataset / method` of each such cell.
    pub cells: Vec<String>,
    /// Why (a missing data file, with the command that fetches it; or not
    /// asked for).
    pub reason: String,
}

/// The outcome of a comparison.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CheckReport {
    /// Metric values compared.
    pub compared: usize,
    /// Cells whose every compared metric is within tolerance.
    pub agreeing: Vec<String>,
    pub moved: Vec<MovedCell>,
    /// Published cells the run does not have, grouped by reason.
    pub not_run: Vec<NotRun>,
    /// Cells the run has and the published results do not.
    pub unexpected: Vec<String>,
}

impl CheckReport {
    /// Records a published cell that could not be compared, grouped with
    /// the others of the same reason.
    fn not_run(&mut self, label: String, reason: String) {
        match self.not_run.iter_mut().find(|n| n.reason == reason) {
            Some(group) => group.cells.push(label),
            None => self.not_run.push(NotRun {
                cells: vec![label],
                reason,
            }),
        }
    }

    /// Every published cell ran and agrees, and nothing new appeared.
    pub fn passed(&self) -> bool {
        self.moved.is_empty() && self.not_run.is_empty() && self.unexpected.is_empty()
    }

    /// Published cells the run does not have.
    pub fn missing(&self) -> impl Iterator<Item = &str> {
        self.not_run
            .iter()
            .flat_map(|n| n.cells.iter().map(String::as_str))
    }

    /// A human summary naming every moved, missing or new cell.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        let moved_cells = {
            let mut cells: Vec<(&str, Method)> = self
                .moved
                .iter()
                .map(|m| (m.dataset.as_str(), m.method))
                .collect();
            cells.dedup();
            cells.len()
        };
        let missing = self.missing().count();
        let _ = writeln!(
            out,
            "{} cells agree, {moved_cells} moved, {missing} could not run, {} new ({} values compared)",
            self.agreeing.len(),
            self.unexpected.len(),
            self.compared
        );
        for m in &self.moved {
            let actual = m.actual.map_or("absent".to_owned(), |a| format!("{a:.6}"));
            let seed = m.seed.map_or(String::new(), |s| format!(" (seed {s})"));
            let _ = writeln!(
                out,
                "  moved: {} / {}{seed} / {}: published {:.6}, now {actual} (tolerance {:e})",
                m.dataset, m.method, m.metric, m.expected, m.tolerance
            );
        }
        for group in &self.not_run {
            let _ = writeln!(
                out,
                "  not run ({} cells: {}): {}",
                group.cells.len(),
                abbreviate(&group.cells),
                group.reason
            );
        }
        for cell in &self.unexpected {
            let _ = writeln!(out, "  new (not in the published results): {cell}");
        }
        out
    }
}

/// `a / x, a / y, b / x` as `a / {x, y}, b / x`.
fn abbreviate(cells: &[String]) -> String {
    let mut groups: Vec<(&str, Vec<&str>)> = Vec::new();
    for cell in cells {
        let (dataset, method) = cell.split_once(" / ").unwrap_or((cell, ""));
        match groups.last_mut() {
            Some((d, methods)) if *d == dataset => methods.push(method),
            _ => groups.push((dataset, vec![method])),
        }
    }
    groups
        .iter()
        .map(|(dataset, methods)| match methods.as_slice() {
            [one] => format!("{dataset} / {one}"),
            many => format!("{dataset} / {{{}}}", many.join(", ")),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Compares the `actual` (fresh) results with the `expected` (published).
pub fn check(expected: &Results, actual: &Results, tolerances: &CheckTolerances) -> CheckReport {
    let mut report = CheckReport::default();
    for dataset in &expected.datasets {
        let name = &dataset.dataset.name;
        let fresh = actual.datasets.iter().find(|d| &d.dataset.name == name);
        for cell in &dataset.cells {
            let label = format!("{name} / {}", cell.method);
            let Some(now) = fresh.and_then(|d| d.cell(cell.method)) else {
                report.not_run(label, not_run_reason(actual, name, fresh.is_some()));
                continue;
            };
            // Means over other seeds are not comparable: with other seeds
            // (`--seeds`), the seeds both ran are compared one by one.
            let pairs: Vec<(Option<u64>, &Metrics, &Metrics)> = if now.seeds == cell.seeds {
                vec![(None, &cell.metrics, &now.metrics)]
            } else {
                cell.per_seed
                    .iter()
                    .filter_map(|want| {
                        let got = now.per_seed.iter().find(|r| r.seed == want.seed)?;
                        Some((Some(want.seed), &want.test, &got.test))
                    })
                    .collect()
            };
            if pairs.is_empty() {
                let reason = format!(
                    "this run has none of the published seeds {:?} (--seeds)",
                    cell.seeds
                );
                report.not_run(label, reason);
                continue;
            }
            let moved_before = report.moved.len();
            for (seed, expected, actual) in pairs {
                for metric in &tolerances.metrics {
                    let Some(&want) = expected.get(metric) else {
                        continue;
                    };
                    let got = actual.get(metric).copied();
                    let tolerance = tolerances.tolerance(metric, cell.method.is_gru());
                    report.compared += 1;
                    let within = got.is_some_and(|g| {
                        (g.is_nan() && want.is_nan()) || (g - want).abs() <= tolerance
                    });
                    if !within {
                        report.moved.push(MovedCell {
                            dataset: name.clone(),
                            method: cell.method,
                            seed,
                            metric: metric.clone(),
                            expected: want,
                            actual: got,
                            tolerance,
                        });
                    }
                }
            }
            if report.moved.len() == moved_before {
                report.agreeing.push(label);
            }
        }
    }
    for dataset in &actual.datasets {
        let name = &dataset.dataset.name;
        let published = expected.datasets.iter().find(|d| &d.dataset.name == name);
        for cell in &dataset.cells {
            if published.and_then(|d| d.cell(cell.method)).is_none() {
                report.unexpected.push(format!("{name} / {}", cell.method));
            }
        }
    }
    report
}

/// Why the run has no cell of `dataset`: the run's own record of a skipped
/// dataset (it names the missing file and the command that fetches it), or
/// a run restricted to other datasets or methods.
fn not_run_reason(actual: &Results, dataset: &str, dataset_ran: bool) -> String {
    if dataset_ran {
        return "this run did not include the method (--methods)".to_owned();
    }
    match actual.skipped.iter().find(|s| s.dataset == dataset) {
        Some(skipped) => skipped.reason.clone(),
        None => "this run did not include the dataset (--datasets)".to_owned(),
    }
}
