"""The common open parameters: ready-made schemas and the meaning of their values.

Every store describes ``variable_names``, ``bbox``, ``crs``, ``spatial_res``,
``time_range``, ``time_period`` and ``force_cube`` with the factories here, so that they
look the same everywhere, and interprets validated values with the ``parse_*`` and
``resolve_*`` functions, so that they mean the same everywhere: an end date without a time
covers that whole day, ``variable_names=None`` means all variables and ``[]`` none.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from eostores.errors import InvalidParameterError

from .types import (
    UNDEFINED,
    JsonArraySchema,
    JsonBooleanSchema,
    JsonComplexSchema,
    JsonDateSchema,
    JsonDatetimeSchema,
    JsonNullSchema,
    JsonNumberSchema,
    JsonSchema,
    JsonStringSchema,
    closest_match,
    json_equal,
    listing,
    parse_date_string,
    parse_datetime_string,
    short_repr,
)

__all__ = [
    "COMMON_OPEN_PARAMETERS",
    "REQUIRED_COMMON_PARAMETERS",
    "TIME_PERIOD_PATTERN",
    "TimePeriod",
    "TimeRange",
    "apply_parameter_aliases",
    "bbox_schema",
    "crs_schema",
    "force_cube_schema",
    "parse_bbox",
    "parse_time_period",
    "parse_time_range",
    "resolve_variable_names",
    "spatial_res_schema",
    "time_period_schema",
    "time_range_schema",
    "variable_names_schema",
]

COMMON_OPEN_PARAMETERS = (
    "variable_names",
    "bbox",
    "crs",
    "spatial_res",
    "time_range",
    "time_period",
    "force_cube",
)
#: The common parameters every open-parameters schema must describe (if only as a const).
REQUIRED_COMMON_PARAMETERS = ("variable_names", "bbox", "spatial_res", "time_range", "time_period")

TIME_PERIOD_PATTERN = r"^([1-9][0-9]*)?[HDWMY]$"
_TIME_PERIOD_RE = re.compile(TIME_PERIOD_PATTERN)


def _with_overrides(defaults: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = dict(defaults)
    kwargs.update(overrides)
    return kwargs


def _default_kwarg(default: Any, overrides: Mapping[str, Any]) -> Any:
    """None means "no default" unless the schema is made nullable, where it is the default."""
    if default is None and not overrides.get("nullable"):
        return UNDEFINED
    return default


# -- schema factories -----------------------------------------------------------------------


def variable_names_schema(
    names: Sequence[str] | None = None,
    *,
    titles: Mapping[str, str] | None = None,
    min_items: int = 0,
    **overrides: Any,
) -> JsonArraySchema:
    """``variable_names``: a list of distinct names; null (the default) means all.

    With ``names`` the items are restricted to them; with ``titles`` as well, each name is
    a ``const`` alternative carrying its title (the JSON Schema idiom for labelled choices).
    """
    items: JsonSchema
    extra: dict[str, Any] = {}
    if names is None:
        items = JsonStringSchema(min_length=1)
    elif not names:
        items = JsonStringSchema()
        extra["max_items"] = 0
    elif titles:
        items = JsonComplexSchema(
            one_of=[JsonStringSchema(const=name, title=titles.get(name, name)) for name in names]
        )
    else:
        items = JsonStringSchema(enum=list(names))
    defaults = dict(
        items=items,
        unique_items=True,
        min_items=min_items or None,
        nullable=True,
        default=None,
        title="Variable names",
        description="The variables to include. null (the default) means all variables; "
        "an empty list means none, keeping the dimensions and coordinates.",
        **extra,
    )
    return JsonArraySchema(**_with_overrides(defaults, overrides))


def bbox_schema(*, crs_units: str = "degrees", **overrides: Any) -> JsonArraySchema:
    """``bbox``: [xmin, ymin, xmax, ymax] in the units of the CRS.

    With ``crs_units="degrees"`` longitudes are limited to -180..360 and latitudes to
    -90..90.
    """
    geographic = crs_units == "degrees"

    def coordinate(name: str, low: float, high: float) -> JsonNumberSchema:
        if geographic:
            return JsonNumberSchema(title=name, minimum=low, maximum=high)
        return JsonNumberSchema(title=name)

    defaults = dict(
        items=[
            coordinate("xmin", -180, 360),
            coordinate("ymin", -90, 90),
            coordinate("xmax", -180, 360),
            coordinate("ymax", -90, 90),
        ],
        title="Bounding box",
        description=f"xmin, ymin, xmax, ymax in {crs_units} of the coordinate reference system.",
    )
    return JsonArraySchema(**_with_overrides(defaults, overrides))


def crs_schema(
    enum: Sequence[str] | None = None, default: str | None = "EPSG:4326", **overrides: Any
) -> JsonStringSchema:
    """``crs``: the identifier of the spatial coordinate reference system."""
    defaults = dict(
        enum=None if enum is None else list(enum),
        default=_default_kwarg(default, overrides),
        title="Coordinate reference system",
        description="Identifier of the spatial coordinate reference system, e.g. EPSG:4326.",
    )
    return JsonStringSchema(**_with_overrides(defaults, overrides))


def spatial_res_schema(
    default: float | None = None,
    enum: Sequence[float] | None = None,
    *,
    crs_units: str = "degrees",
    **overrides: Any,
) -> JsonNumberSchema:
    """``spatial_res``: the resolution (x and y) in the units of the CRS; always > 0."""
    defaults = dict(
        exclusive_minimum=0,
        enum=None if enum is None else list(enum),
        default=_default_kwarg(default, overrides),
        title="Spatial resolution",
        description=f"Size of a grid cell (x and y) in {crs_units} of the coordinate "
        "reference system.",
    )
    return JsonNumberSchema(**_with_overrides(defaults, overrides))


def time_range_schema(
    min_datetime: Any = None,
    max_datetime: Any = None,
    *,
    required: bool = False,
    **overrides: Any,
) -> JsonSchema:
    """``time_range``: [start, end], each a date, a date-time or null, within the limits.

    A date-only end covers that whole day; a null end means now, a null start no lower
    limit. Unless ``required``, the whole range may be null (the default: no restriction).
    Each item is an ``anyOf`` of a date and a date-time schema (both carrying the limits),
    so the emitted JSON Schema stays standard.
    """

    def bound(title: str, description: str) -> JsonComplexSchema:
        return JsonComplexSchema(
            any_of=[
                JsonDateSchema(min_datetime, max_datetime),
                JsonDatetimeSchema(min_datetime, max_datetime),
                JsonNullSchema(),
            ],
            title=title,
            description=description,
        )

    defaults: dict[str, Any] = dict(
        items=[
            bound("Start", "First day or instant; null: no lower limit."),
            bound("End", "Last day (inclusive, up to 24:00) or instant; null: now."),
        ],
        title="Time range",
        description="[start, end] as dates (YYYY-MM-DD) or date-times (UTC unless an offset "
        "is given). An end date covers that whole day.",
    )
    if not required:
        defaults.update(nullable=True, default=None)
    return JsonArraySchema(**_with_overrides(defaults, overrides))


def time_period_schema(
    enum: Sequence[str] | None = None, default: str | None = None, **overrides: Any
) -> JsonStringSchema:
    """``time_period``: an aggregation period such as ``1D``, ``2W``, ``1M``, ``1Y``, ``3H``."""
    if enum is not None:
        for value in enum:
            parse_time_period(value)
    defaults = dict(
        pattern=TIME_PERIOD_PATTERN,
        enum=None if enum is None else list(enum),
        default=_default_kwarg(default, overrides),
        title="Time period",
        description="Temporal aggregation period: an optional count and a unit, "
        "H (hour), D (day), W (week), M (month) or Y (year), e.g. 1D or 8D.",
    )
    return JsonStringSchema(**_with_overrides(defaults, overrides))


def force_cube_schema(default: bool = False, **overrides: Any) -> JsonBooleanSchema:
    """``force_cube``: whether the result must follow the cube convention."""
    defaults = dict(
        default=default,
        title="Force cube",
        description="Return a dataset that follows the data cube convention "
        "(regular lon/lat/time grid, one variable per cube field).",
    )
    return JsonBooleanSchema(**_with_overrides(defaults, overrides))


# -- bbox -----------------------------------------------------------------------------------


def parse_bbox(value: Any, *, geographic: bool = True) -> tuple[float, float, float, float]:
    """(xmin, ymin, xmax, ymax) from 4 numbers or a ``"x0,y0,x1,y1"`` string, checked.

    With ``geographic`` the box is in degrees: latitudes within [-90, 90], longitudes
    within [-180, 360]; a box whose xmin exceeds its xmax crosses the antimeridian and is
    rejected with advice, since a single box cannot express it.
    """

    def fail(reason: str) -> InvalidParameterError:
        return InvalidParameterError(f"bbox = {short_repr(value)}: {reason}", parameter="bbox")

    parts: Any = value
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",")]
    if not isinstance(parts, Sequence) or isinstance(parts, str) or len(parts) != 4:
        raise fail("must be 4 numbers xmin, ymin, xmax, ymax")
    numbers_: list[float] = []
    for part in parts:
        try:
            if isinstance(part, bool) or not isinstance(part, numbers.Real | str):
                raise TypeError
            number = float(part)
        except (TypeError, ValueError):
            raise fail("must be 4 numbers xmin, ymin, xmax, ymax") from None
        if not math.isfinite(number):
            raise fail("coordinates must be finite numbers")
        numbers_.append(number)
    xmin, ymin, xmax, ymax = numbers_
    if geographic:
        if not all(-90 <= y <= 90 for y in (ymin, ymax)):
            raise fail("latitudes (ymin, ymax) must be within [-90, 90]")
        if not all(-180 <= x <= 360 for x in (xmin, xmax)):
            raise fail("longitudes (xmin, xmax) must be within [-180, 360]")
    if xmin > xmax and geographic:
        raise fail(
            f"xmin {xmin:g} > xmax {xmax:g}: the bbox crosses the antimeridian; split it into "
            "two requests or use longitudes in 0..360"
        )
    if xmin >= xmax:
        raise fail("xmin must be less than xmax")
    if ymin >= ymax:
        raise fail("ymin must be less than ymax")
    if geographic and xmax - xmin > 360:
        raise fail("the box must not be wider than 360 degrees")
    return xmin, ymin, xmax, ymax


# -- time_range -----------------------------------------------------------------------------

_LAST_MICROSECOND = time(23, 59, 59, 999999)


@dataclass(frozen=True)
class TimeRange:
    """A parsed ``time_range``: naive UTC datetimes, both ends inclusive.

    ``start`` None means no lower limit, ``end`` None no upper limit (only for an omitted
    range; a null end means now). An end given as a date is stored as its last microsecond,
    23:59:59.999999, so that the whole day is inside.
    """

    start: datetime | None = None
    end: datetime | None = None

    def contains(self, value: Any) -> bool:
        """Whether an instant (datetime, date = its midnight, ISO string) lies in the range."""
        instant = _to_instant(value, "value", end=False)
        if self.start is not None and instant < self.start:
            return False
        return self.end is None or instant <= self.end

    def to_slice(self) -> slice:
        """A slice for ``xarray .sel(time=...)`` on datetime64[ns] coordinates.

        An end at the last microsecond of a second is widened to the last nanosecond, so a
        day's end includes everything before the next midnight and not the midnight itself.
        """
        import numpy as np

        start = None if self.start is None else np.datetime64(self.start, "ns")
        end = None
        if self.end is not None:
            end = np.datetime64(self.end, "ns")
            if self.end.microsecond == 999999:
                end = end + np.timedelta64(999, "ns")
        return slice(start, end)

    def days(self) -> list[date]:
        """Every calendar date the range touches, in order."""
        if self.start is None or self.end is None:
            raise InvalidParameterError(
                "time_range needs a start and an end to list its days", parameter="time_range"
            )
        first, last = self.start.date(), self.end.date()
        return [first + timedelta(days=i) for i in range((last - first).days + 1)]

    def start_isoformat(self, timespec: str = "auto") -> str | None:
        """The start as ``YYYY-MM-DDTHH:MM:SSZ`` (None if open)."""
        return None if self.start is None else self.start.isoformat(timespec=timespec) + "Z"

    def end_isoformat(self, timespec: str = "auto") -> str | None:
        """The inclusive end as ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (None if open)."""
        return None if self.end is None else self.end.isoformat(timespec=timespec) + "Z"

    def isoformat(self, sep: str = "/", timespec: str = "auto") -> str:
        """``start/end`` as used by STAC and OGC APIs, ``..`` for an open end."""
        start = self.start_isoformat(timespec) or ".."
        end = self.end_isoformat(timespec) or ".."
        return f"{start}{sep}{end}"


def parse_time_range(value: Any, *, now: datetime | None = None) -> TimeRange:
    """Interpret a ``time_range`` value as a :class:`TimeRange`.

    Items may be ISO date or date-time strings, dates, datetimes (also pandas.Timestamp),
    numpy.datetime64 or None. A start date means its 00:00, an end date the whole day, a
    null end ``now`` (default: the current UTC time); offsets are converted to UTC. A null
    ``value`` means no restriction.
    """
    if value is None:
        return TimeRange()
    if isinstance(value, str | bytes) or not isinstance(value, Sequence) or len(value) != 2:
        raise InvalidParameterError(
            f"time_range = {short_repr(value)}: must be a pair [start, end]",
            parameter="time_range",
        )
    start = None if value[0] is None else _to_instant(value[0], "time_range[0]", end=False)
    if value[1] is None:
        end = _utc_now() if now is None else _to_instant(now, "now", end=False)
    else:
        end = _to_instant(value[1], "time_range[1]", end=True)
    if start is not None and start > end:
        raise InvalidParameterError(
            f"time_range = {short_repr(value)}: the start {start.isoformat()}Z is after the "
            f"end {end.isoformat()}Z",
            parameter="time_range",
        )
    return TimeRange(start, end)


def _utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _to_instant(value: Any, where: str, *, end: bool) -> datetime:
    """A naive UTC datetime; a date-only value means its first or (``end``) last moment."""
    if type(value).__name__ == "datetime64" and hasattr(value, "astype"):
        unit_is_day = str(getattr(value, "dtype", "")).endswith("[D]")
        value = value.astype("datetime64[D]" if unit_is_day else "datetime64[us]").item()
    day: date | None = None
    instant: datetime | None = None
    if isinstance(value, datetime):
        try:
            instant = datetime(
                value.year,
                value.month,
                value.day,
                value.hour,
                value.minute,
                value.second,
                value.microsecond,
                tzinfo=value.tzinfo,
            )
        except (TypeError, ValueError):  # NaT
            instant = None
        if instant is not None and instant.tzinfo is not None:
            instant = instant.astimezone(UTC).replace(tzinfo=None)
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str):
        day = parse_date_string(value)
        if day is None:
            instant = parse_datetime_string(value)
    if day is not None:
        return datetime.combine(day, _LAST_MICROSECOND if end else time())
    if instant is None:
        raise InvalidParameterError(
            f"{where} = {short_repr(value)}: must be a date such as 2020-01-01, a date-time "
            "such as 2020-01-01T00:00:00Z or null",
            parameter="time_range" if where.startswith("time_range") else None,
        )
    return instant


# -- time_period ----------------------------------------------------------------------------

_PANDAS_UNITS = {"H": "h", "D": "D", "W": "W", "M": "MS", "Y": "YS"}
_FIXED_UNITS = {"H": timedelta(hours=1), "D": timedelta(days=1), "W": timedelta(weeks=1)}


@dataclass(frozen=True)
class TimePeriod:
    """A parsed ``time_period``: ``count`` units of H, D, W, M or Y."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"

    def to_pandas_freq(self) -> str:
        """The pandas frequency string; months and years are anchored at their start."""
        return f"{self.count}{_PANDAS_UNITS[self.unit]}"

    def to_timedelta(self) -> timedelta:
        """The fixed length of the period; months and years have none."""
        if self.unit not in _FIXED_UNITS:
            raise InvalidParameterError(
                f"time_period = {str(self)!r}: months and years have no fixed length",
                parameter="time_period",
            )
        return self.count * _FIXED_UNITS[self.unit]


def parse_time_period(value: Any) -> TimePeriod:
    """Interpret a ``time_period`` string such as ``"8D"`` (a missing count means 1)."""
    match = _TIME_PERIOD_RE.match(value) if isinstance(value, str) else None
    if match is None:
        raise InvalidParameterError(
            f"time_period = {short_repr(value)}: must be an optional positive count and a "
            "unit H, D, W, M or Y, such as 1D, 8D, 1M",
            parameter="time_period",
        )
    return TimePeriod(int(match.group(1) or 1), value[-1])


# -- variable_names and aliases -------------------------------------------------------------


def resolve_variable_names(
    value: Any, available: Sequence[str], *, parameter: str = "variable_names"
) -> list[str]:
    """The variables selected by a ``variable_names`` value, in the requested order.

    None means all ``available`` (in their order), ``[]`` none. Unknown or repeated names
    are rejected, naming what is available.
    """
    if value is None:
        return list(available)
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidParameterError(
            f"{parameter} = {short_repr(value)}: must be a list of names (or null for all)",
            parameter=parameter,
        )
    known = set(available)
    seen: set[str] = set()
    for index, name in enumerate(value):
        if name not in known:
            message = f"{parameter}[{index}] = {short_repr(name)}: unknown variable"
            suggestion = closest_match(name, available)
            if suggestion is not None:
                message += f" (did you mean {suggestion!r}?)"
            message += f"; allowed: {listing(list(available), quote=False) or 'none'}"
            raise InvalidParameterError(message, parameter=parameter)
        if name in seen:
            raise InvalidParameterError(
                f"{parameter} = {short_repr(value)}: {name!r} is given more than once",
                parameter=parameter,
            )
        seen.add(name)
    return list(value)


def apply_parameter_aliases(params: Mapping[str, Any], aliases: Mapping[str, str]) -> dict:
    """``params`` with alias names (e.g. ``variables``) renamed to their canonical names.

    Giving an alias and its canonical name (or two aliases of one name) is accepted when the
    values agree and rejected otherwise.
    """
    result: dict[str, Any] = {}
    source: dict[str, str] = {}
    for key, value in params.items():
        name = aliases.get(key, key)
        if name in result:
            if not _same_value(result[name], value):
                raise InvalidParameterError(
                    f"{source[name]!r} and {key!r} name the same parameter {name!r} "
                    f"but differ: {short_repr(result[name], 40)} != {short_repr(value, 40)}; "
                    "give only one",
                    parameter=name,
                )
            if key == name:  # keep the canonical spelling's position and value
                source[name] = key
            continue
        result[name] = value
        source[name] = key
    return result


def _same_value(a: Any, b: Any) -> bool:
    if json_equal(a, b):
        return True
    try:
        return bool(a == b) and type(a) is type(b)
    except (TypeError, ValueError):
        return False
