"""Reading single assets lazily: Cloud-Optimized GeoTIFF, Zarr and NetCDF over https, s3 or files.

:func:`open_asset` opens one asset as a dataset of dask-backed variables whose chunks are
read on access. The chunks are read by :class:`AssetArray`, which holds only the asset
record and the (picklable) access: a GeoTIFF window is opened, read and closed in the
reading thread (its header comes from the process's opener, without a request); Zarr and
NetCDF files are opened once per process. Failures become eostores errors naming the
href, or fill values under ``error_policy``.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    ServiceError,
)

from .access import AssetAccess
from .convert import crs_coordinate
from .records import Asset, Grid

if TYPE_CHECKING:
    import xarray as xr

__all__ = [
    "AssetArray",
    "AssetReadWarning",
    "asset_error",
    "lazy_dataset",
    "open_asset",
    "read_grid",
    "stored_fill_value",
]

_DEFAULT_CHUNK = 512
_MAX_OPEN = 64
#: CF attributes that describe how values are stored (present when read undecoded).
_CF_ENCODING = ("scale_factor", "add_offset", "_FillValue", "missing_value")


class AssetReadWarning(UserWarning):
    """An asset could not be read and was left out (error_policy="warn")."""


def asset_error(href: str, error: BaseException, store_id: str | None = None) -> DataStoreError:
    """The eostores error for a failed read of ``href``, naming the href (secrets removed)."""
    from eostores.http import redact_url

    where = redact_url(href)
    if isinstance(error, DataStoreError):
        message = error.message if where in error.message else f"{error.message} (asset {where})"
        result = type(error).__new__(type(error))
        result.__dict__.update(error.__dict__)
        Exception.__init__(result, message)
        result.message = message
        result.store_id = error.store_id or store_id
        return result
    text = redact_url(" ".join(str(error).split()) or type(error).__name__)
    kinds = _exception_kinds(error)
    if "PermissionError" in kinds or "PermissionError(" in text:
        return AuthenticationError(f"access to asset {where} denied: {text}", store_id=store_id)
    if "FileNotFoundError" in kinds or "FileNotFoundError(" in text:
        return DataNotFoundError(f"asset {where} does not exist ({text})", store_id=store_id)
    return ServiceError(f"cannot read asset {where}: {text}", store_id=store_id, url=where)


def read_failure(access: AssetAccess, asset: Asset | None, href: str, error: BaseException) -> Any:
    """The eostores error for ``error`` while reading ``href``, with its real cause.

    HDF5 reports a failing file object as a broken file; asking the file for one byte
    names the cause (missing, denied, the service's error).
    """
    cause = error
    if not isinstance(error, DataStoreError) and (asset is None or asset.format == "netcdf"):
        cause = access.probe(href) or error
    return asset_error(href, cause, access.store_id)


def _exception_kinds(error: BaseException) -> set[str]:
    """The class names of ``error`` and the exceptions it was raised from."""
    kinds: set[str] = set()
    current: BaseException | None = error
    while current is not None and len(kinds) < 20:
        kinds.update(cls.__name__ for cls in type(current).__mro__)
        current = current.__cause__ or current.__context__
    return kinds


# --------------------------------------------------------------------------- Zarr and NetCDF

_opened: OrderedDict[tuple[Any, ...], Any] = OrderedDict()
_opened_lock = threading.Lock()


def lazy_dataset(access: AssetAccess, asset: Asset) -> xr.Dataset:
    """A Zarr or NetCDF asset as a lazily indexed dataset (no dask), opened once per process.

    Holds the variables of two or more dimensions. When the asset's raster metadata has a
    scale or offset, that metadata does the scaling: the variables are read as stored, the
    file's own CF ``scale_factor``/``add_offset``/``_FillValue`` left undecoded, so that
    values are never scaled twice (catalogs repeat a file's CF encoding as raster metadata).
    Otherwise xarray decodes the CF encoding.
    """
    key = (access.cache_key, asset.href, asset.format, asset.scaled)
    with _opened_lock:
        found = _opened.get(key)
        if found is not None:
            _opened.move_to_end(key)
            return found
    dataset = _open_array_file_lazily(access, asset)
    with _opened_lock:
        _opened[key] = dataset
        while len(_opened) > _MAX_OPEN:
            _opened.popitem(last=False)
    return dataset


def _open_array_file_lazily(access: AssetAccess, asset: Asset) -> xr.Dataset:
    import xarray as xr

    decode = not asset.scaled
    if asset.format == "zarr":
        dataset = open_zarr_lazily(*access.location(asset.href), mask_and_scale=decode)
    else:
        fs, path = access.location(asset.href)
        local = getattr(fs, "protocol", None) in ("file", ("file", "local"))
        source: Any = path if local else fs.open(path, "rb")
        dataset = xr.open_dataset(
            source, engine="h5netcdf", chunks=None, cache=False, mask_and_scale=decode
        )
    return dataset[[n for n in dataset.data_vars if dataset[n].ndim >= 2]]


def stored_fill_value(attrs: Mapping[str, Any]) -> float | None:
    """The CF fill value of a variable read as stored (``_FillValue``, else ``missing_value``)."""
    for name in ("_FillValue", "missing_value"):
        value = attrs.get(name)
        if isinstance(value, int | float | np.number) and not isinstance(value, bool):
            return float(value)
    return None


def _output_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attributes of a variable read as stored, without its CF encoding: the fill value
    becomes ``file_nodata`` (as for GeoTIFF), scale and offset come from the raster fields."""
    result = {k: v for k, v in attrs.items() if k not in _CF_ENCODING}
    fill = stored_fill_value(attrs)
    if fill is not None:
        result["file_nodata"] = fill
    return result


def open_zarr_lazily(fs: Any, path: str, **kwargs: Any) -> xr.Dataset:
    """Open a Zarr group without dask, trying format 3 first, then format 2.

    Naming the format spares the probing of both formats' metadata keys (one request
    for a consolidated group instead of four).
    """
    import xarray as xr

    from eostores.fs.zarr import zarr_store

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*onsolidated metadata.*")
        try:
            return xr.open_dataset(
                zarr_store(fs, path), engine="zarr", chunks=None, zarr_format=3, **kwargs
            )
        except (FileNotFoundError, KeyError, ValueError) as error:
            if isinstance(error, DataStoreError):
                raise
            return xr.open_dataset(
                zarr_store(fs, path), engine="zarr", chunks=None, zarr_format=2, **kwargs
            )


def read_grid(asset: Asset, access: AssetAccess) -> Grid:
    """The grid of an asset from its header (GeoTIFF) or its coordinates (Zarr, NetCDF)."""
    if asset.format == "geotiff":
        with access.raster_source(asset.href).open() as dataset:
            return Grid(
                dataset.crs.to_string(),
                tuple(dataset.transform)[:6],
                (dataset.height, dataset.width),
            )
    import odc.geo.xr  # noqa: F401  (the .odc accessor)

    dataset = lazy_dataset(access, asset)
    geobox = dataset[next(iter(dataset.data_vars))].odc.geobox
    return Grid(str(geobox.crs), tuple(geobox.affine)[:6], tuple(geobox.shape))


# --------------------------------------------------------------------------- guarded reads


@dataclass(frozen=True)
class AssetArray:
    """One variable of one asset, read window by window; what dask's chunks call.

    ``variable`` names a Zarr/NetCDF variable; for a GeoTIFF it is None and ``overview``
    the overview level (None: full resolution). Holds the access and the asset record
    only, so it pickles to dask workers. With ``error_policy`` "warn" or "ignore" a failed
    read gives ``fill_value`` instead (with an AssetReadWarning for "warn").
    """

    access: AssetAccess
    asset: Asset
    variable: str | None
    overview: int | None
    shape: tuple[int, ...]
    dtype: np.dtype
    error_policy: str = "fail"
    fill_value: Any = None

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __getitem__(self, key: Any) -> np.ndarray:
        key = key if isinstance(key, tuple) else (key,)
        try:
            if self.variable is None:
                return self._read_raster(key)
            variable = lazy_dataset(self.access, self.asset)[self.variable]
            selection = dict(zip(variable.dims, key, strict=False))
            return np.asarray(variable.isel(selection).values, dtype=self.dtype)
        except Exception as error:
            failure = read_failure(self.access, self.asset, self.asset.href, error)
            if self.error_policy == "fail":
                raise failure from error
            if self.error_policy == "warn":
                warnings.warn(f"{failure}; filled with {self.fill_value}", AssetReadWarning)
            return np.full(_selection_shape(key, self.shape), self.fill_value, dtype=self.dtype)

    def _read_raster(self, key: tuple[slice, ...]) -> np.ndarray:
        from rasterio.windows import Window

        *band_key, rows, cols = (k if isinstance(k, slice) else slice(k, k + 1) for k in key)
        rows = slice(*rows.indices(self.shape[-2])[:2])
        cols = slice(*cols.indices(self.shape[-1])[:2])
        window = Window.from_slices(rows, cols)
        source = self.access.raster_source(self.asset.href)
        with source.open(overview_level=self.overview) as dataset:
            if band_key:
                first, last, _ = band_key[0].indices(self.shape[0])
                values = dataset.read(list(range(first + 1, last + 1)), window=window)
            else:
                values = dataset.read(1, window=window)
        return np.asarray(values, dtype=self.dtype)


def _selection_shape(key: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    result = []
    for item, size in zip(key, shape, strict=False):
        if isinstance(item, slice):
            result.append(len(range(*item.indices(size))))
        elif isinstance(item, int | np.integer):
            continue
        else:
            result.append(len(np.asarray(item)))
    return tuple(result)


def _dask_array(reader: AssetArray, chunks: tuple[int, ...], name: str) -> Any:
    import dask.array as da
    from dask.base import tokenize

    token = tokenize(
        reader.access.store_id, reader.asset.href, name, reader.overview, reader.error_policy
    )
    return da.from_array(
        reader,
        chunks=chunks,
        name=f"asset-{name}-{token}",
        lock=False,
        asarray=False,
        fancy=False,
        meta=np.empty((0,) * reader.ndim, dtype=reader.dtype),
    )


# --------------------------------------------------------------------------- opening


def _block_multiple(block: int, size: int, wanted: int | None) -> int:
    if wanted:
        return min(size, wanted)
    return min(size, block * max(1, round(_DEFAULT_CHUNK / block)))


def _overview_level(header: Any, spatial_res: float | None) -> int | None:
    """The coarsest overview whose pixel size is at most ``spatial_res`` (None: full res)."""
    if spatial_res is None or not header.count:
        return None
    native = abs(header.transform.a)
    chosen = None
    for index, factor in enumerate(header.overviews(1)):
        if native * factor <= spatial_res * (1 + 1e-9):
            chosen = index
    return chosen


def _open_geotiff(
    asset: Asset,
    access: AssetAccess,
    spatial_res: float | None,
    tile_size: tuple[int, int] | None,
    error_policy: str,
) -> xr.Dataset:
    """A GeoTIFF asset as a dataset with one variable ``asset.key`` (dims y, x [or band, y, x])."""
    import xarray as xr

    source = access.raster_source(asset.href)
    with source.open() as header:
        overview = _overview_level(header, spatial_res)
        block_height, block_width = header.block_shapes[0]
    with source.open(overview_level=overview) as header:
        count, height, width = header.count, header.height, header.width
        transform, crs = header.transform, header.crs.to_wkt()
        dtype = np.dtype(header.dtypes[0])
        file_nodata = header.nodatavals[0]
    dims: tuple[str, ...] = ("y", "x") if count == 1 else ("band", "y", "x")
    shape = (height, width) if count == 1 else (count, height, width)
    sizes = {
        "band": 1,
        "y": _block_multiple(block_height, height, tile_size[1] if tile_size else None),
        "x": _block_multiple(block_width, width, tile_size[0] if tile_size else None),
    }
    fill = np.nan if dtype.kind in "fc" else 0
    reader = AssetArray(access, asset, None, overview, shape, dtype, error_policy, fill)
    array = _dask_array(reader, tuple(sizes[d] for d in dims), asset.key)
    coords: dict[str, Any] = {
        "x": ("x", transform.c + transform.a * (np.arange(width) + 0.5)),
        "y": ("y", transform.f + transform.e * (np.arange(height) + 0.5)),
        "spatial_ref": crs_coordinate(crs),
    }
    if count > 1:
        coords["band"] = ("band", np.arange(1, count + 1))
    attrs: dict[str, Any] = {"grid_mapping": "spatial_ref"}
    if asset.nodata is None and file_nodata is not None:
        attrs["file_nodata"] = float(file_nodata)
    if overview is not None:
        attrs["overview_level"] = overview
    return xr.Dataset({asset.key: (dims, array, attrs)}, coords=coords)


def _open_array_file(asset: Asset, access: AssetAccess, error_policy: str) -> xr.Dataset:
    """A Zarr or NetCDF asset: its variable named after the asset (several: prefixed)."""
    import xarray as xr

    dataset = lazy_dataset(access, asset)
    names = [str(n) for n in dataset.data_vars]
    variables = {}
    for name in names:
        variable = dataset[name]
        dtype = np.dtype(variable.dtype)
        fill = np.nan if dtype.kind in "fc" else 0
        reader = AssetArray(access, asset, name, None, variable.shape, dtype, error_policy, fill)
        preferred = variable.encoding.get("preferred_chunks") or {}
        chunks = tuple(preferred.get(dim, -1) for dim in variable.dims)
        target = asset.key if len(names) == 1 else f"{asset.key}_{name}"
        variables[target] = xr.Variable(
            variable.dims, _dask_array(reader, chunks, target), _output_attrs(variable.attrs)
        )
    return xr.Dataset(variables, coords=dataset.coords, attrs=dataset.attrs)


def open_asset(
    asset: Asset,
    access: AssetAccess,
    *,
    spatial_res: float | None = None,
    tile_size: tuple[int, int] | None = None,
    error_policy: str = "fail",
) -> xr.Dataset:
    """Open one asset lazily; errors while opening name the href."""
    try:
        if asset.format == "geotiff":
            return _open_geotiff(asset, access, spatial_res, tile_size, error_policy)
        return _open_array_file(asset, access, error_policy)
    except Exception as error:
        raise read_failure(access, asset, asset.href, error) from error
