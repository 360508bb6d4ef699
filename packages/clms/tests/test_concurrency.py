"""Threads and processes preloading the same ids into one cache: one request, one download."""

from __future__ import annotations

import multiprocessing
import threading

import numpy as np
from conftest import FAST, TCD, WATER, requests_to
from eostores_clms.testing import expected_value

from eostores import new_data_store


def _preload_in_child(params, data_ids, ready, go, results):
    """Runs in a spawned process: wait for the start signal, then preload."""
    store = new_data_store("clms", **params)
    store.list_data_ids()
    ready.set()
    go.wait(60)
    handle = store.preload_data(*data_ids, silent=True)
    results.put({s.data_id: (str(s.status), s.data_ids, s.message) for s in handle.states})


def test_threads_and_processes_share_one_request_and_one_download(fresh_clms, tmp_path):
    fresh_clms.queue_s = 2.0  # long enough for every preload to find the others at work
    fresh_clms.prepare_archives()
    params = {
        **fresh_clms.store_params(),
        "cache_store_params": {"root": str(tmp_path / "cache")},
        **FAST,
    }
    ids = (TCD, WATER)
    context = multiprocessing.get_context("spawn")
    go = context.Event()
    results = context.Queue()
    readies = [context.Event() for _ in range(2)]
    children = [
        context.Process(target=_preload_in_child, args=(params, ids, ready, go, results))
        for ready in readies
    ]
    for child in children:
        child.start()
    try:
        for ready in readies:
            assert ready.wait(120), "a child process did not start"
        stores = [new_data_store("clms", **params) for _ in range(2)]
        outcomes: dict[int, dict] = {}

        def preload(index: int) -> None:
            handle = stores[index % 2].preload_data(*ids, silent=True)
            outcomes[index] = {s.data_id: (str(s.status), s.data_ids) for s in handle.states}

        threads = [threading.Thread(target=preload, args=(i,)) for i in range(4)]
        go.set()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        child_outcomes = [results.get(timeout=120) for _ in children]
    finally:
        for child in children:
            child.join(60)
            if child.is_alive():
                child.kill()
    everything = list(outcomes.values()) + [
        {k: v[:2] for k, v in o.items()} for o in child_outcomes
    ]
    assert len(everything) == 6
    for outcome in everything:
        assert {k: v[0] for k, v in outcome.items()} == {TCD: "completed", WATER: "completed"}
        assert len({tuple(v[1]) for v in outcome.values()}) == 2
    assert len(requests_to(fresh_clms, "/@datarequest_post")) == 2, "one request per id"
    downloads = [r for r in requests_to(fresh_clms, ".zip", "GET") if r.status in (200, 206)]
    assert len(downloads) == 2, "one download per id"
    cube = stores[0].open_data(TCD)
    values = cube.tree_cover_density.isel(time=0).values
    expected = expected_value("tree_cover_density", cube.x.values[None, :], cube.y.values[:, None])
    np.testing.assert_allclose(values, expected, rtol=1e-6)
