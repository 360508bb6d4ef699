"""Forms generated from parameter schemas, after the store conventions.

:func:`build_form` turns a JSON Schema of an object (``schema.to_dict()``) into a list of
:class:`Field` s that the page renders as controls: the common open parameters first, in
a fixed order, with friendly labels and tooltips, then the other properties in schema
order. Every field knows its control (``kind``), its label (the title, else the key), its
tooltip (the description), placeholder (the first example), pre-filled default and limits.
Reading submitted values back into parameters is :mod:`eostores_ui.values`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from eostores.credentials import is_secret_name

__all__ = [
    "COMMON_LABELS",
    "COMMON_ORDER",
    "KINDS",
    "Field",
    "Form",
    "build_form",
]

#: The common open parameters, in the order the forms show them.
COMMON_ORDER = (
    "variable_names",
    "bbox",
    "crs",
    "spatial_res",
    "time_range",
    "time_period",
    "force_cube",
)

#: Label and tooltip of each common parameter, used where the schema has no title or
#: description of its own.
COMMON_LABELS: dict[str, tuple[str, str]] = {
    "variable_names": (
        "Variables",
        "The variables to include; all of them when every box is ticked.",
    ),
    "bbox": (
        "Bounding box",
        "The area to cut out: xmin, ymin, xmax, ymax in the units of the coordinate "
        "reference system. Draw it on the map or type the four numbers.",
    ),
    "crs": ("Coordinate reference system", "The CRS of the bounding box and of the result."),
    "spatial_res": (
        "Spatial resolution",
        "Size of a grid cell in the units of the coordinate reference system.",
    ),
    "time_range": (
        "Time range",
        "First and last day to include; an end date covers that whole day.",
    ),
    "time_period": (
        "Time period",
        "Aggregation period: a count and a unit, H, D, W, M or Y (e.g. 1D, 8D, 1M).",
    ),
    "force_cube": ("Force cube", "Return a dataset that follows the data cube convention."),
}

#: Every control a field may be shown as.
KINDS = (
    "checkbox",  # boolean
    "text",  # string
    "password",  # a secret string (or secret object as JSON)
    "select",  # enum
    "const",  # a fixed value, shown but never sent
    "date",  # string, format date
    "datetime",  # string, format date-time
    "number",  # number
    "integer",  # integer
    "checkboxes",  # array with uniqueItems of enumerated items
    "list",  # array of strings or numbers, typed comma-separated
    "bbox",  # the common bbox: four numbers and a map
    "time_range",  # the common time_range: two date pickers
    "tuple",  # a fixed-length array of simple values: one field each
    "group",  # an object with properties: a nested group of fields
    "json",  # anything else: a JSON value typed as text
)

_SIMPLE = {"string", "number", "integer", "boolean"}


@dataclass
class Field:
    """One control of a form; ``path`` is its dotted location below the form's root."""

    name: str
    path: str
    kind: str
    label: str
    tooltip: str | None = None
    placeholder: str | None = None
    default: Any = None
    has_default: bool = False
    required: bool = False
    nullable: bool = False
    secret: bool = False
    common: bool = False
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: float | None = None
    exclusive_maximum: float | None = None
    options: list[dict[str, Any]] | None = None
    value_type: str | None = None
    min_date: str | None = None
    max_date: str | None = None
    date_kind: str | None = None
    extent: list[float] | None = None
    crs: str | None = None
    object_value: bool = False
    all_means_none: bool = False
    children: list[Field] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """The field as the page reads it (values that are unset are left out)."""
        result: dict[str, Any] = {}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            if name == "children":
                if value:
                    result[name] = [child.to_json() for child in value]
            elif name == "default":
                if self.has_default and not self.secret:
                    result[name] = value
            elif value is not None and value is not False:
                result[name] = value
        return result

    def walk(self) -> list[Field]:
        """This field and all fields nested in it, depth first."""
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


@dataclass
class Form:
    """The fields of one parameter schema, in the order they are shown."""

    fields: list[Field]
    title: str | None = None
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        result: dict[str, Any] = {"fields": [f.to_json() for f in self.fields]}
        if self.title:
            result["title"] = self.title
        if self.description:
            result["description"] = self.description
        return result

    def walk(self) -> list[Field]:
        """Every field, nested ones included."""
        return [found for f in self.fields for found in f.walk()]

    def get(self, path: str) -> Field | None:
        """The field at ``path`` (dotted), or None."""
        return next((f for f in self.walk() if f.path == path), None)

    def field_for_error(self, message: str, parameter: str | None) -> str | None:
        """The path of the field an error message is about: the deepest field whose path
        starts the message, else the field of the named parameter, else None."""
        paths = sorted((f.path for f in self.walk()), key=len, reverse=True)
        for path in paths:
            if message.startswith(path) and message[len(path) : len(path) + 1] in (
                " ",
                ".",
                "[",
                ":",
                "",
            ):
                return path
        if parameter:
            top = parameter.split(".")[0].split("[")[0]
            if self.get(top) is not None:
                return top
        return None


def build_form(
    schema: Mapping[str, Any],
    *,
    common: bool = False,
    descriptor: Mapping[str, Any] | None = None,
) -> Form:
    """The form of an object schema (a JSON Schema dict, as ``JsonObjectSchema.to_dict()``).

    With ``common`` (open parameters), the common parameters come first in the
    conventions' order and get friendly labels, the variable checkboxes fall back on the
    variables of ``descriptor`` (a ``DataDescriptor.to_dict()``) when the schema does not
    enumerate them, the date pickers on its time range when the schema sets no
    ``min_datetime``/``max_datetime``, and the map shows its extent.
    """
    properties = dict(schema.get("properties") or {})
    required = set(schema.get("required") or ())
    names = list(properties)
    if common:
        names = [n for n in COMMON_ORDER if n in properties] + [
            n for n in names if n not in COMMON_ORDER
        ]
    fields = [
        _field(
            name,
            properties[name],
            path=name,
            required=name in required,
            common=common and name in COMMON_ORDER,
            descriptor=descriptor if common else None,
        )
        for name in names
    ]
    return Form(fields, schema.get("title"), schema.get("description"))


# -- one field ------------------------------------------------------------------------------


def _types(schema: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The non-null types a schema allows and whether it allows null."""
    kind = schema.get("type")
    kinds = [kind] if isinstance(kind, str) else list(kind or [])
    return [k for k in kinds if k != "null"], "null" in kinds or schema.get("nullable") is True


def _alternatives(schema: Mapping[str, Any]) -> tuple[list[Mapping[str, Any]], bool]:
    """The non-null alternatives of an anyOf/oneOf (else the schema itself) and nullability."""
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and "type" not in schema:
            non_null = [o for o in options if isinstance(o, Mapping) and o.get("type") != "null"]
            return non_null, len(non_null) < len(options)
    _, nullable = _types(schema)
    return [schema], nullable


def _merged(base: Mapping[str, Any], alternative: Mapping[str, Any]) -> dict[str, Any]:
    """An alternative with the annotations of the schema that holds it."""
    merged = dict(alternative)
    for key in ("title", "description", "examples", "default"):
        if key in base and key not in merged:
            merged[key] = base[key]
    return merged


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _common_label(name: str, schema: Mapping[str, Any], common: bool) -> tuple[str, str | None]:
    title, description = schema.get("title"), schema.get("description")
    if common and name in COMMON_LABELS:
        friendly, tip = COMMON_LABELS[name]
        return title or friendly, description or tip
    return title or name, description


def _field(
    name: str,
    schema: Mapping[str, Any],
    *,
    path: str,
    required: bool = False,
    common: bool = False,
    descriptor: Mapping[str, Any] | None = None,
) -> Field:
    if not isinstance(schema, Mapping):
        schema = {}
    label, tooltip = _common_label(name, schema, common)
    examples = schema.get("examples")
    result = Field(
        name=name,
        path=path,
        kind="json",
        label=label,
        tooltip=tooltip,
        placeholder=_text(examples[0]) if isinstance(examples, list) and examples else None,
        required=required,
        common=common,
    )
    if "default" in schema:
        result.default, result.has_default = schema["default"], True
    alternatives, nullable = _alternatives(schema)
    result.nullable = nullable
    secret = (
        is_secret_name(name)
        or name.lower().endswith("headers")  # HTTP headers carry credentials
        or any(a.get("format") == "password" for a in alternatives)
    )
    result.secret = secret
    if common and name == "bbox" and _as_bbox(result, alternatives, descriptor):
        return result
    if common and name == "time_range" and _as_time_range(result, alternatives, descriptor):
        return result
    if common and name == "variable_names" and _as_variables(result, alternatives, descriptor):
        return result
    if _constant(schema, alternatives) is not None:
        result.kind = "const"
        value = _constant(schema, alternatives)[0]  # type: ignore[index]
        result.options = [{"value": value, "label": _text(value)}]
        result.default, result.has_default = value, True
        return result
    if len(alternatives) == 1:
        _single(result, _merged(schema, alternatives[0]), descriptor)
    else:
        _union(result, alternatives)
    if secret and result.kind in ("text", "json"):
        result.kind = "password"
        result.object_value = result.object_value or any(
            "object" in _types(a)[0] for a in alternatives
        )
    return result


def _constant(schema: Mapping[str, Any], alternatives: list[Mapping[str, Any]]) -> list | None:
    """``[value]`` when the schema allows a single value (const or a one-value enum)."""
    for candidate in (schema, *alternatives[:1]):
        if "const" in candidate:
            return [candidate["const"]]
        enum = candidate.get("enum")
        if isinstance(enum, list) and len(enum) == 1 and len(alternatives) == 1:
            return [enum[0]]
    return None


def _single(result: Field, schema: Mapping[str, Any], descriptor: Mapping[str, Any] | None) -> None:
    types, nullable = _types(schema)
    result.nullable = result.nullable or nullable
    kind = types[0] if len(types) == 1 else None
    if kind is None and "properties" in schema:
        kind = "object"
    enum = schema.get("enum")
    if isinstance(enum, list) and kind in ("string", "number", "integer", None):
        result.kind = "select"
        result.value_type = kind or "string"
        result.options = [{"value": v, "label": _text(v)} for v in enum if v is not None]
        return
    if kind == "boolean":
        result.kind = "checkbox"
    elif kind == "string":
        fmt = schema.get("format")
        if fmt in ("date", "date-time"):
            result.kind = "date" if fmt == "date" else "datetime"
            result.min_date = schema.get("min_datetime")
            result.max_date = schema.get("max_datetime")
        else:
            result.kind = "password" if fmt == "password" or result.secret else "text"
        if result.placeholder is None and fmt in ("date", "date-time"):
            result.placeholder = "YYYY-MM-DD" if fmt == "date" else "YYYY-MM-DDThh:mm:ssZ"
    elif kind in ("number", "integer"):
        result.kind = kind
        _limits(result, schema)
    elif kind == "array":
        _array(result, schema)
    elif kind == "object":
        _object(result, schema)
    else:
        result.kind = "json"


def _limits(result: Field, schema: Mapping[str, Any]) -> None:
    for key, attr in (
        ("minimum", "minimum"),
        ("maximum", "maximum"),
        ("exclusiveMinimum", "exclusive_minimum"),
        ("exclusiveMaximum", "exclusive_maximum"),
    ):
        value = schema.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            setattr(result, attr, value)


def _enumerated(items: Any) -> list[dict[str, Any]] | None:
    """The allowed values (with labels) of an item schema that enumerates them."""
    if not isinstance(items, Mapping):
        return None
    if isinstance(items.get("enum"), list):
        return [{"value": v, "label": _text(v)} for v in items["enum"]]
    for key in ("oneOf", "anyOf"):
        options = items.get(key)
        if (
            isinstance(options, list)
            and options
            and all(isinstance(o, Mapping) and "const" in o for o in options)
        ):
            return [
                {"value": o["const"], "label": o.get("title") or _text(o["const"])} for o in options
            ]
    return None


def _item_type(items: Any) -> str | None:
    if isinstance(items, Mapping):
        types, _ = _types(items)
        if len(types) == 1 and types[0] in ("string", "number", "integer"):
            return types[0]
    return None


def _array(result: Field, schema: Mapping[str, Any]) -> None:
    items = schema.get("items")
    prefix = schema.get("prefixItems")
    if prefix is None and isinstance(items, list):
        prefix = items
    if isinstance(prefix, list) and prefix:
        if all(_item_type(p) or _types(p)[0] == ["boolean"] for p in prefix):
            result.kind = "tuple"
            result.children = [
                _field(
                    p.get("title") or f"{result.name}[{i}]",
                    p,
                    path=f"{result.path}[{i}]",
                )
                for i, p in enumerate(prefix)
            ]
            return
        result.kind = "json"
        return
    options = _enumerated(items) if schema.get("uniqueItems") else None
    if options is not None:
        result.kind = "checkboxes"
        result.options = options
        return
    item_type = _item_type(items) if items is not None else "string"
    if item_type is not None:
        result.kind = "list"
        result.value_type = item_type
        if result.placeholder is None:
            result.placeholder = "comma-separated"
        return
    result.kind = "json"


def _object(result: Field, schema: Mapping[str, Any]) -> None:
    properties = schema.get("properties")
    if isinstance(properties, Mapping) and properties:
        required = set(schema.get("required") or ())
        result.kind = "group"
        result.children = [
            _field(key, sub, path=f"{result.path}.{key}", required=key in required)
            for key, sub in properties.items()
        ]
        return
    result.kind = "json"
    result.object_value = True
    if result.placeholder is None:
        result.placeholder = '{"name": "value"}'


def _union(result: Field, alternatives: list[Mapping[str, Any]]) -> None:
    """Several alternatives: a value or a list of values is a list; else JSON text."""
    kinds = [_types(a)[0] for a in alternatives]
    flat = [k[0] for k in kinds if len(k) == 1]
    if len(flat) == 2 and "array" in flat:
        array = alternatives[flat.index("array")]
        scalar = flat[1 - flat.index("array")]
        if _item_type(array.get("items")) == scalar and scalar in ("string", "number", "integer"):
            result.kind = "list"
            result.value_type = scalar
            if result.placeholder is None:
                result.placeholder = "comma-separated"
            return
    if all(len(k) == 1 and k[0] == "string" for k in kinds):
        formats = {a.get("format") for a in alternatives}
        if formats <= {"date", "date-time"}:
            result.kind = "date" if "date" in formats else "datetime"
            result.min_date, result.max_date = _date_limits(alternatives)
            return
        result.kind = "text"
        return
    result.kind = "json"
    if result.placeholder is None:
        result.placeholder = "a JSON value"


# -- the common parameters -------------------------------------------------------------------


def _date_limits(alternatives: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    lows = [a.get("min_datetime") for a in alternatives if a.get("min_datetime")]
    highs = [a.get("max_datetime") for a in alternatives if a.get("max_datetime")]
    return (min(lows) if lows else None), (max(highs) if highs else None)


def _array_alternative(alternatives: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    return next((a for a in alternatives if "array" in _types(a)[0]), None)


def _as_bbox(
    result: Field, alternatives: list[Mapping[str, Any]], descriptor: Mapping[str, Any] | None
) -> bool:
    array = _array_alternative(alternatives)
    if array is None:
        return False
    prefix = array.get("prefixItems")
    if prefix is None and isinstance(array.get("items"), list):
        prefix = array["items"]
    if isinstance(prefix, list):
        if len(prefix) != 4:
            return False
        coordinates = prefix
    else:
        items = array.get("items") if isinstance(array.get("items"), Mapping) else {}
        coordinates = [items] * 4
    result.kind = "bbox"
    result.nullable = result.nullable or _types(array)[1]
    result.children = []
    names = ("xmin", "ymin", "xmax", "ymax")
    for i, (name, sub) in enumerate(zip(names, coordinates, strict=True)):
        child = Field(name=name, path=f"bbox[{i}]", kind="number", label=sub.get("title") or name)
        child.tooltip = sub.get("description")
        _limits(child, sub)
        result.children.append(child)
    if descriptor:
        extent = descriptor.get("bbox")
        if isinstance(extent, list | tuple) and len(extent) == 4:
            result.extent = [float(v) for v in extent]
        result.crs = descriptor.get("crs")
    return True


def _time_bound(item: Mapping[str, Any]) -> tuple[set[str], str | None, str | None]:
    alternatives, _ = _alternatives(item)
    formats = {a.get("format") for a in alternatives if "string" in _types(a)[0]}
    low, high = _date_limits(alternatives)
    return formats, low, high


def _as_time_range(
    result: Field, alternatives: list[Mapping[str, Any]], descriptor: Mapping[str, Any] | None
) -> bool:
    array = _array_alternative(alternatives)
    if array is None:
        return False
    prefix = array.get("prefixItems")
    if prefix is None and isinstance(array.get("items"), list):
        prefix = array["items"]
    if not isinstance(prefix, list) or len(prefix) != 2:
        item = array.get("items")
        if not isinstance(item, Mapping):
            return False
        prefix = [item, item]
    bounds = [_time_bound(p) for p in prefix]
    formats = set().union(*(b[0] for b in bounds))
    if not formats or not formats <= {"date", "date-time"}:
        return False
    result.kind = "time_range"
    result.nullable = result.nullable or _types(array)[1]
    result.date_kind = "date" if "date" in formats else "datetime"
    lows = [b[1] for b in bounds if b[1]]
    highs = [b[2] for b in bounds if b[2]]
    result.min_date = min(lows) if lows else None
    result.max_date = max(highs) if highs else None
    if descriptor and not (result.min_date or result.max_date):
        extent = descriptor.get("time_range")
        if isinstance(extent, list | tuple) and len(extent) == 2:
            result.min_date = extent[0]
            result.max_date = extent[1]
    result.children = [
        Field(
            name=name,
            path=f"time_range[{i}]",
            kind=result.date_kind,
            label=p.get("title") or name.capitalize(),
            tooltip=p.get("description"),
            min_date=result.min_date,
            max_date=result.max_date,
            nullable=True,
        )
        for i, (name, p) in enumerate(zip(("start", "end"), prefix, strict=True))
    ]
    return True


def _as_variables(
    result: Field, alternatives: list[Mapping[str, Any]], descriptor: Mapping[str, Any] | None
) -> bool:
    array = _array_alternative(alternatives)
    if array is None:
        return False
    options = _enumerated(array.get("items"))
    if options is None and descriptor:
        data_vars = descriptor.get("data_vars") or {}
        if isinstance(data_vars, Mapping) and data_vars:
            options = [
                {"value": name, "label": _variable_label(name, var)}
                for name, var in data_vars.items()
            ]
    if options is None:
        return False
    result.kind = "checkboxes"
    result.options = options
    result.nullable = result.nullable or _types(array)[1]
    result.all_means_none = True
    return True


def _variable_label(name: str, variable: Any) -> str:
    attrs = variable.get("attrs") if isinstance(variable, Mapping) else None
    attrs = attrs if isinstance(attrs, Mapping) else {}
    long_name, units = attrs.get("long_name"), attrs.get("units")
    text = name
    if long_name and long_name != name:
        text += f" ({long_name})"
    if units:
        text += f" [{units}]"
    return text
