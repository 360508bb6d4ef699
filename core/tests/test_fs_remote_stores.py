"""The s3, ftp, abfs and https stores against real servers on 127.0.0.1.

The data is the sample cube, whose values are known: ``sst = 20 + lat/10 + lon/100 + day``.
"""

from __future__ import annotations

import pickle
import time
import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from eostores import (
    AuthenticationError,
    DataNotFoundError,
    DatasetDescriptor,
    DataStoreError,
    InvalidParameterError,
    ServiceError,
    new_data_store,
)
from eostores.testing import FaultProfile

pytest_plugins = ["fs_servers"]

SUBSET = {
    "variable_names": ["sst"],
    "bbox": [0, 40, 30, 60],
    "time_range": ["2024-01-02", "2024-01-03"],
}


def expected_sst(ds: Any) -> np.ndarray:
    day = (ds.time - np.datetime64("2024-01-01")) / np.timedelta64(1, "D")
    return (20 + ds.lat / 10 + ds.lon / 100 + day).transpose("time", "lat", "lon").values


def assert_subset_values(ds: Any) -> None:
    assert list(ds.data_vars) == ["sst"]
    assert ds.sst.chunks is not None, "opening must be lazy"
    assert ds.sizes == {"time": 2, "lat": 2, "lon": 3}
    assert [str(t)[:10] for t in ds.time.values] == ["2024-01-02", "2024-01-03"]
    np.testing.assert_allclose(ds.sst.values, expected_sst(ds), rtol=1e-6)


def assert_describes_cube(descriptor: Any, data_id: str) -> None:
    assert isinstance(descriptor, DatasetDescriptor)
    assert descriptor.data_id == data_id
    assert descriptor.dims == {"time": 6, "lat": 18, "lon": 36}
    assert set(descriptor.data_vars) == {"sst", "chl"}
    assert descriptor.bbox == (-180.0, -90.0, 180.0, 90.0)
    assert descriptor.time_range == ("2024-01-01", "2024-01-06")


def corrupt_data_chunks(fs: Any, zarr_path: str) -> None:
    """Overwrite the chunks of the data variables with bytes no codec can decode."""
    chunks = [p for name in ("sst", "chl") for p in fs.find(f"{zarr_path}/{name}/c")]
    assert chunks
    fs.pipe({path: b"\xffnot a chunk" for path in chunks})


def _fail_on_last_block(block, block_info=None):
    if block_info[None]["chunk-location"][0] == block_info[None]["num-chunks"][0] - 1:
        raise RuntimeError("computation failed half-way")
    return block


# --------------------------------------------------------------------------- s3, ftp, abfs


@dataclass
class Remote:
    """A writable remote store, a twin with wrong credentials and the secret it uses."""

    store: Any
    bad_store: Any
    secret: str


@pytest.fixture(params=["s3", "ftp", "abfs"])
def remote(request, cube) -> Remote:
    if request.param == "s3":
        env = request.getfixturevalue("s3_env")
        store = new_data_store("s3", **env.store_params())
        bad = new_data_store(
            "s3",
            **env.store_params(
                storage_options=env.storage_options(secret="wrong-" + env.secret_key)
            ),
        )
        remote = Remote(store, bad, env.secret_key)
    elif request.param == "ftp":
        env = request.getfixturevalue("ftp_env")
        root = f"/data-{uuid.uuid4().hex[:12]}"
        store = new_data_store("ftp", **env.store_params(root))
        bad = new_data_store(
            "ftp",
            **env.store_params(
                root, storage_options=env.storage_options(password="wrong-password")
            ),
        )
        remote = Remote(store, bad, env.password)
    else:
        env = request.getfixturevalue("azure_env")
        store = new_data_store("abfs", **env.store_params())
        wrong_key = env.account_key[:-2][::-1] + "=="
        bad = new_data_store(
            "abfs", **env.store_params(storage_options=env.storage_options(account_key=wrong_key))
        )
        remote = Remote(store, bad, env.account_key)
    remote.store.write_data(cube, "cube.zarr")
    remote.store.write_data(cube, "sub/cube.nc")
    return remote


def test_list_describe_and_open_subsets(remote):
    store = remote.store
    assert store.list_data_ids() == ["cube.zarr", "sub/cube.nc"]
    assert store.list_data_ids(include_attrs=["format"]) == [
        ("cube.zarr", {"format": "zarr"}),
        ("sub/cube.nc", {"format": "netcdf"}),
    ]
    assert store.has_data("sub/cube.nc") and not store.has_data("sub/missing.nc")
    for data_id in ("cube.zarr", "sub/cube.nc"):
        assert_describes_cube(store.describe_data(data_id), data_id)
        assert_subset_values(store.open_data(data_id, **SUBSET))


def test_describe_reads_metadata_only(remote):
    store = remote.store
    corrupt_data_chunks(store.fs, f"{store.root}/cube.zarr")
    assert_describes_cube(store.describe_data("cube.zarr"), "cube.zarr")
    opened = store.open_data("cube.zarr", variable_names=["sst"])
    with pytest.raises(Exception):  # noqa: B017 - the codec's own error
        opened.sst.values  # noqa: B018


def test_replace_is_atomic_and_delete(remote, cube):
    store = remote.store
    with pytest.raises(InvalidParameterError, match="replace"):
        store.write_data(cube, "cube.zarr")
    broken = cube.chunk({"time": 1})
    broken["sst"] = broken.sst.copy(
        data=broken.sst.data.map_blocks(_fail_on_last_block, dtype="float32")
    )
    with pytest.raises(RuntimeError, match="half-way"):
        store.write_data(broken, "cube.zarr", replace=True)
    assert store.open_data("cube.zarr").sizes["time"] == 6, "a failed replace keeps the old data"

    store.write_data(cube.isel(time=[2, 3]), "cube.zarr", replace=True)
    replaced = store.open_data("cube.zarr", variable_names=["sst"])
    assert replaced.sizes["time"] == 2
    np.testing.assert_allclose(replaced.sst.values, expected_sst(replaced), rtol=1e-6)
    store.fs.invalidate_cache()
    names = store.fs.ls(store.root, detail=False)
    assert not [n for n in names if ".tmp-" in n or ".old-" in n], names

    store.delete_data("cube.zarr")
    assert not store.has_data("cube.zarr")
    assert store.list_data_ids() == ["sub/cube.nc"]
    with pytest.raises(DataNotFoundError):
        store.delete_data("cube.zarr")
    with pytest.raises(DataNotFoundError):
        store.open_data("cube.zarr")


def test_wrong_credentials_are_authentication_errors(remote):
    bad = remote.bad_store
    calls = [
        bad.list_data_ids,
        lambda: bad.describe_data("cube.zarr"),
        lambda: bad.open_data("sub/cube.nc", **SUBSET),
    ]
    for call in calls:
        with pytest.raises(AuthenticationError) as caught:
            call()
        assert remote.secret not in str(caught.value)
    assert remote.secret not in repr(remote.store)
    assert remote.secret not in repr(bad)


def test_opened_data_pickles(remote):
    opened = remote.store.open_data("cube.zarr", **SUBSET)
    again = pickle.loads(pickle.dumps(opened))
    np.testing.assert_allclose(again.sst.values, expected_sst(again), rtol=1e-6)


# --------------------------------------------------------------------------- https


@pytest.fixture
def served(http_env, cube, tmp_path):
    """A directory with the cube as zarr and NetCDF, served over HTTP."""
    name = f"served-{time.monotonic_ns()}"
    writer = new_data_store("file", root=str(http_env.directory / name), max_depth=3)
    writer.write_data(cube, "cube.zarr")
    writer.write_data(cube, "sub/cube.nc")
    http_env.server.reset_log()
    yield http_env, http_env.root_url(name)
    http_env.server.faults = None


@pytest.fixture
def netrc(served, monkeypatch, tmp_path):
    http_env, _ = served
    path = http_env.write_netrc(tmp_path / "netrc")
    monkeypatch.setenv("NETRC", str(path))
    return path


def test_https_with_netrc_login(served, netrc):
    _, root = served
    store = new_data_store("https", root=root, max_depth=3)
    assert store.list_data_ids() == ["cube.zarr", "sub/cube.nc"]
    for data_id in ("cube.zarr", "sub/cube.nc"):
        assert store.has_data(data_id)
        assert_describes_cube(store.describe_data(data_id), data_id)
        assert_subset_values(store.open_data(data_id, **SUBSET))
    assert not store.has_data("missing.zarr")
    with pytest.raises(DataNotFoundError):
        store.describe_data("missing.nc")


def test_https_with_bearer_token_which_is_never_shown(served, no_netrc):
    http_env, root = served
    store = new_data_store("https", root=root, max_depth=3, bearer_token=http_env.token)
    assert_subset_values(store.open_data("cube.zarr", **SUBSET))
    assert store.list_data_ids() == ["cube.zarr", "sub/cube.nc"]
    assert http_env.token not in repr(store) and http_env.token not in str(store)
    assert any(r.headers.get("authorization") == "Bearer ***" for r in http_env.server.request_log)

    wrong = "wrong-" + http_env.token
    bad = new_data_store("https", root=root, bearer_token=wrong)
    for call in (
        bad.list_data_ids,
        lambda: bad.open_data("cube.zarr"),
        lambda: bad.describe_data("sub/cube.nc"),
    ):
        with pytest.raises(AuthenticationError) as caught:
            call()
        assert wrong not in str(caught.value) and wrong not in repr(caught.value)
        assert "401" in str(caught.value)


def test_https_without_credentials_is_authentication_error(served, no_netrc):
    _, root = served
    store = new_data_store("https", root=root, max_depth=3)
    for call in (
        store.list_data_ids,
        lambda: store.has_data("cube.zarr"),
        lambda: store.describe_data("cube.zarr"),
        lambda: store.open_data("sub/cube.nc"),
    ):
        with pytest.raises(AuthenticationError):
            call()


def test_https_wrong_netrc_password(served, tmp_path, monkeypatch):
    http_env, root = served
    path = http_env.write_netrc(tmp_path / "netrc", password="not-the-password")
    monkeypatch.setenv("NETRC", str(path))
    with pytest.raises(AuthenticationError) as caught:
        new_data_store("https", root=root).open_data("cube.zarr")
    assert "not-the-password" not in str(caught.value)


def test_https_describe_requests_metadata_only(served, netrc):
    http_env, root = served
    store = new_data_store("https", root=root)
    assert_describes_cube(store.describe_data("cube.zarr"), "cube.zarr")
    paths = [r.path for r in http_env.server.request_log]
    assert any(p.endswith("cube.zarr/zarr.json") for p in paths)
    assert not [p for p in paths if "/sst/c/" in p or "/chl/c/" in p]


def test_https_reads_byte_ranges_of_netcdf(served, netrc):
    http_env, root = served
    store = new_data_store("https", root=root)
    assert_subset_values(store.open_data("sub/cube.nc", **SUBSET))
    ranged = [
        r for r in http_env.server.request_log if r.path.endswith("cube.nc") and r.status == 206
    ]
    assert ranged, "the NetCDF file must be read with Range requests"


def test_https_zarr_from_server_without_directory_listings(http_env, served, no_netrc):
    _, root = served
    directory = http_env.directory / root.rsplit("/", 1)[1]
    from fs_servers import StaticFilesEmulator

    with StaticFilesEmulator(str(directory), listings=False) as keys_only:
        store = new_data_store("https", root=keys_only.url)
        assert store.has_data("cube.zarr")
        assert_describes_cube(store.describe_data("cube.zarr"), "cube.zarr")
        assert_subset_values(store.open_data("cube.zarr", **SUBSET))
        assert store.list_data_ids() == []


def test_https_retries_transient_errors(served, netrc):
    http_env, root = served
    store = new_data_store("https", root=root)
    http_env.server.faults = FaultProfile(
        error_rate=0.3, error_statuses=(503, 502), retry_after=0, seed=3
    )
    assert_subset_values(store.open_data("cube.zarr", **SUBSET))
    assert any(r.fault == "error" for r in http_env.server.request_log)


def test_https_gives_up_on_persistent_errors_with_service_error(served, netrc):
    http_env, root = served
    http_env.server.faults = FaultProfile(error_rate=1.0, error_statuses=(503,), retry_after=0)
    start = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        new_data_store("https", root=root).describe_data("cube.zarr")
    assert caught.value.status == 503
    assert time.monotonic() - start < 10


def test_https_write_is_refused_with_a_store_error(served, netrc, cube):
    _, root = served
    store = new_data_store("https", root=root)
    with pytest.raises(DataStoreError):
        store.write_data(cube, "new.nc")
