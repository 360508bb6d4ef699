"""Many threads, processes and stores preloading into one cache: one download per file."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import numpy as np
import pytest
from eostores_zenodo.testing import LATEST_RECORD_ID
from eostores_zenodo.testing.samples import precipitation_value, reflectance_value

from eostores import new_data_store
from eostores.testing import FaultProfile

FILES = ("collection.zip", "temperature.nc", "scene.tar.gz")
EXPECTED_IDS = [
    "collection/series/part-1.nc",
    "collection/series/part-2.nc",
    "temperature.nc",
    "scene/reflectance.tif",
]


def _downloads(emulator, key: str | None = None) -> list:
    return [
        r
        for r in emulator.request_log
        if r.path.endswith("/content") and (key is None or r.path.endswith(f"/{key}/content"))
    ]


def _visible_files(record_dir: Path) -> dict[str, int]:
    """The files a cache store would show: below no hidden folder, with their sizes."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(record_dir):
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith("."):
                continue
            path = Path(dirpath) / name
            try:
                found[path.relative_to(record_dir).as_posix()] = path.stat().st_size
            except FileNotFoundError:
                continue
    return found


class _Watcher(threading.Thread):
    """Records every size each visible file had while preloads were running."""

    def __init__(self, record_dir: Path):
        super().__init__(daemon=True)
        self.record_dir = record_dir
        self.seen: dict[str, set[int]] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            for name, size in _visible_files(self.record_dir).items():
                self.seen.setdefault(name, set()).add(size)

    def assert_no_partial_file_was_visible(self) -> None:
        self.stop.set()
        self.join()
        final = _visible_files(self.record_dir)
        for name, sizes in self.seen.items():
            if name in final:
                assert sizes == {final[name]}, f"{name} was visible with sizes {sorted(sizes)}"


def _check_results(cache: Path) -> None:
    store = new_data_store("file", root=str(cache / LATEST_RECORD_ID), max_depth=10)
    part = store.open_data("collection/series/part-2.nc")
    day = np.array([2.0, 3.0])[:, None, None]
    expected = precipitation_value(
        day, part.lat.values[None, :, None], part.lon.values[None, None, :]
    )
    np.testing.assert_allclose(part.precipitation.values, expected, rtol=1e-6)
    scene = store.open_data("scene/reflectance.tif")
    expected = reflectance_value(scene.y.values[:, None], scene.x.values[None, :])
    np.testing.assert_allclose(scene.reflectance.values, expected, rtol=1e-6)


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def test_threads_with_stores_of_their_own_download_each_file_once(
    fresh_zenodo, make_store, tmp_path
):
    stores = [make_store(fresh_zenodo) for _ in range(8)]
    for store in stores:
        store.record  # noqa: B018 (fetched before the race, so that only downloads count)
    record_dir = tmp_path / "cache" / LATEST_RECORD_ID
    record_dir.mkdir(parents=True)
    watcher = _Watcher(record_dir)
    watcher.start()
    barrier = threading.Barrier(len(stores))
    handles: list = [None] * len(stores)

    def preload(index: int) -> None:
        barrier.wait()
        handles[index] = stores[index].preload_data(*FILES, max_workers=3)

    threads = [threading.Thread(target=preload, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    watcher.assert_no_partial_file_was_visible()

    for handle in handles:
        assert handle.failures == {}
        assert sorted(handle.data_ids) == sorted(EXPECTED_IDS)
    for key in FILES:
        assert len(_downloads(fresh_zenodo, key)) == 1, key
    expected_md5 = stores[0].record.files["temperature.nc"].checksum.partition(":")[2]
    assert _md5(record_dir / "temperature.nc") == expected_md5
    _check_results(tmp_path / "cache")


def test_one_store_preloading_the_same_files_in_many_threads(fresh_zenodo, make_store):
    store = make_store(fresh_zenodo)
    store.record  # noqa: B018
    errors: list = []

    def preload() -> None:
        handle = store.preload_data(*FILES, max_workers=2)
        errors.extend(handle.failures.values())

    threads = [threading.Thread(target=preload) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    assert errors == []
    assert len(_downloads(fresh_zenodo)) == len(FILES)


_PROCESS_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from eostores import new_data_store

    api_url, cache, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    store = new_data_store(
        "zenodo", root="{record}", api_url=api_url,
        cache_store_params={{"root": cache}}, retry_backoff_max=2.0,
    )
    handle = store.preload_data(*files, max_workers=3)
    print(json.dumps({{
        "data_ids": handle.data_ids,
        "failures": {{key: repr(error) for key, error in handle.failures.items()}},
    }}))
    """
).format(record=LATEST_RECORD_ID)


def test_processes_download_each_file_once(fresh_zenodo, tmp_path):
    cache = tmp_path / "cache"
    record_dir = cache / LATEST_RECORD_ID
    record_dir.mkdir(parents=True)
    watcher = _Watcher(record_dir)
    watcher.start()
    command = [sys.executable, "-c", _PROCESS_SCRIPT, f"{fresh_zenodo.url}/api", str(cache)]
    processes = [
        subprocess.Popen(
            [*command, *FILES], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(4)
    ]
    outputs = [process.communicate(timeout=280) for process in processes]
    watcher.assert_no_partial_file_was_visible()
    for process, (stdout, stderr) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, stderr
        result = json.loads(stdout.strip().splitlines()[-1])
        assert result["failures"] == {}
        assert sorted(result["data_ids"]) == sorted(EXPECTED_IDS)
    for key in FILES:
        assert len(_downloads(fresh_zenodo, key)) == 1, key
    _check_results(cache)


def test_repeated_preloads_neither_download_nor_extract_again(fresh_zenodo, make_store, tmp_path):
    store = make_store(fresh_zenodo)
    store.preload_data(*FILES).raise_for_failures()
    record_dir = tmp_path / "cache" / LATEST_RECORD_ID
    extracted = record_dir / "collection" / "series" / "part-1.nc"
    before = extracted.stat()
    fresh_zenodo.reset_log()
    again = make_store(fresh_zenodo).preload_data(*FILES)
    again.raise_for_failures()
    assert sorted(again.data_ids) == sorted(EXPECTED_IDS)
    assert _downloads(fresh_zenodo) == []
    after = extracted.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_changed_file_is_fetched_and_extracted_again(fresh_zenodo, make_store, tmp_path):
    import zipfile

    from eostores_zenodo.testing.samples import sample_files

    from eostores.cache import checksum_of

    make_store(fresh_zenodo).preload_data("collection.zip").raise_for_failures()
    # A new upload under the same key: another content, another checksum.
    replacement = tmp_path / "replacement.zip"
    with zipfile.ZipFile(replacement, "w") as archive:
        archive.write(sample_files()["v2"].files["stations.geojson"], "points.geojson")
    entry = fresh_zenodo.records[LATEST_RECORD_ID].files["collection.zip"]
    entry.path, entry.checksum = replacement, "md5:" + checksum_of(replacement, "md5")
    fresh_zenodo.reset_log()
    handle = make_store(fresh_zenodo).preload_data("collection.zip")
    handle.raise_for_failures()
    assert len(_downloads(fresh_zenodo)) == 1
    assert handle.data_ids == ["collection/points.geojson"]
    folder = tmp_path / "cache" / LATEST_RECORD_ID / "collection"
    assert sorted(p.name for p in folder.rglob("*")) == ["points.geojson"]


def test_concurrent_preloads_survive_truncated_bodies(fresh_zenodo, make_store, tmp_path):
    stores = [make_store(fresh_zenodo) for _ in range(4)]
    for store in stores:
        store.record  # noqa: B018
    fresh_zenodo.faults = FaultProfile(truncate_rate=0.5, seed=7, paths=r".*/content")
    handles: list = [None] * len(stores)

    def preload(index: int) -> None:
        handles[index] = stores[index].preload_data("temperature.nc", "collection.zip")

    threads = [threading.Thread(target=preload, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    for handle in handles:
        assert handle.failures == {}
    record_dir = tmp_path / "cache" / LATEST_RECORD_ID
    expected_md5 = stores[0].record.files["temperature.nc"].checksum.partition(":")[2]
    assert _md5(record_dir / "temperature.nc") == expected_md5
    assert [r.fault for r in _downloads(fresh_zenodo)].count("truncate") >= 1
    fresh_zenodo.faults = None
    _check_part = new_data_store("file", root=str(record_dir), max_depth=10)
    assert set(_check_part.list_data_ids()) >= {
        "temperature.nc",
        "collection/series/part-1.nc",
    }


@pytest.mark.parametrize("cache_store_id", ["memory"])
def test_other_cache_stores_are_filled_once_per_process(
    fresh_zenodo, make_store, cache_store_id, tmp_path
):
    root = f"zenodo-concurrency-{tmp_path.name}"
    stores = [
        make_store(fresh_zenodo, cache_store_id=cache_store_id, cache_store_params={"root": root})
        for _ in range(4)
    ]
    for store in stores:
        store.record  # noqa: B018
    handles: list = [None] * len(stores)

    def preload(index: int) -> None:
        handles[index] = stores[index].preload_data("scene.tar.gz", "stations.csv")

    threads = [threading.Thread(target=preload, args=(i,)) for i in range(len(stores))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=240)
    for handle in handles:
        assert handle.failures == {}
        assert handle.data_ids == ["scene/reflectance.tif"]
    assert len(_downloads(fresh_zenodo, "scene.tar.gz")) == 1
    assert len(_downloads(fresh_zenodo, "stations.csv")) == 1
    cache = handles[0].store
    cache.fs.rm(cache.root, recursive=True)
