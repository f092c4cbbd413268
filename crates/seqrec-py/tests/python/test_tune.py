"""seqrec.tune: a search on validation from Python, resumable, its trials
as a DataFrame (pandas) or a dict of NumPy columns."""

import numpy as np

import seqrec

from conftest import optional_module

SYNTHETIC = {
    "options": {
        "synthetic": {
            "seed": 7, "users": 60, "items": 150, "events": 3000,
            "min_events_per_user": 20, "activity_spread": 0.6, "group_size": 4,
            "genres": 8, "tastes_per_user": 2, "taste_strength": 0.7,
            "continue_run": 0.4, "repeat": 0.0, "popularity_exponent": 0.9,
            "same_timestamp": 0.2, "mean_gap_seconds": 3600.0,
        }
    },
    "tune": {
        "trials": 4,
        "sampler": "random",
        "seed": 3,
        "space": {"item_knn": {"neighbours": {"type": "int", "min": 2, "max": 60, "scale": "log"}}},
    },
}


def test_tune_returns_the_trials_and_resumes(tmp_path):
    pandas = optional_module("pandas")
    store = tmp_path / "study.db"
    trials = seqrec.tune(
        "item-knn", "synthetic-movielens", SYNTHETIC, storage=store, out=tmp_path / "out", progress=False
    )
    assert isinstance(trials, pandas.DataFrame)
    assert list(trials["number"]) == [0, 1, 2, 3]
    assert set(trials["state"]) == {"complete"}
    assert trials["neighbours"][0] == 100  # trial 0: the starting settings
    assert np.all(trials["value"] > 0)
    # The same call with more trials goes on from the stored study.
    more = seqrec.tune(
        "item-knn", "synthetic-movielens", SYNTHETIC, trials=6, storage=store,
        out=tmp_path / "out", refit=False, progress=False,
    )
    assert list(more["number"]) == list(range(6))
    assert list(more["value"][:4]) == list(trials["value"])
    assert (tmp_path / "out" / "best.toml").exists()


def test_tune_rejects_bad_input(tmp_path):
    import pytest

    bad = {**SYNTHETIC, "tune": {**SYNTHETIC["tune"], "space": {"item_knn": {"neighbors": {"type": "int", "min": 2, "max": 9}}}}}
    with pytest.raises(ValueError, match="neighbors"):
        seqrec.tune("item-knn", "synthetic-movielens", bad, out=tmp_path, progress=False)
    with pytest.raises(ValueError, match="POP"):
        seqrec.tune("pop", "synthetic-movielens", SYNTHETIC, out=tmp_path, progress=False)
