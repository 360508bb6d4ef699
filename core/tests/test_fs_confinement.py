"""Filesystem stores stay inside their root, and fail clearly when their service is away."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from eostores import DataNotFoundError, InvalidParameterError, ServiceError, new_data_store

pytest_plugins = ["fs_servers"]

HOSTILE_IDS = [
    "../x.zarr",
    "%2e%2e/x.zarr",
    "/etc/passwd",
    "~/x.zarr",
    "a\\..\\x.zarr",
    "a\x00b.zarr",
]


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fake home folder, and the working directory somewhere else."""
    home = tmp_path / "home"
    work = tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.chdir(work)
    return home


def test_file_store_with_default_root_refuses_the_home_folder(home, cube):
    (home / "x.nc").write_bytes(b"not for the store")
    store = new_data_store("file")
    for call in (
        lambda: store.open_data("~/x.nc"),
        lambda: store.describe_data("~/x.nc"),
        lambda: store.delete_data("~/x.nc"),
        lambda: store.write_data(cube, "~/y.zarr"),
    ):
        with pytest.raises(InvalidParameterError) as caught:
            call()
        assert caught.value.parameter == "data_id"
    assert not store.has_data("~/x.nc")
    assert sorted(p.name for p in home.iterdir()) == ["x.nc"]
    assert (home / "x.nc").read_bytes() == b"not for the store"


@pytest.mark.parametrize("data_id", HOSTILE_IDS)
def test_file_store_refuses_hostile_ids(tmp_path, cube, data_id):
    root = tmp_path / "root"
    root.mkdir()
    store = new_data_store("file", root=str(root))
    with pytest.raises((InvalidParameterError, DataNotFoundError)):
        store.open_data(data_id)
    with pytest.raises(InvalidParameterError):
        store.write_data(cube, data_id)
    assert list(tmp_path.iterdir()) == [root]
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("data_id", [None, 42, b"x.zarr", ["x.zarr"]])
def test_non_string_ids_are_invalid_everywhere(tmp_path, data_id):
    store = new_data_store("file", root=str(tmp_path))
    for call in (store.open_data, store.describe_data, store.has_data, store.delete_data):
        with pytest.raises(InvalidParameterError):
            call(data_id)


def test_symlink_in_root_does_not_lead_writes_or_deletes_outside(tmp_path, cube):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    outside_store = new_data_store("file", root=str(outside))
    outside_store.write_data(cube, "victim.zarr")
    (root / "escape").symlink_to(outside, target_is_directory=True)
    (root / "victim.zarr").symlink_to(outside / "victim.zarr", target_is_directory=True)
    store = new_data_store("file", root=str(root))

    with pytest.raises(InvalidParameterError, match="symbolic link"):
        store.write_data(cube, "escape/new.zarr")
    with pytest.raises(InvalidParameterError, match="symbolic link"):
        store.write_data(cube, "victim.zarr", replace=True)
    with pytest.raises(InvalidParameterError, match="symbolic link"):
        store.delete_data("victim.zarr")
    with pytest.raises(InvalidParameterError, match="symbolic link"):
        store.delete_data("escape/victim.zarr")

    assert sorted(p.name for p in outside.iterdir()) == ["victim.zarr"]
    assert outside_store.open_data("victim.zarr").sst.shape == cube.sst.shape


def test_symlink_staying_inside_the_root_is_followed(tmp_path, cube):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    store = new_data_store("file", root=str(tmp_path), max_depth=2)
    store.write_data(cube, "alias/cube.zarr")
    assert (tmp_path / "real" / "cube.zarr").is_dir()
    store.delete_data("alias/cube.zarr")
    assert not (tmp_path / "real" / "cube.zarr").exists()


@pytest.fixture
def served_data(http_env, cube):
    """root=<server>/data-<n>/, with a NetCDF file next to (outside) it."""
    import uuid

    name = f"data-{uuid.uuid4().hex[:8]}"
    (http_env.directory / name).mkdir()
    cube.to_netcdf(http_env.directory / "outside.nc")
    cube.isel(time=0).to_netcdf(http_env.directory / name / "inside.nc")
    http_env.server.reset_log()
    return http_env, http_env.root_url(name)


@pytest.mark.parametrize(
    "data_id",
    ["%2e%2e/outside.nc", "%2E%2E/outside.nc", "../outside.nc", "a/%2e%2e/%2e%2e/outside.nc"],
)
def test_https_store_refuses_encoded_escapes_before_any_request(served_data, data_id):
    http_env, root = served_data
    store = new_data_store("https", root=root, bearer_token=http_env.token)
    with pytest.raises(InvalidParameterError):
        store.open_data(data_id)
    assert http_env.server.request_log == []


@pytest.mark.parametrize("data_id", ["a?b=c.nc", "a#b.nc", "100%.nc", "two words.nc"])
def test_https_store_quotes_each_segment(served_data, data_id):
    http_env, root = served_data
    store = new_data_store("https", root=root, bearer_token=http_env.token)
    with pytest.raises(DataNotFoundError):
        store.open_data(data_id)
    prefix = "/" + root.rsplit("/", 1)[1] + "/"
    paths = [r.path for r in http_env.server.request_log]
    assert paths and all(p == prefix + data_id for p in paths), paths
    assert all(r.query == {} for r in http_env.server.request_log)


def test_https_store_lists_and_opens_names_that_need_quoting(served_data, cube):
    http_env, root = served_data
    directory = http_env.directory / root.rsplit("/", 1)[1]
    cube.isel(time=1).to_netcdf(directory / "a b?c#d.nc")
    store = new_data_store("https", root=root, bearer_token=http_env.token)
    assert sorted(store.list_data_ids()) == ["a b?c#d.nc", "inside.nc"]
    opened = store.open_data("a b?c#d.nc")
    assert str(opened.time.values)[:10] == "2024-01-02"


def test_s3_store_with_unreachable_endpoint_names_the_parameter():
    from fs_servers import free_port

    store = new_data_store(
        "s3",
        root="bucket",
        storage_options={
            "endpoint_url": f"http://127.0.0.1:{free_port()}",
            "key": "id",
            "secret": "not-a-real-secret",
        },
    )
    with pytest.raises(ServiceError) as caught:
        store.list_data_ids()
    assert caught.value.parameter == "storage_options.endpoint_url"
    assert "storage_options.endpoint_url" in str(caught.value)
    assert "not-a-real-secret" not in str(caught.value)


def test_https_store_with_unreachable_server_names_root():
    from fs_servers import free_port

    store = new_data_store("https", root=f"http://127.0.0.1:{free_port()}/data")
    with pytest.raises(ServiceError) as caught:
        store.open_data("x.nc")
    assert caught.value.parameter == "root"


def test_first_opens_from_many_threads_in_a_fresh_process(tmp_path):
    """Formats are loaded once, completely, before any thread sees them."""
    pytest.importorskip("rioxarray")
    import numpy as np
    import rioxarray  # noqa: F401
    import xarray as xr

    data = xr.DataArray(
        np.arange(64 * 64, dtype="float32").reshape(1, 64, 64),
        dims=("band", "y", "x"),
        coords={"band": [1], "y": np.arange(64.0), "x": np.arange(64.0)},
    ).rio.write_crs("EPSG:4326")
    data.rio.to_raster(tmp_path / "elevation.tif")
    script = textwrap.dedent(
        f"""
        import threading
        from concurrent.futures import ThreadPoolExecutor
        from eostores import new_data_store

        store = new_data_store("file", root={str(tmp_path)!r})
        barrier = threading.Barrier(8)

        def open_one(_):
            barrier.wait()
            return float(store.open_data("elevation.tif").band_1.sum())

        with ThreadPoolExecutor(8) as pool:
            sums = list(pool.map(open_one, range(8)))
        assert sums == [float(sum(range(64 * 64)))] * 8, sums
        print("ok")
        """
    )
    for _ in range(3):
        result = subprocess.run(
            [sys.executable, "-c", script], capture_output=True, text=True, timeout=240
        )
        assert result.returncode == 0, result.stderr[-3000:]
        assert result.stdout.strip() == "ok"
