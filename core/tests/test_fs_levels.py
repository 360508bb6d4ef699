"""The ``.levels`` format: one zarr per resolution level, on local and in-memory filesystems."""

from __future__ import annotations

import json
import pickle
import uuid

import fsspec
import numpy as np
import pytest
import xarray as xr

from eostores.descriptor import DatasetDescriptor, MultiLevelDatasetDescriptor
from eostores.errors import DataNotFoundError, InvalidParameterError
from eostores.fs.formats import get_handler, handler_for_path
from eostores.fs.levels import LevelsHandler
from eostores.fs.zarr import ZarrHandler
from eostores.mldataset import BaseMultiLevelDataset, LazyMultiLevelDataset, MultiLevelDataset

RES = 10.0


def linear_dataset(width: int = 36, height: int = 20) -> xr.Dataset:
    """``f = 10 * y + x`` in metres of a projected grid, plus an integer index."""
    x = 500_000.0 + RES / 2 + RES * np.arange(width)
    y = 6_000_000.0 - RES / 2 - RES * np.arange(height)
    return xr.Dataset(
        {
            "f": (("y", "x"), 10 * y[:, None] + x[None, :]),
            "index": (("y", "x"), np.arange(width * height, dtype="int32").reshape(height, width)),
        },
        coords={"x": x, "y": y},
    )


@pytest.fixture(params=["file", "memory"])
def fs_root(request, tmp_path):
    """A filesystem and an empty directory on it."""
    fs = fsspec.filesystem(request.param)
    if request.param == "file":
        yield fs, str(tmp_path)
    else:
        root = f"/levels-test-{uuid.uuid4().hex}"
        fs.makedirs(root, exist_ok=True)
        yield fs, root
        fs.rm(root, recursive=True)


@pytest.fixture
def handler() -> LevelsHandler:
    return LevelsHandler()


def write_params(handler: LevelsHandler, **params) -> dict:
    return handler.get_write_params_schema().validate_instance(params)


def open_params(handler: LevelsHandler, data_type: str, **params) -> dict:
    return handler.get_open_params_schema(data_type).validate_instance(params)


def test_handler_is_registered_for_the_extension():
    assert isinstance(get_handler("levels"), LevelsHandler)
    assert isinstance(handler_for_path("a/b/pyramid.levels"), LevelsHandler)
    assert LevelsHandler.is_directory
    assert LevelsHandler.data_types == ("mldataset", "dataset")


def test_write_dataset_makes_the_documented_layout(fs_root, handler):
    fs, root = fs_root
    path = f"{root}/cube.levels"
    handler.write(linear_dataset(), fs, path, write_params(handler, tile_size=8))
    names = sorted(name.rsplit("/", 1)[-1] for name in fs.ls(path, detail=False))
    assert names == [".zlevels", "0.zarr", "1.zarr", "2.zarr", "3.zarr"]  # 36 -> 18 -> 9 -> 5
    document = json.loads(fs.cat_file(f"{path}/.zlevels"))
    assert document == {
        "version": "1.0",
        "num_levels": 4,
        "tile_size": [8, 8],
        "agg_methods": {"f": "mean", "index": "first"},
        "use_saved_levels": False,
    }


def test_levels_read_back_lazily_with_aggregated_values(fs_root, handler):
    fs, root = fs_root
    path = f"{root}/cube.levels"
    base = linear_dataset()
    handler.write(base, fs, path, write_params(handler, tile_size=[8, 4], num_levels=3))
    mld = handler.open(fs, path, "mldataset", open_params(handler, "mldataset"))
    assert isinstance(mld, MultiLevelDataset)
    assert mld.num_levels == 3
    assert mld.ds_id == "cube.levels"
    expected = BaseMultiLevelDataset(base, num_levels=3)
    for level in range(3):
        dataset = mld.get_dataset(level)
        assert dataset.f.chunks is not None  # lazy
        assert dataset.f.encoding["chunks"] == (4, 8)  # zarr chunks are the tiles
        xr.testing.assert_allclose(dataset.compute(), expected.get_dataset(level))
    level2 = mld.get_dataset(2)
    f_expected = 10 * level2.y.values[:, None] + level2.x.values[None, :]
    np.testing.assert_allclose(level2.f.values, f_expected)  # 20 and 36 divide by 4
    np.testing.assert_array_equal(level2.index.values, base.index.values[::4, ::4])
    assert mld.resolutions == ((RES, RES), (2 * RES, 2 * RES), (4 * RES, 4 * RES))


def test_open_as_dataset_gives_level_zero_or_the_chosen_level(fs_root, handler):
    fs, root = fs_root
    path = f"{root}/cube.levels"
    base = linear_dataset()
    handler.write(base, fs, path, write_params(handler, num_levels=3))
    level0 = handler.open(fs, path, "dataset", open_params(handler, "dataset"))
    xr.testing.assert_allclose(level0.compute(), base)
    level1 = handler.open(fs, path, "dataset", open_params(handler, "dataset", level=1))
    assert level1.sizes == {"y": 10, "x": 18}
    with pytest.raises(InvalidParameterError) as info:
        handler.open(fs, path, "dataset", open_params(handler, "dataset", level=3))
    assert info.value.parameter == "level"
    assert "level" not in handler.get_open_params_schema("mldataset").properties


def test_common_parameters_apply_to_every_level(fs_root, handler):
    fs, root = fs_root
    path = f"{root}/cube.levels"
    handler.write(linear_dataset(), fs, path, write_params(handler, num_levels=3))
    bbox = [500_000.0, 5_999_900.0, 500_160.0, 6_000_000.0]  # 16 x 10 pixels, top left
    params = open_params(handler, "mldataset", variable_names=["f"], bbox=bbox)
    mld = handler.open(fs, path, "mldataset", params)
    for level in range(3):
        dataset = mld.get_dataset(level)
        assert list(dataset.data_vars) == ["f"]
        assert dataset.sizes["x"] == 16 // 2**level
        assert float(dataset.x.min()) >= bbox[0] and float(dataset.x.max()) <= bbox[2]
        expected = 10 * dataset.y.values[:, None] + dataset.x.values[None, :]
        np.testing.assert_allclose(dataset.f.values, expected)


def test_write_a_multi_level_dataset_keeps_its_levels(fs_root, handler):
    fs, root = fs_root
    source = BaseMultiLevelDataset(linear_dataset(), num_levels=3, agg_methods="max")
    path = f"{root}/copy.levels"
    handler.write(source, fs, path, write_params(handler, num_levels=2))
    mld = handler.open(fs, path, "mldataset", {})
    assert mld.num_levels == 2
    xr.testing.assert_allclose(mld.get_dataset(1).compute(), source.get_dataset(1))
    document = json.loads(fs.cat_file(f"{path}/.zlevels"))
    assert "agg_methods" not in document

    with pytest.raises(InvalidParameterError) as info:
        handler.write(source, fs, f"{root}/more.levels", write_params(handler, num_levels=4))
    assert info.value.parameter == "num_levels"
    with pytest.raises(InvalidParameterError) as info:
        handler.write(source, fs, f"{root}/agg.levels", write_params(handler, agg_methods="mean"))
    assert info.value.parameter == "agg_methods"


def test_base_dataset_id_links_level_zero_instead_of_copying(fs_root, handler):
    fs, root = fs_root
    base = linear_dataset()
    ZarrHandler().write(base, fs, f"{root}/base.zarr", {})
    path = f"{root}/linked.levels"
    params = write_params(handler, num_levels=3, base_dataset_id="base.zarr")
    handler.write(base, fs, path, params)
    names = sorted(name.rsplit("/", 1)[-1] for name in fs.ls(path, detail=False))
    assert names == [".zlevels", "0.link", "1.zarr", "2.zarr"]
    assert fs.cat_file(f"{path}/0.link") == b"base.zarr"
    mld = handler.open(fs, path, "mldataset", {})
    xr.testing.assert_allclose(mld.get_dataset(0).compute(), base)
    np.testing.assert_array_equal(mld.get_dataset(2).index.values, base.index.values[::4, ::4])


def test_base_dataset_id_must_be_an_existing_relative_zarr(fs_root, handler):
    fs, root = fs_root
    base = linear_dataset()
    with pytest.raises(DataNotFoundError) as info:
        handler.write(base, fs, f"{root}/a.levels", write_params(handler, base_dataset_id="x.zarr"))
    assert info.value.parameter == "base_dataset_id"
    for bad in ("/abs/base.zarr", "s3://bucket/base.zarr"):
        with pytest.raises(InvalidParameterError) as info:
            handler.write(base, fs, f"{root}/b.levels", write_params(handler, base_dataset_id=bad))
        assert info.value.parameter == "base_dataset_id"


def test_use_saved_levels_computes_from_the_written_level(fs_root, handler):
    fs, root = fs_root
    base = linear_dataset(width=32, height=16)
    path = f"{root}/saved.levels"
    handler.write(base, fs, path, write_params(handler, num_levels=4, use_saved_levels=True))
    assert json.loads(fs.cat_file(f"{path}/.zlevels"))["use_saved_levels"] is True
    mld = handler.open(fs, path, "mldataset", {})
    direct = BaseMultiLevelDataset(base, num_levels=4)
    for level in range(4):  # sizes divide evenly: the same values as from the base
        xr.testing.assert_allclose(mld.get_dataset(level).compute(), direct.get_dataset(level))

    # With a partial block the two ways differ, which shows where level 2 came from.
    small = linear_dataset(width=3, height=2)
    f = small.f.values
    for use_saved, expected in (
        (True, (f[:, 0:2].mean() + f[:, 2].mean()) / 2),  # the mean of level 1's pixels
        (False, f.mean()),  # the mean of all base pixels
    ):
        path = f"{root}/small-{use_saved}.levels"
        params = write_params(handler, num_levels=3, use_saved_levels=use_saved)
        handler.write(small, fs, path, params)
        level2 = handler.open(fs, path, "dataset", open_params(handler, "dataset", level=2))
        assert float(level2.f.values[0, 0]) == pytest.approx(expected)


def test_describe_reads_level_zero_metadata(fs_root, handler):
    fs, root = fs_root
    path = f"{root}/cube.levels"
    handler.write(linear_dataset(), fs, path, write_params(handler, num_levels=3))
    descriptor = handler.describe(fs, path, "cube.levels", "mldataset")
    assert isinstance(descriptor, MultiLevelDatasetDescriptor)
    assert descriptor.num_levels == 3
    assert descriptor.dims == {"y": 20, "x": 36}
    assert set(descriptor.data_vars) == {"f", "index"}
    assert descriptor.bbox == pytest.approx((500_000, 5_999_800, 500_360, 6_000_000))
    as_dataset = handler.describe(fs, path, "cube.levels", "dataset")
    assert type(as_dataset) is DatasetDescriptor
    assert MultiLevelDatasetDescriptor.from_dict(descriptor.to_dict()).num_levels == 3


def test_levels_without_zlevels_are_counted(fs_root, handler):
    fs, root = fs_root
    path = f"{root}/bare.levels"
    handler.write(linear_dataset(), fs, path, write_params(handler, num_levels=3))
    fs.rm_file(f"{path}/.zlevels")
    assert handler.open(fs, path, "mldataset", {}).num_levels == 3
    with pytest.raises(DataNotFoundError):
        handler.open(fs, f"{root}/missing.levels", "mldataset", {})


def test_opened_levels_pickle(fs_root, handler):
    fs, root = fs_root
    path = f"{root}/cube.levels"
    handler.write(linear_dataset(), fs, path, write_params(handler, num_levels=2))
    mld = handler.open(fs, path, "mldataset", open_params(handler, "mldataset"))
    restored = pickle.loads(pickle.dumps(mld))
    assert isinstance(restored, LazyMultiLevelDataset)
    xr.testing.assert_identical(restored.get_dataset(1).compute(), mld.get_dataset(1).compute())


def test_write_params_schema(handler):
    schema = handler.get_write_params_schema()
    assert schema.validate_instance({"tile_size": [256, 128], "agg_methods": {"a": "first"}})
    assert schema.validate_instance({"agg_methods": "median"})["use_saved_levels"] is False
    for bad in ({"agg_methods": "mode"}, {"tile_size": 0}, {"levels": 2}):
        with pytest.raises(InvalidParameterError):
            schema.validate_instance(bad)
