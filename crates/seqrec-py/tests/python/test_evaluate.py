"""The exact evaluation: seqrec models, researchers' own scorers, significance."""

import numpy as np
import pytest

import seqrec

METRICS = [f"{m}@{k}{s}" for m in ("mrr", "recall", "ndcg") for k in (5, 10, 20) for s in ("", "_macro")]


def test_item_knn_equals_the_cli_exactly(ml100k, cli, data_dir):
    model = seqrec.fit("item-knn", ml100k, progress=False)
    ours = seqrec.evaluate(model, ml100k)
    theirs = cli("--data-dir", str(data_dir), "evaluate", "--dataset", "ml-100k", "--method", "item-knn", "--json", json_output=True)
    for key in ["method", "dataset", "split", "events", "users", "tie_rule", "exclude_seen", *METRICS]:
        assert ours[key] == theirs[key], key
    assert ours["fit_seconds"] > 0 and ours["eval_seconds"] > 0


def test_a_numpy_pop_equals_the_builtin_pop(ml100k):
    counts = np.bincount(ml100k.events(split="train")["item_index"], minlength=ml100k.n_items).astype(np.float32)
    calls = []

    def numpy_pop(users, histories):
        calls.append(len(users))
        assert users.dtype == np.int64 and len(histories) == len(users)
        return np.tile(counts, (len(users), 1))

    for split in ("validation", "test"):
        ours = seqrec.evaluate(numpy_pop, ml100k, split=split, per_user=True)
        builtin = seqrec.evaluate(seqrec.fit("pop", ml100k, progress=False), ml100k, split=split, per_user=True)
        assert ours["method"] == "numpy_pop"
        for key in ["events", "users", *METRICS]:
            assert ours[key] == builtin[key], (split, key)
        assert np.array_equal(ours["per_user"]["mrr@20"], builtin["per_user"]["mrr@20"])
    assert max(calls) <= 256 and sum(calls) > 0


def test_histories_reach_the_callable_as_the_protocol_says(ml100k):
    events = ml100k.events()
    seen = {}

    def recorder(users, histories):
        for u, h in zip(users, histories):
            seen.setdefault(int(u), []).append(len(h))
        return np.zeros((len(users), ml100k.n_items), dtype=np.float32)

    result = seqrec.evaluate(recorder, ml100k, split="test", cutoffs=[20])
    # Constant scores: every target ties with every item and ranks last.
    assert result["mrr@20"] == 0.0 and result["recall@20"] == 0.0
    # The history of a test event at position p is the user's first p events.
    test = events["split"] == "test"
    expected = {}
    for u, p in zip(events["user_index"][test], events["position"][test]):
        expected.setdefault(int(u), []).append(int(p))
    assert seen == expected


def test_a_callable_that_raises_gives_its_exception(ml100k):
    def broken(users, histories):
        raise ZeroDivisionError("the researcher's bug")

    with pytest.raises(ZeroDivisionError, match="the researcher's bug"):
        seqrec.evaluate(broken, ml100k)
    with pytest.raises(ValueError, match=r"shape \[3\]|expected \["):
        seqrec.evaluate(lambda users, histories: np.zeros(3), ml100k)
    with pytest.raises(TypeError, match="must be a seqrec.Model or a callable"):
        seqrec.evaluate(42, ml100k)
    with pytest.raises(ValueError, match="unknown tie_rule"):
        seqrec.evaluate(broken, ml100k, tie_rule="lucky")
    with pytest.raises(ValueError, match="strictly ascending"):
        seqrec.evaluate(broken, ml100k, cutoffs=[20, 10])


def test_options_of_the_protocol(ml100k):
    model = seqrec.fit("item-knn", ml100k, progress=False)
    pessimistic = seqrec.evaluate(model, ml100k, split="validation")
    optimistic = seqrec.evaluate(model, ml100k, split="validation", tie_rule="optimistic")
    assert optimistic["tie_rule"] == "optimistic"
    assert optimistic["mrr@20"] >= pessimistic["mrr@20"]
    excluded = seqrec.evaluate(model, ml100k, split="validation", exclude_seen=True)
    assert excluded["exclude_seen"] is True


def test_a_model_of_other_data_is_refused(ml100k, data_dir):
    other = seqrec.load("ml-latest-small", data_dir=data_dir)
    model = seqrec.fit("pop", other, progress=False)
    with pytest.raises(ValueError, match="different data or options"):
        seqrec.evaluate(model, ml100k)


def test_compare(ml100k):
    knn = seqrec.evaluate(seqrec.fit("item-knn", ml100k, progress=False), ml100k, per_user=True)
    pop = seqrec.evaluate(seqrec.fit("pop", ml100k, progress=False), ml100k, per_user=True)
    result = seqrec.compare(knn, pop)
    a, b = knn["per_user"]["mrr@20"], pop["per_user"]["mrr@20"]
    assert result["users"] == len(a) == knn["users"]
    assert result["mean_a"] == pytest.approx(a.mean()) and result["mean_b"] == pytest.approx(b.mean())
    assert 0.0 <= result["p_value"] <= 1.0
    low, high = result["interval"]
    assert low <= result["bootstrap"]["mean_difference"] <= high
    assert result["bootstrap"]["mean_difference"] == pytest.approx(a.mean() - b.mean())
    # Seeded: the same call gives the same interval.
    assert seqrec.compare(knn["per_user"], pop["per_user"]) == result
    with pytest.raises(ValueError, match="no `per_user`|no `user_index`"):
        seqrec.compare({}, pop)
