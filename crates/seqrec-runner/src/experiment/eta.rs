//! The time a run has left, for its progress line: every cell gets an
//! estimate before the run starts (a GRU from its arithmetic, a baseline
//! from its dataset's size), and the estimates of each kind are rescaled
//! by how long the finished cells of that kind really took.

use seqrec_models::cost::{FLEX_FLOPS_PER_CORE, TrainingCost};

/// Baseline fitting and evaluation, seconds per training event before any
/// baseline has been timed (the quick preset's kNNs take about 1 s per
/// 100,000 events on 2 cores).
const BASELINE_SECONDS_PER_EVENT: f64 = 1e-5;

/// The kind of cell, for rescaling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CellKind {
    Gru,
    Baseline,
}

/// One cell's estimate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CellEstimate {
    pub kind: CellKind,
    /// Seconds before rescaling; 0 for a cell that will be reused.
    pub seconds: f64,
}

impl CellEstimate {
    /// A GRU training of `cost` on `cores` CPU cores (a GPU run starts from
    /// the same figure and is rescaled by its first finished cell).
    pub fn gru(cost: &TrainingCost, cores: usize) -> Self {
        CellEstimate {
            kind: CellKind::Gru,
            seconds: cost.seconds_at(FLEX_FLOPS_PER_CORE * cores.max(1) as f64),
        }
    }

    /// A baseline on a dataset of `train_events` training events.
    pub fn baseline(train_events: usize) -> Self {
        CellEstimate {
            kind: CellKind::Baseline,
            seconds: train_events as f64 * BASELINE_SECONDS_PER_EVENT,
        }
    }

    /// A finished cell that will be reused.
    pub fn reused(kind: CellKind) -> Self {
        CellEstimate { kind, seconds: 0.0 }
    }
}

/// The estimates of a run's cells, in run order, and what the finished
/// ones took.
#[derive(Clone, Debug, Default)]
pub struct Eta {
    cells: Vec<CellEstimate>,
    done: usize,
    /// (estimated, measured) seconds of the finished cells, per kind.
    gru: (f64, f64),
    baseline: (f64, f64),
}

impl Eta {
    pub fn new(cells: Vec<CellEstimate>) -> Self {
        Eta {
            cells,
            ..Eta::default()
        }
    }

    /// Cells not finished yet.
    pub fn cells_left(&self) -> usize {
        self.cells.len() - self.done
    }

    /// The next cell finished (or was reused) after `seconds`.
    pub fn finished(&mut self, seconds: f64) {
        let Some(cell) = self.cells.get(self.done) else {
            return;
        };
        if cell.seconds > 0.0 {
            let sums = match cell.kind {
                CellKind::Gru => &mut self.gru,
                CellKind::Baseline => &mut self.baseline,
            };
            sums.0 += cell.seconds;
            sums.1 += seconds;
        }
        self.done += 1;
    }

    /// Seconds the unfinished cells are expected to take.
    pub fn seconds_left(&self) -> f64 {
        let scale = |(estimated, measured): (f64, f64)| {
            if estimated > 0.0 {
                measured / estimated
            } else {
                1.0
            }
        };
        let (gru, baseline) = (scale(self.gru), scale(self.baseline));
        self.cells[self.done..]
            .iter()
            .map(|c| {
                c.seconds
                    * match c.kind {
                        CellKind::Gru => gru,
                        CellKind::Baseline => baseline,
                    }
            })
            .sum()
    }

    /// `3 cells left, about 12 min`.
    pub fn describe(&self) -> String {
        let left = self.cells_left();
        let cells = if left == 1 { "cell" } else { "cells" };
        if left == 0 {
            return "0 cells left".to_owned();
        }
        format!("{left} {cells} left, about {}", human(self.seconds_left()))
    }
}

/// Seconds as `45 s`, `12 min`, `3.5 h`.
fn human(seconds: f64) -> String {
    if seconds < 60.0 {
        format!("{:.0} s", seconds.max(1.0))
    } else if seconds < 3600.0 {
        format!("{:.0} min", seconds / 60.0)
    } else {
        format!("{:.1} h", seconds / 3600.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(kind: CellKind, seconds: f64) -> CellEstimate {
        CellEstimate { kind, seconds }
    }

    #[test]
    fn estimates_are_rescaled_by_the_finished_cells_of_their_kind() {
        let mut eta = Eta::new(vec![
            cell(CellKind::Baseline, 1.0),
            cell(CellKind::Gru, 100.0),
            cell(CellKind::Gru, 200.0),
            cell(CellKind::Baseline, 3.0),
            CellEstimate::reused(CellKind::Gru),
        ]);
        assert_eq!(eta.cells_left(), 5);
        assert_eq!(eta.seconds_left(), 304.0);
        // The baseline took twice its estimate: the other one is doubled.
        eta.finished(2.0);
        assert_eq!(eta.seconds_left(), 300.0 + 6.0);
        // The first GRU took half its estimate: the second one is halved.
        eta.finished(50.0);
        assert_eq!(eta.seconds_left(), 100.0 + 6.0);
        assert_eq!(eta.describe(), "3 cells left, about 2 min");
        eta.finished(100.0);
        eta.finished(6.0);
        assert_eq!(eta.describe(), "1 cell left, about 1 s");
        eta.finished(0.0);
        assert_eq!(eta.describe(), "0 cells left");
        eta.finished(0.0); // past the end: ignored
        assert_eq!(eta.cells_left(), 0);
    }

    #[test]
    fn a_gru_estimate_follows_its_arithmetic() {
        let cost = TrainingCost {
            flops_per_tuple: 1e6,
            tuples: 75_000,
        };
        // 7.5e10 operations at 2 × 37.5e9 per second: one second.
        assert!((CellEstimate::gru(&cost, 2).seconds - 1.0).abs() < 1e-12);
        assert_eq!(human(30.0), "30 s");
        assert_eq!(human(1500.0), "25 min");
        assert_eq!(human(5400.0), "1.5 h");
    }
}
