"""Benchmark: a Sentinel Hub cube of 64 chunks read through the Process API emulator.

The emulator takes ``--latency-ms`` for every Process API request and serves at most
``--limit`` at once (more get HTTP 429 with Retry-After in milliseconds); the store sends
up to the same number at once. Printed, per output format:

* wall time of reading the whole cube vs the ideal ``N * L / C`` (goal <= 1.3x);
* Process API requests made vs chunks read (goal exactly 1.0), and 429 answers.

Run: ``python benchmarks/bench_sentinelhub.py`` (about 10 s).
"""

from __future__ import annotations

import argparse
import statistics
import time

from benchutil import goal, run_with_goals
from eostores_sentinelhub.testing import SentinelHubEmulator

from eostores import new_data_store

PROCESS_PATH = "/api/v1/process"


def open_cube(store, side: int, tile: int, steps: int):
    res = 0.0001
    return store.open_data(
        "S2L2A",
        variable_names=["B04"],
        bbox=[10.0, 50.0, 10.0 + side * tile * res, 50.0 + side * tile * res],
        spatial_res=res,
        time_range=["2021-06-01", f"2021-06-{steps:02d}"],
        time_period="1D",
        tile_size=[tile, tile],
    )


def run(output_format: str, args: argparse.Namespace) -> dict[str, float]:
    chunks = args.side * args.side * args.steps
    with SentinelHubEmulator(
        max_concurrent_requests=args.limit, processing_ms=args.latency_ms
    ) as server:
        store = new_data_store(
            "sentinelhub",
            **server.store_params(),
            max_concurrency_per_host=args.limit,
            output_format=output_format,
        )
        store.list_data_ids()  # token and catalog once, outside the measurement
        walls, ratios, rate_limited = [], [], 0
        for _ in range(args.repeat):
            cube = open_cube(store, args.side, args.tile, args.steps)
            server.reset_log()
            before = server.rate_limited
            started = time.perf_counter()
            cube.load()
            walls.append(time.perf_counter() - started)
            made = sum(1 for r in server.request_log if r.path == PROCESS_PATH)  # 429s too
            ratios.append(made / chunks)
            rate_limited += server.rate_limited - before
    ideal = chunks * args.latency_ms / 1000.0 / args.limit
    wall = statistics.median(walls)
    return {
        "wall": wall,
        "ideal": ideal,
        "ratio": wall / ideal,
        "requests_per_chunk": statistics.mean(ratios),
        "rate_limited": rate_limited / args.repeat,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--limit", type=int, default=8, help="concurrent requests served")
    parser.add_argument("--side", type=int, default=4, help="tiles per side")
    parser.add_argument("--steps", type=int, default=4, help="time steps")
    parser.add_argument("--tile", type=int, default=64, help="tile edge in pixels")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    chunks = args.side * args.side * args.steps
    print(
        f"sentinelhub: {chunks} chunks of {args.tile}x{args.tile} px, latency "
        f"{args.latency_ms:g} ms, {args.limit} concurrent (median of {args.repeat})"
    )
    for output_format in ("image/tiff", "application/octet-stream"):
        result = run(output_format, args)
        print(
            f"  {output_format:<25} wall {result['wall']:.3f} s vs ideal {result['ideal']:.3f} s"
            f" = {result['ratio']:.2f}x "
            + goal(f"{output_format} wall / ideal", result["ratio"], at_most=1.3)
            + f"; requests/chunks {result['requests_per_chunk']:.2f} "
            + goal(f"{output_format} requests / chunks", result["requests_per_chunk"], equal=1.0)
            + f"; 429s {result['rate_limited']:.0f}"
        )


if __name__ == "__main__":
    run_with_goals(main)
