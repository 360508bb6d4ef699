"""Everything checkable from the schemas and what the store knows fails before any request."""

from __future__ import annotations

import pytest

from eostores.errors import InvalidParameterError


def _fails_without_requests(emulator, call, parameter):
    before = len(emulator.request_log)
    with pytest.raises(InvalidParameterError) as caught:
        call()
    assert caught.value.parameter == parameter, caught.value
    assert len(emulator.request_log) == before, "no request may precede the refusal"
    return caught.value


@pytest.mark.parametrize("data_id", ["temperature.nc", "cube.zarr.zip", "elevation.tif"])
def test_latitudes_beyond_90_fail_at_once_for_described_geographic_grids(store, zenodo, data_id):
    store.describe_data(data_id)
    error = _fails_without_requests(
        zenodo, lambda: store.open_data(data_id, bbox=[0, 95, 10, 100]), "bbox"
    )
    assert "[-90, 90]" in str(error) and data_id in str(error)


def test_what_one_open_learnt_serves_the_next(store, zenodo):
    store.open_data("temperature.nc")
    _fails_without_requests(
        zenodo, lambda: store.open_data("temperature.nc", bbox=[0, 95, 10, 100]), "bbox"
    )
    _fails_without_requests(
        zenodo, lambda: store.open_data("temperature.nc", variable_names=["nope"]), "variable_names"
    )


def test_time_range_on_data_without_time_fails_at_once(store, zenodo):
    store.describe_data("elevation.tif")
    _fails_without_requests(
        zenodo,
        lambda: store.open_data("elevation.tif", time_range=["2020-01-01", "2020-01-02"]),
        "time_range",
    )


@pytest.mark.parametrize("data_id", ["stations.geojson", "stations.csv"])
def test_vector_boxes_in_degrees_are_checked_before_the_record_is_fetched(
    zenodo, make_store, data_id
):
    store = make_store(zenodo)  # the record is not fetched yet
    _fails_without_requests(zenodo, lambda: store.open_data(data_id, bbox=[0, 95, 10, 100]), "bbox")
    _fails_without_requests(
        zenodo, lambda: store.open_data(data_id, crs="EPSG:4326", bbox=[-200, 0, 10, 10]), "bbox"
    )


@pytest.mark.parametrize(
    ("data_id", "params", "parameter"),
    [
        ("stations.geojson", {"crs": "EPSG:999999"}, "crs"),
        ("regions.gpkg", {"crs": "not a crs"}, "crs"),
        ("coast.shp.zip", {"crs": "EPSG:0"}, "crs"),
        ("stations.csv", {"source_crs": "nonsense"}, "source_crs"),
        ("stations.csv", {"crs": "+proj=nowhere"}, "crs"),
        ("temperature.nc", {"bbox": [10, 0, 0, 10]}, "bbox"),
        ("temperature.nc", {"time_range": ["2020-02-01", "2020-01-01"]}, "time_range"),
    ],
)
def test_bad_values_fail_before_the_record_is_fetched(
    zenodo, make_store, data_id, params, parameter
):
    store = make_store(zenodo)
    error = _fails_without_requests(zenodo, lambda: store.open_data(data_id, **params), parameter)
    assert data_id in str(error)


def test_projected_boxes_with_a_projected_crs_are_accepted(store):
    frame = store.open_data(
        "stations.geojson", crs="EPSG:3857", bbox=[0, 4_000_000, 2_500_000, 8_000_000]
    )
    assert sorted(frame["id"]) == ["ST01"]


@pytest.mark.parametrize("data_id", [42, None, 3.5, b"temperature.nc", ["temperature.nc"]])
def test_data_ids_that_are_no_strings_are_refused_at_once(zenodo, make_store, data_id):
    store = make_store(zenodo)
    calls = [
        lambda: store.open_data(data_id),
        lambda: store.describe_data(data_id),
        lambda: store.has_data(data_id),
        lambda: store.preload_data(data_id),
    ]
    if data_id is not None:  # None asks for the parameters common to all files
        calls.append(lambda: store.get_open_data_params_schema(data_id))
    for call in calls:
        _fails_without_requests(zenodo, call, "data_id")
