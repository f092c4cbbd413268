"""Type stubs of seqrec's native module (re-exported by ``seqrec``)."""

import os
from typing import Any, Callable, Mapping, Optional, Sequence, Union

import numpy as np
import numpy.typing as npt

__version__: str
METHODS: list[str]
"""The nine methods: pop, item-knn, decay-knn, bpr-mf, seq-mf, gru,
linear-user-gru, rectified-user-gru, attentional-user-gru."""

PathLike = Union[str, os.PathLike[str]]

class SeqrecError(Exception):
    """The base class of every error seqrec raises (Ctrl-C stays KeyboardInterrupt)."""

class SeqrecValueError(SeqrecError, ValueError):
    """Bad input: a value, setting or file's content seqrec cannot use."""

class SeqrecFileNotFoundError(SeqrecError, FileNotFoundError):
    """A file or dataset seqrec needs is not there."""

class SeqrecRuntimeError(SeqrecError, RuntimeError):
    """Any other failure (I/O, a backend, an internal error)."""
Scorer = Callable[[npt.NDArray[np.int64], list[npt.NDArray[np.int64]]], Any]
"""``f(user_indices, histories) -> array[batch, n_items]``."""

def set_num_threads(n: int) -> None:
    """Sets the number of worker threads for training, scoring and evaluation."""

def get_num_threads() -> int:
    """The number of worker threads seqrec uses now."""

def load(
    dataset: PathLike,
    data_dir: Optional[PathLike] = None,
    options: Optional[Mapping[str, Any]] = None,
    cache: bool = True,
) -> Dataset:
    """Loads a dataset by name (``ml-100k``, ``ml-latest-small``, ``ml-10m``,
    ``lastfm-1k``, ``synthetic-movielens``, ``synthetic-lastfm``) or table path,
    exactly as ``seqrec data stats`` does. ``options``: the TOML loading
    options as a dict. Raises FileNotFoundError when the data is missing,
    ValueError for bad input."""

class Dataset:
    """A loaded dataset: users' chronological events split 90/5/5 per user."""

    @property
    def name(self) -> str: ...
    @property
    def n_users(self) -> int: ...
    @property
    def n_items(self) -> int:
        """Items of the training catalogue (what every model ranks)."""
    def stats(self) -> dict[str, Any]:
        """What ``seqrec data stats --json`` prints."""
    def events(self, split: Optional[str] = None) -> dict[str, npt.NDArray[Any]]:
        """Columns ``user``, ``item`` (``artist``, ``track`` for LastFM pairs),
        ``timestamp``, ``split``, ``user_index``, ``item_index``, ``position``;
        ``split``: only ``"train"``, ``"validation"`` or ``"test"``."""
    def user_ids(self) -> npt.NDArray[Any]:
        """Original user ids by user index."""
    def item_ids(self) -> npt.NDArray[Any]:
        """Original item ids by item index."""
    def titles(self) -> Optional[dict[str, str]]:
        """Item titles by original item id (MovieLens), else None."""
    def to_pandas(self, split: Optional[str] = None) -> Any:
        """The events as a pandas.DataFrame (needs pandas)."""
    def to_polars(self, split: Optional[str] = None) -> Any:
        """The events as a polars.DataFrame (needs polars)."""
    def __len__(self) -> int: ...

def fit(
    method: str,
    dataset: Dataset,
    config: Optional[Union[Mapping[str, Any], PathLike]] = None,
    seed: int = 2017,
    backend: Optional[str] = None,
    device: Optional[int] = None,
    allow_slow_cpu: bool = False,
    progress: bool = True,
    precision: Optional[str] = None,
) -> Model:
    """Fits one of ``METHODS`` on the training part of ``dataset`` (as
    ``seqrec train``). ``config``: settings in the preset schema (dict or TOML
    path). ``precision``: a GPU's matrix products, ``"tf32"`` (tensor cores
    where the device has them; the default), ``"fp32"``, ``"bf16"`` (bf16
    operands, fp32 accumulation; cuda only), or ``"tf32-emulated"`` /
    ``"bf16-emulated"`` (that format's rounding emulated on any device, to
    measure its effect; slower). Ctrl-C stops it
    with KeyboardInterrupt."""

class Model:
    """A fitted recommender, backed by a self-contained model directory."""

    @staticmethod
    def load(
        path: PathLike,
        backend: Optional[str] = None,
        device: Optional[int] = None,
        precision: Optional[str] = None,
    ) -> Model:
        """Reads a model directory written by ``seqrec train`` or ``Model.save``."""
    def save(self, path: PathLike) -> None:
        """Writes the model directory ``seqrec recommend`` and ``seqrec serve`` read."""
    @property
    def method(self) -> str: ...
    @property
    def dataset(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def n_users(self) -> int: ...
    @property
    def n_items(self) -> int: ...
    @property
    def fit_seconds(self) -> Optional[float]: ...
    @property
    def validation(self) -> dict[str, float]:
        """Validation metrics of the model."""
    def info(self) -> dict[str, Any]:
        """What ``model.toml`` records."""
    def score(
        self,
        users: Optional[Sequence[int]] = None,
        histories: Optional[Sequence[Sequence[int]]] = None,
        times: Optional[Sequence[Sequence[int]]] = None,
    ) -> npt.NDArray[np.float32]:
        """Scores ``[n, n_items]``: every (or the given) user after their whole
        history, or after ``histories`` (item indices, oldest first)."""
    def recommend(
        self, user: Union[str, int], k: int = 20, exclude_seen: bool = False
    ) -> list[tuple[Union[int, str], float, Optional[str]]]:
        """The top ``k`` ``(item, score, title)`` for an original user id."""

def evaluate(
    model_or_scorer: Union[Model, Scorer],
    dataset: Dataset,
    split: str = "test",
    cutoffs: Sequence[int] = (5, 10, 20),
    tie_rule: str = "pessimistic",
    exclude_seen: bool = False,
    per_user: bool = False,
    batch_size: int = 256,
    progress: bool = True,
) -> dict[str, Any]:
    """seqrec's exact evaluation; the keys of ``seqrec evaluate --json``."""

def compare(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    metric: str = "mrr@20",
    resamples: int = 10000,
    confidence: float = 0.95,
    seed: int = 2017,
) -> dict[str, Any]:
    """Wilcoxon signed-rank p-value and paired bootstrap interval of a − b."""

def tune(
    method: str,
    dataset: str,
    config: Union[Mapping[str, Any], PathLike],
    trials: Optional[int] = None,
    storage: Optional[PathLike] = None,
    study: Optional[str] = None,
    seed: Optional[int] = None,
    out: Optional[PathLike] = None,
    jobs: int = 1,
    data_dir: Optional[PathLike] = None,
    refit: bool = True,
    progress: bool = True,
) -> Any:
    """Searches ``method``'s hyperparameters on the validation split of
    ``dataset`` (as ``seqrec tune``): ``config`` holds a ``[tune]`` table
    with the search space. Returns one row per trial (a pandas DataFrame, or
    a dict of NumPy arrays without pandas). Ctrl-C leaves a study that the
    same call resumes."""
