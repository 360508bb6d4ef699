"""The emulated metadata: the toolbox's client config, the STAC catalogue and the id mapping.

Shapes follow the Copernicus Marine metadata bucket: ``clientsConfigV1.json`` names one
catalogue (STAC root, dataset -> product id mapping, STAC root folder); the root catalogue
links each product collection (``<PRODUCT>/product.stac.json``); a product links its
dataset items (``<DATASET>_<VERSION>[--ext--<part>]/dataset.stac.json``); an item carries
the datacube extension (``cube:dimensions``, ``cube:variables``) and one asset per ARCO
service with its ``viewDims`` (coordinates and chunk lengths), and may carry the
``admp_*`` properties the toolbox reads (``admp_valid_start_date``,
``admp_in_preparation``, ``admp_retired_date``).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

from .sampledata import ASSET_BUCKETS, DAY_S, EPOCH, VERTICAL, SampleDataset

__all__ = ["client_config", "id_mapping", "item_document", "product_document", "root_catalog"]

METADATA_BUCKET = "mdl-metadata"
STAC_FOLDER = "metadata"
DATACUBE_EXTENSION = "https://stac-extensions.github.io/datacube/v2.2.0/schema.json"
TIME_UNITS_MS = "milliseconds since 1970-01-01 00:00:00Z (no leap seconds)"
_AXIS_UNITS = {"latitude": "degrees_north", "longitude": "degrees_east", VERTICAL: "m"}
_AXIS_LETTER = {"latitude": "y", "longitude": "x", VERTICAL: "z"}


def iso(seconds: float) -> str:
    return (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def client_config(base_url: str) -> dict[str, Any]:
    """``clientsConfigV1.json``: client versions the services accept and the catalogues."""
    root = f"{base_url}/{METADATA_BUCKET}/{STAC_FOLDER}"
    return {
        "clientVersions": {
            "mds": ">=2.0.0",
            "mds/serverlessArco": ">=2.0.0",
            "mds/serverlessArco/meta": ">=2.0.0",
            "mds/serverlessNative": ">=2.0.0",
        },
        "catalogues": [
            {
                "stac": f"{root}/catalog.stac.json",
                "idMapping": f"{base_url}/{METADATA_BUCKET}/dataset_product_id_mapping.json",
                "stacRoot": f"{root}/",
            }
        ],
    }


def root_catalog(products: list[tuple[str, str, str]]) -> dict[str, Any]:
    """The root catalogue; ``products`` are (product id, title, child href)."""
    links = [
        {"rel": "root", "href": "catalog.stac.json", "type": "application/json"},
        {"rel": "self", "href": "catalog.stac.json", "type": "application/json"},
    ]
    links += [
        {"rel": "child", "href": href, "title": title, "type": "application/json"}
        for _product_id, title, href in products
    ]
    return {
        "type": "Catalog",
        "id": "copernicus-marine",
        "stac_version": "1.0.0",
        "title": "Copernicus Marine Data Store",
        "description": "Products of the Copernicus Marine Service",
        "links": links,
    }


def id_mapping(datasets: list[SampleDataset]) -> dict[str, str]:
    """``dataset_product_id_mapping.json``: dataset id (no version) -> product id(s)."""
    return {dataset.dataset_id: dataset.product_id for dataset in datasets}


def product_document(
    product_id: str, title: str, datasets: list[SampleDataset], item_hrefs: list[str]
) -> dict[str, Any]:
    """A product collection linking its dataset items."""
    lats = [v for d in datasets for v in d.latitudes]
    lons = [v for d in datasets for v in d.longitudes]
    times = [v for d in datasets for v in d.times]
    links = [
        {"rel": "root", "href": "../catalog.stac.json", "type": "application/json"},
        {"rel": "parent", "href": "../catalog.stac.json", "type": "application/json"},
    ]
    links += [
        {"rel": "item", "href": href, "title": href.split("/")[0], "type": "application/json"}
        for href in item_hrefs
    ]
    return {
        "type": "Collection",
        "id": product_id,
        "stac_version": "1.0.0",
        "stac_extensions": [],
        "title": title,
        "description": f"{title} (emulated product)",
        "license": "proprietary",
        "keywords": ["oceanography", "emulated"],
        "providers": [{"name": "Mercator Ocean International", "roles": ["producer"]}],
        "extent": {
            "spatial": {"bbox": [[min(lons), min(lats), max(lons), max(lats)]]},
            "temporal": {"interval": [[iso(min(times)), iso(max(times))]]},
        },
        "properties": {"processingLevel": "Level 4", "sources": ["Numerical models"]},
        "sci:doi": datasets[0].doi if datasets else None,
        "links": links,
        "assets": {},
    }


def _regular_step(values: tuple[float, ...]) -> float | None:
    if len(values) < 2:
        return None
    step = values[1] - values[0]
    if all(abs((b - a) - step) < 1e-9 * max(1.0, abs(step)) for a, b in itertools.pairwise(values)):
        return step
    return None


def _view_dim(dataset: SampleDataset, dim: str, chunk: int) -> dict[str, Any]:
    values = dataset.axis(dim).tolist()
    if dim == "time":
        values = [round(v * 1000) for v in values]
        units = TIME_UNITS_MS
    else:
        units = _AXIS_UNITS[dim]
    step = _regular_step(tuple(values))
    entry: dict[str, Any] = {
        "units": units,
        "chunkLen": {variable.name: chunk for variable in dataset.variables},
    }
    if step is not None and dim != VERTICAL:
        entry["coords"] = {"min": values[0], "max": values[-1], "step": step}
        entry["chunkType"] = "default"
        entry["chunkRefCoord"] = values[0]
    else:
        entry["coords"] = {"values": values}
    return entry


def _cube_dimension(dataset: SampleDataset, dim: str) -> dict[str, Any]:
    values = dataset.axis(dim)
    if dim == "time":
        return {
            "type": "temporal",
            "extent": [iso(values[0]), iso(values[-1])],
            "step": dataset.time_step,
        }
    entry: dict[str, Any] = {
        "type": "spatial",
        "axis": _AXIS_LETTER[dim],
        "extent": [float(values[0]), float(values[-1])],
        "unit": _AXIS_UNITS[dim],
    }
    if dim == VERTICAL:
        entry["values"] = [float(v) for v in values]
    else:
        entry["step"] = float(values[1] - values[0])
        entry["reference_system"] = 4326
    return entry


def data_href(base_url: str, dataset: SampleDataset, version: str, part: str, asset: str) -> str:
    """Where an ARCO service of a dataset version part lives (S3 path style)."""
    item_id = dataset.item_id(version, part)
    bucket = ASSET_BUCKETS[asset]
    return f"{base_url}/{bucket}/arco/{dataset.product_id}/{item_id}/{asset}.zarr"


def item_document(
    dataset: SampleDataset,
    version: str,
    part: str,
    base_url: str,
    *,
    hrefs: dict[str, str] | None = None,
    item_id: str | None = None,
) -> dict[str, Any]:
    """The STAC item of one dataset version part."""
    lats, lons = dataset.axis("latitude"), dataset.axis("longitude")
    dims = {dim: _cube_dimension(dataset, dim) for dim in dataset.dims}
    variables = {
        v.name: {
            "id": v.name,
            "type": "data",
            "dimensions": list(dataset.dims),
            "standardName": v.standard_name,
            "unit": v.units,
            "name": v.long_name,
        }
        for v in dataset.variables
    }
    assets: dict[str, Any] = {}
    for asset, chunks in dataset.chunks.items():
        assets[asset] = {
            "href": (hrefs or {}).get(asset) or data_href(base_url, dataset, version, part, asset),
            "type": "application/vnd+zarr",
            "roles": ["data"],
            "title": f"ARCO {asset} Zarr store",
            "viewDims": {dim: _view_dim(dataset, dim, chunks[dim]) for dim in dataset.dims},
        }
    times = dataset.axis("time")
    updated = datetime(2024, 6, 1).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [DATACUBE_EXTENSION],
        "id": item_id or dataset.item_id(version, part),
        "geometry": {
            "type": "Polygon",
            "coordinates": [
                [
                    [lons[0], lats[0]],
                    [lons[-1], lats[0]],
                    [lons[-1], lats[-1]],
                    [lons[0], lats[-1]],
                    [lons[0], lats[0]],
                ]
            ],
        },
        "bbox": [float(lons[0]), float(lats[0]), float(lons[-1]), float(lats[-1])],
        "properties": {
            "title": dataset.title,
            "datetime": None,
            "start_datetime": iso(times[0]),
            "end_datetime": iso(times[-1] + (DAY_S if dataset.time_step == "P1D" else 0)),
            "cube:dimensions": dims,
            "cube:variables": variables,
            "admp_updated_data": updated,
            **dataset.item_properties.get((version, part), {}),
        },
        "links": [
            {"rel": "root", "href": "../../catalog.stac.json", "type": "application/json"},
            {"rel": "parent", "href": "../product.stac.json", "type": "application/json"},
            {"rel": "collection", "href": "../product.stac.json", "type": "application/json"},
        ],
        "assets": assets,
        "collection": dataset.product_id,
    }
