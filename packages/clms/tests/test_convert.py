"""Result files to one dataset: tile placement, gaps, nodata, refusals."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from eostores_clms.convert import open_result, result_files, tile_key
from rasterio.transform import Affine

from eostores.errors import ServiceError


def _tif(path, west, north, values, *, res=10.0, crs="EPSG:3035", nodata=None, name=None):
    height, width = values.shape
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=width,
        height=height,
        count=1,
        dtype=values.dtype,
        crs=crs,
        transform=Affine(res, 0, west, 0, -res, north),
        nodata=nodata,
    ) as dst:
        dst.write(values, 1)
        if name:
            dst.set_band_description(1, name)
    return path


def test_tile_names():
    assert tile_key("IMD_2018_010m_E40N21_03035_v020.tif") == (40, 21)
    assert tile_key("x_E045N123.tif") == (45, 123)
    assert tile_key("CLMS_E4N2.tif") is None
    assert tile_key("XE40N21Y.tif") is None


def test_tiles_are_placed_by_their_geotransforms(tmp_path):
    a = np.arange(12, dtype="int16").reshape(3, 4)
    b = a + 100
    files = [
        _tif(tmp_path / "p_E00N01.tif", 0, 30, a, nodata=-1),
        _tif(tmp_path / "p_E01N00.tif", 40, 0, b, nodata=-1),  # diagonal: two gaps
    ]
    dataset = open_result(files, reference_time="2018-01-01")
    grid = dataset["band_1"].isel(time=0).values
    assert grid.dtype == np.float32 and grid.shape == (6, 8)
    np.testing.assert_array_equal(grid[:3, :4], a)
    np.testing.assert_array_equal(grid[3:, 4:], b)
    assert np.isnan(grid[:3, 4:]).all() and np.isnan(grid[3:, :4]).all()
    np.testing.assert_allclose(dataset.x.values, np.arange(8) * 10 + 5)
    np.testing.assert_allclose(dataset.y.values, 30 - (np.arange(6) * 10 + 5))
    assert "LAEA" in dataset.spatial_ref.attrs["crs_wkt"] or "3035" in dataset.attrs["crs"]


def test_nodata_becomes_nan_and_descriptions_name_variables(tmp_path):
    values = np.array([[1, 255], [3, 4]], dtype="uint8")
    (path,) = [_tif(tmp_path / "one.tif", 0, 20, values, nodata=255, name="imperviousness")]
    dataset = open_result([path])
    grid = dataset["imperviousness"].values
    assert np.isnan(grid[0, 1]) and grid[1, 0] == 3
    assert "time" not in dataset.dims


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ({"west": 20, "north": 20}, "overlap"),
        ({"west": 45, "north": 20}, "not aligned"),
        ({"west": 40, "north": 20, "crs": "EPSG:4326"}, "differ"),
        ({"west": 40, "north": 20, "res": 5.0}, "differ"),
    ],
)
def test_tiles_that_do_not_fit_one_grid_are_refused(tmp_path, second, message):
    values = np.ones((2, 4), dtype="float32")
    first = _tif(tmp_path / "t_E00N00.tif", 0, 20, values)
    other = _tif(tmp_path / "t_E01N00.tif", values=values, **second)
    with pytest.raises(ServiceError, match=message):
        open_result([first, other], data_id="some|id")


def test_results_that_are_not_one_dataset_are_refused(tmp_path):
    values = np.ones((2, 2), dtype="float32")
    a = _tif(tmp_path / "a.tif", 0, 20, values)
    b = _tif(tmp_path / "b.tif", 20, 20, values)
    with pytest.raises(ServiceError, match="no E##N## tile name"):
        open_result([a, b])
    nc = tmp_path / "x.nc"
    nc.write_bytes(b"")
    with pytest.raises(ServiceError, match="mixes GeoTIFF and NetCDF"):
        open_result([a, nc])
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.txt").write_text("x")
    assert result_files(tmp_path / "notes") == []
    with pytest.raises(ServiceError, match="no GeoTIFF or NetCDF"):
        open_result([])
