"""Loading: the same dataset, statistics and events as the CLI."""

import numpy as np
import pytest

import seqrec
from conftest import optional_module


def test_stats_equal_the_cli(ml100k, cli, data_dir):
    expected = cli("--data-dir", str(data_dir), "data", "stats", "--dataset", "ml-100k", "--json", json_output=True)
    got = ml100k.stats()
    for stats in (expected, got):
        stats.pop("from_cache")  # depends on who loaded first
    assert got == expected
    assert (ml100k.n_users, ml100k.n_items) == (expected["users"], expected["items"])
    assert len(ml100k) == expected["events"]


def test_events_are_the_exported_split(ml100k, cli, data_dir, tmp_path):
    events = ml100k.events()
    assert list(events) == ["user", "item", "timestamp", "split", "user_index", "item_index", "position"]
    n = len(ml100k)
    assert all(len(column) == n for column in events.values())
    assert events["user"].dtype == np.int64 and events["item_index"].dtype == np.int64
    assert events["user_index"].max() == ml100k.n_users - 1
    assert events["item_index"].max() < ml100k.n_items
    # The CLI's export holds the same rows in the same order.
    exported = cli("--data-dir", str(data_dir), "data", "export", "--dataset", "ml-100k", "--out", str(tmp_path)).strip()
    with open(exported) as f:
        header = f.readline().strip().split(",")
        rows = [line.rstrip("\n").split(",") for line in f]
    assert header == list(events)
    assert len(rows) == n
    for i in (0, 1, n // 2, n - 1):
        assert [str(events[c][i]) for c in header] == rows[i]
    test = ml100k.events(split="test")
    assert set(test["split"]) == {"test"}
    assert len(test["user"]) == ml100k.stats()["test_events"]
    with pytest.raises(ValueError, match="unknown split"):
        ml100k.events(split="holdout")


def test_ids_titles_and_frames(ml100k):
    users, items = ml100k.user_ids(), ml100k.item_ids()
    assert len(users) == ml100k.n_users and len(items) == ml100k.n_items
    assert np.all(np.diff(items) > 0)  # numbered in sorted order (specification §2.3)
    titles = ml100k.titles()
    assert titles["1"] == "Toy Story (1995)"
    pandas = optional_module("pandas")
    frame = ml100k.to_pandas(split="validation")
    assert isinstance(frame, pandas.DataFrame)
    assert len(frame) == ml100k.stats()["validation_events"]
    polars = optional_module("polars")
    frame = ml100k.to_polars()
    assert isinstance(frame, polars.DataFrame)
    assert frame.shape == (len(ml100k), 7)


def test_options_dict_and_bad_input(ml100k, data_dir):
    shorter = seqrec.load("ml-100k", data_dir=data_dir, options={"split": {"train_fraction": 0.8}})
    assert shorter.stats()["train_events"] < ml100k.stats()["train_events"]
    with pytest.raises(ValueError, match="unknown field `train_fracton`"):
        seqrec.load("ml-100k", data_dir=data_dir, options={"split": {"train_fracton": 0.8}})
    with pytest.raises(ValueError, match="dictionary keys must be strings"):
        seqrec.load("ml-100k", data_dir=data_dir, options={1: 2})
    with pytest.raises(ValueError, match="unknown dataset `ml-1b`"):
        seqrec.load("ml-1b", data_dir=data_dir)
    with pytest.raises(FileNotFoundError, match="file not found"):
        seqrec.load("ml-10m", data_dir=data_dir)
    with pytest.raises(FileNotFoundError):
        seqrec.load(data_dir / "nowhere.csv")
