"""Bad parameters are refused with InvalidParameterError naming them, before any request."""

from __future__ import annotations

import pytest
from conftest import ALL_TIME, BOX

from eostores import new_data_store
from eostores.errors import DataNotFoundError, InvalidParameterError

COLD = [
    (dict(bbox=BOX, point=[10, 46], time_range=ALL_TIME), "bbox", "not both"),
    (dict(time_range=ALL_TIME), "bbox", "bbox or point is required"),
    (dict(bbox=BOX, num_shots=5, time_range=ALL_TIME), "num_shots", "point query only"),
    (dict(bbox=BOX, radius=0.5, time_range=ALL_TIME), "radius", "point query only"),
    (dict(bbox=BOX), "time_range", "time_range"),
    (dict(bbox=[9, 45, 200, 46], time_range=ALL_TIME), "bbox", "180"),
    (dict(bbox=[10, 45, 9, 46], time_range=ALL_TIME), "bbox", "xmin"),
    (dict(point=[10], time_range=ALL_TIME), "point", "point"),
    (dict(point=[10, 95], time_range=ALL_TIME), "point", "90"),
    (dict(point=[10, 46], num_shots=0, time_range=ALL_TIME), "num_shots", "num_shots"),
    (dict(point=[10, 46], radius=-1, time_range=ALL_TIME), "radius", "radius"),
    (dict(bbox=BOX, time_range=["2021-01-01", "2020-01-01"]), "time_range", "after"),
    (dict(bbox=BOX, time_range=ALL_TIME, crs="EPSG:3857"), "crs", "EPSG:4326"),
    (dict(bbox=BOX, time_range=ALL_TIME, chunk_size=0), "chunk_size", "chunk_size"),
    (
        dict(bbox=BOX, time_range=ALL_TIME, quality_filters={"quality_flag": "1; drop"}),
        "quality_filters",
        "quality_flag",
    ),
    (
        dict(bbox=BOX, time_range=ALL_TIME, quality_filters={"quality_flag": "== 1 or 1 == 1"}),
        "quality_filters",
        "quality_flag",
    ),
    (dict(bbox=BOX, time_range=ALL_TIME, variables="agbd"), "variable_names", "array"),
    (dict(bbox=BOX, time_range=ALL_TIME, spatial_res=0.1), "spatial_res", "unknown"),
]


@pytest.mark.parametrize(("params", "parameter", "words"), COLD, ids=lambda v: str(v)[:40])
def test_refused_without_any_request(make_store, emulator, params, parameter, words):
    store = make_store()  # a fresh store: not even the array's metadata is known
    emulator.reset_log()
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("L4A", **params)
    assert caught.value.parameter == parameter or parameter in str(caught.value)
    assert words in str(caught.value)
    assert caught.value.store_id == "gedidb" and caught.value.data_id == "L4A"
    assert emulator.request_log == []


WARM = [
    (dict(variable_names=["rh"]), "variable_names", "'agbd', 'agbd_se', 'l4_quality_flag'"),
    (dict(variable_names=["agbd", "agbd"]), "variable_names", "variable_names"),
    (dict(variable_names=["ghost"]), "variable_names", "'agbd', 'agbd_se', 'l4_quality_flag'"),
    (dict(quality_filters={"rh": ">= 1"}), "quality_filters", "rh"),
    (dict(quality_filters={"no_such": "== 1"}), "quality_filters", "no_such"),
    (dict(quality_filters={"beam_type": "== 1"}), "quality_filters", "quoted words"),
    (dict(quality_filters={"quality_flag": "== 'one'"}), "quality_filters", "numbers"),
    (dict(quality_filters={"quality_flag": "> -1"}), "quality_filters", "0..255 of uint8"),
    (dict(quality_filters={"quality_flag": "== 1.5"}), "quality_filters", "no integer"),
    (dict(quality_filters={"sensitivity": "< 1e400"}), "quality_filters", "range of float32"),
]


@pytest.mark.parametrize(("extra", "parameter", "words"), WARM, ids=lambda v: str(v)[:40])
def test_refused_by_the_array_metadata_without_a_query(
    warm_store, emulator, extra, parameter, words
):
    emulator.reset_log()
    with pytest.raises(InvalidParameterError) as caught:
        warm_store.open_data("L4A", bbox=BOX, time_range=ALL_TIME, **extra)
    assert caught.value.parameter == parameter
    assert words in str(caught.value)
    assert emulator.request_log == []


def test_point_search_box_beyond_the_domain(warm_store, emulator):
    emulator.reset_log()
    with pytest.raises(InvalidParameterError, match="domain") as caught:
        warm_store.open_data("L4A", point=[179.95, 0.0], time_range=ALL_TIME)
    assert caught.value.parameter == "point"
    assert emulator.request_log == []


def test_unknown_and_hostile_data_ids(store, emulator):
    emulator.reset_log()
    for data_id in ("L3", "l4a", "../L4A", "L4A/../all"):
        assert not store.has_data(data_id)
        with pytest.raises(DataNotFoundError):
            store.open_data(data_id, bbox=BOX, time_range=ALL_TIME)
        with pytest.raises(DataNotFoundError):
            store.describe_data(data_id)
    assert emulator.request_log == []


def test_data_types_and_opener_ids(store, emulator):
    emulator.reset_log()
    assert store.get_data_types_for_data("L2A") == ("dataset", "geodataframe")
    assert store.get_data_opener_ids("L2A", "geodataframe") == ("geodataframe:tiledb:gedidb",)
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("L4A", data_type="mldataset", bbox=BOX, time_range=ALL_TIME)
    assert caught.value.parameter == "data_type"
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("L4A", opener_id="dataset:zarr:s3", bbox=BOX, time_range=ALL_TIME)
    assert caught.value.parameter == "opener_id"
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            "L4A",
            opener_id="dataset:tiledb:gedidb",
            data_type="geodataframe",
            bbox=BOX,
            time_range=ALL_TIME,
        )
    assert caught.value.parameter == "opener_id"
    assert emulator.request_log == []


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        (dict(bucket="../other"), "bucket"),
        (dict(bucket="a"), "bucket"),
        (dict(endpoint_url="s3.example.org"), "endpoint_url"),
        (dict(cmr_url="ftp://cmr.example.org"), "cmr_url"),
        (dict(metadata_ttl=0), "metadata_ttl"),
        (dict(num_retries=-1), "num_retries"),
        (dict(no_such_parameter=1), "no_such_parameter"),
    ],
)
def test_bad_store_parameters(params, parameter):
    with pytest.raises(InvalidParameterError) as caught:
        new_data_store("gedidb", **params)
    assert parameter in str(caught.value)


def test_construction_and_schemas_make_no_request(emulator):
    emulator.reset_log()
    store = new_data_store("gedidb", **emulator.store_params())
    assert store.list_data_ids() == ["L2A", "L2B", "L4A", "L4C", "all"]
    schema = store.get_open_data_params_schema()
    assert {"bbox", "point", "num_shots", "radius", "time_range", "quality_filters"} <= set(
        schema.properties
    )
    assert schema.properties["num_shots"].default == 10
    assert schema.properties["radius"].default == 0.1
    assert emulator.request_log == []
