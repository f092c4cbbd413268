//! The [`Scorer`] of a trained GRU (specification §4.5, last point): each user's
//! sequence runs from its start with no dropout, carrying the state, and
//! all items are scored at each evaluated position. The users of a batch run
//! together, one lane each.

use crate::device::guarded;
use crate::model::{GruModel, index_tensor};
use crate::output_host::HostLogits;
use crate::{Backend, Precision};
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
    /// CPU backends: the output layer on the host, scoring straight into
    /// the evaluator's buffer.
    host: Option<HostLogits>,
    /// How the device's products are computed.
    precision: Precision,
    /// How a GPU computes the step's element-wise work.
    elementwise: crate::ElementWise,
    /// The GPU backend whose panics scoring turns into errors (a lost
    /// device, a kernel that cannot run), as training does.
    gpu: Option<Backend>,
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
    /// On a CPU backend (`parallel`) the output layer's weights are copied
    /// to the host once, and scores are computed there.
    pub fn new(name: impl Into<String>, model: GruModel, device: Device, parallel: bool) -> Self {
        let host = parallel.then(|| host_logits(&model)).flatten();
        GruScorer {
            name: name.into(),
            model,
            device,
            parallel,
            batch: None,
            host,
            precision: Precision::default(),
            elementwise: crate::ElementWise::default(),
            gpu: None,
        }
    }

    /// Names the backend the model is on: on a GPU, a panic while scoring
    /// becomes a [`ScoreError`] naming the backend instead of ending the
    /// process.
    pub fn with_backend(mut self, backend: Backend) -> Self {
        self.gpu = (!backend.is_cpu()).then_some(backend);
        self
    }

    /// Queries per scoring call the evaluator should use.
    pub fn with_batch_size(mut self, batch: usize) -> Self {
        self.batch = Some(batch);
        self
    }

    /// Computes a GPU step's element-wise work as `elementwise` says
    /// (default: fused kernels; the CPU backends compose either way).
    pub fn with_elementwise(mut self, elementwise: crate::ElementWise) -> Self {
        self.elementwise = elementwise;
        self
    }

    /// Computes products at `precision` (default: [`Precision::Tf32`]).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    pub fn model(&self) -> &GruModel {
        &self.model
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The host copy of the output layer (CPU backends).
    pub(crate) fn host_output(&self) -> Option<&HostLogits> {
        self.host.as_ref()
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
        let elementwise = self.elementwise.effective(self.gpu.is_none());
        let weights = cell
            .step_weights(self.precision)
            .with_fused_elementwise(elementwise == crate::ElementWise::Fused);
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
                self.precision,
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

/// The model's output layer as host vectors (None if they cannot be read,
/// which leaves scoring to burn).
fn host_logits(model: &GruModel) -> Option<HostLogits> {
    let weight = model
        .output
        .weight
        .val()
        .into_data()
        .try_to_vec::<f32>()
        .ok()?;
    let bias = match &model.output.bias {
        Some(b) => b.val().into_data().try_to_vec::<f32>().ok()?,
        None => vec![0.0; model.items()],
    };
    HostLogits::new(weight, bias, model.hidden()).ok()
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
        match self.gpu {
            None => self.score_unguarded(queries, scores),
            Some(backend) => {
                let mut failure = None;
                guarded(backend, "scoring", || {
                    failure = self.score_unguarded(queries, scores).err();
                    Ok(())
                })?;
                failure.map_or(Ok(()), Err)
            }
        }
    }

    fn parallel_batches(&self) -> bool {
        self.parallel
    }

    fn preferred_batch_size(&self) -> Option<usize> {
        self.batch
    }
}

impl GruScorer {
    fn score_unguarded(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        let states = self.states(queries);
        if let Some(host) = &self.host {
            let states = states
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| format!("reading states: {e:?}"))?;
            return host
                .scores(&states, scores, self.precision.host_rounding())
                .map_err(|e| e.to_string().into());
        }
        let logits = self.model.logits(states, self.precision);
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{GruCellConfig, GruModelConfig, UserIntegration};
    use seqrec_core::{ItemId, SeqRng, UserId};

    /// On a GPU backend a panic while scoring (here provoked on flex with
    /// an item outside the catalogue, where a GPU would lose its device) is
    /// an error naming the backend and what it was doing.
    #[test]
    fn a_gpu_scorer_reports_a_panic_as_an_error() {
        let device = Device::flex();
        let model =
            GruModelConfig::new(5, 1, GruCellConfig::new(3)).init(&device, &mut SeqRng::new(1));
        let history = [ItemId(999)];
        let query = Query {
            user: UserId(0),
            history: &history,
            times: &[0],
        };
        let scorer = GruScorer::new("gru", model, device, false).with_backend(Backend::Cuda);
        let mut scores = vec![0f32; 5];
        let err = scorer.score(&[query], &mut scores).unwrap_err().to_string();
        assert!(err.contains("backend `cuda` failed while scoring"), "{err}");
    }

    /// Host scoring (CPU backends) and burn's logits agree, and both equal
    /// one plain step-by-step run of each query's history.
    #[test]
    fn host_scores_equal_burn_logits_and_a_plain_unroll() {
        let device = Device::flex();
        let (items, n) = (37, 6);
        let config = GruModelConfig::new(
            items,
            3,
            GruCellConfig::new(n).with_integration(UserIntegration::Attentional),
        );
        let model = || config.init(&device, &mut SeqRng::new(5));
        let sequence: Vec<ItemId> = (0..9).map(|i| ItemId((i * 7) % items as u32)).collect();
        let other: Vec<ItemId> = (0..4).map(|i| ItemId((i * 3 + 1) % items as u32)).collect();
        let times = [0i64; 9];
        // A user's growing histories (one group), another user, an empty history.
        let queries: Vec<Query<'_>> = [
            (0, &sequence[..3]),
            (0, &sequence[..]),
            (2, &other[..]),
            (1, &other[..0]),
        ]
        .iter()
        .map(|&(user, history)| Query {
            user: UserId(user),
            history,
            times: &times[..history.len()],
        })
        .collect();
        let mut host = vec![0f32; queries.len() * items];
        let mut burn = vec![0f32; queries.len() * items];
        let host_scorer = GruScorer::new("gru", model(), device.clone(), true);
        assert!(host_scorer.host.is_some());
        host_scorer
            .score(&queries, &mut host)
            .unwrap_or_else(|e| panic!("{e}"));
        GruScorer::new("gru", model(), device.clone(), false)
            .score(&queries, &mut burn)
            .unwrap_or_else(|e| panic!("{e}"));
        let plain_model = model();
        for (q, query) in queries.iter().enumerate() {
            let e_v = || plain_model.embed_users(&[query.user.0], &device);
            let mut h = Tensor::<2>::zeros([1, n], &device);
            for item in query.history {
                h = plain_model.step(h, plain_model.embed_items(&[item.0], &device), e_v());
            }
            let want = plain_model
                .logits(h, crate::Precision::Tf32)
                .into_data()
                .try_to_vec::<f32>()
                .unwrap_or_default();
            for (i, w) in want.iter().enumerate() {
                let (a, b) = (host[q * items + i], burn[q * items + i]);
                assert!(
                    (a - w).abs() < 1e-5,
                    "query {q} item {i}: host {a}, plain {w}"
                );
                assert!(
                    (b - w).abs() < 1e-5,
                    "query {q} item {i}: burn {b}, plain {w}"
                );
            }
        }
    }
}
