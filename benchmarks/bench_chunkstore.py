"""Benchmark: a ChunkStore whose chunks each cost one HTTP GET against a slow emulator.

Compares the wall time of computing a whole lazily opened dataset with the ideal
``N * L / C`` for N chunks, latency L and concurrency C (``max_workers``), with the
dataset opened as :meth:`ChunkStore.open_dataset` opens it (dask chunks grouping
several zarr chunks) and computed with dask's default threaded scheduler.

Run: ``python benchmarks/bench_chunkstore.py`` (about 10 s).
"""

from __future__ import annotations

import argparse
import statistics
import threading
import time

import numpy as np
import requests
from benchutil import goal, run_with_goals
from requests.adapters import HTTPAdapter

from eostores.chunkstore import ChunkArray, ChunkStore
from eostores.testing import EmulatorServer, Response, route

TILE = 64  # chunk edge length: 64 x 64 float32 = 16 KiB per chunk


def tile_values(i: int) -> np.ndarray:
    """The values the emulator serves for flat chunk number ``i``."""
    return np.full((TILE, TILE), float(i), dtype="<f4")


class ChunkEmulator(EmulatorServer):
    """Serves chunk ``i`` as raw little-endian float32 bytes."""

    name = "chunks"

    @route("GET", r"/chunk/(?P<i>\d+)")
    def chunk(self, request, i):
        return Response(body=tile_values(int(i)).tobytes(), content_type="application/octet-stream")


class HttpChunks:
    """A chunk function doing one GET per chunk over a shared connection pool."""

    def __init__(self, url: str, grid: tuple[int, int], pool: int):
        self.url = url
        self.grid = grid
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(pool_connections=1, pool_maxsize=pool))
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self, index: tuple[int, int]) -> np.ndarray:
        with self._lock:
            self.calls += 1
        number = index[0] * self.grid[1] + index[1]
        response = self.session.get(f"{self.url}/chunk/{number}", timeout=10)
        response.raise_for_status()
        return np.frombuffer(response.content, dtype="<f4").reshape(TILE, TILE)


def measure(url: str, grid: tuple[int, int], workers: int, dask_chunks: dict | None) -> dict:
    """Open a fresh store over ``grid`` chunks, compute it, check the values, time it."""
    function = HttpChunks(url, grid, pool=workers)
    shape = (grid[0] * TILE, grid[1] * TILE)
    store = ChunkStore(
        [ChunkArray("v", ("y", "x"), shape, (TILE, TILE), "float32", get_chunk=function)],
        max_workers=workers,
    )
    ds = store.open_dataset(chunks=dask_chunks)
    started = time.perf_counter()
    values = ds.v.values
    elapsed = time.perf_counter() - started
    store.close()
    function.session.close()
    expected = np.block(
        [[tile_values(r * grid[1] + c) for c in range(grid[1])] for r in range(grid[0])]
    )
    if not np.array_equal(values, expected):
        raise SystemExit("wrong values computed")
    return {
        "seconds": elapsed,
        "calls": function.calls,
        "stats": store.stats,
        "dask_chunks": {dim: sizes[0] for dim, sizes in ds.v.chunksizes.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=256, help="a square number")
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    side = round(args.chunks**0.5)
    grid = (side, side)
    n_chunks = side * side
    latency = args.latency_ms / 1000
    ideal = n_chunks * latency / args.concurrency
    small_grid = (8, 8)
    small_ideal = 64 * latency / args.concurrency

    with ChunkEmulator(latency_ms=args.latency_ms) as emulator:
        measure(emulator.url, (2, 2), args.concurrency, None)  # warm up imports and threads
        emulator.reset_log()
        runs = [measure(emulator.url, grid, args.concurrency, None) for _ in range(args.repeat)]
        requests_served = len(emulator.request_log)
        peak = emulator.peak_concurrency
        one_per_task = measure(emulator.url, small_grid, args.concurrency, {})

    times = [run["seconds"] for run in runs]
    measured = statistics.median(times)
    print("ChunkStore: one HTTP GET per chunk, dataset from open_dataset(), dask threads")
    print(f"chunks           {n_chunks}")
    print(f"latency          {args.latency_ms:g} ms")
    print(f"concurrency      {args.concurrency} (max_workers)")
    print(f"dask chunks      {runs[0]['dask_chunks']} (zarr chunks {TILE} x {TILE})")
    print(
        f"measured         {measured:.3f} s (median of "
        + ", ".join(f"{t:.3f}" for t in times)
        + ")"
    )
    print(f"ideal N*L/C      {ideal:.3f} s")
    print(
        f"ratio            {measured / ideal:.2f} "
        + goal("ChunkStore wall / ideal", measured / ideal, at_most=1.3)
    )
    print(
        f"function calls   {runs[0]['calls']} per run; {requests_served} requests served in "
        f"{args.repeat} runs, peak {peak} in flight"
    )
    print(f"metadata reads   {runs[0]['stats']['metadata_reads']} per open")
    print(
        f"one dask chunk per zarr chunk (chunks={{}}), 64 chunks: "
        f"{one_per_task['seconds']:.3f} s vs ideal {small_ideal:.3f} s, ratio "
        f"{one_per_task['seconds'] / small_ideal:.2f}, peak "
        f"{one_per_task['stats']['max_concurrent_calls']} calls in flight"
    )


if __name__ == "__main__":
    run_with_goals(main)
