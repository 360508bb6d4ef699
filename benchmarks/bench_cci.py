"""Benchmark: the CCI stores against their emulator, as ratios measured in one run.

* cciodp: a cube of 64 chunks read with ``--latency-ms`` on every emulator request; wall
  time vs the ideal ``N * L / C`` for the store's concurrency C (goal <= 1.3x), and the
  bytes of the DAP2 answers vs the bytes of the requested hyperslabs (goal <= 1.2x).
* esa-cci-kc: opening a reference file and reading a slice vs xarray over fsspec's
  reference filesystem directly, same emulator, best of alternating rounds (goal <= 1.2x).

Run: ``python benchmarks/bench_cci.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import numpy as np
import xarray as xr
from benchutil import best_times, goal, run_with_goals
from eostores_cci.testing import DATASETS, CciEmulator

from eostores import new_data_store

SST = DATASETS[0]


def bench_cciodp(latency_ms: float, concurrency: int, rounds: int) -> None:
    days = 4  # 4 days x 4 x 4 chunks of 45 x 90 cells: 64 chunks
    with tempfile.TemporaryDirectory() as cache, CciEmulator(latency_ms=latency_ms) as server:
        store = new_data_store(
            "cciodp",
            **server.store_params(),
            cache_dir=cache,
            max_concurrency_per_host=concurrency,
        )
        time_range = ["2001-05-01", f"2001-05-{days:02d}"]
        store.open_data(SST.drs_id, time_range=time_range).load()  # write the files once
        walls, ratios = [], []
        for _ in range(rounds):
            cube = store.open_data(SST.drs_id, time_range=time_range)
            server.reset_log()
            started = time.perf_counter()
            values = cube.analysed_sst.values
            walls.append(time.perf_counter() - started)
            requests = [r for r in server.request_log if r.path.endswith(".dods")]
            wire = sum(r.bytes_sent for r in requests)
            slabs = values.size * np.dtype("float32").itemsize
            ratios.append(wire / slabs)
        chunks = len(requests)
        ideal = chunks * latency_ms / 1000 / concurrency
        wall = statistics.median(walls)
        print(
            f"cciodp: {chunks} chunks, {chunks} DAP2 requests, latency {latency_ms:g} ms, "
            f"concurrency {concurrency}"
        )
        print(
            f"  wall {wall:.3f} s vs ideal N*L/C {ideal:.3f} s: {wall / ideal:.2f}x "
            + goal("cciodp wall / ideal", wall / ideal, at_most=1.3)
        )
        print(
            "  bytes on the wire / bytes of the hyperslabs: "
            f"{statistics.median(ratios):.3f}x "
            + goal("cciodp bytes / hyperslabs", statistics.median(ratios), at_most=1.2)
        )


def bench_kerchunk(latency_ms: float, rounds: int) -> None:
    name = "ESACCI-L3C_CLOUD-CLD_PRODUCTS-AVHRR_NOAA-15-2000-2001-fv3.0-kr1.0"
    with CciEmulator(latency_ms=latency_ms) as server:
        url = server.reference_urls()[name]
        server.references(name)  # write the files the references point into
        window = dict(lat=slice(70, 50), lon=slice(-10, 10), time=slice("2000-03", "2000-08"))

        def ours() -> None:
            store = new_data_store("esa-cci-kc", refs=[url])
            cube = store.open_data(name, variable_names=["ctt"])
            cube.ctt.sel(**window).load()

        def plain() -> None:
            cube = xr.open_dataset(
                "reference://",
                engine="zarr",
                chunks={},
                backend_kwargs={
                    "consolidated": False,
                    "storage_options": {
                        "fo": url,
                        "remote_protocol": "http",
                        "asynchronous": True,
                        "remote_options": {"asynchronous": True},
                    },
                },
            )
            cube.ctt.sel(**window).load()

        best = best_times({"esa-cci-kc": ours, "fsspec reference": plain}, rounds, lambda: None)
        ratio = best["esa-cci-kc"] / best["fsspec reference"]
        print(f"esa-cci-kc: open + read a slice, latency {latency_ms:g} ms, best of {rounds}")
        print(
            f"  {best['esa-cci-kc']:.3f} s vs xarray over fsspec's reference filesystem "
            f"{best['fsspec reference']:.3f} s: {ratio:.2f}x "
            + goal("esa-cci-kc vs fsspec reference", ratio, at_most=1.2)
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    bench_cciodp(args.latency_ms, args.concurrency, args.rounds)
    bench_kerchunk(args.latency_ms, args.rounds)


if __name__ == "__main__":
    run_with_goals(main)
