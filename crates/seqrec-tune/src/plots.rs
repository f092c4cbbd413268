//! A study's plots (SVG): the optimisation history (each trial's value and
//! the best so far) and one panel per hyperparameter (its value against
//! the metric; log axes for log-scale ranges, choices as categories).
//! Complete trials are blue, pruned ones grey at their last epoch's value.

use crate::TuneError;
use crate::space::{Distribution, Space};
use crate::store::StudyDefinition;
use crate::trial::{TrialRecord, TrialState};
use plotters::prelude::*;
use std::path::Path;

const COMPLETE: RGBColor = RGBColor(31, 119, 180);
const PRUNED: RGBColor = RGBColor(170, 170, 170);
const BEST: RGBColor = RGBColor(214, 39, 40);

fn plot_error(path: &Path, e: impl std::fmt::Display) -> TuneError {
    TuneError::io(path, format!("plot: {e}"))
}

/// The points a plot shows: (trial, value, complete?).
fn points(trials: &[TrialRecord]) -> Vec<(&TrialRecord, f64, bool)> {
    trials
        .iter()
        .filter_map(|t| match t.state {
            TrialState::Complete => t.value.map(|v| (t, v, true)),
            TrialState::Pruned => t.value.map(|v| (t, v, false)),
            _ => None,
        })
        .filter(|(_, v, _)| v.is_finite())
        .collect()
}

/// `history.svg` and one `param-<key>.svg` per hyperparameter.
pub fn write_plots(
    dir: &Path,
    definition: &StudyDefinition,
    space: &Space,
    trials: &[TrialRecord],
) -> Result<(), TuneError> {
    let shown = points(trials);
    if shown.is_empty() {
        return Ok(());
    }
    seqrec_runner::report::register_plot_font().map_err(|e| TuneError::io(dir, e))?;
    std::fs::create_dir_all(dir).map_err(|e| TuneError::io(dir, e))?;
    let (lo, hi) = value_range(&shown);
    let path = dir.join("history.svg");
    history(&path, definition, &shown, (lo, hi)).map_err(|e| plot_error(&path, e))?;
    for (key, d) in &space.params {
        let path = dir.join(format!("param-{}.svg", key.replace('.', "-")));
        parameter(&path, definition, key, d, &shown, (lo, hi)).map_err(|e| plot_error(&path, e))?;
    }
    Ok(())
}

fn value_range(shown: &[(&TrialRecord, f64, bool)]) -> (f64, f64) {
    let lo = shown.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let hi = shown.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.08).max(hi.abs() * 0.02).max(1e-6);
    (lo - pad, hi + pad)
}

type Drawn = Result<(), Box<dyn std::error::Error>>;

fn history(
    path: &Path,
    definition: &StudyDefinition,
    shown: &[(&TrialRecord, f64, bool)],
    (lo, hi): (f64, f64),
) -> Drawn {
    let area = SVGBackend::new(path, (900, 420)).into_drawing_area();
    area.fill(&WHITE)?;
    let last = shown.iter().map(|p| p.0.number).max().unwrap_or(0) as f64;
    let mut chart = ChartBuilder::on(&area)
        .caption(
            format!(
                "{} on {}: validation {} by trial (blue complete, grey pruned, red best so far)",
                definition.method, definition.dataset, definition.metric
            ),
            ("sans-serif", 16),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(-0.5..last + 0.5, lo..hi)?;
    chart
        .configure_mesh()
        .x_label_formatter(&|x| format!("{x:.0}"))
        .x_desc("trial")
        .y_desc(definition.metric.as_str())
        .draw()?;
    chart.draw_series(shown.iter().map(|(t, v, complete)| {
        let colour = if *complete { COMPLETE } else { PRUNED };
        Circle::new((t.number as f64, *v), 4, colour.filled())
    }))?;
    let mut ordered: Vec<_> = shown.iter().filter(|p| p.2).collect();
    ordered.sort_by_key(|p| p.0.number);
    // A staircase: the best so far holds until a trial beats it.
    let mut best = f64::NEG_INFINITY;
    let mut steps: Vec<(f64, f64)> = Vec::new();
    for (t, v, _) in ordered {
        if *v > best {
            if best.is_finite() {
                steps.push((t.number as f64, best));
            }
            best = *v;
            steps.push((t.number as f64, best));
        }
    }
    if let Some(&(_, b)) = steps.last() {
        steps.push((last + 0.5, b));
    }
    chart.draw_series(LineSeries::new(steps, BEST.stroke_width(2)))?;
    area.present()?;
    Ok(())
}

fn parameter(
    path: &Path,
    definition: &StudyDefinition,
    key: &str,
    d: &Distribution,
    shown: &[(&TrialRecord, f64, bool)],
    (lo, hi): (f64, f64),
) -> Drawn {
    let area = SVGBackend::new(path, (640, 420)).into_drawing_area();
    area.fill(&WHITE)?;
    let caption = format!("{key} against validation {}", definition.metric);
    let dot = |x: f64, v: f64, complete: bool| {
        Circle::new((x, v), 4, if complete { COMPLETE } else { PRUNED }.filled())
    };
    match d {
        Distribution::Choice { values } => {
            let labels: Vec<String> = values
                .iter()
                .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                .collect();
            let n = values.len() as f64;
            let mut chart = ChartBuilder::on(&area)
                .caption(caption, ("sans-serif", 16))
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(64)
                .build_cartesian_2d(-0.5..n - 0.5, lo..hi)?;
            chart
                .configure_mesh()
                .x_labels(values.len())
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 {
                        labels.get(i as usize).cloned().unwrap_or_default()
                    } else {
                        String::new()
                    }
                })
                .x_desc(key)
                .y_desc(definition.metric.as_str())
                .draw()?;
            chart.draw_series(shown.iter().filter_map(|(t, v, c)| {
                let i = values.iter().position(|x| Some(x) == t.params.get(key))?;
                Some(dot(i as f64, *v, *c))
            }))?;
        }
        numeric => {
            let xs: Vec<f64> = shown
                .iter()
                .filter_map(|p| p.0.params.get(key).and_then(|v| v.as_f64()))
                .collect();
            let (mut x_lo, mut x_hi) = match *numeric {
                Distribution::Int { min, max, .. } => (min as f64, max as f64),
                Distribution::Float { min, max, .. } => (min, max),
                Distribution::Choice { .. } => (0.0, 1.0),
            };
            // The starting settings may lie outside the range.
            for x in &xs {
                x_lo = x_lo.min(*x);
                x_hi = x_hi.max(*x);
            }
            if x_hi <= x_lo {
                x_hi = x_lo + 1.0;
            }
            let series = shown.iter().filter_map(|(t, v, c)| {
                t.params
                    .get(key)
                    .and_then(|x| x.as_f64())
                    .map(|x| (x, *v, *c))
            });
            if numeric.is_log() && x_lo > 0.0 {
                let mut chart = ChartBuilder::on(&area)
                    .caption(caption, ("sans-serif", 16))
                    .margin(12)
                    .x_label_area_size(36)
                    .y_label_area_size(64)
                    .build_cartesian_2d((x_lo..x_hi).log_scale(), lo..hi)?;
                chart
                    .configure_mesh()
                    .x_desc(format!("{key} (log scale)"))
                    .y_desc(definition.metric.as_str())
                    .draw()?;
                chart.draw_series(series.map(|(x, v, c)| dot(x, v, c)))?;
            } else {
                let pad = (x_hi - x_lo) * 0.03;
                let mut chart = ChartBuilder::on(&area)
                    .caption(caption, ("sans-serif", 16))
                    .margin(12)
                    .x_label_area_size(36)
                    .y_label_area_size(64)
                    .build_cartesian_2d(x_lo - pad..x_hi + pad, lo..hi)?;
                chart
                    .configure_mesh()
                    .x_desc(key)
                    .y_desc(definition.metric.as_str())
                    .draw()?;
                chart.draw_series(series.map(|(x, v, c)| dot(x, v, c)))?;
            }
        }
    }
    area.present()?;
    Ok(())
}
