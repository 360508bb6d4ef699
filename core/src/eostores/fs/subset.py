"""The common open parameters applied lazily to an opened dataset."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..dims import TIME_NAMES, X_NAMES, Y_NAMES, find_dim
from ..errors import InvalidParameterError


def _index_slice(coord: Any, low: float, high: float) -> slice:
    values = coord.values
    if values.size > 1 and values[0] > values[-1]:
        return slice(high, low)
    return slice(low, high)


def select_variables(dataset: Any, variable_names: list[str] | None, **context) -> Any:
    """Keep only ``variable_names`` (None: all; []: none, but keep dims and coordinates)."""
    if variable_names is None:
        return dataset
    unknown = [name for name in variable_names if name not in dataset.data_vars]
    if unknown:
        allowed = ", ".join(map(str, dataset.data_vars)) or "none"
        raise InvalidParameterError(
            f"unknown variable(s) {', '.join(map(repr, unknown))}; allowed: {allowed}",
            parameter="variable_names",
            **context,
        )
    return (
        dataset[list(variable_names)]
        if variable_names
        else dataset.drop_vars(list(dataset.data_vars))
    )


def select_bbox(dataset: Any, bbox: tuple[float, float, float, float], **context) -> Any:
    """Cut ``dataset`` to ``bbox`` (in the units of its x/y or lon/lat coordinates)."""
    x_name, y_name = find_dim(dataset, X_NAMES), find_dim(dataset, Y_NAMES)
    if x_name is None or y_name is None:
        raise InvalidParameterError(
            "bbox cannot be applied: the dataset has no 1-D x/y or lon/lat coordinates",
            parameter="bbox",
            **context,
        )
    x0, y0, x1, y1 = bbox
    return dataset.sel(
        {
            x_name: _index_slice(dataset[x_name], x0, x1),
            y_name: _index_slice(dataset[y_name], y0, y1),
        }
    )


def select_time_range(dataset: Any, time_range: Any, **context) -> Any:
    """Cut ``dataset`` to a parsed TimeRange (end date inclusive up to 24:00)."""
    t_name = find_dim(dataset, TIME_NAMES)
    if t_name is None:
        raise InvalidParameterError(
            "time_range cannot be applied: the dataset has no time coordinate",
            parameter="time_range",
            **context,
        )
    return dataset.sel({t_name: time_range.to_slice()})


def apply_common_params(dataset: Any, params: Mapping[str, Any], **context) -> Any:
    """Apply ``variable_names``, ``bbox`` and ``time_range`` from validated parameters."""
    from ..schema import parse_bbox, parse_time_range

    if params.get("variable_names") is not None:
        dataset = select_variables(dataset, list(params["variable_names"]), **context)
    if params.get("bbox") is not None:
        x_name = find_dim(dataset, X_NAMES)
        geographic = x_name in ("lon", "longitude")
        dataset = select_bbox(dataset, parse_bbox(params["bbox"], geographic=geographic), **context)
    if params.get("time_range") is not None:
        dataset = select_time_range(dataset, parse_time_range(params["time_range"]), **context)
    return dataset
