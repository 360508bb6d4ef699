"""Benchmarks of eostores-stac, printed as ratios measured in one run.

1. A stack-mode cube of 40 items x 3 bands over two UTM zones, computed with eostores and
   with ``odc.stac.load`` on the same items and output grid: wall time and peak memory
   (each variant in a fresh process, so caches start cold), and dask tasks per output chunk.
2. HTTP requests made to open one item and to build the 40-item cube, against the minimum
   the protocol needs.

The STAC emulator runs in a child process with a per-request latency, so that round trips
show up as time. Run: ``python benchmarks/bench_stac.py [--latency-ms 5] [--size 512]``.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchutil import goal, run_with_goals

BBOX = [11.86, 50.05, 12.16, 50.15]
RES = 0.0003
TIME_RANGE = ["2024-06-01", "2024-09-30"]
BANDS = ["B02", "B03", "B04"]
TILE = 512

_VARIANT = r"""
import json, resource, sys, time
import numpy as np
url, variant = sys.argv[1], sys.argv[2]
bbox, res, time_range, bands, tile = json.loads(sys.argv[3])
import contextlib, dask
import odc.stac, pystac_client, rasterio, xarray  # imported by both variants before timing
with contextlib.suppress(ImportError):
    import distributed  # dask imports it on the first compute where it is installed
from eostores import new_data_store
# Each variant's own modules are imported before timing too: where Python writes no
# bytecode cache, compiling them would otherwise dominate a cold process.
if variant == "eostores":
    import eostores.fs.rasterio_opener, eostores.rangefs
    import eostores_stac.items, eostores_stac.stack, eostores_stac.store
else:
    import odc.geo.geobox
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if variant == "eostores":
    store = new_data_store("stac", url=url, stack_mode=True)
    cube = store.open_data(
        "sentinel-2-l2a", variable_names=bands, bbox=bbox, crs="EPSG:4326", spatial_res=res,
        time_range=time_range, tile_size=tile,
    )
else:
    from odc.geo.geobox import GeoBox
    client = pystac_client.Client.open(url)
    items = list(client.search(collections=["sentinel-2-l2a"], bbox=bbox,
                               datetime="/".join(time_range), limit=100).items())
    geobox = GeoBox.from_bbox(tuple(bbox), "EPSG:4326", resolution=res)
    raw = odc.stac.load(items, bands=bands, geobox=geobox, groupby="solar_day",
                        chunks={"time": 1, "x": tile, "y": tile})
    cube = xarray.Dataset({
        b: (raw[b].where(raw[b] != 0) * 0.0001 - 0.1).astype("float32") for b in bands
    })
opened = time.perf_counter() - started
array = cube[bands[0]].data
tasks = len(array.__dask_graph__()) / array.npartitions
result = cube.compute()
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"seconds": elapsed, "open_seconds": opened, "peak_kib": peak,
                  "import_kib": before, "tasks_per_chunk": tasks,
                  "shape": list(result[bands[0]].shape),
                  "mean": float(np.nanmean(result[bands[0]].values))}))
"""


def run_variant(url: str, variant: str) -> dict:
    settings = json.dumps([BBOX, RES, TIME_RANGE, BANDS, TILE])
    output = subprocess.run(
        [sys.executable, "-c", _VARIANT, url, variant, settings],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--size", type=int, default=512, help="pixels per scene side")
    parser.add_argument("--repeat", type=int, default=3, help="runs per variant (best kept)")
    args = parser.parse_args()

    from eostores_stac.testing import StacEmulator
    from eostores_stac.testing.scenes import SampleData

    from eostores import new_data_store

    settings = dict(num_dates=20, size=args.size, tiles_per_zone=1, block_size=128)
    data_dir = Path(tempfile.gettempdir()) / f"eostores-stac-bench-{args.size}"
    started = time.perf_counter()
    data = SampleData(data_dir, **settings).ensure()
    print(
        f"sample data: {len(data.scenes)} items, {args.size}^2 px, "
        f"ready in {time.perf_counter() - started:.1f} s"
    )

    emulator = StacEmulator.start_subprocess(
        mode="api", data_dir=str(data_dir), many_items=0, latency_ms=args.latency_ms, **settings
    )
    try:
        url = emulator.store_params()["url"]
        results: dict[str, dict] = {}
        for variant in ("odc", "eostores") * args.repeat:
            emulator.reset_log()
            run = run_variant(url, variant)
            run["requests"] = len(emulator.request_log)
            best = results.get(variant)
            if best is None or run["seconds"] < best["seconds"]:
                results[variant] = run
        ours, theirs = results["eostores"], results["odc"]
        assert ours["shape"] == theirs["shape"], (ours["shape"], theirs["shape"])
        print(
            f"\n40-item x 3-band cube over UTM 32N + 33N, output {ours['shape']} per band, "
            f"latency {args.latency_ms:g} ms"
        )
        print(
            f"  wall time  eostores {ours['seconds']:.2f} s, odc.stac.load "
            f"{theirs['seconds']:.2f} s -> ratio {ours['seconds'] / theirs['seconds']:.2f} "
            + goal("wall time vs odc.stac.load", ours["seconds"] / theirs["seconds"], at_most=1.1)
        )
        ours_mem = ours["peak_kib"] - ours["import_kib"]
        their_mem = theirs["peak_kib"] - theirs["import_kib"]
        print(
            f"  peak memory above imports  eostores {ours_mem / 1024:.0f} MiB, odc "
            f"{their_mem / 1024:.0f} MiB -> ratio {ours_mem / max(their_mem, 1):.2f} "
            + goal("peak memory vs odc", ours_mem / max(their_mem, 1), at_most=1.2)
            + f"; whole process {ours['peak_kib'] / max(theirs['peak_kib'], 1):.2f}"
        )
        print(
            f"  dask tasks per output chunk  eostores {ours['tasks_per_chunk']:.2f}, odc "
            f"{theirs['tasks_per_chunk']:.2f}"
        )
        print(f"  mean of {BANDS[0]}: eostores {ours['mean']:.5f}, odc {theirs['mean']:.5f}")

        store = new_data_store("stac", url=url)
        data_id = f"collections/sentinel-2-l2a/items/{data.scenes[0].item_id}"
        store.describe_data(data_id)
        emulator.reset_log()
        store = new_data_store("stac", url=url)
        store.open_data(data_id)
        item_requests = len(emulator.request_log)
        item_minimum = 1 + 1 + 5  # landing page, item, one header read per data asset
        pages = 1 + math.ceil(len(data.scenes) / 100)
        cube_minimum = 1 + pages + len(data.scenes) * len(BANDS)
        print("\nHTTP requests")
        print(
            f"  open one item (5 data assets): {item_requests}, protocol minimum "
            f"{item_minimum} -> ratio {item_requests / item_minimum:.2f}"
        )
        print(
            f"  build and compute the 40-item cube: eostores {ours['requests']}, odc "
            f"{theirs['requests']}, protocol minimum {cube_minimum} (landing, search, one "
            f"read per item x band) -> ratio {ours['requests'] / cube_minimum:.2f}"
        )
    finally:
        emulator.stop()


if __name__ == "__main__":
    run_with_goals(main)
