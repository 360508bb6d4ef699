"""Data types and accessor ids."""

from __future__ import annotations

import geopandas as gpd
import pytest
import xarray as xr

from eostores import DataType, InvalidParameterError, format_accessor_id, parse_accessor_id
from eostores.accessor import AccessorId


def test_data_types_normalize_from_alias_class_and_none():
    assert DataType.normalize("dataset").alias == "dataset"
    assert DataType.normalize(xr.Dataset).alias == "dataset"
    assert DataType.normalize(gpd.GeoDataFrame).alias == "geodataframe"
    assert DataType.normalize(None).alias == "any"
    with pytest.raises(InvalidParameterError, match="allowed: mldataset, dataset"):
        DataType.normalize("cube")


def test_data_type_of_instances():
    from eostores.mldataset import BaseMultiLevelDataset

    dataset = xr.Dataset({"a": (("y", "x"), [[1.0]])}, coords={"y": [0.0], "x": [0.0]})
    assert DataType.of(dataset).alias == "dataset"
    assert DataType.of(gpd.GeoDataFrame({"geometry": []})).alias == "geodataframe"
    assert DataType.of(BaseMultiLevelDataset(dataset, num_levels=1)).alias == "mldataset"
    with pytest.raises(InvalidParameterError, match="not supported"):
        DataType.of([1, 2])


def test_any_is_super_type_of_everything():
    any_type = DataType.normalize(None)
    assert all(any_type.is_super_type_of(t) for t in DataType.all())
    assert not DataType.normalize("dataset").is_super_type_of("geodataframe")


@pytest.mark.parametrize(
    "text, parts",
    [
        ("dataset:zarr:s3", ("dataset", "zarr", "s3", None)),
        ("geodataframe:shapefile:cciodp:0.4.1", ("geodataframe", "shapefile", "cciodp", "0.4.1")),
        (
            "dataset:netcdf:file:1.0.0-rc.1+build.5",
            ("dataset", "netcdf", "file", "1.0.0-rc.1+build.5"),
        ),
    ],
)
def test_parse_and_format_accessor_ids(text, parts):
    accessor = parse_accessor_id(text)
    assert (accessor.data_type, accessor.format, accessor.storage, accessor.version) == parts
    assert str(accessor) == text == format_accessor_id(*parts)


@pytest.mark.parametrize(
    "bad, message",
    [
        ("dataset:zarr", "expected"),
        ("dataset:zarr:s3:1.0", "Semantic Versioning"),
        ("dataset:zarr:s3:01.0.0", "Semantic Versioning"),
        ("dataset:zarr:s 3", "storage"),
        ("a:b:c:1.0.0:x", "expected"),
    ],
)
def test_invalid_accessor_ids(bad, message):
    with pytest.raises(InvalidParameterError, match=message):
        parse_accessor_id(bad)


def test_accessor_matching_with_wildcards():
    accessor = AccessorId("dataset", "zarr", "s3")
    assert accessor.matches("dataset", None, "s3")
    assert accessor.matches("*", "z*", "*")
    assert not accessor.matches(storage="file")
    assert accessor.matches_pattern("dataset:*:s3")
    assert accessor.matches_pattern("dataset")
    assert not accessor.matches_pattern("geodataframe:*:*")
