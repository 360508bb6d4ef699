"""Descriptions of data: what a store knows about a data id without loading the data."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import TYPE_CHECKING, Any

from .datatype import DataType
from .errors import InvalidParameterError

if TYPE_CHECKING:
    from .schema import JsonObjectSchema

__all__ = [
    "DataDescriptor",
    "DatasetDescriptor",
    "GeoDataFrameDescriptor",
    "MultiLevelDatasetDescriptor",
    "VariableDescriptor",
    "new_data_descriptor",
    "to_json_value",
]


def to_json_value(value: Any) -> Any:
    """Convert attribute values (numpy scalars and arrays, dates, tuples) to JSON values.

    Non-finite floats become ``None``; anything else unknown becomes its string form.
    """
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): to_json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json_value(v) for v in value]
    if hasattr(value, "tolist"):  # numpy scalars and arrays
        return to_json_value(value.tolist())
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


_SCHEMA_FIELDS = ("open_params_schema", "feature_schema")


@dataclass
class VariableDescriptor:
    """A variable of a dataset: its name, dtype, dimensions, chunking and attributes."""

    name: str
    dtype: str
    dims: tuple[str, ...]
    chunks: tuple[int, ...] | None = None
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self):
        self.dtype = str(self.dtype)
        self.dims = tuple(self.dims)
        if self.chunks is not None:
            self.chunks = tuple(int(c) for c in self.chunks)
        self.attrs = dict(self.attrs or {})

    @property
    def ndim(self) -> int:
        return len(self.dims)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "dims": list(self.dims)}
        if self.chunks is not None:
            result["chunks"] = list(self.chunks)
        if self.attrs:
            result["attrs"] = to_json_value(self.attrs)
        return result

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> VariableDescriptor:
        return cls(
            name=d["name"],
            dtype=d["dtype"],
            dims=tuple(d.get("dims", ())),
            chunks=tuple(d["chunks"]) if d.get("chunks") is not None else None,
            attrs=dict(d.get("attrs") or {}),
        )


@dataclass
class DataDescriptor:
    """What every descriptor has: the data id, its type, and where and when it lies."""

    data_id: str
    data_type: str = "any"
    crs: str | None = None
    bbox: tuple[float, float, float, float] | None = None
    time_range: tuple[str | None, str | None] | None = None
    time_period: str | None = None
    open_params_schema: JsonObjectSchema | None = None

    def __post_init__(self):
        self.data_type = str(DataType.normalize(self.data_type))
        if self.bbox is not None:
            self.bbox = tuple(float(v) for v in self.bbox)  # type: ignore[assignment]
        if self.time_range is not None:
            self.time_range = tuple(self.time_range)  # type: ignore[assignment]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict; ``None`` fields are left out."""
        result: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or (isinstance(value, dict) and not value and f.name != "data_vars"):
                continue
            if f.name in _SCHEMA_FIELDS:
                result[f.name] = value.to_dict()
            elif f.name in ("coords", "data_vars"):
                result[f.name] = {k: v.to_dict() for k, v in value.items()}
            else:
                result[f.name] = to_json_value(value)
        return result

    def to_json(self, **kwargs) -> str:
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> DataDescriptor:
        """Build the right descriptor subclass for ``d["data_type"]``."""
        if "data_id" not in d:
            raise InvalidParameterError("a data descriptor needs a 'data_id'", parameter="data_id")
        target = _DESCRIPTOR_CLASSES.get(d.get("data_type", "any"), DataDescriptor)
        if cls is not DataDescriptor and not issubclass(target, cls):
            target = cls
        known = {f.name for f in fields(target)}
        kwargs: dict[str, Any] = {}
        for key, value in d.items():
            if key not in known:
                continue  # tolerate descriptors written by newer versions
            if key in _SCHEMA_FIELDS and value is not None:
                from .schema import JsonSchema

                value = JsonSchema.from_dict(value)
            elif key in ("coords", "data_vars") and value is not None:
                value = {k: VariableDescriptor.from_dict(v) for k, v in value.items()}
            kwargs[key] = value
        return target(**kwargs)


@dataclass
class DatasetDescriptor(DataDescriptor):
    """Describes an xarray.Dataset: dims, coordinates, variables, attributes, resolution."""

    data_type: str = "dataset"
    spatial_res: float | None = None
    dims: dict[str, int] | None = None
    coords: dict[str, VariableDescriptor] | None = None
    data_vars: dict[str, VariableDescriptor] = field(default_factory=dict)
    attrs: dict[str, Any] | None = None

    def __post_init__(self):
        super().__post_init__()
        if self.dims is not None:
            self.dims = {str(k): int(v) for k, v in self.dims.items()}

    @classmethod
    def from_dataset(cls, data_id: str, dataset: Any, **kwargs) -> DatasetDescriptor:
        """Describe an (ideally lazily opened) dataset from its metadata and 1-D coordinates."""
        from ._describe import dataset_fields

        values = dataset_fields(dataset)
        for key in ("coords", "data_vars"):
            values[key] = {k: VariableDescriptor(**v) for k, v in values[key].items()}
        return cls(data_id=data_id, **{**values, **kwargs})


@dataclass
class MultiLevelDatasetDescriptor(DatasetDescriptor):
    """Describes a MultiLevelDataset: its base level plus the number of levels."""

    data_type: str = "mldataset"
    num_levels: int = 1


@dataclass
class GeoDataFrameDescriptor(DataDescriptor):
    """Describes a GeoDataFrame: feature count and the schema of its properties."""

    data_type: str = "geodataframe"
    num_features: int | None = None
    feature_schema: JsonObjectSchema | None = None


_DESCRIPTOR_CLASSES: dict[str, type[DataDescriptor]] = {
    "any": DataDescriptor,
    "dataset": DatasetDescriptor,
    "mldataset": MultiLevelDatasetDescriptor,
    "geodataframe": GeoDataFrameDescriptor,
}


def new_data_descriptor(data_id: str, data: Any, **kwargs) -> DataDescriptor:
    """Describe in-memory data of any supported type."""
    data_type = DataType.of(data)
    if data_type.alias == "dataset":
        return DatasetDescriptor.from_dataset(data_id, data, **kwargs)
    if data_type.alias == "mldataset":
        descriptor = MultiLevelDatasetDescriptor.from_dataset(
            data_id, data.get_dataset(0), **kwargs
        )
        descriptor.num_levels = data.num_levels
        return descriptor
    from ._describe import geodataframe_fields

    return GeoDataFrameDescriptor(data_id=data_id, **{**geodataframe_fields(data), **kwargs})
