"""Inputs held to the CLI's standard: indices are integers (floats,
booleans and values out of range are errors, never truncated or wrapped),
any array strides work, NumPy scalars work in config dicts, and every
error seqrec raises is a seqrec.SeqrecError as well as the builtin a user
would catch."""

import json

import numpy as np
import pytest

import seqrec


@pytest.fixture(scope="module")
def knn(ml100k):
    return seqrec.fit("item-knn", ml100k, progress=False)


def test_exception_classes():
    assert issubclass(seqrec.SeqrecValueError, seqrec.SeqrecError)
    assert issubclass(seqrec.SeqrecValueError, ValueError)
    assert issubclass(seqrec.SeqrecFileNotFoundError, FileNotFoundError)
    assert issubclass(seqrec.SeqrecRuntimeError, RuntimeError)
    assert not issubclass(KeyboardInterrupt, seqrec.SeqrecError)
    with pytest.raises(seqrec.SeqrecError, match="no-such-dataset"):
        seqrec.load("no-such-dataset")
    with pytest.raises(ValueError, match="no-such-dataset"):
        seqrec.load("no-such-dataset")


def test_float_boolean_and_out_of_range_indices_are_errors(knn, ml100k):
    for users, needle in [
        (np.array([1.0, 2.5]), "float64"),
        ([1, 2.0], "float64"),
        (np.array([True, False]), "booleans"),
        (np.array([2**63], dtype=np.uint64), "out of range"),
        (np.array([-1]), "-1"),
        (np.array([ml100k.n_users]), str(ml100k.n_users)),
        (np.zeros((2, 2), dtype=np.int64), "dimensions"),
    ]:
        with pytest.raises(seqrec.SeqrecValueError, match=needle):
            knn.score(users=users)


def test_strided_arrays_and_numpy_scalars_work(knn, ml100k):
    every = np.arange(20, dtype=np.int64)
    strided = every[::2]
    assert not strided.flags["C_CONTIGUOUS"]
    assert np.array_equal(knn.score(users=strided), knn.score(users=list(range(0, 20, 2))))
    unsigned = np.array([3, 4], dtype=np.uint32)
    assert np.array_equal(knn.score(users=unsigned), knn.score(users=[3, 4]))
    config = {"baselines": {"item_knn": {"neighbours": np.int64(7)}}}
    model = seqrec.fit("item-knn", ml100k, config=config, progress=False)
    assert '"neighbours": 7' in json.dumps(model.info())
    gru = {"gru": {"hidden": np.int32(8), "lanes": 32, "epochs": 1, "learning_rate": np.float32(0.01), "user_l2_weights": np.bool_(False)}}
    fitted = seqrec.fit("gru", ml100k, config=gru, progress=False)
    assert 0 <= fitted.validation["mrr@20"] < 1
