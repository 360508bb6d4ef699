"""The in-memory data types a store can deliver, and their aliases.

Types are identified by the qualified names of their classes, so that this module
never imports xarray or geopandas: ``DataType.is_instance`` inspects the class
hierarchy by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .errors import InvalidParameterError

__all__ = [
    "ANY_TYPE",
    "DATASET_TYPE",
    "GEO_DATA_FRAME_TYPE",
    "MULTI_LEVEL_DATASET_TYPE",
    "DataType",
    "DataTypeLike",
    "register_data_type",
]


@dataclass(frozen=True)
class DataType:
    """A data type: an alias such as ``"dataset"`` and the class names it stands for."""

    alias: str
    class_names: tuple[str, ...] = ()
    description: str = ""
    cls: type | None = field(default=None, compare=False, repr=False)

    def __str__(self) -> str:
        return self.alias

    def __eq__(self, other: object) -> bool:
        # Equal to its alias too, so that descriptors' data types compare with strings.
        if isinstance(other, str):
            return other == self.alias
        if isinstance(other, DataType):
            return (self.alias, self.class_names) == (other.alias, other.class_names)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.alias)

    @property
    def aliases(self) -> tuple[str, ...]:
        """Every name this type is known by: its alias, then its class names."""
        return (self.alias, *self.class_names)

    @property
    def dtype(self) -> type:
        """The Python class of this type (imported on first use; ``object`` for any)."""
        if self.cls is not None:
            return self.cls
        if not self.class_names:
            return object
        module_name, _, class_name = self.class_names[-1].rpartition(".")
        import importlib

        return getattr(importlib.import_module(module_name), class_name)

    @classmethod
    def get_schema(cls) -> Any:
        """The JSON schema of a ``data_type`` parameter: one of the registered names.

        ``from_instance`` gives the DataType, ``to_instance`` its alias.
        """
        from .schema import JsonStringSchema

        return JsonStringSchema(
            min_length=1,
            enum=[name for t in _BY_ALIAS.values() for name in t.aliases],
            title="Data type",
            factory=cls.normalize,
            serializer=str,
        )

    def is_instance(self, data: Any) -> bool:
        """Whether ``data`` is of this type (``any`` accepts everything)."""
        if not self.class_names:
            return True
        return any(_qualname(cls) in self.class_names for cls in type(data).__mro__)

    def is_super_type_of(self, other: DataTypeLike) -> bool:
        """Whether every value of ``other`` is also a value of this type."""
        other = DataType.normalize(other)
        return self is ANY_TYPE or self == other

    def is_sub_type_of(self, other: DataTypeLike) -> bool:
        return DataType.normalize(other).is_super_type_of(self)

    @classmethod
    def normalize(cls, data_type: DataTypeLike) -> DataType:
        """Turn an alias, a class, ``None`` (any) or a DataType into a registered DataType."""
        if data_type is None:
            return ANY_TYPE
        if isinstance(data_type, DataType):
            return data_type
        if isinstance(data_type, str):
            found = _BY_ALIAS.get(data_type) or _BY_CLASS_NAME.get(data_type)
            if found is None:
                raise InvalidParameterError(
                    f"unknown data type {data_type!r}; allowed: {', '.join(_BY_ALIAS)}",
                    parameter="data_type",
                )
            return found
        if isinstance(data_type, type):
            for cls in data_type.__mro__:
                found = _BY_CLASS_NAME.get(_qualname(cls))
                if found is not None:
                    return found
            name = _qualname(data_type)
            return DataType(name, (name,), data_type.__doc__ or "", cls=data_type)
        raise InvalidParameterError(
            f"data_type must be a string, a class or None, not {type(data_type).__name__}",
            parameter="data_type",
        )

    @classmethod
    def of(cls, data: Any) -> DataType:
        """The most specific registered type of ``data``."""
        for data_type in _BY_ALIAS.values():
            if data_type.class_names and data_type.is_instance(data):
                return data_type
        raise InvalidParameterError(
            f"data of type {_qualname(type(data))} is not supported; expected one of "
            + ", ".join(t.alias for t in _BY_ALIAS.values() if t.class_names),
            parameter="data",
        )

    @classmethod
    def all(cls) -> list[DataType]:
        return list(_BY_ALIAS.values())


DataTypeLike = str | type | DataType | None


def _qualname(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


ANY_TYPE = DataType("any", (), "Any data")
DATASET_TYPE = DataType(
    "dataset",
    ("xarray.core.dataset.Dataset", "xarray.Dataset"),
    "An xarray.Dataset: gridded, labelled, N-dimensional variables",
)
MULTI_LEVEL_DATASET_TYPE = DataType(
    "mldataset",
    ("eostores.mldataset.MultiLevelDataset",),
    "An eostores.MultiLevelDataset: a dataset at several spatial resolutions",
)
GEO_DATA_FRAME_TYPE = DataType(
    "geodataframe",
    ("geopandas.geodataframe.GeoDataFrame", "geopandas.GeoDataFrame"),
    "A geopandas.GeoDataFrame: vector features with attributes",
)

# Order matters for DataType.of: more specific types first.
_BY_ALIAS: dict[str, DataType] = {
    t.alias: t for t in (MULTI_LEVEL_DATASET_TYPE, DATASET_TYPE, GEO_DATA_FRAME_TYPE, ANY_TYPE)
}
_BY_CLASS_NAME: dict[str, DataType] = {
    name: t for t in _BY_ALIAS.values() for name in t.class_names
}


def register_data_type(data_type: DataType) -> None:
    """Make ``data_type`` known by its alias and class names (ahead of ``any``)."""
    clash = [
        name
        for name in data_type.aliases
        if (_BY_ALIAS.get(name) or _BY_CLASS_NAME.get(name)) not in (None, data_type)
    ]
    if clash:
        raise InvalidParameterError(
            f"data type names {clash} are already registered", parameter="data_type"
        )
    any_type = _BY_ALIAS.pop(ANY_TYPE.alias)
    _BY_ALIAS[data_type.alias] = data_type
    _BY_ALIAS[ANY_TYPE.alias] = any_type
    for name in data_type.class_names:
        _BY_CLASS_NAME[name] = data_type
