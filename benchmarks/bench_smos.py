"""Benchmark: a SMOS soil moisture cube of ten days over a 10 x 10 degree box at level 0.

The emulator (catalogue and https archive) runs in a child process with ``--latency-ms``
added to every request. Printed, for one variable and for all eight of the data id:

* bytes fetched from the archive (HEAD and range requests, metadata included) vs the sum
  of the sizes of the product files the cube is made of (goal <= 0.5x);
* wall time of opening and computing the cube (catalogue search, range reads, gridding)
  vs downloading those files whole and opening them with xarray (the variables read, no
  gridding), with as many downloads at once as the store makes requests at once
  (goal <= 1.0x), and vs the same downloads one after another.

The candidates run alternately ``--rounds`` times, each lazy run with a new store (empty
caches); the best wall time of each is compared.

Run: ``python benchmarks/bench_smos.py [--latency-ms 20] [--rounds 3]`` (about a minute).
"""

from __future__ import annotations

import argparse
import concurrent.futures
import io
import tempfile
from datetime import datetime

import requests
import xarray as xr
from benchutil import best_times, goal, run_with_goals
from eostores_smos.testing import ArchiveModel, SmosEmulator

from eostores import new_data_store

BBOX = (0.0, 40.0, 10.0, 50.0)
TIME_RANGE = ("2023-04-01", "2023-04-10")
GEOLOCATION = ["Grid_Point_ID", "Latitude", "Longitude"]
CONCURRENCY = 8


def product_urls(server, data_dir: str) -> tuple[list[str], int]:
    """The URLs of the files of the cube's products, and their total size."""
    store = new_data_store("smos", **server.store_params())
    cube = store.open_data(
        "SMOS-L2C-SM", time_range=list(TIME_RANGE), bbox=list(BBOX), variable_names=[]
    )
    model = ArchiveModel(data_dir)
    start, end = datetime(2023, 4, 1), datetime(2023, 4, 10, 23, 59, 59)
    by_name = {p.name: p for p in model.products(start, end, BBOX, ("MIR_SMUDP2",))}
    products = [by_name[name] for name in cube.attrs["products"]]
    size = sum(model.file(p).stat().st_size for p in products)  # generated here, once
    base = server.store_params()["source_path"]
    return [f"{base}/{p.path}" for p in products], size


def lazy(server, names: list[str]) -> None:
    store = new_data_store("smos", **server.store_params(), max_concurrency_per_host=CONCURRENCY)
    cube = store.open_data(
        "SMOS-L2C-SM", time_range=list(TIME_RANGE), bbox=list(BBOX), variable_names=names
    )
    cube.load()


def whole(urls: list[str], names: list[str], concurrency: int) -> None:
    session = requests.Session()

    def one(url: str) -> None:
        response = session.get(url, timeout=60)
        response.raise_for_status()
        with xr.open_dataset(io.BytesIO(response.content), engine="h5netcdf") as dataset:
            for name in GEOLOCATION + names:
                dataset[name].values  # noqa: B018 (read the variable)

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, urls))


def fetched_bytes(server) -> int:
    return sum(r.bytes_sent for r in server.request_log if r.path.startswith("/eodata"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    variables = {
        "Soil_Moisture": ["Soil_Moisture"],
        "all 8 variables": [
            "Soil_Moisture",
            "Soil_Moisture_DQX",
            "Chi_2",
            "Chi_2_P",
            "N_RFI_X",
            "N_RFI_Y",
            "RFI_Prob",
            "X_Swath",
        ],
    }
    with tempfile.TemporaryDirectory(prefix="bench-smos-") as data_dir:
        server = SmosEmulator.start_subprocess(latency_ms=args.latency_ms, data_dir=data_dir)
        try:
            urls, size = product_urls(server, data_dir)
            print(
                f"{len(urls)} products of ten days over {BBOX} at level 0, {size / 2**20:.1f} "
                f"MiB; latency {args.latency_ms:g} ms per request"
            )
            for label, names in variables.items():
                server.reset_log()
                lazy(server, names)
                ratio = fetched_bytes(server) / size
                best = best_times(
                    {
                        "lazy": lambda names=names: lazy(server, names),
                        "whole": lambda names=names: whole(urls, names, CONCURRENCY),
                        "whole, one at a time": lambda names=names: whole(urls, names, 1),
                    },
                    args.rounds,
                    lambda: None,
                )
                print(
                    f"{label}: bytes fetched / file sizes = {ratio:.2f}x "
                    + goal(f"{label}: bytes / file sizes", ratio, at_most=0.5)
                    + f"; wall {best['lazy']:.2f} s vs whole downloads {best['whole']:.2f} s = "
                    f"{best['lazy'] / best['whole']:.2f}x "
                    + goal(
                        f"{label}: wall vs whole downloads",
                        best["lazy"] / best["whole"],
                        at_most=1.0,
                    )
                    + ", vs one at a time "
                    f"{best['whole, one at a time']:.2f} s = "
                    f"{best['lazy'] / best['whole, one at a time']:.2f}x"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    run_with_goals(main)
