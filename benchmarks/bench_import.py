"""Start-up cost: ``import eostores; list_data_store_ids()`` in a fresh process.

Compared with an empty interpreter and with ``import xarray`` (goal: at most half of it).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from benchutil import goal, run_with_goals

RUNS = 7
SNIPPETS = {
    "python -c pass": "pass",
    "import eostores; list_data_store_ids()": "import eostores; eostores.list_data_store_ids()",
    "import xarray": "import xarray",
}


def fresh_process_seconds(code: str) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - start


def main() -> None:
    for code in SNIPPETS.values():  # warm the file system cache once
        fresh_process_seconds(code)
    medians = {}
    for name, code in SNIPPETS.items():
        medians[name] = statistics.median(fresh_process_seconds(code) for _ in range(RUNS))
    base, ours, xarray = medians.values()
    for name, seconds in medians.items():
        print(f"{name:<42} {seconds * 1000:8.1f} ms (median of {RUNS})")
    print(f"eostores import + listing above bare python: {(ours - base) * 1000:.1f} ms")
    print(f"ratio eostores / bare python:  {ours / base:.2f}x")
    print(
        f"ratio eostores / import xarray: {ours / xarray:.2f}x "
        + goal("import + listing vs import xarray", ours / xarray, at_most=0.5)
    )


if __name__ == "__main__":
    run_with_goals(main)
