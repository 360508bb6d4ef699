"""Descriptors as xcube users know them: types, dict form, validation, extents, reprs."""

from __future__ import annotations

import json
import pickle
import warnings

import numpy as np
import pandas as pd
import pytest
import xarray as xr

from eostores import (
    DataDescriptor,
    DatasetDescriptor,
    DataType,
    GeoDataFrameDescriptor,
    InvalidParameterError,
    MultiLevelDatasetDescriptor,
    VariableDescriptor,
    new_data_descriptor,
)
from eostores.schema import JsonObjectSchema, JsonStringSchema


def test_data_type_is_a_data_type_that_equals_its_alias(cube):
    descriptor = new_data_descriptor("cube", cube)
    assert isinstance(descriptor.data_type, DataType)
    assert descriptor.data_type.alias == "dataset"
    assert descriptor.data_type == "dataset"
    assert descriptor.data_type.dtype is xr.Dataset
    assert descriptor.to_dict()["data_type"] == "dataset"
    assert MultiLevelDatasetDescriptor("ml", 3).data_type.alias == "mldataset"


def test_empty_variables_are_left_out_of_the_dict():
    descriptor = DatasetDescriptor("empty", dims={"x": 2})
    assert descriptor.data_vars == {}
    assert descriptor.to_dict() == {"data_id": "empty", "data_type": "dataset", "dims": {"x": 2}}
    again = DataDescriptor.from_dict(descriptor.to_dict())
    assert again == descriptor and again.data_vars == {}


@pytest.mark.parametrize(
    "document, field",
    [
        ({"data_id": "x"}, "data_type"),
        ({"data_type": "dataset"}, "data_id"),
        ({"data_id": "", "data_type": "dataset"}, "data_id"),
        ({"data_id": "x", "data_type": "cube"}, "data_type"),
        ({"data_id": "x", "data_type": "dataset", "bbox": [0, 1, 2]}, "bbox"),
        ({"data_id": "x", "data_type": "dataset", "dims": {"x": -1}}, "dims.x"),
        ({"data_id": "x", "data_type": "mldataset"}, "num_levels"),
        (
            {
                "data_id": "x",
                "data_type": "dataset",
                "data_vars": {"v": {"dtype": "f4", "dims": []}},
            },
            "data_vars.v.name",
        ),
        (
            {
                "data_id": "x",
                "data_type": "dataset",
                "data_vars": {"v": {"name": "v", "dtype": "f4"}},
            },
            "data_vars.v.dims",
        ),
    ],
)
def test_from_dict_reports_the_invalid_field(document, field):
    with pytest.raises(InvalidParameterError, match=field.replace(".", r"\.")):
        DataDescriptor.from_dict(document)


def test_variable_descriptor_from_dict_validates():
    with pytest.raises(InvalidParameterError, match="name"):
        VariableDescriptor.from_dict({"dtype": "float32", "dims": ["x"]})
    with pytest.raises(InvalidParameterError, match="dims"):
        VariableDescriptor.from_dict({"name": "v", "dtype": "float32"})
    variable = VariableDescriptor.from_dict({"name": "v", "dtype": "float32", "dims": ["x"]})
    assert variable.dims == ("x",) and variable.ndim == 1


def test_from_dict_builds_the_class_of_the_data_type_and_ignores_newer_fields():
    document = {"data_id": "ml", "data_type": "mldataset", "num_levels": 4, "new_field": 1}
    descriptor = DataDescriptor.from_dict(document)
    assert type(descriptor) is MultiLevelDatasetDescriptor and descriptor.num_levels == 4
    assert type(DatasetDescriptor.from_dict(document)) is MultiLevelDatasetDescriptor
    # the JSON schema path builds the same thing
    again = MultiLevelDatasetDescriptor.get_schema().from_instance(document)
    assert again == descriptor
    assert MultiLevelDatasetDescriptor.get_schema().to_instance(descriptor) == descriptor.to_dict()


def test_constructors_check_data_types_and_warn_about_unknown_arguments():
    with pytest.raises(InvalidParameterError, match="data_type"):
        DatasetDescriptor("x", data_type="geodataframe")
    with pytest.raises(InvalidParameterError, match="data_id"):
        DataDescriptor("", "dataset")
    with pytest.warns(UserWarning, match="colour"):
        DataDescriptor("x", "dataset", colour="red")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DataDescriptor("x", "dataset")


def test_time_range_comes_from_time_bounds():
    centres = pd.date_range("2010-01-01T12:00", periods=5, freq="D")
    bounds = np.stack([centres - pd.Timedelta("12h"), centres + pd.Timedelta("12h")], axis=1)
    dataset = xr.Dataset(
        {"v": ("time", np.arange(5.0))},
        coords={
            "time": ("time", centres, {"bounds": "time_bnds"}),
            "time_bnds": (("time", "bnds"), bounds),
        },
    )
    descriptor = new_data_descriptor("d", dataset)
    assert descriptor.time_range == ("2010-01-01", "2010-01-06")
    assert descriptor.time_period == "1D"
    # without bounds, the cell centres are the range
    without = new_data_descriptor("d", dataset.drop_vars("time_bnds"))
    assert without.time_range == ("2010-01-01T12:00:00Z", "2010-01-05T12:00:00Z")


def test_time_range_from_coverage_attributes_without_time_coordinate():
    dataset = xr.Dataset(
        {"v": ("x", np.zeros(2))},
        attrs={
            "time_coverage_start": "2001-02-03T00:00:00Z",
            "time_coverage_end": "2001-02-05T06:00:00+02:00",
        },
    )
    assert new_data_descriptor("d", dataset).time_range == ("2001-02-03", "2001-02-05T04:00:00Z")


def test_bbox_from_geospatial_attributes_with_unusual_dimension_names():
    dataset = xr.Dataset(
        {"v": (("row", "col"), np.zeros((3, 4)))},
        attrs={
            "geospatial_lon_min": -10.5,
            "geospatial_lon_max": 20,
            "geospatial_lat_min": np.float32(35),
            "geospatial_lat_max": "60",
        },
    )
    assert new_data_descriptor("d", dataset).bbox == (-10.5, 35.0, 20.0, 60.0)
    # coordinates win over attributes; incomplete attributes give no bbox
    dataset["lon"] = ("col", [0.5, 1.5, 2.5, 3.5])
    dataset["lat"] = ("row", [0.5, 1.5, 2.5])
    assert new_data_descriptor("d", dataset.set_coords(["lon", "lat"])).bbox == (0, 0, 4, 3)
    partial = xr.Dataset(attrs={"geospatial_lon_min": 0, "geospatial_lon_max": 1})
    assert new_data_descriptor("d", partial).bbox is None


def test_new_data_descriptor_of_other_data():
    descriptor = new_data_descriptor("table", {"a": 1})
    assert type(descriptor) is DataDescriptor
    assert descriptor.data_type.dtype is dict
    with pytest.raises(InvalidParameterError, match="not supported"):
        new_data_descriptor("table", {"a": 1}, require=True)


def test_readable_repr_has_one_line_per_item(cube):
    descriptor = new_data_descriptor("cube.zarr", cube.chunk({"time": 2}))
    descriptor.open_params_schema = JsonObjectSchema(
        properties={"variable_names": JsonStringSchema(), "time_range": JsonStringSchema()}
    )
    text = repr(descriptor)
    lines = text.splitlines()
    assert lines[0] == "<DatasetDescriptor 'cube.zarr'>"
    assert all(len(line) <= 100 for line in lines)
    assert "Time range:         2024-01-01 to 2024-01-06" in lines
    assert "Dimensions:         (time: 6, lat: 18, lon: 36)" in lines
    sst = next(line for line in lines if line.lstrip().startswith("sst"))
    assert "(time, lat, lon)" in sst and "float32" in sst and "chunks (2, 18, 36)" in sst
    assert "degC" in sst
    assert lines[-1] == "Open parameters (2): variable_names, time_range"
    variable = repr(descriptor.data_vars["sst"]).splitlines()
    assert variable[0] == "<VariableDescriptor 'sst' (time, lat, lon) float32, chunks (2, 18, 36)>"
    assert variable[1:] == [
        "Attributes:",
        "    units:     degC",
        "    long_name: sea surface temperature",
    ]


def test_repr_shortens_long_listings():
    data_vars = {f"v{i}": VariableDescriptor(f"v{i}", "int8", ["x"]) for i in range(40)}
    attrs = {"history": "x" * 500}
    text = repr(DatasetDescriptor("many", data_vars=data_vars, attrs=attrs))
    assert "… and 10 more" in text
    assert max(len(line) for line in text.splitlines()) <= 100


def test_html_repr_escapes_and_has_sections(cube):
    descriptor = new_data_descriptor("<cube>", cube)
    descriptor.attrs["comment"] = "<script>alert(1)</script>"
    page = descriptor._repr_html_()
    assert "<script>alert" not in page and "&lt;script&gt;" in page
    assert "DatasetDescriptor &#x27;&lt;cube&gt;&#x27;" in page
    assert page.count("<details") == 3  # coordinates, data variables, attributes
    assert "<th>sst</th>" in page
    geo = GeoDataFrameDescriptor(
        "places",
        num_features=2,
        feature_schema=JsonObjectSchema(properties={"n": JsonStringSchema()}),
    )
    assert "Feature properties" in geo._repr_html_() and "n:" in repr(geo)


def test_descriptors_pickle_and_compare(cube):
    descriptor = new_data_descriptor("cube", cube)
    again = pickle.loads(pickle.dumps(descriptor))
    assert again == descriptor
    assert again.to_json() == json.dumps(descriptor.to_dict())
    assert descriptor != DatasetDescriptor("cube")
