"""STAC documents of the emulator: collections and items shaped like the sample service's.

Items carry the projection, processing, product, grid and satellite extensions; Sentinel-2
items have one asset per band at its native resolution (``B02_10m`` -> ``.../r10m/b02``)
with its grid, Sentinel-3 items one per variable, Sentinel-1 items one per polarisation (the
``measurements`` group of its component product), and every item a ``product`` asset: the
Zarr store itself, and a ``product_metadata`` asset: its consolidated metadata.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .scenes import (
    OLCI_BANDS,
    OLCI_SWATH,
    S1_SWATH,
    S2_L1C_GROUPS,
    S2_L2A_GROUPS,
    S2_TILES,
    Acquisition,
    s1_component,
)

__all__ = ["COLLECTIONS", "collection_document", "item_document"]

ZARR = "application/vnd+zarr"
_EXTENSIONS = [
    "https://stac-extensions.github.io/eo/v2.0.0/schema.json",
    "https://stac-extensions.github.io/projection/v2.0.0/schema.json",
    "https://stac-extensions.github.io/processing/v1.2.0/schema.json",
    "https://stac-extensions.github.io/product/v0.1.0/schema.json",
    "https://stac-extensions.github.io/grid/v1.1.0/schema.json",
    "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
    "https://stac-extensions.github.io/raster/v1.1.0/schema.json",
]
_COMMON = {
    "b01": "coastal", "b02": "blue", "b03": "green", "b04": "red", "b05": "rededge071",
    "b06": "rededge075", "b07": "rededge078", "b08": "nir", "b8a": "nir08", "b09": "nir09",
    "b10": "cirrus", "b11": "swir16", "b12": "swir22",
}  # fmt: skip
_REFLECTANCE_BAND = {"data_type": "uint16", "nodata": 0, "scale": 0.0001, "offset": -0.1}

#: Collections of the emulator: id -> (title, kind). ``sentinel-3-olci-l2-lrr`` is one the
#: store cannot cube.
COLLECTIONS: dict[str, tuple[str, str]] = {
    "sentinel-2-l2a": ("Sentinel-2 Level-2A", "s2"),
    "sentinel-2-l1c": ("Sentinel-2 Level-1C", "s2"),
    "sentinel-3-olci-l1-efr": ("Sentinel-3 OLCI Level-1 EFR", "olci"),
    "sentinel-1-l1-grd": ("Sentinel-1 Level-1 GRD", "s1"),
    "sentinel-3-olci-l2-lrr": ("Sentinel-3 OLCI Level-2 LRR", "olci"),
}


def _s2_groups(collection: str) -> dict[int, tuple[str, ...]]:
    return S2_L2A_GROUPS if collection == "sentinel-2-l2a" else S2_L1C_GROUPS


def _s2_assets(collection: str) -> dict[str, dict[str, Any]]:
    """Asset templates of a Sentinel-2 collection: key -> (fields, path in the product).

    As the sample service publishes them: each band at its native resolution only (the
    finest group holding it: ``B01_20m`` in L2A, ``B01_60m`` in L1C), the scene
    classification at 20 m, its href the group (``.../l2a_classification/r20m``).
    """
    assets: dict[str, dict[str, Any]] = {}
    published: set[str] = set()
    for resolution, bands in sorted(_s2_groups(collection).items()):
        for band in (b for b in bands if b not in published):
            published.add(band)
            assets[f"{band.upper()}_{resolution}m"] = {
                "title": f"{band.upper()} at {resolution} m",
                "type": ZARR,
                "roles": ["data", "reflectance"],
                "gsd": resolution,
                "eo:bands": [{"name": band.upper(), "common_name": _COMMON[band]}],
                "raster:bands": [dict(_REFLECTANCE_BAND)],
                "_path": f"measurements/reflectance/r{resolution}m/{band}",
                "_resolution": resolution,
            }
    if collection == "sentinel-2-l2a":
        assets["SCL_20m"] = {
            "title": "Scene classification at 20 m",
            "type": ZARR,
            "roles": ["data", "dataset"],
            "gsd": 20,
            "raster:bands": [{"data_type": "uint8", "nodata": 0}],
            "_path": "conditions/mask/l2a_classification/r20m",
            "_resolution": 20,
        }
        for name in ("cld", "snw"):
            assets[f"{name.upper()}_20m"] = {
                "title": f"{name.upper()} probability at 20 m",
                "type": ZARR,
                "roles": ["data"],
                "gsd": 20,
                "raster:bands": [{"data_type": "uint8", "unit": "percent"}],
                "_path": f"quality/probability/r20m/{name}",
                "_resolution": 20,
            }
    return assets


def _swath_assets(kind: str) -> dict[str, dict[str, Any]]:
    if kind == "olci":
        return {
            band: {
                "title": f"Radiance {band[:4].upper()}",
                "type": ZARR,
                "roles": ["data"],
                "gsd": 300,
                "raster:bands": [
                    {"data_type": "uint16", "scale": 0.01, "unit": "mW.m-2.sr-1.nm-1"}
                ],
                "_path": f"measurements/{band}",
            }
            for band in OLCI_BANDS
        }
    return {
        pol: {
            "title": f"{pol.upper()} Data",
            "type": ZARR,
            "roles": ["data", "dataset"],
            "gsd": 10,
            "raster:bands": [{"data_type": "float32"}],
            "_path": "measurements",
            "_component": pol,
        }
        for pol in ("vv", "vh")
    }


def _templates(collection: str) -> dict[str, dict[str, Any]]:
    kind = COLLECTIONS[collection][1]
    return _s2_assets(collection) if kind == "s2" else _swath_assets(kind)


def _public(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in fields.items() if not k.startswith("_")}


def collection_document(
    collection: str, base_url: str, acquisitions: list[Acquisition]
) -> dict[str, Any]:
    """The collection document, its extent from its acquisitions."""
    title, kind = COLLECTIONS[collection]
    own = [a for a in acquisitions if a.collection == collection]
    starts = sorted(a.start for a in own)
    interval = (
        [starts[0].isoformat() + "Z", (starts[-1] + timedelta(minutes=3)).isoformat() + "Z"]
        if starts
        else ["2025-01-01T00:00:00Z", None]
    )
    return {
        "type": "Collection",
        "stac_version": "1.1.0",
        "stac_extensions": ["https://stac-extensions.github.io/item-assets/v1.0.0/schema.json"],
        "id": collection,
        "title": title,
        "description": f"{title} products of the EOPF Sentinel Zarr Samples",
        "license": "other",
        "keywords": ["EOPF", "Zarr", kind],
        "extent": {
            "spatial": {"bbox": [_extent_bbox(kind)]},
            "temporal": {"interval": [interval]},
        },
        "summaries": {"constellation": [_constellation(kind)]},
        "item_assets": {key: _public(fields) for key, fields in _templates(collection).items()},
        "links": [
            {"rel": "self", "href": f"{base_url}/collections/{collection}"},
            {"rel": "root", "href": f"{base_url}/"},
            {"rel": "items", "href": f"{base_url}/collections/{collection}/items"},
        ],
    }


def _constellation(kind: str) -> str:
    return {"s2": "sentinel-2", "olci": "sentinel-3", "s1": "sentinel-1"}[kind]


def _extent_bbox(kind: str) -> list[float]:
    if kind == "s2":
        rings = [tile.footprint() for tile in S2_TILES]
    elif kind == "olci":
        rings = [OLCI_SWATH.footprint()]
    else:
        rings = [S1_SWATH.footprint()]
    lons = [p[0] for ring in rings for p in ring]
    lats = [p[1] for ring in rings for p in ring]
    return [min(lons), min(lats), max(lons), max(lats)]


def item_document(
    acquisition: Acquisition, base_url: str, product_url: str, hostile: str | None = None
) -> dict[str, Any]:
    """The item of ``acquisition``; its product lives at ``product_url``.

    ``hostile`` replaces the product href by that text (for hostile-service tests).
    """
    kind = COLLECTIONS[acquisition.collection][1]
    if kind == "s2":
        assert acquisition.tile is not None
        ring = acquisition.tile.footprint()
    else:
        ring = (OLCI_SWATH if kind == "olci" else S1_SWATH).footprint()
    lons, lats = [p[0] for p in ring], [p[1] for p in ring]
    end = acquisition.start + timedelta(seconds=3 if kind == "s2" else 180)
    properties: dict[str, Any] = {
        "datetime": acquisition.start.isoformat() + "Z",
        "start_datetime": acquisition.start.isoformat() + "Z",
        "end_datetime": end.isoformat() + "Z",
        "created": (acquisition.start + timedelta(hours=2)).isoformat() + "Z",
        "constellation": _constellation(kind),
        "processing:version": acquisition.version,
        "sat:orbit_state": "descending",
        "sat:relative_orbit": 65,
        "sat:absolute_orbit": 43000 + acquisition.day,
    }
    if acquisition.deprecated:
        properties["deprecated"] = True
    href = hostile if hostile is not None else product_url
    metadata_key = "zarr.json" if acquisition.zarr_format == 3 else ".zmetadata"
    assets: dict[str, Any] = {
        "product": {
            "href": href,
            "type": ZARR,
            "title": "EOPF Product",
            "roles": ["data", "metadata"],
        },
        "product_metadata": {
            "href": f"{href}/{metadata_key}",
            "type": "application/json",
            "title": "Consolidated Metadata",
            "roles": ["metadata"],
        },
    }
    if kind == "s2":
        tile = acquisition.tile
        assert tile is not None
        properties.update(
            {
                "platform": "sentinel-2b",
                "instruments": ["msi"],
                "grid:code": f"MGRS-{tile.code}",
                "proj:code": f"EPSG:{tile.epsg}",
                "product:type": "S2MSI2A" if acquisition.level == "L2A" else "S2MSI1C",
                "eo:cloud_cover": 5.0 + 10.0 * acquisition.day,
            }
        )
        for key, fields in _templates(acquisition.collection).items():
            resolution = fields["_resolution"]
            assets[key] = {
                **_public(fields),
                "href": f"{href}/{fields['_path']}",
                "proj:shape": list(tile.shape(resolution)),
                "proj:transform": list(tile.transform(resolution)),
                "proj:bbox": list(tile.bbox()),
            }
    else:
        properties.update(
            {
                "platform": "sentinel-3a" if kind == "olci" else "sentinel-1a",
                "instruments": ["olci"] if kind == "olci" else ["sar"],
                "product:type": "OL_1_EFR___" if kind == "olci" else "IW_GRDH_1S",
                "product:timeliness_category": acquisition.timeliness,
            }
        )
        if kind == "s1":
            properties["sar:polarizations"] = ["VV", "VH"]
            # the generator of the sample service gives Sentinel-1 items start and end
            # times only when their product has no datetime
            del properties["start_datetime"], properties["end_datetime"]
        for key, fields in _templates(acquisition.collection).items():
            path = fields["_path"]
            if "_component" in fields:  # a group of the polarisation's component product
                path = f"{s1_component(acquisition, fields['_component'])}/{path}"
            assets[key] = {**_public(fields), "href": f"{href}/{path}"}
    return {
        "type": "Feature",
        "stac_version": "1.1.0",
        "stac_extensions": _EXTENSIONS,
        "id": acquisition.item_id,
        "collection": acquisition.collection,
        "bbox": [min(lons), min(lats), max(lons), max(lats)],
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": properties,
        "assets": assets,
        "links": [
            {
                "rel": "self",
                "href": f"{base_url}/collections/{acquisition.collection}/items/"
                f"{acquisition.item_id}",
            },
            {"rel": "collection", "href": f"{base_url}/collections/{acquisition.collection}"},
            {"rel": "root", "href": f"{base_url}/"},
        ],
    }
