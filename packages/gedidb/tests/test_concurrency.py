"""Threads and processes sharing stores and one cache folder."""

from __future__ import annotations

import multiprocessing
import pickle
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from conftest import ALL_TIME

L4A_CONCEPT = "C2237824918-ORNL_CLOUD"
BOXES = [[9.0 + 0.25 * i, 45.0 + 0.25 * i, 9.5 + 0.25 * i, 45.5 + 0.25 * i] for i in range(6)]


def test_threads_open_at_once_and_agree_with_serial_opens(warm_store):
    serial = [
        warm_store.open_data("L2A", variables=["rh", "sensitivity"], bbox=b, time_range=ALL_TIME)
        for b in BOXES
    ]
    stores = [warm_store, pickle.loads(pickle.dumps(warm_store))]
    barrier = threading.Barrier(len(BOXES))

    def open_one(index: int):
        barrier.wait(timeout=60)
        store = stores[index % 2]
        return store.open_data(
            "L2A", variables=["rh", "sensitivity"], bbox=BOXES[index], time_range=ALL_TIME
        )

    with ThreadPoolExecutor(len(BOXES)) as pool:
        parallel = list(pool.map(open_one, range(len(BOXES))))
    for one, other in zip(serial, parallel, strict=True):
        assert one.sizes["shot_number"] > 0
        np.testing.assert_array_equal(one["shot_number"].values, other["shot_number"].values)
        np.testing.assert_array_equal(one["rh"].values, other["rh"].values)


def test_threads_describing_at_once_fetch_each_record_once(make_store, emulator):
    store = make_store()
    store.get_open_data_params_schema("L4A")
    emulator.reset_log()
    barrier = threading.Barrier(6)

    def describe(_):
        barrier.wait(timeout=60)
        return store.describe_data("L4A").time_range

    with ThreadPoolExecutor(6) as pool:
        ranges = set(pool.map(describe, range(6)))
    assert ranges == {("2019-04-18", "2023-03-16")}
    assert len(emulator.cmr_log) == 1


def _fetch(args):
    cmr_url, cache_root, start = args
    from eostores_gedidb.cmr import collection_record

    from eostores.http import HttpConfig, new_session

    start.wait(60)
    entry = collection_record(new_session(HttpConfig()), cmr_url, L4A_CONCEPT, cache_root, 3600)
    return entry["time_start"]


def test_processes_sharing_a_cache_fetch_a_record_once(emulator, tmp_path):
    cmr_url = emulator.store_params()["cmr_url"]
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        start = manager.Event()
        with context.Pool(3) as pool:
            pending = pool.map_async(_fetch, [(cmr_url, tmp_path, start)] * 3)
            emulator.reset_log()
            start.set()
            starts = pending.get(timeout=120)
    assert starts == ["2019-04-18T00:00:00.000Z"] * 3
    assert len(emulator.cmr_log) == 1
    assert len(list(tmp_path.rglob("*.json"))) == 1
