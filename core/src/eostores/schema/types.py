"""JSON Schema classes describing store parameters: construction, JSON round trip, validation.

The classes emit JSON Schema draft 2020-12 (``to_dict``), parse it back (``from_dict``) and
validate Python values themselves (``validate_instance``), filling defaults and raising
:class:`~eostores.errors.InvalidParameterError` with messages that name the parameter, the
value and what is allowed. Date and date-time strings may carry the time-limit extension
keywords ``min_datetime`` / ``max_datetime``, which are enforced as well.

Schemas also convert between Python objects and JSON values: ``to_instance`` serializes an
object (``serializer`` of a schema, attributes of objects for object schemas) and validates
the result; ``from_instance`` validates a JSON value and builds objects from it
(``factory`` of a schema, called with the converted properties of an object).
:class:`JsonObject` is the base of classes whose attributes a schema describes.
"""

from __future__ import annotations

import copy
import difflib
import math
import numbers
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, ClassVar

from eostores.credentials import is_secret_name
from eostores.errors import InvalidParameterError

__all__ = [
    "JSON_SCHEMA_DIALECT",
    "UNDEFINED",
    "JsonArraySchema",
    "JsonBooleanSchema",
    "JsonComplexSchema",
    "JsonDateSchema",
    "JsonDatetimeSchema",
    "JsonIntegerSchema",
    "JsonNullSchema",
    "JsonNumberSchema",
    "JsonObject",
    "JsonObjectSchema",
    "JsonSchema",
    "JsonSimpleSchema",
    "JsonStringSchema",
    "UndefinedType",
    "parse_date_string",
    "parse_datetime_string",
]

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

_TYPE_NAMES = ("null", "boolean", "string", "number", "integer", "array", "object")
_TYPE_NOUNS = {
    "null": "null",
    "boolean": "a boolean",
    "string": "a string",
    "number": "a number",
    "integer": "an integer",
    "array": "an array",
    "object": "an object",
}
_DATE_EXAMPLE = "a date such as 2020-01-01"
_DATETIME_EXAMPLE = "a date-time such as 2020-01-01T00:00:00Z"
_MAX_REPR = 80
_MAX_LISTED = 10


class UndefinedType:
    """Type of :data:`UNDEFINED`, the marker for "no value given" where None is a value."""

    _instance: ClassVar[UndefinedType | None] = None

    def __new__(cls) -> UndefinedType:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return "UNDEFINED"

    def __reduce__(self) -> str:
        return "UNDEFINED"


UNDEFINED = UndefinedType()


# -- dates and times ------------------------------------------------------------------------

_DATE_RE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
_DATETIME_RE = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})?$"
)


def parse_date_string(text: str) -> date | None:
    """The calendar date of a ``YYYY-MM-DD`` string, or None if it is not one."""
    match = _DATE_RE.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    try:
        return date(*map(int, match.groups()))
    except ValueError:
        return None


def parse_datetime_string(text: str) -> datetime | None:
    """The instant of an RFC 3339 date-time as a naive UTC datetime, or None if not one.

    A missing offset means UTC. Fractions beyond microseconds are truncated.
    """
    match = _DATETIME_RE.match(text) if isinstance(text, str) else None
    if match is None:
        return None
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    micros = int((fraction or "0")[:6].ljust(6, "0"))
    try:
        value = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micros
        )
    except ValueError:
        return None
    if offset and offset not in "Zz":
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            return None
        sign = 1 if offset[0] == "+" else -1
        delta = sign * (hours * 60 + minutes)
        try:
            value = value - timedelta(minutes=delta)
        except OverflowError:
            return None
    return value


def _format_datetime(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value.isoformat() + "Z"


def _temporal_to_python(value: Any) -> Any:
    """numpy.datetime64 to date/datetime (without importing numpy); other values unchanged."""
    if type(value).__name__ == "datetime64" and hasattr(value, "astype"):
        if str(getattr(value, "dtype", "")).endswith("[D]"):
            return value.astype("datetime64[D]").item()
        return value.astype("datetime64[us]").item()
    return value


def _parse_limit(value: Any, what: str, *, date_only: bool) -> str | None:
    """Normalise a time limit to its string form without losing any part of it.

    A date-time without an offset means UTC and is written with ``Z``. A date schema keeps
    a date-time limit as it is (dates are compared with it on its UTC date), except one at
    midnight UTC, which is written as its date.
    """
    if value is None:
        return None
    value = _temporal_to_python(value)
    if isinstance(value, datetime):
        text = _format_datetime(value)
    elif isinstance(value, date):
        text = value.isoformat()
    elif isinstance(value, str):
        text = value
    else:
        raise InvalidParameterError(f"{what} must be a date or date-time, got {value!r}")
    if parse_date_string(text) is not None:
        return text
    instant = parse_datetime_string(text)
    if instant is None:
        raise InvalidParameterError(f"{what} must be a date or date-time, got {text!r}")
    if date_only and instant.time() == time(0):
        return instant.date().isoformat()
    if not _DATETIME_RE.match(text).group(8):  # type: ignore[union-attr]
        text += "Z"  # emitted limits follow RFC 3339, which requires an offset
    return text


def _instant(text: str) -> date | datetime:
    """A limit or value string as a date (date-only) or naive UTC datetime."""
    return parse_date_string(text) or parse_datetime_string(text)  # type: ignore[return-value]


def _compare_times(a: date | datetime, b: date | datetime) -> int:
    """Compare as instants; when either side is a date only, compare on the (UTC) date."""
    if not isinstance(a, datetime) or not isinstance(b, datetime):
        a = a.date() if isinstance(a, datetime) else a
        b = b.date() if isinstance(b, datetime) else b
    return (a > b) - (a < b)


# -- JSON values ----------------------------------------------------------------------------


def _to_json_value(value: Any, what: str) -> Any:
    """A deep copy of ``value`` made of JSON types only (tuples -> lists, dates -> ISO)."""
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    value = _temporal_to_python(value)
    if isinstance(value, datetime):
        return _format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Mapping):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise InvalidParameterError(f"{what}: object keys must be strings, got {key!r}")
            result[key] = _to_json_value(item, what)
        return result
    if isinstance(value, list | tuple):
        return [_to_json_value(item, what) for item in value]
    raise InvalidParameterError(f"{what} must be a JSON value, got {short_repr(value)}")


def json_equal(a: Any, b: Any) -> bool:
    """Equality as JSON sees it: 1 == 1.0, but true != 1; tuples equal lists."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, numbers.Real) and isinstance(b, numbers.Real):
        return a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, str) and isinstance(b, str):
        return a == b
    return a is None and b is None


def _json_key(value: Any) -> Any:
    """A hashable key such that equal keys mean JSON-equal values (for uniqueItems)."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, numbers.Real):
        return ("n", value)
    if isinstance(value, list | tuple):
        return ("a", tuple(_json_key(v) for v in value))
    if isinstance(value, Mapping):
        return ("o", frozenset((k, _json_key(v)) for k, v in value.items()))
    if isinstance(value, str):
        return ("s", value)
    if value is None:
        return ("z", None)
    return ("x", id(value))


# -- error reporting ------------------------------------------------------------------------

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_RANK_TYPE, _RANK_FORMAT, _RANK_CONSTRAINT = 0, 1, 2


def short_repr(value: Any, limit: int = _MAX_REPR) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _format_path(path: Sequence[str | int]) -> str:
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{part!r}]"
    return text


def _is_secret_path(path: Sequence[str | int]) -> bool:
    return any(isinstance(part, str) and is_secret_name(part) for part in path)


def _join_alternatives(phrases: Sequence[str]) -> str:
    if len(phrases) == 1:
        return phrases[0]
    return ", ".join(phrases[:-1]) + " or " + phrases[-1]


def closest_match(word: Any, candidates: Iterable[Any]) -> str | None:
    if not isinstance(word, str):
        return None
    names = [c for c in candidates if isinstance(c, str)]
    matches = difflib.get_close_matches(word, names, n=1, cutoff=0.6)
    return matches[0] if matches else None


def listing(values: Sequence[Any], *, quote: bool = True) -> str:
    shown = [short_repr(v, 40) if quote else str(v) for v in values[:_MAX_LISTED]]
    text = ", ".join(shown)
    if len(values) > _MAX_LISTED:
        text += f", ... ({len(values) - _MAX_LISTED} more)"
    return text


def _one_of_requirement(allowed: Sequence[Any], value: Any) -> str:
    if len(allowed) == 1:
        text = f"must be {short_repr(allowed[0])}"
    elif not allowed:
        text = "no value is allowed"
    else:
        text = f"must be one of {listing(allowed)}"
    suggestion = closest_match(value, allowed)
    if suggestion is not None:
        text += f" (did you mean {suggestion!r}?)"
    return text


class _Failure(Exception):
    """Why an instance does not match a schema; turned into an InvalidParameterError."""

    def __init__(
        self,
        path: Sequence[str | int],
        value: Any,
        requirement: str,
        *,
        rank: int = _RANK_CONSTRAINT,
        expected: str | None = None,
        allowed_values: Sequence[Any] | None = None,
        message: str | None = None,
        hidden: bool = False,
    ):
        super().__init__(requirement)
        self.path = list(path)
        self.requirement = requirement
        self.rank = rank
        self.expected = expected
        self.allowed_values = allowed_values
        self.value = value
        self.hidden = hidden or _is_secret_path(path)
        self.message = message

    def text(self) -> str:
        if self.message is not None:
            return self.message
        shown = "<hidden>" if self.hidden else short_repr(self.value)
        return f"{_format_path(self.path) or 'value'} = {shown}: {self.requirement}"

    def to_error(self) -> InvalidParameterError:
        first = self.path[0] if self.path else None
        parameter = first if isinstance(first, str) else None
        return InvalidParameterError(self.text(), parameter=parameter)


# -- the schema classes ---------------------------------------------------------------------


class JsonSchema:
    """A JSON Schema; the base of the typed schema classes.

    ``type`` is one of the JSON types or None for "any type". ``nullable`` adds ``null`` to
    the allowed types. ``default`` is filled in by :meth:`validate_instance` when the
    schema describes an object property that was not given. Use :data:`UNDEFINED` for "no
    default" / "no const", since None is a legitimate value of both.

    ``factory`` builds the Python value of a validated JSON value in :meth:`from_instance`
    (object schemas call it with the properties as keyword arguments); ``serializer`` turns
    a Python value into its JSON value in :meth:`to_instance`. Neither is part of the
    emitted JSON Schema.
    """

    _FIELDS: ClassVar[tuple[tuple[str, Any], ...]] = ()
    _BASE_FIELDS: ClassVar[tuple[tuple[str, Any], ...]] = (
        ("nullable", False),
        ("enum", None),
        ("const", UNDEFINED),
        ("default", UNDEFINED),
        ("title", None),
        ("description", None),
        ("examples", None),
        ("factory", None),
        ("serializer", None),
    )

    def __init__(
        self,
        type: str | None = None,
        *,
        default: Any = UNDEFINED,
        const: Any = UNDEFINED,
        enum: Sequence[Any] | None = None,
        nullable: bool = False,
        title: str | None = None,
        description: str | None = None,
        examples: Sequence[Any] | None = None,
        factory: Callable[..., Any] | None = None,
        serializer: Callable[[Any], Any] | None = None,
    ):
        if type is not None and type not in _TYPE_NAMES:
            raise InvalidParameterError(
                f"unknown JSON Schema type {type!r}; allowed: {', '.join(_TYPE_NAMES)}"
            )
        for name, function in (("factory", factory), ("serializer", serializer)):
            if function is not None and not callable(function):
                raise InvalidParameterError(f"{name} must be callable, got {function!r}")
        self.factory = factory
        self.serializer = serializer
        self.type = type
        self.nullable = bool(nullable) and type not in (None, "null")
        self.default = UNDEFINED if default is UNDEFINED else _to_json_value(default, "default")
        self.const = UNDEFINED if const is UNDEFINED else _to_json_value(const, "const")
        if enum is not None:
            if isinstance(enum, str | bytes) or not isinstance(enum, Iterable):
                raise InvalidParameterError(f"enum must be a list of values, got {enum!r}")
            enum = _to_json_value(list(enum), "enum")
            if type not in (None, "null") and None in enum:
                # null among the allowed values of a typed schema means "nullable"
                self.nullable = True
                enum = [v for v in enum if v is not None]
        self.enum: list[Any] | None = enum
        self.title = title
        self.description = description
        self.examples = None if examples is None else _to_json_value(list(examples), "examples")

    # -- JSON ---------------------------------------------------------------------------

    def to_dict(self, *, root: bool = False) -> dict[str, Any]:
        """This schema as a JSON Schema (draft 2020-12) dict; ``root`` adds ``$schema``."""
        result: dict[str, Any] = {}
        if root:
            result["$schema"] = JSON_SCHEMA_DIALECT
        if self.type is not None:
            result["type"] = [self.type, "null"] if self.nullable else self.type
        if self.title is not None:
            result["title"] = self.title
        if self.description is not None:
            result["description"] = self.description
        result.update(self._keywords())
        if self.enum is not None:
            result["enum"] = copy.deepcopy(self.enum) + ([None] if self.nullable else [])
        if self.const is not UNDEFINED:
            result["const"] = copy.deepcopy(self.const)
        if self.default is not UNDEFINED:
            result["default"] = copy.deepcopy(self.default)
        if self.examples is not None:
            result["examples"] = copy.deepcopy(self.examples)
        return result

    def _keywords(self) -> dict[str, Any]:
        """The type-specific keywords of ``to_dict``."""
        return {}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> JsonSchema:
        """Parse a JSON Schema dict (as made by ``to_dict`` or written by hand)."""
        schema = _schema_from_dict(data, "#")
        if not isinstance(schema, cls):
            raise InvalidParameterError(
                f"the JSON Schema describes a {type(schema).__name__}, not a {cls.__name__}"
            )
        return schema

    # -- Python protocol ------------------------------------------------------------------

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, JsonSchema):
            return NotImplemented
        return json_equal(self.to_dict(), other.to_dict())

    __hash__ = None  # type: ignore[assignment]  # schemas are mutable

    def __repr__(self) -> str:
        parts = []
        if type(self) is JsonSchema and self.type is not None:
            parts.append(repr(self.type))
        for name, default in self._FIELDS + self._BASE_FIELDS:
            value = getattr(self, name)
            if value is default or (value == default and type(value) is type(default)):
                continue
            parts.append(f"{name}={self._repr_value(name, value)}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def _repr_value(self, name: str, value: Any) -> str:
        if name in ("factory", "serializer"):
            return getattr(value, "__qualname__", None) or short_repr(value, 60)
        if isinstance(value, list) and value and isinstance(value[0], JsonSchema):
            return "[" + ", ".join(short_repr(item, 40) for item in value) + "]"
        return short_repr(value, 60)

    def copy(self) -> JsonSchema:
        """A deep copy, free to be changed."""
        return copy.deepcopy(self)

    # -- validation ------------------------------------------------------------------------

    def validate_instance(self, instance: Any, *, name: str = "") -> Any:
        """Check ``instance`` and return it with object defaults filled in (not mutated).

        ``name`` is the parameter's name, used in error messages. Raises
        InvalidParameterError naming the path of the offending value, the value and
        what is allowed.
        """
        try:
            return self._validate(instance, [name] if name else [])
        except _Failure as failure:
            raise failure.to_error() from None

    def _validate(self, value: Any, path: list[str | int]) -> Any:
        if value is None and self.nullable:
            if self.const is not UNDEFINED and self.const is not None:
                raise self._failure(path, value, f"must be {short_repr(self.const)}")
            return None
        value = self._coerce(value, path)
        self._check_const_enum(value, path)
        return self._check(value, path)

    def _failure(
        self, path: Sequence[str | int], value: Any, requirement: str, **kwargs
    ) -> _Failure:
        return _Failure(path, value, requirement, **kwargs)

    def _expected(self) -> str:
        noun = _TYPE_NOUNS.get(self.type or "", "a value")
        return f"{noun} or null" if self.nullable else noun

    def _type_error(self, path: Sequence[str | int], value: Any) -> _Failure:
        expected = self._expected()
        return self._failure(path, value, f"must be {expected}", rank=_RANK_TYPE, expected=expected)

    def _coerce(self, value: Any, path: list[str | int]) -> Any:
        """Check the JSON type; return the value in its canonical Python form."""
        kind = self.type
        if kind is None:
            return value
        if kind == "null":
            ok = value is None
        elif kind == "boolean":
            ok = isinstance(value, bool)
        elif kind == "string":
            ok = isinstance(value, str)
        elif kind in ("number", "integer"):
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            if ok and isinstance(value, float) and not math.isfinite(value):
                raise self._failure(path, value, "must be a finite number")
            if ok and kind == "integer":
                if isinstance(value, numbers.Integral):
                    return int(value)
                ok = float(value).is_integer()
                if ok:
                    return int(value)
        elif kind == "array":
            ok = isinstance(value, list | tuple)
        else:
            ok = isinstance(value, Mapping)
        if not ok:
            raise self._type_error(path, value)
        return value

    def _check_const_enum(self, value: Any, path: list[str | int]) -> None:
        if self.const is not UNDEFINED and not json_equal(value, self.const):
            raise self._failure(
                path, value, f"must be {short_repr(self.const)}", allowed_values=[self.const]
            )
        if self.enum is not None and not any(json_equal(value, v) for v in self.enum):
            raise self._failure(
                path, value, _one_of_requirement(self.enum, value), allowed_values=self.enum
            )

    def _check(self, value: Any, path: list[str | int]) -> Any:
        """Type-specific constraints; returns the (possibly completed) value."""
        return value

    # -- conversion between Python objects and JSON values ---------------------------------

    def to_instance(self, value: Any, *, name: str = "") -> Any:
        """The JSON value of the Python ``value``, validated (object defaults filled in).

        Each schema's ``serializer`` turns its part of ``value`` into JSON; without one,
        arrays and objects convert their items, and an object schema reads the properties
        of an object that is not a mapping from its attributes (or its ``to_dict()``).
        """
        path: list[str | int] = [name] if name else []
        try:
            return self._validate(self._to_json(value, path), path)
        except _Failure as failure:
            raise failure.to_error() from None

    def from_instance(self, instance: Any, *, name: str = "") -> Any:
        """Validate the JSON value ``instance`` and build its Python value.

        Each schema's ``factory`` builds its part from the converted JSON value (an object
        schema's factory is called with the properties as keyword arguments); null stays
        None. Without factories the result is the validated JSON value.
        """
        return self._from_json(self.validate_instance(instance, name=name))

    def _to_json(self, value: Any, path: list[str | int]) -> Any:
        if value is None:
            return None
        if self.serializer is not None:
            return self.serializer(value)
        return self._to_json_parts(value, path)

    def _to_json_parts(self, value: Any, path: list[str | int]) -> Any:
        """Convert the parts of ``value`` (items, properties); simple values stay as they are."""
        return value

    def _from_json(self, instance: Any) -> Any:
        if instance is None:
            return None
        value = self._from_json_parts(instance)
        return value if self.factory is None else self._build(value)

    def _from_json_parts(self, instance: Any) -> Any:
        return instance

    def _build(self, value: Any) -> Any:
        return self.factory(value)  # type: ignore[misc]


class JsonSimpleSchema(JsonSchema):
    """A schema of one JSON type with no parts: null, boolean, string, number or integer."""

    def __init__(self, type: str, **kwargs: Any):
        if type not in ("null", "boolean", "string", "number", "integer"):
            raise InvalidParameterError(
                f"a simple schema's type must be null, boolean, string, number or integer, "
                f"got {type!r}"
            )
        super().__init__(type, **kwargs)

    def __repr__(self) -> str:
        text = super().__repr__()
        if type(self) is JsonSimpleSchema:
            text = text.replace("(", f"({self.type!r}" + (", " if text[-2] != "(" else ""), 1)
        return text


class JsonNullSchema(JsonSimpleSchema):
    """The value null (None) only."""

    def __init__(self, **kwargs: Any):
        kwargs.pop("nullable", None)
        super().__init__("null", **kwargs)


class JsonBooleanSchema(JsonSimpleSchema):
    """True or False."""

    def __init__(self, **kwargs: Any):
        super().__init__("boolean", **kwargs)


class JsonStringSchema(JsonSimpleSchema):
    """A string; ``format`` "date" and "date-time" are checked, other formats are annotations.

    Python date and datetime objects (and numpy.datetime64) are accepted where the format is
    "date" or "date-time" and returned as ISO strings (naive datetimes are taken as UTC).
    """

    _FIELDS = (("format", None), ("pattern", None), ("min_length", None), ("max_length", None))

    def __init__(
        self,
        format: str | None = None,
        pattern: str | None = None,
        min_length: int | None = None,
        max_length: int | None = None,
        **kwargs: Any,
    ):
        super().__init__("string", **kwargs)
        if pattern is not None:
            try:
                re.compile(pattern)
            except re.error as error:
                raise InvalidParameterError(f"invalid pattern {pattern!r}: {error}") from None
        self.format = format
        self.pattern = pattern
        self.min_length = min_length
        self.max_length = max_length

    def _keywords(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.format is not None:
            result["format"] = self.format
        if self.pattern is not None:
            result["pattern"] = self.pattern
        if self.min_length is not None:
            result["minLength"] = self.min_length
        if self.max_length is not None:
            result["maxLength"] = self.max_length
        return result

    def _expected(self) -> str:
        noun = {"date": _DATE_EXAMPLE, "date-time": _DATETIME_EXAMPLE}.get(
            self.format or "", "a string"
        )
        return f"{noun} or null" if self.nullable else noun

    def _coerce(self, value: Any, path: list[str | int]) -> Any:
        if self.format in ("date", "date-time") and not isinstance(value, str):
            value = _temporal_to_python(value)
            if self.format == "date-time" and isinstance(value, datetime):
                return _format_datetime(value)
            is_date = isinstance(value, date) and not isinstance(value, datetime)
            if self.format == "date" and is_date:
                return value.isoformat()
        return super()._coerce(value, path)

    def _check(self, value: str, path: list[str | int]) -> Any:
        if self.min_length is not None and len(value) < self.min_length:
            raise self._failure(path, value, f"must have at least {self.min_length} characters")
        if self.max_length is not None and len(value) > self.max_length:
            raise self._failure(path, value, f"must have at most {self.max_length} characters")
        if self.pattern is not None and re.search(self.pattern, value) is None:
            raise self._failure(path, value, f"must match the pattern {self.pattern!r}")
        if self.format == "date" and parse_date_string(value) is None:
            raise self._format_error(path, value)
        if self.format == "date-time" and parse_datetime_string(value) is None:
            raise self._format_error(path, value)
        return value

    def _format_error(self, path: list[str | int], value: Any) -> _Failure:
        expected = self._expected().removesuffix(" or null")
        return self._failure(
            path, value, f"must be {expected}", rank=_RANK_FORMAT, expected=expected
        )

    def _failure(
        self, path: Sequence[str | int], value: Any, requirement: str, **kwargs
    ) -> _Failure:
        return _Failure(path, value, requirement, hidden=self.format == "password", **kwargs)


class _TimeLimitsMixin:
    """Checks the ``min_datetime`` / ``max_datetime`` extension of date(-time) schemas."""

    def _check_limits(
        self, value: str, path: list[str | int], low: str | None, high: str | None
    ) -> None:
        instant = _instant(value)
        if low is not None and _compare_times(instant, _instant(low)) < 0:
            raise self._failure(path, value, f"must be on or after {low}")  # type: ignore[attr-defined]
        if high is not None and _compare_times(instant, _instant(high)) > 0:
            raise self._failure(path, value, f"must be on or before {high}")  # type: ignore[attr-defined]


class JsonDateSchema(_TimeLimitsMixin, JsonStringSchema):
    """A ``YYYY-MM-DD`` date string, optionally limited by ``min_date`` / ``max_date``.

    The limits are emitted as the extension keywords ``min_datetime`` / ``max_datetime``.
    """

    _FIELDS = (("min_date", None), ("max_date", None), *JsonStringSchema._FIELDS[1:])

    def __init__(self, min_date: Any = None, max_date: Any = None, **kwargs: Any):
        if "format" in kwargs:
            raise TypeError("JsonDateSchema has the fixed format 'date'")
        super().__init__(format="date", **kwargs)
        self.min_date = _parse_limit(min_date, "min_date", date_only=True)
        self.max_date = _parse_limit(max_date, "max_date", date_only=True)

    def _keywords(self) -> dict[str, Any]:
        result = super()._keywords()
        if self.min_date is not None:
            result["min_datetime"] = self.min_date
        if self.max_date is not None:
            result["max_datetime"] = self.max_date
        return result

    def _check(self, value: str, path: list[str | int]) -> Any:
        value = super()._check(value, path)
        self._check_limits(value, path, self.min_date, self.max_date)
        return value

    @classmethod
    def new_range(
        cls, min_date: Any = None, max_date: Any = None, nullable: bool = False
    ) -> JsonArraySchema:
        """A [start, end] pair of dates within the limits; either end may be null."""
        return _new_range(cls, min_date, max_date, nullable)


class JsonDatetimeSchema(_TimeLimitsMixin, JsonStringSchema):
    """An RFC 3339 date-time string (offset optional, meaning UTC), optionally limited.

    ``min_datetime`` / ``max_datetime`` may be dates or date-times; a date limit is compared
    with the (UTC) date of the value.
    """

    _FIELDS = (("min_datetime", None), ("max_datetime", None), *JsonStringSchema._FIELDS[1:])

    def __init__(self, min_datetime: Any = None, max_datetime: Any = None, **kwargs: Any):
        if "format" in kwargs:
            raise TypeError("JsonDatetimeSchema has the fixed format 'date-time'")
        super().__init__(format="date-time", **kwargs)
        self.min_datetime = _parse_limit(min_datetime, "min_datetime", date_only=False)
        self.max_datetime = _parse_limit(max_datetime, "max_datetime", date_only=False)

    def _keywords(self) -> dict[str, Any]:
        result = super()._keywords()
        if self.min_datetime is not None:
            result["min_datetime"] = self.min_datetime
        if self.max_datetime is not None:
            result["max_datetime"] = self.max_datetime
        return result

    def _check(self, value: str, path: list[str | int]) -> Any:
        value = super()._check(value, path)
        self._check_limits(value, path, self.min_datetime, self.max_datetime)
        return value

    @classmethod
    def new_range(
        cls, min_datetime: Any = None, max_datetime: Any = None, nullable: bool = False
    ) -> JsonArraySchema:
        """A [start, end] pair of date-times within the limits; either end may be null."""
        return _new_range(cls, min_datetime, max_datetime, nullable)


def _new_range(cls: type, low: Any, high: Any, nullable: bool) -> JsonArraySchema:
    start = cls(low, high, nullable=True, title="Start", description="null: no lower limit")
    end = cls(low, high, nullable=True, title="End", description="null: until now")
    return JsonArraySchema(items=[start, end], nullable=nullable)


class JsonNumberSchema(JsonSimpleSchema):
    """A number (bool is not a number), optionally limited; ``type="integer"`` for integers."""

    _FIELDS = (
        ("type", "number"),
        ("minimum", None),
        ("exclusive_minimum", None),
        ("maximum", None),
        ("exclusive_maximum", None),
        ("multiple_of", None),
    )

    def __init__(
        self,
        type: str = "number",
        minimum: float | None = None,
        exclusive_minimum: float | None = None,
        maximum: float | None = None,
        exclusive_maximum: float | None = None,
        multiple_of: float | None = None,
        **kwargs: Any,
    ):
        if type not in ("number", "integer"):
            raise InvalidParameterError(
                f"a number schema's type must be 'number' or 'integer', got {type!r}"
            )
        super().__init__(type, **kwargs)
        if multiple_of is not None and not multiple_of > 0:
            raise InvalidParameterError(f"multiple_of must be > 0, got {multiple_of!r}")
        self.minimum = minimum
        self.exclusive_minimum = exclusive_minimum
        self.maximum = maximum
        self.exclusive_maximum = exclusive_maximum
        self.multiple_of = multiple_of

    def _keywords(self) -> dict[str, Any]:
        names = {
            "minimum": "minimum",
            "exclusive_minimum": "exclusiveMinimum",
            "maximum": "maximum",
            "exclusive_maximum": "exclusiveMaximum",
            "multiple_of": "multipleOf",
        }
        return {key: getattr(self, n) for n, key in names.items() if getattr(self, n) is not None}

    def _check(self, value: Any, path: list[str | int]) -> Any:
        limits = (
            (self.minimum, lambda v, lim: v >= lim, ">="),
            (self.exclusive_minimum, lambda v, lim: v > lim, ">"),
            (self.maximum, lambda v, lim: v <= lim, "<="),
            (self.exclusive_maximum, lambda v, lim: v < lim, "<"),
        )
        for limit, ok, op in limits:
            if limit is not None and not ok(value, limit):
                raise self._failure(path, value, f"must be {op} {limit}")
        if self.multiple_of is not None and not _is_multiple(value, self.multiple_of):
            raise self._failure(path, value, f"must be a multiple of {self.multiple_of}")
        return value


def _is_multiple(value: Any, step: Any) -> bool:
    if isinstance(value, numbers.Integral) and isinstance(step, numbers.Integral):
        return int(value) % int(step) == 0
    quotient = float(value) / float(step)
    if not math.isfinite(quotient):
        return False
    return math.isclose(quotient, round(quotient), rel_tol=1e-9, abs_tol=1e-9)


class JsonIntegerSchema(JsonNumberSchema):
    """An integer (an integral float such as 2.0 is accepted and returned as int)."""

    _FIELDS = (("type", "integer"), *JsonNumberSchema._FIELDS[1:])

    def __init__(self, **kwargs: Any):
        super().__init__("integer", **kwargs)


class JsonArraySchema(JsonSchema):
    """A list (tuples count as arrays).

    ``items`` is one schema for every item, or a list of schemas for a fixed-length tuple
    (emitted as ``prefixItems`` with no further items; its length is the default
    ``min_items``).
    """

    _FIELDS = (("items", None), ("min_items", None), ("max_items", None), ("unique_items", False))

    def __init__(
        self,
        items: JsonSchema | Sequence[JsonSchema] | None = None,
        min_items: int | None = None,
        max_items: int | None = None,
        unique_items: bool = False,
        **kwargs: Any,
    ):
        super().__init__("array", **kwargs)
        if isinstance(items, list | tuple):
            items = list(items)
            if min_items is None:
                min_items = len(items)
        schemas = items if isinstance(items, list) else [items] if items is not None else []
        for schema in schemas:
            if not isinstance(schema, JsonSchema):
                raise TypeError(f"array items must be JsonSchema instances, got {schema!r}")
        self.items: JsonSchema | list[JsonSchema] | None = items
        self.min_items = min_items
        self.max_items = max_items
        self.unique_items = bool(unique_items)

    def _keywords(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if isinstance(self.items, list):
            result["prefixItems"] = [item.to_dict() for item in self.items]
            result["items"] = False
        elif self.items is not None:
            result["items"] = self.items.to_dict()
        if self.min_items is not None:
            result["minItems"] = self.min_items
        if self.max_items is not None:
            result["maxItems"] = self.max_items
        if self.unique_items:
            result["uniqueItems"] = True
        return result

    def _check(self, value: Sequence[Any], path: list[str | int]) -> Any:
        count = len(value)
        fixed = len(self.items) if isinstance(self.items, list) else None
        if fixed is not None and self.min_items == fixed and count != fixed:
            raise self._failure(path, value, f"must have exactly {fixed} items")
        if self.min_items is not None and count < self.min_items:
            raise self._failure(path, value, f"must have at least {self.min_items} items")
        if self.max_items is not None and count > self.max_items:
            raise self._failure(path, value, f"must have at most {self.max_items} items")
        if fixed is not None and count > fixed:
            raise self._failure(path, value, f"must have at most {fixed} items")
        if isinstance(self.items, list):
            result = [
                s._validate(v, [*path, i])
                for i, (s, v) in enumerate(zip(self.items, value, strict=False))
            ]
        elif self.items is not None:
            result = [self.items._validate(v, [*path, i]) for i, v in enumerate(value)]
        else:
            result = list(value)
        if self.unique_items:
            seen: set[Any] = set()
            for item in value:
                key = _json_key(item)
                if key in seen:
                    raise self._failure(
                        path, value, f"must not repeat items ({short_repr(item, 40)} repeated)"
                    )
                seen.add(key)
        return tuple(result) if isinstance(value, tuple) else result

    def _to_json_parts(self, value: Any, path: list[str | int]) -> Any:
        if not isinstance(value, list | tuple):
            return value  # validation reports the wrong type
        return self._convert_items(
            value, lambda schema, item, i: schema._to_json(item, [*path, i]), list
        )

    def _from_json_parts(self, instance: Any) -> Any:
        return self._convert_items(
            instance, lambda schema, item, i: schema._from_json(item), type(instance)
        )

    def _convert_items(self, value: Sequence[Any], convert: Callable, kind: type) -> Any:
        if isinstance(self.items, list):
            schemas: list[JsonSchema | None] = [*self.items]
            schemas += [None] * (len(value) - len(schemas))
        else:
            schemas = [self.items] * len(value)
        return kind(
            item if schema is None else convert(schema, item, i)
            for i, (schema, item) in enumerate(zip(schemas, value, strict=False))
        )


class JsonObjectSchema(JsonSchema):
    """A mapping of named properties, in the order given (the order UIs show them).

    ``additional_properties``: None or True allow any other names, False rejects them (with
    a suggestion for the closest known name), a schema validates them.
    """

    _FIELDS = (
        ("properties", {}),
        ("required", []),
        ("additional_properties", None),
        ("min_properties", None),
        ("max_properties", None),
    )

    def __init__(
        self,
        properties: Mapping[str, JsonSchema] | None = None,
        required: Iterable[str] = (),
        additional_properties: bool | JsonSchema | None = None,
        min_properties: int | None = None,
        max_properties: int | None = None,
        **kwargs: Any,
    ):
        super().__init__("object", **kwargs)
        self.properties: dict[str, JsonSchema] = dict(properties or {})
        for name, schema in self.properties.items():
            if not isinstance(schema, JsonSchema):
                raise TypeError(f"property {name!r} must be a JsonSchema, got {schema!r}")
        if isinstance(required, str):
            raise TypeError("required must be a sequence of names, not a string")
        self.required: list[str] = list(required)
        if additional_properties is not None and not isinstance(
            additional_properties, bool | JsonSchema
        ):
            raise TypeError("additional_properties must be a bool, a JsonSchema or None")
        self.additional_properties = additional_properties
        self.min_properties = min_properties
        self.max_properties = max_properties

    def _repr_value(self, name: str, value: Any) -> str:
        if name == "properties":
            return "[" + ", ".join(value) + "]"
        return super()._repr_value(name, value)

    def _keywords(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.properties:
            result["properties"] = {k: v.to_dict() for k, v in self.properties.items()}
        if self.required:
            result["required"] = list(self.required)
        if isinstance(self.additional_properties, JsonSchema):
            result["additionalProperties"] = self.additional_properties.to_dict()
        elif self.additional_properties is not None:
            result["additionalProperties"] = self.additional_properties
        if self.min_properties is not None:
            result["minProperties"] = self.min_properties
        if self.max_properties is not None:
            result["maxProperties"] = self.max_properties
        return result

    def copy(self) -> JsonObjectSchema:
        return copy.deepcopy(self)

    def with_properties(self, **schemas: JsonSchema) -> JsonObjectSchema:
        """A copy with these properties added (or replaced in place)."""
        result = self.copy()
        for name, schema in schemas.items():
            if not isinstance(schema, JsonSchema):
                raise TypeError(f"property {name!r} must be a JsonSchema, got {schema!r}")
            result.properties[name] = copy.deepcopy(schema)
        return result

    def without(self, *names: str) -> JsonObjectSchema:
        """A copy without these properties (names not present are ignored)."""
        result = self.copy()
        for name in names:
            result.properties.pop(name, None)
        result.required = [name for name in result.required if name not in names]
        return result

    def validate_params(
        self,
        params: Mapping[str, Any] | None,
        *,
        store_id: str | None = None,
        data_id: str | None = None,
    ) -> dict[str, Any]:
        """Validate keyword parameters; errors carry ``store_id`` and ``data_id``."""
        try:
            return self.validate_instance({} if params is None else params)
        except InvalidParameterError as error:
            raise InvalidParameterError(
                error.message, store_id=store_id, data_id=data_id, parameter=error.parameter
            ) from None

    def _check(self, value: Mapping[str, Any], path: list[str | int]) -> Any:
        for key in value:
            if not isinstance(key, str):
                raise self._failure(path, value, f"must have string keys, not {key!r}")
        result: dict[str, Any] = {}
        for key, item in value.items():
            schema = self.properties.get(key)
            if schema is not None:
                result[key] = schema._validate(item, [*path, key])
            elif self.additional_properties is False:
                raise self._unknown(path, key)
            elif isinstance(self.additional_properties, JsonSchema):
                result[key] = self.additional_properties._validate(item, [*path, key])
            else:
                result[key] = item
        for name in self.required:
            if name not in value:
                full = _format_path([*path, name])
                raise self._failure(
                    [*path, name], UNDEFINED, "", message=f"missing required parameter {full!r}"
                )
        count = len(value)
        if self.min_properties is not None and count < self.min_properties:
            raise self._failure(path, value, f"must have at least {self.min_properties} entries")
        if self.max_properties is not None and count > self.max_properties:
            raise self._failure(path, value, f"must have at most {self.max_properties} entries")
        for name, schema in self.properties.items():
            if name not in result and schema.default is not UNDEFINED:
                result[name] = schema._validate(copy.deepcopy(schema.default), [*path, name])
        return result

    def process_kwargs_subset(
        self, kwargs: Mapping[str, Any], keywords: Sequence[str]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """Split ``kwargs`` into those named in ``keywords`` and the rest (both new dicts).

        A keyword that was not given but is a property of this schema takes the property's
        ``const``, or its ``default`` if the property is required.
        """
        rest = dict(kwargs)
        subset: dict[str, Any] = {}
        for name in keywords:
            if name in rest:
                subset[name] = rest.pop(name)
                continue
            schema = self.properties.get(name)
            if schema is None:
                continue
            if schema.const is not UNDEFINED:
                subset[name] = copy.deepcopy(schema.const)
            elif schema.default is not UNDEFINED and name in self.required:
                subset[name] = copy.deepcopy(schema.default)
        return subset, rest

    def _schema_of(self, key: str) -> JsonSchema | None:
        schema = self.properties.get(key)
        if schema is None and isinstance(self.additional_properties, JsonSchema):
            schema = self.additional_properties
        return schema

    def _to_json_parts(self, value: Any, path: list[str | int]) -> Any:
        mapping = self._as_mapping(value)
        if not isinstance(mapping, Mapping):
            return mapping  # validation reports the wrong type
        result = {}
        for key, item in mapping.items():
            schema = self._schema_of(key) if isinstance(key, str) else None
            result[key] = item if schema is None else schema._to_json(item, [*path, key])
        return result

    def _as_mapping(self, value: Any) -> Any:
        """``value`` as a mapping: itself, its ``to_dict()``, or its described attributes.

        A :class:`JsonObject` is always read by attributes: its ``to_dict`` uses this schema.
        """
        if isinstance(value, Mapping | str | bytes | numbers.Number | list | tuple | set):
            return value  # a mapping, or a value validation reports as of the wrong type
        if not isinstance(value, JsonObject):
            to_dict = getattr(value, "to_dict", None)
            if callable(to_dict):
                return to_dict()
        result: dict[str, Any] = {}
        for name in self.properties:
            item = getattr(value, name, UNDEFINED)
            if item is UNDEFINED or (item is None and name not in self.required):
                continue
            result[name] = item
        if self.additional_properties is not False:
            for name, item in getattr(value, "__dict__", {}).items():
                if name.startswith("_") or name in result or item is None or callable(item):
                    continue
                result[name] = item
        return result

    def _from_json_parts(self, instance: Any) -> Any:
        result = {}
        for key, item in instance.items():
            schema = self._schema_of(key)
            result[key] = item if schema is None else schema._from_json(item)
        return result

    def _build(self, value: Any) -> Any:
        return self.factory(**value)  # type: ignore[misc]

    def _unknown(self, path: list[str | int], key: str) -> _Failure:
        full = _format_path([*path, key])
        message = f"unknown parameter {full!r}"
        suggestion = closest_match(key, self.properties)
        if suggestion is not None:
            message += f" (did you mean {suggestion!r}?)"
        names = list(self.properties)
        message += f"; allowed: {listing(names, quote=False)}" if names else "; none allowed"
        return self._failure([*path, key], UNDEFINED, "", message=message)


class JsonComplexSchema(JsonSchema):
    """A combination of schemas: exactly one of ``one_of``, ``any_of``, ``all_of``.

    To allow null, add a :class:`JsonNullSchema` alternative.
    """

    _FIELDS = (("one_of", None), ("any_of", None), ("all_of", None))

    def __init__(
        self,
        one_of: Sequence[JsonSchema] | None = None,
        any_of: Sequence[JsonSchema] | None = None,
        all_of: Sequence[JsonSchema] | None = None,
        **kwargs: Any,
    ):
        if "nullable" in kwargs:
            raise TypeError("JsonComplexSchema is not nullable; add a JsonNullSchema alternative")
        given = [s for s in (one_of, any_of, all_of) if s is not None]
        if len(given) != 1:
            raise TypeError("give exactly one of one_of, any_of, all_of")
        super().__init__(None, **kwargs)
        for schema in given[0]:
            if not isinstance(schema, JsonSchema):
                raise TypeError(f"alternatives must be JsonSchema instances, got {schema!r}")
        self.one_of = None if one_of is None else list(one_of)
        self.any_of = None if any_of is None else list(any_of)
        self.all_of = None if all_of is None else list(all_of)

    def _keywords(self) -> dict[str, Any]:
        for key, schemas in (
            ("oneOf", self.one_of),
            ("anyOf", self.any_of),
            ("allOf", self.all_of),
        ):
            if schemas is not None:
                return {key: [s.to_dict() for s in schemas]}
        return {}  # pragma: no cover - the constructor requires one

    def _check(self, value: Any, path: list[str | int]) -> Any:
        if self.all_of is not None:
            for schema in self.all_of:
                value = schema._validate(value, path)
            return value
        alternatives = self.one_of if self.one_of is not None else self.any_of or []
        results, failures = [], []
        for schema in alternatives:
            try:
                results.append(schema._validate(value, path))
            except _Failure as failure:
                failures.append(failure)
            else:
                if self.any_of is not None:
                    return results[0]
        if len(results) == 1:
            return results[0]
        if len(results) > 1:
            raise self._failure(
                path, value, f"must match exactly one alternative, but matches {len(results)}"
            )
        if not failures:
            raise self._failure(path, value, "no alternative is allowed")
        raise _best_failure(failures, path, value)

    def _alternatives(self) -> list[JsonSchema]:
        return list(self.one_of if self.one_of is not None else self.any_of or [])

    def _to_json_parts(self, value: Any, path: list[str | int]) -> Any:
        # The first alternative that serializes the value into a valid instance converts it.
        for schema in self._alternatives():
            try:
                converted = schema._to_json(value, path)
                schema._validate(copy.deepcopy(converted), path)
            except Exception:  # a failing alternative is simply not the one
                continue
            return converted
        return value

    def _from_json_parts(self, instance: Any) -> Any:
        for schema in self._alternatives():
            try:
                validated = schema._validate(copy.deepcopy(instance), path=[])
            except _Failure:
                continue
            return schema._from_json(validated)
        return instance


def _best_failure(failures: list[_Failure], path: list[str | int], value: Any) -> _Failure:
    """The most telling failure of the alternatives, merging type and value alternatives."""
    top = max(f.rank for f in failures)
    candidates = [f for f in failures if f.rank == top]
    here = [f for f in candidates if f.path == path and f.message is None]
    hidden = any(f.hidden for f in candidates)
    if here and len(here) == len(candidates):
        if all(f.expected for f in here):
            phrases = list(dict.fromkeys(f.expected for f in here))  # type: ignore[misc]
            return _Failure(
                path,
                value,
                f"must be {_join_alternatives(phrases)}",
                rank=top,
                expected=_join_alternatives(phrases),
                hidden=hidden,
            )
        if all(f.allowed_values is not None for f in here):
            allowed = [v for f in here for v in f.allowed_values or ()]
            return _Failure(
                path,
                value,
                _one_of_requirement(allowed, value),
                allowed_values=allowed,
                hidden=hidden,
            )
    return max(candidates, key=lambda f: len(f.path))


# -- objects described by a schema ----------------------------------------------------------


class JsonObject(ABC):
    """An object whose attributes a :class:`JsonObjectSchema` describes.

    Subclasses implement :meth:`get_schema`; :meth:`from_dict` then validates a dict and
    builds an instance with the schema's ``factory`` (the class itself when the schema has
    none), and :meth:`to_dict` turns the instance's described attributes into a validated
    JSON dict.
    """

    @classmethod
    @abstractmethod
    def get_schema(cls) -> JsonObjectSchema:
        """The schema of this class's JSON form."""

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> Any:
        """An instance built from the JSON dict ``value``; InvalidParameterError if invalid."""
        schema = cls.get_schema()
        if schema.factory is None:
            schema = schema.copy()
            schema.factory = cls
        return schema.from_instance(value)

    def to_dict(self) -> dict[str, Any]:
        """This object as a validated JSON dict."""
        return self.get_schema().to_instance(self)


# -- parsing JSON Schema dicts --------------------------------------------------------------

_UNSUPPORTED = (
    "$ref",
    "$dynamicRef",
    "not",
    "if",
    "then",
    "else",
    "patternProperties",
    "dependentSchemas",
    "propertyNames",
    "contains",
    "unevaluatedItems",
    "unevaluatedProperties",
)
_OBJECT_KEYS = ("properties", "required", "additionalProperties", "minProperties", "maxProperties")
_ARRAY_KEYS = ("items", "prefixItems", "minItems", "maxItems", "uniqueItems")
_STRING_KEYS = ("format", "pattern", "minLength", "maxLength")
_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_COMPLEX_KEYS = (("oneOf", "one_of"), ("anyOf", "any_of"), ("allOf", "all_of"))


def _schema_from_dict(data: Any, where: str) -> JsonSchema:
    if data is True:
        return JsonSchema()
    if not isinstance(data, Mapping):
        raise InvalidParameterError(f"{where}: a JSON Schema must be an object, got {data!r}")
    for key in _UNSUPPORTED:
        if key in data:
            raise InvalidParameterError(
                f"{where}: the JSON Schema keyword {key!r} is not supported"
            )
    annotations: dict[str, Any] = {
        k: data[k] for k in ("title", "description", "examples", "default", "const") if k in data
    }
    if "enum" in data:
        annotations["enum"] = data["enum"]
    types = data.get("type")
    types = [types] if isinstance(types, str) else list(types or [])
    nullable = ("null" in types and len(types) > 1) or data.get("nullable") is True
    non_null = [t for t in types if t != "null"]
    if not types:
        non_null = _inferred_types(data)
    complex_given = [(key, arg) for key, arg in _COMPLEX_KEYS if key in data]
    if complex_given:
        combined = [
            (arg, [_schema_from_dict(s, f"{where}/{key}/{i}") for i, s in enumerate(data[key])])
            for key, arg in complex_given
        ]
        if len(combined) == 1 and not non_null:
            arg, alternatives = combined[0]
            return JsonComplexSchema(**{arg: alternatives}, **_annotation_kwargs(annotations))
        parts: list[JsonSchema] = [JsonComplexSchema(**{arg: alts}) for arg, alts in combined]
        if non_null:
            skipped = {key for key, _ in complex_given} | set(annotations)
            plain = {k: v for k, v in data.items() if k not in skipped}
            parts.insert(0, _schema_from_dict(plain, where))
        return JsonComplexSchema(all_of=parts, **_annotation_kwargs(annotations))
    if len(non_null) > 1:
        alternatives = [_typed_schema_from_dict(t, data, {}, False, where) for t in non_null] + (
            [JsonNullSchema()] if nullable else []
        )
        return JsonComplexSchema(any_of=alternatives, **_annotation_kwargs(annotations))
    if not non_null:
        if types == ["null"]:
            return JsonNullSchema(**_annotation_kwargs(annotations))
        return JsonSchema(None, **_annotation_kwargs(annotations))
    return _typed_schema_from_dict(non_null[0], data, annotations, nullable, where)


def _inferred_types(data: Mapping[str, Any]) -> list[str]:
    """The type implied by type-specific keywords of a schema that names no type."""
    found = [
        kind
        for kind, keys in (
            ("object", _OBJECT_KEYS),
            ("array", _ARRAY_KEYS),
            ("string", _STRING_KEYS),
            ("number", _NUMBER_KEYS),
        )
        if any(k in data for k in keys)
    ]
    return found if len(found) == 1 else []


def _annotation_kwargs(annotations: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in annotations.items()}


def _typed_schema_from_dict(
    kind: str, data: Mapping[str, Any], annotations: Mapping[str, Any], nullable: bool, where: str
) -> JsonSchema:
    if kind not in _TYPE_NAMES:
        raise InvalidParameterError(f"{where}: unknown JSON Schema type {kind!r}")
    kwargs = _annotation_kwargs(annotations)
    if kind == "null":
        return JsonNullSchema(**kwargs)
    kwargs["nullable"] = nullable
    if kind == "boolean":
        return JsonBooleanSchema(**kwargs)
    if kind == "string":
        return _string_schema_from_dict(data, kwargs)
    if kind in ("number", "integer"):
        return _number_schema_from_dict(kind, data, kwargs)
    if kind == "array":
        return _array_schema_from_dict(data, kwargs, where)
    return _object_schema_from_dict(data, kwargs, where)


def _string_schema_from_dict(data: Mapping[str, Any], kwargs: dict[str, Any]) -> JsonSchema:
    kwargs.update(
        pattern=data.get("pattern"),
        min_length=data.get("minLength"),
        max_length=data.get("maxLength"),
    )
    fmt = data.get("format")
    low = data.get("min_datetime", data.get("minDatetime", data.get("minDate")))
    high = data.get("max_datetime", data.get("maxDatetime", data.get("maxDate")))
    if fmt == "date":
        return JsonDateSchema(low, high, **kwargs)
    if fmt == "date-time":
        return JsonDatetimeSchema(low, high, **kwargs)
    return JsonStringSchema(format=fmt, **kwargs)


def _number_schema_from_dict(
    kind: str, data: Mapping[str, Any], kwargs: dict[str, Any]
) -> JsonSchema:
    minimum, maximum = data.get("minimum"), data.get("maximum")
    exclusive_minimum, exclusive_maximum = (
        data.get("exclusiveMinimum"),
        data.get("exclusiveMaximum"),
    )
    # draft 4 wrote exclusiveMinimum/Maximum as booleans modifying minimum/maximum
    if isinstance(exclusive_minimum, bool):
        exclusive_minimum, minimum = (minimum, None) if exclusive_minimum else (None, minimum)
    if isinstance(exclusive_maximum, bool):
        exclusive_maximum, maximum = (maximum, None) if exclusive_maximum else (None, maximum)
    cls = JsonIntegerSchema if kind == "integer" else JsonNumberSchema
    return cls(
        minimum=minimum,
        exclusive_minimum=exclusive_minimum,
        maximum=maximum,
        exclusive_maximum=exclusive_maximum,
        multiple_of=data.get("multipleOf"),
        **kwargs,
    )


def _array_schema_from_dict(
    data: Mapping[str, Any], kwargs: dict[str, Any], where: str
) -> JsonSchema:
    items_data = data.get("items")
    items: JsonSchema | list[JsonSchema] | None
    if "prefixItems" in data:
        if items_data not in (None, False):
            raise InvalidParameterError(
                f"{where}: prefixItems followed by further items is not supported"
            )
        items = [
            _schema_from_dict(s, f"{where}/prefixItems/{i}")
            for i, s in enumerate(data["prefixItems"])
        ]
    elif isinstance(items_data, list):  # draft 7 tuple form
        items = [_schema_from_dict(s, f"{where}/items/{i}") for i, s in enumerate(items_data)]
    elif items_data is None or items_data is True:
        items = None
    elif items_data is False:
        items = []
    else:
        items = _schema_from_dict(items_data, f"{where}/items")
    return JsonArraySchema(
        items=items,
        min_items=data.get("minItems"),
        max_items=data.get("maxItems"),
        unique_items=bool(data.get("uniqueItems", False)),
        **kwargs,
    )


def _object_schema_from_dict(
    data: Mapping[str, Any], kwargs: dict[str, Any], where: str
) -> JsonSchema:
    properties = {
        name: _schema_from_dict(s, f"{where}/properties/{name}")
        for name, s in (data.get("properties") or {}).items()
    }
    additional = data.get("additionalProperties")
    if isinstance(additional, Mapping):
        additional = _schema_from_dict(additional, f"{where}/additionalProperties")
    return JsonObjectSchema(
        properties=properties,
        required=list(data.get("required") or ()),
        additional_properties=additional,
        min_properties=data.get("minProperties"),
        max_properties=data.get("maxProperties"),
        **kwargs,
    )
