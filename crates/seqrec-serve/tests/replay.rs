//! State equals replay, on real data (ml-100k), for all nine methods: for
//! every user, posting their validation and test events one at a time and
//! asking after each gives the offline scorer's top 20 at that position
//! (scores within 1e-6; items whose scores differ by rounding alone may
//! trade places); a user with no new events gets exactly `seqrec
//! recommend`'s list. Models are small (few epochs) to keep CI time low.

use seqrec_core::{ItemId, Part, Query, UserId};
use seqrec_data::{DatasetName, LoadRequest, load};
use seqrec_runner::model_dir::{self, TrainSpec};
use seqrec_runner::{Compute, Method};
use seqrec_serve::{Event, OnlineModel, Start};

const TOP: usize = 20;

#[test]
fn online_state_equals_offline_replay_for_every_method() {
    let Some(data_dir) = seqrec_data::testing::movielens_data_dir() else {
        return;
    };
    let mut request = LoadRequest::new(&data_dir);
    request.cache_dir = None;
    let name = DatasetName::parse("ml-100k").unwrap_or_else(|e| panic!("{e}"));
    let data = load(&name, &request).unwrap_or_else(|e| panic!("{e}"));
    let titles = seqrec_data::read_titles(&name, &data_dir).unwrap_or_else(|e| panic!("{e}"));
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let methods = [
        "pop",
        "item-knn",
        "decay-knn",
        "bpr-mf",
        "seq-mf",
        "gru",
        "linear-user-gru",
        "rectified-user-gru",
        "attentional-user-gru",
    ];
    for method in methods {
        let method = Method::parse(method).unwrap_or_else(|e| panic!("{e}"));
        let mut spec = TrainSpec {
            method,
            gru: seqrec_models::GruParams {
                hidden: 16,
                lanes: 32,
                epochs: 1,
                ..Default::default()
            },
            baselines: Default::default(),
            seed: 7,
            compute: Compute::default(),
        };
        spec.baselines.bpr_mf.sgd.epochs = 2;
        spec.baselines.seq_mf.sgd.epochs = 2;
        let out = dir.path().join(method.name());
        model_dir::train(&spec, &data, &request.options, titles.as_ref(), &out, None)
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        let open = || {
            let saved = model_dir::read_saved(&out).unwrap_or_else(|e| panic!("{e}"));
            model_dir::open(&out, saved, Compute::default()).unwrap_or_else(|e| panic!("{e}"))
        };

        // A training user with no new events: exactly `recommend`'s list.
        let loaded = open();
        let user = data.users.label(3).unwrap_or_default().into_owned();
        let offline = model_dir::recommend(
            loaded.scorer.as_scorer(),
            &loaded.data,
            &user,
            TOP,
            false,
            loaded.titles.as_ref(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut online = OnlineModel::new(loaded, Start::WholeHistory);
        let got = online
            .recommend(&user, TOP, false)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(got, offline, "{method}: user {user} with no new events");

        // Every user's validation and test events, one at a time.
        let mut online = OnlineModel::new(open(), Start::TrainingHistory);
        let reference = open();
        let scorer = reference.scorer.as_scorer();
        let split = &data.split;
        let items = scorer.catalogue_size();
        let mut checked = 0usize;
        for u in 0..split.users() {
            let id = UserId(u as u32);
            let label = data.users.label(u).unwrap_or_default().into_owned();
            let sequence: &[ItemId] = split.sequences().items(id);
            let times = split.sequences().timestamps(id);
            let first = split.range(id, Part::Train).end;
            // The offline scores at every position at once (the scorer runs
            // a user's growing histories as one pass, as the evaluator does).
            let queries: Vec<Query<'_>> = (first..sequence.len())
                .map(|p| Query {
                    user: id,
                    history: &sequence[..p],
                    times: &times[..p],
                })
                .collect();
            let mut offline = vec![0f32; queries.len() * items];
            scorer
                .score(&queries, &mut offline)
                .unwrap_or_else(|e| panic!("{e}"));
            for (p, row) in (first..sequence.len()).zip(offline.chunks_exact(items)) {
                let got = online
                    .recommend(&label, TOP, false)
                    .unwrap_or_else(|e| panic!("{e}"));
                let want = model_dir::top_items(
                    row,
                    &sequence[..p],
                    TOP,
                    false,
                    &data.items,
                    reference.titles.as_ref(),
                );
                // The same list; the one freedom is the order of items whose
                // scores differ by float rounding alone (the online step and
                // the offline replay sum in different orders), so two items
                // may trade places only when their offline scores are within
                // 2e-6.
                assert_eq!(got.len(), want.len(), "{method}: user {label} at {p}");
                for (a, b) in got.iter().zip(&want) {
                    let index = |r: &model_dir::Recommendation| {
                        data.items
                            .find(&r.item)
                            .unwrap_or_else(|| panic!("{}", r.item))
                    };
                    let (sa, sb) = (row[index(a)], row[index(b)]);
                    assert!(
                        a.item == b.item || (sa - sb).abs() <= 2e-6,
                        "{method}: user {label} at position {p}: online {got:?}, offline {want:?}"
                    );
                    assert!(
                        (a.score - sa).abs() <= 1e-6 && (a.score - b.score).abs() <= 1e-6,
                        "{method}: user {label} at {p}, item {}: online {}, offline {sa}",
                        a.item,
                        a.score,
                    );
                }
                let item = data
                    .items
                    .label(sequence[p].index())
                    .unwrap_or_default()
                    .into_owned();
                let applied = online
                    .apply(&[Event::new(label.clone(), item, Some(times[p]))])
                    .unwrap_or_else(|e| panic!("{e}"));
                assert_eq!((applied.accepted, applied.unknown_items), (1, 0));
                checked += 1;
            }
        }
        assert!(checked > 5000, "{method}: only {checked} positions");
        // Unknown items are counted and change nothing; new users work.
        let before = online.recommend("1", TOP, false).unwrap_or_default();
        let applied = online
            .apply(&[
                Event::new("1", "no-such-item", None),
                Event::new("new-user", "50", None),
            ])
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((applied.accepted, applied.unknown_items), (2, 1));
        assert_eq!(
            online.recommend("1", TOP, false).unwrap_or_default(),
            before
        );
        let fresh = online
            .recommend("new-user", TOP, false)
            .unwrap_or_else(|e| panic!("{method}: {e}"));
        assert_eq!(fresh.len(), TOP, "{method}");
        assert!(online.recommend("nobody", TOP, false).is_err());
    }
}
