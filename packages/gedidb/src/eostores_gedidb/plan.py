"""From open parameters to one gedidb query: forms, variables, filters, the array's domain.

:func:`check_form` needs nothing but the parameters (it runs before any request);
:func:`make_query` also needs the array's variables and domain. The query is clipped to
the domain, because TileDB refuses ranges outside it: a time range or box that misses the
domain gives an empty query (an empty dataset), never an error from deep inside TileDB.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from eostores.errors import InvalidParameterError
from eostores.schema import parse_bbox, parse_time_range, resolve_variable_names

from .config import STORE_ID
from .variables import ArrayInfo, Domain

__all__ = ["ShotQuery", "check_form", "make_query"]

_EPOCH = date(1970, 1, 1)
_QUOTED = re.compile(r"'[^']*'")
_NUMBER = re.compile(r"(?:==|!=|>=|<=|>|<)\s*([-+.\deE]+)")


@dataclass(frozen=True)
class ShotQuery:
    """One gedidb query, ready to run (``empty``: nothing can match, run nothing)."""

    data_id: str
    variables: tuple[str, ...]
    start: str | None
    end: str | None
    bbox: tuple[float, float, float, float] | None = None
    point: tuple[float, float] | None = None
    num_shots: int = 10
    radius: float = 0.1
    filters: dict[str, str] = field(default_factory=dict)
    chunk_size: int | None = None
    empty: bool = False

    @property
    def kind(self) -> str:
        return "nearest" if self.point is not None else "bounding_box"


def _invalid(message: str, parameter: str, data_id: str) -> InvalidParameterError:
    return InvalidParameterError(message, store_id=STORE_ID, data_id=data_id, parameter=parameter)


def check_form(params: Mapping[str, Any], given: set[str], data_id: str) -> None:
    """Refuse illegal combinations: exactly one of bbox and point; num_shots and radius
    only with point. ``given`` are the names the caller passed (defaults are filled in)."""
    has_bbox = params.get("bbox") is not None
    has_point = params.get("point") is not None
    if has_bbox and has_point:
        raise _invalid(
            "give either bbox (all shots in a box) or point (the nearest shots), not both",
            "bbox",
            data_id,
        )
    if not has_bbox and not has_point:
        raise _invalid(
            "bbox or point is required: bbox [xmin, ymin, xmax, ymax] for all shots in a box, "
            "point [lon, lat] for the nearest shots",
            "bbox",
            data_id,
        )
    if has_bbox:
        for name in ("num_shots", "radius"):
            if name in given:
                raise _invalid(
                    f"{name} applies to a point query only, not with bbox", name, data_id
                )
        try:
            parse_bbox(params["bbox"])
        except InvalidParameterError as error:
            raise _invalid(error.message, "bbox", data_id) from None
    try:
        parse_time_range(params.get("time_range"))
    except InvalidParameterError as error:
        raise _invalid(error.message, "time_range", data_id) from None


def make_query(data_id: str, params: Mapping[str, Any], info: ArrayInfo) -> ShotQuery:
    """The query of validated parameters (:func:`check_form` passed) on the array ``info``."""
    try:
        variables = resolve_variable_names(params.get("variable_names"), info.names(data_id))
    except InvalidParameterError as error:
        raise _invalid(error.message, "variable_names", data_id) from None
    filters = _filters(params.get("quality_filters") or {}, info, data_id)
    time_range = parse_time_range(params["time_range"])
    start_day, end_day, empty = _days(time_range, info.domain)
    common = dict(
        data_id=data_id,
        variables=tuple(variables),
        start=_iso(start_day),
        end=_iso(end_day),
        filters=filters,
        chunk_size=params.get("chunk_size"),
    )
    if params.get("point") is not None:
        lon, lat = (float(v) for v in params["point"])
        radius = float(params["radius"])
        _check_search_box(lon, lat, radius, info.domain, data_id)
        return ShotQuery(
            point=(lon, lat),
            num_shots=int(params["num_shots"]),
            radius=radius,
            empty=empty,
            **common,
        )
    bbox, outside = _clip(parse_bbox(params["bbox"]), info.domain)
    return ShotQuery(bbox=bbox, empty=empty or outside, **common)


def _filters(filters: Mapping[str, str], info: ArrayInfo, data_id: str) -> dict[str, str]:
    """Conditions on scalar variables whose values suit the variable's type."""
    scalar = set(info.scalar_names())
    checked = {}
    for name, condition in filters.items():
        if name not in scalar:
            raise _invalid(
                f"quality_filters: {name!r} is no scalar variable of the database; allowed: "
                + ", ".join(sorted(scalar)),
                "quality_filters",
                data_id,
            )
        textual = info.variables[name].dtype == "object"
        quoted = bool(_QUOTED.search(condition))
        unquoted = bool(re.search(r"(?:==|!=|>=|<=|>|<)\s*[-+.\d]", condition))
        if (textual and unquoted) or (not textual and quoted):
            wanted = "quoted words" if textual else "numbers"
            raise _invalid(
                f"quality_filters[{name!r}] = {condition!r}: {name} is compared with {wanted}",
                "quality_filters",
                data_id,
            )
        if not textual:
            for number in _NUMBER.findall(condition):
                problem = _unrepresentable(number, info.variables[name].dtype)
                if problem:
                    raise _invalid(
                        f"quality_filters[{name!r}] = {condition!r}: {problem}",
                        "quality_filters",
                        data_id,
                    )
        checked[name] = condition.strip()
    return checked


def _unrepresentable(text: str, dtype_name: str) -> str | None:
    """Why the number ``text`` cannot be compared with values of ``dtype_name`` (or None)."""
    import numpy as np

    dtype = np.dtype(dtype_name)
    value = float(text)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        if not value.is_integer():
            return f"{text} is no integer, and the variable holds {dtype.name} values"
        if not info.min <= value <= info.max:
            return f"{text} is outside the range {info.min}..{info.max} of {dtype.name}"
    elif dtype.kind == "f" and not abs(value) <= np.finfo(dtype).max:
        return f"{text} is outside the range of {dtype.name}"
    return None


def _days(time_range: Any, domain: Domain) -> tuple[int | None, int | None, bool]:
    """The query's first and last day, within the array's time domain."""
    first, last = domain.time
    start = (time_range.start.date() - _EPOCH).days if time_range.start else first
    end = (time_range.end.date() - _EPOCH).days if time_range.end else last
    start, end = max(start, first), min(end, last)
    return start, end, start > end


def _iso(day: int | None) -> str | None:
    return None if day is None else (_EPOCH + timedelta(days=day)).isoformat()


def _clip(
    bbox: tuple[float, float, float, float], domain: Domain
) -> tuple[tuple[float, float, float, float], bool]:
    xmin, ymin, xmax, ymax = bbox
    lon0, lon1 = domain.longitude
    lat0, lat1 = domain.latitude
    clipped = (max(xmin, lon0), max(ymin, lat0), min(xmax, lon1), min(ymax, lat1))
    return clipped, clipped[0] > clipped[2] or clipped[1] > clipped[3]


def _check_search_box(lon: float, lat: float, radius: float, domain: Domain, data_id: str) -> None:
    """gedidb searches point +- radius; TileDB refuses a search box beyond the domain."""
    lon0, lon1 = domain.longitude
    lat0, lat1 = domain.latitude
    if lon - radius < lon0 or lon + radius > lon1 or lat - radius < lat0 or lat + radius > lat1:
        raise _invalid(
            f"point {[lon, lat]} +- radius {radius:g} reaches beyond the database's domain "
            f"(longitude {lon0:g}..{lon1:g}, latitude {lat0:g}..{lat1:g}); move the point or "
            "use a smaller radius",
            "point",
            data_id,
        )
