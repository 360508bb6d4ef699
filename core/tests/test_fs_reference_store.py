"""The reference store: datasets whose chunks are byte ranges of another file (Kerchunk v1)."""

from __future__ import annotations

import json
import uuid

import numpy as np
import pytest

from eostores import (
    AuthenticationError,
    DataNotFoundError,
    DatasetDescriptor,
    InvalidParameterError,
    new_data_store,
)

pytest_plugins = ["fs_servers"]

SUBSET = {
    "variable_names": ["sst"],
    "bbox": [0, 40, 30, 60],
    "time_range": ["2024-01-02", "2024-01-03"],
}


def assert_subset_values(ds) -> None:
    assert list(ds.data_vars) == ["sst"]
    assert ds.sst.chunks is not None, "opening must be lazy"
    assert ds.sizes == {"time": 2, "lat": 2, "lon": 3}
    day = (ds.time - np.datetime64("2024-01-01")) / np.timedelta64(1, "D")
    expected = (20 + ds.lat / 10 + ds.lon / 100 + day).transpose("time", "lat", "lon")
    np.testing.assert_allclose(ds.sst.values, expected.values, rtol=1e-6)


@pytest.fixture
def ref_path(tmp_path, cube, make_references):
    return make_references(cube, tmp_path)


def test_reference_file_layout(ref_path):
    refs = json.loads(ref_path.read_text())
    assert refs["version"] == 1
    assert ".zgroup" in refs["refs"] and "sst/.zarray" in refs["refs"]
    url, offset, length = refs["refs"]["sst/0.0.0"]
    assert url == str(ref_path.with_name("cube.bin")) and offset >= 0 and length > 0
    assert not ref_path.with_name("cube-source.zarr").exists()


def test_list_describe_and_open_subsets(ref_path):
    store = new_data_store("reference", refs=[str(ref_path)])
    assert store.list_data_ids() == ["cube"]
    assert store.list_data_ids(include_attrs=["ref_path"]) == [
        ("cube", {"ref_path": str(ref_path)})
    ]
    assert store.has_data("cube") and not store.has_data("other")
    descriptor = store.describe_data("cube")
    assert isinstance(descriptor, DatasetDescriptor)
    assert descriptor.dims == {"time": 6, "lat": 18, "lon": 36}
    assert set(descriptor.data_vars) == {"sst", "chl"}
    assert descriptor.time_range == ("2024-01-01", "2024-01-06")
    assert "bbox" in descriptor.open_params_schema.properties
    assert_subset_values(store.open_data("cube", **SUBSET))
    full = store.open_data("cube", variable_names=["chl"])
    np.testing.assert_allclose(full.chl.isel(time=4).values, 0.5, rtol=1e-6)


def test_data_id_and_data_descriptor_options(ref_path, tmp_path):
    missing = str(tmp_path / "nowhere.json")
    store = new_data_store(
        "reference",
        refs=[
            {"ref_path": str(ref_path), "data_id": "sst-cube"},
            {
                "ref_path": missing,
                "data_id": "described",
                "data_descriptor": {
                    "dims": {"time": 3},
                    "time_range": ["2020-01-01", "2020-01-03"],
                },
            },
        ],
    )
    assert store.list_data_ids() == ["sst-cube", "described"]
    assert_subset_values(store.open_data("sst-cube", **SUBSET))
    # the given descriptor is returned as it is: nothing is read
    descriptor = store.describe_data("described")
    assert descriptor.data_id == "described"
    assert descriptor.dims == {"time": 3}
    assert tuple(descriptor.time_range) == ("2020-01-01", "2020-01-03")
    with pytest.raises(DataNotFoundError):
        store.open_data("described")
    with pytest.raises(DataNotFoundError):
        store.describe_data("cube")


def test_bad_references(ref_path, tmp_path):
    with pytest.raises(InvalidParameterError, match="data_id"):
        new_data_store("reference", refs=[str(ref_path), str(ref_path)])
    with pytest.raises(InvalidParameterError, match="refs"):
        new_data_store("reference", refs=[])
    store = new_data_store("reference", refs=[str(tmp_path / "missing.json")])
    with pytest.raises(DataNotFoundError):
        store.open_data("missing")
    with pytest.raises(InvalidParameterError, match="allowed: dataset:zarr:reference") as caught:
        store.open_data("missing", opener_id="dataset:netcdf:file")
    assert caught.value.parameter == "opener_id"


@pytest.fixture
def http_refs(http_env, cube, no_netrc, make_references):
    """References served over HTTP, pointing at a binary file on the same server."""
    name = f"refs-{uuid.uuid4().hex}"
    directory = http_env.directory / name
    directory.mkdir()
    base_url = http_env.root_url(name)
    make_references(cube, directory, base_url=base_url)
    http_env.server.reset_log()
    return f"{base_url}/cube.json"


def test_references_over_http(http_env, http_refs):
    auth = {"client_kwargs": {"headers": {"Authorization": f"Bearer {http_env.token}"}}}
    store = new_data_store(
        "reference",
        refs=[http_refs],
        target_options=auth,
        remote_protocol="http",
        remote_options=auth,
    )
    assert_subset_values(store.open_data("cube", **SUBSET))
    ranges = [
        r for r in http_env.server.request_log if r.path.endswith("/cube.bin") and r.status == 206
    ]
    assert ranges, "chunks must be read as byte ranges of the referenced file"


def test_references_over_http_need_credentials(http_refs):
    store = new_data_store("reference", refs=[http_refs], remote_protocol="http")
    with pytest.raises(AuthenticationError):
        store.open_data("cube")
