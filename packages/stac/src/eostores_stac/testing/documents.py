"""STAC documents (items, collections, catalogs) describing the sample data.

Two forms, chosen by ``stac_version``:

``1.0.0``
    STAC 1.0.0 with the projection (v2.0.0), raster (v1.1.0), eo (v1.1.0), mgrs (v1.0.0)
    and item-assets (v1.0.0) extensions: band metadata in ``raster:bands`` and ``eo:bands``.
``1.1.0``
    STAC 1.1.0 with projection v2.0.0, raster v2.0.0 and eo v2.0.0 (as the Copernicus Data
    Space Ecosystem serves its ``/v1`` collections): ``data_type``, ``nodata``, ``unit``,
    ``raster:scale`` and ``raster:offset`` on the asset, band names and wavelengths in
    ``bands`` (the single-variable Zarr asset keeps its fields in ``bands[0]``), and
    ``item_assets`` in the core collection.

In both forms the NetCDF asset's variable is CF-encoded (int16, ``scale_factor``,
``_FillValue``) and the item repeats that encoding as raster metadata, as catalogs
generated from such files do. Documents of the 1.0.0 form validate against the official
JSON schemas. Asset hrefs are produced by a caller-supplied function, so the same items can
point at HTTP files, relative paths, S3 objects or a download endpoint.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from .scenes import (
    BAND_WAVELENGTHS,
    BANDS,
    NODATA,
    OFFSET,
    SCALE,
    WVP_FILL,
    WVP_SCALE,
    SampleData,
    Scene,
)

STAC_VERSION = "1.0.0"
STAC_VERSIONS = ("1.0.0", "1.1.0")
EXT_PROJECTION = "https://stac-extensions.github.io/projection/v2.0.0/schema.json"
EXT_RASTER = "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
EXT_EO = "https://stac-extensions.github.io/eo/v1.1.0/schema.json"
EXT_RASTER_2 = "https://stac-extensions.github.io/raster/v2.0.0/schema.json"
EXT_EO_2 = "https://stac-extensions.github.io/eo/v2.0.0/schema.json"
EXT_MGRS = "https://stac-extensions.github.io/mgrs/v1.0.0/schema.json"
EXT_ITEM_ASSETS = "https://stac-extensions.github.io/item-assets/v1.0.0/schema.json"

COG_TYPE = "image/tiff; application=geotiff; profile=cloud-optimized"
ZARR_TYPE = "application/vnd+zarr"
NETCDF_TYPE = "application/netcdf"
COMMON_NAMES = {"B02": "blue", "B03": "green", "B04": "red"}

#: ``href_for(scene, asset_key, relative_path) -> href``
HrefFunction = Callable[[Scene, str, str], str]


def _band_metadata(stac_version: str, fields: dict[str, Any]) -> dict[str, Any]:
    """Band fields (data_type, nodata, unit, scale, offset) where each STAC version puts them:
    ``raster:bands`` (1.0.0), or the asset with raster v2 names (1.1.0)."""
    if stac_version == STAC_VERSION:
        return {"raster:bands": [fields]}
    renamed = {"scale": "raster:scale", "offset": "raster:offset"}
    return {renamed.get(k, k): v for k, v in fields.items()}


def band_asset_template(band: str, res: float, stac_version: str = STAC_VERSION) -> dict[str, Any]:
    """The item-independent fields of a band asset (also used in ``item_assets``)."""
    template: dict[str, Any] = {
        "type": COG_TYPE,
        "title": f"Band {band} ({COMMON_NAMES[band]})",
        "roles": ["data", "reflectance"],
    }
    fields = {"nodata": NODATA, "data_type": "uint16", "scale": SCALE, "offset": OFFSET}
    if stac_version == STAC_VERSION:
        template["eo:bands"] = [
            {
                "name": band,
                "common_name": COMMON_NAMES[band],
                "center_wavelength": BAND_WAVELENGTHS[band],
            }
        ]
        fields.update(spatial_resolution=res, unit="1")
    else:
        template["bands"] = [
            {
                "name": band,
                "eo:common_name": COMMON_NAMES[band],
                "eo:center_wavelength": BAND_WAVELENGTHS[band],
            }
        ]
        fields.update({"raster:spatial_resolution": res, "unit": "1"})
    return {**template, **_band_metadata(stac_version, fields)}


def aot_asset_template(stac_version: str = STAC_VERSION) -> dict[str, Any]:
    template: dict[str, Any] = {
        "type": ZARR_TYPE,
        "title": "Aerosol optical thickness (Zarr)",
        "roles": ["data"],
    }
    fields = {"data_type": "float32", "unit": "1"}
    if stac_version == STAC_VERSION:
        return {**template, "raster:bands": [fields]}
    return {**template, "bands": [{"name": "aot", **fields}]}


def wvp_asset_template(stac_version: str = STAC_VERSION) -> dict[str, Any]:
    """The NetCDF asset: its raster metadata repeats the variable's CF encoding."""
    fields = {"data_type": "int16", "nodata": WVP_FILL, "scale": WVP_SCALE, "unit": "cm"}
    return {
        "type": NETCDF_TYPE,
        "title": "Water vapour (NetCDF)",
        "roles": ["data"],
        **_band_metadata(stac_version, fields),
    }


def item_assets(res: float, stac_version: str = STAC_VERSION) -> dict[str, Any]:
    """The collection's ``item_assets`` (item-assets extension, core in STAC 1.1)."""
    result = {band: band_asset_template(band, res, stac_version) for band in BANDS}
    result["aot"] = aot_asset_template(stac_version)
    result["wvp"] = wvp_asset_template(stac_version)
    return result


def item_extensions(stac_version: str) -> list[str]:
    """The extensions a scene item declares."""
    if stac_version == STAC_VERSION:
        return [EXT_PROJECTION, EXT_RASTER, EXT_EO, EXT_MGRS]
    return [EXT_PROJECTION, EXT_RASTER_2, EXT_EO_2, EXT_MGRS]


def scene_item(
    data: SampleData,
    scene: Scene,
    href_for: HrefFunction,
    *,
    self_href: str | None = None,
    links: list[dict[str, Any]] | None = None,
    extra_properties: dict[str, Any] | None = None,
    collection: str | None = None,
    stac_version: str = STAC_VERSION,
) -> dict[str, Any]:
    """The STAC item of one sample scene, in the form of ``stac_version``."""
    tile = scene.tile
    paths = data.asset_paths(scene)
    assets: dict[str, Any] = {}
    for band in BANDS:
        asset = {
            "href": href_for(scene, band, paths[band]),
            **band_asset_template(band, tile.res, stac_version),
        }
        asset["proj:shape"] = [tile.size, tile.size]
        asset["proj:transform"] = tile.transform
        assets[band] = asset
    assets["aot"] = {
        "href": href_for(scene, "aot", paths["aot"]),
        **aot_asset_template(stac_version),
        "proj:shape": [tile.size, tile.size],
        "proj:transform": tile.transform,
    }
    coarse = [tile.res * 2, 0.0, tile.x0, 0.0, -tile.res * 2, tile.y1]
    assets["wvp"] = {
        "href": href_for(scene, "wvp", paths["wvp"]),
        **wvp_asset_template(stac_version),
        "proj:shape": [tile.size // 2, tile.size // 2],
        "proj:transform": coarse,
    }
    assets["thumbnail"] = {
        "href": href_for(scene, "thumbnail", f"{data.relative_dir(scene)}/thumbnail.png"),
        "type": "image/png",
        "title": "Thumbnail",
        "roles": ["thumbnail"],
    }
    properties: dict[str, Any] = {
        "datetime": scene.datetime,
        "platform": "sentinel-2x",
        "constellation": "sentinel-2",
        "instruments": ["msi"],
        "gsd": tile.res,
        "eo:cloud_cover": scene.cloud_cover,
        "proj:code": f"EPSG:{tile.epsg}",
        "mgrs:utm_zone": scene.zone,
        "mgrs:latitude_band": "U",
        "mgrs:grid_square": "PA" if scene.zone == 32 else "QA",
        "tile_id": tile.name,
    }
    properties.update(extra_properties or {})
    item = {
        "type": "Feature",
        "stac_version": stac_version,
        "stac_extensions": item_extensions(stac_version),
        "id": scene.item_id,
        "collection": collection or data.collection,
        "geometry": {"type": "Polygon", "coordinates": [tile.footprint_lonlat()]},
        "bbox": tile.bbox_lonlat(),
        "properties": properties,
        "links": list(links or []),
        "assets": assets,
    }
    if self_href is not None:
        item["links"].insert(0, {"rel": "self", "href": self_href, "type": "application/geo+json"})
    return item


def scenes_extent(data: SampleData) -> dict[str, Any]:
    boxes = [scene.tile.bbox_lonlat() for scene in data.scenes]
    times = sorted(scene.datetime for scene in data.scenes)
    return {
        "spatial": {
            "bbox": [
                [
                    min(b[0] for b in boxes),
                    min(b[1] for b in boxes),
                    max(b[2] for b in boxes),
                    max(b[3] for b in boxes),
                ]
            ]
        },
        "temporal": {"interval": [[times[0], times[-1]]]},
    }


def scenes_collection(
    data: SampleData,
    *,
    collection_id: str | None = None,
    links: list[dict[str, Any]] | None = None,
    title: str = "Synthetic Sentinel-2 L2A",
    stac_version: str = STAC_VERSION,
) -> dict[str, Any]:
    """The collection of the sample scenes, with ``item_assets``."""
    res = data.scenes[0].tile.res if data.scenes else 100.0
    return {
        "type": "Collection",
        "stac_version": stac_version,
        "stac_extensions": [EXT_ITEM_ASSETS] if stac_version == STAC_VERSION else [],
        "id": collection_id or data.collection,
        "title": title,
        "description": "Synthetic Sentinel-2-like scenes over two UTM zones whose pixel values "
        "are a known function of easting, northing, date and band.",
        "license": "CC-BY-4.0",
        "keywords": ["sentinel-2", "synthetic"],
        "providers": [{"name": "eostores", "roles": ["producer", "host"]}],
        "extent": scenes_extent(data),
        "summaries": {
            "platform": ["sentinel-2x"],
            "instruments": ["msi"],
            "gsd": [res],
        },
        "item_assets": item_assets(res, stac_version),
        "links": list(links or []),
    }


# -- the metadata-only collection for paging ---------------------------------------------------

MANY_ITEMS_COLLECTION = "many-items"
_MANY_START = datetime(2020, 1, 1, tzinfo=UTC)


def many_item(index: int, href: str, links: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Item ``index`` of the large metadata-only collection (its one asset is ``href``)."""
    lon = -170.0 + (index * 7) % 340
    lat = -60.0 + (index * 3) % 120
    box = [lon, lat, lon + 0.5, lat + 0.5]
    when = _MANY_START + timedelta(hours=index)
    return {
        "type": "Feature",
        "stac_version": STAC_VERSION,
        "stac_extensions": [EXT_EO],
        "id": f"item-{index:05d}",
        "collection": MANY_ITEMS_COLLECTION,
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [[box[0], box[1]], [box[2], box[1]], [box[2], box[3]], [box[0], box[3]], box[:2]]
            ],
        },
        "bbox": box,
        "properties": {
            "datetime": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "eo:cloud_cover": float(index % 100),
        },
        "links": list(links or []),
        "assets": {
            "data": {
                "href": href,
                "type": COG_TYPE,
                "roles": ["data"],
                "raster:bands": [{"nodata": NODATA, "data_type": "uint16"}],
            }
        },
    }


def many_collection(count: int, links: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    end = _MANY_START + timedelta(hours=max(count - 1, 0))
    return {
        "type": "Collection",
        "stac_version": STAC_VERSION,
        "stac_extensions": [],
        "id": MANY_ITEMS_COLLECTION,
        "title": "Many small items",
        "description": "A large collection of metadata-only items for paging.",
        "license": "CC0-1.0",
        "extent": {
            "spatial": {"bbox": [[-170.0, -60.0, 170.5, 60.5]]},
            "temporal": {
                "interval": [
                    [_MANY_START.strftime("%Y-%m-%dT%H:%M:%SZ"), end.strftime("%Y-%m-%dT%H:%M:%SZ")]
                ]
            },
        },
        "links": list(links or []),
    }
