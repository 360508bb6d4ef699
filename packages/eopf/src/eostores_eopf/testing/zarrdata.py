"""EOPF-structured Zarr products of the emulator's acquisitions, written on first use.

Each product is a DataTree stored as Zarr (format 2 with ``.zmetadata``, or format 3 with
consolidated metadata in the root ``zarr.json``), laid out as the EOPF products are:
``measurements/reflectance/r10m|r20m|r60m``, ``conditions/mask/l2a_classification/...``
and ``quality/probability/...`` for Sentinel-2; ``measurements`` with ``latitude`` and
``longitude`` and ``quality`` for OLCI; per polarisation a group named after its component
product (``S01SIWGRH_..._VV``) with ``measurements`` (array ``grd``) and ``conditions/gcp``
for Sentinel-1, the components listed in the root's ``stac_discovery.links``. Values follow
the functions of :mod:`.scenes`.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np

from .scenes import (
    OLCI_BANDS,
    OLCI_SWATH,
    S1_GCP_STEP,
    S1_SWATH,
    S2_L1C_GROUPS,
    S2_L2A_GROUPS,
    Acquisition,
    olci_radiance,
    s1_amplitude,
    s1_component,
    s2_classification,
    s2_probability,
    s2_reflectance,
)

__all__ = ["ProductFiles"]

_S2_CHUNKS = {10: 180, 20: 90, 60: 60}
_REFLECTANCE = {"scale_factor": 0.0001, "add_offset": -0.1, "_FillValue": 0, "dtype": "uint16"}


def sample_dir() -> Path:
    """A per-user folder for the products, shared between runs and processes.

    Its name carries a digest of the modules that define the products, so that a change of
    the sample data never meets products written by older code.
    """
    digest = hashlib.sha256()
    for module in ("scenes.py", "zarrdata.py"):
        digest.update((Path(__file__).parent / module).read_bytes())
    return Path(tempfile.gettempdir()) / f"eostores-eopf-samples-{digest.hexdigest()[:12]}"


class ProductFiles:
    """Writes products below ``root`` once and returns their folders.

    Any number of threads and processes may share ``root``: a product is written into a
    private folder and renamed into place; whoever renames first wins.
    """

    def __init__(self, root: str | os.PathLike[str] | None = None):
        self.root = Path(root) if root else sample_dir()
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def folder(self, acquisition: Acquisition) -> Path:
        """The folder of the product's Zarr store, written if it is not there yet."""
        folder = self.root / acquisition.collection
        if acquisition.tile is not None:
            folder = folder / f"{acquisition.tile.size_10m}px"
        target = folder / acquisition.product_name
        with self._lock:
            lock = self._locks.setdefault(str(target), threading.Lock())
        with lock:
            if not target.exists():
                target.parent.mkdir(parents=True, exist_ok=True)
                partial = Path(tempfile.mkdtemp(prefix=target.name + ".part-", dir=target.parent))
                try:
                    tree = build_tree(acquisition)
                    tree.to_zarr(
                        partial / "p", consolidated=True, zarr_format=acquisition.zarr_format
                    )
                    try:
                        os.rename(partial / "p", target)
                    except OSError:
                        if not target.exists():
                            raise
                finally:
                    shutil.rmtree(partial, ignore_errors=True)
        return target


def build_tree(acquisition: Acquisition) -> Any:
    """The DataTree of ``acquisition``'s product."""
    if acquisition.kind == "s2":
        return _s2_tree(acquisition)
    if acquisition.kind == "olci":
        return _olci_tree(acquisition)
    return _s1_tree(acquisition)


def _root_attrs(acquisition: Acquisition, extra: dict[str, Any]) -> dict[str, Any]:
    return {
        "stac_discovery": {
            "id": acquisition.item_id,
            "properties": {"datetime": acquisition.start.isoformat() + "Z"},
        },
        "other_metadata": extra,
    }


def _s2_tree(acquisition: Acquisition) -> Any:
    import xarray as xr

    tile = acquisition.tile
    assert tile is not None
    groups = S2_L2A_GROUPS if acquisition.level == "L2A" else S2_L1C_GROUPS
    nodes: dict[str, Any] = {
        "/": xr.Dataset(
            attrs=_root_attrs(
                acquisition,
                {
                    "horizontal_CRS_code": f"EPSG:{tile.epsg}",
                    "processing_baseline": acquisition.version,
                },
            )
        )
    }
    for resolution, bands in groups.items():
        lon, lat = tile.lonlat(resolution)
        x, y = tile.coords(resolution)
        coords = {"x": ("x", x, {"units": "m"}), "y": ("y", y, {"units": "m"})}
        chunk = _S2_CHUNKS[resolution]
        data_vars = {}
        for band in bands:
            values = s2_reflectance(
                lon, lat, acquisition.day, band, acquisition.version, acquisition.level
            )
            variable = xr.Variable(("y", "x"), values, attrs={"proj:epsg": tile.epsg})
            variable.encoding = {**_REFLECTANCE, "chunks": (chunk, chunk)}
            data_vars[band] = variable
        nodes[f"/measurements/reflectance/r{resolution}m"] = xr.Dataset(data_vars, coords=coords)
        if acquisition.level == "L2A" and resolution in (20, 60):
            scl = xr.Variable(
                ("y", "x"), s2_classification(lon, lat), attrs={"proj:epsg": tile.epsg}
            )
            scl.encoding = {"chunks": (chunk, chunk), "_FillValue": 0}
            nodes[f"/conditions/mask/l2a_classification/r{resolution}m"] = xr.Dataset(
                {"scl": scl}, coords=coords
            )
            probabilities = {}
            for name in ("cld", "snw"):
                layer = xr.Variable(("y", "x"), s2_probability(lon, lat, name))
                layer.encoding = {"chunks": (chunk, chunk)}
                probabilities[name] = layer
            nodes[f"/quality/probability/r{resolution}m"] = xr.Dataset(probabilities, coords=coords)
    return xr.DataTree.from_dict(nodes)


def _olci_tree(acquisition: Acquisition) -> Any:
    import xarray as xr

    swath = OLCI_SWATH
    lon, lat = swath.lonlat()
    dims = ("rows", "columns")
    coords = {
        "latitude": (dims, lat, {"units": "degrees_north", "standard_name": "latitude"}),
        "longitude": (dims, lon, {"units": "degrees_east", "standard_name": "longitude"}),
    }
    chunks = (80, 100)
    data_vars = {}
    for band in OLCI_BANDS:
        values = olci_radiance(lon, lat, acquisition.day, band) + acquisition.offset
        variable = xr.Variable(dims, values, attrs={"units": "mW.m-2.sr-1.nm-1"})
        variable.encoding = {
            "dtype": "uint16",
            "scale_factor": 0.01,
            "add_offset": 0.0,
            "_FillValue": 65535,
            "chunks": chunks,
        }
        data_vars[band] = variable
    measurements = xr.Dataset(data_vars, coords=coords)
    for name in ("latitude", "longitude"):
        measurements[name].encoding = {"chunks": chunks}
    flags = xr.Variable(
        dims,
        np.where(lat > swath.lat0, 1, 2).astype("uint32"),
        attrs={"flag_masks": [1, 2], "flag_meanings": "land water"},
    )
    flags.encoding = {"chunks": chunks}
    root = xr.Dataset(attrs=_root_attrs(acquisition, {"timeliness": acquisition.timeliness}))
    return xr.DataTree.from_dict(
        {
            "/": root,
            "/measurements": measurements,
            "/quality": xr.Dataset({"quality_flags": flags}),
        }
    )


def _s1_tree(acquisition: Acquisition) -> Any:
    import xarray as xr

    swath = S1_SWATH
    lon, lat = swath.lonlat()
    dims = ("azimuth_time", "ground_range")
    lines = np.arange(0, swath.rows, S1_GCP_STEP)
    if lines[-1] != swath.rows - 1:
        lines = np.append(lines, swath.rows - 1)
    pixels = np.arange(0, swath.cols, S1_GCP_STEP)
    if pixels[-1] != swath.cols - 1:
        pixels = np.append(pixels, swath.cols - 1)
    grid_rows, grid_cols = np.meshgrid(lines, pixels, indexing="ij")
    gcp_lon, gcp_lat = swath.lonlat(grid_rows, grid_cols)
    times = np.datetime64(acquisition.start, "ns") + (
        np.arange(swath.rows) * np.timedelta64(1_500_000, "ns")
    )
    ranges = np.arange(swath.cols) * swath.spacing
    attrs = _root_attrs(acquisition, {})
    components = {pol: s1_component(acquisition, pol) for pol in ("vv", "vh")}
    attrs["stac_discovery"]["links"] = list(components.values())
    nodes: dict[str, Any] = {"/": xr.Dataset(attrs=attrs)}
    for polarisation, component in components.items():
        values = s1_amplitude(lon, lat, acquisition.day, polarisation)
        grd = xr.Variable(dims, values, attrs={"units": "1"})
        grd.encoding = {"dtype": "float32", "chunks": (150, 200)}
        nodes[f"/{component}/measurements"] = xr.Dataset(
            {"grd": grd}, coords={"azimuth_time": times, "ground_range": ranges}
        )
        nodes[f"/{component}/conditions/gcp"] = xr.Dataset(
            {
                "latitude": (dims, gcp_lat, {"units": "degrees_north"}),
                "longitude": (dims, gcp_lon, {"units": "degrees_east"}),
            },
            coords={"line": ("azimuth_time", lines), "pixel": ("ground_range", pixels)},
        )
    return xr.DataTree.from_dict(nodes)
