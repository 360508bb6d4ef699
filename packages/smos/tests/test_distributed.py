"""Opening in this process, computing on dask.distributed workers in other processes."""

from __future__ import annotations

import os

import pytest
from conftest import DAY, OS, SEA_BBOX, requests_to
from test_open import check_values

distributed = pytest.importorskip("distributed")


@pytest.mark.timeout(240)
def test_a_pyramid_level_computes_on_worker_processes(store, emulator, eostores_dask_cluster):
    pyramid = store.open_data(
        OS,
        opener_id="mldataset:zarr:smos",
        time_range=[DAY, DAY],
        bbox=SEA_BBOX,
        variable_names=["SSS_corr", "Dg_quality_SSS_corr"],
    )
    level = pyramid.get_dataset(1)
    with distributed.Client(eostores_dask_cluster) as client:
        workers = set(client.run(os.getpid).values())
        assert os.getpid() not in workers
        computed = level.compute()
    check_values(computed, OS, "SSS_corr", min_filled=0.01)
    check_values(computed, OS, "Dg_quality_SSS_corr", min_filled=0.01)
    # the workers read the products themselves, each product once per worker at most
    heads = [r for r in requests_to(emulator, "/eodata") if r.method == "HEAD"]
    assert heads and len(heads) <= 2 * level.sizes["time"]
