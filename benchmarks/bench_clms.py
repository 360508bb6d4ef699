"""Benchmark: preloading a 16-tile CLMS product against the ideal of its parts.

The CLMS emulator (in a child process, so that it does not compete for the GIL) serves the
16-tile imperviousness product with ``--tile-pixels`` pixels per 100 km tile (1280: about
105 MB of float32 values) and keeps each data request queued and running for
``--queue-s`` and ``--run-s`` seconds. Measured in one run, alternately ``--rounds`` times
(best of each):

* the store: ``preload_data`` into a fresh cache (token, data request, polling, download,
  zip-in-zip extraction, tile merge, Zarr written to the cache store);
* the ideal: the service delay (queue + run) + a plain ``requests`` download of the same
  result to a file at the loopback rate + a plain ``rasterio.merge.merge`` of the 16 tiles
  (already extracted);
* the unpacking of the zip-in-zip result alone (``eostores.cache.extract_archive``), which
  the ideal leaves out, to show what the rest of the pipeline adds.

Goal: store / ideal <= 1.3. Run: ``python benchmarks/bench_clms.py [--tile-pixels 1280]``.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import requests
from benchutil import MB, best_times, goal, run_with_goals
from eostores_clms.testing import ClmsEmulator

from eostores import new_data_store

DATA_ID = "imperviousness-density-2018|IMD_2018_010m_eu_03035_v020"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile-pixels", type=int, default=1280)
    parser.add_argument("--queue-s", type=float, default=0.5)
    parser.add_argument("--run-s", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    with (
        tempfile.TemporaryDirectory(prefix="eostores-bench-clms-") as folder,
        ClmsEmulator.start_subprocess(
            tile_pixels=args.tile_pixels, queue_s=args.queue_s, run_s=args.run_s
        ) as emulator,
    ):
        work = Path(folder)
        caches = work / "caches"
        counter = iter(range(1_000_000))
        params = dict(emulator.store_params(), poll_interval=0.05, link_ttl=0)

        def preload() -> None:
            root = caches / str(next(counter))
            store = new_data_store("clms", **params, cache_store_params={"root": str(root)})
            store.preload_data(DATA_ID, silent=True).raise_for_failures()

        print("building the result archive in the emulator (first preload) ...")
        started = time.perf_counter()
        preload()
        print(f"  first preload incl. building the archive: {time.perf_counter() - started:.1f} s")
        probe = new_data_store("clms", **params, cache_store_params={"root": str(work / "probe")})
        finished = [t for t in probe.api.tasks().values() if t.download_url]
        url = finished[0].download_url
        archive = work / "plain.zip"

        def plain_download() -> None:
            with requests.get(url, stream=True, timeout=60) as response, open(archive, "wb") as f:
                response.raise_for_status()
                for chunk in response.iter_content(1 << 20):
                    f.write(chunk)

        plain_download()
        tiles_dir = work / "tiles"
        with zipfile.ZipFile(archive) as outer:
            inner_name = next(n for n in outer.namelist() if n.startswith("Results/"))
            outer.extract(inner_name, work)
        with zipfile.ZipFile(work / inner_name) as inner:
            inner.extractall(tiles_dir)
        tiles = sorted(str(p) for p in tiles_dir.glob("*.tif"))
        assert len(tiles) == 16, tiles
        raw = sum(Path(t).stat().st_size for t in tiles)

        def plain_merge() -> None:
            import rasterio
            from rasterio.merge import merge

            sources = [rasterio.open(t) for t in tiles]
            try:
                mosaic, _ = merge(sources)
            finally:
                for source in sources:
                    source.close()
            assert mosaic.shape[1:] == (4 * args.tile_pixels, 4 * args.tile_pixels)

        def unpack() -> None:
            from eostores.cache import extract_archive

            extract_archive(archive, work / "unpacked" / str(next(counter)))

        def fresh_caches() -> None:
            shutil.rmtree(caches, ignore_errors=True)
            shutil.rmtree(work / "unpacked", ignore_errors=True)

        times = best_times(
            {
                "store preload": preload,
                "plain download": plain_download,
                "plain merge": plain_merge,
                "unpacking": unpack,
            },
            args.rounds,
            fresh_caches,
        )
        service = args.queue_s + args.run_s
        ideal = service + times["plain download"] + times["plain merge"]
        values = 16 * args.tile_pixels**2 * 4
        print(
            f"product: 16 tiles of {args.tile_pixels}x{args.tile_pixels} float32 = "
            f"{values / MB:.0f} MB of values; archive {archive.stat().st_size / MB:.0f} MB, "
            f"tiles {raw / MB:.0f} MB"
        )
        print(f"service delay (queue + run):      {service:6.2f} s")
        print(f"plain download (loopback):        {times['plain download']:6.2f} s")
        print(f"plain rasterio merge of 16 tiles: {times['plain merge']:6.2f} s")
        print(f"ideal (sum of the above):         {ideal:6.2f} s")
        print(f"store preload_data:               {times['store preload']:6.2f} s")
        print(
            f"ratio store / ideal:              {times['store preload'] / ideal:6.2f} "
            + goal("preload / ideal", times["store preload"] / ideal, at_most=1.3)
        )
        unpacked = ideal + times["unpacking"]
        print(f"zip-in-zip unpacking (core):      {times['unpacking']:6.2f} s")
        print(
            f"ratio store / (ideal + unpacking): {times['store preload'] / unpacked:5.2f} "
            "(what the merge into Zarr and the protocol add)"
        )


if __name__ == "__main__":
    run_with_goals(main)
