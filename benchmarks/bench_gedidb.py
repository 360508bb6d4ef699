"""Benchmark of eostores-gedidb, printed as ratios measured in one run.

A bounding-box query of about 100 000 GEDI shots from the emulator's database (S3 in a
child process, with a per-request latency): ``store.open_data(...).load()`` against the
plain library call underneath, ``gedidb.GEDIProvider.get_data(..., return_type="xarray")``,
both warm (array metadata read once before timing), run alternately N times in ABBA
order; the ratio of the best times and the median of the per-round ratios. Also the S3
requests of each variant's first query, against each other (the store adds none); later
rounds may be served partly from TileDB's tile cache, the same for both.

Two selections: the L4A scalars, and a mix of levels with the 101-point ``rh`` profile.
Run: ``python benchmarks/bench_gedidb.py [--shots 125000] [--latency-ms 2] [--rounds 9]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from benchutil import goal, run_with_goals

SAMPLE_BBOX = [9.0, 45.0, 11.0, 47.0]
QUERY_BBOX = [9.0, 45.0, 10.8, 46.8]
TIME_RANGE = ["2019-04-18", "2023-03-16"]
SELECTIONS = {
    "L4A scalars": ("L4A", ["agbd", "agbd_se", "l4_quality_flag"]),
    "mixed with rh profile": ("all", ["agbd", "sensitivity", "quality_flag", "rh"]),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shots", type=int, default=125_000)
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    import geopandas as gpd
    from eostores_gedidb.testing import GediEmulator
    from gedidb import GEDIProvider
    from shapely.geometry import box

    from eostores import new_data_store

    sample = {"count": args.shots, "bbox": SAMPLE_BBOX, "fragments": 4, "hostile_metadata": False}
    started = time.perf_counter()
    with GediEmulator(sample=sample, s3_latency_ms=args.latency_ms) as emu:
        print(
            f"emulator: {args.shots} shots in {emu.s3.store_params()['bucket']}, "
            f"{args.latency_ms:g} ms per S3 request, ready in {time.perf_counter() - started:.1f} s"
        )
        params = emu.store_params()
        store = new_data_store("gedidb", **params)
        store.describe_data("all")
        provider = GEDIProvider(
            storage_type="s3", s3_bucket=params["bucket"], url=params["endpoint_url"]
        )
        provider.get_available_variables()
        geometry = gpd.GeoDataFrame(geometry=[box(*QUERY_BBOX)], crs="EPSG:4326")
        for title, (data_id, variables) in SELECTIONS.items():
            results = {}

            def through_store(data_id=data_id, variables=variables, results=results) -> None:
                results["eostores"] = store.open_data(
                    data_id, variable_names=variables, bbox=QUERY_BBOX, time_range=TIME_RANGE
                ).load()

            def through_gedidb(variables=variables, results=results) -> None:
                results["gedidb"] = provider.get_data(
                    variables,
                    geometry=geometry,
                    start_time=TIME_RANGE[0],
                    end_time=TIME_RANGE[1],
                    return_type="xarray",
                )

            requests = {}
            for name, run in (("eostores", through_store), ("gedidb", through_gedidb)):
                emu.reset_log()
                run()
                requests[name] = len(emu.s3.request_log)
            times = alternate({"eostores": through_store, "gedidb": through_gedidb}, args.rounds)
            best = {name: min(values) for name, values in times.items()}
            ratios = [a / b for a, b in zip(times["eostores"], times["gedidb"], strict=True)]
            ours, theirs = results["eostores"], results["gedidb"]
            count = ours.sizes["shot_number"]
            assert count == theirs.sizes["shot_number"], "both read the same shots"
            assert (ours["agbd"].values == theirs["agbd"].values).all()
            print(
                f"{title}: {count} shots, {len(variables)} variables; "
                f"eostores {best['eostores']:.3f} s, gedidb get_data {best['gedidb']:.3f} s, "
                f"ratio of bests {best['eostores'] / best['gedidb']:.2f}x, median ratio "
                f"{statistics.median(ratios):.2f}x "
                + goal(f"{title}: median ratio", statistics.median(ratios), at_most=1.1)
                + f"; S3 requests {requests['eostores']} vs {requests['gedidb']} "
                f"({requests['eostores'] / requests['gedidb']:.2f}x) "
                + goal(
                    f"{title}: S3 requests",
                    requests["eostores"] / requests["gedidb"],
                    at_most=1.0,
                )
            )
        provider.close()


def alternate(candidates: dict[str, Callable[[], None]], rounds: int) -> dict[str, list[float]]:
    """Wall times of the candidates, run one after the other ``rounds`` times, the order
    reversed every other round (so that neither always runs right after the other)."""
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for index in range(rounds):
        order = list(candidates.items())
        for name, run in order if index % 2 == 0 else reversed(order):
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


if __name__ == "__main__":
    run_with_goals(main)
