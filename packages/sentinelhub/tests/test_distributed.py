"""Opening in this process, computing on dask.distributed workers in other processes."""

from __future__ import annotations

import os

import numpy as np
import pytest
from conftest import PROCESS_PATH, TOKEN_PATH, paths

distributed = pytest.importorskip("distributed")


@pytest.mark.timeout(180)
def test_compute_on_a_local_cluster_with_processes(clean_emulator, make_store):
    store = make_store(clean_emulator)
    dataset = store.open_data(
        "S2L2A",
        variable_names=["B04", "B08"],
        bbox=[10.0, 50.0, 10.04, 50.02],
        spatial_res=0.001,
        time_range=["2021-06-02", "2021-06-03"],
        tile_size=[20, 10],
    )
    local = dataset.compute(scheduler="threads")
    clean_emulator.reset_log()
    with (
        distributed.LocalCluster(
            n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        worker_pids = set(client.run(os.getpid).values())
        remote = dataset.compute()
    assert os.getpid() not in worker_pids
    for name in ("B04", "B08"):
        np.testing.assert_array_equal(remote[name].values, local[name].values)
    assert not np.isnan(remote.B04.sel(time="2021-06-03").values).any()
    # the worker process fetched its own token and every chunk once
    assert len(paths(clean_emulator, TOKEN_PATH)) == 1
    assert len(paths(clean_emulator, PROCESS_PATH)) == 2 * 2 * 2 * 2
