"""Multi-resolution datasets: one dataset at several spatial resolutions (an image pyramid).

Level 0 has the finest resolution; each further level halves the number of pixels along
x and y. Levels are opened or computed lazily on first use and then kept, so that a
viewer or a tiling service can ask for any level repeatedly at no extra cost.
"""

from __future__ import annotations

import math
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import xarray as xr

from .dims import X_NAMES, Y_NAMES, find_dim
from .errors import InvalidParameterError

__all__ = [
    "AGG_METHODS",
    "DEFAULT_TILE_SIZE",
    "BaseMultiLevelDataset",
    "LazyMultiLevelDataset",
    "MultiLevelDataset",
    "coarsen_dataset",
    "default_num_levels",
    "normalize_tile_size",
    "resolve_agg_methods",
    "spatial_dims",
]

#: How the pixels of a 2x2 (or 2**n x 2**n) block become one pixel of a coarser level.
AGG_METHODS = ("first", "mean", "median", "max", "min")
DEFAULT_TILE_SIZE = 512


class MultiLevelDataset(ABC):
    """A dataset at ``num_levels`` resolutions; level 0 is the finest.

    Subclasses implement ``num_levels`` and ``_open_level``; this class caches each level
    after its first use and drops the cache when pickled, so that instances can be sent
    to dask workers and rebuild their levels there.
    """

    def __init__(self, ds_id: str | None = None):
        self._ds_id = ds_id or f"mldataset-{uuid.uuid4().hex[:12]}"
        self._levels: dict[int, xr.Dataset] = {}
        self._lock = threading.RLock()
        self._base_info: tuple[str | None, tuple[float, float, float, float] | None] | None = None

    @property
    def ds_id(self) -> str:
        """An identifier of this dataset, for logs and caches."""
        return self._ds_id

    @property
    @abstractmethod
    def num_levels(self) -> int:
        """The number of resolution levels (at least 1)."""

    @abstractmethod
    def _open_level(self, level: int) -> xr.Dataset:
        """Open or compute the dataset of the valid ``level`` (called once per level)."""

    def get_dataset(self, level: int) -> xr.Dataset:
        """The (lazy) dataset of ``level``; 0 is the finest resolution."""
        level = self._check_level(level)
        with self._lock:
            dataset = self._levels.get(level)
            if dataset is None:
                dataset = self._open_level(level)
                self._levels[level] = dataset
        return dataset

    @property
    def base_dataset(self) -> xr.Dataset:
        """The dataset of level 0."""
        return self.get_dataset(0)

    @property
    def resolutions(self) -> tuple[tuple[float, float], ...]:
        """``(x_res, y_res)`` of each level in the units of the x/y coordinates.

        Measured from the coordinates; an axis of one pixel gets the extent of level 0
        divided by its size.
        """
        base = self.base_dataset
        x_dim, y_dim = spatial_dims(base)
        base_res = _measured_resolution(base)
        extents = (base_res[0] * base.sizes[x_dim], base_res[1] * base.sizes[y_dim])
        result = []
        for level in range(self.num_levels):
            dataset = self.get_dataset(level)
            measured = _measured_resolution(dataset)
            sizes = (dataset.sizes[x_dim], dataset.sizes[y_dim])
            result.append(
                tuple(
                    extent / size if math.isnan(res) else res
                    for res, extent, size in zip(measured, extents, sizes, strict=True)
                )
            )
        return tuple(result)

    @property
    def crs(self) -> str | None:
        """The coordinate reference system of level 0 (``"EPSG:<code>"`` where possible)."""
        return self._describe_base()[0]

    @property
    def bbox(self) -> tuple[float, float, float, float] | None:
        """The outer pixel edges of level 0 as ``(x_min, y_min, x_max, y_max)``."""
        return self._describe_base()[1]

    def _describe_base(self) -> tuple[str | None, tuple[float, float, float, float] | None]:
        if self._base_info is None:
            from .descriptor import DatasetDescriptor

            descriptor = DatasetDescriptor.from_dataset(self.ds_id, self.base_dataset)
            self._base_info = (descriptor.crs, descriptor.bbox)
        return self._base_info

    def apply(
        self, function: Callable[[xr.Dataset], xr.Dataset], ds_id: str | None = None
    ) -> MultiLevelDataset:
        """A new multi-level dataset whose level ``i`` is ``function(self.get_dataset(i))``.

        The result pickles when ``function`` does (a module-level function, not a lambda).
        """
        return LazyMultiLevelDataset(
            _AppliedLevel(self, function), self.num_levels, ds_id=ds_id or self.ds_id
        )

    def close(self) -> None:
        """Close the levels opened so far and forget them."""
        with self._lock:
            levels, self._levels = self._levels, {}
        for dataset in levels.values():
            dataset.close()

    def _check_level(self, level: int) -> int:
        if isinstance(level, bool) or not isinstance(level, int | np.integer):
            raise InvalidParameterError(
                f"level must be an integer, got {level!r}", parameter="level"
            )
        if not 0 <= level < self.num_levels:
            raise InvalidParameterError(
                f"level {level} does not exist; allowed: 0 to {self.num_levels - 1}",
                parameter="level",
            )
        return int(level)

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_levels"] = {}
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(ds_id={self.ds_id!r}, num_levels={self.num_levels})"


class LazyMultiLevelDataset(MultiLevelDataset):
    """Levels come from ``get_level(index)``, called once per level on first use.

    ``on_close`` is called by ``close()`` after the opened levels are closed.
    """

    def __init__(
        self,
        get_level: Callable[[int], xr.Dataset],
        num_levels: int,
        ds_id: str | None = None,
        on_close: Callable[[], None] | None = None,
    ):
        super().__init__(ds_id)
        self._get_level = get_level
        self._num_levels = _check_num_levels(num_levels)
        self._on_close = on_close

    @property
    def num_levels(self) -> int:
        return self._num_levels

    def _open_level(self, level: int) -> xr.Dataset:
        return self._get_level(level)

    def close(self) -> None:
        super().close()
        if self._on_close is not None:
            self._on_close()


class BaseMultiLevelDataset(MultiLevelDataset):
    """Levels derived from one dataset by block aggregation over 2**level pixels.

    ``agg_methods`` maps variable names to one of ``AGG_METHODS`` (or is one method for all
    variables); by default floating-point variables are averaged and integer, boolean and
    flag variables (those with ``flag_values``/``flag_masks`` attributes) take the first
    pixel of each block. ``num_levels`` defaults to as many levels as it takes for the
    coarsest to fit into one tile of ``tile_size`` pixels (512 by default). Levels of a
    dask-backed base are chunked by ``tile_size``.
    """

    def __init__(
        self,
        base: xr.Dataset,
        num_levels: int | None = None,
        tile_size: int | tuple[int, int] | None = None,
        agg_methods: str | Mapping[str, str] | None = None,
        ds_id: str | None = None,
    ):
        super().__init__(ds_id)
        self._base = base
        self._x_dim, self._y_dim = spatial_dims(base)
        self._tile_size = normalize_tile_size(tile_size)
        self._agg_methods = resolve_agg_methods(base, agg_methods)
        if num_levels is None:
            num_levels = default_num_levels(
                base.sizes[self._x_dim], base.sizes[self._y_dim], self._tile_size
            )
        self._num_levels = _check_num_levels(num_levels)

    @property
    def num_levels(self) -> int:
        return self._num_levels

    @property
    def tile_size(self) -> tuple[int, int]:
        """``(width, height)`` of a tile in pixels."""
        return self._tile_size

    @property
    def agg_methods(self) -> dict[str, str]:
        """The aggregation method of each data variable."""
        return dict(self._agg_methods)

    @property
    def resolutions(self) -> tuple[tuple[float, float], ...]:
        x_res, y_res = _measured_resolution(self._base)
        return tuple((x_res * 2**i, y_res * 2**i) for i in range(self.num_levels))

    def _open_level(self, level: int) -> xr.Dataset:
        if level == 0:
            return self._base
        dataset = coarsen_dataset(self._base, 2**level, self._agg_methods)
        if any(v.chunks for v in self._base.data_vars.values()):
            width, height = self._tile_size
            dataset = dataset.chunk({self._x_dim: width, self._y_dim: height})
        return dataset

    def close(self) -> None:
        """Close the derived levels and the base dataset."""
        super().close()
        self._base.close()


class _AppliedLevel:
    """The picklable level function of ``MultiLevelDataset.apply``."""

    def __init__(self, source: MultiLevelDataset, function: Callable[[xr.Dataset], xr.Dataset]):
        self.source = source
        self.function = function

    def __call__(self, level: int) -> xr.Dataset:
        return self.function(self.source.get_dataset(level))


# --------------------------------------------------------------------------- helpers


def _check_num_levels(num_levels: Any) -> int:
    if isinstance(num_levels, bool) or not isinstance(num_levels, int | np.integer):
        raise InvalidParameterError(
            f"num_levels must be an integer, got {num_levels!r}", parameter="num_levels"
        )
    if num_levels < 1:
        raise InvalidParameterError(
            f"num_levels must be at least 1, got {num_levels}", parameter="num_levels"
        )
    return int(num_levels)


def normalize_tile_size(tile_size: int | tuple[int, int] | list[int] | None) -> tuple[int, int]:
    """``(width, height)`` from an int, a pair, or None (the default 512)."""
    if tile_size is None:
        return DEFAULT_TILE_SIZE, DEFAULT_TILE_SIZE
    if isinstance(tile_size, int | np.integer) and not isinstance(tile_size, bool):
        sizes = (int(tile_size), int(tile_size))
    elif (
        isinstance(tile_size, list | tuple)
        and len(tile_size) == 2
        and all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in tile_size)
    ):
        sizes = (int(tile_size[0]), int(tile_size[1]))
    else:
        raise InvalidParameterError(
            f"tile_size must be an integer or [width, height], got {tile_size!r}",
            parameter="tile_size",
        )
    if min(sizes) < 1:
        raise InvalidParameterError(
            f"tile_size must be positive, got {tile_size!r}", parameter="tile_size"
        )
    return sizes


def default_num_levels(width: int, height: int, tile_size: tuple[int, int]) -> int:
    """The number of levels after which the coarsest level fits into one tile."""
    tile_width, tile_height = tile_size
    num_levels = 1
    while width > tile_width or height > tile_height:
        width, height = math.ceil(width / 2), math.ceil(height / 2)
        num_levels += 1
    return num_levels


def spatial_dims(dataset: xr.Dataset) -> tuple[str, str]:
    """The names of the x and y dimensions (of 1-D ``x``/``lon``, ``y``/``lat`` coordinates)."""
    x_name, y_name = find_dim(dataset, X_NAMES), find_dim(dataset, Y_NAMES)
    if x_name is None or y_name is None:
        raise InvalidParameterError(
            "a multi-level dataset needs 1-D x/y or lon/lat coordinates",
            parameter="data",
        )
    return dataset[x_name].dims[0], dataset[y_name].dims[0]


def _is_flag(variable: xr.DataArray | xr.Variable) -> bool:
    return "flag_values" in variable.attrs or "flag_masks" in variable.attrs


def resolve_agg_methods(
    dataset: xr.Dataset, agg_methods: str | Mapping[str, str] | None
) -> dict[str, str]:
    """The aggregation method of every data variable, with the defaults filled in."""
    if isinstance(agg_methods, str):
        agg_methods = dict.fromkeys(dataset.data_vars, agg_methods)
    agg_methods = dict(agg_methods or {})
    unknown = [name for name in agg_methods if name not in dataset.data_vars]
    if unknown:
        raise InvalidParameterError(
            f"agg_methods names unknown variable(s) {', '.join(map(repr, unknown))}",
            parameter="agg_methods",
        )
    resolved = {}
    for name, variable in dataset.data_vars.items():
        method = agg_methods.get(name)
        if method is None:
            method = "mean" if variable.dtype.kind in "fc" and not _is_flag(variable) else "first"
        if method not in AGG_METHODS:
            raise InvalidParameterError(
                f"unknown aggregation method {method!r} for {name!r}; "
                f"allowed: {', '.join(AGG_METHODS)}",
                parameter="agg_methods",
            )
        resolved[str(name)] = method
    return resolved


def coarsen_dataset(
    dataset: xr.Dataset, factor: int, agg_methods: str | Mapping[str, str] | None = None
) -> xr.Dataset:
    """Aggregate blocks of ``factor`` x ``factor`` pixels into one.

    The result has ``ceil(size / factor)`` pixels along x and y; the last block of an axis
    may be partial. The new x/y coordinates are the centres of the blocks on the regular
    grid of the input, so ``mean`` of a linear function of x and y equals that function at
    the new coordinates (for complete blocks). ``first`` keeps the dtype and the encoding;
    the other methods ignore NaN, ``max``/``min`` keep integer dtypes.
    """
    if factor == 1:
        return dataset
    x_dim, y_dim = spatial_dims(dataset)
    methods = resolve_agg_methods(dataset, agg_methods)
    spatial = (x_dim, y_dim)

    coords: dict[str, xr.Variable] = {}
    for name, coord in dataset.coords.items():
        variable = coord.variable
        dims = [d for d in variable.dims if d in spatial]
        if not dims:
            coords[name] = variable
        elif variable.ndim == 1:
            coords[name] = xr.Variable(
                variable.dims, _coarse_axis(variable.values, factor), attrs=variable.attrs
            )
        elif variable.dtype.kind == "f":
            coords[name] = _aggregate(variable, dims, factor, "mean")
        else:
            coords[name] = _subsample(variable, dims, factor)

    data_vars: dict[str, xr.Variable] = {}
    for name, data_array in dataset.data_vars.items():
        variable = data_array.variable
        dims = [d for d in variable.dims if d in spatial]
        if not dims:
            data_vars[name] = variable
        elif methods[str(name)] == "first":
            data_vars[name] = _subsample(variable, dims, factor)
        else:
            data_vars[name] = _aggregate(variable, dims, factor, methods[str(name)])
    return xr.Dataset(data_vars, coords=coords, attrs=dataset.attrs)


def _coarse_axis(values: np.ndarray, factor: int) -> np.ndarray:
    size = values.size
    count = math.ceil(size / factor)
    if size < 2:
        return values.copy()
    steps = np.diff(values.astype("float64"))
    if np.allclose(steps, steps[0], rtol=1e-6, atol=0):
        offsets = np.arange(count) * factor + (factor - 1) / 2
        return values[0] + offsets * steps[0]
    padded = np.full(count * factor, np.nan)
    padded[:size] = values
    return np.nanmean(padded.reshape(count, factor), axis=1)


def _subsample(variable: xr.Variable, dims: list[str], factor: int) -> xr.Variable:
    result = variable.isel({d: slice(None, None, factor) for d in dims})
    encoding = {
        k: v
        for k, v in variable.encoding.items()
        if k not in ("chunks", "preferred_chunks", "shards")
    }
    result.encoding = encoding
    return result


def _aggregate(variable: xr.Variable, dims: list[str], factor: int, method: str) -> xr.Variable:
    dtype = variable.dtype
    if dtype.kind == "b":
        variable = variable.astype("uint8")
    result = variable.coarsen(dict.fromkeys(dims, factor), method, boundary="pad", skipna=True)
    if method in ("max", "min") and dtype.kind in "iub":
        # Padding turned the integers into floats; every block holds a real pixel.
        result = result.astype(dtype)
    result.encoding = {}
    return result


def _measured_resolution(dataset: xr.Dataset) -> tuple[float, float]:
    x_dim, y_dim = spatial_dims(dataset)
    return _axis_resolution(dataset[x_dim].values), _axis_resolution(dataset[y_dim].values)


def _axis_resolution(values: np.ndarray) -> float:
    if values.size < 2:
        return float("nan")
    return float(abs(values[-1] - values[0]) / (values.size - 1))
