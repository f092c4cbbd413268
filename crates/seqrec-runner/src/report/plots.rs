//! Plots of a run (part of its report), as SVG and PNG: ours against the paper for every
//! Table 2 cell (grouped bars), and the GRUs' learning curves (validation
//! MRR@20 and training loss per epoch). Text is set in the bundled DejaVu
//! Sans, so the PNGs look the same on every machine.

use super::{DatasetResults, Results};
use crate::RunnerError;
use crate::record::{CellPaths, dataset_slug};
use plotters::coord::Shift;
use plotters::prelude::*;
use seqrec_models::TrainingReport;
use std::path::Path;
use std::sync::Once;

static FONT: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");
const WIDTH: u32 = 1100;
const HEIGHT: u32 = 440;
const OURS: RGBColor = RGBColor(31, 119, 180);
const PAPER: RGBColor = RGBColor(190, 190, 190);
const LINES: [RGBColor; 4] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
];

/// Registers the bundled font as plotters' `sans-serif` (once per process);
/// every plot with text needs it.
pub fn register_font() -> Result<(), RunnerError> {
    static REGISTER: Once = Once::new();
    let mut result = Ok(());
    REGISTER.call_once(|| {
        result = plotters::style::register_font("sans-serif", FontStyle::Normal, FONT)
            .map_err(|_| RunnerError::Plot("the bundled font could not be read".into()));
    });
    result
}

fn plot_error(path: &Path, e: impl std::fmt::Display) -> RunnerError {
    RunnerError::Plot(format!("{}: {e}", path.display()))
}

/// Writes `plots/<dataset>-table2.{svg,png}` and, where GRUs ran,
/// `plots/<dataset>-learning-curves.{svg,png}`.
pub fn write_all(results: &Results, out: &Path) -> Result<(), RunnerError> {
    register_font()?;
    let dir = out.join("plots");
    std::fs::create_dir_all(&dir).map_err(|e| RunnerError::io(&dir, e))?;
    for dataset in &results.datasets {
        let slug = dataset_slug(&dataset.dataset.name);
        if dataset.cells.iter().any(|c| c.paper.is_some()) {
            let stem = dir.join(format!("{slug}-table2"));
            render(&stem, &Bars(dataset))?;
        }
        let curves = learning_curves(dataset, out)?;
        if !curves.is_empty() {
            let stem = dir.join(format!("{slug}-learning-curves"));
            render(
                &stem,
                &Curves {
                    dataset: &dataset.dataset.name,
                    curves: &curves,
                },
            )?;
        }
    }
    Ok(())
}

/// A figure drawable on any plotters backend.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String>;
}

/// Draws the same figure into an SVG and a PNG beside it.
fn render(stem: &Path, figure: &impl Figure) -> Result<(), RunnerError> {
    let svg = stem.with_extension("svg");
    {
        let area = SVGBackend::new(&svg, (WIDTH, HEIGHT)).into_drawing_area();
        area.fill(&WHITE).map_err(|e| plot_error(&svg, e))?;
        figure.draw(&area).map_err(|e| plot_error(&svg, e))?;
        area.present().map_err(|e| plot_error(&svg, e))?;
    }
    let png = stem.with_extension("png");
    let area = BitMapBackend::new(&png, (WIDTH, HEIGHT)).into_drawing_area();
    area.fill(&WHITE).map_err(|e| plot_error(&png, e))?;
    figure.draw(&area).map_err(|e| plot_error(&png, e))?;
    area.present().map_err(|e| plot_error(&png, e))
}

/// Ours against the paper, MRR@20 and Recall@20 side by side.
struct Bars<'a>(&'a DatasetResults);

impl Figure for Bars<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let dataset = self.0;
        let cells: Vec<_> = dataset.cells.iter().filter(|c| c.paper.is_some()).collect();
        let title = format!(
            "{}: ours (blue) vs the paper's {} column (grey)",
            dataset.dataset.name,
            dataset.dataset.paper_column.label()
        );
        let area = area
            .titled(&title, ("sans-serif", 20))
            .map_err(|e| e.to_string())?;
        let panels = area.split_evenly((1, 2));
        for (panel, (metric, name)) in panels
            .iter()
            .zip([("mrr@20", "MRR@20"), ("recall@20", "Recall@20")])
        {
            let pairs: Vec<(f64, f64)> = cells
                .iter()
                .map(|c| {
                    let paper = c.paper.map_or(0.0, |p| {
                        if metric == "mrr@20" {
                            p.mrr20
                        } else {
                            p.recall20
                        }
                    });
                    (c.metric(metric), paper)
                })
                .collect();
            let top = pairs
                .iter()
                .flat_map(|&(a, b)| [a, b])
                .filter(|v| v.is_finite())
                .fold(0.0f64, f64::max)
                * 1.15;
            let n = cells.len();
            let mut chart = ChartBuilder::on(panel)
                .caption(name, ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(50)
                .y_label_area_size(60)
                .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), 0.0..top.max(1e-6))
                .map_err(|e| e.to_string())?;
            let labels: Vec<&str> = cells.iter().map(|c| c.method.short()).collect();
            chart
                .configure_mesh()
                .disable_x_mesh()
                .max_light_lines(0)
                .x_labels(n)
                .x_label_formatter(&|x| {
                    let i = x.round();
                    if (x - i).abs() < 1e-6 && i >= 0.0 {
                        labels.get(i as usize).copied().unwrap_or("").to_owned()
                    } else {
                        String::new()
                    }
                })
                .x_label_style(("sans-serif", 11))
                .y_label_formatter(&|y| format!("{y:.3}"))
                .draw()
                .map_err(|e| e.to_string())?;
            let bars = pairs.iter().enumerate().flat_map(|(i, &(ours, paper))| {
                let x = i as f64;
                let ours = if ours.is_finite() { ours } else { 0.0 };
                [
                    Rectangle::new([(x - 0.4, 0.0), (x, ours)], OURS.filled()),
                    Rectangle::new([(x, 0.0), (x + 0.4, paper)], PAPER.filled()),
                ]
            });
            chart.draw_series(bars).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// One GRU's history: (name, [(epoch, validation MRR@20, loss)]).
type Curve = (String, Vec<(f64, Option<f64>, f64)>);

/// The first seed's training history of every GRU of a dataset.
fn learning_curves(dataset: &DatasetResults, out: &Path) -> Result<Vec<Curve>, RunnerError> {
    let mut curves = Vec::new();
    for cell in dataset.cells.iter().filter(|c| c.method.is_gru()) {
        let Some(run) = cell.per_seed.first() else {
            continue;
        };
        let path = CellPaths::new(out, &cell.dataset, cell.method, run.seed).history;
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) => {
                tracing::warn!(path = %path.display(), "no training history, curve left out: {e}");
                continue;
            }
        };
        let report: TrainingReport =
            serde_json::from_str(&text).map_err(|e| RunnerError::io(&path, e))?;
        let points = report
            .history
            .iter()
            .map(|e| (e.epoch as f64, e.validation_mrr20, e.loss))
            .collect();
        curves.push((cell.method.name().to_owned(), points));
    }
    Ok(curves)
}

struct Curves<'a> {
    dataset: &'a str,
    curves: &'a [Curve],
}

impl Figure for Curves<'_> {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let title = format!("{}: GRU learning curves (first seed)", self.dataset);
        let area = area
            .titled(&title, ("sans-serif", 20))
            .map_err(|e| e.to_string())?;
        let panels = area.split_evenly((1, 2));
        let epochs = self
            .curves
            .iter()
            .flat_map(|(_, p)| p.iter().map(|q| q.0))
            .fold(1.0f64, f64::max);
        for (index, panel) in panels.iter().enumerate() {
            let series: Vec<(&str, Vec<(f64, f64)>)> = self
                .curves
                .iter()
                .map(|(name, points)| {
                    let values = points
                        .iter()
                        .filter_map(|&(epoch, mrr, loss)| {
                            let y = if index == 0 { mrr? } else { loss };
                            y.is_finite().then_some((epoch, y))
                        })
                        .collect();
                    (name.as_str(), values)
                })
                .collect();
            let ys = series.iter().flat_map(|(_, v)| v.iter().map(|p| p.1));
            let (low, high) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), y| {
                (l.min(y), h.max(y))
            });
            let (low, high) = if low.is_finite() {
                (low, high)
            } else {
                (0.0, 1.0)
            };
            let pad = ((high - low) * 0.08).max(1e-6);
            let caption = if index == 0 {
                "validation MRR@20"
            } else {
                "training loss"
            };
            let mut chart = ChartBuilder::on(panel)
                .caption(caption, ("sans-serif", 16))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(60)
                .build_cartesian_2d(1.0..epochs.max(2.0), (low - pad)..(high + pad))
                .map_err(|e| e.to_string())?;
            chart
                .configure_mesh()
                .max_light_lines(0)
                .x_labels(epochs.max(2.0) as usize)
                .x_label_formatter(&|x| format!("{x:.0}"))
                .x_desc("epoch")
                .y_label_formatter(&|y| format!("{y:.3}"))
                .draw()
                .map_err(|e| e.to_string())?;
            for (i, (name, values)) in series.into_iter().enumerate() {
                let color = LINES[i % LINES.len()];
                chart
                    .draw_series(LineSeries::new(values, color.stroke_width(2)))
                    .map_err(|e| e.to_string())?
                    .label(name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK)
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
