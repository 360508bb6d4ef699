"""Submitted form values back into parameters.

The page sends what its controls hold (text as typed, booleans, the chosen options);
:func:`read_form` turns that into the keyword arguments of ``new_data_store`` or
``open_data``: fields that were not sent or left empty, and values equal to their default,
are left out, so that the store's defaults apply and the Python snippet stays short; text
that cannot be a number, a date or JSON is reported next to its field before anything is
sent to a store.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from .forms import Field, Form

__all__ = ["FormErrors", "read_form"]

_ABSENT = object()
_DATETIME_LOCAL = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$")


class FormErrors(Exception):
    """Values that do not fit their fields: ``errors`` maps field paths to messages."""

    def __init__(self, errors: dict[str, str]):
        self.errors = errors
        super().__init__("; ".join(f"{path}: {text}" for path, text in errors.items()))


def read_form(form: Form, values: Mapping[str, Any] | None) -> dict[str, Any]:
    """The parameters the submitted ``values`` (by field name) stand for.

    Raises :class:`FormErrors` naming each field whose text is not of its type.
    """
    errors: dict[str, str] = {}
    params = _read_fields(form.fields, values or {}, errors)
    if errors:
        raise FormErrors(errors)
    return params


def _read_fields(
    fields: list[Field], values: Mapping[str, Any], errors: dict[str, str]
) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in fields:
        value = _read(item, values.get(item.name), errors)
        if value is not _ABSENT:
            params[item.name] = value
    return params


def _same(a: Any, b: Any) -> bool:
    """JSON equality (True is not 1; tuples equal lists)."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def _omit_default(item: Field, value: Any) -> Any:
    if item.has_default and _same(value, item.default):
        return _ABSENT
    return value


def _as_text(raw: Any) -> str:
    if raw is None:
        return ""
    if isinstance(raw, bool):
        return "true" if raw else "false"
    return str(raw)


def _read(item: Field, raw: Any, errors: dict[str, str]) -> Any:
    kind = item.kind
    if kind == "const" or raw is None:  # a constant, or a field that was not sent
        return _ABSENT
    if kind == "checkbox":
        value = raw is True or _as_text(raw).lower() in ("true", "on", "1")
        baseline = item.default if item.has_default else False
        return _ABSENT if _same(value, baseline) else value
    if kind == "select":
        if raw is None or raw == "":
            return _ABSENT
        allowed = [o["value"] for o in item.options or ()]
        if not any(_same(raw, v) for v in allowed):
            match = [v for v in allowed if _as_text(v) == _as_text(raw)]
            if not match:
                errors[item.path] = f"choose one of {', '.join(map(_as_text, allowed))}"
                return _ABSENT
            raw = match[0]
        return _omit_default(item, raw)
    if kind == "checkboxes":
        return _read_checkboxes(item, raw, errors)
    if kind == "bbox":
        return _read_bbox(item, raw, errors)
    if kind == "time_range":
        return _read_time_range(item, raw, errors)
    if kind == "tuple":
        return _read_tuple(item, raw, errors)
    if kind == "group":
        nested = _read_fields(item.children, raw if isinstance(raw, Mapping) else {}, errors)
        return _omit_default(item, nested) if nested else _ABSENT
    text = _as_text(raw)
    if kind != "password":
        text = text.strip()
    if not text:
        return _ABSENT
    value = _scalar(item, kind, text, errors)
    return _ABSENT if value is _ABSENT else _omit_default(item, value)


def _scalar(item: Field, kind: str, text: str, errors: dict[str, str]) -> Any:
    if kind in ("number", "integer"):
        return _number(text, kind, item.path, errors)
    if kind == "date":
        return text
    if kind == "datetime":
        return _datetime(text)
    if kind == "list":
        parts = [p.strip() for p in text.split(",")]
        parts = [p for p in parts if p]
        if item.value_type in ("number", "integer"):
            numbers = [_number(p, item.value_type, item.path, errors) for p in parts]
            return _ABSENT if _ABSENT in numbers else numbers
        return parts
    if kind == "json" or (kind == "password" and item.object_value):
        try:
            value = json.loads(text)
        except ValueError:
            if item.object_value:
                errors[item.path] = 'must be a JSON object such as {"name": "value"}'
                return _ABSENT
            return text
        if item.object_value and not isinstance(value, dict):
            errors[item.path] = 'must be a JSON object such as {"name": "value"}'
            return _ABSENT
        return value
    return text


def _number(text: str, kind: str, path: str, errors: dict[str, str]) -> Any:
    try:
        value = float(text)
    except ValueError:
        errors[path] = f"{text!r} is not a number"
        return _ABSENT
    if not math.isfinite(value):
        errors[path] = f"{text!r} is not a finite number"
        return _ABSENT
    if kind == "integer":
        if not value.is_integer():
            errors[path] = f"{text!r} is not a whole number"
            return _ABSENT
        return int(value)
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value


def _datetime(text: str) -> str:
    """A date-time from the browser's picker (local notation) as RFC 3339 UTC."""
    if _DATETIME_LOCAL.match(text):
        if text.count(":") == 1:
            text += ":00"
        return text + "Z"
    return text


def _read_checkboxes(item: Field, raw: Any, errors: dict[str, str]) -> Any:
    chosen = list(raw) if isinstance(raw, list | tuple) else []
    allowed = [o["value"] for o in item.options or ()]
    unknown = [v for v in chosen if not any(_same(v, a) for a in allowed)]
    if unknown:
        errors[item.path] = f"not a choice: {', '.join(map(_as_text, unknown))}"
        return _ABSENT
    ordered = [a for a in allowed if any(_same(a, v) for v in chosen)]
    if item.all_means_none:
        # variable_names: null means all, [] none (store conventions)
        if len(ordered) == len(allowed) and (item.nullable or not item.has_default):
            return _ABSENT
        return ordered
    if not ordered and not item.has_default:
        return _ABSENT
    return _omit_default(item, ordered)


def _texts(raw: Any, count: int) -> list[str]:
    items = list(raw) if isinstance(raw, list | tuple) else []
    items = [_as_text(v).strip() for v in items[:count]]
    return items + [""] * (count - len(items))


def _read_bbox(item: Field, raw: Any, errors: dict[str, str]) -> Any:
    texts = _texts(raw, 4)
    if not any(texts):
        return _ABSENT
    if not all(texts):
        missing = [c.label for c, t in zip(item.children, texts, strict=True) if not t]
        errors[item.path] = f"give all four values; missing: {', '.join(missing)}"
        return _ABSENT
    values = [
        _number(t, "number", child.path, errors)
        for child, t in zip(item.children, texts, strict=True)
    ]
    if _ABSENT in values:
        return _ABSENT
    if values[0] >= values[2] or values[1] >= values[3]:
        errors[item.path] = "xmin must be less than xmax and ymin less than ymax"
        return _ABSENT
    return _omit_default(item, values)


def _read_time_range(item: Field, raw: Any, errors: dict[str, str]) -> Any:
    texts = _texts(raw, 2)
    if not any(texts):
        return _ABSENT
    if item.date_kind == "datetime":
        bounds: list[Any] = [_datetime(t) if t else None for t in texts]
    else:
        bounds = [t or None for t in texts]
    if all(bounds) and bounds[0][:10] > bounds[1][:10]:  # type: ignore[index]
        errors[item.path] = "the start must not be after the end"
        return _ABSENT
    return _omit_default(item, bounds)


def _read_tuple(item: Field, raw: Any, errors: dict[str, str]) -> Any:
    items = list(raw) if isinstance(raw, list | tuple) else []
    items += [None] * (len(item.children) - len(items))
    values = []
    for child, value in zip(item.children, items, strict=False):
        read = _read(child, value, errors)
        values.append(None if read is _ABSENT else read)
    if all(v is None for v in values):
        return _ABSENT
    return _omit_default(item, values)
