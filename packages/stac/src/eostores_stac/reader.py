"""An odc-loader reader driver that reads assets through the store's own asset access.

odc-stac plans the cube (output grid, grouping, which items touch which output chunk) and
builds a compact dask graph; this driver does the pixel reading for each (item, chunk):

* GeoTIFF/COG through rasterio with a file object of the store's access (https range reads
  over the eostores session, s3 through s3fs, or a downloaded copy): no GDAL network
  settings, no credentials or URLs in GDAL paths;
* Zarr and NetCDF assets with xarray, reading only the window an output chunk needs;
* the best COG overview when the output is coarser than the asset;
* nodata -> NaN and scale/offset from the raster extension, per item, before mosaicking
  (Zarr and NetCDF variables are read as stored when the raster fields scale them, see
  :func:`~eostores_stac.assets.lazy_dataset`);
* failures named by href and handled by the ``error_policy``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np

from .access import AssetAccess
from .assets import AssetReadWarning, lazy_dataset, read_failure, stored_fill_value
from .records import Asset

if TYPE_CHECKING:
    from odc.geo.geobox import GeoBox

__all__ = ["AssetReaderDriver"]


class LoadContext:
    """Shared by the readers of one load (odc's GlobalLoadContext/LocalLoadContext)."""

    def __init__(self, geobox: Any, chunks: Any) -> None:
        self.geobox = geobox
        self.chunks = chunks


class AssetReaderDriver:
    """odc-loader ``ReaderDriver`` reading with :class:`AssetAccess`; picklable.

    ``assets`` maps each href odc-stac will ask for to the asset record it came from.
    """

    def __init__(
        self,
        access: AssetAccess,
        assets: Mapping[str, Asset],
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

    def new_load(self, geobox: GeoBox, *, chunks: Any = None) -> LoadContext:
        return LoadContext(geobox, chunks)

    def finalise_load(self, load_state: LoadContext) -> LoadContext:
        return load_state

    def capture_env(self) -> dict[str, Any]:
        return {}

    @contextmanager
    def restore_env(self, env: dict[str, Any], load_state: LoadContext) -> Iterator[LoadContext]:
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
        asset = self.driver.assets.get(href)
        access = self.driver.access
        try:
            if asset is not None and asset.format != "geotiff":
                roi, values = _read_xarray(access, asset, cfg, dst_geobox)
            else:
                roi, values = _read_geotiff(access, href, self.src.band, cfg, dst_geobox)
            pixels = _finish(values, asset, cfg, self.driver.apply_scaling)
        except Exception as error:
            failure = read_failure(access, asset, href, error)
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


def _finish(values: np.ndarray, asset: Asset | None, cfg: Any, apply_scaling: bool) -> np.ndarray:
    """Float32 working values (NaN = no data) -> the output dtype, scaled if asked."""
    dtype = np.dtype(cfg.dtype)
    if apply_scaling and asset is not None:
        if asset.scale not in (None, 1):
            values = values * np.float32(asset.scale)
        if asset.offset not in (None, 0):
            values = values + np.float32(asset.offset)
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


# --------------------------------------------------------------------------- GeoTIFF


def _read_geotiff(
    access: AssetAccess, href: str, band: int, cfg: Any, dst_geobox: GeoBox
) -> tuple[tuple[slice, slice], np.ndarray]:
    from odc.geo.converters import rio_geobox
    from odc.geo.overlap import compute_reproject_roi
    from odc.geo.roi import roi_is_empty

    ttol = 0.9 if cfg.nearest else 0.05
    with access.raster_source(href).open() as dataset:
        info = compute_reproject_roi(rio_geobox(dataset), dst_geobox, ttol=ttol)
        if roi_is_empty(info.roi_dst) or roi_is_empty(info.roi_src):
            return _empty(info.roi_dst)
        nodata = dataset.nodatavals[band - 1]
        if cfg.use_overviews and info.read_shrink > 1:
            factors = dataset.overviews(band)
            overview = _pick_overview(info.read_shrink, factors)
            if overview is not None:
                reduced = _read_reduced(dataset, band, info, factors[overview], nodata)
                return info.roi_dst, _reproject(reduced, dataset.crs, info, dst_geobox, cfg)
        return info.roi_dst, _warp(dataset, band, info, dst_geobox, cfg, nodata)


def _read_reduced(
    dataset: Any, band: int, info: Any, factor: int, nodata: Any
) -> tuple[np.ndarray, Any]:
    """The source window read at 1/``factor`` of its size: GDAL serves it from the overview.

    Reading through the open dataset (rather than opening the overview level as a dataset
    of its own) reuses the header already read. Returns float32 values (NaN = no data) and
    their transform.
    """
    from affine import Affine
    from odc.geo.roi import w_
    from rasterio.enums import Resampling

    rows, cols = info.roi_src
    height, width = rows.stop - rows.start, cols.stop - cols.start
    shape = (max(1, -(-height // factor)), max(1, -(-width // factor)))
    window = w_[info.roi_src]
    raw = dataset.read(band, window=window, out_shape=shape, resampling=Resampling.nearest)
    values = raw.astype("float32")
    if nodata is not None:
        values[raw == nodata] = np.nan
    scale = Affine.scale(width / shape[1], height / shape[0])
    return values, dataset.window_transform(window) * scale


def _reproject(
    source: tuple[np.ndarray, Any], crs: Any, info: Any, dst_geobox: GeoBox, cfg: Any
) -> np.ndarray:
    """Reproject float32 ``(values, transform)`` onto the output chunk's part ``info.roi_dst``."""
    import rasterio.warp
    from odc.geo.roi import roi_shape

    values, transform = source
    out = np.full(roi_shape(info.roi_dst), np.nan, dtype="float32")
    _quiet_georeferencing_warning()
    rasterio.warp.reproject(
        values,
        out,
        src_transform=transform,
        src_crs=crs,
        src_nodata=np.nan,
        dst_crs=str(dst_geobox.crs),
        dst_transform=dst_geobox[info.roi_dst].transform,
        dst_nodata=np.nan,
        resampling=_resampling(cfg),
    )
    return out


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


def _source_geobox(variable: Any, asset: Asset) -> Any:
    from odc.geo.geobox import GeoBox

    if asset.grid is not None:
        from affine import Affine

        return GeoBox(asset.grid.shape, Affine(*asset.grid.transform), asset.grid.crs)
    import odc.geo.xr  # noqa: F401  (the .odc accessor)

    return variable.odc.geobox


def _read_xarray(
    access: AssetAccess, asset: Asset, cfg: Any, dst_geobox: GeoBox
) -> tuple[tuple[slice, slice], np.ndarray]:
    from odc.geo.overlap import compute_reproject_roi
    from odc.geo.roi import roi_is_empty

    dataset = lazy_dataset(access, asset)
    variable = dataset[next(iter(dataset.data_vars))]
    src_geobox = _source_geobox(variable, asset)
    ttol = 0.9 if cfg.nearest else 0.05
    rr = compute_reproject_roi(src_geobox, dst_geobox, ttol=ttol)
    if roi_is_empty(rr.roi_dst) or roi_is_empty(rr.roi_src):
        return _empty(rr.roi_dst)
    y_dim, x_dim = variable.dims[-2], variable.dims[-1]
    window = variable.isel({y_dim: rr.roi_src[0], x_dim: rr.roi_src[1]})
    while window.ndim > 2:
        window = window.isel({window.dims[0]: 0})
    values = np.asarray(window.values, dtype="float32")
    nodata = asset.nodata if asset.nodata is not None else stored_fill_value(variable.attrs)
    if nodata is not None and not np.isnan(nodata):
        values[values == nodata] = np.nan
    if rr.paste_ok and rr.read_shrink == 1:
        return rr.roi_dst, values
    transform = src_geobox[rr.roi_src].transform
    return rr.roi_dst, _reproject((values, transform), str(src_geobox.crs), rr, dst_geobox, cfg)
