"""Benchmarks of eostores-eopf, printed as ratios measured in one run.

1. A Sentinel-2 L2A cube of 20 items (10 solar days x 2 tiles in UTM zones 32N and 33N)
   x 3 bands on a lon/lat grid, computed with eostores and by hand: the same products
   opened with ``xarray.open_datatree`` (fsspec's HTTP file system), each band reprojected
   with odc-geo onto the same grid with the same resampling, and mosaicked per solar day
   (first valid pixel). Wall time and peak memory, each variant in a fresh process (cold
   caches); goal <= 1.1x.
2. HTTP requests to build and compute that cube, against those of the by-hand variant
   (dask reads each chunk of a product once; the cube builder reads a chunk for every
   output chunk it overlaps, so a per-process chunk cache has to make up for that).

The EOPF emulator runs in a child process with a per-request latency, so that round trips
show up as time. Run: ``python benchmarks/bench_eopf.py [--latency-ms 5] [--size 1080]``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

from benchutil import goal, run_with_goals

BBOX = [11.975, 45.0, 12.045, 45.06]
RES = 0.0001
TIME_RANGE = ["2025-06-01", "2025-06-28"]
BANDS = ["b02", "b03", "b04"]
TILE = 512

_VARIANT = r"""
import json, resource, sys, time, warnings
import numpy as np
url, variant = sys.argv[1], sys.argv[2]
bbox, res, time_range, bands, tile = json.loads(sys.argv[3])
import contextlib, dask, dask.array, pystac_client, xarray, zarr, odc.geo.xr, pyproj
with contextlib.suppress(ImportError):
    import distributed  # dask imports it on the first compute where it is installed
from eostores import new_data_store
if variant == "eostores":
    import eostores_eopf.store, eostores_eopf.s2cube, eostores_stac.stack, odc.stac
else:
    import fsspec, aiohttp
    from odc.geo.geobox import GeoBox
warnings.simplefilter("ignore")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
started = time.perf_counter()
if variant == "eostores":
    store = new_data_store("eopf-zarr", url=url)
    cube = store.open_data("sentinel-2-l2a", variables=bands, bbox=bbox, spatial_res=res,
                           time_range=time_range, tile_size=tile, interp_methods="bilinear")
    ids = cube.attrs["stac_item_ids"]
else:
    client = pystac_client.Client.open(url)
    found = client.search(collections=["sentinel-2-l2a"], bbox=bbox,
                          datetime="/".join(time_range), limit=100).items_as_dicts()
    latest = {}
    for item in found:
        p = item["properties"]
        if p.get("deprecated"):
            continue
        key = (p["grid:code"], p["datetime"][:10])
        known = latest.get(key)
        if known is None or p["processing:version"] > known["properties"]["processing:version"]:
            latest[key] = item
    items = sorted(latest.values(), key=lambda i: (i["properties"]["datetime"], i["id"]))
    ids = [i["id"] for i in items]
    geobox = GeoBox.from_bbox(tuple(bbox), "EPSG:4326", resolution=res)
    days = {}
    for item in items:
        tree = xarray.open_datatree(item["assets"]["product"]["href"], engine="zarr",
                                    chunks={}, consolidated=True)
        group = tree["measurements/reflectance/r10m"].to_dataset()
        epsg = pyproj.CRS.from_user_input(item["properties"]["proj:code"])
        layers = {}
        for band in bands:
            data = group[band].astype("float32").odc.assign_crs(epsg)
            layers[band] = data.odc.reproject(geobox, resampling="bilinear",
                                              chunks=(tile, tile))
        days.setdefault(item["properties"]["datetime"][:10], []).append(layers)
    steps = []
    for day in sorted(days):
        merged = {}
        for band in bands:
            result = days[day][0][band]
            for other in days[day][1:]:
                result = result.fillna(other[band])
            merged[band] = result
        steps.append(xarray.Dataset(merged))
    cube = xarray.concat(steps, dim="time")
opened = time.perf_counter() - started
result = cube.compute()
elapsed = time.perf_counter() - started
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
values = result[bands[0]].values
print(json.dumps({"seconds": elapsed, "open_seconds": opened, "peak_kib": peak,
                  "import_kib": before, "shape": list(values.shape), "items": len(ids),
                  "filled": float(np.isfinite(values).mean()),
                  "mean": float(np.nanmean(values))}))
"""


def run_variant(url: str, variant: str) -> dict:
    settings = json.dumps([BBOX, RES, TIME_RANGE, BANDS, TILE])
    output = subprocess.run(
        [sys.executable, "-c", _VARIANT, url, variant, settings],
        capture_output=True,
        text=True,
        check=False,
    )
    if output.returncode:
        raise RuntimeError(f"variant {variant} failed:\n{output.stderr[-3000:]}")
    return json.loads(output.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=2.0)
    parser.add_argument("--size", type=int, default=1080, help="10 m pixels per tile side")
    parser.add_argument("--repeat", type=int, default=2, help="runs per variant (best kept)")
    args = parser.parse_args()

    from eostores_eopf.testing import EopfEmulator

    settings = dict(days=10, tile_pixels=args.size)
    started = time.perf_counter()
    # Products are written once, into the shared sample folder, by a child process: the
    # variants' peak memory (ru_maxrss) starts from the size of the process that spawns them.
    prepare = "from eostores_eopf.testing import EopfEmulator; EopfEmulator(**{}).prepare()"
    subprocess.run([sys.executable, "-c", prepare.format(settings)], check=True)
    print(f"sample products ready in {time.perf_counter() - started:.1f} s")
    emulator = EopfEmulator.start_subprocess(latency_ms=args.latency_ms, **settings)
    try:
        url = emulator.store_params()["url"]
        results: dict[str, dict] = {}
        for variant in ("by-hand", "eostores") * args.repeat:
            emulator.reset_log()
            run = run_variant(url, variant)
            log = emulator.request_log
            run["requests"] = len(log)
            run["product_requests"] = sum(1 for r in log if r.path.startswith("/products/"))
            best = results.get(variant)
            if best is None or run["seconds"] < best["seconds"]:
                results[variant] = run
        ours, theirs = results["eostores"], results["by-hand"]
        assert ours["shape"] == theirs["shape"], (ours["shape"], theirs["shape"])
        assert ours["items"] == theirs["items"] == 20, (ours["items"], theirs["items"])
        print(
            f"\n20-item x {len(BANDS)}-band S2 L2A cube over UTM 32N + 33N, output "
            f"{ours['shape']} per band, latency {args.latency_ms:g} ms, tiles {args.size} px"
        )
        print(
            f"  wall time  eostores {ours['seconds']:.2f} s (open {ours['open_seconds']:.2f} s),"
            f" by hand {theirs['seconds']:.2f} s (open {theirs['open_seconds']:.2f} s) -> ratio "
            f"{ours['seconds'] / theirs['seconds']:.2f} "
            + goal("wall time vs by hand", ours["seconds"] / theirs["seconds"], at_most=1.1)
        )
        ours_mem = ours["peak_kib"] - ours["import_kib"]
        their_mem = theirs["peak_kib"] - theirs["import_kib"]
        print(
            f"  peak memory above imports  eostores {ours_mem / 1024:.0f} MiB, by hand "
            f"{their_mem / 1024:.0f} MiB -> ratio {ours_mem / max(their_mem, 1):.2f} "
            + goal("peak memory vs by hand", ours_mem / max(their_mem, 1), at_most=1.1)
            + f"; whole process {ours['peak_kib'] / max(theirs['peak_kib'], 1):.2f}"
        )
        print(
            f"  {BANDS[0]}: filled eostores {ours['filled']:.3f}, by hand {theirs['filled']:.3f};"
            f" mean eostores {ours['mean']:.5f}, by hand {theirs['mean']:.5f}"
        )
        ratio = ours["requests"] / max(theirs["requests"], 1)
        print(
            f"  HTTP requests  eostores {ours['requests']} ({ours['product_requests']} to "
            f"products), by hand {theirs['requests']} ({theirs['product_requests']} to products)"
            f" -> ratio {ratio:.2f} " + goal("HTTP requests vs by hand", ratio, at_most=1.1)
        )
    finally:
        emulator.stop()


if __name__ == "__main__":
    run_with_goals(main)
