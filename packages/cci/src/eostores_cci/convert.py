"""From the service's grid to the store's cube: bbox windows and normalisation.

A window is a range of file indices along latitude and longitude found by bisection, so
that only the cells overlapping the bbox are requested; latitudes may run either way.
Normalising labels time steps with their period's centre and adds ``time_bnds``, turns
longitudes 0..360 into -180..180 and latitudes ascending, and sets CF attributes. The
periods of the time steps inside files holding several come from the files' CF time
coordinate and its bounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import InvalidParameterError, ServiceError

from .config import STORE_ID

if TYPE_CHECKING:
    import xarray

__all__ = [
    "GridWindow",
    "decode_times",
    "finish_cube",
    "grid_window",
    "index_range",
    "period_bounds",
    "period_in_range",
    "step_periods",
]


@dataclass(frozen=True)
class GridWindow:
    """File index ranges ``[y0, y1)`` and ``[x0, x1)`` to request, and what remains to do.

    ``lon_bounds`` is set when the window spans all longitudes of a 0..360 grid and the
    bbox's longitudes are cut after normalising.
    """

    y0: int
    y1: int
    x0: int
    x1: int
    lon_bounds: tuple[float, float] | None = None

    @property
    def shape(self) -> tuple[int, int]:
        return self.y1 - self.y0, self.x1 - self.x0


def _half_step(values: np.ndarray) -> float:
    return float(abs(values[1] - values[0])) / 2 if len(values) > 1 else 0.0


def index_range(
    values: np.ndarray, low: float, high: float, *, parameter: str = "bbox", data_id: str = ""
) -> tuple[int, int]:
    """``[i0, i1)`` of the cells of monotonic ``values`` overlapping ``low..high``.

    A cell overlaps when its centre lies less than half a step outside the range; found by
    bisection, for ascending and descending values alike.
    """
    values = np.asarray(values, dtype="float64")
    half = _half_step(values)
    descending = len(values) > 1 and values[0] > values[-1]
    ordered = values[::-1] if descending else values
    first = int(np.searchsorted(ordered, low - half, side="right"))
    last = int(np.searchsorted(ordered, high + half, side="left"))
    if descending:
        first, last = len(values) - last, len(values) - first
    if first >= last:
        raise InvalidParameterError(
            f"bbox [{low:g}, {high:g}] holds no grid cell between {values.min():g} and "
            f"{values.max():g}",
            store_id=STORE_ID,
            data_id=data_id or None,
            parameter=parameter,
        )
    return first, last


def grid_window(
    lat: np.ndarray,
    lon: np.ndarray,
    bbox: Sequence[float] | None,
    *,
    normalize: bool,
    data_id: str = "",
) -> GridWindow:
    """The window of the files' grid covering ``bbox`` (all of it without a bbox)."""
    if bbox is None:
        return GridWindow(0, len(lat), 0, len(lon))
    west, south, east, north = bbox
    y0, y1 = index_range(lat, south, north, data_id=data_id)
    if float(np.max(lon)) <= 180.0:
        x0, x1 = index_range(lon, west, east, data_id=data_id)
        return GridWindow(y0, y1, x0, x1)
    # longitudes 0..360
    if normalize:
        return GridWindow(y0, y1, 0, len(lon), lon_bounds=(west, east))
    low, high = (west + 360, east + 360) if east < 0 else (west, east)
    if low < 0:
        raise InvalidParameterError(
            f"bbox longitudes {west:g}..{east:g} cross 0 degrees of a grid with longitudes "
            "0..360; give them in 0..360 or open with normalize_data=True",
            store_id=STORE_ID,
            data_id=data_id or None,
            parameter="bbox",
        )
    x0, x1 = index_range(lon, low, high, data_id=data_id)
    return GridWindow(y0, y1, x0, x1)


def period_bounds(start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """A file's period as [start, end): an end at a minute's last second (``23:59:59``,
    also ``23:59:59.999``) means up to the next minute."""
    if end.second == 59 and (end.microsecond == 0 or end.microsecond >= 999000):
        end = end.replace(microsecond=0) + timedelta(seconds=1)
    return start, end


def period_in_range(
    period: tuple[datetime, datetime], start: datetime | None, end: datetime | None
) -> bool:
    """Whether a period ``[a, b)`` (an instant when ``a == b``) overlaps ``start..end``
    (both inclusive, either open)."""
    a, b = period
    if end is not None and a > end:
        return False
    return start is None or (b > start if b > a else a >= start)


def decode_times(values: np.ndarray, attrs: Mapping[str, Any], *, data_id: str) -> np.ndarray:
    """CF time values (``units`` "<unit> since <date>", ``calendar``) as datetime64[ns]."""
    import xarray as xr

    cf = {key: attrs[key] for key in ("units", "calendar") if isinstance(attrs.get(key), str)}
    dims = tuple(f"d{i}" for i in range(np.ndim(values)))
    try:
        decoded = xr.decode_cf(xr.Dataset({"t": (dims, np.asarray(values), cf)}))["t"].values
    except (ValueError, TypeError, OverflowError) as error:
        raise _undated(cf, data_id, f": {error}") from error
    if decoded.dtype.kind != "M":
        raise _undated(cf, data_id)
    return decoded.astype("datetime64[ns]")


def _undated(cf: Mapping[str, str], data_id: str, detail: str = "") -> ServiceError:
    return ServiceError(
        f"the files' time values cannot be read as dates (units {cf.get('units')!r}, "
        f"calendar {cf.get('calendar', 'standard')!r}){detail}",
        store_id=STORE_ID,
        data_id=data_id,
    )


def step_periods(
    values: np.ndarray, bounds: np.ndarray | None, attrs: Mapping[str, Any], *, data_id: str
) -> list[tuple[datetime, datetime]]:
    """The ``[start, end)`` of each time step of a file: from its bounds, else the step's
    instant (start = end)."""
    times = decode_times(values, attrs, data_id=data_id)
    if bounds is not None and np.shape(bounds) == (len(times), 2):
        edges = decode_times(bounds, attrs, data_id=data_id).astype("datetime64[us]")
        return [(a, b) for a, b in edges.tolist()]
    return [(t, t) for t in times.astype("datetime64[us]").tolist()]


def finish_cube(
    dataset: xarray.Dataset,
    periods: Sequence[tuple[datetime, datetime]],
    *,
    normalize: bool,
    window: GridWindow,
    attrs: Mapping[str, Any],
    data_id: str,
) -> xarray.Dataset:
    """The opened chunk store as the store's cube (normalised if asked)."""
    import xarray as xr

    if not normalize:
        return dataset.assign_attrs(**attrs)
    if dataset.sizes.get("lat", 0) > 1 and float(dataset.lat[0]) > float(dataset.lat[-1]):
        dataset = dataset.isel(lat=slice(None, None, -1))
    lon = dataset["lon"].values
    if lon.size and float(lon.max()) > 180.0:
        shift = int(np.searchsorted(lon, 180.0, side="left"))
        dataset = dataset.roll(lon=-shift, roll_coords=True)
        rolled = dataset["lon"].values.astype("float64")
        dataset = dataset.assign_coords(lon=np.where(rolled >= 180.0, rolled - 360.0, rolled))
    if window.lon_bounds is not None:
        x0, x1 = index_range(dataset["lon"].values, *window.lon_bounds, data_id=data_id)
        dataset = dataset.isel(lon=slice(x0, x1))
    bounds = np.array(
        [[np.datetime64(a, "ns"), np.datetime64(b, "ns")] for a, b in periods],
        dtype="datetime64[ns]",
    ).reshape(len(periods), 2)
    centres = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) / 2
    dataset = dataset.assign_coords(
        time=("time", centres),
        time_bnds=(("time", "bnds"), bounds),
    )
    dataset["time"].attrs.update(standard_name="time", long_name="time", bounds="time_bnds")
    dataset["lat"].attrs.update(
        standard_name="latitude", long_name="latitude", units="degrees_north"
    )
    dataset["lon"].attrs.update(
        standard_name="longitude", long_name="longitude", units="degrees_east"
    )
    extent: dict[str, Any] = {}
    if dataset.sizes.get("lat") and dataset.sizes.get("lon"):
        extent = {
            "geospatial_lat_min": float(dataset.lat.min()),
            "geospatial_lat_max": float(dataset.lat.max()),
            "geospatial_lon_min": float(dataset.lon.min()),
            "geospatial_lon_max": float(dataset.lon.max()),
        }
    if len(periods):
        extent["time_coverage_start"] = f"{periods[0][0]:%Y-%m-%dT%H:%M:%SZ}"
        extent["time_coverage_end"] = f"{periods[-1][1]:%Y-%m-%dT%H:%M:%SZ}"
    result = dataset.assign_attrs(Conventions="CF-1.7", **attrs, **extent)
    assert isinstance(result, xr.Dataset)
    return result
