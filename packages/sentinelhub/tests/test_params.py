"""Bad parameters fail at once, naming the parameter, before any request."""

from __future__ import annotations

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
    "concurrency": ({"max_concurrent_requests": 0}, "max_concurrent_requests"),
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
