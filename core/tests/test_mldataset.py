"""Multi-level datasets: level sizes, aggregated values, caching, pickling."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

from eostores.datatype import DataType
from eostores.descriptor import new_data_descriptor
from eostores.errors import InvalidParameterError
from eostores.mldataset import (
    BaseMultiLevelDataset,
    LazyMultiLevelDataset,
    MultiLevelDataset,
    coarsen_dataset,
    default_num_levels,
)

RES = 0.5


def linear_dataset(
    width: int = 40, height: int = 24, chunks: dict | None = None, res: float = RES
) -> xr.Dataset:
    """``f = 10 * lat + lon`` on a regular grid, plus an integer index and a flag variable."""
    lon = 10.0 + res / 2 + res * np.arange(width)
    lat = 50.0 - res / 2 - res * np.arange(height)  # north up, as in most rasters
    f = 10 * lat[:, None] + lon[None, :]
    index = np.arange(width * height, dtype="int32").reshape(height, width)
    flags = (index % 3).astype("float32")
    dataset = xr.Dataset(
        {
            "f": (("lat", "lon"), f, {"units": "K"}),
            "index": (("lat", "lon"), index),
            "flags": (("lat", "lon"), flags, {"flag_values": [0, 1, 2]}),
        },
        coords={"lon": lon, "lat": lat},
        attrs={"title": "linear"},
    )
    return dataset.chunk(chunks) if chunks else dataset


def block_reduce(values: np.ndarray, factor: int, reducer) -> np.ndarray:
    """Reference aggregation over complete blocks only."""
    rows, cols = values.shape[0] // factor, values.shape[1] // factor
    trimmed = values[: rows * factor, : cols * factor]
    return reducer(trimmed.reshape(rows, factor, cols, factor), axis=(1, 3))


def double_values(dataset: xr.Dataset) -> xr.Dataset:
    return dataset * 2


def level_from_index(index: int) -> xr.Dataset:
    return linear_dataset(8 // 2**index, 4 // 2**index, res=RES * 2**index)


def test_default_num_levels_fit_the_coarsest_level_into_one_tile():
    assert default_num_levels(40, 24, (8, 8)) == 4  # 40 -> 20 -> 10 -> 5
    assert default_num_levels(512, 512, (512, 512)) == 1
    assert default_num_levels(513, 10, (512, 512)) == 2
    assert default_num_levels(100, 1000, (256, 128)) == 4  # heights 1000 500 250 125
    mld = BaseMultiLevelDataset(linear_dataset(), tile_size=8)
    assert mld.num_levels == 4
    assert mld.tile_size == (8, 8)
    assert BaseMultiLevelDataset(linear_dataset()).num_levels == 1


def test_level_sizes_and_resolutions():
    mld = BaseMultiLevelDataset(linear_dataset(width=41, height=23), num_levels=4)
    for level in range(4):
        dataset = mld.get_dataset(level)
        assert dataset.sizes["lon"] == -(-41 // 2**level)
        assert dataset.sizes["lat"] == -(-23 // 2**level)
    assert mld.resolutions == tuple((RES * 2**i, RES * 2**i) for i in range(4))
    # the generic (measured) resolutions agree with the computed ones
    np.testing.assert_allclose(MultiLevelDataset.resolutions.fget(mld), mld.resolutions)


def test_mean_of_a_linear_function_is_the_function_at_the_block_centres():
    mld = BaseMultiLevelDataset(linear_dataset(), tile_size=8)
    for level in (1, 2, 3):
        dataset = mld.get_dataset(level)
        expected = 10 * dataset.lat.values[:, None] + dataset.lon.values[None, :]
        factor = 2**level
        complete_rows = 24 // factor
        complete_cols = 40 // factor
        np.testing.assert_allclose(
            dataset.f.values[:complete_rows, :complete_cols],
            expected[:complete_rows, :complete_cols],
        )
        # block centres: the first one is the mean of the first `factor` pixel centres
        assert dataset.lon.values[0] == pytest.approx(10.0 + factor * RES / 2)
        assert dataset.lat.values[0] == pytest.approx(50.0 - factor * RES / 2)
        assert dataset.f.attrs == {"units": "K"}
    assert mld.get_dataset(1).attrs == {"title": "linear"}


def test_partial_edge_blocks_average_their_real_pixels():
    base = linear_dataset(width=5, height=3)
    level = coarsen_dataset(base, 2)
    # last column holds only the base column 4, last row only the base row 2
    assert level.f.values[0, 2] == pytest.approx(base.f.values[0:2, 4].mean())
    assert level.f.values[1, 0] == pytest.approx(base.f.values[2, 0:2].mean())
    assert level.f.values[1, 2] == pytest.approx(base.f.values[2, 4])
    assert not np.isnan(level.f.values).any()


def test_integers_and_flags_take_the_first_pixel_of_each_block():
    base = linear_dataset()
    mld = BaseMultiLevelDataset(base, num_levels=3)
    assert mld.agg_methods == {"f": "mean", "index": "first", "flags": "first"}
    level = mld.get_dataset(2)
    assert level.index.dtype == np.int32
    np.testing.assert_array_equal(level.index.values, base.index.values[::4, ::4])
    np.testing.assert_array_equal(level.flags.values, base.flags.values[::4, ::4])
    assert level.flags.attrs["flag_values"] == [0, 1, 2]


@pytest.mark.parametrize(
    ("method", "reducer"),
    [("max", np.max), ("min", np.min), ("median", np.median), ("mean", np.mean)],
)
def test_explicit_aggregation_methods(method, reducer):
    base = linear_dataset()
    mld = BaseMultiLevelDataset(base, num_levels=3, agg_methods={"index": method})
    values = mld.get_dataset(2).index.values
    np.testing.assert_allclose(values[:6, :10], block_reduce(base.index.values, 4, reducer))
    if method in ("max", "min"):
        assert values.dtype == np.int32


def test_one_method_for_all_variables():
    mld = BaseMultiLevelDataset(linear_dataset(), num_levels=2, agg_methods="max")
    assert set(mld.agg_methods.values()) == {"max"}


def test_booleans_can_be_averaged_and_maxed():
    base = xr.Dataset(
        {"mask": (("y", "x"), np.array([[True, False, False, False], [True, True, False, False]]))},
        coords={"x": np.arange(4.0), "y": np.arange(2.0)},
    )
    mean = coarsen_dataset(base, 2, {"mask": "mean"})
    np.testing.assert_allclose(mean.mask.values, [[0.75, 0.0]])
    maximum = coarsen_dataset(base, 2, {"mask": "max"})
    assert maximum.mask.dtype == bool
    np.testing.assert_array_equal(maximum.mask.values, [[True, False]])


@pytest.mark.parametrize(
    ("agg_methods", "message"),
    [({"nope": "mean"}, "nope"), ({"f": "mode"}, "mode"), ("average", "average")],
)
def test_bad_aggregation_methods_are_rejected(agg_methods, message):
    with pytest.raises(InvalidParameterError, match=message) as info:
        BaseMultiLevelDataset(linear_dataset(), agg_methods=agg_methods)
    assert info.value.parameter == "agg_methods"


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"num_levels": 0}, "num_levels"),
        ({"num_levels": 1.5}, "num_levels"),
        ({"tile_size": 0}, "tile_size"),
        ({"tile_size": [256]}, "tile_size"),
    ],
)
def test_bad_construction_parameters(kwargs, parameter):
    with pytest.raises(InvalidParameterError) as info:
        BaseMultiLevelDataset(linear_dataset(), **kwargs)
    assert info.value.parameter == parameter


def test_a_dataset_without_spatial_coordinates_is_rejected():
    with pytest.raises(InvalidParameterError, match="x/y"):
        BaseMultiLevelDataset(xr.Dataset({"a": ("t", [1, 2])}))


def test_get_dataset_checks_the_level_and_caches():
    mld = BaseMultiLevelDataset(linear_dataset(), num_levels=3)
    assert mld.get_dataset(0) is mld.base_dataset
    assert mld.get_dataset(2) is mld.get_dataset(2)
    for level in (-1, 3, "1"):
        with pytest.raises(InvalidParameterError) as info:
            mld.get_dataset(level)
        assert info.value.parameter == "level"


def test_dask_base_gives_lazy_levels_chunked_by_tile_size():
    numpy_levels = BaseMultiLevelDataset(linear_dataset(), num_levels=3, tile_size=(4, 3))
    dask_levels = BaseMultiLevelDataset(
        linear_dataset(chunks={"lon": 7, "lat": 5}),
        num_levels=3,
        tile_size=(4, 3),
        agg_methods={"index": "median"},
    )
    level = dask_levels.get_dataset(1)
    assert level.f.chunks is not None
    assert level.f.chunksizes["lon"][0] == 4
    assert level.f.chunksizes["lat"][0] == 3
    xr.testing.assert_allclose(level.f.compute(), numpy_levels.get_dataset(1).f)
    reference = block_reduce(linear_dataset().index.values, 2, np.median)
    np.testing.assert_allclose(level.index.values[:12, :20], reference)


def test_lazy_levels_are_made_once_each():
    calls = []

    def get_level(index: int) -> xr.Dataset:
        calls.append(index)
        return level_from_index(index)

    closed = []
    mld = LazyMultiLevelDataset(get_level, 3, ds_id="lazy", on_close=lambda: closed.append(1))
    assert mld.ds_id == "lazy"
    assert mld.get_dataset(1).sizes["lon"] == 4
    mld.get_dataset(1)
    mld.get_dataset(0)
    assert calls == [1, 0]
    # level 2 is one pixel high: its y resolution follows from the extent of level 0
    assert mld.resolutions == ((RES, RES), (2 * RES, 2 * RES), (4 * RES, 4 * RES))
    assert calls == [1, 0, 2]
    mld.close()
    assert closed == [1]
    mld.get_dataset(1)
    assert calls == [1, 0, 2, 1]  # closing forgets the levels


def test_apply_transforms_every_level():
    mld = BaseMultiLevelDataset(linear_dataset(), num_levels=3)
    doubled = mld.apply(double_values, ds_id="doubled")
    assert doubled.num_levels == 3
    assert doubled.ds_id == "doubled"
    for level in range(3):
        np.testing.assert_allclose(
            doubled.get_dataset(level).f.values, 2 * mld.get_dataset(level).f.values
        )


def test_pickling_keeps_the_levels_working():
    mld = BaseMultiLevelDataset(linear_dataset(chunks={"lon": 10}), num_levels=3, ds_id="base")
    mld.get_dataset(1)  # fill the cache, which must not travel
    restored = pickle.loads(pickle.dumps(mld))
    assert isinstance(restored, BaseMultiLevelDataset)
    assert restored.ds_id == "base"
    assert restored._levels == {}
    xr.testing.assert_allclose(restored.get_dataset(2).compute(), mld.get_dataset(2).compute())

    lazy = LazyMultiLevelDataset(level_from_index, 2)
    xr.testing.assert_identical(
        pickle.loads(pickle.dumps(lazy)).get_dataset(1), lazy.get_dataset(1)
    )

    applied = pickle.loads(pickle.dumps(mld.apply(double_values)))
    np.testing.assert_allclose(applied.get_dataset(1).f.values, 2 * mld.get_dataset(1).f.values)


def test_crs_bbox_data_type_and_descriptor():
    mld = BaseMultiLevelDataset(linear_dataset(), num_levels=3)
    assert mld.crs == "EPSG:4326"
    assert mld.bbox == pytest.approx((10.0, 50.0 - 24 * RES, 10.0 + 40 * RES, 50.0))
    assert DataType.of(mld).alias == "mldataset"
    assert DataType.of(mld.apply(double_values)).alias == "mldataset"
    descriptor = new_data_descriptor("pyramid", mld)
    assert descriptor.data_type == "mldataset"
    assert descriptor.num_levels == 3
    assert descriptor.dims == {"lat": 24, "lon": 40}
    assert "MultiLevelDataset" in repr(mld) and "num_levels=3" in repr(mld)


def test_importing_eostores_does_not_import_the_module():
    code = (
        "import sys, eostores; "
        "assert 'eostores.mldataset' not in sys.modules; "
        "assert 'xarray' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
