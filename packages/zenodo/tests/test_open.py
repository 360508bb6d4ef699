"""Opening files: lazily over HTTP ranges, or whole for feature collections."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from eostores_zenodo.testing.samples import (
    STATIONS,
    chlorophyll_value,
    elevation_value,
    precipitation_value,
    station_value,
    temperature_value,
)

from eostores.errors import DataStoreError, InvalidParameterError


def _content_requests(emulator, key):
    return [r for r in emulator.request_log if r.path.endswith(f"/files/{key}/content")]


def test_netcdf_subset_has_the_known_values(store):
    dataset = store.open_data(
        "temperature.nc",
        variable_names=["temperature"],
        bbox=[0, 40, 10, 50],
        time_range=["2020-01-02", "2020-01-03"],
    )
    assert list(dataset.data_vars) == ["temperature"]
    assert dataset.temperature.chunks is not None
    assert dataset.sizes == {"time": 2, "lat": 10, "lon": 10}
    day = np.array([1.0, 2.0])[:, None, None]
    expected = temperature_value(
        day, dataset.lat.values[None, :, None], dataset.lon.values[None, None, :]
    )
    np.testing.assert_allclose(dataset.temperature.values, expected, rtol=1e-6)


def test_netcdf_lazy_read_fetches_only_ranges_near_the_chunk(store, zenodo):
    store.record  # noqa: B018
    dataset = store.open_data("temperature.nc")
    zenodo.reset_log()
    values = dataset.precipitation.isel(time=3, lat=slice(0, 5), lon=slice(0, 5)).values
    lat, lon = dataset.lat.values[:5, None], dataset.lon.values[None, :5]
    np.testing.assert_allclose(values, precipitation_value(3.0, lat, lon), rtol=1e-6)
    requests = _content_requests(zenodo, "temperature.nc")
    assert requests and all(r.headers["range"].startswith("bytes=") for r in requests)
    chunk_bytes = 90 * 180 * 4  # one stored chunk (1, 90, 180) of float32
    block = 64 * 1024  # reads are aligned to blocks; the chunk index takes one more
    transferred = sum(r.bytes_sent for r in requests)
    assert chunk_bytes <= transferred <= chunk_bytes + 3 * block


def test_opened_netcdf_pickles_and_computes_elsewhere(store):
    dataset = store.open_data("temperature.nc", variable_names=["temperature"])
    again = pickle.loads(pickle.dumps(dataset))
    value = float(again.temperature.isel(time=2, lat=100, lon=200))
    expected = temperature_value(2.0, float(again.lat[100]), float(again.lon[200]))
    assert value == pytest.approx(expected, rel=1e-6)


def test_zipped_zarr_reads_chunks_by_range(store, zenodo):
    dataset = store.open_data("cube.zarr.zip", bbox=[-20, -10, 20, 10])
    zenodo.reset_log()
    values = dataset.chl.isel(time=2).values
    la, lo = dataset.lat.values[:, None], dataset.lon.values[None, :]
    np.testing.assert_allclose(values, chlorophyll_value(2.0, la, lo), rtol=1e-6)
    requests = _content_requests(zenodo, "cube.zarr.zip")
    assert requests and all("range" in r.headers for r in requests)
    assert sum(r.bytes_sent for r in requests) < store.record.files["cube.zarr.zip"].size / 2


def test_cog_reads_tiles_and_overviews(store, zenodo):
    dataset = store.open_data("elevation.tif", bbox=[10, 20, 30, 40], tile_size=128)
    zenodo.reset_log()
    values = dataset.elevation.values
    la, lo = dataset.y.values[:, None], dataset.x.values[None, :]
    np.testing.assert_allclose(values, elevation_value(la, lo), rtol=1e-6)
    requests = _content_requests(zenodo, "elevation.tif")
    assert requests and all("range" in r.headers for r in requests)
    # The box touches 2 x 2 stored tiles of 128 x 128 float32 (64 KiB each); reads are
    # aligned to 64 KiB blocks, so a tile costs at most two blocks.
    tiles, block = 4, 64 * 1024
    assert sum(r.bytes_sent for r in requests) <= tiles * 2 * block
    assert len(requests) <= tiles
    levels = store.open_data("elevation.tif", data_type="mldataset")
    coarse = levels.get_dataset(levels.num_levels - 1)
    assert coarse.sizes["x"] < 720


@pytest.mark.parametrize(
    ("data_id", "params", "columns"),
    [
        ("stations.geojson", {}, {"id", "name", "value"}),
        ("stations.csv", {}, {"id", "name", "longitude", "latitude", "value"}),
        ("regions.gpkg", {"layer": "regions"}, {"code", "area_deg2"}),
        ("coast.shp.zip", {}, {"name"}),
    ],
)
def test_feature_collections_are_read_whole(store, zenodo, data_id, params, columns):
    frame = store.open_data(data_id, **params)
    assert columns <= set(frame.columns)
    assert frame.crs.to_epsg() == 4326
    assert len(frame) > 0
    requests = _content_requests(zenodo, data_id)
    assert requests[-1].bytes_sent == store.record.files[data_id].size


@pytest.mark.parametrize("data_id", ["stations.geojson", "stations.csv"])
def test_point_values_and_subsets(store, data_id):
    frame = store.open_data(data_id, bbox=[-5, 30, 20, 60], columns=["id", "value"])
    assert sorted(frame["id"]) == ["ST01", "ST02"]
    expected = {ident: station_value(lon, lat) for ident, _, lon, lat in STATIONS}
    for ident, value in zip(frame["id"], frame["value"], strict=True):
        assert value == pytest.approx(expected[ident])
    projected = store.open_data(data_id, crs="EPSG:3857")
    assert projected.crs.to_epsg() == 3857


def test_csv_coordinate_columns_can_be_named(store):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("stations.csv", x_column="easting")
    assert caught.value.parameter == "x_column"


@pytest.mark.parametrize("data_id", ["collection.zip", "scene.tar.gz", "nested.zip"])
def test_archives_must_be_preloaded(store, data_id):
    with pytest.raises(DataStoreError) as caught:
        store.open_data(data_id)
    message = str(caught.value)
    assert "preload" in message and data_id in message


def test_classic_netcdf_must_be_preloaded(fresh_zenodo, make_store, tmp_path):
    legacy = tmp_path / "legacy.nc"
    legacy.write_bytes(b"CDF\x01" + bytes(60))
    fresh_zenodo.add_record("7300001", {"legacy.nc": legacy})
    store = make_store(fresh_zenodo, root="7300001")
    with pytest.raises(DataStoreError) as caught:
        store.open_data("legacy.nc")
    assert "classic" in str(caught.value) and "preload_data('legacy.nc')" in str(caught.value)


def test_whole_reads_are_checked_against_the_md5(zenodo, make_store):
    record = zenodo.records["7000002"]
    entry = record.files["stations.geojson"]
    original = entry.checksum
    entry.checksum = "md5:" + "0" * 32
    try:
        store = make_store(zenodo)
        with pytest.raises(DataStoreError, match="checksum mismatch"):
            store.open_data("stations.geojson")
    finally:
        entry.checksum = original


def test_opener_and_data_type_must_fit_the_file(store):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("temperature.nc", opener_id="dataset:zarr:zenodo")
    assert caught.value.parameter == "opener_id"
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("temperature.nc", data_type="geodataframe")
    assert caught.value.parameter == "data_type"
    dataset = store.open_data("temperature.nc", opener_id="dataset:netcdf:zenodo")
    assert "temperature" in dataset


def test_unknown_variables_fail_before_requests_once_described(store, zenodo):
    store.describe_data("temperature.nc")
    before = len(zenodo.request_log)
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("temperature.nc", variable_names=["humidity"])
    assert caught.value.parameter == "variable_names"
    assert "temperature" in str(caught.value)
    assert len(zenodo.request_log) == before


def test_bad_parameters_fail_before_the_record_is_fetched(zenodo, make_store):
    store = make_store(zenodo)
    before = len(zenodo.request_log)
    for params in (
        {"bbox": [10, 0, 0, 10]},
        {"time_range": ["2020-02-01", "2020-01-01"]},
        {"no_such_parameter": 1},
        {"chunks": "lots"},
    ):
        with pytest.raises(InvalidParameterError):
            store.open_data("temperature.nc", **params)
    with pytest.raises(InvalidParameterError):
        store.open_data("stations.csv", columns="id")
    assert len(zenodo.request_log) == before
