"""Benchmark: the cds store against the ideal job schedule and against plain xarray.

1. A one-year daily request (ERA5 daily statistics, one variable) split into 12 monthly
   jobs, with an emulator whose jobs run 2 s each and which runs at most 4 jobs per user
   at once: wall time against the ideal 12 / 4 x 2 s = 6 s (goal <= 1.3x). The emulator
   runs in a child process so that it does not compete with the store for the GIL; polling
   starts at 0.1 s and is capped at 0.25 s, in proportion to the 2 s jobs.
2. Reopening the same request from the cache against opening the cached result file
   directly with ``xarray.open_dataset(..., chunks={})`` (goal <= 1.2x), with the same
   store and with a new store on the same cache. Best of ``--rounds``.

Run: ``python benchmarks/bench_cds.py [--rounds 20]`` (about 15 s).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import xarray as xr
from benchutil import goal, run_with_goals
from eostores_cds.testing import CdsEmulator

from eostores import new_data_store

DATA_ID = "derived-era5-single-levels-daily-statistics"
PARAMS = dict(
    variable_names=["2m_temperature"],
    bbox=[0.0, 40.0, 10.0, 50.0],
    time_range=["2019-01-01", "2019-12-31"],
)
JOB_SECONDS = 2.0
CONCURRENCY = 4


def best_of(rounds: int, call: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="bench-cds-") as cache,
        CdsEmulator.start_subprocess(
            job_run_s=JOB_SECONDS, max_running_jobs=CONCURRENCY
        ) as emulator,
    ):

        def new_store():
            return new_data_store(
                "cds",
                **emulator.store_params(),
                cache_dir=cache,
                max_concurrent_jobs=CONCURRENCY,
                poll_interval=0.1,
                poll_interval_max=0.25,
            )

        store = new_store()
        store.describe_data(DATA_ID)  # catalogue into the cache first
        emulator.reset_log()
        started = time.perf_counter()
        cube = store.open_data(DATA_ID, **PARAMS)
        wall = time.perf_counter() - started
        jobs = [
            r for r in emulator.request_log if r.path.endswith("/execution") and r.status == 201
        ]
        ideal = len(jobs) / CONCURRENCY * JOB_SECONDS
        print(f"split request: {len(jobs)} monthly jobs, {dict(cube.sizes)}")
        print(
            f"  wall {wall:.2f} s vs ideal {len(jobs)}/{CONCURRENCY} x {JOB_SECONDS:g} s = "
            f"{ideal:.2f} s: ratio {wall / ideal:.2f}x "
            + goal("split request wall / ideal", wall / ideal, at_most=1.3)
        )

        result = Path(cube.encoding["source"])
        direct = best_of(args.rounds, lambda: xr.open_dataset(result, engine="h5netcdf", chunks={}))
        same = best_of(args.rounds, lambda: store.open_data(DATA_ID, **PARAMS))
        fresh = best_of(args.rounds, lambda: new_store().open_data(DATA_ID, **PARAMS))
        print(f"reopen from cache (xarray.open_dataset of the result: {1000 * direct:.1f} ms)")
        print(
            f"  same store: {1000 * same:.1f} ms, ratio {same / direct:.2f}x "
            + goal("reopen, same store", same / direct, at_most=1.2)
        )
        print(
            f"  new store on the same cache: {1000 * fresh:.1f} ms, ratio {fresh / direct:.2f}x "
            + goal("reopen, new store", fresh / direct, at_most=1.2)
        )


if __name__ == "__main__":
    run_with_goals(main)
