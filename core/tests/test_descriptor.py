"""Descriptors: building from datasets and the JSON round trip."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eostores import (
    DataDescriptor,
    DatasetDescriptor,
    GeoDataFrameDescriptor,
    InvalidParameterError,
    MultiLevelDatasetDescriptor,
    VariableDescriptor,
    new_data_descriptor,
)
from eostores.schema import JsonObjectSchema, JsonStringSchema, time_range_schema


def _round_trip(descriptor):
    return DataDescriptor.from_dict(json.loads(json.dumps(descriptor.to_dict())))


def test_dataset_descriptor_from_lazy_dataset(cube):
    descriptor = new_data_descriptor("cube", cube.chunk({"time": 2}))
    assert isinstance(descriptor, DatasetDescriptor)
    assert descriptor.data_vars["sst"] == VariableDescriptor(
        "sst",
        "float32",
        ("time", "lat", "lon"),
        (2, 18, 36),
        {"units": "degC", "long_name": "sea surface temperature"},
    )
    assert descriptor.time_range == ("2024-01-01", "2024-01-06")
    assert descriptor.time_period == "1D"
    assert descriptor.bbox == (-180.0, -90.0, 180.0, 90.0)


@pytest.mark.parametrize(
    "times, period",
    [
        (pd.date_range("2020-01-01", periods=4, freq="MS"), "1M"),
        (pd.date_range("2020-01-01", periods=3, freq="YS"), "1Y"),
        (pd.date_range("2020-01-01", periods=5, freq="6h"), "6H"),
        (pd.date_range("2020-01-01", periods=3, freq="14D"), "2W"),
        (pd.DatetimeIndex(["2020-01-01", "2020-01-02", "2020-01-05"]), None),
    ],
)
def test_time_period_inference(times, period):
    dataset = xr.Dataset(coords={"time": times})
    assert new_data_descriptor("d", dataset).time_period == period


def test_round_trip_of_every_descriptor_type(cube):
    schema = JsonObjectSchema(
        properties={
            "time_range": time_range_schema(min_datetime="2024-01-01", max_datetime="2024-01-06")
        }
    )
    descriptors = [
        DataDescriptor("any-id", crs="EPSG:4326", bbox=(0, 1, 2, 3)),
        new_data_descriptor("cube", cube),
        MultiLevelDatasetDescriptor("ml", num_levels=4, dims={"x": 4, "y": 4}),
        GeoDataFrameDescriptor(
            "places",
            num_features=3,
            feature_schema=JsonObjectSchema(properties={"name": JsonStringSchema()}),
        ),
    ]
    descriptors[1].open_params_schema = schema
    for descriptor in descriptors:
        again = _round_trip(descriptor)
        assert type(again) is type(descriptor)
        assert again == descriptor


def test_attrs_become_json_values():
    dataset = xr.Dataset(
        {
            "v": (
                "x",
                np.zeros(2),
                {
                    "valid_range": np.array([0, 10]),
                    "scale": np.float32(0.5),
                    "missing": float("nan"),
                },
            )
        },
        coords={"x": [0, 1]},
        attrs={"created": pd.Timestamp("2024-01-01T00:00"), "flags": (1, 2)},
    )
    as_dict = json.loads(json.dumps(new_data_descriptor("d", dataset).to_dict()))
    assert as_dict["data_vars"]["v"]["attrs"] == {
        "valid_range": [0, 10],
        "scale": 0.5,
        "missing": None,
    }
    assert as_dict["attrs"] == {"created": "2024-01-01T00:00:00", "flags": [1, 2]}


def test_from_dict_needs_data_id_and_tolerates_unknown_keys():
    with pytest.raises(InvalidParameterError, match="data_id"):
        DataDescriptor.from_dict({"data_type": "dataset"})
    descriptor = DataDescriptor.from_dict(
        {"data_id": "x", "data_type": "dataset", "from_the_future": 1}
    )
    assert isinstance(descriptor, DatasetDescriptor)
