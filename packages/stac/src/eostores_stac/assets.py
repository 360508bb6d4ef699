"""Reading single assets lazily: Cloud-Optimized GeoTIFF, Zarr and NetCDF over https, s3 or files.

:class:`AssetAccess` knows how to reach an href with the store's settings (S3 credentials and
endpoint, HTTP retries and headers) and is picklable, so that dask workers can read too.
:func:`open_asset` opens one asset as a one-variable dataset whose chunks are read on access;
failures while reading name the href and follow the ``error_policy``.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from xarray.backends import BackendArray

from eostores.errors import AuthenticationError, DataNotFoundError, DataStoreError, ServiceError

if TYPE_CHECKING:
    import xarray as xr

    from .catalog import AssetInfo

__all__ = ["AssetAccess", "AssetReadWarning", "asset_error", "open_asset"]

_DEFAULT_CHUNK = 512
_RETRY_CODES = "429,500,502,503,504"


class AssetReadWarning(UserWarning):
    """An asset could not be read and was left out (error_policy="warn")."""


def _redact(text: str) -> str:
    from eostores.http import redact_url

    return redact_url(text)


def asset_error(href: str, error: BaseException, store_id: str | None = None) -> DataStoreError:
    """The eostores error for a failed read of ``href``, naming the href."""
    where = _redact(href)
    if isinstance(error, DataStoreError):
        message = error.message if where in error.message else f"{error.message} (asset {where})"
        result = type(error).__new__(type(error))
        result.__dict__.update(error.__dict__)
        Exception.__init__(result, message)
        result.message = message
        result.store_id = error.store_id or store_id
        return result
    text = " ".join(str(error).split()) or type(error).__name__
    text = _redact(text)
    kinds = _exception_kinds(error)
    if "PermissionError" in kinds or "PermissionError(" in text:
        return AuthenticationError(f"access to asset {where} denied: {text}", store_id=store_id)
    if "FileNotFoundError" in kinds or "FileNotFoundError(" in text:
        return DataNotFoundError(f"asset {where} does not exist ({text})", store_id=store_id)
    return ServiceError(f"cannot read asset {where}: {text}", store_id=store_id, url=where)


def _exception_kinds(error: BaseException) -> set[str]:
    """The class names of ``error`` and the exceptions it was raised from."""
    kinds: set[str] = set()
    current: BaseException | None = error
    while current is not None and len(kinds) < 20:
        kinds.update(cls.__name__ for cls in type(current).__mro__)
        current = current.__cause__ or current.__context__
    return kinds


@dataclass(frozen=True)
class AssetAccess:
    """How the store reaches asset hrefs. Picklable; filesystems are created per process."""

    store_id: str | None = None
    s3_options: dict[str, Any] = field(default_factory=dict)
    http_params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)

    # -- filesystems ------------------------------------------------------------------------

    def filesystem(self, href: str) -> tuple[Any, str]:
        """``(fsspec filesystem, path)`` for ``href``."""
        scheme = urlsplit(href).scheme.lower()
        if scheme in ("s3", "s3a"):
            return _cached_fs("s3", self.s3_options), href.split("://", 1)[1]
        if scheme in ("http", "https"):
            from .httpfs import SessionHTTPFileSystem

            params = {"store_id": self.store_id, **self.http_params}
            return SessionHTTPFileSystem(http_params=params, headers=self.headers), href
        import fsspec

        path = href[len("file://") :] if href.startswith("file://") else href
        return fsspec.filesystem("file"), path

    def raster_source(self, href: str) -> tuple[str, dict[str, Any]]:
        """The path and ``rasterio.open`` keywords for a GeoTIFF at ``href``.

        A downloaded copy (see :meth:`local_path`) is read from disk. Otherwise https files
        are read by GDAL's curl driver with the retry settings in the path (independent of
        the thread's GDAL environment); s3 objects through s3fs with the store's credentials
        and endpoint; local files directly.
        """
        local = self.local_path(href)
        if local:
            return local, {}
        scheme = urlsplit(href).scheme.lower()
        if scheme in ("http", "https"):
            options = [
                ("max_retry", str(int(self.http_params.get("num_retries", 5)))),
                ("retry_delay", f"{float(self.http_params.get('retry_backoff_base', 1.0)):g}"),
                ("retry_codes", _RETRY_CODES),
                ("list_dir", "no"),
            ]
            options += [(f"header.{k}", v) for k, v in self.headers.items()]
            query = "&".join(f"{k}={quote(v, safe='')}" for k, v in options)
            return f"/vsicurl?{query}&url={quote(href, safe='')}", {}
        if scheme in ("s3", "s3a"):
            from eostores.fs.geotiff import FsspecOpener

            fs, path = self.filesystem(href)
            return path, {"opener": FsspecOpener(fs)}
        return self.filesystem(href)[1], {}

    def zarr_location(self, href: str) -> tuple[Any, str]:
        """``(fsspec filesystem, path)`` of a Zarr asset: its downloaded copy, else ``href``."""
        local = self.local_path(href)
        if local:
            import fsspec

            return fsspec.filesystem("file"), local
        return self.filesystem(href)

    def local_path(self, href: str) -> str | None:
        """A local copy of ``href`` if assets are downloaded first (None: read remotely)."""
        return None

    def prefetch(self, hrefs: list[str]) -> None:
        """Fetch the assets ahead of reading, where assets are downloaded (else nothing)."""


_fs_cache: dict[tuple[str, str], Any] = {}
_fs_lock = threading.Lock()


def _cached_fs(protocol: str, options: Mapping[str, Any]) -> Any:
    import json

    import fsspec

    key = (protocol, json.dumps(options, sort_keys=True, default=str))
    with _fs_lock:
        fs = _fs_cache.get(key)
        if fs is None:
            fs = _fs_cache[key] = fsspec.filesystem(protocol, **options)
        return fs


# --------------------------------------------------------------------------- guarded reads


class GuardedArray(BackendArray):
    """A lazy backend array whose reads turn failures into eostores errors naming the href.

    With ``error_policy`` "warn" or "ignore" a failed read gives ``fill_value`` instead
    (with an :class:`AssetReadWarning` for "warn").
    """

    def __init__(
        self,
        inner: Any,
        href: str,
        error_policy: str = "fail",
        fill_value: Any = None,
        store_id: str | None = None,
    ):
        self.inner = inner
        self.href = href
        self.error_policy = error_policy
        self.fill_value = fill_value
        self.store_id = store_id
        self.shape = inner.shape
        self.dtype = inner.dtype

    def __getitem__(self, key: Any) -> Any:
        from xarray.core import indexing

        return indexing.explicit_indexing_adapter(
            key, self.shape, indexing.IndexingSupport.OUTER, self._read
        )

    def _read(self, key: Any) -> Any:
        import numpy as np
        from xarray.core import indexing

        try:
            if all(isinstance(k, slice | int | np.integer) for k in key):
                return np.asarray(self.inner[indexing.BasicIndexer(key)])
            return np.asarray(self.inner.oindex[indexing.OuterIndexer(key)])
        except Exception as error:
            failure = asset_error(self.href, error, self.store_id)
            if self.error_policy == "fail":
                raise failure from error
            if self.error_policy == "warn":
                warnings.warn(f"{failure}; filled with {self.fill_value}", AssetReadWarning)
            return np.full(_selection_shape(key, self.shape), self.fill_value, dtype=self.dtype)


def _selection_shape(key: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    import numpy as np

    result = []
    for item, size in zip(key, shape, strict=False):
        if isinstance(item, slice):
            result.append(len(range(*item.indices(size))))
        elif isinstance(item, int | np.integer):
            continue
        else:
            result.append(len(np.asarray(item)))
    return tuple(result)


def _guard_dataset(
    dataset: xr.Dataset,
    href: str,
    chunks: Mapping[str, int],
    error_policy: str,
    store_id: str | None,
) -> xr.Dataset:
    """Wrap every lazily loaded data variable in a GuardedArray and chunk it with dask."""
    import numpy as np
    import xarray as xr
    from xarray.core import indexing

    result = {}
    for name, variable in dataset.data_vars.items():
        data = variable.variable._data
        dtype = np.dtype(variable.dtype)
        fill = np.nan if dtype.kind in "fc" else 0
        guarded = GuardedArray(data, href, error_policy, fill, store_id)
        var_chunks = {dim: chunks.get(dim, -1) for dim in variable.dims}
        preferred = variable.encoding.get("preferred_chunks") or {}
        for dim in variable.dims:
            if dim not in chunks and dim in preferred:
                var_chunks[dim] = preferred[dim]
        lazy = xr.Variable(
            variable.dims,
            indexing.LazilyIndexedArray(guarded),
            variable.attrs,
            variable.encoding,
        )
        result[name] = lazy.chunk(var_chunks, name=f"{href}#{name}")
    out = dataset.copy()
    for name, variable in result.items():
        out[name] = variable
    return out


# --------------------------------------------------------------------------- opening


def _block_multiple(block: int, size: int, wanted: int | None) -> int:
    if wanted:
        return min(size, wanted)
    return min(size, block * max(1, round(_DEFAULT_CHUNK / block)))


def _overview_level(dataset: Any, spatial_res: float | None) -> int | None:
    """The coarsest overview whose pixel size is at most ``spatial_res`` (None: full res)."""
    if spatial_res is None or not dataset.count:
        return None
    native = abs(dataset.transform.a)
    chosen = None
    for index, factor in enumerate(dataset.overviews(1)):
        if native * factor <= spatial_res * (1 + 1e-9):
            chosen = index
    return chosen


def open_geotiff(
    info: AssetInfo,
    access: AssetAccess,
    *,
    spatial_res: float | None = None,
    tile_size: tuple[int, int] | None = None,
    error_policy: str = "fail",
) -> xr.Dataset:
    """A GeoTIFF asset as a dataset with one variable ``info.key`` (dims y, x [, band])."""
    import rasterio
    import rioxarray

    source, kwargs = access.raster_source(info.href)
    with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR"):
        with rasterio.open(source, **kwargs) as header:
            overview = _overview_level(header, spatial_res)
            block_height, block_width = header.block_shapes[0]
        array = rioxarray.open_rasterio(
            source, chunks=None, cache=False, masked=False, overview_level=overview, **kwargs
        )
    width, height = array.sizes["x"], array.sizes["y"]
    chunks = {
        "band": 1,
        "x": _block_multiple(block_width, width, tile_size[0] if tile_size else None),
        "y": _block_multiple(block_height, height, tile_size[1] if tile_size else None),
    }
    attrs = {
        k: v for k, v in array.attrs.items() if k not in ("long_name", "scale_factor", "add_offset")
    }
    if array.sizes.get("band", 1) == 1:
        array = array.isel(band=0, drop=True)
    file_nodata = attrs.pop("_FillValue", None)
    array.attrs = attrs
    dataset = array.to_dataset(name=info.key)
    dataset = _guard_dataset(dataset, info.href, chunks, error_policy, access.store_id)
    if info.nodata is None and file_nodata is not None:
        dataset[info.key].attrs["file_nodata"] = float(file_nodata)
    if overview is not None:
        dataset[info.key].attrs["overview_level"] = overview
    return dataset


def open_zarr_asset(info: AssetInfo, access: AssetAccess, *, error_policy: str = "fail") -> Any:
    fs, path = access.zarr_location(info.href)
    dataset = open_zarr_lazily(fs, path, cache=False)
    return _single_asset_variables(dataset, info, {}, error_policy, access)


def open_zarr_lazily(fs: Any, path: str, **kwargs: Any) -> Any:
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


def open_netcdf_asset(info: AssetInfo, access: AssetAccess, *, error_policy: str = "fail") -> Any:
    import xarray as xr

    local = access.local_path(info.href)
    if local:
        source: Any = local
    else:
        fs, path = access.filesystem(info.href)
        source = path if fs.protocol in ("file", ("file", "local")) else fs.open(path, "rb")
    dataset = xr.open_dataset(source, engine="h5netcdf", chunks=None, cache=False)
    return _single_asset_variables(dataset, info, {}, error_policy, access)


def _single_asset_variables(
    dataset: Any, info: AssetInfo, chunks: Mapping[str, int], error_policy: str, access: AssetAccess
) -> Any:
    """Name the asset's variable after the asset (or prefix several variables with it)."""
    names = [n for n in dataset.data_vars if dataset[n].ndim >= 2]
    dataset = dataset[names]
    if len(names) == 1:
        dataset = dataset.rename({names[0]: info.key})
    else:
        dataset = dataset.rename({n: f"{info.key}_{n}" for n in names})
    return _guard_dataset(dataset, info.href, chunks, error_policy, access.store_id)


def open_asset(
    info: AssetInfo,
    access: AssetAccess,
    *,
    apply_scaling: bool = True,
    spatial_res: float | None = None,
    tile_size: tuple[int, int] | None = None,
    error_policy: str = "fail",
) -> xr.Dataset:
    """Open one asset lazily, scaled per the raster extension when ``apply_scaling``."""
    try:
        if info.format == "geotiff":
            dataset = open_geotiff(
                info,
                access,
                spatial_res=spatial_res,
                tile_size=tile_size,
                error_policy=error_policy,
            )
        elif info.format == "zarr":
            dataset = open_zarr_asset(info, access, error_policy=error_policy)
        else:
            dataset = open_netcdf_asset(info, access, error_policy=error_policy)
    except Exception as error:
        raise asset_error(info.href, error, access.store_id) from error
    return _apply_raster_extension(dataset, info, apply_scaling)


def _apply_raster_extension(dataset: Any, info: AssetInfo, apply_scaling: bool) -> Any:
    for name in list(dataset.data_vars):
        variable = dataset[name]
        attrs = {**variable.attrs, **info.attrs()}
        nodata = info.nodata
        if nodata is None:
            nodata = variable.attrs.get("file_nodata")
        if apply_scaling:
            import numpy as np

            if nodata is not None and variable.dtype.kind in "iuf" and not np.isnan(nodata):
                variable = variable.where(variable != nodata)
            if info.scale not in (None, 1):
                variable = variable * info.scale
            if info.offset not in (None, 0):
                variable = variable + info.offset
            attrs.pop("nodata", None)
            attrs.pop("file_nodata", None)
            attrs.pop("scale", None)
            attrs.pop("offset", None)
            target = info.output_dtype(True)
            if variable.dtype != target and variable.dtype.kind == "f":
                variable = variable.astype(target)
        elif nodata is not None:
            attrs["nodata"] = nodata
            attrs.pop("file_nodata", None)
        variable.attrs = attrs
        dataset[name] = variable
    return dataset
