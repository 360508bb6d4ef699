"""The cache folder: reuse, one read per product across threads and processes, no partials."""

from __future__ import annotations

import collections
import concurrent.futures
import multiprocessing
import threading
import time
from typing import Any

import numpy as np
import pytest
from conftest import BBOX, DAY, SM, requests_to

from eostores import new_data_store
from eostores.errors import ServiceError

OPEN = dict(time_range=[DAY, DAY], bbox=BBOX, res_level=2, variable_names=["Soil_Moisture"])


def compute(params: dict[str, Any]) -> np.ndarray:
    """Open and compute the test cube with a new store (also run in other processes)."""
    store = new_data_store("smos", **params)
    return store.open_data(SM, **OPEN).Soil_Moisture.values


def archive_reads(server) -> collections.Counter:
    """Reads of each product file: every read of a file starts with one HEAD request."""
    return collections.Counter(r.path for r in requests_to(server, "/eodata") if r.method == "HEAD")


def test_a_second_store_reads_from_the_cache(emulator, make_store, tmp_path):
    cache = str(tmp_path / "cache")
    first = make_store(emulator, cache_path=cache)
    values = first.open_data(SM, **OPEN).Soil_Moisture.values
    reads = archive_reads(emulator)
    assert reads and set(reads.values()) == {1}
    assert list((tmp_path / "cache").rglob("Soil_Moisture.npz"))
    emulator.reset_log()
    second = make_store(emulator, cache_path=cache)
    again = second.open_data(SM, **OPEN).Soil_Moisture.values
    assert not requests_to(emulator, "/eodata")
    np.testing.assert_array_equal(values, again)


def test_threads_with_their_own_stores_share_one_read_per_product(emulator, make_store, tmp_path):
    params = {**emulator.store_params(), "cache_path": str(tmp_path / "cache")}
    barrier = threading.Barrier(4)

    def run() -> np.ndarray:
        barrier.wait()
        return compute(params)

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: run(), range(4)))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    reads = archive_reads(emulator)
    assert reads and set(reads.values()) == {1}, reads


@pytest.mark.timeout(240)
def test_processes_share_one_read_per_product(emulator, tmp_path):
    params = {**emulator.store_params(), "cache_path": str(tmp_path / "cache")}
    context = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=context) as pool:
        results = list(pool.map(compute, [params] * 2))
    for other in results[1:]:
        np.testing.assert_array_equal(results[0], other)
    assert np.isfinite(results[0]).any()
    reads = archive_reads(emulator)
    assert reads and set(reads.values()) == {1}, reads


def test_a_failed_read_leaves_no_partial_cache_file(emulator, make_store, tmp_path):
    cache = tmp_path / "cache"
    store = make_store(emulator, cache_path=str(cache), num_retries=1)
    cube = store.open_data(SM, **OPEN)
    emulator.faults = {"error_rate": 1.0, "error_statuses": [503], "paths": "/eodata/.*"}
    # synchronously, so that no read of this failed compute is still in flight (and shared
    # with the next compute, which would get its failure) when the faults stop
    with pytest.raises(ServiceError, match="503"):
        cube.compute(scheduler="synchronous")
    assert not [p for p in cache.rglob("*") if p.is_file() and p.name != ".lock"]
    quiet_since, seen = time.monotonic(), len(emulator.request_log)
    while time.monotonic() - quiet_since < 1.5:  # reads of the store's own threads settle
        time.sleep(0.1)
        if len(emulator.request_log) != seen:
            quiet_since, seen = time.monotonic(), len(emulator.request_log)
    emulator.faults = None
    assert np.isfinite(cube.Soil_Moisture.values).any()
    assert list(cache.rglob("Soil_Moisture.npz"))
    assert not list(cache.rglob("*.part"))
