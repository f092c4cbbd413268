"""seqrec: sequential recommendation with user-based GRUs (Donkers, Loepp and
Ziegler, RecSys 2017) — data, the nine methods and the exact evaluation
protocol, from the same Rust crates as the ``seqrec`` command-line tool.

>>> import seqrec
>>> data = seqrec.load("ml-100k")                      # doctest: +SKIP
>>> model = seqrec.fit("item-knn", data)               # doctest: +SKIP
>>> seqrec.evaluate(model, data)["mrr@20"]             # doctest: +SKIP
"""

from ._seqrec import (
    METHODS,
    Dataset,
    SeqrecError,
    SeqrecFileNotFoundError,
    SeqrecRuntimeError,
    SeqrecValueError,
    Model,
    __version__,
    compare,
    evaluate,
    fit,
    get_num_threads,
    load,
    set_num_threads,
    tune,
)

__all__ = [
    "METHODS",
    "Dataset",
    "SeqrecError",
    "SeqrecFileNotFoundError",
    "SeqrecRuntimeError",
    "SeqrecValueError",
    "Model",
    "__version__",
    "compare",
    "evaluate",
    "fit",
    "get_num_threads",
    "load",
    "set_num_threads",
    "tune",
]
