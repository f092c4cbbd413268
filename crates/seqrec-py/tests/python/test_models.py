"""Fitting, saving, loading, scoring and recommending, against the CLI."""

import numpy as np
import pytest

import seqrec

TINY_GRU = {"gru": {"hidden": 16, "lanes": 32, "epochs": 1}}


def test_methods_are_the_nine():
    assert seqrec.METHODS == [
        "pop", "item-knn", "decay-knn", "bpr-mf", "seq-mf",
        "gru", "linear-user-gru", "rectified-user-gru", "attentional-user-gru",
    ]


def test_a_model_saved_from_python_is_read_by_the_cli(ml100k, cli, tmp_path):
    for method, config in [("bpr-mf", {"baselines": {"bpr_mf": {"epochs": 2}}}),
                           ("linear-user-gru", TINY_GRU)]:
        model = seqrec.fit(method, ml100k, config=config, seed=5, progress=False)
        assert (model.method, model.seed, model.n_items) == (method, 5, ml100k.n_items)
        assert 0 < model.validation["mrr@20"] < 1
        out = tmp_path / method
        model.save(out)
        listed = cli("recommend", "--model", str(out), "--user", "7", "--top", "10", "--json", json_output=True)
        ours = model.recommend(7, k=10)
        assert [int(r["item"]) for r in listed] == [item for item, _, _ in ours]
        assert np.allclose([r["score"] for r in listed], [s for _, s, _ in ours], atol=1e-6, rtol=0)
        assert [r["title"] for r in listed] == [t for _, _, t in ours]
        # score() is the same ranking: user 7's row, best first.
        row = model.score(users=[list(ml100k.user_ids()).index(7)])[0]
        top = np.argsort(-row, kind="stable")[:10]
        assert list(ml100k.item_ids()[top]) == [item for item, _, _ in ours]


def test_a_model_trained_by_the_cli_is_read_by_python(ml100k, cli, data_dir, tmp_path):
    out = tmp_path / "knn"
    cli("--data-dir", str(data_dir), "train", "--dataset", "ml-100k", "--method", "item-knn", "--out", str(out))
    model = seqrec.Model.load(out)
    assert model.method == "item-knn" and model.fit_seconds is None
    listed = cli("recommend", "--model", str(out), "--user", "42", "--exclude-seen", "--json", json_output=True)
    ours = model.recommend("42", exclude_seen=True)
    # JSON carries the shortest decimal of each f32 score: compare as f32.
    assert [(int(r["item"]), np.float32(r["score"])) for r in listed] == [(i, np.float32(s)) for i, s, _ in ours]
    # Saved again from Python, it is still what the CLI reads.
    again = tmp_path / "again"
    model.save(again)
    assert cli("recommend", "--model", str(again), "--user", "42", "--exclude-seen", "--json", json_output=True) == listed


def test_precision_is_recorded_and_the_cpu_is_fp32_either_way(ml100k, tmp_path):
    fp32 = seqrec.fit("gru", ml100k, config=TINY_GRU, seed=3, progress=False, precision="fp32")
    tf32 = seqrec.fit("gru", ml100k, config=TINY_GRU, seed=3, progress=False)
    assert fp32.validation == tf32.validation
    out = tmp_path / "fp32"
    fp32.save(out)
    assert 'precision = "fp32"' in (out / "model.toml").read_text()
    again = seqrec.Model.load(out, precision="tf32")
    assert np.array_equal(again.score(users=[0, 5]), fp32.score(users=[0, 5]))


def test_scores(ml100k):
    model = seqrec.fit("pop", ml100k, progress=False)
    every = model.score()
    assert every.dtype == np.float32 and every.shape == (ml100k.n_users, ml100k.n_items)
    counts = np.bincount(ml100k.events(split="train")["item_index"], minlength=ml100k.n_items)
    assert np.array_equal(every[0], counts.astype(np.float32))
    knn = seqrec.fit("item-knn", ml100k, progress=False)
    rows = knn.score(users=[3, 0])
    assert np.array_equal(rows, knn.score()[[3, 0]])
    # A history of our own: item-kNN scores from the last item only.
    events = ml100k.events()
    own = knn.score(users=[0, 1], histories=[[5, 9], [9]])
    assert np.array_equal(own[0], own[1])
    with pytest.raises(ValueError, match=f"item index {ml100k.n_items} is outside 0..{ml100k.n_items}"):
        knn.score(users=[0], histories=[[ml100k.n_items]])
    with pytest.raises(ValueError, match="histories need users"):
        knn.score(histories=[[1]])
    decay = seqrec.fit("decay-knn", ml100k, progress=False)
    with pytest.raises(ValueError, match="pass times"):
        decay.score(users=[0], histories=[[1, 2]])
    first = events["user_index"] == 0
    mine = decay.score(users=[0], histories=[events["item_index"][first]], times=[events["timestamp"][first]])
    assert np.array_equal(mine[0], decay.score(users=[0])[0])


def test_bad_input_is_a_clean_exception(ml100k, tmp_path):
    with pytest.raises(ValueError, match="unknown method `grue`"):
        seqrec.fit("grue", ml100k)
    with pytest.raises(ValueError, match="hiden"):
        seqrec.fit("gru", ml100k, config={"gru": {"hiden": 3}})
    with pytest.raises(ValueError, match="unknown backend"):
        seqrec.fit("gru", ml100k, config=TINY_GRU, backend="tpu")
    with pytest.raises(ValueError, match="unknown precision `fp16`"):
        seqrec.fit("gru", ml100k, config=TINY_GRU, precision="fp16")
    with pytest.raises(ValueError, match="runs on the cuda backend only"):
        seqrec.fit("gru", ml100k, config=TINY_GRU, precision="bf16")
    with pytest.raises(FileNotFoundError):
        seqrec.fit("pop", ml100k, config=tmp_path / "missing.toml")
    with pytest.raises(FileNotFoundError, match="no model.toml"):
        seqrec.Model.load(tmp_path)
    model = seqrec.fit("pop", ml100k, progress=False)
    with pytest.raises(ValueError, match="user `nobody` is not in the data"):
        model.recommend("nobody")


def test_thread_count():
    seqrec.set_num_threads(1)
    assert seqrec.get_num_threads() == 1
    with pytest.raises(ValueError, match="at least 1"):
        seqrec.set_num_threads(0)
    seqrec.set_num_threads(2)
    assert seqrec.get_num_threads() == 2
