"""ccizarr: the Zarr copies in the public bucket, a preset of the core s3 store."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import OZONE
from eostores_cci.testing import ZARR_DATA_IDS, expected_value

from eostores import new_data_store
from eostores.errors import DataStoreError

OZONE_ID = list(ZARR_DATA_IDS)[1]


def test_defaults_are_the_public_bucket():
    params = new_data_store("ccizarr").store_params
    assert params["root"] == "esacci"
    assert params["storage_options"] == {
        "anon": True,
        "endpoint_url": "https://cci-ke-o.s3-ext.jc.rl.ac.uk:443/",
    }
    assert params["read_only"] is True


def test_ids_from_the_index_and_values(zarr_bucket):
    store = new_data_store("ccizarr", **zarr_bucket.store_params())
    assert store.list_data_ids() == list(ZARR_DATA_IDS)
    assert dict(store.list_data_ids(include_attrs=True))[OZONE_ID] == {
        "data_type": "dataset",
        "format": "zarr",
    }
    assert store.has_data(OZONE_ID) and not store.has_data("nothing.zarr")
    assert store.describe_data(OZONE_ID).dims == {"time": 24, "lat": 90, "lon": 180}
    cube = store.open_data(OZONE_ID, bbox=[10, 40, 20, 50], time_range=["2003-02-01", "2003-03-31"])
    want = expected_value(
        OZONE,
        "O3_du_tot",
        cube.time.values[:, None, None],
        cube.lat.values[:, None],
        cube.lon.values,
    )
    np.testing.assert_allclose(cube.O3_du_tot.values, want, atol=1e-4)
    with pytest.raises(DataStoreError):
        store.write_data(cube, "copy.zarr")


def test_ids_from_a_listing_without_index(zarr_bucket):
    fs = zarr_bucket.admin_filesystem()
    index = f"{zarr_bucket.bucket}/data_ids.json"
    original = fs.cat_file(index)
    fs.rm(index)
    try:
        store = new_data_store("ccizarr", **zarr_bucket.store_params())
        assert sorted(store.list_data_ids()) == sorted(ZARR_DATA_IDS)
        assert store.has_data(OZONE_ID)
    finally:
        fs.pipe(index, original)
