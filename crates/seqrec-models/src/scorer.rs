//! The [`Scorer`] of a trained GRU (spec §4.5, last point): each user's
//! sequence runs from its start with no dropout, carrying the state, and
//! all items are scored at each evaluated position. The users of a batch run
//! together, one lane each.

use crate::model::{GruModel, index_tensor};
use burn::tensor::{Device, Tensor};
use seqrec_core::{Query, ScoreError, Scorer};

/// A trained GRU recommender, ready to score.
#[derive(Debug)]
pub struct GruScorer {
    name: String,
    model: GruModel,
    device: Device,
    parallel: bool,
    batch: Option<usize>,
}

/// Rows of inputs projected at once while scoring (bounds the memory of
/// the projected block: rows × 5n floats at most).
const PROJECTED_ROWS: usize = 4096;

/// Queries that share one sequence: `queries[first..end]`, histories growing.
struct Group<'q> {
    user: u32,
    /// The longest history; the others are its prefixes.
    sequence: &'q [seqrec_core::ItemId],
    first: usize,
    end: usize,
}

impl GruScorer {
    /// Wraps a model (on a device without autodiff). `parallel`: whether
    /// the evaluator may score several batches at once (CPU backends).
    pub fn new(name: impl Into<String>, model: GruModel, device: Device, parallel: bool) -> Self {
        GruScorer {
            name: name.into(),
            model,
            device,
            parallel,
            batch: None,
        }
    }

    /// Queries per scoring call the evaluator should use.
    pub fn with_batch_size(mut self, batch: usize) -> Self {
        self.batch = Some(batch);
        self
    }

    pub fn model(&self) -> &GruModel {
        &self.model
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Final hidden states after each query's history, `[queries × n]`.
    pub fn states(&self, queries: &[Query<'_>]) -> Tensor<2> {
        let n = self.model.hidden();
        let device = &self.device;
        let mut groups = group(queries);
        // Longest first: the lanes still running at step t are a prefix.
        groups.sort_by_key(|g| std::cmp::Reverse(g.sequence.len()));
        let lanes = groups.len();
        let longest = groups.first().map_or(0, |g| g.sequence.len());
        // For each step, the (lane, query) pairs whose history ends there.
        let mut wanted: Vec<Vec<(usize, usize)>> = vec![Vec::new(); longest + 1];
        for (lane, g) in groups.iter().enumerate() {
            for q in g.first..g.end {
                wanted[queries[q].history.len()].push((lane, q));
            }
        }
        let mut pieces: Vec<Tensor<2>> = Vec::new();
        let mut order: Vec<usize> = Vec::with_capacity(queries.len());
        let mut take = |h: &Tensor<2>, pairs: &[(usize, usize)]| {
            if pairs.is_empty() {
                return;
            }
            let rows: Vec<u32> = pairs.iter().map(|&(lane, _)| lane as u32).collect();
            pieces.push(h.clone().select(0, index_tensor(&rows, device)));
            order.extend(pairs.iter().map(|&(_, q)| q));
        };
        // Lanes still running at step t (1-based): a prefix, longest first.
        let active: Vec<usize> = (1..=longest)
            .map(|t| groups.partition_point(|g| g.sequence.len() >= t))
            .collect();
        let cell = &self.model.cell;
        let weights = cell.step_weights();
        let mut h = Tensor::<2>::zeros([lanes, n], device);
        take(&h, &wanted[0]);
        let mut t = 1;
        while t <= longest {
            // The state-independent products of a block of steps at once.
            let mut end = t;
            let mut rows = 0;
            while end <= longest && (end == t || rows + active[end - 1] <= PROJECTED_ROWS) {
                rows += active[end - 1];
                end += 1;
            }
            let mut items = Vec::with_capacity(rows);
            let mut users = Vec::with_capacity(rows);
            for step in t..end {
                for g in &groups[..active[step - 1]] {
                    items.push(g.sequence[step - 1].0);
                    users.push(g.user);
                }
            }
            let projected = cell.project(
                self.model.embed_items(&items, device),
                self.model.embed_users(&users, device),
            );
            let mut offset = 0;
            for step in t..end {
                let lanes_now = active[step - 1];
                if lanes_now < h.dims()[0] {
                    h = h.narrow(0, 0, lanes_now);
                }
                h = cell.step_projected(&weights, h, projected.rows(offset, lanes_now));
                offset += lanes_now;
                take(&h, &wanted[step]);
            }
            t = end;
        }
        let stacked = Tensor::cat(pieces, 0);
        // Back to query order.
        let mut position = vec![0u32; queries.len()];
        for (row, &q) in order.iter().enumerate() {
            position[q] = row as u32;
        }
        stacked.select(0, index_tensor(&position, device))
    }
}

/// Splits queries into runs of one user whose histories extend each other.
fn group<'q>(queries: &[Query<'q>]) -> Vec<Group<'q>> {
    let mut groups: Vec<Group<'q>> = Vec::new();
    for (i, q) in queries.iter().enumerate() {
        if let Some(g) = groups.last_mut()
            && g.user == q.user.0
            && q.history.len() >= g.sequence.len()
            && q.history[..g.sequence.len()] == *g.sequence
        {
            g.sequence = q.history;
            g.end = i + 1;
            continue;
        }
        groups.push(Group {
            user: q.user.0,
            sequence: q.history,
            first: i,
            end: i + 1,
        });
    }
    groups
}

impl Scorer for GruScorer {
    fn name(&self) -> &str {
        &self.name
    }

    fn catalogue_size(&self) -> usize {
        self.model.items()
    }

    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        if queries.is_empty() {
            return Ok(());
        }
        let logits = self.model.logits(self.states(queries));
        let values = logits
            .into_data()
            .try_to_vec::<f32>()
            .map_err(|e| format!("reading scores from the device: {e:?}"))?;
        if values.len() != scores.len() {
            return Err(format!(
                "the model produced {} scores for a buffer of {}",
                values.len(),
                scores.len()
            )
            .into());
        }
        scores.copy_from_slice(&values);
        Ok(())
    }

    fn parallel_batches(&self) -> bool {
        self.parallel
    }

    fn preferred_batch_size(&self) -> Option<usize> {
        self.batch
    }
}
