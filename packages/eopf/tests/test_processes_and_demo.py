"""Several processes on one service; pickled stores and cubes; the demo."""

from __future__ import annotations

import multiprocessing
import pickle
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import numpy as np
from conftest import S2, TWO_ZONES_BBOX, product_requests

from eostores import new_data_store

PARAMS = dict(
    bbox=TWO_ZONES_BBOX, spatial_res=0.0004, time_range=["2025-06-04", "2025-06-04"],
    variables=["b03"],
)  # fmt: skip


def _open_in_process(url: str) -> bytes:
    store = new_data_store("eopf-zarr", url=url)
    return store.open_data(S2, **PARAMS).b03.values.tobytes()


def test_processes_each_read_a_product_once(shared_emulator):
    before = len(shared_emulator.request_log)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=context) as pool:
        results = list(pool.map(_open_in_process, [shared_emulator.url] * 2))
    assert results[0] == results[1]
    metadata = Counter(
        r.path
        for r in product_requests(shared_emulator, before)
        if r.path.endswith((".zmetadata", "/zarr.json")) and r.status == 200
    )
    # two products (one tile-day per zone), each read once per process
    assert len(metadata) == 2 and set(metadata.values()) == {2}
    chunks = Counter(r.path for r in product_requests(shared_emulator, before) if "/b03/" in r.path)
    assert chunks and set(chunks.values()) == {2}, "every chunk once per process"


def test_pickled_cube_computes_the_same_elsewhere(store):
    cube = store.open_data(S2, **PARAMS)
    again = pickle.loads(pickle.dumps(cube))
    assert np.array_equal(again.b03.values, cube.b03.values, equal_nan=True)
    assert pickle.loads(pickle.dumps(store)).list_data_ids() == store.list_data_ids()


def test_demo_runs_offline():
    from eostores_eopf.testing.demo import demo

    lines: list[str] = []
    demo(lines.append)
    text = "\n".join(lines)
    assert "across UTM zones 32N and 33N" in text
    assert "largest error 0.000" in text
    assert "OLCI swath rectified" in text
