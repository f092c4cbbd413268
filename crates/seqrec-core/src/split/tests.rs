use super::*;
use proptest::prelude::*;

fn seqs(rows: Vec<Vec<u32>>) -> UserSequences {
    UserSequences::from_users(rows.into_iter().map(|r| {
        let times = (0..r.len() as i64).collect();
        (r.into_iter().map(ItemId).collect(), times)
    }))
}

#[test]
fn floors_of_spec_2_5() {
    let c = SplitConfig::default();
    assert_eq!(c.part_lens(20), (18, 1, 1));
    assert_eq!(c.part_lens(10), (9, 0, 1));
    assert_eq!(c.part_lens(29), (26, 1, 2)); // floor(26.1) = 26, r = 3
    assert_eq!(c.part_lens(1), (0, 0, 1));
    assert_eq!(c.part_lens(0), (0, 0, 0));
    // 0.9 * n is computed without floating-point error for large n.
    assert_eq!(c.train_len(1_000_000_000), 900_000_000);
}

#[test]
fn hand_worked_split_with_unseen_items() {
    // User 0: 20 events, items 0..18 in train, then 5 (seen) and 7 (unseen).
    // User 1: 10 events of item 1 in train (9), then item 6 (unseen) in test.
    let mut u0: Vec<u32> = (0..18).map(|i| i % 5).collect();
    u0.extend([5 % 5, 7]);
    let u1 = vec![1; 9].into_iter().chain([6]).collect();
    let out = Split::compute(&seqs(vec![u0, u1]), 8, &SplitConfig::default()).unwrap();
    // Catalogue: items 0..5 (1..4 and 0), renumbered ascending.
    assert_eq!(out.catalogue, vec![0, 1, 2, 3, 4]);
    assert_eq!(out.split.catalogue_size(), 5);
    assert_eq!(out.report.removed_validation, 0);
    assert_eq!(out.report.removed_test, 2);
    let s = &out.split;
    assert_eq!(s.range(UserId(0), Part::Train), 0..18);
    assert_eq!(s.part(UserId(0), Part::Validation), &[ItemId(0)]);
    assert!(s.part(UserId(0), Part::Test).is_empty());
    assert_eq!(s.range(UserId(1), Part::Train), 0..9);
    assert!(s.part(UserId(1), Part::Test).is_empty());
    assert_eq!(s.events(Part::Train), 27);
    assert_eq!(s.events(Part::Validation), 1);
}

#[test]
fn keeping_unseen_items_is_an_option() {
    let config = SplitConfig {
        remove_unseen: false,
        ..SplitConfig::default()
    };
    let out = Split::compute(&seqs(vec![vec![0, 1, 2]]), 4, &config).unwrap();
    assert_eq!(out.split.catalogue_size(), 4);
    assert_eq!(out.report, SplitReport::default());
}

#[test]
fn bad_inputs_are_errors() {
    let bad = SplitConfig {
        train_fraction: 0.0,
        ..SplitConfig::default()
    };
    assert!(Split::compute(&seqs(vec![vec![0]]), 1, &bad).is_err());
    assert!(Split::compute(&seqs(vec![vec![3]]), 2, &SplitConfig::default()).is_err());
}

proptest! {
    #[test]
    fn split_invariants(rows in prop::collection::vec(prop::collection::vec(0u32..30, 0..60), 1..20)) {
        let input = seqs(rows.clone());
        let config = SplitConfig::default();
        let out = Split::compute(&input, 30, &config).unwrap();
        let s = &out.split;
        let mut train_items = vec![false; s.catalogue_size()];
        for u in 0..s.users() {
            for i in s.train(UserId(u as u32)) {
                train_items[i.index()] = true;
            }
        }
        // Every catalogue item occurs in training, so no evaluated item is outside it.
        prop_assert!(train_items.iter().all(|&b| b));
        let mut removed = 0;
        for (u, row) in rows.iter().enumerate() {
            let user = UserId(u as u32);
            let (train, validation, test) = config.part_lens(row.len());
            // Training follows the floor exactly; the other parts can only shrink.
            prop_assert_eq!(s.range(user, Part::Train).len(), train);
            prop_assert!(s.range(user, Part::Validation).len() <= validation);
            prop_assert!(s.range(user, Part::Test).len() <= test);
            removed += validation + test
                - s.range(user, Part::Validation).len()
                - s.range(user, Part::Test).len();
            // Order is kept: the output, mapped back, is a subsequence of the input
            // that keeps all training events and drops only unseen items.
            let back: Vec<u32> = s.sequences().items(user).iter()
                .map(|i| out.catalogue[i.index()]).collect();
            prop_assert_eq!(&back[..train], &row[..train]);
            let mut it = row.iter();
            for b in &back {
                prop_assert!(it.any(|x| x == b));
            }
            let times: Vec<i64> = s.sequences().timestamps(user).to_vec();
            prop_assert!(times.windows(2).all(|w| w[0] < w[1]));
        }
        prop_assert_eq!(removed, out.report.removed_validation + out.report.removed_test);
        prop_assert_eq!(out.catalogue.windows(2).all(|w| w[0] < w[1]), true);
    }
}

#[test]
fn an_evaluation_sample_keeps_users_and_training_data() {
    let rows: Vec<Vec<u32>> = (0..4)
        .map(|u| (0..20).map(|i| (u + i) % 6).collect())
        .collect();
    let split = Split::compute(&seqs(rows), 6, &SplitConfig::default())
        .unwrap()
        .split;
    let sample = split.with_evaluation_of_first(2).unwrap();
    assert_eq!(sample.users(), 4);
    assert_eq!(sample.catalogue_size(), 6);
    for u in 0..4 {
        let user = UserId(u);
        assert_eq!(sample.train(user), split.train(user));
        let kept = u < 2;
        for part in [Part::Validation, Part::Test] {
            let want: &[ItemId] = if kept { split.part(user, part) } else { &[] };
            assert_eq!(sample.part(user, part), want, "user {u} {part:?}");
        }
    }
    // 20 events: 18 / 1 / 1 per user, two users kept.
    assert_eq!(sample.events(Part::Test), 2);
    assert_eq!(sample.events(Part::Validation), 2);
    assert_eq!(sample.events(Part::Train), split.events(Part::Train));
    assert_eq!(split.with_evaluation_of_first(10).unwrap(), split);
}

#[test]
fn without_test_keeps_training_and_validation_only() {
    let rows: Vec<Vec<u32>> = (0..3)
        .map(|u| (0..40).map(|i| (u * 7 + i * 3) % 9).collect())
        .collect();
    let split = Split::compute(&seqs(rows), 9, &SplitConfig::default())
        .unwrap()
        .split;
    assert!(split.events(Part::Test) > 0);
    let cut = split.without_test().unwrap();
    assert_eq!(cut.events(Part::Test), 0);
    assert_eq!((cut.users(), cut.catalogue_size()), (3, 9));
    for u in 0..3 {
        let user = UserId(u);
        assert_eq!(cut.train(user), split.train(user));
        assert_eq!(
            cut.part(user, Part::Validation),
            split.part(user, Part::Validation)
        );
        // 40 events: 36 train, 2 validation; the sequence ends there.
        assert_eq!(cut.sequences().len(user), 38);
    }
}
