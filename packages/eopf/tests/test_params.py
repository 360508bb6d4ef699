"""Open parameters: parsed without a request; bad ones refused before any request."""

from __future__ import annotations

import pytest
from conftest import OLCI, S2, TWO_ZONES_BBOX
from eostores_eopf.products import COLLECTIONS
from eostores_eopf.schema import parse_open_params, resampling_methods

from eostores import DataNotFoundError, InvalidParameterError

L2A = COLLECTIONS[S2]
BASE = dict(bbox=[11.96, 45.02, 11.99, 45.045], time_range=["2025-06-01", "2025-06-04"])


def test_variables_by_name_regex_common_name_and_alias():
    parse = lambda **p: list(parse_open_params({**BASE, **p}, L2A, S2).variables)  # noqa: E731
    assert parse(variables="b0[2-4]") == ["b02", "b03", "b04"]
    assert parse(variable_names=["red", "scl"]) == ["red", "scl"]
    assert parse(variables=["b8a", "b0[1-2]"]) == ["b8a", "b01", "b02"]
    assert parse(variables=[]) == []
    assert len(parse()) == len(L2A.variables)
    request = parse_open_params({**BASE, "variables": ["nir"]}, L2A, S2)
    assert request.variables["nir"].name == "b08"


def test_native_crs_is_the_utm_zone_of_the_bbox():
    request = parse_open_params({**BASE, "crs": "native", "spatial_res": 20}, L2A, S2)
    assert request.crs == "EPSG:32632" and not request.geographic
    x0, y0, x1, y1 = request.bbox
    assert 730000 < x0 < x1 < 740000 and 4980000 < y0 < y1 < 5000000
    assert request.lonlat_bbox == tuple(BASE["bbox"])


def test_default_resolution_and_methods():
    request = parse_open_params(BASE, L2A, S2)
    assert request.resolution == pytest.approx(10 / 111320)
    methods = resampling_methods(
        {"interp_methods": {"uint8": 1}, "agg_methods": "max"},
        {"b02": L2A.variables["b02"], "scl": L2A.variables["scl"], "b05": L2A.variables["b05"]},
        {"b02": 10.0, "scl": 20.0, "b05": 20.0},
        30.0,
        S2,
    )
    assert methods == {"b02": "max", "scl": "bilinear", "b05": "bilinear"}
    methods = resampling_methods({}, {"scl": L2A.variables["scl"]}, {"scl": 20.0}, 60.0, S2)
    assert methods == {"scl": "center"}


@pytest.mark.parametrize(
    ("params", "parameter", "text"),
    [
        ({"variables": "b99"}, "variable_names", "names no variable"),
        ({"variables": ["b02", "("]}, "variable_names", "regular expression"),
        ({"crs": "EPSG:999999"}, "crs", "not a known CRS"),
        ({"crs": "native", "bbox": TWO_ZONES_BBOX}, "crs", "spans zones 32 and 33"),
        ({"spatial_res": 1.0}, "spatial_res", "larger than the bbox"),
        ({"interp_methods": "cubic"}, "interp_methods", None),
        ({"agg_methods": "first"}, "agg_methods", None),
        ({"agg_methods": {"b99": "mean"}}, "agg_methods", "neither a chosen variable"),
        ({"tile_size": 4}, "tile_size", None),
        ({"query": "eo:cloud_cover<20"}, "query", None),
        ({"time_range": None}, "time_range", None),
        ({"bbox": None}, "bbox", None),
        ({"bbox": [11.99, 45.02, 11.96, 45.045]}, "bbox", None),
        ({"force_cube": "yes"}, "force_cube", None),
        ({"error_policy": "skip"}, "error_policy", None),
    ],
    ids=lambda v: str(v)[:40] if isinstance(v, dict) else None,
)
def test_bad_open_params_fail_before_any_request(
    shared_emulator, make_store, params, parameter, text
):
    store = make_store(shared_emulator)
    before = len(shared_emulator.request_log)
    open_params = {**BASE, **params}
    open_params = {k: v for k, v in open_params.items() if v is not None}
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(S2, **open_params)
    assert caught.value.parameter == parameter
    if text:
        assert text in str(caught.value)
    assert len(shared_emulator.request_log) == before


def test_native_crs_is_for_tiles_only(store):
    with pytest.raises(InvalidParameterError, match="Sentinel-2 tiles only"):
        store.open_data(
            OLCI, crs="native", bbox=[12.2, 45.2, 12.3, 45.3], time_range=BASE["time_range"]
        )


def test_unknown_data_id_and_opener(shared_emulator, make_store):
    store = make_store(shared_emulator)
    before = len(shared_emulator.request_log)
    with pytest.raises(DataNotFoundError):
        store.get_open_data_params_schema("sentinel-2-l3")
    with pytest.raises(InvalidParameterError, match="opener"):
        store.open_data(S2, opener_id="dataset:netcdf:https", **BASE)
    assert len(shared_emulator.request_log) == before


def test_oversized_grid_is_refused_before_any_request(shared_emulator, make_store):
    store = make_store(shared_emulator, max_request_bytes=10_000_000)
    before = len(shared_emulator.request_log)
    with pytest.raises(InvalidParameterError, match="max_request_bytes") as caught:
        store.open_data(
            S2, bbox=[11, 44, 13, 46], spatial_res=0.0001, time_range=BASE["time_range"]
        )
    assert "bbox" in str(caught.value) and caught.value.parameter == "spatial_res"
    assert len(shared_emulator.request_log) == before


def test_store_params_are_checked_without_io(shared_emulator):
    from eostores import new_data_store

    with pytest.raises(InvalidParameterError, match="url"):
        new_data_store("eopf-zarr", url="ftp://example.org")
    with pytest.raises(InvalidParameterError):
        new_data_store("eopf-zarr", num_retries=-1)
    store = new_data_store("eopf-zarr")
    assert store.settings.url == "https://stac.core.eopf.eodc.eu"


def test_storage_option_secrets_are_never_shown(shared_emulator, make_store):
    import pickle

    store = make_store(shared_emulator, storage_options={"key": "id-8d1f", "secret": "pw-8d1f"})
    assert "pw-8d1f" not in repr(store) and "pw-8d1f" not in repr(store.settings)
    again = pickle.loads(pickle.dumps(store))
    assert again.settings.storage_options["secret"] == "pw-8d1f"
    assert b"pw-8d1f" not in pickle.dumps(store)
