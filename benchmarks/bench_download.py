"""Benchmark: eostores.cache against the plain library calls underneath.

1. Downloading a large file from an emulator (running in a child process, so that the
   server does not compete with the client for the GIL) with ``eostores.cache.download``
   versus a plain ``requests`` streaming download into a file.
2. Extracting a large zip of poorly compressible data with ``extract_archive`` versus
   ``zipfile.ZipFile.extractall``.

Both sides run alternately ``--rounds`` times; the best time of each is compared.
Data are generated in a temporary directory that is removed at the end.

Run: ``python benchmarks/bench_download.py [--size-mb 200] [--rounds 3]`` (about 30 s).
"""

from __future__ import annotations

import argparse
import importlib
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import requests
from benchutil import MB, best_times, goal, run_with_goals, write_random_zip

from eostores.cache import download, extract_archive
from eostores.testing import EmulatorServer, Response, route


class DirectoryEmulator(EmulatorServer):
    """Serves the files of ``root`` with ranges and ETags, like a static file server."""

    name = "directory"

    def __init__(self, root: str, **kwargs):
        super().__init__(**kwargs)
        self.root = Path(root)

    @route("GET", r"/files/(?P<name>[^/]+)")
    def get_file(self, request, name):
        return Response.file(self.root / name, request)


def write_random_file(path: Path, size: int) -> None:
    with open(path, "wb") as file:
        for offset in range(0, size, 16 * MB):
            file.write(os.urandom(min(16 * MB, size - offset)))


def plain_requests_download(url: str, target: Path) -> None:
    with requests.get(url, stream=True, timeout=(10, 60)) as response:
        response.raise_for_status()
        with open(target, "wb") as file:
            for chunk in response.iter_content(MB):
                file.write(chunk)


def check_size(path: Path, size: int) -> None:
    if path.stat().st_size != size:
        raise SystemExit(f"{path} has {path.stat().st_size} bytes, expected {size}")


def report(title: str, size: int, times: dict[str, float], ours: str, baseline: str) -> float:
    ratio = times[ours] / times[baseline]
    print(f"\n{title} ({size / MB:.0f} MB)")
    for name, seconds in times.items():
        print(f"  {name:<34} {seconds:7.3f} s  {size / MB / seconds:8.1f} MB/s")
    print(f"  ratio {ours} / {baseline}: {ratio:.2f} " + goal(title, ratio, at_most=1.2))
    return ratio


def bench_download(work: Path, size: int, rounds: int) -> float:
    served = work / "served"
    served.mkdir()
    write_random_file(served / "big.bin", size)
    out = work / "downloads"
    out.mkdir()
    # Import this file under its module name so that the child process can load the class.
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    emulator_class = importlib.import_module("bench_download").DirectoryEmulator
    with emulator_class.start_subprocess(root=str(served)) as emu:
        url = f"{emu.url}/files/big.bin"

        def cleanup() -> None:
            for path in out.iterdir():
                path.unlink()

        def ours() -> None:
            check_size(download(url, out / "a.bin"), size)

        def plain() -> None:
            plain_requests_download(url, out / "b.bin")
            check_size(out / "b.bin", size)

        times = best_times(
            {"eostores.cache.download": ours, "requests iter_content(1 MiB)": plain},
            rounds,
            cleanup,
        )
    return report(
        "download", size, times, "eostores.cache.download", "requests iter_content(1 MiB)"
    )


def bench_extract(work: Path, size: int, rounds: int) -> float:
    archive = work / "random.zip"
    write_random_zip(archive, size)
    out_a, out_b = work / "extract-a", work / "extract-b"

    def cleanup() -> None:
        shutil.rmtree(out_a, ignore_errors=True)
        shutil.rmtree(out_b, ignore_errors=True)

    def extractall() -> None:
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(out_b)

    def ours() -> None:
        files = extract_archive(archive, out_a)
        if sum(path.stat().st_size for path in files) != size:
            raise SystemExit("extract_archive wrote the wrong amount of data")

    times = best_times(
        {"eostores.cache.extract_archive": ours, "zipfile.ZipFile.extractall": extractall},
        rounds,
        cleanup,
    )
    return report(
        f"extract zip, {archive.stat().st_size / MB:.0f} MB on disk",
        size,
        times,
        "eostores.cache.extract_archive",
        "zipfile.ZipFile.extractall",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    size = args.size_mb * MB
    with tempfile.TemporaryDirectory(prefix="eostores-bench-") as tmp:
        work = Path(tmp)
        download_ratio = bench_download(work, size, args.rounds)
        extract_ratio = bench_extract(work, size, args.rounds)
    print(f"\nsummary: download ratio {download_ratio:.2f}, extract ratio {extract_ratio:.2f}")


if __name__ == "__main__":
    run_with_goals(main)
