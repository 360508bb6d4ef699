"""DataType as xcube users know it: dtype, aliases, schema, unregistered classes."""

from __future__ import annotations

import collections

import pytest
import xarray as xr

from eostores import DataType, InvalidParameterError
from eostores.datatype import register_data_type


def test_dtype_and_aliases_of_registered_types():
    dataset = DataType.normalize("dataset")
    assert dataset.dtype is xr.Dataset
    assert dataset.aliases[0] == "dataset"
    assert "xarray.Dataset" in dataset.aliases
    assert DataType.normalize("xarray.Dataset") is dataset
    assert DataType.normalize(None).dtype is object


def test_schema_lists_every_name():
    schema = DataType.get_schema().to_dict()
    assert schema["type"] == "string"
    assert {"dataset", "mldataset", "geodataframe", "any"} <= set(schema["enum"])
    DataType.get_schema().validate_instance("dataset")
    with pytest.raises(InvalidParameterError):
        DataType.get_schema().validate_instance("cube")


def test_unregistered_classes_are_accepted_and_registration_works():
    class Table(collections.UserDict):
        """A table of things."""

    table_type = DataType.normalize(Table)
    assert table_type.dtype is Table
    assert table_type.is_instance(Table())
    assert not table_type.is_instance({})
    assert DataType.normalize(None).is_super_type_of(table_type)
    with pytest.raises(InvalidParameterError, match="cube"):
        DataType.normalize("cube")


def test_register_data_type_refuses_name_clashes():
    with pytest.raises(InvalidParameterError, match="already registered"):
        register_data_type(DataType("dataset", ("my.Dataset",)))
