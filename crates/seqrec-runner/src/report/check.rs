//! `reproduce --check`: a fresh run against committed results, metric by
//! metric within the config's tolerances, naming every cell that moved.

use super::Results;
use crate::Method;
use crate::config::CheckTolerances;
use serde::Serialize;
use std::fmt::Write as _;

/// One metric of one cell outside its tolerance.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MovedCell {
    pub dataset: String,
    pub method: Method,
    pub metric: String,
    pub expected: f64,
    /// `None`: the fresh run lacks this metric.
    pub actual: Option<f64>,
    pub tolerance: f64,
}

/// The outcome of a check.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CheckReport {
    /// Metric values compared.
    pub compared: usize,
    pub moved: Vec<MovedCell>,
    /// Cells in the committed results that the fresh run does not have.
    pub missing: Vec<String>,
    /// Cells the fresh run has and the committed results do not.
    pub unexpected: Vec<String>,
}

impl CheckReport {
    pub fn passed(&self) -> bool {
        self.moved.is_empty() && self.missing.is_empty() && self.unexpected.is_empty()
    }

    /// A human summary naming every moved, missing or unexpected cell.
    pub fn describe(&self) -> String {
        let mut out = String::new();
        if self.passed() {
            let _ = write!(
                out,
                "check passed: {} values within tolerance",
                self.compared
            );
            return out;
        }
        let _ = writeln!(
            out,
            "check failed: {} moved, {} missing, {} unexpected (of {} values compared)",
            self.moved.len(),
            self.missing.len(),
            self.unexpected.len(),
            self.compared
        );
        for m in &self.moved {
            let actual = m.actual.map_or("absent".to_owned(), |a| format!("{a:.6}"));
            let _ = writeln!(
                out,
                "  moved: {} / {} / {}: committed {:.6}, now {actual} (tolerance {:e})",
                m.dataset, m.method, m.metric, m.expected, m.tolerance
            );
        }
        for cell in &self.missing {
            let _ = writeln!(out, "  missing: {cell}");
        }
        for cell in &self.unexpected {
            let _ = writeln!(out, "  unexpected: {cell}");
        }
        out
    }
}

/// Compares the `actual` (fresh) results with the `expected` (committed).
pub fn check(expected: &Results, actual: &Results, tolerances: &CheckTolerances) -> CheckReport {
    let mut report = CheckReport::default();
    for dataset in &expected.datasets {
        let name = &dataset.dataset.name;
        let fresh = actual.datasets.iter().find(|d| &d.dataset.name == name);
        for cell in &dataset.cells {
            let Some(now) = fresh.and_then(|d| d.cell(cell.method)) else {
                report.missing.push(format!("{name} / {}", cell.method));
                continue;
            };
            for metric in &tolerances.metrics {
                let Some(&want) = cell.metrics.get(metric) else {
                    continue;
                };
                let got = now.metrics.get(metric).copied();
                let tolerance = tolerances.tolerance(metric, cell.method.is_gru());
                report.compared += 1;
                let within = got.is_some_and(|g| {
                    (g.is_nan() && want.is_nan()) || (g - want).abs() <= tolerance
                });
                if !within {
                    report.moved.push(MovedCell {
                        dataset: name.clone(),
                        method: cell.method,
                        metric: metric.clone(),
                        expected: want,
                        actual: got,
                        tolerance,
                    });
                }
            }
        }
    }
    for dataset in &actual.datasets {
        let name = &dataset.dataset.name;
        let committed = expected.datasets.iter().find(|d| &d.dataset.name == name);
        for cell in &dataset.cells {
            if committed.and_then(|d| d.cell(cell.method)).is_none() {
                report.unexpected.push(format!("{name} / {}", cell.method));
            }
        }
    }
    report
}
