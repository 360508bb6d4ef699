"""Sentinel-2 cubes over one UTM zone and across two, with values checked."""

from __future__ import annotations

import threading
from collections import Counter

import numpy as np
import pytest
from conftest import S2, S2_TIME, TWO_ZONES_BBOX, ZONE32_BBOX, lonlat_grid, product_requests
from eostores_eopf.products import SCL_FLAGS
from eostores_eopf.testing.scenes import s2_classification, s2_reflectance

#: Largest error of a reflectance: its quantisation (1e-4) and half a 10 m pixel's gradient.
NEAREST_TOLERANCE = 5e-4


def _expected(cube, band, step, day, level="L2A"):
    lon, lat = lonlat_grid(cube)
    return s2_reflectance(lon, lat, day, band, "05.11", level)


def test_native_crs_at_native_resolution_is_exact(store):
    cube = store.open_data(
        S2, crs="native", bbox=ZONE32_BBOX, spatial_res=10, time_range=S2_TIME,
        variables=["b04", "scl"],
    )  # fmt: skip
    assert cube["spatial_ref"].attrs["crs_wkt"] and "32632" in cube["spatial_ref"].attrs["crs_wkt"]
    assert set(cube.dims) == {"time", "y", "x"}
    assert np.allclose(np.diff(cube.x.values), 10)
    assert cube.sizes["time"] == 2
    for step, day in enumerate((0, 1)):
        b04 = cube.b04.isel(time=step).values
        assert np.isfinite(b04).all()
        assert np.abs(b04 - _expected(cube, "b04", step, day)).max() < 1.1e-4
    scl = cube.scl.isel(time=0).values
    assert cube.scl.dtype == np.uint8
    lon, lat = lonlat_grid(cube)
    # scl is 20 m: each value belongs to the 20 m pixel around a 10 m cell
    agree = scl == s2_classification(lon, lat)
    assert agree.mean() > 0.9
    assert cube.scl.attrs["flag_meanings"] == SCL_FLAGS["flag_meanings"]
    assert cube.scl.attrs["grid_mapping"] == "spatial_ref"


def test_two_zones_are_mosaicked_on_a_lonlat_grid(store):
    cube = store.open_data(
        S2, bbox=TWO_ZONES_BBOX, spatial_res=0.0001, time_range=S2_TIME, variables=["b02"],
        interp_methods="nearest",
    )  # fmt: skip
    assert set(cube.dims) == {"time", "lat", "lon"}
    groups = cube.attrs["stac_items_per_time"]
    assert [len(g) for g in groups] == [2, 2]
    assert {i.split("_T")[1][:5] for i in groups[0]} == {"32TQR", "33TTL"}
    for step, day in enumerate((0, 1)):
        values = cube.b02.isel(time=step).values
        filled = np.isfinite(values)
        assert filled.mean() > 0.95
        error = np.abs(values - _expected(cube, "b02", step, day))[filled]
        # the older (+0.05) and the deprecated (+0.1) versions of day 0 are not used
        assert error.max() < NEAREST_TOLERANCE
    west = cube.b02.sel(lon=slice(None, 11.99)).isel(time=0).values
    east = cube.b02.sel(lon=slice(12.005, None)).isel(time=0).values
    assert np.isfinite(west).mean() > 0.95 and np.isfinite(east).mean() > 0.95


def test_interpolation_methods_are_honoured(store):
    common = dict(
        crs="native", bbox=ZONE32_BBOX, spatial_res=10, time_range=["2025-06-04", "2025-06-04"],
        variables=["b09"],
    )  # fmt: skip
    nearest = store.open_data(S2, interp_methods=0, **common)
    bilinear = store.open_data(S2, interp_methods={"b09": "bilinear"}, **common)
    assert nearest.attrs["resampling"] == {"b09": "nearest"}
    assert bilinear.attrs["resampling"] == {"b09": "bilinear"}
    near = nearest.b09.isel(time=0).values
    smooth = bilinear.b09.isel(time=0).values
    expected = _expected(nearest, "b09", 0, 1)
    inner = (slice(6, -6), slice(6, -6))
    # b09 exists at 60 m only: nearest repeats each 60 m value, bilinear follows the slope
    assert (np.diff(near, axis=1) == 0).mean() > 0.7
    assert np.abs(near - expected)[inner].max() > 5e-4
    assert np.abs(smooth - expected)[inner].max() < 2e-4


@pytest.mark.parametrize("band", ["b01", "b02"])
def test_bands_at_20m_come_from_the_20m_group_with_its_grid_from_the_item(
    emulator, make_store, band
):
    # b01 (native 20 m in L2A) and b02 (native 10 m) are both in the 20 m group; the items
    # publish b01 at 20 m and b02 at 10 m only, so b02's 20 m grid comes from other assets
    store = make_store(emulator)  # a fresh emulator: no chunk was read by this process
    cube = store.open_data(
        S2, crs="native", bbox=ZONE32_BBOX, spatial_res=20,
        time_range=["2025-06-04", "2025-06-04"], variables=[band], interp_methods="nearest",
    )  # fmt: skip
    values = cube[band].isel(time=0).values
    assert np.isfinite(values).all()
    assert np.abs(values - _expected(cube, band, 0, 1)).max() < 1.1e-4  # copied, not resampled
    paths = [r.path for r in product_requests(emulator)]
    assert any(f"/r20m/{band}/" in p for p in paths)
    assert not [p for p in paths if f"/r60m/{band}/" in p or f"/r10m/{band}/" in p]
    # the grid came from the item: the product's DataTree was never opened
    assert not [p for p in paths if p.endswith((".zgroup", ".zattrs"))]


def test_aggregation_methods_are_honoured(store):
    common = dict(
        crs="native", bbox=ZONE32_BBOX, spatial_res=180, time_range=["2025-06-04", "2025-06-04"],
        variables=["b04"],
    )  # fmt: skip
    low = store.open_data(S2, agg_methods="min", **common).b04.isel(time=0).values
    high = store.open_data(S2, agg_methods={"float32": "max"}, **common).b04.isel(time=0).values
    filled = np.isfinite(low) & np.isfinite(high)
    assert filled.mean() > 0.8
    assert (high[filled] - low[filled] > 1e-3).all()


def test_common_names_regex_and_empty_variables(store):
    cube = store.open_data(
        S2, bbox=ZONE32_BBOX, spatial_res=0.0005, time_range=S2_TIME, variables=["red", "b1[12]"]
    )
    assert list(cube.data_vars) == ["red", "b11", "b12"]
    assert cube.red.attrs["source_variable"] == "b04"
    assert cube.red.attrs["common_name"] == "red"
    empty = store.open_data(
        S2, bbox=ZONE32_BBOX, spatial_res=0.0005, time_range=S2_TIME, variables=[]
    )
    assert not empty.data_vars and empty.sizes["time"] == 2 and empty.sizes["lat"] > 10


def test_force_cube_and_no_items(store):
    cube = store.open_data(
        S2, bbox=ZONE32_BBOX, spatial_res=0.0005, time_range=S2_TIME, variables=["b03"],
        force_cube=True,
    )  # fmt: skip
    assert list(cube.b03.dims) == ["time", "lat", "lon"]
    assert cube.lat.values[0] < cube.lat.values[-1]
    nothing = store.open_data(
        S2, bbox=ZONE32_BBOX, spatial_res=0.0005, time_range=["2020-01-01", "2020-01-02"],
        variables=["b03"],
    )  # fmt: skip
    assert nothing.sizes["time"] == 0 and "b03" in nothing


def test_query_filters_the_items(store):
    cube = store.open_data(
        S2, bbox=ZONE32_BBOX, spatial_res=0.0005, time_range=S2_TIME, variables=["b03"],
        query={"eo:cloud_cover": {"gt": 10}},
    )  # fmt: skip
    assert cube.sizes["time"] == 1  # day 0 has 5 % clouds, day 1 15 %
    assert str(cube.time.values[0])[:10] == "2025-06-04"


def test_threads_share_one_metadata_read_per_product(shared_emulator, make_store):
    store = make_store(shared_emulator)
    params = dict(
        bbox=TWO_ZONES_BBOX, spatial_res=0.0004, time_range=["2025-06-07", "2025-06-07"],
        variables=["b08"],
    )  # fmt: skip
    before = len(shared_emulator.request_log)
    results = [None] * 4
    barrier = threading.Barrier(4)

    def work(index):
        barrier.wait(timeout=60)
        results[index] = store.open_data(S2, **params).b08.values

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert all(r is not None and np.array_equal(r, results[0], equal_nan=True) for r in results)
    metadata = Counter(
        r.path.rsplit("/", 1)[0]
        for r in product_requests(shared_emulator, before)
        if r.path.endswith((".zmetadata", "zarr.json")) and r.status == 200
    )
    assert len(metadata) == 2 and set(metadata.values()) == {1}


@pytest.mark.parametrize("level", ["L1C"])
def test_level_1c(store, level):
    cube = store.open_data(
        "sentinel-2-l1c", crs="native", bbox=ZONE32_BBOX, spatial_res=20,
        time_range=["2025-06-01", "2025-06-01"], variables=["b8a", "b10"],
    )  # fmt: skip
    b8a = cube.b8a.isel(time=0).values
    assert np.abs(b8a - _expected(cube, "b8a", 0, 0, level)).max() < 1.1e-4
    assert np.isfinite(cube.b10.isel(time=0).values).all()
