"""Turning open parameters into CDS requests: translation, splitting and cost limits.

A plan holds the timestamps the result will have, the requests ("pieces") that fetch
them (one per month, or per year for monthly data, with only the days and hours really
in the time range), the exact subset to cut out afterwards, and a hash that names the
result in the cache. Pieces larger than the service's cost limit are split further by
variable, level, day and hour.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eostores.errors import InvalidParameterError
from eostores.limits import check_grid_size
from eostores.schema import TimeRange, parse_bbox, parse_time_period, parse_time_range

from .catalog import DatasetInfo

__all__ = ["Plan", "make_plan", "request_cost", "split_to_limit"]

#: Version of the result layout; part of every cache key.
LAYOUT_VERSION = 1
_COST_KEYS = ("product_type", "variable", "pressure_level", "year", "month", "day", "time")
_SPLIT_ORDER = ("variable", "pressure_level", "day", "time", "month")


@dataclass
class Plan:
    """What to request and what to cut out of the answers."""

    data_id: str
    dataset_id: str
    variables: list[str]
    pieces: list[dict[str, Any]]
    stamps: list[dt.datetime]
    bbox: tuple[float, float, float, float]
    bbox_given: bool
    time_range: TimeRange
    spatial_res: float | None
    grid_origin: float
    levels: list[str] | None
    normalize_names: bool
    split: bool = True

    def key(self, endpoint: str) -> str:
        """The hash naming this request's result in the cache."""
        return _digest(
            {
                "endpoint": endpoint,
                "dataset": self.dataset_id,
                "pieces": self.pieces,
                "bbox": list(self.bbox),
                "time": self.time_range.isoformat(),
                "normalize_names": self.normalize_names,
                "layout": LAYOUT_VERSION,
            }
        )


def piece_key(endpoint: str, dataset_id: str, piece: Mapping[str, Any]) -> str:
    """The hash naming one request's downloaded file in the cache."""
    return _digest({"endpoint": endpoint, "dataset": dataset_id, "request": piece})


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def request_cost(request: Mapping[str, Any]) -> int:
    """The number of fields a request asks for (product of its selections)."""
    return math.prod(
        len(value) if isinstance(value, list) else 1
        for key, value in request.items()
        if key in _COST_KEYS
    )


def make_plan(
    info: DatasetInfo,
    data_id: str,
    product_type: str | None,
    params: Mapping[str, Any],
    variables: Sequence[str],
    *,
    normalize_names: bool,
    store_id: str,
    grib_readable: bool,
    split: bool = True,
    max_bytes: int | None = None,
) -> Plan:
    """Translate validated open parameters into a plan (no network I/O).

    The grid the result would have is checked against ``max_bytes`` first
    (:func:`eostores.limits.check_grid_size`).
    """
    context = {"store_id": store_id, "data_id": data_id}
    time_range = parse_time_range(params.get("time_range"))
    if time_range.start is None or time_range.end is None:
        raise InvalidParameterError(
            "time_range needs a start and an end", parameter="time_range", **context
        )
    bbox_given = params.get("bbox") is not None
    bbox = parse_bbox(params["bbox"]) if bbox_given else info.bbox
    res = params.get("spatial_res")
    periods = info.time_periods(product_type)
    period = params.get("time_period") or periods[0]
    if period not in periods:
        raise InvalidParameterError(
            f"time_period {period!r} is not offered for product type {product_type!r}; "
            f"allowed: {', '.join(periods)}",
            parameter="time_period",
            **context,
        )
    base: dict[str, Any] = {}
    if product_type is not None:
        base["product_type"] = [product_type]
    levels = None
    if info.levels:
        levels = list(params.get("pressure_level") or info.allowed("pressure_level", product_type))
        base["pressure_level"] = levels
    for key, choice in info.choices.items():
        value = params.get(key, choice.default)
        if value is None:
            continue
        base[key] = list(value) if choice.multiple and isinstance(value, list) else value
    if info.period_key:
        base[info.period_key] = info.period_values[period]
    stamps = _timestamps(info, product_type, period, time_range, base, context)
    if info.data_format_key:
        formats = info.data_formats
        if "netcdf" in formats or not formats:
            base[info.data_format_key] = "netcdf"
        elif grib_readable and "grib" in formats:
            base[info.data_format_key] = "grib"
        else:
            raise InvalidParameterError(
                "this dataset is delivered as GRIB only; install cfgrib to read it",
                parameter="data_id",
                **context,
            )
    if info.download_formats:
        for choice in ("unarchived", "zip", "tgz"):
            if choice in info.download_formats:
                base["download_format"] = choice
                break
    if info.supports_area and bbox_given:
        xmin, ymin, xmax, ymax = bbox
        base["area"] = [ymax, xmin, ymin, xmax]
    native = info.native_res
    regrid = res is not None and (native is None or abs(res - native) > 1e-9)
    if regrid and not info.supports_area:
        raise InvalidParameterError(
            f"spatial_res {res:g} is not offered: this dataset comes on its native grid "
            f"only ({native if native is not None else 'not stated by the catalogue'}); "
            "leave spatial_res out",
            parameter="spatial_res",
            **context,
        )
    if regrid:
        base["grid"] = [res, res]
    grid_res = res if res is not None else native
    if grid_res:  # an unknown native grid leaves the bound to the service's cost limit
        check_grid_size(
            (
                len(variables),
                len(levels or [None]),
                len(stamps),
                _cells(bbox[1], bbox[3], grid_res),
                _cells(bbox[0], bbox[2], grid_res),
            ),
            4,
            max_bytes=max_bytes,
            store_id=store_id,
            data_id=data_id,
        )
    pieces = []
    if variables:
        groups = (
            _group_stamps(stamps, monthly="day" not in info.temporal_keys) if split else [stamps]
        )
        for group in groups:
            piece = {"variable": list(variables), **base, **_temporal(info, group)}
            pieces.append(_ordered(piece))
    return Plan(
        data_id=data_id,
        dataset_id=info.id,
        variables=list(variables),
        pieces=pieces,
        stamps=stamps,
        bbox=bbox,
        bbox_given=bbox_given,
        time_range=time_range,
        spatial_res=res if res is not None else native,
        grid_origin=0.0 if info.supports_area else 0.5,
        levels=levels,
        normalize_names=normalize_names,
        split=split,
    )


def _cells(low: float, high: float, step: float) -> int:
    """Grid points from ``low`` to ``high`` (both included) at ``step``."""
    return math.floor((float(high) - float(low)) / step + 1e-9) + 1


def _timestamps(
    info: DatasetInfo,
    product_type: str | None,
    period: str,
    time_range: TimeRange,
    base: Mapping[str, Any],
    context: Mapping[str, Any],
) -> list[dt.datetime]:
    """The instants the result will hold: on the period grid, allowed, inside the range."""
    assert time_range.start is not None and time_range.end is not None
    start, end = time_range.start, time_range.end
    if info.start:
        start = max(start, _naive(info.start))
    if info.end:
        end = min(end, _naive(info.end) + dt.timedelta(days=1) - dt.timedelta(microseconds=1))
    selection = {k: [v] if isinstance(v, str) else v for k, v in base.items() if k != "grid"}
    selection.pop("area", None)
    hours = ["00:00"]
    if "time" in info.temporal_keys:
        allowed = info.allowed("time", product_type, selection)
        if period.endswith("H"):
            step = parse_time_period(period).count
            hours = [h for h in allowed if int(h[:2]) % step == 0 and h.endswith(":00")]
        else:
            hours = allowed
        if not hours:
            raise InvalidParameterError(
                f"time_period {period!r} has no hours available for this product",
                parameter="time_period",
                **context,
            )
    days_allowed = None
    if "day" in info.temporal_keys:
        days_allowed = set(info.allowed("day", product_type, selection) or [])
    stamps = []
    day = start.date() if "day" in info.temporal_keys else start.date().replace(day=1)
    last = end.date()
    while day <= last:
        if days_allowed is None or f"{day.day:02d}" in days_allowed or not days_allowed:
            for hour in hours:
                stamp = dt.datetime.combine(day, dt.time(int(hour[:2]), int(hour[3:5])))
                if start <= stamp <= end:
                    stamps.append(stamp)
        day = (
            day + dt.timedelta(days=1)
            if "day" in info.temporal_keys
            else (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        )
    if not stamps:
        raise InvalidParameterError(
            f"no {period} time steps of this dataset fall into time_range "
            f"{time_range.isoformat()} (dataset extent {info.start} to {info.end})",
            parameter="time_range",
            **context,
        )
    return stamps


def _naive(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value.astimezone(dt.UTC).replace(tzinfo=None) if value.tzinfo else value


def _group_stamps(stamps: Sequence[dt.datetime], *, monthly: bool) -> list[list[dt.datetime]]:
    groups: dict[tuple[int, int], list[dt.datetime]] = {}
    for stamp in stamps:
        key = (stamp.year, 0 if monthly else stamp.month)
        groups.setdefault(key, []).append(stamp)
    return [groups[key] for key in sorted(groups)]


def _temporal(info: DatasetInfo, stamps: Sequence[dt.datetime]) -> dict[str, list[str]]:
    result = {
        "year": sorted({f"{s.year}" for s in stamps}),
        "month": sorted({f"{s.month:02d}" for s in stamps}),
    }
    if "day" in info.temporal_keys:
        result["day"] = sorted({f"{s.day:02d}" for s in stamps})
    if "time" in info.temporal_keys:
        result["time"] = sorted({f"{s.hour:02d}:{s.minute:02d}" for s in stamps})
    return result


def _ordered(piece: Mapping[str, Any]) -> dict[str, Any]:
    order = ("product_type", "variable", "pressure_level", "year", "month", "day", "time")
    first = {key: piece[key] for key in order if key in piece}
    return {**first, **{k: v for k, v in piece.items() if k not in first}}


def split_to_limit(
    piece: Mapping[str, Any], fits: Callable[[Mapping[str, Any]], bool]
) -> list[dict[str, Any]]:
    """Split a request into halves along variable, level, day, hour until each fits.

    Raises ValueError when a single field does not fit.
    """
    if fits(piece):
        return [dict(piece)]
    for key in _SPLIT_ORDER:
        values = piece.get(key)
        if isinstance(values, list) and len(values) > 1:
            middle = len(values) // 2
            halves = [values[:middle], values[middle:]]
            return [part for half in halves for part in split_to_limit({**piece, key: half}, fits)]
    raise ValueError("a single field exceeds the cost limit")
