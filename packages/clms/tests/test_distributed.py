"""Stores travel to dask.distributed worker processes and open preloaded data there."""

from __future__ import annotations

import os

import pytest
from conftest import TCD


def _mean_on_worker(store, data_id: str, variable: str) -> tuple[int, float]:
    return os.getpid(), float(store.open_data(data_id)[variable].mean())


def test_a_pickled_store_opens_preloaded_data_on_worker_processes(store, eostores_dask_cluster):
    distributed = pytest.importorskip("distributed")
    store.preload_data(TCD, silent=True).raise_for_failures()
    cube = store.open_data(TCD)
    expected_sum = float(cube.tree_cover_density.sum().compute(scheduler="sync"))
    expected_mean = float(store.open_data(TCD).tree_cover_density.mean())
    with distributed.Client(eostores_dask_cluster) as client:
        total = client.compute(cube.tree_cover_density.sum()).result(timeout=300)
        pid, mean = client.submit(
            _mean_on_worker, store, TCD, "tree_cover_density", pure=False
        ).result(timeout=300)
    assert float(total) == pytest.approx(expected_sum, rel=1e-6)
    assert pid != os.getpid()
    assert mean == pytest.approx(expected_mean, rel=1e-6)
