"""Opening cubes: exact grids, values after subsetting, one request per chunk read."""

from __future__ import annotations

import math
import pickle
from datetime import datetime, timedelta

import numpy as np
import pytest
from conftest import PROCESS_PATH, SEARCH_PATH, paths
from eostores_sentinelhub.testing import BYOC_ID, expected_values, to_sample_type
from eostores_sentinelhub.testing.samples import BYOC_FOOTPRINT

S2 = "sentinel-2-l2a"
CHUNKS_PER_STEP = 3 * 2  # 50 x 30 pixels in 20 x 20 tiles
WGS84_PARAMS = {
    "variable_names": ["B04", "SCL"],
    "bbox": [10.0, 50.0, 10.05, 50.03],
    "spatial_res": 0.001,
    "time_range": ["2021-06-01", "2021-06-06"],
    "tile_size": [20, 20],
}


def acquired(emulator, collection, day_start, day_end, order="mostRecent"):
    """The acquisition a pixel shows for a request over [day_start, day_end]."""
    times = emulator.acquisition_times(collection, day_start, day_end)
    if not times:
        return None
    return max(times) if order == "mostRecent" else min(times)


def assert_counts_match(actual, expected):
    """Integer samples equal, but for rare roundings tipped by the last bits of a coordinate.

    Pixel centres computed per tile (service) and per cube (store) differ in the last bits;
    a shift by one pixel would change most values, so nearly all must match exactly.
    """
    actual, expected = np.asarray(actual, dtype="int64"), np.asarray(expected, dtype="int64")
    assert actual.shape == expected.shape
    assert np.abs(actual - expected).max() <= 1
    assert (actual == expected).mean() >= 0.99


def day_range(day: str) -> tuple[datetime, datetime]:
    start = datetime.fromisoformat(day)
    return start, start + timedelta(days=1) - timedelta(microseconds=1)


def test_grid_is_exactly_the_bbox(store, clean_emulator):
    dataset = store.open_data("S2L2A", **WGS84_PARAMS)
    assert dict(dataset.sizes) == {"time": 6, "lat": 30, "lon": 50, "bnds": 2}
    np.testing.assert_allclose(dataset.lon.values[[0, -1]], [10.0005, 10.0495])
    np.testing.assert_allclose(dataset.lat.values[[0, -1]], [50.0295, 50.0005])
    assert dataset.B04.dtype == np.float32 and dataset.SCL.dtype == np.uint8
    assert str(dataset.time.values[0])[:19] == "2021-06-01T12:00:00"
    assert str(dataset.time_bnds.values[0, 0])[:19] == "2021-06-01T00:00:00"
    assert dataset.spatial_ref.attrs["grid_mapping_name"] == "latitude_longitude"
    assert not paths(clean_emulator, PROCESS_PATH), "opening must not request data"


def test_values_after_subsetting_in_wgs84(store, clean_emulator):
    dataset = store.open_data("S2L2A", **WGS84_PARAMS)
    day = "2021-06-03"  # an S2 acquisition day of the emulator (every 5 days)
    when = acquired(clean_emulator, S2, *day_range(day))
    assert when is not None
    subset = dataset.sel(lon=slice(10.0155, 10.0455), lat=slice(50.0255, 50.0055), time=day)
    values = subset.B04.values
    expected = expected_values(
        "B04", subset.lon.values[None, :], subset.lat.values[:, None], when, geographic=True
    )
    np.testing.assert_allclose(values[0], to_sample_type(expected, "FLOAT32"), rtol=1e-6)
    scl = expected_values(
        "SCL",
        subset.lon.values[None, :],
        subset.lat.values[:, None],
        when,
        geographic=True,
        units=("DN",),
    )
    assert_counts_match(subset.SCL.values[0], to_sample_type(scl, "UINT8"))


def test_days_without_acquisition_are_filled(store):
    dataset = store.open_data("S2L2A", **WGS84_PARAMS)
    no_data = dataset.sel(time="2021-06-02")
    assert np.isnan(no_data.B04.values).all()
    assert (no_data.SCL.values == 0).all()


def test_values_in_utm(store, clean_emulator):
    dataset = store.open_data(
        "S2L2A",
        variable_names=["B08"],
        crs="EPSG:32633",
        bbox=[500000, 5550000, 500640, 5550400],
        spatial_res=10,
        time_range=["2021-06-03", "2021-06-03"],
        tile_size=[32, 32],
    )
    assert dict(dataset.sizes) == {"time": 1, "y": 40, "x": 64, "bnds": 2}
    assert dataset.x.values[0] == 500005 and dataset.y.values[0] == 5550395
    subset = dataset.B08.isel(time=0, x=slice(20, 50), y=slice(25, 40))
    when = acquired(clean_emulator, S2, *day_range("2021-06-03"))
    expected = expected_values(
        "B08", subset.x.values[None, :], subset.y.values[:, None], when, geographic=False
    )
    np.testing.assert_allclose(subset.values, to_sample_type(expected, "FLOAT32"), rtol=1e-6)
    assert dataset.spatial_ref.attrs["projected_crs_name"].endswith("33N")


def test_process_requests_equal_chunks_read(store, clean_emulator):
    dataset = store.open_data("S2L2A", **WGS84_PARAMS)
    clean_emulator.reset_log()
    # lon 15..44 spans tiles 0-2, lat 5..24 spans tiles 0-1; 2 days; one variable
    dataset.B04.isel(time=slice(1, 3), lon=slice(15, 45), lat=slice(5, 25)).load()
    assert len(paths(clean_emulator, PROCESS_PATH)) == 2 * 3 * 2
    clean_emulator.reset_log()
    dataset.load()
    chunks = 6 * math.ceil(50 / 20) * math.ceil(30 / 20) * 2
    assert len(paths(clean_emulator, PROCESS_PATH)) == chunks


def test_edge_tiles_are_requested_at_their_own_size(clean_emulator, make_store):
    store = make_store(clean_emulator, output_format="application/octet-stream")
    dataset = store.open_data("S2L2A", **{**WGS84_PARAMS, "variable_names": ["B04"]})
    served = len(clean_emulator.output_sizes)
    dataset.B04.isel(time=0, lon=slice(40, 50), lat=slice(20, 30)).load()
    dataset.B04.isel(time=0, lon=slice(0, 20), lat=slice(0, 20)).load()
    assert clean_emulator.output_sizes[served:] == [(10, 10), (20, 20)]


def test_octet_stream_answers_match_geotiff(clean_emulator, make_store):
    tiff = make_store(clean_emulator).open_data("S2L2A", **WGS84_PARAMS)
    raw = make_store(clean_emulator, output_format="application/octet-stream").open_data(
        "S2L2A", **WGS84_PARAMS
    )
    clean_emulator.reset_log()
    selection = {"time": "2021-06-03"}
    np.testing.assert_array_equal(raw.B04.sel(selection).values, tiff.B04.sel(selection).values)
    np.testing.assert_array_equal(raw.SCL.sel(selection).values, tiff.SCL.sel(selection).values)
    accepts = {record.headers.get("accept") for record in paths(clean_emulator, PROCESS_PATH)}
    assert accepts == {"image/tiff", "application/octet-stream"}


def test_units_sample_types_and_fill_values(store, clean_emulator):
    dataset = store.open_data(
        "S2L2A",
        **{
            **WGS84_PARAMS,
            "variable_names": ["B04", "B11"],
            "variable_units": ["DN", "REFLECTANCE"],
            "variable_sample_types": ["UINT16", "AUTO"],
            "variable_fill_values": [65535, 7],
        },
    )
    assert dataset.B04.dtype == np.uint16 and dataset.B11.dtype == np.uint8
    assert dataset.B04.attrs["units"] == "DN"
    day = dataset.sel(time="2021-06-03").isel(time=0)
    when = acquired(clean_emulator, S2, *day_range("2021-06-03"))
    x, y = day.lon.values[None, :], day.lat.values[:, None]
    dn = expected_values("B04", x, y, when, geographic=True, unit="DN")
    assert_counts_match(day.B04.values, to_sample_type(dn, "UINT16"))
    auto = expected_values("B11", x, y, when, geographic=True)
    assert_counts_match(day.B11.values, to_sample_type(auto, "AUTO"))
    empty = dataset.sel(time="2021-06-04")
    assert (empty.B04.values == 65535).all() and (empty.B11.values == 7).all()


def test_four_d_gives_a_band_dimension_and_one_request_per_chunk(store, clean_emulator):
    dataset = store.open_data(
        "S2L2A", **{**WGS84_PARAMS, "variable_names": ["B02", "B03", "B04"], "four_d": True}
    )
    assert list(dataset.data_vars) == ["band_data"]
    assert dataset.band_data.dims == ("time", "lat", "lon", "band")
    assert list(dataset.band.values) == ["B02", "B03", "B04"]
    clean_emulator.reset_log()
    day = dataset.band_data.sel(time="2021-06-03").isel(time=0).values
    assert len(paths(clean_emulator, PROCESS_PATH)) == 6  # 3 x 2 tiles, all bands at once
    when = acquired(clean_emulator, S2, *day_range("2021-06-03"))
    for index, band in enumerate(["B02", "B03", "B04"]):
        expected = expected_values(
            band, dataset.lon.values[None, :], dataset.lat.values[:, None], when, geographic=True
        )
        np.testing.assert_allclose(day[:, :, index], to_sample_type(expected, "FLOAT32"), rtol=1e-6)


def test_catalog_time_stamps_merged_within_tolerance(store, clean_emulator):
    params = {**WGS84_PARAMS, "variable_names": ["B04"], "time_period": None}
    params["time_range"] = ["2021-06-01", "2021-06-20"]
    dataset = store.open_data("S2L2A", **params)
    granules = clean_emulator.acquisition_times(
        S2, datetime(2021, 6, 1), datetime(2021, 6, 20, 23, 59, 59)
    )
    assert len(granules) == 8  # 4 acquisitions of 2 granules, 7 s apart
    assert dataset.sizes["time"] == 4
    assert len(paths(clean_emulator, SEARCH_PATH)) == 1
    finer = store.open_data("S2L2A", **{**params, "time_tolerance": "5S"})
    assert finer.sizes["time"] == 8
    when = granules[-1]
    last = dataset.B04.isel(time=-1).values
    expected = expected_values(
        "B04", dataset.lon.values[None, :], dataset.lat.values[:, None], when, geographic=True
    )
    np.testing.assert_allclose(last, to_sample_type(expected, "FLOAT32"), rtol=1e-6)


def test_catalog_search_follows_context_next(store, clean_emulator):
    params = {
        "variable_names": ["B01"],
        "bbox": [10.0, 50.0, 10.01, 50.01],
        "spatial_res": 0.001,
        "time_range": ["2021-01-01", "2021-05-30"],
        "time_period": None,
    }
    dataset = store.open_data("S3OLCI", **params)
    assert dataset.sizes["time"] == 150  # daily, one granule: two pages of at most 100
    assert len(paths(clean_emulator, SEARCH_PATH)) == 2


def test_extra_search_params_filter_the_catalog(store, clean_emulator):
    params = {
        "variable_names": ["B01"],
        "bbox": [10.0, 50.0, 10.01, 50.01],
        "spatial_res": 0.001,
        "time_range": ["2021-01-01", "2021-01-31"],
        "time_period": None,
        "extra_search_params": {"filter": "eo:cloud_cover < 30"},
    }
    dataset = store.open_data("S3OLCI", **params)
    collection = clean_emulator.collections["sentinel-3-olci"]
    clear = [
        when
        for when, cover in collection.acquisitions(datetime(2021, 1, 1), datetime(2021, 2, 1))
        if cover < 30
    ]
    assert 0 < dataset.sizes["time"] == len(clear) < 31


def test_mosaicking_order_picks_the_acquisition(store, clean_emulator):
    params = {**WGS84_PARAMS, "variable_names": ["B04"], "time_period": "8D"}
    params["time_range"] = ["2021-06-01", "2021-06-08"]
    start, end = datetime(2021, 6, 1), datetime(2021, 6, 8, 23, 59, 59)
    for order in ("mostRecent", "leastRecent"):
        dataset = store.open_data("S2L2A", **params, mosaicking_order=order)
        assert dataset.sizes["time"] == 1
        when = acquired(clean_emulator, S2, start, end, order)
        expected = expected_values(
            "B04", dataset.lon.values[None, :], dataset.lat.values[:, None], when, geographic=True
        )
        np.testing.assert_allclose(
            dataset.B04.isel(time=0).values, to_sample_type(expected, "FLOAT32"), rtol=1e-6
        )


def test_least_cloud_cover_mosaics_the_clearest_acquisition(store, clean_emulator):
    params = {**WGS84_PARAMS, "variable_names": ["B04"], "time_period": "8D"}
    params["time_range"] = ["2021-06-01", "2021-06-08"]
    dataset = store.open_data("S2L2A", **params, mosaicking_order="leastCC")
    candidates = clean_emulator.collections[S2].acquisitions(
        datetime(2021, 6, 1), datetime(2021, 6, 8, 23, 59, 59)
    )
    clearest = min(cover for _, cover in candidates)
    when = max(when for when, cover in candidates if cover == clearest)
    expected = expected_values(
        "B04", dataset.lon.values[None, :], dataset.lat.values[:, None], when, geographic=True
    )
    np.testing.assert_allclose(
        dataset.B04.isel(time=0).values, to_sample_type(expected, "FLOAT32"), rtol=1e-6
    )


def test_catalog_and_process_api_see_a_collection_where_it_has_data(store, clean_emulator):
    east = BYOC_FOOTPRINT[2]
    params = {
        "collection_id": BYOC_ID,
        "variable_names": ["RED"],
        "spatial_res": 0.001,
        "time_range": ["2021-06-01", "2021-06-10"],
    }
    outside = [east + 1.0, 50.0, east + 1.01, 50.01]
    searched = store.open_data("CUSTOM", **params, bbox=outside, time_period=None)
    assert searched.sizes["time"] == 0, "the catalog has no items beyond the footprint"
    inside = [east - 0.01, 50.0, east, 50.01]
    found = store.open_data("CUSTOM", **params, bbox=inside, time_period=None)
    acquisitions = clean_emulator.acquisition_times(
        BYOC_ID, datetime(2021, 6, 1), datetime(2021, 6, 10, 23, 59, 59)
    )
    assert found.sizes["time"] == len(acquisitions) > 0
    # a box across the eastern edge: pixels beyond it have no data
    across = store.open_data("CUSTOM", **params, bbox=[east - 0.01, 50.0, east + 0.01, 50.01])
    values = across.RED.isel(time=1).values
    beyond = across.lon.values > east
    assert beyond.sum() == 10 and np.isnan(values[:, beyond]).all()
    assert not np.isnan(values[:, ~beyond]).any()


def test_dem_is_timeless(store):
    dataset = store.open_data(
        "DEM",
        bbox=[10.0, 50.0, 10.01, 50.01],
        spatial_res=0.001,
        time_range=["2021-06-01", "2021-06-01"],
        time_period=None,
    )
    assert dataset.sizes["time"] == 1
    expected = expected_values(
        "DEM",
        dataset.lon.values[None, :],
        dataset.lat.values[:, None],
        None,
        geographic=True,
        units=("METERS",),
    )
    np.testing.assert_allclose(
        dataset.DEM.isel(time=0).values, to_sample_type(expected, "FLOAT32"), rtol=1e-6
    )


def test_custom_collection_bands_from_the_catalog(store, clean_emulator):
    dataset = store.open_data(
        "CUSTOM",
        collection_id=BYOC_ID,
        bbox=[10.0, 50.0, 10.01, 50.01],
        spatial_res=0.001,
        time_range=["2021-06-01", "2021-06-02"],
    )
    assert list(dataset.data_vars) == ["RED", "NIR"]
    assert not np.isnan(dataset.RED.values).all()


def test_open_dataset_pickles_and_computes_the_same(store):
    dataset = store.open_data("S2L2A", **WGS84_PARAMS)
    again = pickle.loads(pickle.dumps(dataset))
    selection = {"time": "2021-06-03"}
    np.testing.assert_array_equal(
        again.B04.sel(selection).values, dataset.B04.sel(selection).values
    )


@pytest.mark.parametrize("variable_names", [[], None])
def test_variable_selection(store, variable_names):
    dataset = store.open_data(
        "S1GRD",
        variable_names=variable_names,
        bbox=[10.0, 50.0, 10.01, 50.01],
        spatial_res=0.001,
        time_range=["2021-06-01", "2021-06-02"],
    )
    expected = [] if variable_names == [] else ["VV", "VH", "HH", "HV"]
    assert list(dataset.data_vars)[: len(expected)] == expected
    assert dataset.sizes["time"] == 2 and dataset.sizes["lat"] == 10


def test_dask_tasks_group_tiles_before_time_steps(store, clean_emulator):
    dataset = store.open_data("S2L2A", **{**WGS84_PARAMS, "variable_names": ["B04"]})
    assert dataset.B04.chunks[0] == (1,) * 6  # 6 tiles per step: no time grouping
    clean_emulator.reset_log()
    (dataset.B04 * 2).isel(time=2).load()  # arithmetic first, then a selection
    assert len(paths(clean_emulator, PROCESS_PATH)) == CHUNKS_PER_STEP


def test_chunk_cache_serves_repeated_reads(store, clean_emulator):
    dataset = store.open_data(
        "S2L2A", **{**WGS84_PARAMS, "variable_names": ["B04"], "max_cache_size": 10_000_000}
    )
    clean_emulator.reset_log()
    first = dataset.B04.isel(time=2).values
    again = dataset.B04.isel(time=2).values
    np.testing.assert_array_equal(first, again)
    assert len(paths(clean_emulator, PROCESS_PATH)) == CHUNKS_PER_STEP
