"""File-store zarr overhead, and what describe_data reads.

1. ``store.open_data`` + reading a subset vs plain ``xr.open_zarr`` + the same read
   (goal <= 1.2x).
2. ``describe_data`` of a zarr with 10,000 chunks served over HTTP: the number of
   requests, against the one metadata round trip consolidated metadata makes necessary
   plus one per coordinate array; no data chunk may be read.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from benchutil import goal, run_with_goals

from eostores import new_data_store
from eostores.testing import EmulatorServer, Request, Response, route

ROUNDS = 15


def make_cube(times: int, size: int, chunk: int) -> xr.Dataset:
    lat = np.linspace(-89.5, 89.5, size)
    lon = np.linspace(-179.5, 179.5, size * 2)
    data = np.random.default_rng(0).random((times, size, size * 2), dtype="float32")
    return xr.Dataset(
        {"v": (("time", "lat", "lon"), data)},
        coords={"time": pd.date_range("2020-01-01", periods=times), "lat": lat, "lon": lon},
    ).chunk({"time": 1, "lat": chunk, "lon": chunk})


def bench_open_read(root: Path, data_id: str) -> tuple[float, float]:
    store = new_data_store("file", root=str(root))

    def ours() -> float:
        start = time.perf_counter()
        ds = store.open_data(data_id)
        ds.v.isel(time=slice(0, 4)).mean().compute()
        return time.perf_counter() - start

    def plain() -> float:
        start = time.perf_counter()
        ds = xr.open_zarr(root / data_id, chunks={})
        ds.v.isel(time=slice(0, 4)).mean().compute()
        return time.perf_counter() - start

    ours(), plain()
    ours_times, plain_times = [], []
    for _ in range(ROUNDS):
        ours_times.append(ours())
        plain_times.append(plain())
    return statistics.median(ours_times), statistics.median(plain_times)


class StaticFiles(EmulatorServer):
    """Serves a directory read-only, 404 for missing keys, as object stores do."""

    name = "static-files"

    def __init__(self, directory: Path, **kwargs):
        super().__init__(**kwargs)
        self.directory = directory

    @route("GET", r"/(?P<path>.*)")
    def get(self, request: Request, path: str) -> Response:
        file = self.directory / path
        if not file.is_file():
            return Response.json({"message": "not found"}, status=404)
        return Response.file(file, request)


def bench_describe_requests(root: Path) -> None:
    cube = make_cube(times=100, size=100, chunk=10)  # 100 x 10 x 20 = 20,000 chunks
    cube = cube.isel(lon=slice(0, 100))  # 100 x 10 x 10 = 10,000 chunks
    new_data_store("file", root=str(root)).write_data(cube, "many.zarr")
    chunk_files = sum(1 for p in (root / "many.zarr" / "v" / "c").rglob("*") if p.is_file())
    with StaticFiles(root) as server:
        store = new_data_store("https", root=server.url)
        server.reset_log()
        descriptor = store.describe_data("many.zarr")
        paths = [r.path for r in server.request_log]
        methods = [f"{r.method} {r.path}" for r in server.request_log]
    data_reads = [p for p in paths if p.startswith("/many.zarr/v/c/")]
    print(
        f"describe_data of a zarr with {chunk_files} data chunks over HTTP: "
        f"{len(paths)} requests, {len(data_reads)} data chunk reads "
        + goal("describe_data reads no data chunk", len(data_reads), equal=0, unit="")
    )
    print(f"  requests: {methods}")
    print(f"  dims {descriptor.dims}, time {descriptor.time_range}")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        new_data_store("file", root=str(root)).write_data(make_cube(16, 360, 90), "cube.zarr")
        ours, plain = bench_open_read(root, "cube.zarr")
        print(
            f"open + read 4 x 360 x 720 floats: eostores {ours * 1000:.1f} ms, "
            f"xr.open_zarr {plain * 1000:.1f} ms (medians of {ROUNDS})"
        )
        print(
            f"ratio eostores / xr.open_zarr: {ours / plain:.2f}x "
            + goal("open + read vs xr.open_zarr", ours / plain, at_most=1.2)
        )
        bench_describe_requests(root)


if __name__ == "__main__":
    run_with_goals(main)
