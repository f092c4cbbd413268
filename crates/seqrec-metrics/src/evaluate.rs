//! The evaluator: walks a split part per specification §3, asks a [`Scorer`] for
//! full-catalogue scores in batches, ranks each target, and averages.
//!
//! Every rank is stored in its event's slot and the metrics are summed in
//! one fixed order afterwards, so the results are identical, bit for bit,
//! for any batch size and any number of threads.

use crate::EvalError;
use crate::metrics::{Metric, MetricSums, MetricValues};
use crate::rank::{TieRule, count_above};
use indicatif::ProgressBar;
use rayon::prelude::*;
use seqrec_core::{Cancel, ItemId, Part, Query, Scorer, Split, UserId};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How to evaluate.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EvalConfig {
    /// Cutoffs k of MRR@k, Recall@k, NDCG@k (ascending, positive).
    pub cutoffs: Vec<usize>,
    /// How ties with the target are counted (specification §3: pessimistic).
    pub tie_rule: TieRule,
    /// Leave items already in the history out of the ranking (the target is
    /// always ranked). Specification §3: off.
    pub exclude_seen: bool,
    /// Queries per scorer call.
    pub batch_size: usize,
    /// Worker threads (default: rayon's global pool).
    pub threads: Option<usize>,
    /// Checked before every batch; once raised, the evaluation returns
    /// [`EvalError::Cancelled`]. Not a setting: never serialised.
    #[serde(skip)]
    pub cancel: Option<Cancel>,
}

impl Default for EvalConfig {
    fn default() -> Self {
        EvalConfig {
            cutoffs: vec![5, 10, 20],
            tie_rule: TieRule::Pessimistic,
            exclude_seen: false,
            batch_size: 256,
            threads: None,
            cancel: None,
        }
    }
}

impl EvalConfig {
    /// Checks the cutoffs and batch size.
    pub fn validate(&self) -> Result<(), EvalError> {
        let bad = |m: &str| Err(EvalError::InvalidConfig(m.to_owned()));
        if self.cutoffs.is_empty() || self.cutoffs.contains(&0) {
            return bad("cutoffs must be a non-empty list of positive numbers");
        }
        if self.cutoffs.windows(2).any(|w| w[0] >= w[1]) {
            return bad("cutoffs must be strictly ascending");
        }
        if self.batch_size == 0 {
            return bad("batch_size must be positive");
        }
        if self.threads == Some(0) {
            return bad("threads must be positive");
        }
        Ok(())
    }
}

/// One user's results.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct UserResult {
    pub user: UserId,
    pub events: u64,
    pub values: MetricValues,
}

/// What an evaluation measured.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    pub scorer: String,
    pub part: Part,
    pub tie_rule: TieRule,
    pub exclude_seen: bool,
    pub cutoffs: Vec<usize>,
    /// Evaluated events (queries).
    pub events: usize,
    /// Users with at least one evaluated event.
    pub users: usize,
    /// Means over events (the paper's averages).
    pub micro: MetricValues,
    /// Means over users of each user's mean.
    pub macro_avg: MetricValues,
    /// Per-user values, users in ascending id, for significance tests.
    pub per_user: Vec<UserResult>,
}

impl EvalReport {
    /// A metric by key: `mrr@20`, `recall@10`, `ndcg@5` (micro) or with a
    /// `_macro` suffix.
    pub fn get(&self, key: &str) -> Option<f64> {
        let (key, averages) = match key.strip_suffix("_macro") {
            Some(k) => (k, &self.macro_avg),
            None => (key, &self.micro),
        };
        let (name, k) = key.split_once('@')?;
        let metric = Metric::ALL.into_iter().find(|m| m.name() == name)?;
        let k: usize = k.parse().ok()?;
        let index = self.cutoffs.iter().position(|&c| c == k)?;
        Some(averages.get(metric, index))
    }

    /// Every metric by key (`mrr@20`, `mrr@20_macro`, ...).
    pub fn to_map(&self) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for metric in Metric::ALL {
            for (i, k) in self.cutoffs.iter().enumerate() {
                out.insert(format!("{}@{k}", metric.name()), self.micro.get(metric, i));
                out.insert(
                    format!("{}@{k}_macro", metric.name()),
                    self.macro_avg.get(metric, i),
                );
            }
        }
        out
    }

    /// Each evaluated user's value of `metric` at cutoff `k`, in user order.
    pub fn per_user_values(&self, metric: Metric, k: usize) -> Option<Vec<f64>> {
        let index = self.cutoffs.iter().position(|&c| c == k)?;
        Some(
            self.per_user
                .iter()
                .map(|u| u.values.get(metric, index))
                .collect(),
        )
    }
}

/// The events to evaluate, user by user: `(user, position)` in order.
fn events_of(split: &Split, part: Part) -> Vec<(UserId, usize)> {
    (0..split.users())
        .flat_map(|u| {
            let user = UserId(u as u32);
            split.range(user, part).map(move |p| (user, p))
        })
        .collect()
}

/// Contiguous event ranges of at most `size` events that start at a user
/// boundary whenever a whole user still fits.
fn batches(events: &[(UserId, usize)], size: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let mut start = 0;
    while start < events.len() {
        let mut end = (start + size).min(events.len());
        if end < events.len() {
            // Back off to the start of the user cut in two, if that leaves anything.
            let cut_user = events[end].0;
            let mut back = end;
            while back > start && events[back - 1].0 == cut_user {
                back -= 1;
            }
            if back > start {
                end = back;
            }
        }
        out.push(start..end);
        start = end;
    }
    out
}

/// Scratch space of one worker.
struct Scratch {
    scores: Vec<f32>,
    seen: Vec<u32>,
    stamp: u32,
}

/// Evaluates `scorer` on `part` of `split`.
pub fn evaluate(
    scorer: &dyn Scorer,
    split: &Split,
    part: Part,
    config: &EvalConfig,
    progress: Option<&ProgressBar>,
) -> Result<EvalReport, EvalError> {
    config.validate()?;
    if part == Part::Train {
        return Err(EvalError::InvalidConfig(
            "only validation and test are evaluated".into(),
        ));
    }
    let catalogue = split.catalogue_size();
    if scorer.catalogue_size() != catalogue {
        return Err(EvalError::CatalogueMismatch {
            scorer: scorer.name().to_owned(),
            scorer_items: scorer.catalogue_size(),
            split_items: catalogue,
        });
    }
    let events = events_of(split, part);
    if let Some(bar) = progress {
        bar.set_length(events.len() as u64);
    }
    let batch_size = scorer.preferred_batch_size().unwrap_or(config.batch_size);
    let ranges = batches(&events, batch_size.max(1));
    let mut ranks = vec![0f64; events.len()];
    // Disjoint output slices, one per batch.
    let mut slots: Vec<&mut [f64]> = Vec::with_capacity(ranges.len());
    let mut rest = ranks.as_mut_slice();
    for r in &ranges {
        let (head, tail) = rest.split_at_mut(r.len());
        slots.push(head);
        rest = tail;
    }
    let work = |scratch: &mut Scratch, (range, out): (&std::ops::Range<usize>, &mut &mut [f64])| {
        if config.cancel.as_ref().is_some_and(Cancel::is_cancelled) {
            return Err(EvalError::Cancelled);
        }
        let result = rank_batch(scorer, split, &events[range.clone()], config, scratch, out);
        if let Some(bar) = progress {
            bar.inc(range.len() as u64);
        }
        result
    };
    let init = || Scratch {
        scores: Vec::new(),
        seen: if config.exclude_seen {
            vec![0; catalogue]
        } else {
            Vec::new()
        },
        stamp: 0,
    };
    let mut run = || -> Result<(), EvalError> {
        if scorer.parallel_batches() {
            ranges
                .par_iter()
                .zip(slots.par_iter_mut())
                .try_for_each_init(init, work)
        } else {
            let mut scratch = init();
            ranges
                .iter()
                .zip(slots.iter_mut())
                .try_for_each(|job| work(&mut scratch, job))
        }
    };
    match config.threads {
        Some(n) => rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build()
            .map_err(|e| EvalError::InvalidConfig(e.to_string()))?
            .install(run)?,
        None => run()?,
    }
    Ok(summarise(scorer.name(), part, config, &events, &ranks))
}

fn rank_batch(
    scorer: &dyn Scorer,
    split: &Split,
    events: &[(UserId, usize)],
    config: &EvalConfig,
    scratch: &mut Scratch,
    out: &mut [f64],
) -> Result<(), EvalError> {
    let catalogue = split.catalogue_size();
    let sequences = split.sequences();
    let queries: Vec<Query<'_>> = events
        .iter()
        .map(|&(user, p)| Query {
            user,
            history: &sequences.items(user)[..p],
            times: &sequences.timestamps(user)[..p],
        })
        .collect();
    scratch.scores.resize(queries.len() * catalogue, 0.0);
    scorer
        .score(&queries, &mut scratch.scores)
        .map_err(|source| EvalError::Scorer {
            scorer: scorer.name().to_owned(),
            source,
        })?;
    for (i, (&(user, p), slot)) in events.iter().zip(out.iter_mut()).enumerate() {
        let row = &scratch.scores[i * catalogue..(i + 1) * catalogue];
        let target = sequences.items(user)[p];
        let (mut higher, mut equal) =
            count_above(row, target.index()).ok_or_else(|| EvalError::NotANumber {
                scorer: scorer.name().to_owned(),
                user,
                position: p,
            })?;
        if config.exclude_seen {
            scratch.stamp = scratch.stamp.wrapping_add(1);
            if scratch.stamp == 0 {
                scratch.seen.fill(0);
                scratch.stamp = 1;
            }
            let t = row[target.index()];
            for &ItemId(h) in &sequences.items(user)[..p] {
                let h = h as usize;
                if h == target.index() || scratch.seen[h] == scratch.stamp {
                    continue;
                }
                scratch.seen[h] = scratch.stamp;
                if row[h] > t {
                    higher -= 1;
                } else if row[h] == t {
                    equal -= 1;
                }
            }
        }
        *slot = config.tie_rule.rank(higher, equal);
    }
    Ok(())
}

fn summarise(
    scorer: &str,
    part: Part,
    config: &EvalConfig,
    events: &[(UserId, usize)],
    ranks: &[f64],
) -> EvalReport {
    let cutoffs = &config.cutoffs;
    let mut micro = MetricSums::new(cutoffs.len());
    let mut per_user = Vec::new();
    let mut start = 0;
    while start < events.len() {
        let user = events[start].0;
        let end = start + events[start..].iter().take_while(|e| e.0 == user).count();
        let mut sums = MetricSums::new(cutoffs.len());
        for &rank in &ranks[start..end] {
            sums.add(rank, cutoffs);
        }
        micro.merge(&sums);
        per_user.push(UserResult {
            user,
            events: sums.queries,
            values: sums.means(),
        });
        start = end;
    }
    let mut macro_sums = MetricSums::new(cutoffs.len());
    for u in &per_user {
        macro_sums.add_values(&u.values);
    }
    EvalReport {
        scorer: scorer.to_owned(),
        part,
        tie_rule: config.tie_rule,
        exclude_seen: config.exclude_seen,
        cutoffs: cutoffs.clone(),
        events: events.len(),
        users: per_user.len(),
        micro: micro.means(),
        macro_avg: macro_sums.means(),
        per_user,
    }
}

#[cfg(test)]
mod tests;
