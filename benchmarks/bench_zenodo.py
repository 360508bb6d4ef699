"""Benchmark: the Zenodo store against the plain way and against the protocol's minimum.

1. Preloading a 200 MB zip of a record (record look-up, download with md5 verification,
   safe extraction) versus a plain ``requests`` streaming download of the same URL plus
   ``zipfile.ZipFile.extractall`` (goal: ratio <= 1.2), and versus the same plain steps
   plus the md5 check the store makes (``hashlib.file_digest``). The candidates run
   alternately ``--rounds`` times; the best wall time of each is compared.
2. Reading a slice of one variable of a 500 MB NetCDF4 file lazily over HTTP ranges: the
   bytes the emulator sent (opening included) versus the stored bytes of the chunks the
   slice needs, taken from the file's chunk index (goal: ratio <= 1.5).

The emulator runs in a child process, so that it does not compete with the client for
the GIL. Data are generated in a temporary directory that is removed at the end.

Run: ``python benchmarks/bench_zenodo.py [--zip-mb 200] [--netcdf-mb 500] [--rounds 3]``.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import requests
from benchutil import MB, best_times, goal, run_with_goals, write_random_zip
from eostores_zenodo.testing import ZenodoEmulator

from eostores import new_data_store

ZIP_RECORD = "8000001"
NETCDF_RECORD = "8000002"


# --------------------------------------------------------------------------- data


def write_large_netcdf(path: Path, size: int) -> tuple[int, int, int]:
    """Two float32 variables (time, lat, lon) of ``size`` bytes in all, chunked
    (1, 500, 625) and uncompressed; returns the shape."""
    import h5netcdf

    lat_n, lon_n = 1000, 1250
    times = max(2, size // (2 * 4 * lat_n * lon_n))
    with h5netcdf.File(path, "w") as nc:
        nc.dimensions = {"time": times, "lat": lat_n, "lon": lon_n}
        nc.create_variable("time", ("time",), "f8", data=np.arange(times, dtype="f8"))
        nc.variables["time"].attrs["units"] = "days since 2020-01-01"
        nc.create_variable("lat", ("lat",), "f8", data=np.linspace(-89.91, 89.91, lat_n))
        nc.create_variable("lon", ("lon",), "f8", data=np.linspace(-179.856, 179.856, lon_n))
        rng = np.random.default_rng(0)
        for name in ("a", "b"):
            variable = nc.create_variable(name, ("time", "lat", "lon"), "f4", chunks=(1, 500, 625))
            for step in range(times):
                variable[step, :, :] = rng.random((lat_n, lon_n), dtype="float32")
    return times, lat_n, lon_n


def needed_chunk_bytes(path: Path, variable: str, selection: tuple[slice, ...]) -> int:
    """Stored bytes of the chunks of ``variable`` that ``selection`` touches."""
    import itertools

    import h5py

    with h5py.File(path, "r") as h5:
        dataset = h5[variable]
        chunks = dataset.chunks
        ranges = [
            range(s.start // c * c, s.stop, c) for s, c in zip(selection, chunks, strict=True)
        ]
        return sum(
            dataset.id.get_chunk_info_by_coord(offset).size for offset in itertools.product(*ranges)
        )


# --------------------------------------------------------------------------- timing


def bench_preload(work: Path, size: int, rounds: int) -> float:
    archive = work / "bundle.zip"
    write_random_zip(archive, size)
    cache, plain_out = work / "cache", work / "plain"
    with ZenodoEmulator.start_subprocess(
        sample=False, records={ZIP_RECORD: {"bundle.zip": str(archive)}}, rate_limit=None
    ) as emulator:
        api_url = f"{emulator.url}/api"
        url = f"{api_url}/records/{ZIP_RECORD}/files/bundle.zip/content"

        def cleanup() -> None:
            shutil.rmtree(cache, ignore_errors=True)
            shutil.rmtree(plain_out, ignore_errors=True)

        def ours() -> None:
            store = new_data_store(
                "zenodo", root=ZIP_RECORD, api_url=api_url, cache_store_params={"root": str(cache)}
            )
            handle = store.preload_data("bundle.zip")
            handle.raise_for_failures()
            files = list((cache / ZIP_RECORD / "bundle").rglob("*.bin"))
            if sum(f.stat().st_size for f in files) != size // 20 * 20:
                raise SystemExit("the preload extracted the wrong amount of data")

        def plain(verify: bool = False) -> None:
            plain_out.mkdir(parents=True)
            target = plain_out / "bundle.zip"
            with requests.get(url, stream=True, timeout=(10, 60)) as response:
                response.raise_for_status()
                with open(target, "wb") as file:
                    for chunk in response.iter_content(MB):
                        file.write(chunk)
            if verify:
                with open(target, "rb") as file:
                    if hashlib.file_digest(file, "md5").hexdigest() != expected_md5:
                        raise SystemExit("md5 mismatch")
            with zipfile.ZipFile(target) as zf:
                zf.extractall(plain_out / "bundle")

        with open(archive, "rb") as file:
            expected_md5 = hashlib.file_digest(file, "md5").hexdigest()
        ours_name = "store.preload_data (md5, safe extract)"
        plain_name = "requests stream + zipfile.extractall"
        md5_name = "the same + hashlib md5 check"
        times = best_times(
            {ours_name: ours, plain_name: plain, md5_name: lambda: plain(verify=True)},
            rounds,
            cleanup,
        )
    ratio = times[ours_name] / times[plain_name]
    print(f"\npreload of a {archive.stat().st_size / MB:.0f} MB zip")
    for name, seconds in times.items():
        print(f"  {name:<40} {seconds:7.3f} s  {size / MB / seconds:8.1f} MB/s")
    print(f"  ratio eostores / plain: {ratio:.2f} " + goal("preload vs plain", ratio, at_most=1.2))
    print(f"  ratio eostores / plain with md5 check: {times[ours_name] / times[md5_name]:.2f}")
    return ratio


def bench_lazy_slice(work: Path, size: int) -> float:
    path = work / "large.nc"
    times, lat_n, lon_n = write_large_netcdf(path, size)
    selection = (slice(1, 4), slice(100, 400), slice(200, 700))
    needed = needed_chunk_bytes(path, "a", selection)
    file_size = path.stat().st_size
    import xarray  # noqa: F401 (imported before the clock starts)

    with ZenodoEmulator.start_subprocess(
        sample=False, records={NETCDF_RECORD: {"large.nc": str(path)}}, rate_limit=None
    ) as emulator:
        store = new_data_store("zenodo", root=NETCDF_RECORD, api_url=f"{emulator.url}/api")
        store.record  # noqa: B018 (the record look-up is not part of the file's bytes)
        emulator.reset_log()
        started = time.perf_counter()
        dataset = store.open_data("large.nc", variable_names=["a"])
        opened = emulator.request_log
        values = dataset.a.isel(time=selection[0], lat=selection[1], lon=selection[2]).values
        elapsed = time.perf_counter() - started
        log = emulator.request_log
    expected = np.asarray(values.shape)
    if tuple(expected) != (3, 300, 500) or not np.isfinite(values).all():
        raise SystemExit("the slice came back wrong")
    open_bytes = sum(r.bytes_sent for r in opened)
    total = sum(r.bytes_sent for r in log)
    ratio = total / needed
    print(f"\nlazy slice a[1:4, 100:400, 200:700] of a {file_size / MB:.0f} MB NetCDF4 file")
    print(f"  shape (time, lat, lon) = ({times}, {lat_n}, {lon_n}), chunks (1, 500, 625)")
    print(f"  stored bytes of the chunks needed   {needed / MB:8.2f} MB")
    print(
        f"  bytes sent to open the file         {open_bytes / MB:8.2f} MB ({len(opened)} requests)"
    )
    print(f"  bytes sent in all                   {total / MB:8.2f} MB ({len(log)} requests)")
    print(f"  share of the file transferred       {total / file_size:8.2%}  ({elapsed:.2f} s)")
    print(
        f"  ratio transferred / needed: {ratio:.2f} "
        + goal("lazy slice bytes / needed", ratio, at_most=1.5)
    )
    return ratio


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip-mb", type=int, default=200)
    parser.add_argument("--netcdf-mb", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="eostores-bench-zenodo-") as tmp:
        work = Path(tmp)
        preload_ratio = bench_preload(work, args.zip_mb * MB, args.rounds)
        slice_ratio = bench_lazy_slice(work, args.netcdf_mb * MB)
    print(f"\nsummary: preload ratio {preload_ratio:.2f}, lazy slice bytes ratio {slice_ratio:.2f}")


if __name__ == "__main__":
    run_with_goals(main)
