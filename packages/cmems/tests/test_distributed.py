"""Pickling, and computing an opened dataset on dask.distributed worker processes."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from conftest import THETAO, expected

OPEN = dict(bbox=[0, 0, 6, 4], time_range=["2023-03-01", "2023-03-04"], depth_range=[0, 3])


def test_store_and_dataset_pickle(shared_store):
    ds = shared_store.open_data(THETAO, **OPEN)
    again = pickle.loads(pickle.dumps(ds))
    np.testing.assert_array_equal(again["thetao"].values, ds["thetao"].values)
    store = pickle.loads(pickle.dumps(shared_store))
    assert store.list_data_ids() == shared_store.list_data_ids()


def test_local_cluster_with_processes(shared_store):
    distributed = pytest.importorskip("distributed")
    ds = shared_store.open_data(THETAO, **OPEN)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        computed = client.compute(ds["thetao"].mean(["latitude", "longitude"])).result()
        loaded = client.compute(ds).result()
    np.testing.assert_allclose(
        loaded["thetao"].values, expected(THETAO, "thetao", loaded), rtol=1e-6
    )
    np.testing.assert_allclose(
        computed.values, loaded["thetao"].mean(["latitude", "longitude"]).values, rtol=1e-6
    )
