"""Sentinel-3 and Sentinel-1 cubes: swath products rectified onto the requested grid.

Per item, the product is opened lazily and its geolocation read: first a coarse sample
(every n-th pixel, or the tie-point grid of Sentinel-1) to find the window of the swath
that covers the bbox, then the full-resolution geolocation of that window only. Each
variable is rectified (:func:`.rectify.rectify`) onto the output grid; products of one
solar day are mosaicked, first valid pixel in time order.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import ServiceError

from .api import open_product
from .catalog import EopfItem, for_each_product
from .config import STORE_ID, EopfSettings
from .products import Variable, component_groups
from .rectify import TargetGrid, interpolate_geolocation, rectify

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["rectified_layers"]

_COARSE_SAMPLES = 64


def _geolocation_group(node: Any, group: str, where: str, item_id: str) -> Any:
    try:
        return node[group].to_dataset()
    except KeyError:
        raise ServiceError(
            f"the product of item {item_id!r} has no group {where + group!r} with geolocation",
            store_id=STORE_ID,
        ) from None


def _component_node(tree: Any, variable: Variable, item_id: str) -> tuple[Any, str]:
    """The node of the product the paths of ``variable`` are relative to, and its path
    (with a trailing ``/``; the root: ``""``)."""
    if variable.component is None:
        return tree, ""
    found = component_groups(tree.children, variable.component)
    if len(found) != 1:
        what = "no group" if not found else f"{len(found)} groups"
        raise ServiceError(
            f"the product of item {item_id!r} has {what} for {variable.component} (a group "
            f"named like '..._{variable.component}'); its groups: "
            + ", ".join(sorted(tree.children)[:20]),
            store_id=STORE_ID,
        )
    # the child itself, not a path: a name from the service never walks the tree
    return tree.children[found[0]], f"{found[0]}/"


def _lonlat_arrays(dataset: Any, item_id: str) -> tuple[Any, Any]:
    for lon_name, lat_name in (("longitude", "latitude"), ("lon", "lat")):
        if lon_name in dataset.variables and lat_name in dataset.variables:
            return dataset[lon_name], dataset[lat_name]
    raise ServiceError(
        f"the product of item {item_id!r} has no latitude/longitude arrays", store_id=STORE_ID
    )


class _Geolocation:
    """Longitude/latitude of a swath: a coarse sample to plan, full values per window."""

    def __init__(self, dataset: Any, shape: tuple[int, int], item_id: str):
        lon, lat = _lonlat_arrays(dataset, item_id)
        self.shape = shape
        self.tie_points = tuple(lon.shape) != tuple(shape)
        if self.tie_points:
            lines = dataset["line"].values if "line" in dataset.variables else None
            pixels = dataset["pixel"].values if "pixel" in dataset.variables else None
            if lines is None or pixels is None:
                lines = np.linspace(0, shape[0] - 1, lon.shape[0])
                pixels = np.linspace(0, shape[1] - 1, lon.shape[1])
            self.lines = np.asarray(lines, dtype="float64")
            self.pixels = np.asarray(pixels, dtype="float64")
            self.lon_points = np.asarray(lon.values, dtype="float64")
            self.lat_points = np.asarray(lat.values, dtype="float64")
        else:
            self.lon, self.lat = lon, lat

    def coarse(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(lon, lat, rows, cols) of a coarse sample of the swath's pixels."""
        if self.tie_points:
            return self.lon_points, self.lat_points, self.lines, self.pixels
        step_r = max(1, self.shape[0] // _COARSE_SAMPLES)
        step_c = max(1, self.shape[1] // _COARSE_SAMPLES)
        rows = np.arange(0, self.shape[0], step_r)
        cols = np.arange(0, self.shape[1], step_c)
        if rows[-1] != self.shape[0] - 1:
            rows = np.append(rows, self.shape[0] - 1)
        if cols[-1] != self.shape[1] - 1:
            cols = np.append(cols, self.shape[1] - 1)
        lon = np.asarray(self.lon.isel({self.lon.dims[0]: rows, self.lon.dims[1]: cols}).values)
        lat = np.asarray(self.lat.isel({self.lat.dims[0]: rows, self.lat.dims[1]: cols}).values)
        return lon.astype("float64"), lat.astype("float64"), rows, cols

    def window(self, rows: slice, cols: slice) -> tuple[np.ndarray, np.ndarray]:
        """Full-resolution longitude and latitude of a window of pixels."""
        if self.tie_points:
            shape = (rows.stop - rows.start, cols.stop - cols.start)
            lines = self.lines - rows.start
            pixels = self.pixels - cols.start
            lon = interpolate_geolocation(self.lon_points, lines, pixels, shape)
            lat = interpolate_geolocation(self.lat_points, lines, pixels, shape)
            return lon, lat
        lon = self.lon.isel({self.lon.dims[0]: rows, self.lon.dims[1]: cols}).values
        lat = self.lat.isel({self.lat.dims[0]: rows, self.lat.dims[1]: cols}).values
        return np.asarray(lon, dtype="float64"), np.asarray(lat, dtype="float64")


def _window(geolocation: _Geolocation, lonlat_bbox: Sequence[float]) -> tuple[slice, slice] | None:
    """The pixel window whose coarse samples (one sample step around) touch the bbox."""
    lon, lat, rows, cols = geolocation.coarse()
    west, south, east, north = lonlat_bbox
    pad_lon = (east - west) * 0.05 + 1e-9
    pad_lat = (north - south) * 0.05 + 1e-9
    hit = (
        (lon >= west - pad_lon) & (lon <= east + pad_lon) & (lat >= south - pad_lat)
        & (lat <= north + pad_lat)
    )  # fmt: skip
    if not hit.any():
        # the bbox may lie between coarse samples: take the samples around its centre
        centre = ((west + east) / 2, (south + north) / 2)
        distance = np.hypot(lon - centre[0], lat - centre[1])
        index = np.unravel_index(np.nanargmin(distance), distance.shape)
        spread = np.hypot(np.diff(lon, axis=0), np.diff(lat, axis=0))
        if np.nanmin(distance) > 2 * np.nanmax(spread) + max(east - west, north - south):
            return None
        hit = np.zeros_like(distance, dtype=bool)
        hit[index] = True
    hit_rows = np.flatnonzero(hit.any(axis=1))
    hit_cols = np.flatnonzero(hit.any(axis=0))
    first_r = rows[max(0, hit_rows[0] - 1)]
    last_r = rows[min(len(rows) - 1, hit_rows[-1] + 1)]
    first_c = cols[max(0, hit_cols[0] - 1)]
    last_c = cols[min(len(cols) - 1, hit_cols[-1] + 1)]
    return slice(int(first_r), int(last_r) + 1), slice(int(first_c), int(last_c) + 1)


def _item_layers(
    settings: EopfSettings,
    item: EopfItem,
    variables: dict[str, Variable],
    grid: TargetGrid,
    lonlat_bbox: Sequence[float],
    methods: dict[str, str],
    tile_size: tuple[int, int],
) -> dict[str, Any]:
    """The rectified dask arrays of one item's product."""
    tree = open_product(settings, item.product_href, item_id=item.id, zarr_format=item.zarr_format)
    by_geolocation: dict[str, tuple[Any, str, str, dict[str, Any]]] = {}
    for name, variable in variables.items():
        node, where = _component_node(tree, variable, item.id)
        path = variable.path(variable.native_resolution)
        group, _, array_name = path.rpartition("/")
        try:
            array = node[group].to_dataset()[array_name]
        except KeyError:
            raise ServiceError(
                f"the product of item {item.id!r} has no variable {where + path!r}",
                store_id=STORE_ID,
            ) from None
        geolocation = variable.geolocation or group
        entry = by_geolocation.setdefault(where + geolocation, (node, geolocation, where, {}))
        entry[3][name] = array
    layers: dict[str, Any] = {}
    for node, group, where, arrays in by_geolocation.values():
        first = next(iter(arrays.values()))
        shape = (first.shape[-2], first.shape[-1])
        dataset = _geolocation_group(node, group, where, item.id)
        geolocation = _Geolocation(dataset, shape, item.id)
        window = _window(geolocation, lonlat_bbox)
        if window is None:
            continue
        lon, lat = geolocation.window(*window)
        sources = {
            name: array.isel({array.dims[-2]: window[0], array.dims[-1]: window[1]}).astype(
                "float32"
            )
            for name, array in arrays.items()
        }
        layers.update(rectify(sources, lon, lat, grid, {n: methods[n] for n in sources}, tile_size))
    return layers


def rectified_layers(
    settings: EopfSettings,
    items: Sequence[EopfItem],
    variables: dict[str, Variable],
    grid: TargetGrid,
    lonlat_bbox: Sequence[float],
    methods: dict[str, str],
    tile_size: tuple[int, int],
    error_policy: str = "warn",
) -> list[tuple[EopfItem, dict[str, Any]]]:
    """Per item (in order) whose product exists, its variables rectified onto ``grid``
    (missing: not covered); items whose product is missing follow ``error_policy``
    (:func:`.catalog.for_each_product`).

    Products are opened in parallel (``settings.max_workers`` threads), within the call's
    deadline.
    """

    def one(item: EopfItem) -> dict[str, Any]:
        return _item_layers(settings, item, variables, grid, lonlat_bbox, methods, tile_size)

    return for_each_product(settings, items, one, error_policy)


def stack_days(
    found: Sequence[tuple[EopfItem, dict[str, Any]]],
    names: Sequence[str],
    shape: tuple[int, int],
) -> tuple[list[Any], dict[str, list[Any]], list[list[str]]]:
    """Per solar day: its time, its mosaicked variables and the ids of its items.

    ``found``: the items and their layers (:func:`rectified_layers`).
    """
    import dask.array as da

    from .convert import mosaic_first

    days: dict[str, list[tuple[EopfItem, dict[str, Any]]]] = {}
    for item, layers in found:
        days.setdefault(item.solar_day, []).append((item, layers))
    times, ids = [], []
    stacked: dict[str, list[Any]] = {name: [] for name in names}
    for day in sorted(days):
        members = sorted(days[day], key=lambda pair: (pair[0].time, pair[0].id))
        times.append(np.datetime64(members[0][0].time, "ns"))
        ids.append([item.id for item, _ in members])
        for name in names:
            parts = [layers[name] for _, layers in members if name in layers]
            if not parts:
                parts = [da.full(shape, np.nan, dtype="float32")]
            stacked[name].append(mosaic_first(parts))
    return times, stacked, ids


def swath_dataset(
    times: list[Any],
    stacked: dict[str, list[Any]],
    coords: dict[str, Any],
) -> xr.Dataset:
    """A (time, y, x) dataset of the per-day layers."""
    import dask.array as da
    import xarray as xr

    y_name, x_name = list(coords)
    data_vars = {
        name: (("time", y_name, x_name), da.stack(days)) for name, days in stacked.items() if days
    }
    return xr.Dataset(
        data_vars,
        coords={"time": ("time", np.array(times, dtype="datetime64[ns]")), **coords},
    )
