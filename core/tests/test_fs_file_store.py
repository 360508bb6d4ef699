"""The file and memory stores: listing, describing, opening with subsets, writing, deleting."""

from __future__ import annotations

import uuid

import numpy as np
import pytest
import xarray as xr

from eostores import (
    DataNotFoundError,
    DatasetDescriptor,
    DataStoreError,
    InvalidParameterError,
    new_data_store,
    new_fs_data_store,
)


@pytest.fixture(params=["file", "memory"])
def store(request, tmp_path):
    if request.param == "file":
        return new_data_store("file", root=str(tmp_path / "root"), max_depth=3)
    return new_data_store("memory", root=f"/eostores-{uuid.uuid4().hex}", max_depth=3)


@pytest.fixture
def filled(store, cube):
    store.write_data(cube, "cube.zarr")
    store.write_data(cube.isel(time=slice(0, 2)), "sub/early.nc")
    return store


def test_listing_finds_data_by_extension_and_depth(filled):
    assert filled.list_data_ids() == ["cube.zarr", "sub/early.nc"]
    assert filled.list_data_ids(include_attrs=["format"]) == [
        ("cube.zarr", {"format": "zarr"}),
        ("sub/early.nc", {"format": "netcdf"}),
    ]
    assert filled.list_data_ids(data_type="geodataframe") == []
    shallow = new_fs_data_store(filled.protocol, root=filled.root, max_depth=1)
    assert shallow.list_data_ids() == ["cube.zarr"]


def test_includes_and_excludes(filled):
    only_nc = new_fs_data_store(filled.protocol, root=filled.root, max_depth=2, includes="*.nc")
    assert only_nc.list_data_ids() == ["sub/early.nc"]
    assert not only_nc.has_data("cube.zarr")
    no_nc = new_fs_data_store(filled.protocol, root=filled.root, max_depth=2, excludes=["sub/*"])
    assert no_nc.list_data_ids() == ["cube.zarr"]
    with pytest.raises(DataNotFoundError):
        no_nc.open_data("sub/early.nc")


def test_has_data(filled):
    assert filled.has_data("cube.zarr")
    assert filled.has_data("cube.zarr", data_type="dataset")
    assert not filled.has_data("cube.zarr", data_type="geodataframe")
    assert not filled.has_data("missing.zarr")
    assert not filled.has_data("../escape.zarr")


def test_describe_reads_metadata(filled, cube):
    descriptor = filled.describe_data("cube.zarr")
    assert isinstance(descriptor, DatasetDescriptor)
    assert descriptor.dims == {"time": 6, "lat": 18, "lon": 36}
    assert set(descriptor.data_vars) == {"sst", "chl"}
    assert descriptor.data_vars["sst"].attrs["units"] == "degC"
    assert descriptor.bbox == (-180.0, -90.0, 180.0, 90.0)
    assert descriptor.time_range == ("2024-01-01", "2024-01-06")
    assert descriptor.time_period == "1D"
    assert descriptor.crs == "EPSG:4326"
    assert descriptor.spatial_res == 10.0
    assert "variable_names" in descriptor.open_params_schema.properties


@pytest.mark.parametrize("data_id", ["cube.zarr", "sub/early.nc"])
def test_open_subsets_lazily_with_correct_values(filled, data_id):
    ds = filled.open_data(
        data_id,
        variable_names=["sst"],
        bbox=[0, 40, 30, 60],
        time_range=["2024-01-02", "2024-01-02"],
    )
    assert list(ds.data_vars) == ["sst"]
    assert ds.sst.chunks is not None
    assert ds.sizes == {"time": 1, "lat": 2, "lon": 3}
    expected = 20 + ds.lat / 10 + ds.lon / 100 + 1
    np.testing.assert_allclose(ds.sst.isel(time=0).values, expected.values, rtol=1e-6)


def test_time_range_end_date_includes_whole_day(filled):
    ds = filled.open_data("cube.zarr", time_range=["2024-01-02", "2024-01-04"])
    assert [str(t)[:10] for t in ds.time.values] == ["2024-01-02", "2024-01-03", "2024-01-04"]


def test_empty_variable_list_keeps_dims(filled):
    ds = filled.open_data("cube.zarr", variable_names=[], bbox=[0, 0, 20, 20])
    assert not ds.data_vars
    assert ds.sizes == {"time": 6, "lat": 2, "lon": 2}


def test_open_params_are_validated(filled):
    with pytest.raises(InvalidParameterError, match="variable_names"):
        filled.open_data("cube.zarr", variable_names=["nope"])
    with pytest.raises(InvalidParameterError, match="bbox"):
        filled.open_data("cube.zarr", bbox=[10, 0, 0, 10])
    with pytest.raises(InvalidParameterError, match="consolidatd"):
        filled.open_data("cube.zarr", consolidatd=True)
    with pytest.raises(InvalidParameterError, match="data_type"):
        filled.open_data("cube.zarr", data_type="geodataframe")


@pytest.mark.parametrize(
    "bad", ["../x.zarr", "/etc/passwd", "s3://bucket/x.zarr", "a/../../x.zarr", "C:\\x.zarr", ""]
)
def test_data_ids_cannot_escape_the_root(filled, bad):
    with pytest.raises(InvalidParameterError):
        filled.open_data(bad)
    with pytest.raises(InvalidParameterError):
        filled.write_data(xr.Dataset(), bad)


def test_missing_data_is_data_not_found(filled):
    with pytest.raises(DataNotFoundError) as caught:
        filled.open_data("missing.zarr")
    assert isinstance(caught.value, KeyError)
    assert "missing.zarr" in str(caught.value)


def test_write_refuses_overwrite_unless_replace(filled, cube):
    with pytest.raises(InvalidParameterError, match="replace"):
        filled.write_data(cube, "cube.zarr")
    filled.write_data(cube.isel(time=[0]), "cube.zarr", replace=True)
    assert filled.open_data("cube.zarr").sizes["time"] == 1


def _fail_on_last_block(block, block_info=None):
    if block_info[None]["chunk-location"][0] == block_info[None]["num-chunks"][0] - 1:
        raise RuntimeError("computation failed half-way")
    return block


def test_failed_write_leaves_nothing_behind(filled, cube):
    broken = cube.chunk({"time": 1})
    broken["sst"] = broken.sst.copy(
        data=broken.sst.data.map_blocks(_fail_on_last_block, dtype="float32")
    )
    for data_id, replace in (("cube.zarr", True), ("broken.zarr", False), ("broken.nc", False)):
        with pytest.raises(RuntimeError, match="half-way"):
            filled.write_data(broken, data_id, replace=replace)
    assert filled.list_data_ids() == ["cube.zarr", "sub/early.nc"]
    left = [p for p in filled.fs.ls(filled.root, detail=False) if ".tmp-" in p]
    assert not left, filled.fs.find(left[0], withdirs=True) if left else None
    assert filled.open_data("cube.zarr").sizes["time"] == 6


def test_write_without_id_and_with_writer_id(filled, cube):
    data_id = filled.write_data(cube)
    assert data_id.endswith(".zarr") and filled.has_data(data_id)
    nc_id = filled.write_data(cube, "as-netcdf.nc", writer_id=f"dataset:netcdf:{filled.protocol}")
    assert filled.get_data_types_for_data(nc_id) == ("dataset",)
    with pytest.raises(InvalidParameterError, match="storage"):
        filled.write_data(cube, "x.zarr", writer_id="dataset:zarr:s3")


def test_append_along_time(filled, cube):
    filled.write_data(cube.isel(time=slice(0, 3)), "grow.zarr")
    filled.write_data(cube.isel(time=slice(3, 6)), "grow.zarr", append_dim="time")
    grown = filled.open_data("grow.zarr")
    assert grown.sizes["time"] == 6
    np.testing.assert_allclose(grown.sst.values, cube.sst.values)


def test_delete(filled):
    filled.delete_data("sub/early.nc")
    assert not filled.has_data("sub/early.nc")
    with pytest.raises(DataNotFoundError):
        filled.delete_data("sub/early.nc")


def test_read_only_store_refuses_writes(filled, cube):
    reader = new_fs_data_store(filled.protocol, root=filled.root, read_only=True)
    assert reader.open_data("cube.zarr").sizes["time"] == 6
    with pytest.raises(DataStoreError, match="read-only"):
        reader.write_data(cube, "new.zarr")
    with pytest.raises(DataStoreError, match="read-only"):
        reader.delete_data("cube.zarr")


def test_search_filters_on_extent(filled):
    found = [d.data_id for d in filled.search_data(time_range=["2024-01-04", None])]
    assert found == ["cube.zarr"]
    found = [d.data_id for d in filled.search_data(pattern="*.nc")]
    assert found == ["sub/early.nc"]
    with pytest.raises(InvalidParameterError):
        list(filled.search_data(colour="red"))


def test_opener_ids(filled):
    assert filled.get_data_opener_ids("cube.zarr") == (f"dataset:zarr:{filled.protocol}",)
    assert f"dataset:netcdf:{filled.protocol}" in filled.get_data_opener_ids()
    assert f"geodataframe:geojson:{filled.protocol}" in filled.get_data_writer_ids()


def test_preload_completes_at_once(filled):
    with filled.preload_data("cube.zarr", silent=True) as handle:
        assert handle.store is filled
        assert handle.data_ids == ["cube.zarr"]
    with pytest.raises(DataNotFoundError):
        filled.preload_data("missing.zarr")


def test_store_params_are_validated():
    with pytest.raises(InvalidParameterError, match="max_depth"):
        new_data_store("file", max_depth=0)
    with pytest.raises(InvalidParameterError, match="storage_options"):
        new_data_store("file", storage_options={"colour": "red"})
