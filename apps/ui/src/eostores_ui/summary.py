"""Summaries shown on the page: of a data descriptor, and of opened data."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["describe_summary", "opened_summary"]

_DESCRIPTOR_ROWS = (
    ("data_type", "Data type"),
    ("crs", "CRS"),
    ("bbox", "Bounding box"),
    ("spatial_res", "Spatial resolution"),
    ("time_range", "Time range"),
    ("time_period", "Time period"),
    ("dims", "Dimensions"),
)


def _text(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_text(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join("…" if v is None else _text(v) for v in value)
    return str(value)


def _variables(variables: Mapping[str, Any]) -> list[dict[str, str]]:
    rows = []
    for name, variable in variables.items():
        variable = variable if isinstance(variable, Mapping) else {}
        attrs = variable.get("attrs") if isinstance(variable.get("attrs"), Mapping) else {}
        rows.append(
            {
                "name": str(name),
                "dims": ", ".join(map(str, variable.get("dims") or ())),
                "dtype": str(variable.get("dtype") or ""),
                "units": str(attrs.get("units") or ""),
                "long_name": str(attrs.get("long_name") or attrs.get("title") or ""),
            }
        )
    return rows


def describe_summary(descriptor: Mapping[str, Any]) -> dict[str, Any]:
    """Rows (label, text) and a variable table of a ``DataDescriptor.to_dict()``."""
    rows = [["Data id", str(descriptor.get("data_id", ""))]]
    for key, label in _DESCRIPTOR_ROWS:
        value = descriptor.get(key)
        if value not in (None, "", [], {}):
            rows.append([label, _text(value)])
    attrs = descriptor.get("attrs")
    if isinstance(attrs, Mapping) and attrs.get("title"):
        rows.insert(1, ["Title", str(attrs["title"])])
    return {"rows": rows, "variables": _variables(descriptor.get("data_vars") or {})}


def _coordinate_row(name: str, coordinate: Any) -> dict[str, str]:
    values = coordinate.values
    extent = ""
    if coordinate.ndim == 1 and coordinate.size:
        first, last = _short(values[0]), _short(values[-1])
        extent = first if coordinate.size == 1 else f"{first} … {last}"
    return {
        "name": name,
        "dims": ", ".join(map(str, coordinate.dims)),
        "size": str(coordinate.size),
        "extent": extent,
        "units": str(coordinate.attrs.get("units") or ""),
    }


def _short(value: Any) -> str:
    text = str(value)
    if "T" in text and text[:4].isdigit():
        return text.split(".")[0].removesuffix("T00:00:00")
    try:
        return f"{float(value):.6g}"
    except (TypeError, ValueError):
        return text


def opened_summary(data: Any) -> dict[str, Any]:
    """Dimensions, coordinates, variables (with units) and xarray's HTML of a dataset;
    the column names, row count and a table head of a data frame."""
    if hasattr(data, "data_vars"):
        variables = [
            {
                "name": str(name),
                "dims": ", ".join(map(str, v.dims)),
                "shape": " x ".join(map(str, v.shape)),
                "dtype": str(v.dtype),
                "units": str(v.attrs.get("units") or ""),
                "long_name": str(v.attrs.get("long_name") or ""),
            }
            for name, v in data.data_vars.items()
        ]
        return {
            "kind": "dataset",
            "dims": {str(k): int(v) for k, v in data.sizes.items()},
            "coords": [_coordinate_row(str(n), c) for n, c in data.coords.items()],
            "variables": variables,
            "html": data._repr_html_(),
        }
    if hasattr(data, "columns"):
        return {
            "kind": "table",
            "dims": {"rows": len(data)},
            "coords": [],
            "variables": [
                {"name": str(c), "dims": "", "shape": "", "dtype": str(data[c].dtype)}
                for c in data.columns
            ],
            "html": data.head(20).to_html(),
        }
    return {"kind": type(data).__name__, "dims": {}, "coords": [], "variables": [], "html": ""}
