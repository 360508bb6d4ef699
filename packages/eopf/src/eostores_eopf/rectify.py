"""Rectification of swath products (Sentinel-3, Sentinel-1) onto a regular grid, lazily.

A swath variable lies on (row, column) pixels whose longitude and latitude are given by
geolocation arrays. The output grid is any regular grid (CRS, affine transform, shape).
Planning uses the geolocation only (read at open time, as the analysis mode does); pixel
values are read per output chunk, from the source window that chunk needs:

* where output cells are as fine as the source or finer, each output cell centre is
  located in the swath: its nearest source pixel (a KD-tree in the output CRS) and, for
  ``bilinear``, its fractional (row, column) from the local Jacobian of the geolocation,
  then the four neighbours are weighted; ``nearest`` and ``center`` take the nearest pixel;
* where output cells are coarser (``mean``, ``median``, ``min``, ``max``, ``sum``, ``mode``),
  the source pixels falling into each cell are combined.

Cells no source pixel covers are NaN. Nothing of the package is imported here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["TargetGrid", "interpolate_geolocation", "rectify"]

_AGGREGATIONS = ("mean", "median", "min", "max", "sum", "mode")


@dataclass(frozen=True)
class TargetGrid:
    """A regular output grid: CRS, GDAL-order affine transform (a, b, c, d, e, f), shape."""

    crs: str
    transform: tuple[float, float, float, float, float, float]
    shape: tuple[int, int]

    @property
    def resolution(self) -> float:
        return abs(self.transform[0])

    def centres(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre x (per column) and y (per row)."""
        a, _, c, _, e, f = self.transform
        rows, cols = self.shape
        return c + a * (np.arange(cols) + 0.5), f + e * (np.arange(rows) + 0.5)


def interpolate_geolocation(
    values: np.ndarray, lines: np.ndarray, pixels: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """A full-resolution geolocation array from a tie-point (GCP) grid at ``lines`` x
    ``pixels`` (bilinear in row and column)."""
    from scipy.interpolate import RegularGridInterpolator

    interpolator = RegularGridInterpolator(
        (np.asarray(lines, dtype="float64"), np.asarray(pixels, dtype="float64")),
        np.asarray(values, dtype="float64"),
        bounds_error=False,
        fill_value=None,
    )
    rows, cols = np.meshgrid(np.arange(shape[0]), np.arange(shape[1]), indexing="ij")
    return interpolator(np.stack([rows.ravel(), cols.ravel()], axis=-1)).reshape(shape)


@dataclass
class _Plan:
    """Where the output cells lie in the source window, computed from geolocation only."""

    window: tuple[slice, slice]
    rows: np.ndarray  # fractional source row per output cell (window-relative), NaN: none
    cols: np.ndarray
    nearest: np.ndarray  # flat index of the nearest source pixel in the window, -1: none
    cell_of_pixel: np.ndarray | None = None  # output cell (flat) per source pixel, -1: none


def _project(lon: np.ndarray, lat: np.ndarray, crs: str) -> tuple[np.ndarray, np.ndarray]:
    from pyproj import CRS, Transformer

    target = CRS.from_user_input(crs)
    if target.equals(CRS.from_epsg(4326)):
        return lon.astype("float64"), lat.astype("float64")
    transformer = Transformer.from_crs("EPSG:4326", target, always_xy=True)
    x, y = transformer.transform(lon, lat)
    return np.asarray(x, dtype="float64"), np.asarray(y, dtype="float64")


def _spacing(x: np.ndarray, y: np.ndarray) -> float:
    """The typical distance between neighbouring source pixels, in output CRS units."""
    steps = []
    if x.shape[1] > 1:
        steps.append(np.hypot(np.diff(x, axis=1), np.diff(y, axis=1)).ravel())
    if x.shape[0] > 1:
        steps.append(np.hypot(np.diff(x, axis=0), np.diff(y, axis=0)).ravel())
    if not steps:
        return 0.0
    values = np.concatenate(steps)
    values = values[np.isfinite(values)]
    return float(np.median(values)) if values.size else 0.0


def _plan(
    lon: np.ndarray, lat: np.ndarray, grid: TargetGrid, aggregate: bool
) -> tuple[_Plan | None, float]:
    """The plan of a rectification; None when the swath misses the grid."""
    from scipy.spatial import cKDTree

    x, y = _project(lon, lat, grid.crs)
    spacing = _spacing(x, y)
    a, _, c, _, e, f = grid.transform
    rows_out, cols_out = grid.shape
    x0, x1 = sorted((c, c + a * cols_out))
    y0, y1 = sorted((f, f + e * rows_out))
    margin = 2 * max(spacing, grid.resolution)
    inside = (
        np.isfinite(x)
        & np.isfinite(y)
        & (x >= x0 - margin)
        & (x <= x1 + margin)
        & (y >= y0 - margin)
        & (y <= y1 + margin)
    )
    if not inside.any():
        return None, spacing
    hit_rows = np.flatnonzero(inside.any(axis=1))
    hit_cols = np.flatnonzero(inside.any(axis=0))
    window = (
        slice(int(hit_rows[0]), int(hit_rows[-1]) + 1),
        slice(int(hit_cols[0]), int(hit_cols[-1]) + 1),
    )
    wx, wy = x[window], y[window]
    width = wx.shape[1]
    centre_x, centre_y = grid.centres()
    cx, cy = np.meshgrid(centre_x, centre_y)
    finite = np.isfinite(wx) & np.isfinite(wy)
    points = np.stack([wx[finite], wy[finite]], axis=-1)
    flat_of_point = np.flatnonzero(finite.ravel())
    tree = cKDTree(points)
    distance, found = tree.query(np.stack([cx.ravel(), cy.ravel()], axis=-1), k=1)
    reach = max(spacing, 1e-12) * 1.0
    ok = np.isfinite(distance) & (distance <= reach)
    nearest = np.full(cx.size, -1, dtype="int64")
    nearest[ok] = flat_of_point[found[ok]]
    # fractional source position from the local Jacobian of the geolocation
    dx_dr, dx_dc = np.gradient(wx) if min(wx.shape) > 1 else (np.ones_like(wx),) * 2
    dy_dr, dy_dc = np.gradient(wy) if min(wy.shape) > 1 else (np.ones_like(wy),) * 2
    index = np.where(ok, nearest, 0)
    r0, c0 = np.divmod(index, width)
    jx_r, jx_c = dx_dr.ravel()[index], dx_dc.ravel()[index]
    jy_r, jy_c = dy_dr.ravel()[index], dy_dc.ravel()[index]
    det = jx_r * jy_c - jx_c * jy_r
    det = np.where(np.abs(det) < 1e-30, np.nan, det)
    ex = cx.ravel() - wx.ravel()[index]
    ey = cy.ravel() - wy.ravel()[index]
    d_row = (jy_c * ex - jx_c * ey) / det
    d_col = (-jy_r * ex + jx_r * ey) / det
    frac_rows = np.where(ok, r0 + d_row, np.nan).reshape(grid.shape)
    frac_cols = np.where(ok, c0 + d_col, np.nan).reshape(grid.shape)
    plan = _Plan(window, frac_rows, frac_cols, nearest.reshape(grid.shape))
    if aggregate:
        col = np.floor((wx - c) / a)
        row = np.floor((wy - f) / e)
        valid = finite & (col >= 0) & (col < cols_out) & (row >= 0) & (row < rows_out)
        cell = np.where(valid, row * cols_out + col, -1).astype("int64")
        plan.cell_of_pixel = cell
    return plan, spacing


def _chunk_bounds(sizes: Sequence[int]) -> list[tuple[int, int]]:
    bounds, start = [], 0
    for size in sizes:
        bounds.append((start, start + size))
        start += size
    return bounds


def _sizes(total: int, step: int) -> list[int]:
    return [min(step, total - start) for start in range(0, total, step)]


def _source_window(
    plan: _Plan, rows: tuple[int, int], cols: tuple[int, int], aggregate: bool, width: int
) -> tuple[slice, slice] | None:
    """The window-relative source rows/cols an output chunk needs (None: none)."""
    near = plan.nearest[rows[0] : rows[1], cols[0] : cols[1]]
    used = near[near >= 0]
    picked_rows, picked_cols = [], []
    if used.size:
        r, c = np.divmod(used, width)
        picked_rows += [r.min(), r.max()]
        picked_cols += [c.min(), c.max()]
    if aggregate and plan.cell_of_pixel is not None:
        total_cols = plan.nearest.shape[1]
        cell = plan.cell_of_pixel
        cell_row, cell_col = np.divmod(np.where(cell >= 0, cell, 0), total_cols)
        mine = (
            (cell >= 0)
            & (cell_row >= rows[0])
            & (cell_row < rows[1])
            & (cell_col >= cols[0])
            & (cell_col < cols[1])
        )
        if mine.any():
            hit_r = np.flatnonzero(mine.any(axis=1))
            hit_c = np.flatnonzero(mine.any(axis=0))
            picked_rows += [hit_r[0], hit_r[-1]]
            picked_cols += [hit_c[0], hit_c[-1]]
    if not picked_rows:
        return None
    height = plan.cell_of_pixel.shape[0] if plan.cell_of_pixel is not None else None
    top = max(0, int(min(picked_rows)) - 1)
    bottom = int(max(picked_rows)) + 2
    if height is not None:
        bottom = min(bottom, height)
    left = max(0, int(min(picked_cols)) - 1)
    right = min(width, int(max(picked_cols)) + 2)
    return slice(top, bottom), slice(left, right)


def _interpolate_chunk(
    source: np.ndarray,
    origin: tuple[int, int],
    frac_rows: np.ndarray,
    frac_cols: np.ndarray,
    nearest: np.ndarray,
    width: int,
    method: str,
) -> np.ndarray:
    """Output values of one chunk from its source window (``origin``: window corner)."""
    values = np.asarray(source, dtype="float32")
    out = np.full(nearest.shape, np.nan, dtype="float32")
    valid = nearest >= 0
    if not valid.any():
        return out
    height, wide = values.shape
    near_r, near_c = np.divmod(nearest[valid], width)
    near_r = near_r - origin[0]
    near_c = near_c - origin[1]
    near_values = values[near_r, near_c]
    if method != "bilinear":
        out[valid] = near_values
        return out
    fr = frac_rows[valid] - origin[0]
    fc = frac_cols[valid] - origin[1]
    r0 = np.floor(fr).astype("int64")
    c0 = np.floor(fc).astype("int64")
    wr = (fr - r0).astype("float32")
    wc = (fc - c0).astype("float32")
    inside = (r0 >= 0) & (c0 >= 0) & (r0 + 1 < height) & (c0 + 1 < wide)
    result = near_values.copy()
    if inside.any():
        r, c = r0[inside], c0[inside]
        a, b = wr[inside], wc[inside]
        v00, v01 = values[r, c], values[r, c + 1]
        v10, v11 = values[r + 1, c], values[r + 1, c + 1]
        blended = (1 - a) * ((1 - b) * v00 + b * v01) + a * ((1 - b) * v10 + b * v11)
        # where a neighbour has no value, keep the nearest pixel's
        result[inside] = np.where(np.isfinite(blended), blended, near_values[inside])
    out[valid] = result
    return out


def _aggregate_chunk(
    source: np.ndarray,
    cells: np.ndarray,
    chunk_origin: tuple[int, int],
    chunk_shape: tuple[int, int],
    total_cols: int,
    method: str,
) -> np.ndarray:
    """Output values of one chunk: the source pixels of each cell, combined by ``method``."""
    values = np.asarray(source, dtype="float64").ravel()
    cell = cells.ravel()
    cell_row, cell_col = np.divmod(np.where(cell >= 0, cell, 0), total_cols)
    local_row = cell_row - chunk_origin[0]
    local_col = cell_col - chunk_origin[1]
    mine = (
        (cell >= 0)
        & (local_row >= 0)
        & (local_row < chunk_shape[0])
        & (local_col >= 0)
        & (local_col < chunk_shape[1])
        & np.isfinite(values)
    )
    out = np.full(chunk_shape[0] * chunk_shape[1], np.nan, dtype="float64")
    if not mine.any():
        return out.reshape(chunk_shape).astype("float32")
    target = (local_row * chunk_shape[1] + local_col)[mine]
    picked = values[mine]
    size = out.size
    counts = np.bincount(target, minlength=size)
    filled = counts > 0
    if method in ("mean", "sum"):
        sums = np.bincount(target, weights=picked, minlength=size)
        out[filled] = sums[filled] / counts[filled] if method == "mean" else sums[filled]
    elif method in ("min", "max"):
        start = np.inf if method == "min" else -np.inf
        acc = np.full(size, start)
        (np.minimum if method == "min" else np.maximum).at(acc, target, picked)
        out[filled] = acc[filled]
    else:
        import pandas as pd

        grouped = pd.Series(picked).groupby(target)
        if method == "median":
            reduced = grouped.median()
        else:
            reduced = grouped.agg(lambda s: s.mode().iloc[0])
        out[reduced.index.to_numpy()] = reduced.to_numpy()
    return out.reshape(chunk_shape).astype("float32")


def rectify(
    variables: Mapping[str, Any],
    lon: np.ndarray,
    lat: np.ndarray,
    grid: TargetGrid,
    methods: Mapping[str, str],
    tile_size: tuple[int, int],
) -> dict[str, Any]:
    """The variables (2-D dask-backed arrays on the swath) on ``grid`` as dask arrays.

    ``lon``/``lat`` are the geolocation of the swath pixels (numpy, same shape);
    ``methods`` names the method per variable (``nearest``, ``bilinear``, ``center`` or an
    aggregation); ``tile_size`` is (x, y) pixels per output chunk.
    """
    import dask
    import dask.array as da

    aggregate = any(methods.get(name) in _AGGREGATIONS for name in variables)
    plan, _ = _plan(np.asarray(lon), np.asarray(lat), grid, aggregate)
    row_bounds = _chunk_bounds(_sizes(grid.shape[0], tile_size[1]))
    col_bounds = _chunk_bounds(_sizes(grid.shape[1], tile_size[0]))
    results: dict[str, Any] = {}
    for name, variable in variables.items():
        data = getattr(variable, "data", variable)
        method = methods.get(name, "nearest")
        blocks = []
        for rows in row_bounds:
            line = []
            for cols in col_bounds:
                shape = (rows[1] - rows[0], cols[1] - cols[0])
                if plan is None:
                    line.append(da.full(shape, np.nan, dtype="float32"))
                    continue
                width = plan.window[1].stop - plan.window[1].start
                use_cells = method in _AGGREGATIONS
                window = _source_window(plan, rows, cols, use_cells, width)
                if window is None:
                    line.append(da.full(shape, np.nan, dtype="float32"))
                    continue
                base_r, base_c = plan.window[0].start, plan.window[1].start
                source = data[
                    base_r + window[0].start : base_r + window[0].stop,
                    base_c + window[1].start : base_c + window[1].stop,
                ]
                if use_cells:
                    assert plan.cell_of_pixel is not None
                    cells = plan.cell_of_pixel[window]
                    task = dask.delayed(_aggregate_chunk, pure=True)(
                        source, cells, (rows[0], cols[0]), shape, grid.shape[1], method
                    )
                else:
                    task = dask.delayed(_interpolate_chunk, pure=True)(
                        source,
                        (window[0].start, window[1].start),
                        plan.rows[rows[0] : rows[1], cols[0] : cols[1]],
                        plan.cols[rows[0] : rows[1], cols[0] : cols[1]],
                        plan.nearest[rows[0] : rows[1], cols[0] : cols[1]],
                        width,
                        method,
                    )
                line.append(da.from_delayed(task, shape, dtype="float32"))
            blocks.append(line)
        results[name] = da.block(blocks) if blocks else da.zeros(grid.shape, dtype="float32")
    return results


def grid_for(bbox: Sequence[float], resolution: float, crs: str) -> TargetGrid:
    """The grid covering ``bbox`` (in ``crs``) at ``resolution``, top-left anchored."""
    x0, y0, x1, y1 = bbox
    cols = max(1, math.ceil((x1 - x0) / resolution - 1e-9))
    rows = max(1, math.ceil((y1 - y0) / resolution - 1e-9))
    return TargetGrid(crs, (resolution, 0.0, float(x0), 0.0, -resolution, float(y1)), (rows, cols))
