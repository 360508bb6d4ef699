"""Descriptions of data: what a store knows about a data id without loading the data.

Descriptors are :class:`~eostores.schema.JsonObject` s: ``to_dict`` gives a JSON dict,
``from_dict`` validates one (naming the offending field) and builds the descriptor class of
its ``data_type``. Printed, they show a readable summary; in Jupyter, an HTML one.
"""

from __future__ import annotations

import html
import json
import math
import warnings
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, ClassVar

from .datatype import DataType, DataTypeLike
from .errors import InvalidParameterError
from .schema import (
    JsonArraySchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonObject,
    JsonObjectSchema,
    JsonSchema,
    JsonStringSchema,
)

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


def _schema_from_json(**data: Any) -> JsonSchema:
    """The factory of schema-valued fields: a JSON Schema dict -> a schema object."""
    return JsonSchema.from_dict(data)


def _schema_to_json(schema: Any) -> Any:
    return schema.to_dict() if isinstance(schema, JsonSchema) else schema


def _schema_field(title: str) -> JsonObjectSchema:
    return JsonObjectSchema(
        additional_properties=True,
        title=title,
        factory=_schema_from_json,
        serializer=_schema_to_json,
    )


def _descriptor_to_json(value: Any) -> Any:
    """The serializer of descriptor schemas: a descriptor's ``to_dict()``; dicts as they are."""
    return value.to_dict() if isinstance(value, _Described) else value


def _warn_ignored(cls: type, extra: Mapping[str, Any]) -> None:
    if extra:
        warnings.warn(
            f"{cls.__name__}: unknown arguments ignored: {', '.join(sorted(extra))}",
            stacklevel=3,
        )


def _check_id(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidParameterError(
            f"{name} must be a non-empty string, got {value!r}", parameter=name
        )
    return value


class _Described(JsonObject):
    """What descriptors share: JSON round trip, equality and the readable reprs."""

    #: The fields, in the order of ``to_dict`` and of the readable repr.
    _FIELDS: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def _from_fields(cls, **fields: Any) -> Any:
        """The factory of the schema: builds the descriptor, ignoring unknown fields."""
        return cls(**{k: v for k, v in fields.items() if k in cls._FIELDS})

    def _field_json(self, name: str, value: Any) -> Any:
        return to_json_value(value)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict; fields that are None or empty are left out."""
        result: dict[str, Any] = {}
        for name in self._FIELDS:
            value = getattr(self, name)
            if value is None or (isinstance(value, Mapping) and not value):
                continue
            result[name] = self._field_json(name, value)
        return result

    def to_json(self, **kwargs: Any) -> str:
        """``to_dict()`` as a JSON text (``kwargs`` go to :func:`json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, _Described):
            return NotImplemented
        return type(self) is type(other) and self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]  # descriptors are mutable

    def __repr__(self) -> str:
        return "\n".join(self._repr_lines())

    def _repr_html_(self) -> str:
        return _html_document(self._html_title(), self._html_sections())

    @abstractmethod
    def _repr_lines(self) -> list[str]:
        """The lines of the readable repr."""

    @abstractmethod
    def _html_title(self) -> str:
        """The heading of the HTML repr."""

    @abstractmethod
    def _html_sections(self) -> list[str]:
        """The parts of the HTML repr below its heading."""


# -- variables ------------------------------------------------------------------------------


class VariableDescriptor(_Described):
    """A variable of a dataset: its name, dtype, dimensions, chunking and attributes."""

    _FIELDS = ("name", "dtype", "dims", "chunks", "attrs")

    def __init__(
        self,
        name: str,
        dtype: str,
        dims: Sequence[str],
        chunks: Sequence[int] | None = None,
        attrs: Mapping[str, Any] | None = None,
        **additional_properties: Any,
    ):
        _warn_ignored(type(self), additional_properties)
        self.name = _check_id(name, "name")
        if dtype is None or not str(dtype):
            raise InvalidParameterError("dtype must be given", parameter="dtype")
        self.dtype = str(dtype)
        if dims is None or isinstance(dims, str):
            raise InvalidParameterError(
                f"dims must be a sequence of dimension names, got {dims!r}", parameter="dims"
            )
        self.dims: tuple[str, ...] = tuple(str(d) for d in dims)
        self.chunks: tuple[int, ...] | None = (
            None if chunks is None else tuple(int(c) for c in chunks)
        )
        self.attrs: dict[str, Any] = dict(attrs or {})

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return len(self.dims)

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        return JsonObjectSchema(
            properties=dict(
                name=JsonStringSchema(min_length=1),
                dtype=JsonStringSchema(min_length=1),
                dims=JsonArraySchema(items=JsonStringSchema(min_length=1)),
                chunks=JsonArraySchema(items=JsonIntegerSchema(minimum=0)),
                attrs=JsonObjectSchema(additional_properties=True),
            ),
            required=["name", "dtype", "dims"],
            additional_properties=True,
            factory=cls._from_fields,
            serializer=_descriptor_to_json,
        )

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> VariableDescriptor:
        """A variable descriptor from a dict; InvalidParameterError names what is wrong."""
        return cls.get_schema().from_instance(value)

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "dims": list(self.dims)}
        if self.chunks is not None:
            result["chunks"] = list(self.chunks)
        if self.attrs:
            result["attrs"] = to_json_value(self.attrs)
        return result

    def _summary(self) -> str:
        text = f"({', '.join(self.dims)}) {self.dtype}"
        if self.chunks is not None:
            text += f", chunks ({', '.join(map(str, self.chunks))})"
        return text

    def _repr_lines(self) -> list[str]:
        lines = [f"<VariableDescriptor {self.name!r} {self._summary()}>"]
        if self.attrs:
            lines.append("Attributes:")
            lines.extend(_mapping_lines(self.attrs))
        return lines

    def _html_title(self) -> str:
        return f"VariableDescriptor {self.name!r}: {self._summary()}"

    def _html_sections(self) -> list[str]:
        return [_html_section("Attributes", _html_mapping(self.attrs), len(self.attrs))]


# -- data -----------------------------------------------------------------------------------


class DataDescriptor(_Described):
    """What every descriptor has: the data id, its data type, and where and when it lies.

    ``data_type`` is a :class:`~eostores.datatype.DataType` (equal to its alias, so that
    ``descriptor.data_type == "dataset"`` holds); ``bbox`` is (xmin, ymin, xmax, ymax) in
    ``crs`` units; ``time_range`` a (start, end) pair of ISO strings.
    """

    _FIELDS = (
        "data_id",
        "data_type",
        "crs",
        "bbox",
        "time_range",
        "time_period",
        "open_params_schema",
    )
    #: The data types a descriptor of this class may have (empty: any).
    _DATA_TYPES: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self,
        data_id: str,
        data_type: DataTypeLike = None,
        *,
        crs: str | None = None,
        bbox: Sequence[float] | None = None,
        time_range: Sequence[str | None] | None = None,
        time_period: str | None = None,
        open_params_schema: JsonObjectSchema | None = None,
        **additional_properties: Any,
    ):
        _warn_ignored(type(self), additional_properties)
        self.data_id = _check_id(data_id, "data_id")
        self.data_type: DataType = DataType.normalize(data_type)
        if self._DATA_TYPES and self.data_type.alias not in self._DATA_TYPES:
            raise InvalidParameterError(
                f"a {type(self).__name__} describes {' or '.join(self._DATA_TYPES)} data, "
                f"not {self.data_type.alias!r}",
                parameter="data_type",
                data_id=data_id,
            )
        self.crs = crs
        self.bbox: tuple[float, float, float, float] | None = (
            None if bbox is None else tuple(float(v) for v in bbox)  # type: ignore[assignment]
        )
        self.time_range: tuple[str | None, str | None] | None = (
            None if time_range is None else tuple(time_range)  # type: ignore[assignment]
        )
        self.time_period = time_period
        self.open_params_schema = open_params_schema

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        number = JsonNumberSchema()
        return JsonObjectSchema(
            properties=dict(
                data_id=JsonStringSchema(min_length=1),
                data_type=DataType.get_schema(),
                crs=JsonStringSchema(min_length=1),
                bbox=JsonArraySchema(items=[number, number, number, number]),
                time_range=JsonArraySchema(
                    items=[JsonStringSchema(nullable=True), JsonStringSchema(nullable=True)]
                ),
                time_period=JsonStringSchema(min_length=1),
                open_params_schema=_schema_field("Parameters of open_data"),
            ),
            required=["data_id", "data_type"],
            # descriptors written by newer versions may have more fields: they are ignored
            additional_properties=True,
            factory=cls._from_fields,
            serializer=_descriptor_to_json,
        )

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> DataDescriptor:
        """The descriptor of the dict ``value``, of the class its ``data_type`` calls for.

        Called on a subclass, the result is an instance of that subclass. Missing or
        invalid fields raise InvalidParameterError naming the field; unknown fields (from
        newer versions) are ignored.
        """
        if not isinstance(value, Mapping):
            raise InvalidParameterError(
                f"a data descriptor must be a dict, got {type(value).__name__}"
            )
        target = cls
        data_type = value.get("data_type")
        if isinstance(data_type, str):
            found = _DESCRIPTOR_CLASSES.get(data_type)
            if found is None:
                try:
                    found = _DESCRIPTOR_CLASSES.get(DataType.normalize(data_type).alias)
                except InvalidParameterError:
                    found = None  # the schema reports the unknown type
            if found is not None and issubclass(found, cls):
                target = found
        return target.get_schema().from_instance(value)

    def _field_json(self, name: str, value: Any) -> Any:
        if name == "data_type":
            return value.alias
        if isinstance(value, JsonSchema):
            return value.to_dict()
        if isinstance(value, Mapping) and name in ("coords", "data_vars"):
            return {k: v.to_dict() for k, v in value.items()}
        return to_json_value(value)

    # -- readable reprs

    def _overview(self) -> list[tuple[str, str]]:
        rows = [("Data type", self.data_type.alias)]
        if self.crs is not None:
            rows.append(("CRS", str(self.crs)))
        if self.bbox is not None:
            rows.append(("Bounding box", ", ".join(_number(v) for v in self.bbox)))
        if self.time_range is not None:
            start, end = self.time_range
            rows.append(("Time range", f"{start or '…'} to {end or '…'}"))
        if self.time_period is not None:
            rows.append(("Time period", str(self.time_period)))
        return rows

    def _details(self) -> list[tuple[str, Mapping[str, Any], str]]:
        """Titled mappings shown after the overview: (title, mapping, kind)."""
        return []

    def _open_params(self) -> list[str]:
        schema = self.open_params_schema
        return list(getattr(schema, "properties", None) or ())

    def _repr_lines(self) -> list[str]:
        lines = [f"<{type(self).__name__} {self.data_id!r}>"]
        rows = self._overview()
        width = max(len(label) for label, _ in rows) + 2
        lines += [_clip(f"{label + ':':<{width}}{text}") for label, text in rows]
        for title, mapping, kind in self._details():
            if mapping:
                lines.append(f"{title}:")
                lines.extend(
                    _variable_lines(mapping) if kind == "variables" else _mapping_lines(mapping)
                )
        names = self._open_params()
        if names:
            lines.append(_clip(f"Open parameters ({len(names)}): {', '.join(names)}"))
        return lines

    def _html_title(self) -> str:
        return f"{type(self).__name__} {self.data_id!r}"

    def _html_sections(self) -> list[str]:
        sections = [_html_rows(self._overview())]
        for title, mapping, kind in self._details():
            if mapping:
                body = _html_variables(mapping) if kind == "variables" else _html_mapping(mapping)
                sections.append(_html_section(title, body, len(mapping)))
        names = self._open_params()
        if names:
            body = f"<div>{html.escape(', '.join(names))}</div>"
            sections.append(_html_section("Open parameters", body, len(names), is_open=False))
        return sections


class DatasetDescriptor(DataDescriptor):
    """Describes an xarray.Dataset: dims, coordinates, variables, attributes, resolution.

    ``data_vars`` is always a dict (empty when there are none), and is left out of
    ``to_dict`` when empty.
    """

    _FIELDS = (
        *DataDescriptor._FIELDS[:-1],
        "spatial_res",
        "dims",
        "coords",
        "data_vars",
        "attrs",
        "open_params_schema",
    )
    _DATA_TYPES = ("dataset", "mldataset")

    def __init__(
        self,
        data_id: str,
        *,
        data_type: DataTypeLike = "dataset",
        crs: str | None = None,
        bbox: Sequence[float] | None = None,
        time_range: Sequence[str | None] | None = None,
        time_period: str | None = None,
        spatial_res: float | None = None,
        dims: Mapping[str, int] | None = None,
        coords: Mapping[str, VariableDescriptor] | None = None,
        data_vars: Mapping[str, VariableDescriptor] | None = None,
        attrs: Mapping[str, Any] | None = None,
        open_params_schema: JsonObjectSchema | None = None,
        **additional_properties: Any,
    ):
        super().__init__(
            data_id,
            data_type,
            crs=crs,
            bbox=bbox,
            time_range=time_range,
            time_period=time_period,
            open_params_schema=open_params_schema,
            **additional_properties,
        )
        self.spatial_res = None if spatial_res is None else float(spatial_res)
        self.dims: dict[str, int] | None = (
            None if dims is None else {str(k): int(v) for k, v in dims.items()}
        )
        self.coords: dict[str, VariableDescriptor] | None = (
            None if coords is None else _variables(coords, "coords")
        )
        self.data_vars: dict[str, VariableDescriptor] = _variables(data_vars or {}, "data_vars")
        self.attrs: dict[str, Any] | None = None if attrs is None else dict(attrs)

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        schema = super().get_schema()
        variables = JsonObjectSchema(additional_properties=VariableDescriptor.get_schema())
        schema.properties.update(
            spatial_res=JsonNumberSchema(minimum=0),
            dims=JsonObjectSchema(additional_properties=JsonIntegerSchema(minimum=0)),
            coords=variables,
            data_vars=variables.copy(),
            attrs=JsonObjectSchema(additional_properties=True),
        )
        return schema

    @classmethod
    def from_dataset(cls, data_id: str, dataset: Any, **kwargs: Any) -> DatasetDescriptor:
        """Describe an (ideally lazily opened) dataset from its metadata and 1-D coordinates."""
        from ._describe import dataset_fields

        values = dataset_fields(dataset)
        for key in ("coords", "data_vars"):
            values[key] = {k: VariableDescriptor(**v) for k, v in values[key].items()}
        return cls(data_id=data_id, **{**values, **kwargs})

    def _overview(self) -> list[tuple[str, str]]:
        rows = super()._overview()
        if self.spatial_res is not None:
            rows.append(("Spatial resolution", _number(self.spatial_res)))
        if self.dims:
            rows.append(("Dimensions", f"({', '.join(f'{k}: {v}' for k, v in self.dims.items())})"))
        return rows

    def _details(self) -> list[tuple[str, Mapping[str, Any], str]]:
        return [
            ("Coordinates", self.coords or {}, "variables"),
            ("Data variables", self.data_vars, "variables"),
            ("Attributes", self.attrs or {}, "attrs"),
        ]


class MultiLevelDatasetDescriptor(DatasetDescriptor):
    """Describes a MultiLevelDataset: its base level plus the number of levels."""

    _FIELDS = (*DatasetDescriptor._FIELDS[:-1], "num_levels", "open_params_schema")
    _DATA_TYPES = ("mldataset",)

    def __init__(
        self,
        data_id: str,
        num_levels: int = 1,
        *,
        data_type: DataTypeLike = "mldataset",
        **kwargs: Any,
    ):
        super().__init__(data_id, data_type=data_type, **kwargs)
        if isinstance(num_levels, bool) or not isinstance(num_levels, int) or num_levels < 1:
            raise InvalidParameterError(
                f"num_levels must be an integer >= 1, got {num_levels!r}",
                parameter="num_levels",
                data_id=data_id,
            )
        self.num_levels = num_levels

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        schema = super().get_schema()
        schema.properties["num_levels"] = JsonIntegerSchema(minimum=1)
        schema.required = [*schema.required, "num_levels"]
        return schema

    def _overview(self) -> list[tuple[str, str]]:
        return [*super()._overview(), ("Levels", str(self.num_levels))]


class GeoDataFrameDescriptor(DataDescriptor):
    """Describes a GeoDataFrame: feature count and the schema of its properties."""

    _FIELDS = (
        *DataDescriptor._FIELDS[:-1],
        "num_features",
        "feature_schema",
        "open_params_schema",
    )
    _DATA_TYPES = ("geodataframe",)

    def __init__(
        self,
        data_id: str,
        *,
        data_type: DataTypeLike = "geodataframe",
        num_features: int | None = None,
        feature_schema: JsonObjectSchema | None = None,
        **kwargs: Any,
    ):
        super().__init__(data_id, data_type, **kwargs)
        self.num_features = num_features
        self.feature_schema = feature_schema

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        schema = super().get_schema()
        schema.properties.update(
            num_features=JsonIntegerSchema(minimum=0),
            feature_schema=_schema_field("Schema of the feature properties"),
        )
        schema.required = ["data_id"]
        return schema

    def _overview(self) -> list[tuple[str, str]]:
        rows = super()._overview()
        if self.num_features is not None:
            rows.append(("Features", str(self.num_features)))
        return rows

    def _details(self) -> list[tuple[str, Mapping[str, Any], str]]:
        properties = getattr(self.feature_schema, "properties", None) or {}
        return [("Feature properties", {k: _schema_summary(v) for k, v in properties.items()}, "")]


_DESCRIPTOR_CLASSES: dict[str, type[DataDescriptor]] = {
    "dataset": DatasetDescriptor,
    "mldataset": MultiLevelDatasetDescriptor,
    "geodataframe": GeoDataFrameDescriptor,
}


def _variables(value: Mapping[str, Any], name: str) -> dict[str, VariableDescriptor]:
    result = {}
    for key, variable in value.items():
        if isinstance(variable, Mapping):
            variable = VariableDescriptor.from_dict(variable)
        elif not isinstance(variable, VariableDescriptor):
            raise InvalidParameterError(
                f"{name}[{key!r}] must be a VariableDescriptor, got {type(variable).__name__}",
                parameter=name,
            )
        result[str(key)] = variable
    return result


def new_data_descriptor(
    data_id: str, data: Any, require: bool = False, **kwargs: Any
) -> DataDescriptor:
    """Describe in-memory data: a dataset, a multi-level dataset or a GeoDataFrame.

    Other data get a plain DataDescriptor of their type, or, with ``require=True``, an
    InvalidParameterError.
    """
    try:
        data_type = DataType.of(data)
    except InvalidParameterError:
        if require:
            raise
        return DataDescriptor(data_id, type(data), **kwargs)
    if data_type.alias == "dataset":
        return DatasetDescriptor.from_dataset(data_id, data, **kwargs)
    if data_type.alias == "mldataset":
        return MultiLevelDatasetDescriptor.from_dataset(
            data_id, data.get_dataset(0), **{"num_levels": data.num_levels, **kwargs}
        )
    from ._describe import geodataframe_fields

    return GeoDataFrameDescriptor(data_id=data_id, **{**geodataframe_fields(data), **kwargs})


# -- text and HTML reprs ----------------------------------------------------------------------

_WIDTH = 100
_MAX_ITEMS = 30


def _clip(text: str, width: int = _WIDTH) -> str:
    text = " ".join(text.split()) if "\n" in text else text
    return text if len(text) <= width else text[: width - 1] + "…"


def _number(value: float) -> str:
    return f"{value:.6g}"


def _value_text(value: Any) -> str:
    return str(value) if isinstance(value, str) else repr(to_json_value(value))


def _shown(mapping: Mapping[str, Any]) -> tuple[list[tuple[str, Any]], int]:
    items = list(mapping.items())
    return items[:_MAX_ITEMS], max(0, len(items) - _MAX_ITEMS)


def _mapping_lines(mapping: Mapping[str, Any]) -> list[str]:
    items, hidden = _shown(mapping)
    width = max((len(str(k)) for k, _ in items), default=0) + 2
    lines = [_clip(f"    {str(k) + ':':<{width}}{_value_text(v)}") for k, v in items]
    if hidden:
        lines.append(f"    … and {hidden} more")
    return lines


def _variable_note(variable: VariableDescriptor) -> str:
    parts = [str(variable.attrs[k]) for k in ("units", "long_name") if k in variable.attrs]
    return "  ".join(parts)


def _variable_lines(variables: Mapping[str, VariableDescriptor]) -> list[str]:
    items, hidden = _shown(variables)
    name_width = max((len(k) for k, _ in items), default=0) + 2
    dims_width = max((len(", ".join(v.dims)) for _, v in items), default=0) + 4
    lines = []
    for name, variable in items:
        dims = f"({', '.join(variable.dims)})"
        text = f"    {name:<{name_width}}{dims:<{dims_width}}{variable.dtype}"
        if variable.chunks is not None:
            text += f"  chunks ({', '.join(map(str, variable.chunks))})"
        note = _variable_note(variable)
        lines.append(_clip(f"{text}  {note}".rstrip()))
    if hidden:
        lines.append(f"    … and {hidden} more")
    return lines


def _schema_summary(schema: Any) -> str:
    kind = getattr(schema, "type", None) or "any"
    return f"{kind} or null" if getattr(schema, "nullable", False) else kind


_CSS = (
    ".eostores-descriptor{font-family:var(--jp-code-font-family,monospace);font-size:12px}"
    ".eostores-descriptor table{border-collapse:collapse;margin:2px 0}"
    ".eostores-descriptor td,.eostores-descriptor th{padding:1px 8px;text-align:left;"
    "vertical-align:top;border:none}"
    ".eostores-descriptor th{font-weight:bold}"
    ".eostores-descriptor summary{cursor:pointer;font-weight:bold}"
    ".eostores-descriptor .dim{color:var(--jp-content-font-color2,#666)}"
)


def _html_document(title: str, sections: Iterable[str]) -> str:
    body = "".join(sections)
    return (
        f'<div class="eostores-descriptor"><style>{_CSS}</style>'
        f"<div><strong>{html.escape(title)}</strong></div>{body}</div>"
    )


def _html_rows(rows: Iterable[tuple[str, str]]) -> str:
    cells = "".join(
        f"<tr><th>{html.escape(label)}</th><td>{html.escape(text)}</td></tr>"
        for label, text in rows
    )
    return f"<table>{cells}</table>"


def _html_section(title: str, body: str, count: int, *, is_open: bool = True) -> str:
    if not count:
        return ""
    state = " open" if is_open and count <= _MAX_ITEMS else ""
    return (
        f"<details{state}><summary>{html.escape(title)} "
        f'<span class="dim">({count})</span></summary>{body}</details>'
    )


def _html_mapping(mapping: Mapping[str, Any]) -> str:
    return _html_rows((str(k), _value_text(v)) for k, v in mapping.items())


def _html_variables(variables: Mapping[str, VariableDescriptor]) -> str:
    rows = []
    for name, variable in variables.items():
        chunks = "" if variable.chunks is None else ", ".join(map(str, variable.chunks))
        rows.append(
            "<tr>"
            f"<th>{html.escape(name)}</th>"
            f'<td class="dim">({html.escape(", ".join(variable.dims))})</td>'
            f"<td>{html.escape(variable.dtype)}</td>"
            f'<td class="dim">{html.escape(f"chunks ({chunks})" if chunks else "")}</td>'
            f"<td>{html.escape(_variable_note(variable))}</td>"
            "</tr>"
        )
    return f"<table>{''.join(rows)}</table>"
