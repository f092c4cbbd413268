use super::*;
use proptest::prelude::*;
use seqrec_core::{ScoreError, SplitConfig, UserSequences};

/// A split with two users whose every item is in training.
fn split_of(rows: Vec<Vec<u32>>, items: usize) -> Split {
    let seqs = UserSequences::from_users(rows.into_iter().map(|r| {
        let t = (0..r.len() as i64).collect();
        (r.into_iter().map(ItemId).collect(), t)
    }));
    Split::compute(&seqs, items, &SplitConfig::default())
        .unwrap()
        .split
}

/// Scores from a closure of (user, history, item).
struct Fn<F>(usize, F);
impl<F: Sync + std::ops::Fn(UserId, &[ItemId], usize) -> f32> Scorer for Fn<F> {
    fn name(&self) -> &str {
        "closure"
    }
    fn catalogue_size(&self) -> usize {
        self.0
    }
    fn score(&self, queries: &[Query<'_>], scores: &mut [f32]) -> Result<(), ScoreError> {
        for (q, row) in queries.iter().zip(scores.chunks_exact_mut(self.0)) {
            for (i, s) in row.iter_mut().enumerate() {
                *s = (self.1)(q.user, q.history, i);
            }
        }
        Ok(())
    }
}

/// 40 users with 30 events each over 50 items (every item in training).
fn bigger_split() -> Split {
    let rows = (0..40u32)
        .map(|u| (0..30u32).map(|k| (u * 7 + k * 3) % 50).collect())
        .collect();
    split_of(rows, 50)
}

#[test]
fn a_constant_scorer_gets_zero_under_the_default_rule() {
    let split = bigger_split();
    let constant = Fn(50, |_, _: &[ItemId], _| 0.5);
    let report = evaluate(&constant, &split, Part::Test, &EvalConfig::default(), None).unwrap();
    assert!(report.events > 0);
    assert_eq!(report.get("mrr@20"), Some(0.0));
    assert_eq!(report.get("recall@20"), Some(0.0));
    // The failure of optimistic ties: the same scorer looks perfect.
    let optimistic = EvalConfig {
        tie_rule: TieRule::Optimistic,
        ..EvalConfig::default()
    };
    let report = evaluate(&constant, &split, Part::Test, &optimistic, None).unwrap();
    assert_eq!(report.get("mrr@20"), Some(1.0));
    assert_eq!(report.get("recall@20"), Some(1.0));
}

#[test]
fn hand_worked_micro_and_macro() {
    // User 0: 20 events, items 0..9 twice; test = position 19 (item 9), validation = 18 (item 8).
    // User 1: 10 events of items 0..9; test = position 9 (item 9).
    let u0: Vec<u32> = (0..20).map(|i| i % 10).collect();
    let u1: Vec<u32> = (0..10).collect();
    let split = split_of(vec![u0, u1], 10);
    assert_eq!(split.range(UserId(0), Part::Test), 19..20);
    assert_eq!(split.range(UserId(1), Part::Test), 9..10);
    // Score = item id for user 0 (item 9 is first: rank 1); for user 1 score
    // = -item (item 9 is last: rank 10).
    let scorer = Fn(
        10,
        |u: UserId, _: &[ItemId], i| if u.0 == 0 { i as f32 } else { -(i as f32) },
    );
    let config = EvalConfig {
        cutoffs: vec![1, 10],
        ..EvalConfig::default()
    };
    let r = evaluate(&scorer, &split, Part::Test, &config, None).unwrap();
    assert_eq!(r.events, 2);
    assert_eq!(r.get("recall@1"), Some(0.5));
    assert_eq!(r.get("mrr@10"), Some((1.0 + 0.1) / 2.0));
    assert_eq!(r.get("ndcg@10"), Some((1.0 + 1.0 / 11f64.log2()) / 2.0));
    // One event per user here, so macro equals micro.
    assert_eq!(r.get("mrr@10_macro"), r.get("mrr@10"));
    assert_eq!(r.per_user_values(Metric::Mrr, 10), Some(vec![1.0, 0.1]));
}

#[test]
fn histories_are_exactly_the_preceding_events() {
    // An oracle that knows the next item is (last + 1) mod 13 gets rank 1 always.
    let rows: Vec<Vec<u32>> = (0..5u32)
        .map(|u| (0..40u32).map(|k| (u + k) % 13).collect())
        .collect();
    let split = split_of(rows, 13);
    let oracle = Fn(13, |_, h: &[ItemId], i| {
        let next = h.last().map_or(0, |l| (l.index() + 1) % 13);
        f32::from(u8::from(i == next))
    });
    for part in [Part::Validation, Part::Test] {
        let r = evaluate(&oracle, &split, part, &EvalConfig::default(), None).unwrap();
        assert_eq!(r.get("mrr@20"), Some(1.0), "{part:?}");
    }
}

#[test]
fn exclude_seen_drops_history_items_but_never_the_target() {
    // One user: 0 1 .. 8 in training, 9 in validation (unseen, so removed),
    // then 0 as the test event; the catalogue is items 0..=8.
    let split = split_of(vec![(0..10).chain([0]).collect()], 10);
    assert_eq!(split.catalogue_size(), 9);
    // Higher item id = higher score: the target 0 is last (rank 9).
    let scorer = Fn(9, |_, _: &[ItemId], i| i as f32);
    let plain = evaluate(
        &scorer,
        &split,
        Part::Test,
        &EvalConfig {
            cutoffs: vec![10],
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(plain.get("mrr@10"), Some(1.0 / 9.0));
    let excluding = EvalConfig {
        cutoffs: vec![10],
        exclude_seen: true,
        ..Default::default()
    };
    let r = evaluate(&scorer, &split, Part::Test, &excluding, None).unwrap();
    // Every other item was seen and is left out: the target ranks first.
    assert_eq!(r.get("mrr@10"), Some(1.0));
}

#[test]
fn errors_are_reported_not_hidden() {
    let split = bigger_split();
    let nan = Fn(50, |_, _: &[ItemId], i| if i == 3 { f32::NAN } else { 0.0 });
    let err = evaluate(&nan, &split, Part::Test, &EvalConfig::default(), None).unwrap_err();
    assert!(matches!(err, EvalError::NotANumber { .. }), "{err}");
    let small = Fn(10, |_, _: &[ItemId], _| 0.0);
    let err = evaluate(&small, &split, Part::Test, &EvalConfig::default(), None).unwrap_err();
    assert!(
        err.to_string().contains("10 items") && err.to_string().contains("50"),
        "{err}"
    );
    for bad in [
        EvalConfig {
            cutoffs: vec![],
            ..Default::default()
        },
        EvalConfig {
            cutoffs: vec![20, 10],
            ..Default::default()
        },
        EvalConfig {
            batch_size: 0,
            ..Default::default()
        },
    ] {
        assert!(evaluate(&small, &split, Part::Test, &bad, None).is_err());
    }
}

/// A scorer with many ties and no structure, depending only on its inputs.
fn hashed() -> Fn<impl std::ops::Fn(UserId, &[ItemId], usize) -> f32 + Sync> {
    Fn(50, |u: UserId, h: &[ItemId], i: usize| {
        let x = (u.0 as u64 * 1_000_003 + h.len() as u64 * 7919 + i as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        ((x >> 59) as f32) / 4.0 // 32 distinct values: many ties
    })
}

#[test]
fn results_do_not_depend_on_batch_size_or_threads() {
    let split = bigger_split();
    let scorer = hashed();
    let base = EvalConfig {
        cutoffs: vec![1, 5, 20],
        ..Default::default()
    };
    let reference = evaluate(&scorer, &split, Part::Validation, &base, None).unwrap();
    for batch_size in [1, 3, 29, 30, 31, 1000] {
        for threads in [Some(1), Some(2), None] {
            let config = EvalConfig {
                batch_size,
                threads,
                ..base.clone()
            };
            let r = evaluate(&scorer, &split, Part::Validation, &config, None).unwrap();
            assert_eq!(r, reference, "batch {batch_size}, threads {threads:?}");
        }
    }
}

#[test]
fn batches_keep_users_whole_when_they_fit() {
    let events: Vec<(UserId, usize)> = [(0, 3), (1, 2), (2, 6)]
        .iter()
        .flat_map(|&(u, n)| (0..n).map(move |p| (UserId(u), p)))
        .collect();
    assert_eq!(batches(&events, 4), vec![0..3, 3..5, 5..9, 9..11]);
    assert_eq!(batches(&events, 100), vec![0..11]);
}

proptest! {
    #[test]
    fn rank_properties(scores in prop::collection::vec(0i32..6, 1..80), target_pick in 0usize..1000) {
        let n = scores.len();
        let target = target_pick % n;
        let row: Vec<f32> = scores.iter().map(|&s| s as f32).collect();
        let (h, e) = count_above(&row, target).unwrap();
        let [p, a, o] = [TieRule::Pessimistic, TieRule::Average, TieRule::Optimistic].map(|r| r.rank(h, e));
        prop_assert!(1.0 <= o && o <= a && a <= p && p <= n as f64);
        // Any strictly increasing transform keeps every rank.
        let moved: Vec<f32> = scores.iter().map(|&s| (3 * s * s + 2 * s - 7) as f32).collect();
        prop_assert_eq!(count_above(&moved, target), Some((h, e)));
        // All equal: the last rank under the pessimistic rule.
        prop_assert_eq!(TieRule::Pessimistic.rank(0, n as u32 - 1), n as f64);
        let flat = vec![1.0f32; n];
        let (fh, fe) = count_above(&flat, target).unwrap();
        prop_assert_eq!(TieRule::Pessimistic.rank(fh, fe), n as f64);
        // A uniquely highest target has rank 1 under every rule.
        let mut top = row.clone();
        top[target] = 100.0;
        let (th, te) = count_above(&top, target).unwrap();
        prop_assert_eq!(TieRule::Pessimistic.rank(th, te), 1.0);
    }

    #[test]
    fn metric_bounds(ranks in prop::collection::vec(1u32..200, 1..50)) {
        let cutoffs = [1, 5, 10, 20, 50];
        let mut sums = MetricSums::new(cutoffs.len());
        ranks.iter().for_each(|&r| sums.add(f64::from(r), &cutoffs));
        let m = sums.means();
        for c in 0..cutoffs.len() {
            let (mrr, recall) = (m.get(Metric::Mrr, c), m.get(Metric::Recall, c));
            prop_assert!((0.0..=1.0).contains(&mrr) && mrr <= recall + 1e-12 && recall <= 1.0);
            if c > 0 {
                prop_assert!(recall >= m.get(Metric::Recall, c - 1));
            }
        }
    }
}
