"""Start-up time of the `boocode` command: what every CLI call (and every CLI test subprocess) pays.

Times, as the median wall time of several runs each, `python -c pass` (the interpreter alone, the
baseline), `boocode --help` (imports only) and `boocode runs` against an existing, up-to-date SQLite
database in a temporary BOOCODE_HOME (created by one untimed `boocode runs` first). Prints each in seconds
and as a ratio to the baseline. Commands run as `python -m boocode`, as the tests run them.
Measured (2 shared cores, a local-model benchmark running alongside), median of 21, baseline 0.011 s:
before the lazy imports `--help` 1.17 s and `runs` 1.14 s (about 100x); after 0.39 s and 0.42 s (35-40x).

    .venv/bin/python bench/cli_startup.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def median_time(argv: list[str], env: dict[str, str], cwd: Path, repeat: int) -> float:
    """The median wall time of `argv` run `repeat` times to its end; a failing command stops the bench."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True)
        times.append(time.perf_counter() - start)
        if done.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr}")
    return statistics.median(times)


def main(repeat: int, home: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BOOCODE_")}
    env["BOOCODE_HOME"] = str(home)
    boocode = [sys.executable, "-m", "boocode"]
    subprocess.run([*boocode, "runs"], env=env, cwd=home, check=True, capture_output=True)
    assert (home / "boocode.db").exists(), "boocode runs did not create the database"
    cases = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "boocode --help": [*boocode, "--help"],
        "boocode runs": [*boocode, "runs"],
    }
    baseline = None
    print(f"median of {repeat} runs")
    for name, argv in cases.items():
        seconds = median_time(argv, env, home, repeat)
        baseline = baseline or seconds
        print(f"{name:16} {seconds:6.3f} s  {seconds / baseline:5.1f}x baseline")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=15, help="runs of each command (the median is shown)")
    ns = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        main(ns.repeat, Path(directory))
