"""An odc-loader reader driver that reads assets through the store's own access paths.

odc-stac plans the cube (output grid, grouping, which items touch which output chunk) and
builds a compact dask graph; this driver does the pixel reading for each (item, chunk):

* GeoTIFF/COG over https with GDAL's curl driver and the store's retry settings in the
  path, over s3 through s3fs with the store's credentials and endpoint (no process-wide
  GDAL or AWS settings), or from local files (downloaded assets);
* Zarr and NetCDF assets with xarray, reading only the window an output chunk needs;
* the best COG overview when the output is coarser than the asset;
* nodata -> NaN and scale/offset from the raster extension, per item, before mosaicking;
* failures named by href and handled by the ``error_policy``.
"""

from __future__ import annotations

import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .assets import AssetAccess, AssetReadWarning, asset_error, open_zarr_lazily

if TYPE_CHECKING:
    from odc.geo.geobox import GeoBox

    from .catalog import AssetInfo

__all__ = ["AssetReaderDriver"]


class _LoadContext:
    """Shared by the readers of one load (odc's GlobalLoadContext/LocalLoadContext)."""

    def __init__(self, geobox: Any, chunks: Any) -> None:
        self.geobox = geobox
        self.chunks = chunks


class AssetReaderDriver:
    """odc-loader ``ReaderDriver`` reading with :class:`AssetAccess`; picklable."""

    def __init__(
        self,
        access: AssetAccess,
        assets: Mapping[str, AssetInfo],
        *,
        apply_scaling: bool = True,
        error_policy: str = "fail",
    ) -> None:
        self.access = access
        self.assets = dict(assets)
        self.apply_scaling = apply_scaling
        self.error_policy = error_policy

    def __dask_tokenize__(self) -> Any:
        return (
            "AssetReaderDriver",
            self.access.store_id,
            sorted(self.assets),
            self.apply_scaling,
            self.error_policy,
        )

    def new_load(self, geobox: GeoBox, *, chunks: Any = None) -> _LoadContext:
        return _LoadContext(geobox, chunks)

    def finalise_load(self, load_state: _LoadContext) -> _LoadContext:
        return load_state

    def capture_env(self) -> dict[str, Any]:
        return {}

    @contextmanager
    def restore_env(self, env: dict[str, Any], load_state: _LoadContext) -> Iterator[_LoadContext]:
        import rasterio

        with rasterio.Env(GDAL_DISABLE_READDIR_ON_OPEN="EMPTY_DIR", VSI_CACHE=False):
            yield load_state

    def open(self, src: Any, ctx: Any) -> AssetRasterReader:
        return AssetRasterReader(src, self)

    @property
    def md_parser(self) -> Any:
        return None

    @property
    def dask_reader(self) -> Any:
        return None

    @property
    def aux_reader(self) -> Any:
        return None


class AssetRasterReader:
    """Reads the part of one asset that falls into one output chunk."""

    def __init__(self, src: Any, driver: AssetReaderDriver) -> None:
        self.src = src
        self.driver = driver

    def read(
        self,
        cfg: Any,
        dst_geobox: GeoBox,
        *,
        dst: np.ndarray | None = None,
        selection: Any = None,
    ) -> tuple[tuple[slice, slice], np.ndarray]:
        href = self.src.uri
        info = self.driver.assets.get(href)
        try:
            if info is not None and info.format != "geotiff":
                roi, values = _read_xarray(self.driver.access, info, cfg, dst_geobox)
            else:
                roi, values = _read_geotiff(
                    self.driver.access, href, self.src.band, cfg, dst_geobox
                )
            pixels = _finish(values, info, cfg, self.driver.apply_scaling)
        except Exception as error:
            failure = asset_error(href, error, self.driver.access.store_id)
            policy = self.driver.error_policy
            if policy == "fail":
                raise failure from error
            if policy == "warn":
                warnings.warn(f"{failure}; left out of the mosaic", AssetReadWarning)
            return (slice(0, 0), slice(0, 0)), np.empty((0, 0), dtype=cfg.dtype)
        if dst is not None:
            target = dst[roi]
            np.copyto(target, pixels)
            return roi, target
        return roi, pixels


def _fill_value(cfg: Any) -> Any:
    dtype = np.dtype(cfg.dtype)
    if cfg.fill_value is not None:
        return dtype.type(cfg.fill_value)
    return np.nan if dtype.kind == "f" else dtype.type(0)


def _finish(
    values: np.ndarray, info: AssetInfo | None, cfg: Any, apply_scaling: bool
) -> np.ndarray:
    """Float32 working values (NaN = no data) -> the output dtype, scaled if asked."""
    dtype = np.dtype(cfg.dtype)
    if apply_scaling and info is not None:
        if info.scale not in (None, 1):
            values = values * np.float32(info.scale)
        if info.offset not in (None, 0):
            values = values + np.float32(info.offset)
    if dtype.kind == "f":
        return values.astype(dtype, copy=False)
    fill = _fill_value(cfg)
    result = np.where(np.isnan(values), fill, np.round(values))
    return result.astype(dtype)


def _resampling(cfg: Any) -> Any:
    from odc.geo.warp import resampling_s2rio

    return resampling_s2rio(cfg.resampling)


def _empty(roi: tuple[slice, slice]) -> tuple[tuple[slice, slice], np.ndarray]:
    shape = tuple(max(0, (s.stop or 0) - (s.start or 0)) for s in roi)
    return roi, np.full(shape, np.nan, dtype="float32")


def _pick_overview(shrink: float, factors: list[int]) -> int | None:
    """The coarsest overview whose reduction factor does not exceed ``shrink``."""
    chosen = None
    for index, factor in enumerate(factors):
        if factor <= shrink:
            chosen = index
    return chosen


def _read_geotiff(
    access: AssetAccess, href: str, band: int, cfg: Any, dst_geobox: GeoBox
) -> tuple[tuple[slice, slice], np.ndarray]:
    import rasterio
    from odc.geo.converters import rio_geobox
    from odc.geo.overlap import compute_reproject_roi
    from odc.geo.roi import roi_is_empty

    source, kwargs = access.raster_source(href)
    ttol = 0.9 if cfg.nearest else 0.05
    with rasterio.open(source, **kwargs) as dataset:
        info = compute_reproject_roi(rio_geobox(dataset), dst_geobox, ttol=ttol)
        if roi_is_empty(info.roi_dst) or roi_is_empty(info.roi_src):
            return _empty(info.roi_dst)
        overview = None
        if cfg.use_overviews and info.read_shrink > 1:
            overview = _pick_overview(info.read_shrink, dataset.overviews(band))
        nodata = dataset.nodatavals[band - 1]
        if overview is None:
            return info.roi_dst, _warp(dataset, band, info, dst_geobox, cfg, nodata)
    with rasterio.open(source, overview_level=overview, **kwargs) as reduced:
        info = compute_reproject_roi(rio_geobox(reduced), dst_geobox, ttol=ttol)
        if roi_is_empty(info.roi_dst) or roi_is_empty(info.roi_src):
            return _empty(info.roi_dst)
        return info.roi_dst, _warp(reduced, band, info, dst_geobox, cfg, nodata)


@cache
def _quiet_georeferencing_warning() -> None:
    """Silence rasterio.warp's NotGeoreferencedWarning about its in-memory destination.

    Every reprojection here passes explicit source and destination transforms; rasterio
    still warns while it sets up the destination array. A process-wide filter scoped to
    rasterio.warp (``catch_warnings`` is not thread-safe).
    """
    from rasterio.errors import NotGeoreferencedWarning

    warnings.filterwarnings("ignore", category=NotGeoreferencedWarning, module=r"rasterio\.warp")


def _warp(
    dataset: Any, band: int, info: Any, dst_geobox: GeoBox, cfg: Any, nodata: Any
) -> np.ndarray:
    """Read (paste) or reproject the source pixels of ``info.roi_dst`` as float32, NaN = none."""
    import rasterio
    import rasterio.warp
    from odc.geo.roi import roi_shape, w_

    shape = roi_shape(info.roi_dst)
    if info.paste_ok and info.read_shrink == 1:
        raw = dataset.read(band, window=w_[info.roi_src])
        values = raw.astype("float32")
        if nodata is not None:
            values[raw == nodata] = np.nan
        return values
    values = np.full(shape, np.nan, dtype="float32")
    _quiet_georeferencing_warning()
    rasterio.warp.reproject(
        rasterio.band(dataset, band),
        values,
        src_transform=dataset.transform,
        src_crs=dataset.crs,
        src_nodata=nodata,
        dst_crs=str(dst_geobox.crs),
        dst_transform=dst_geobox[info.roi_dst].transform,
        dst_nodata=np.nan,
        resampling=_resampling(cfg),
    )
    return values


# --------------------------------------------------------------------------- xarray assets

_open_datasets: OrderedDict[tuple[str, str], Any] = OrderedDict()
_open_lock = threading.Lock()
_MAX_OPEN = 64


def _xarray_source(access: AssetAccess, info: AssetInfo) -> Any:
    """The asset's single data variable as a lazily indexed (not dask) DataArray, cached."""
    import xarray as xr

    key = (info.href, access.store_id or "")
    with _open_lock:
        found = _open_datasets.get(key)
        if found is not None:
            _open_datasets.move_to_end(key)
            return found
    if info.format == "zarr":
        dataset = open_zarr_lazily(*access.zarr_location(info.href))
    else:
        local = access.local_path(info.href)
        if local:
            source: Any = local
        else:
            fs, path = access.filesystem(info.href)
            source = fs.open(path, "rb")
        dataset = xr.open_dataset(source, engine="h5netcdf", chunks=None)
    names = [n for n in dataset.data_vars if dataset[n].ndim >= 2]
    variable = dataset[names[0]]
    with _open_lock:
        _open_datasets[key] = variable
        while len(_open_datasets) > _MAX_OPEN:
            _open_datasets.popitem(last=False)
    return variable


def _source_geobox(variable: Any, info: AssetInfo) -> Any:
    from odc.geo.geobox import GeoBox

    if info.grid is not None:
        from affine import Affine

        return GeoBox(info.grid.shape, Affine(*info.grid.transform), info.grid.crs)
    return variable.odc.geobox


def _read_xarray(
    access: AssetAccess, info: AssetInfo, cfg: Any, dst_geobox: GeoBox
) -> tuple[tuple[slice, slice], np.ndarray]:
    import rasterio.warp
    from odc.geo.overlap import compute_reproject_roi
    from odc.geo.roi import roi_is_empty, roi_shape

    variable = _xarray_source(access, info)
    src_geobox = _source_geobox(variable, info)
    ttol = 0.9 if cfg.nearest else 0.05
    rr = compute_reproject_roi(src_geobox, dst_geobox, ttol=ttol)
    if roi_is_empty(rr.roi_dst) or roi_is_empty(rr.roi_src):
        return _empty(rr.roi_dst)
    y_dim, x_dim = variable.dims[-2], variable.dims[-1]
    window = variable.isel({y_dim: rr.roi_src[0], x_dim: rr.roi_src[1]})
    while window.ndim > 2:
        window = window.isel({window.dims[0]: 0})
    values = np.asarray(window.values, dtype="float32")
    if info.nodata is not None and not np.isnan(info.nodata):
        values[values == info.nodata] = np.nan
    if rr.paste_ok and rr.read_shrink == 1:
        return rr.roi_dst, values
    out = np.full(roi_shape(rr.roi_dst), np.nan, dtype="float32")
    _quiet_georeferencing_warning()
    rasterio.warp.reproject(
        values,
        out,
        src_transform=src_geobox[rr.roi_src].transform,
        src_crs=str(src_geobox.crs),
        src_nodata=np.nan,
        dst_crs=str(dst_geobox.crs),
        dst_transform=dst_geobox[rr.roi_dst].transform,
        dst_nodata=np.nan,
        resampling=_resampling(cfg),
    )
    return rr.roi_dst, out
