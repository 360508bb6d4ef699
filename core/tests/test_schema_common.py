"""The common open parameters: their schemas and the meaning of their values."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone

import jsonschema
import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eostores.errors import InvalidParameterError
from eostores.schema import (
    COMMON_OPEN_PARAMETERS,
    REQUIRED_COMMON_PARAMETERS,
    JsonObjectSchema,
    JsonSchema,
    TimeRange,
    apply_parameter_aliases,
    bbox_schema,
    crs_schema,
    force_cube_schema,
    parse_bbox,
    parse_time_period,
    parse_time_range,
    resolve_variable_names,
    spatial_res_schema,
    time_period_schema,
    time_range_schema,
    variable_names_schema,
)


def test_import_needs_no_heavy_libraries():
    code = (
        "import sys, eostores.schema; "
        "print(','.join(m for m in ('numpy', 'pandas', 'xarray', 'dask', 'zarr') "
        "if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == ""


def test_required_common_parameters_are_common_parameters():
    assert set(REQUIRED_COMMON_PARAMETERS) < set(COMMON_OPEN_PARAMETERS)
    assert "crs" not in REQUIRED_COMMON_PARAMETERS
    assert "force_cube" not in REQUIRED_COMMON_PARAMETERS


# -- schema factories -------------------------------------------------------------------------


def open_params_schema() -> JsonObjectSchema:
    return JsonObjectSchema(
        properties=dict(
            variable_names=variable_names_schema(["t2m", "sst", "u10"]),
            bbox=bbox_schema(),
            crs=crs_schema(enum=["EPSG:4326", "EPSG:3857"]),
            spatial_res=spatial_res_schema(default=0.25),
            time_range=time_range_schema("2000-01-01", "2020-12-31T00:00:00Z"),
            time_period=time_period_schema(enum=["1D", "1M"], default="1D"),
            force_cube=force_cube_schema(),
        ),
        additional_properties=False,
    )


def test_factories_make_valid_json_schemas_that_round_trip():
    schema = open_params_schema()
    document = schema.to_dict(root=True)
    jsonschema.Draft202012Validator.check_schema(document)
    assert JsonSchema.from_dict(json.loads(json.dumps(document))) == schema
    for name in COMMON_OPEN_PARAMETERS:
        assert schema.properties[name].title


def test_defaults_of_the_common_parameters():
    params = open_params_schema().validate_params({})
    assert params == {
        "variable_names": None,
        "crs": "EPSG:4326",
        "spatial_res": 0.25,
        "time_range": None,
        "time_period": "1D",
        "force_cube": False,
    }


def test_factories_accept_overrides():
    schema = bbox_schema(title="Area", nullable=True, default=None)
    assert schema.title == "Area"
    assert schema.validate_instance(None) is None
    assert crs_schema(default=None).to_dict().get("default", "unset") == "unset"
    assert spatial_res_schema(nullable=True).validate_instance(None) is None
    assert time_range_schema(required=True).nullable is False
    assert variable_names_schema(min_items=1).min_items == 1


VALID = [
    {"variable_names": ["sst"], "bbox": [-10, 40, 5, 55.5]},
    {"variable_names": [], "crs": "EPSG:3857"},
    {"time_range": ["2000-01-01", None]},
    {"time_range": ["2010-05-01T00:00:00Z", "2020-12-31"]},
    {"time_range": [None, "2020-12-31T00:00:00+00:00"]},
    {"time_period": "1M", "force_cube": True, "spatial_res": 0.1},
]
INVALID = [
    {"variable_names": ["sst", "sst"]},
    {"variable_names": ["wind"]},
    {"variable_names": "sst"},
    {"bbox": [0, 0, 1]},
    {"bbox": [0, -91, 1, 1]},
    {"crs": "EPSG:32633"},
    {"spatial_res": 0},
    {"time_range": ["2020-01-01"]},
    {"time_range": ["2020-01-01", "tomorrow"]},
    {"time_period": "2D"},
    {"force_cube": "yes"},
    {"variables": ["sst"]},
]


@pytest.mark.parametrize("params", VALID + INVALID, ids=lambda p: json.dumps(p))
def test_common_schemas_agree_with_jsonschema(params):
    schema = open_params_schema()
    validator = jsonschema.Draft202012Validator(
        schema.to_dict(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    try:
        schema.validate_params(params)
        ours = True
    except InvalidParameterError:
        ours = False
    assert ours == validator.is_valid(params) == (params in VALID)


@pytest.mark.parametrize(
    ("time_range", "bad_index"),
    [
        (["2030-01-01", None], 0),
        (["2010-01-01", "2030-01-01"], 1),
        (["2010-01-01", "2021-01-01T00:00:00Z"], 1),
        (["1999-12-31T23:00:00Z", None], 0),
    ],
)
def test_time_range_limits_are_enforced(time_range, bad_index):
    with pytest.raises(InvalidParameterError) as info:
        open_params_schema().validate_params({"time_range": time_range})
    assert info.value.parameter == "time_range"
    assert f"time_range[{bad_index}] = {time_range[bad_index]!r}" in str(info.value)
    assert "2000-01-01" in str(info.value) or "2020-12-31" in str(info.value)


def test_time_range_accepts_python_dates():
    params = open_params_schema().validate_params(
        {"time_range": (date(2010, 1, 1), datetime(2010, 1, 2, 6))}
    )
    assert params["time_range"] == ("2010-01-01", "2010-01-02T06:00:00Z")


def test_variable_names_with_titles_keep_the_names_as_choices():
    schema = variable_names_schema(["t2m", "sst"], titles={"t2m": "2 m temperature"})
    jsonschema.Draft202012Validator.check_schema(schema.to_dict())
    choices = schema.to_dict()["items"]["oneOf"]
    assert choices[0] == {"type": "string", "title": "2 m temperature", "const": "t2m"}
    assert schema.validate_instance(["sst", "t2m"]) == ["sst", "t2m"]
    with pytest.raises(InvalidParameterError) as info:
        schema.validate_instance(["sts"], name="variable_names")
    assert "must be one of 't2m', 'sst' (did you mean 'sst'?)" in str(info.value)


def test_variable_names_schema_without_names_and_with_none():
    assert variable_names_schema().validate_instance(["anything"]) == ["anything"]
    empty = variable_names_schema([])
    assert empty.validate_instance([]) == []
    with pytest.raises(InvalidParameterError):
        empty.validate_instance(["x"])


def test_time_period_schema_rejects_enum_values_outside_the_syntax():
    with pytest.raises(InvalidParameterError, match="time_period"):
        time_period_schema(enum=["1D", "daily"])


# -- time_range semantics ---------------------------------------------------------------------


def test_end_date_covers_the_whole_day_in_an_xarray_selection():
    times = pd.date_range("2020-01-01", "2020-01-05", freq="h")
    dataset = xr.Dataset({"v": ("time", np.arange(times.size))}, coords={"time": times})
    selected = dataset.sel(time=parse_time_range(["2020-01-02", "2020-01-03"]).to_slice())
    stamps = pd.DatetimeIndex(selected.time.values)
    assert stamps[0] == pd.Timestamp("2020-01-02T00:00")
    assert stamps[-1] == pd.Timestamp("2020-01-03T23:00")
    assert pd.Timestamp("2020-01-04T00:00") not in stamps
    assert stamps.size == 48


def test_slice_excludes_the_next_midnight_at_nanosecond_precision():
    times = pd.DatetimeIndex(["2020-01-03T23:59:59.999999999", "2020-01-04T00:00:00"])
    dataset = xr.Dataset({"v": ("time", [1, 2])}, coords={"time": times})
    selected = dataset.sel(time=parse_time_range(["2020-01-01", "2020-01-03"]).to_slice())
    assert selected.v.values.tolist() == [1]


def test_explicit_end_instant_is_inclusive():
    times = pd.date_range("2020-01-01", periods=6, freq="h")
    dataset = xr.Dataset({"v": ("time", np.arange(6))}, coords={"time": times})
    time_range = parse_time_range(["2020-01-01T01:00:00Z", "2020-01-01T03:00:00Z"])
    assert dataset.sel(time=time_range.to_slice()).v.values.tolist() == [1, 2, 3]


def test_parse_time_range_converts_offsets_to_naive_utc():
    time_range = parse_time_range(["2020-01-01T02:00:00+02:00", "2020-01-01T12:00:00-01:30"])
    assert time_range.start == datetime(2020, 1, 1, 0, 0)
    assert time_range.end == datetime(2020, 1, 1, 13, 30)
    assert time_range.start.tzinfo is None


def test_parse_time_range_accepts_python_pandas_and_numpy_values():
    expected = parse_time_range(["2020-01-01", "2020-01-31"])
    assert parse_time_range((date(2020, 1, 1), date(2020, 1, 31))) == expected
    assert parse_time_range([np.datetime64("2020-01-01"), np.datetime64("2020-01-31")]) == expected
    by_instants = parse_time_range(
        [pd.Timestamp("2020-01-01", tz="Europe/Berlin"), np.datetime64("2020-01-31T06:00")]
    )
    assert by_instants.start == datetime(2019, 12, 31, 23, 0)
    assert by_instants.end == datetime(2020, 1, 31, 6, 0)
    aware = datetime(2020, 1, 1, 6, tzinfo=timezone(timedelta(hours=6)))
    assert parse_time_range([aware, "2020-01-02"]).start == datetime(2020, 1, 1, 0, 0)


def test_open_end_means_now_and_null_means_unrestricted():
    now = datetime(2024, 3, 1, 12, 0)
    time_range = parse_time_range(["2024-01-01", None], now=now)
    assert time_range.end == now
    assert parse_time_range([None, "2024-01-01"]).start is None
    before = datetime.now(UTC).replace(tzinfo=None)
    assert parse_time_range(["2024-01-01", None]).end >= before
    unrestricted = parse_time_range(None)
    assert unrestricted == TimeRange(None, None)
    assert unrestricted.contains("1900-01-01T00:00:00Z")
    assert unrestricted.to_slice() == slice(None, None)


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        (["2020-02-01", "2020-01-01"], "time_range = "),
        (["2020-01-02T00:00:01Z", "2020-01-02T00:00:00Z"], "after the end"),
        (["2020-01-01", "2020-02-30"], "time_range[1] = '2020-02-30'"),
        (["soon", None], "time_range[0] = 'soon'"),
        ("2020-01-01", "must be a pair"),
        (["2020-01-01"], "must be a pair"),
    ],
)
def test_parse_time_range_errors_name_time_range(value, fragment):
    with pytest.raises(InvalidParameterError) as info:
        parse_time_range(value)
    assert info.value.parameter == "time_range"
    assert fragment in str(info.value)


def test_single_day_range_is_valid():
    time_range = parse_time_range(["2020-01-01", "2020-01-01"])
    assert time_range.contains(datetime(2020, 1, 1, 23, 59, 59))
    assert not time_range.contains(datetime(2020, 1, 2))
    assert time_range.days() == [date(2020, 1, 1)]


def test_time_range_helpers():
    time_range = parse_time_range(["2019-12-30T12:00:00Z", "2020-01-02"])
    assert time_range.days() == [
        date(2019, 12, 30),
        date(2019, 12, 31),
        date(2020, 1, 1),
        date(2020, 1, 2),
    ]
    assert time_range.contains("2020-01-02T23:00:00Z")
    assert not time_range.contains("2019-12-30T11:59:59Z")
    assert time_range.contains(date(2020, 1, 1))
    assert time_range.start_isoformat() == "2019-12-30T12:00:00Z"
    assert time_range.end_isoformat(timespec="seconds") == "2020-01-02T23:59:59Z"
    parsed_back = parse_time_range(time_range.isoformat().split("/"))
    assert parsed_back == time_range
    assert TimeRange(None, datetime(2020, 1, 1)).isoformat() == "../2020-01-01T00:00:00Z"
    with pytest.raises(InvalidParameterError, match="start and an end"):
        TimeRange(None, datetime(2020, 1, 1)).days()


# -- bbox -------------------------------------------------------------------------------------


def test_parse_bbox_accepts_sequences_and_strings():
    assert parse_bbox([-10, 40, 5, 55.5]) == (-10.0, 40.0, 5.0, 55.5)
    assert parse_bbox("-10, 40,5 , 55.5") == (-10.0, 40.0, 5.0, 55.5)
    assert parse_bbox((170, -10, 200, 10)) == (170.0, -10.0, 200.0, 10.0)
    assert parse_bbox([300000, 5e6, 400000, 6e6], geographic=False)[2] == 400000.0


@pytest.mark.parametrize(
    ("value", "kwargs", "fragment"),
    [
        ([170, -10, -170, 10], {}, "crosses the antimeridian; split it into two requests"),
        ([10, 0, 10, 1], {}, "xmin must be less than xmax"),
        ([5, 0, 1, 1], {"geographic": False}, "xmin must be less than xmax"),
        ([0, 10, 1, 5], {}, "ymin must be less than ymax"),
        ([0, -95, 1, 5], {}, "within [-90, 90]"),
        ([-190, 0, 1, 5], {}, "within [-180, 360]"),
        ([0, 0, 1], {}, "must be 4 numbers"),
        ("0,0,1,x", {}, "must be 4 numbers"),
        ([0, 0, True, 1], {}, "must be 4 numbers"),
        ([0, 0, float("nan"), 1], {}, "finite"),
        ([-180, 0, 360, 1], {}, "wider than 360"),
    ],
)
def test_parse_bbox_errors(value, kwargs, fragment):
    with pytest.raises(InvalidParameterError) as info:
        parse_bbox(value, **kwargs)
    assert info.value.parameter == "bbox"
    assert fragment in str(info.value)
    assert str(info.value).startswith("bbox = ")


# -- time_period ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "count", "unit"), [("D", 1, "D"), ("1D", 1, "D"), ("10Y", 10, "Y"), ("8D", 8, "D")]
)
def test_parse_time_period(text, count, unit):
    period = parse_time_period(text)
    assert (period.count, period.unit) == (count, unit)
    assert time_period_schema().validate_instance(text) == text


@pytest.mark.parametrize("text", ["0D", "1.5D", "1d", "D1", "", " 1D", "01D", "1S", None, 1])
def test_parse_time_period_rejects(text):
    with pytest.raises(InvalidParameterError) as info:
        parse_time_period(text)
    assert info.value.parameter == "time_period"
    if isinstance(text, str):
        with pytest.raises(InvalidParameterError):
            time_period_schema().validate_instance(text)


def test_time_period_pandas_frequencies():
    def stamps(text: str) -> list[str]:
        freq = parse_time_period(text).to_pandas_freq()
        index = pd.date_range("2020-01-15", periods=2, freq=freq)
        return [str(t) for t in index]

    assert stamps("3H") == ["2020-01-15 00:00:00", "2020-01-15 03:00:00"]
    assert stamps("1D") == ["2020-01-15 00:00:00", "2020-01-16 00:00:00"]
    assert stamps("1M") == ["2020-02-01 00:00:00", "2020-03-01 00:00:00"]
    assert stamps("Y") == ["2021-01-01 00:00:00", "2022-01-01 00:00:00"]
    assert pd.Timestamp(stamps("2W")[1]) - pd.Timestamp(stamps("2W")[0]) == pd.Timedelta(days=14)


def test_time_period_timedelta():
    assert parse_time_period("3H").to_timedelta() == timedelta(hours=3)
    assert parse_time_period("2W").to_timedelta() == timedelta(days=14)
    assert str(parse_time_period("D")) == "1D"
    for text in ("1M", "Y"):
        with pytest.raises(InvalidParameterError, match="no fixed length"):
            parse_time_period(text).to_timedelta()


# -- variable_names and aliases ---------------------------------------------------------------

AVAILABLE = ("t2m", "sst", "u10", "v10")


def test_resolve_variable_names():
    assert resolve_variable_names(None, AVAILABLE) == list(AVAILABLE)
    assert resolve_variable_names([], AVAILABLE) == []
    assert resolve_variable_names(("v10", "t2m"), AVAILABLE) == ["v10", "t2m"]


def test_resolve_variable_names_errors():
    with pytest.raises(InvalidParameterError) as info:
        resolve_variable_names(["t2m", "ssst"], AVAILABLE)
    message = str(info.value)
    assert info.value.parameter == "variable_names"
    assert "variable_names[1] = 'ssst'" in message
    assert "did you mean 'sst'?" in message
    assert "allowed: t2m, sst, u10, v10" in message
    with pytest.raises(InvalidParameterError, match="more than once"):
        resolve_variable_names(["sst", "sst"], AVAILABLE)
    with pytest.raises(InvalidParameterError, match="list of names") as info:
        resolve_variable_names("sst", AVAILABLE, parameter="asset_names")
    assert info.value.parameter == "asset_names"


def test_apply_parameter_aliases():
    aliases = {"variables": "variable_names", "asset_names": "variable_names"}
    params = {"bbox": [0, 0, 1, 1], "variables": ["a"]}
    assert apply_parameter_aliases(params, aliases) == {
        "bbox": [0, 0, 1, 1],
        "variable_names": ["a"],
    }
    assert params == {"bbox": [0, 0, 1, 1], "variables": ["a"]}
    same = {"variable_names": ["a"], "variables": ("a",)}
    assert apply_parameter_aliases(same, aliases) == {"variable_names": ["a"]}
    with pytest.raises(InvalidParameterError) as info:
        apply_parameter_aliases({"variable_names": ["a"], "asset_names": ["b"]}, aliases)
    assert info.value.parameter == "variable_names"
    assert "'variable_names' and 'asset_names'" in str(info.value)
    with pytest.raises(InvalidParameterError, match="'variables' and 'asset_names'"):
        apply_parameter_aliases({"variables": ["a"], "asset_names": ["b"]}, aliases)
