"""Many threads, processes and store instances on one cache: one job and one file per request."""

from __future__ import annotations

import multiprocessing
import os
import threading
import zipfile
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from eostores_cds.testing import expected_value

from eostores import new_data_store

ERA5 = "reanalysis-era5-single-levels"


def era5_params(start: str, end: str) -> dict[str, Any]:
    return dict(
        variable_names=["2m_temperature", "total_precipitation"],
        bbox=[0, 0, 0.5, 0.5],
        time_range=[start, end],
        time_period="6H",
    )


class FileWatcher:
    """Opens every file that appears under its final name while work goes on."""

    def __init__(self, root: Path):
        self.root = root
        self.seen: set[Path] = set()
        self.broken: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> FileWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._scan()

    def _run(self) -> None:
        while not self._stop.wait(0.01):
            self._scan()

    def _scan(self) -> None:
        for folder, dirs, files in os.walk(self.root):
            dirs[:] = [d for d in dirs if not d.startswith(".")]  # staging folders
            for name in files:
                path = Path(folder) / name
                if name.startswith(".") or path in self.seen or path.suffix not in (".nc", ".zip"):
                    continue
                self.seen.add(path)
                self._check(path)

    def _check(self, path: Path) -> None:
        try:
            if path.suffix == ".zip":
                with zipfile.ZipFile(path) as archive:
                    assert archive.testzip() is None
            else:
                with h5py.File(path, "r") as file:
                    assert len(file.keys()) > 0
        except Exception as error:  # any failure means a partial file
            self.broken.append(f"{path.name}: {type(error).__name__}: {error}")


def leftovers(root: Path) -> list[str]:
    """Temporary files: partial downloads, half-written results, staging folders."""
    return [
        p.name
        for p in root.rglob("*")
        if p.name.endswith((".part", ".extracting")) or ".part." in p.name
    ]


def test_threads_over_two_store_instances(make_store, emulator, tmp_path):
    stores = [make_store(), make_store()]
    stores[0].list_data_ids()
    requests = [era5_params("2019-01-30", "2019-02-02"), era5_params("2019-02-01", "2019-02-03")]
    before = len(emulator.submitted_jobs)

    def open_one(index: int) -> Any:
        ds = stores[index % 2].open_data(ERA5, **requests[index % 2 if index < 6 else 0])
        return ds.load()

    with FileWatcher(tmp_path / "cache") as watcher, ThreadPoolExecutor(8) as pool:
        results = list(pool.map(open_one, range(8)))

    assert watcher.broken == [], "a file was visible under its final name before it was complete"
    assert len(watcher.seen) >= 3
    # Distinct requests: Jan 30-31, Feb 1-2 (shared by both opens), Feb 1-3: three jobs.
    submitted = emulator.submitted_jobs[before:]
    assert len(submitted) == 3, [job["request"]["day"] for job in submitted]
    assert len({str(job["request"]) for job in submitted}) == 3
    for index, ds in enumerate(results):
        assert ds.sizes["time"] == (16 if index % 2 == 0 or index >= 6 else 12)
        want = expected_value(
            250.0,
            ds["lat"].values[None, :, None],
            ds["lon"].values[None, None, :],
            ds["time"].values[:, None, None],
        )
        np.testing.assert_allclose(ds["t2m"].values, want, atol=1e-3)
    assert leftovers(tmp_path / "cache") == []


def open_in_process(params: dict[str, Any], open_params: dict[str, Any]) -> float:
    """Run in a child process: a store of its own on the shared cache."""
    store = new_data_store("cds", **params)
    ds = store.open_data(ERA5, **open_params)
    return float(ds["t2m"].sum())


def test_processes_share_one_cache(emulator, store_params, tmp_path):
    params = store_params
    open_params = era5_params("2019-03-30", "2019-04-02")
    before = len(emulator.submitted_jobs)
    # Children forked from a server that has imported the libraries once (not from this
    # process, whose emulator threads must not be forked).
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["xarray", "h5netcdf", "ecmwf.datastores", "eostores_cds.store"])
    with (
        FileWatcher(tmp_path / "cache") as watcher,
        ProcessPoolExecutor(4, mp_context=context) as pool,
    ):
        sums = list(pool.map(open_in_process, [params] * 4, [open_params] * 4))
    assert watcher.broken == []
    assert len(set(sums)) == 1
    submitted = emulator.submitted_jobs[before:]
    assert sorted(job["request"]["month"][0] for job in submitted) == ["03", "04"], (
        "one job per distinct request across processes"
    )
    results = list((tmp_path / "cache").rglob("results/*/*.nc"))
    assert len(results) == 1
    assert leftovers(tmp_path / "cache") == []


def test_archives_are_unpacked_once_for_many_readers(make_store, emulator, tmp_path):
    """Daily statistics arrive zipped; concurrent opens share one extraction."""
    params = dict(
        variable_names=["2m_temperature"],
        bbox=[0, 0, 1, 1],
        time_range=["2019-05-01", "2019-05-03"],
    )
    stores = [make_store(), make_store()]
    stores[0].list_data_ids()
    before = len(emulator.submitted_jobs)
    with ThreadPoolExecutor(6) as pool:
        sizes = list(
            pool.map(
                lambda i: (
                    stores[i % 2]
                    .open_data("derived-era5-single-levels-daily-statistics", **params)
                    .sizes["time"]
                ),
                range(6),
            )
        )
    assert sizes == [3] * 6
    assert len(emulator.submitted_jobs) - before == 1
    assert len(list((tmp_path / "cache").rglob("*.zip.d"))) == 1
    assert leftovers(tmp_path / "cache") == []
