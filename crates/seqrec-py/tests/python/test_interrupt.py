"""Ctrl-C: SIGINT sent to a Python process during a fit stops it within a
second with KeyboardInterrupt, and the next fit works."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

SCRIPT = textwrap.dedent(
    """
    import sys, time
    import seqrec

    method, long_config, short_config = sys.argv[1], eval(sys.argv[2]), eval(sys.argv[3])
    data = seqrec.load("ml-100k")
    print("ready", flush=True)
    try:
        seqrec.fit(method, data, config=long_config, progress=False)
        print("finished", flush=True)
    except KeyboardInterrupt:
        print(f"interrupted {time.monotonic():.6f}", flush=True)
    model = seqrec.fit(method, data, config=short_config, progress=False)
    print(f"second fit {model.method} {model.validation['mrr@20']:.6f}", flush=True)
    """
)


@pytest.mark.parametrize(
    "method,long_config,short_config",
    [
        ("gru", {"gru": {"hidden": 32, "lanes": 32, "epochs": 100000}}, {"gru": {"hidden": 16, "lanes": 32, "epochs": 1}}),
        ("bpr-mf", {"baselines": {"bpr_mf": {"epochs": 100000}}}, {"baselines": {"bpr_mf": {"epochs": 1}}}),
    ],
)
def test_sigint_stops_a_fit_within_a_second(method, long_config, short_config, data_dir):
    process = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, method, repr(long_config), repr(short_config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ,
    )
    try:
        assert process.stdout.readline().strip() == "ready", process.stderr.read()
        time.sleep(2.0)  # well inside the fit (it would run for hours)
        assert process.poll() is None
        sent = time.monotonic()
        process.send_signal(signal.SIGINT)
        line = process.stdout.readline().split()
        assert line[:1] == ["interrupted"], (line, process.stderr.read())
        assert float(line[1]) - sent < 1.0, f"stopped {float(line[1]) - sent:.3f} s after SIGINT"
        second = process.stdout.readline().split()
        assert second[:3] == ["second", "fit", method], (second, process.stderr.read())
        assert process.wait(timeout=120) == 0
    finally:
        if process.poll() is None:
            process.kill()
