"""Shared fixtures: the real MovieLens data and the ``seqrec`` binary of this
build (both passed in by ``tests/python.rs``)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

import seqrec


def _require(variable: str) -> str:
    value = os.environ.get(variable)
    if not value:
        pytest.fail(f"{variable} is not set: run this suite through `cargo test -p seqrec-py`")
    return value


def optional_module(name: str):
    """An optional dependency: a skip (with the reason in the summary) where
    it is not installed, a failure in CI (SEQREC_REQUIRE_PYTHON), whose
    environment has it."""
    if os.environ.get("SEQREC_REQUIRE_PYTHON"):
        return __import__(name)
    return pytest.importorskip(name, reason=f"{name} is not installed (CI installs it)")


@pytest.fixture(scope="session")
def data_dir() -> Path:
    path = Path(_require("SEQREC_DATA_DIR"))
    if not (path / "ml-100k" / "u.data").exists():
        pytest.fail(f"no ml-100k under {path}")
    return path


@pytest.fixture(scope="session")
def cli():
    """Runs the seqrec binary; returns its stdout (JSON parsed with json=True)."""
    binary = _require("SEQREC_CLI")
    if not Path(binary).exists():
        pytest.fail(f"{binary} does not exist: build the workspace first")

    def run(*args: str, json_output: bool = False):
        done = subprocess.run(
            [binary, *args], capture_output=True, text=True, check=False
        )
        assert done.returncode == 0, f"seqrec {' '.join(args)} failed:\n{done.stderr}"
        return json.loads(done.stdout) if json_output else done.stdout

    return run


@pytest.fixture(scope="session")
def ml100k(data_dir) -> "seqrec.Dataset":
    return seqrec.load("ml-100k", data_dir=data_dir)
