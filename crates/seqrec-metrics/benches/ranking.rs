//! Ranking throughput at ML-10M scale: 500,000 test events against a
//! 10,677-item catalogue. Score rows come from a fixed block reused
//! cyclically (500,000 full rows would need 21 GB). Run with
//! `cargo bench -p seqrec-metrics --bench ranking`.

#![allow(clippy::print_stdout)] // A benchmark reports on stdout.
use seqrec_core::{
    ItemId, Part, Query, ScoreError, Scorer, SeqRng, Split, SplitConfig, UserSequences,
};
use seqrec_metrics::{EvalConfig, MetricSums, TieRule, count_above, evaluate};
use std::time::Instant;

/// Copies a row of the fixed block, chosen by user and position.
struct Block<'a>(&'a [f32]);

impl Scorer for Block<'_> {
    fn name(&self) -> &str {
        "block"
    }
    fn catalogue_size(&self) -> usize {
        CATALOGUE
    }
    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        for (q, out) in queries.iter().zip(scores.chunks_exact_mut(CATALOGUE)) {
            let r = (q.user.index() * 31 + q.history.len()) % BLOCK;
            out.copy_from_slice(&self.0[r * CATALOGUE..(r + 1) * CATALOGUE]);
        }
        Ok(())
    }
}

const EVENTS: usize = 500_000;
const CATALOGUE: usize = 10_677;
const BLOCK: usize = 512;

fn main() {
    let mut rng = SeqRng::new(1);
    let block: Vec<f32> = (0..BLOCK * CATALOGUE)
        .map(|_| rng.next_f64() as f32)
        .collect();
    let targets: Vec<usize> = (0..EVENTS).map(|_| rng.index(CATALOGUE)).collect();
    let cutoffs = [5, 10, 20];
    println!("-- ranking kernel (count_above + metric sums), no scorer");
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .expect("thread pool");
        let started = Instant::now();
        let sums = pool.install(|| {
            use rayon::prelude::*;
            (0..EVENTS)
                .into_par_iter()
                .fold(
                    || MetricSums::new(cutoffs.len()),
                    |mut acc, e| {
                        let row = &block[(e % BLOCK) * CATALOGUE..(e % BLOCK + 1) * CATALOGUE];
                        let (h, q) = count_above(row, targets[e]).expect("no NaN");
                        acc.add(TieRule::Pessimistic.rank(h, q), &cutoffs);
                        acc
                    },
                )
                .reduce(
                    || MetricSums::new(cutoffs.len()),
                    |mut a, b| {
                        a.merge(&b);
                        a
                    },
                )
        });
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(sums.queries as usize, EVENTS);
        println!(
            "ranking {EVENTS} events x {CATALOGUE} items, {threads} thread(s): {secs:.2} s, {:.0} events/s",
            EVENTS as f64 / secs
        );
    }

    // The whole evaluator: 100,000 users x 100 events gives 5 test events
    // each (floors of spec 2.5), 500,000 in all, each scored by copying a row.
    let users = EVENTS / 5;
    let seqs = UserSequences::from_users((0..users).map(|u| {
        let items = (0..100)
            .map(|k| ItemId(((u * 7 + k * 13) % CATALOGUE) as u32))
            .collect();
        (items, (0..100).collect())
    }));
    let split = Split::compute(&seqs, CATALOGUE, &SplitConfig::default())
        .expect("split")
        .split;
    assert_eq!(split.events(Part::Test), EVENTS);
    println!("-- full evaluator (queries, scorer writing 42 kB rows, ranking, metrics)");
    for threads in [1, 2] {
        let config = EvalConfig {
            threads: Some(threads),
            ..EvalConfig::default()
        };
        let started = Instant::now();
        let report = evaluate(&Block(&block), &split, Part::Test, &config, None).expect("evaluate");
        let secs = started.elapsed().as_secs_f64();
        assert_eq!(report.events, EVENTS);
        println!(
            "evaluating {EVENTS} events x {CATALOGUE} items, {threads} thread(s): {secs:.2} s, {:.0} events/s",
            EVENTS as f64 / secs
        );
    }
}
