"""Bad parameters fail at once, naming the parameter, before any request."""

from __future__ import annotations

import time

import pytest

from eostores import new_data_store
from eostores.errors import InvalidParameterError

GOOD = {
    "variable_names": ["B04", "SCL"],
    "bbox": [10.0, 50.0, 10.05, 50.03],
    "spatial_res": 0.001,
    "time_range": ["2021-06-01", "2021-06-03"],
}

BAD_OPEN_PARAMS = {
    "bbox-not-whole-pixels": ({"bbox": [10.0, 50.0, 10.0505, 50.03]}, "bbox"),
    "bbox-reversed": ({"bbox": [10.05, 50.0, 10.0, 50.03]}, "bbox"),
    "bbox-latitude": ({"bbox": [10.0, 95.0, 10.05, 95.03]}, "bbox"),
    "bbox-missing": ({"bbox": None}, "bbox"),
    "spatial-res-zero": ({"spatial_res": 0}, "spatial_res"),
    "spatial-res-text": ({"spatial_res": "fine"}, "spatial_res"),
    "crs-unknown": ({"crs": "EPSG:99999"}, "crs"),
    "crs-nonsense": ({"crs": "Mercator-ish"}, "crs"),
    "time-range-reversed": ({"time_range": ["2021-06-03", "2021-06-01"]}, "time_range"),
    "time-range-open-start": ({"time_range": [None, "2021-06-01"]}, "time_range"),
    "time-period": ({"time_period": "1Q"}, "time_period"),
    "time-tolerance": ({"time_tolerance": "10 minutes"}, "time_tolerance"),
    "tile-size-too-large": ({"tile_size": [3000, 100]}, "tile_size"),
    "tile-size-short": ({"tile_size": [100]}, "tile_size"),
    "variable-unknown": ({"variable_names": ["B4"]}, "variable_names"),
    "variable-twice": ({"variable_names": ["B04", "B04"]}, "variable_names"),
    "unit-not-of-band": ({"variable_units": ["DN", "REFLECTANCE"]}, "variable_units"),
    "unit-unknown": ({"variable_units": ["DN", "FURLONGS"]}, "variable_units"),
    "sample-type-unknown": (
        {"variable_sample_types": ["UINT32", "UINT8"]},
        "variable_sample_types",
    ),
    "fill-does-not-fit": (
        {"variable_sample_types": ["UINT16", "UINT8"], "variable_fill_values": [-1, 0]},
        "variable_fill_values",
    ),
    "list-length": ({"variable_units": ["DN"]}, "variable_units"),
    "list-without-names": (
        {"variable_names": None, "variable_fill_values": [0, 0]},
        "variable_fill_values",
    ),
    "four-d-mixed-types": ({"four_d": True}, "variable_sample_types"),
    "mosaicking-order": ({"mosaicking_order": "newest"}, "mosaicking_order"),
    "upsampling": ({"upsampling": "LANCZOS"}, "upsampling"),
    "search-reserved-key": ({"extra_search_params": {"bbox": [0, 0, 1, 1]}}, "extra_search_params"),
    "search-query": ({"extra_search_params": {"query": {}}}, "extra_search_params"),
    "search-limit": ({"extra_search_params": {"limit": 1000}}, "extra_search_params"),
    "cache-size": ({"max_cache_size": -1}, "max_cache_size"),
    "collection-id": ({"collection_id": "byoc-has space"}, "collection_id"),
    "collection-id-dots": ({"collection_id": "byoc-../../oauth/token"}, "collection_id"),
    "collection-id-encoded": ({"collection_id": "byoc-%2e%2e%2fx"}, "collection_id"),
    "collection-id-query": ({"collection_id": "batch-x?next=1"}, "collection_id"),
    "collection-id-empty": ({"collection_id": ""}, "collection_id"),
    "collection-id-number": ({"collection_id": 42}, "collection_id"),
    "spatial-res-tiny": ({"spatial_res": 1e-12}, "spatial_res"),
    "time-steps": (
        {"time_range": ["1900-01-01", "2100-12-31"], "time_period": "1H"},
        "time_period",
    ),
    "unknown-parameter": ({"tile_sizes": [10, 10]}, "tile_sizes"),
}


@pytest.mark.parametrize(
    ("override", "parameter"), list(BAD_OPEN_PARAMS.values()), ids=list(BAD_OPEN_PARAMS)
)
def test_bad_open_parameter_fails_before_any_request(store, clean_emulator, override, parameter):
    params = {**GOOD, **override}
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("S2L2A", **params)
    assert caught.value.parameter == parameter or parameter in str(caught.value)
    assert caught.value.data_id == "S2L2A"
    assert clean_emulator.request_log == []


def test_a_grid_beyond_max_request_bytes_fails_naming_its_size(store, clean_emulator):
    started = time.monotonic()
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("S2L2A", **{**GOOD, "spatial_res": 1e-12})
    assert time.monotonic() - started < 5, "refused by arithmetic, not by allocation"
    message = str(caught.value)
    assert caught.value.parameter == "spatial_res" and "bbox" in message
    assert "30000000000 x 50000000000 cells" in message and "max_request_bytes" in message
    assert clean_emulator.request_log == []


def test_max_request_bytes_bounds_all_variables_and_time_steps(clean_emulator, make_store):
    # 2 variables x 3 days x 30 x 50 pixels x 4 bytes = 36000 bytes
    store = make_store(clean_emulator, max_request_bytes=35_999)
    with pytest.raises(InvalidParameterError, match="36000 bytes"):
        store.open_data("S2L2A", **GOOD, variable_sample_types=["FLOAT32", "FLOAT32"])
    # one time step is checked before the catalog search, the steps found after it
    with pytest.raises(InvalidParameterError, match="max_request_bytes"):
        make_store(clean_emulator, max_request_bytes=1000).open_data(
            "S2L2A", **GOOD, time_period=None
        )
    assert clean_emulator.request_log == []
    roomy = make_store(clean_emulator, max_request_bytes=36_000)
    dataset = roomy.open_data("S2L2A", **GOOD, variable_sample_types=["FLOAT32", "FLOAT32"])
    assert dataset.sizes["time"] == 3
    unbounded = make_store(clean_emulator, max_request_bytes=None)
    assert unbounded.open_data("S2L2A", **GOOD).sizes["lon"] == 50


def test_an_axis_too_long_to_lay_out_fails_before_allocating(store, clean_emulator):
    # a 1-pixel strip of 12 million pixels: small in bytes, but its coordinates are not
    strip = {**GOOD, "crs": "EPSG:3857", "bbox": [0, 0, 6_000_000, 0.5], "spatial_res": 0.5}
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("S2L2A", **strip)
    assert caught.value.parameter == "spatial_res" and "at most 10000000" in str(caught.value)
    assert clean_emulator.request_log == []


@pytest.mark.parametrize("data_id", [42, None, ["S2L2A"], b"S2L2A", ""])
def test_a_data_id_that_is_no_string_is_an_invalid_parameter(store, clean_emulator, data_id):
    calls = [
        lambda: store.open_data(data_id, **GOOD),
        lambda: store.describe_data(data_id),
        lambda: store.has_data(data_id),
    ]
    if data_id is not None:  # None asks for the schema common to all data ids
        calls.append(lambda: store.get_open_data_params_schema(data_id))
    for call in calls:
        with pytest.raises(InvalidParameterError) as caught:
            call()
        assert caught.value.parameter == "data_id"
    assert clean_emulator.request_log == []


@pytest.mark.parametrize("data_id", ["S1GRD", "S3OLCI", "S5PL2", "DEM", "CUSTOM"])
def test_least_cloud_cover_only_for_collections_with_cloud_cover(store, clean_emulator, data_id):
    params = {**GOOD, "variable_names": None, "mosaicking_order": "leastCC"}
    if data_id == "CUSTOM":
        params.update(collection_id="byoc-1234", variable_names=["RED"])
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(data_id, **params)
    assert caught.value.parameter == "mosaicking_order"
    assert "mostRecent" in str(caught.value) and "leastRecent" in str(caught.value)
    assert clean_emulator.request_log == []


def test_bbox_error_suggests_whole_pixel_extents(store):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("S2L2A", **{**GOOD, "bbox": [10.0, 50.0, 10.0505, 50.03]})
    assert "50 or 51 pixels" in str(caught.value)


def test_custom_needs_collection_id(store, clean_emulator):
    params = {k: v for k, v in GOOD.items() if k != "variable_names"}
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("CUSTOM", **params)
    assert caught.value.parameter == "collection_id"
    assert clean_emulator.request_log == []


def test_custom_band_names_must_be_script_names(store, clean_emulator):
    params = {**GOOD, "variable_names": ["B1); fetch("]}
    with pytest.raises(InvalidParameterError):
        store.open_data("CUSTOM", collection_id="byoc-abc", **params)
    assert clean_emulator.request_log == []


BAD_STORE_PARAMS = {
    "plain-http-remote": ({"api_url": "http://services.example.com"}, "api_url"),
    "not-a-url": ({"oauth2_url": "identity"}, "oauth2_url"),
    "policy": ({"error_policy": "retry"}, "error_policy"),
    "instance": ({"instance": "moon"}, "instance"),
    "retries": ({"num_retries": -1}, "num_retries"),
    "concurrency": ({"max_concurrency_per_host": 0}, "max_concurrency_per_host"),
    "deadline": ({"deadline": -1}, "deadline"),
    "max-request-bytes": ({"max_request_bytes": 0}, "max_request_bytes"),
    "url-with-password": ({"api_url": "https://user:pw@services.example.com"}, "api_url"),
    "output-format": ({"output_format": "image/png"}, "output_format"),
    "unknown": ({"client_key": "x"}, "client_key"),
}


@pytest.mark.parametrize(
    ("params", "parameter"), list(BAD_STORE_PARAMS.values()), ids=list(BAD_STORE_PARAMS)
)
def test_bad_store_parameter(params, parameter):
    with pytest.raises(InvalidParameterError) as caught:
        new_data_store("sentinelhub", **params)
    assert caught.value.parameter == parameter or parameter in str(caught.value)
