"""Product variables to physical values, and the lazy cube they are gridded into.

A product stores each variable as a 1-D array over its grid points, often as scaled
integers with a fill value (``scale_factor``, ``add_offset`` or the products' own
``scale_offset``, ``_FillValue``). :func:`decode_values` turns them into float32 with NaN for
missing values. :func:`build_dataset` lays out the cube of a window and a list of products:
coordinates in memory, one zarr chunk per product and spatial block, computed when read;
each dask chunk groups up to ``max_workers`` products of a block, so that that many are
read at once even by a scheduler with few threads.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import DatasetInfo, Product

if TYPE_CHECKING:
    import xarray

__all__ = ["build_dataset", "decode_values"]


def _number(attrs: Mapping[str, Any], name: str) -> float | None:
    value = attrs.get(name)
    if value is None:
        return None
    array = np.asarray(value).ravel()
    if array.size == 0 or array.dtype.kind not in "iuf":
        return None
    return float(array[0])


def decode_values(raw: np.ndarray, attrs: Mapping[str, Any]) -> np.ndarray:
    """Physical values as float32: fill values and non-finite values become NaN."""
    raw = np.asarray(raw)
    values = raw.astype(np.float64)
    missing = ~np.isfinite(values)
    fill = _number(attrs, "_FillValue")
    if fill is not None:
        missing |= raw == np.asarray(fill).astype(raw.dtype)
    scale = _number(attrs, "scale_factor")
    offset = _number(attrs, "add_offset")
    if offset is None:
        offset = _number(attrs, "scale_offset")
    if scale is not None:
        values *= scale
    if offset is not None:
        values += offset
    values[missing] = np.nan
    return values.astype(np.float32)


def build_dataset(
    info: DatasetInfo,
    variable_names: Sequence[str],
    window: Any,
    products: Sequence[Product],
    chunk_function: Callable[[str], Callable[[tuple[int, ...]], np.ndarray]],
    *,
    max_workers: int,
    attrs: Mapping[str, Any],
) -> xarray.Dataset:
    """The lazy cube: dims (time, lat, lon), one time step per product.

    ``window`` is a :class:`eostores_smos.grid.Window`; ``chunk_function(name)`` returns
    the picklable function that computes chunk ``(time, row block, column block)`` of
    variable ``name``.
    """
    from eostores.chunkstore import ChunkArray, ChunkStore

    count = len(products)
    times = np.array([np.datetime64(p.time, "ms") for p in products], dtype="datetime64[ms]")
    bounds = np.array(
        [[np.datetime64(p.start, "ms"), np.datetime64(p.end, "ms")] for p in products],
        dtype="datetime64[ms]",
    ).reshape(count, 2)
    rows, cols = window.shape
    tile_rows, tile_cols = window.tile_shape
    arrays = [
        ChunkArray(
            "time",
            ("time",),
            (count,),
            (1,),
            "datetime64[ms]",
            data=times,
            attrs={"standard_name": "time", "long_name": "product mid-time", "bounds": "time_bnds"},
        ),
        ChunkArray(
            "time_bnds",
            ("time", "bnds"),
            (count, 2),
            (1, 2),
            "datetime64[ms]",
            data=bounds,
            attrs={"long_name": "product sensing start and stop"},
        ),
        ChunkArray(
            "lat",
            ("lat",),
            (rows,),
            (rows,),
            "float64",
            data=window.lat(),
            attrs={"standard_name": "latitude", "units": "degrees_north"},
        ),
        ChunkArray(
            "lon",
            ("lon",),
            (cols,),
            (cols,),
            "float64",
            data=window.lon(),
            attrs={"standard_name": "longitude", "units": "degrees_east"},
        ),
    ]
    for name in variable_names:
        variable = info.variable(name)
        arrays.append(
            ChunkArray(
                name,
                ("time", "lat", "lon"),
                (count, rows, cols),
                (1, tile_rows, tile_cols),
                "float32",
                get_chunk=chunk_function(name),
                attrs=variable.attrs(),
            )
        )
    store = ChunkStore(
        arrays,
        attrs={**attrs, "products": [p.name for p in products]},
        max_workers=max_workers,
        name=info.data_id,
    )
    dataset = store.open_dataset()
    return dataset.set_coords(["time_bnds"])
