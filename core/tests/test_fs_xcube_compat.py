"""The filesystem stores where xcube users expect xcube's behaviour, and regressions.

S3 runs against moto's server and https against the static-files emulator, on 127.0.0.1.
"""

from __future__ import annotations

import json

import fsspec
import numpy as np
import pytest

from eostores import (
    DataNotFoundError,
    DataOpener,
    DataStoreError,
    DataWriter,
    InvalidParameterError,
    MultiLevelDatasetDescriptor,
    ServiceError,
    find_data_opener_extensions,
    find_data_store_extensions,
    get_data_store_class,
    get_filename_extensions,
    new_data_opener,
    new_data_store,
    new_data_writer,
)
from eostores.fs.levels import LEVELS_FILE
from eostores.fs.stores import FileDataStore

pytest_plugins = ["fs_servers"]


# --------------------------------------------------------------------------- regressions


def test_s3_zarr_write_into_a_listed_folder_with_max_depth(s3_env, cube):
    """The move of the temporary zarr did not see it as a directory: the listing of its
    folder, cached before the write, did not show it."""
    store = new_data_store("s3", **s3_env.store_params(max_depth=2))
    store.write_data(cube, "a/first.nc")
    assert store.list_data_ids() == ["a/first.nc"]  # caches the listing of the folder
    assert store.write_data(cube, "a/cube.zarr") == "a/cube.zarr"
    assert store.list_data_ids() == ["a/cube.zarr", "a/first.nc"]
    assert not [p for p in store.fs.find(s3_env.bucket) if "/.tmp-" in p], "no temporary left"
    opened = store.open_data("a/cube.zarr")
    np.testing.assert_allclose(opened.sst.values, cube.sst.values)
    # replacing goes through the same move, twice
    store.write_data(cube.isel(time=slice(0, 2)), "a/cube.zarr", replace=True)
    assert store.open_data("a/cube.zarr").sizes["time"] == 2


def test_https_root_without_scheme_is_an_https_url(http_env, no_netrc):
    host_and_path = http_env.url.removeprefix("http://") + "/data"
    store = new_data_store("https", root=host_and_path, num_retries=0)
    assert store.root == "https://" + host_and_path
    assert store.store_params["root"] == "https://" + host_and_path
    # the plain-http server cannot answer https: a ServiceError, not a client library's
    with pytest.raises(ServiceError) as caught:
        store.has_data("cube.zarr")
    assert caught.value.store_id == "https"
    assert f"https://{host_and_path}/cube.zarr" in str(caught.value)
    assert new_data_store("https", root=http_env.url).root == http_env.url


# --------------------------------------------------------------------------- accessors


def test_filename_extensions_of_the_module_and_of_store_classes():
    openers = get_filename_extensions("openers")
    assert "dataset:zarr:file" in openers[".zarr"] and "dataset:zarr:s3" in openers[".zarr"]
    assert {"dataset:geotiff:https", "mldataset:geotiff:https"} <= set(openers[".tif"])
    writers = get_filename_extensions("writers")
    assert ".tif" not in writers, "GeoTIFF is read-only"
    s3_writers = get_data_store_class("s3").get_filename_extensions("writers")
    assert s3_writers[".levels"] == ["mldataset:levels:s3", "dataset:levels:s3"]
    assert s3_writers[".nc"] == ["dataset:netcdf:s3"]
    assert FileDataStore.get_filename_extensions()[".geojson"] == ["geodataframe:geojson:file"]
    with pytest.raises(InvalidParameterError, match="'openers' or 'writers'"):
        get_filename_extensions("modifiers")


def test_opener_ids_of_data_that_does_not_exist_yet(tmp_path):
    store = new_data_store("file", root=str(tmp_path))
    assert store.get_data_opener_ids("new/cube.zarr") == ("dataset:zarr:file",)
    assert store.get_data_opener_ids("x.levels", data_type="dataset") == ("dataset:levels:file",)
    with pytest.raises(DataNotFoundError):
        store.get_data_opener_ids("no-extension")


def test_registered_filesystem_accessors_are_openers_and_writers(tmp_path, cube):
    opener = new_data_opener("dataset:zarr:file", root=str(tmp_path))
    writer = new_data_writer("dataset:zarr:file", root=str(tmp_path))
    assert isinstance(opener, DataOpener) and isinstance(writer, DataWriter)
    assert writer.write_data(cube, "cube.zarr") == "cube.zarr"
    opened = opener.open_data("cube.zarr")
    np.testing.assert_allclose(opened.sst.values, cube.sst.values)
    assert "consolidated" in opener.get_open_data_params_schema("cube.zarr").properties
    with pytest.raises(InvalidParameterError, match="opener_id"):
        opener.open_data("cube.zarr", opener_id="dataset:netcdf:file")
    writer.delete_data("cube.zarr")
    assert not (tmp_path / "cube.zarr").exists()


def test_extensions_have_point_and_component():
    (file_store,) = find_data_store_extensions(lambda e: e.name == "file")
    assert file_store.point == "eostores.stores"
    assert not file_store.is_loaded
    assert file_store.component is FileDataStore
    assert file_store.is_loaded and file_store.component is FileDataStore
    assert file_store.metadata["package"] == "eostores"
    (netcdf,) = find_data_opener_extensions(lambda e: e.name == "dataset:netcdf:memory")
    assert netcdf.point == "eostores.openers"
    assert netcdf.component.__name__ == "FsDataAccessor"
    with pytest.raises(DataStoreError, match="unknown data store"):
        new_data_store("no-such-store")


# --------------------------------------------------------------------------- levels


@pytest.mark.parametrize("protocol", ["file", "memory"])
def test_levels_number_follows_the_chunking(protocol, tmp_path, cube):
    root = str(tmp_path) if protocol == "file" else f"/levels-{tmp_path.name}"
    store = new_data_store(protocol, root=root)
    # 36 x 18 pixels in tiles of 9 x 9: 36x18, 18x9, 9x5 -> three levels
    store.write_data(cube.chunk({"lon": 9, "lat": 9}), "tiled.levels")
    fs = fsspec.filesystem(protocol)
    info = json.loads(fs.cat_file(f"{root}/tiled.levels/{LEVELS_FILE}"))
    assert (info["num_levels"], info["tile_size"]) == (3, [9, 9])
    levels = store.open_data("tiled.levels")
    assert levels.num_levels == 3
    assert [levels.get_dataset(i).sizes["lon"] for i in range(3)] == [36, 18, 9]
    assert levels.get_dataset(1).sst.chunks[1:] == ((9,), (9, 9))
    descriptor = store.describe_data("tiled.levels")
    assert isinstance(descriptor, MultiLevelDatasetDescriptor) and descriptor.num_levels == 3
    # unchunked in x and y: one tile holds everything, one level; tile_size still wins
    store.write_data(cube.chunk({"time": 1}), "whole.levels")
    assert store.open_data("whole.levels").num_levels == 1
    store.write_data(cube, "given.levels", tile_size=12)
    assert store.open_data("given.levels").num_levels == 3
