"""A STAC emulator: a local model of STAC APIs, static catalogs, DestinE Cache-A and xcube server.

:class:`StacEmulator` serves the sample scenes of :mod:`eostores_stac.testing.scenes` in one of
these modes (``mode=``):

``api``
    A STAC API at the server root: landing page, conformance, collections, items with
    ``page`` paging, ``/search`` by GET and POST (bbox, intersects, datetime, ids,
    collections, limit, ``token`` paging through ``next`` links), the query extension,
    the filter extension (cql2-text and cql2-json) and sortby. Besides the scenes it holds
    the metadata-only collection ``many-items`` for paging. Assets are files under
    ``/data/`` served with Range support. ``item_search=False`` leaves out the item-search
    conformance class and ``/search``, so clients must walk the catalog;
    ``with_projection=False`` leaves the projection extension out of the items;
    ``asset_url`` puts the asset hrefs on another server (as catalogs whose files live
    elsewhere do).
``static``
    A static catalog under ``/static/catalog.json`` with nested catalogs and relative hrefs.
``cdse``
    Like ``api`` under ``/v1``, with asset hrefs ``s3://<bucket>/...`` for objects uploaded
    to an S3 server (see :class:`MotoServer` and :func:`upload_sample_data`), and STAC 1.1
    documents (raster v2 and eo v2 band metadata), as the CDSE ``/v1`` catalogue has them.
``cachea``
    DestinE Cache-A under ``/stac/api``: bearer tokens on every request, the supported
    search attributes (bbox, datetime, ids, ``eo:cloud_cover`` comparisons with =, <, <=,
    >, >= in ``filter``) and downloads by ``POST /stac/download?filename=...``, at most
    ``download_limit`` at once per user, further ones answered with 429. Only what the
    service documents: search by GET, and no features endpoints (``/collections/{id}/items``).
``xcube``
    An xcube server's STAC under ``/ogc`` whose assets carry ``xcube:data_store_params``
    and ``xcube:open_data_params`` pointing at the server's read-only S3 interface under
    ``/s3``. As the server has it: the collection ``datacubes`` holds one item per dataset
    and its extent is keyed by dataset id (``{"demo": [...]}``, not STAC's list); each
    dataset also has a collection of its own (id ``demo``, a flat ``bbox``) with the single
    item ``datacube``; item search is not among the conformance classes and ``/search``
    answers ``{}`` (GET and POST). ``item_search=True`` makes ``/search`` a real search.

``stac_version`` ("1.0.0" or "1.1.0") chooses the form of the scene items and collections
(see :mod:`eostores_stac.testing.documents`); the default is "1.1.0" in ``cdse`` mode and
"1.0.0" in the others. ``post_search`` (search by POST) and ``features`` (the OGC API
Features endpoints ``/collections/{id}/items[/{itemId}]`` and their conformance class) are
on except in ``cachea`` mode; ``search_filter=False`` makes ``/search`` ignore ``filter``
silently, as a service may whose filter support is not documented.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from eostores.errors import DataStoreError
from eostores.paths import confine
from eostores.testing import EmulatorServer, Request, Response, route

from . import documents
from .moto import cdse_key
from .query import (
    BadRequest,
    check_cachea_params,
    matching_items,
    normalize_params,
    page_limit,
    sorted_items,
    token_offset,
)
from .scenes import SampleData, Scene
from .xcubedata import XCUBE_BBOX, write_xcube_datasets

__all__ = ["CONFORMANCE_CLASSES", "StacEmulator", "sample_data_dir"]

CONFORMANCE_CLASSES = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "https://api.stacspec.org/v1.0.0/item-search#sort",
    "https://api.stacspec.org/v1.0.0-rc.2/item-search#filter",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-text",
    "http://www.opengis.net/spec/cql2/1.0/conf/cql2-json",
    "http://www.opengis.net/spec/cql2/1.0/conf/basic-cql2",
]
_SEARCH_CLASSES = ("item-search", "filter", "cql2", "query", "sort")
_GEOJSON = "application/geo+json"
_OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
_ROOTS = {"api": "", "cdse": "/v1", "static": "/static", "cachea": "/stac/api", "xcube": "/ogc"}
_CACHEA_COLLECTION = "SENTINEL-2"
_XCUBE_COLLECTION = "datacubes"
#: The xcube server's dataset, and the id of the single item of its own collection.
_XCUBE_DATASET = "demo"
_XCUBE_FEATURE = "datacube"
_XCUBE_TIMES = ("2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z")


def sample_data_dir(**settings: Any) -> Path:
    """A per-user directory for sample data with these settings, shared between runs."""
    digest = hashlib.sha1(json.dumps(settings, sort_keys=True).encode(), usedforsecurity=False)
    return Path(tempfile.gettempdir()) / f"eostores-stac-sample-{digest.hexdigest()[:12]}"


class StacEmulator(EmulatorServer):
    """A STAC service emulator; see the module docstring for the modes."""

    name = "stac"

    def __init__(
        self,
        mode: str = "api",
        data_dir: str | None = None,
        num_dates: int = 4,
        size: int = 128,
        tiles_per_zone: int = 1,
        block_size: int = 32,
        many_items: int = 1200,
        default_limit: int = 10,
        max_limit: int = 1000,
        item_search: bool | None = None,
        download_limit: int = 2,
        download_delay_s: float = 0.0,
        s3_bucket: str = "eodata",
        s3_endpoint: str | None = None,
        s3_key: str | None = None,
        s3_secret: str | None = None,
        with_projection: bool = True,
        asset_url: str | None = None,
        stac_version: str | None = None,
        post_search: bool | None = None,
        features: bool | None = None,
        search_filter: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if mode not in _ROOTS:
            raise ValueError(f"unknown mode {mode!r}; allowed: {', '.join(_ROOTS)}")
        if stac_version is None:
            stac_version = "1.1.0" if mode == "cdse" else documents.STAC_VERSION
        if stac_version not in documents.STAC_VERSIONS:
            allowed = ", ".join(documents.STAC_VERSIONS)
            raise ValueError(f"unknown stac_version {stac_version!r}; allowed: {allowed}")
        self.mode = mode
        self.stac_version = stac_version
        settings = dict(
            num_dates=num_dates, size=size, tiles_per_zone=tiles_per_zone, block_size=block_size
        )
        directory = Path(data_dir) if data_dir else sample_data_dir(**settings)
        self.data = SampleData(directory, **settings)
        if mode != "xcube":
            self.data.ensure()
        else:
            write_xcube_datasets(directory / "xcube")
        self.many_items = many_items if mode == "api" else 0
        self.default_limit = default_limit
        self.max_limit = max_limit
        self.item_search = mode != "xcube" if item_search is None else item_search
        self.post_search = mode != "cachea" if post_search is None else post_search
        self.features = mode != "cachea" if features is None else features
        self.search_filter = search_filter
        self.download_limit = download_limit
        self.download_delay_s = download_delay_s
        self.s3_bucket = s3_bucket
        self.s3_endpoint = s3_endpoint
        self.s3_key = s3_key
        self.s3_secret = s3_secret
        self.with_projection = with_projection
        self.asset_url = asset_url
        self._items_cache: list[dict[str, Any]] | None = None
        self._downloads: dict[str, int] = {}
        self._downloads_lock = threading.Lock()
        self.peak_downloads = 0

    # -- addresses ---------------------------------------------------------------------------

    @property
    def root(self) -> str:
        """The URL of the catalog root (landing page or catalog.json directory)."""
        return self.url + _ROOTS[self.mode]

    @property
    def catalog_url(self) -> str:
        """The URL a STAC client opens."""
        if self.mode == "static":
            return f"{self.root}/catalog.json"
        return self.root

    def store_params(self) -> dict[str, Any]:
        params: dict[str, Any] = {"url": self.catalog_url}
        if self.mode == "cdse":
            if self.s3_endpoint:
                params["endpoint_url"] = self.s3_endpoint
            if self.s3_key:
                params["key"] = self.s3_key
                params["secret"] = self.s3_secret
        if self.mode == "cachea":
            params["token"] = self.issue_token()
        return params

    @property
    def collection_id(self) -> str:
        if self.mode == "cachea":
            return _CACHEA_COLLECTION
        if self.mode == "xcube":
            return _XCUBE_COLLECTION
        return self.data.collection

    def item_data_id(self, item_id: str) -> str:
        """The store data id of item ``item_id`` (API path or static relative href)."""
        if self.mode == "static":
            scene = self.data.scene(item_id)
            return f"{self.data.collection}/zone-{scene.zone}/{item_id}/{item_id}.json"
        return f"collections/{self.collection_id}/items/{item_id}"

    # -- item documents ----------------------------------------------------------------------

    def _href_for(self, scene: Scene, key: str, path: str) -> str:
        if self.mode == "cdse":
            return f"s3://{self.s3_bucket}/{cdse_key(scene, path)}"
        base = self.asset_url or self.url
        if self.mode == "cachea":
            return f"{base}/stac/download?" + urlencode(
                {"filename": f"{_CACHEA_COLLECTION}/{path.split('/', 1)[1]}"}
            )
        if self.mode == "static":
            return "./" + path.rsplit("/", 1)[-1]
        return f"{base}/data/{path}"

    def _collection_url(self, collection: str) -> str:
        return f"{self.root}/collections/{collection}"

    def _item_url(self, collection: str, item_id: str) -> str:
        return f"{self._collection_url(collection)}/items/{item_id}"

    def _item_links(self, collection: str, item_id: str) -> list[dict[str, Any]]:
        return [
            {"rel": "self", "href": self._item_url(collection, item_id), "type": _GEOJSON},
            {"rel": "parent", "href": self._collection_url(collection), "type": "application/json"},
            {
                "rel": "collection",
                "href": self._collection_url(collection),
                "type": "application/json",
            },
            {"rel": "root", "href": f"{self.root}/", "type": "application/json"},
        ]

    def _scene_item(self, scene: Scene) -> dict[str, Any]:
        collection = self.collection_id
        extra = None
        if self.mode == "cachea":
            start = scene.datetime
            extra = {
                "productIdentifier": scene.item_id,
                "instrument": "MSI",
                "platformName": "SENTINEL-2A",
                "productType": "S2MSI2A",
                "timeCoverageStart": start,
                "timeCoverageStop": start,
                "provider": "CDSE",
                "providerDescription": "Copernicus Data Space Ecosystem",
                "publicationDate": start,
                "format": "GeoTIFF",
            }
        item = documents.scene_item(
            self.data,
            scene,
            self._href_for,
            links=self._item_links(collection, scene.item_id),
            extra_properties=extra,
            collection=collection,
            stac_version=self.stac_version,
        )
        if not self.with_projection:
            _strip_projection(item)
        return item

    def items(self) -> list[dict[str, Any]]:
        """Every item the API serves, in their natural order."""
        if self._items_cache is None:
            if self.mode == "xcube":
                items = [
                    self._xcube_item(_XCUBE_COLLECTION, _XCUBE_DATASET),
                    self._xcube_item(_XCUBE_DATASET, _XCUBE_FEATURE),
                ]
            else:
                items = [self._scene_item(scene) for scene in self.data.scenes]
            shared = f"{self.url}/data/{self.data.asset_paths(self.data.scenes[0])['B02']}"
            for index in range(self.many_items):
                collection = documents.MANY_ITEMS_COLLECTION
                item_id = f"item-{index:05d}"
                items.append(
                    documents.many_item(index, shared, self._item_links(collection, item_id))
                )
            self._items_cache = items
        return self._items_cache

    def collections(self) -> list[dict[str, Any]]:
        result = []
        for collection_id in self._collection_ids():
            links = [
                {"rel": "self", "href": self._collection_url(collection_id)},
                {"rel": "root", "href": f"{self.root}/"},
                {"rel": "parent", "href": f"{self.root}/"},
            ]
            if self.features:
                links.append(
                    {
                        "rel": "items",
                        "href": f"{self._collection_url(collection_id)}/items",
                        "type": _GEOJSON,
                    }
                )
            if collection_id == documents.MANY_ITEMS_COLLECTION:
                result.append(documents.many_collection(self.many_items, links))
            elif self.mode == "xcube":
                result.append(self._xcube_collection(collection_id, links))
            else:
                result.append(
                    documents.scenes_collection(
                        self.data,
                        collection_id=collection_id,
                        links=links,
                        stac_version=self.stac_version,
                    )
                )
        return result

    def _collection_ids(self) -> list[str]:
        ids = [self.collection_id]
        if self.mode == "xcube":
            ids.append(_XCUBE_DATASET)
        if self.many_items:
            ids.append(documents.MANY_ITEMS_COLLECTION)
        return ids

    # -- routing -----------------------------------------------------------------------------

    @route("GET", r"/(?P<path>.*)")
    def get(self, request: Request, path: str) -> Response:
        path = "/" + path
        try:
            if self.mode == "xcube" and path.startswith("/s3"):
                return self._s3(request, path[len("/s3") :])
            if self.mode in ("api", "cdse") and path.startswith("/data/"):
                return self._data_file(request, path[len("/data/") :])
            if self.mode == "static":
                return self._static(request, path)
            if self.mode == "cachea" and path == "/stac/download":
                return Response.json(
                    {"code": "MethodNotAllowed", "description": "downloads are POST requests"},
                    status=405,
                    headers={"Allow": "POST"},
                )
            return self._api_get(request, path)
        except BadRequest as error:
            return _error(400, "InvalidParameterValue", str(error))

    @route("POST", r"/(?P<path>.*)")
    def post(self, request: Request, path: str) -> Response:
        path = "/" + path
        try:
            if self.mode == "cachea" and path == "/stac/download":
                return self._download(request)
            root = _ROOTS[self.mode]
            if path == f"{root}/search" and self.mode == "xcube" and not self.item_search:
                return Response.json({})
            if path == f"{root}/search" and self.mode != "static" and self.item_search:
                denied = self._check_auth(request)
                if denied is not None:
                    return denied
                if not self.post_search:
                    return Response.json(
                        {"code": "MethodNotAllowed", "description": "search by GET only"},
                        status=405,
                        headers={"Allow": "GET"},
                    )
                body = request.json() or {}
                if not isinstance(body, dict):
                    raise BadRequest("the search body must be a JSON object")
                return self._search(body, method="POST")
        except BadRequest as error:
            return _error(400, "InvalidParameterValue", str(error))
        except ValueError as error:
            return _error(400, "InvalidParameterValue", f"invalid JSON body: {error}")
        return _error(404, "NotFound", f"no POST endpoint {path}")

    def _check_auth(self, request: Request) -> Response | None:
        if self.mode != "cachea":
            return None
        return self.require_bearer(request)

    def _api_get(self, request: Request, path: str) -> Response:
        root = _ROOTS[self.mode]
        if not path.startswith(root):
            return _error(404, "NotFound", f"no such resource: {path}")
        denied = self._check_auth(request)
        if denied is not None:
            return denied
        rest = path[len(root) :].rstrip("/")
        parts = [p for p in rest.split("/") if p]
        if not parts:
            return Response.json(self._landing_page())
        if parts == ["conformance"]:
            return Response.json({"conformsTo": self._conformance()})
        if parts == ["api"]:
            return _json(self._service_description(), _OPENAPI)
        if parts == ["search"] and self.item_search:
            return self._search(_search_params_from_query(request), method="GET")
        if parts == ["search"] and self.mode == "xcube":
            return Response.json({})
        if parts[0] == "collections":
            return self._collections_get(request, parts[1:])
        return _error(404, "NotFound", f"no such resource: {path}")

    def _conformance(self) -> list[str]:
        left_out = () if self.item_search else _SEARCH_CLASSES
        if not self.features:
            left_out += ("ogcapi-features",)
        return [c for c in CONFORMANCE_CLASSES if not any(s in c for s in left_out)]

    def _landing_page(self) -> dict[str, Any]:
        links = [
            {"rel": "self", "href": f"{self.root}/", "type": "application/json"},
            {"rel": "root", "href": f"{self.root}/", "type": "application/json"},
            {"rel": "service-desc", "href": f"{self.root}/api", "type": _OPENAPI},
            {"rel": "conformance", "href": f"{self.root}/conformance", "type": "application/json"},
            {"rel": "data", "href": f"{self.root}/collections", "type": "application/json"},
        ]
        if self.item_search:
            links += [
                {"rel": "search", "href": f"{self.root}/search", "type": _GEOJSON, "method": m}
                for m in self._search_methods()
            ]
        elif self.mode == "xcube":  # linked, though it searches nothing
            links.append(
                {"rel": "search", "href": f"{self.root}/search", "type": "application/json"}
            )
        links += [
            {"rel": "child", "href": self._collection_url(c), "type": "application/json"}
            for c in self._collection_ids()
        ]
        return {
            "type": "Catalog",
            "stac_version": self.stac_version,
            "id": f"eostores-emulator-{self.mode}",
            "title": "eostores STAC emulator",
            "description": f"A local STAC {self.mode} emulator.",
            "conformsTo": self._conformance(),
            "links": links,
        }

    def _search_methods(self) -> tuple[str, ...]:
        return ("GET", "POST") if self.post_search else ("GET",)

    def _service_description(self) -> dict[str, Any]:
        """A small OpenAPI 3.0 document naming the endpoints this emulator serves."""
        paths = {
            "/": "landing page",
            "/conformance": "conformance classes",
            "/collections": "collections",
            "/collections/{collectionId}": "one collection",
        }
        if self.features:
            paths["/collections/{collectionId}/items"] = "items of a collection (paged)"
            paths["/collections/{collectionId}/items/{itemId}"] = "one item"
        methods = {path: ("get",) for path in paths}
        if self.item_search:
            paths["/search"] = "item search"
            methods["/search"] = tuple(m.lower() for m in self._search_methods())
        return {
            "openapi": "3.0.3",
            "info": {"title": "eostores STAC emulator", "version": documents.STAC_VERSION},
            "servers": [{"url": self.root or "/"}],
            "paths": {
                path: {
                    method: {"summary": summary, "responses": {"200": {"description": "OK"}}}
                    for method in methods[path]
                }
                for path, summary in paths.items()
            },
        }

    def _collections_get(self, request: Request, parts: list[str]) -> Response:
        collections = {c["id"]: c for c in self.collections()}
        if not parts:
            return Response.json(
                {
                    "collections": list(collections.values()),
                    "links": [
                        {"rel": "self", "href": f"{self.root}/collections"},
                        {"rel": "root", "href": f"{self.root}/"},
                    ],
                }
            )
        collection = collections.get(parts[0])
        if collection is None:
            return _error(404, "NotFound", f"Collection {parts[0]!r} does not exist.")
        if len(parts) == 1:
            return Response.json(collection)
        if parts[1] != "items" or len(parts) > 3 or not self.features:
            return _error(404, "NotFound", "no such resource")
        if len(parts) == 3:
            for item in self.items():
                if item["collection"] == parts[0] and item["id"] == parts[2]:
                    return _json(item, _GEOJSON)
            return _error(404, "NotFound", f"Item {parts[2]!r} does not exist in {parts[0]!r}.")
        return self._items_page(request, parts[0])

    def _items_page(self, request: Request, collection: str) -> Response:
        query = request.query
        limit = page_limit(query.get("limit"), self.default_limit, self.max_limit)
        try:
            page = int(query.get("page", "1"))
        except ValueError:
            raise BadRequest(f"page = {query.get('page')!r} is not an integer") from None
        if page < 1:
            raise BadRequest("page must be >= 1")
        params: dict[str, Any] = {"collections": [collection]}
        for key in ("bbox", "datetime"):
            if key in query:
                params[key] = query[key]
        found = self._filter(normalize_params(params))
        start = (page - 1) * limit
        chosen = found[start : start + limit]
        base = f"{self._collection_url(collection)}/items"
        links = [{"rel": "self", "href": base}, {"rel": "root", "href": f"{self.root}/"}]
        if start + limit < len(found):
            follow = {k: v for k, v in query.items() if k != "page"}
            follow["page"] = str(page + 1)
            links.append({"rel": "next", "href": f"{base}?{urlencode(follow)}", "type": _GEOJSON})
        return _feature_collection(chosen, links, len(found))

    # -- search ------------------------------------------------------------------------------

    def _search(self, params: dict[str, Any], method: str) -> Response:
        normalized = normalize_params(params)
        if self.mode == "cachea":
            check_cachea_params(normalized)
        if not self.search_filter:
            normalized.pop("filter", None)
        limit = page_limit(params.get("limit"), self.default_limit, self.max_limit)
        offset = token_offset(params.get("token"))
        found = self._filter(normalized)
        if normalized.get("sortby"):
            found = sorted_items(found, normalized["sortby"])
        chosen = found[offset : offset + limit]
        links: list[dict[str, Any]] = [
            {"rel": "root", "href": f"{self.root}/", "type": "application/json"},
        ]
        if offset + limit < len(found):
            token = f"next:{offset + limit}"
            if method == "GET":
                follow = {k: v for k, v in params.items() if k != "token"}
                follow["token"] = token
                href = f"{self.root}/search?{urlencode(follow)}"
                links.append({"rel": "next", "href": href, "type": _GEOJSON, "method": "GET"})
            else:
                body = {**params, "token": token}
                links.append(
                    {
                        "rel": "next",
                        "href": f"{self.root}/search",
                        "type": _GEOJSON,
                        "method": "POST",
                        "body": body,
                        "merge": False,
                    }
                )
        return _feature_collection(chosen, links, len(found))

    def _filter(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        return matching_items(self.items(), params, self._collection_ids())

    # -- static catalog ----------------------------------------------------------------------

    def _static(self, request: Request, path: str) -> Response:
        parts = [p for p in path.split("/") if p][1:]
        collection = self.data.collection
        if parts == ["catalog.json"]:
            return Response.json(self._static_catalog())
        if parts[:1] != [collection]:
            return _error(404, "NotFound", f"no such file: {path}")
        zones = sorted({scene.zone for scene in self.data.scenes})
        if parts[1:] == ["collection.json"]:
            links = [
                {"rel": "root", "href": "../catalog.json", "type": "application/json"},
                {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
            ]
            links += [
                {"rel": "child", "href": f"./zone-{z}/catalog.json", "type": "application/json"}
                for z in zones
            ]
            return Response.json(
                documents.scenes_collection(self.data, links=links, stac_version=self.stac_version)
            )
        if len(parts) == 3 and parts[2] == "catalog.json" and parts[1].startswith("zone-"):
            zone = int(parts[1][5:])
            links = [
                {"rel": "root", "href": "../../catalog.json", "type": "application/json"},
                {"rel": "parent", "href": "../collection.json", "type": "application/json"},
            ]
            links += [
                {"rel": "item", "href": f"./{s.item_id}/{s.item_id}.json", "type": _GEOJSON}
                for s in self.data.scenes
                if s.zone == zone
            ]
            return Response.json(
                {
                    "type": "Catalog",
                    "stac_version": self.stac_version,
                    "id": f"zone-{zone}",
                    "description": f"Scenes in UTM zone {zone}N",
                    "links": links,
                }
            )
        if len(parts) >= 4 and parts[1].startswith("zone-"):
            try:
                scene = self.data.scene(parts[2])
            except KeyError:
                return _error(404, "NotFound", f"no such file: {path}")
            if len(parts) == 4 and parts[3] == f"{scene.item_id}.json":
                links = [
                    {"rel": "root", "href": "../../../catalog.json", "type": "application/json"},
                    {"rel": "parent", "href": "../catalog.json", "type": "application/json"},
                    {"rel": "collection", "href": "../../collection.json"},
                ]
                return Response.json(
                    documents.scene_item(
                        self.data,
                        scene,
                        self._href_for,
                        links=links,
                        stac_version=self.stac_version,
                    )
                )
            relative = "/".join(parts[3:])
            return self._data_file(request, f"{self.data.relative_dir(scene)}/{relative}")
        return _error(404, "NotFound", f"no such file: {path}")

    def _static_catalog(self) -> dict[str, Any]:
        collection = self.data.collection
        return {
            "type": "Catalog",
            "stac_version": self.stac_version,
            "id": "eostores-static",
            "description": "A static STAC catalog of the sample scenes.",
            "links": [
                {"rel": "root", "href": "./catalog.json", "type": "application/json"},
                {
                    "rel": "child",
                    "href": f"./{collection}/collection.json",
                    "type": "application/json",
                },
            ],
        }

    # -- files, downloads, S3 ----------------------------------------------------------------

    def _data_file(self, request: Request, relative: str) -> Response:
        target = _safe_join(self.data.root, relative)
        if target is None or not target.is_file():
            return Response.html_error(404, "404 Not Found")
        return Response.file(target, request)

    def _download(self, request: Request) -> Response:
        denied = self.require_bearer(request)
        if denied is not None:
            return denied
        filename = request.query.get("filename", "")
        prefix = f"{_CACHEA_COLLECTION}/"
        if not filename.startswith(prefix):
            return _error(404, "NotFound", f"no such product file: {filename!r}")
        target = _safe_join(self.data.root, f"{self.data.collection}/{filename[len(prefix) :]}")
        if target is None or not target.exists():
            return _error(404, "NotFound", f"no such product file: {filename!r}")
        token = request.bearer_token or ""
        with self._downloads_lock:
            active = self._downloads.get(token, 0)
            if active >= self.download_limit:
                return Response.json(
                    {
                        "detail": f"Quota exceeded: {self.download_limit} parallel downloads "
                        "are allowed per user."
                    },
                    status=429,
                    headers={"Retry-After": "1"},
                )
            self._downloads[token] = active + 1
            self.peak_downloads = max(self.peak_downloads, active + 1)
        try:
            if target.is_dir():
                body = _zip_directory(target)
                content_type = "application/zip"
            else:
                body = target.read_bytes()
                content_type = "application/octet-stream"
            if self.download_delay_s:
                time.sleep(self.download_delay_s)
            name = target.name + (".zip" if target.is_dir() else "")
            return Response(
                200,
                body,
                {"Content-Disposition": f'attachment; filename="{name}"'},
                content_type=content_type,
            )
        finally:
            with self._downloads_lock:
                self._downloads[token] -= 1

    def _s3(self, request: Request, path: str) -> Response:
        parts = path.strip("/").split("/", 1)
        bucket = parts[0]
        directory = self.data.root / "xcube" / bucket
        if not bucket or not directory.is_dir():
            return _s3_error(404, "NoSuchBucket", "The specified bucket does not exist")
        key = parts[1] if len(parts) > 1 else ""
        if not key:
            if "list-type" in request.query or "prefix" in request.query or not request.query:
                return self._s3_list(directory, bucket, request.query)
            return _s3_error(400, "InvalidRequest", "unsupported bucket operation")
        target = _safe_join(directory, key)
        if target is None or not target.is_file():
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        response = Response.file(target, request, content_type="binary/octet-stream")
        response.headers["Last-Modified"] = formatdate(target.stat().st_mtime, usegmt=True)
        return response

    def _s3_list(self, directory: Path, bucket: str, query: dict[str, str]) -> Response:
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        keys = sorted(
            str(p.relative_to(directory)).replace(os.sep, "/")
            for p in directory.rglob("*")
            if p.is_file()
        )
        contents, prefixes = [], []
        for key in keys:
            if not key.startswith(prefix):
                continue
            rest = key[len(prefix) :]
            if delimiter and delimiter in rest:
                common = prefix + rest.split(delimiter, 1)[0] + delimiter
                if common not in prefixes:
                    prefixes.append(common)
                continue
            contents.append(key)
        entries = []
        for key in contents:
            stat = (directory / key).stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
            entries.append(
                f"<Contents><Key>{escape(key)}</Key><LastModified>{modified}</LastModified>"
                f'<ETag>"{stat.st_size:x}"</ETag><Size>{stat.st_size}</Size>'
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        entries += [
            f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes
        ]
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>"
            f"<Delimiter>{escape(delimiter)}</Delimiter><MaxKeys>1000</MaxKeys>"
            f"<KeyCount>{len(contents) + len(prefixes)}</KeyCount>"
            f"<IsTruncated>false</IsTruncated>{''.join(entries)}</ListBucketResult>"
        )
        return Response(200, body.encode(), content_type="application/xml")

    # -- xcube server ------------------------------------------------------------------------

    def _xcube_collection(self, collection_id: str, links: list[dict[str, Any]]) -> dict[str, Any]:
        """The all-datasets collection (extents keyed by dataset id) or one dataset's own
        (a flat bbox), as the xcube server writes them."""
        if collection_id == _XCUBE_COLLECTION:
            title, description = "Data cubes", "a collection of xcube datasets"
            extent = {
                "spatial": {"bbox": {_XCUBE_DATASET: list(XCUBE_BBOX)}},
                "temporal": {"interval": {_XCUBE_DATASET: list(_XCUBE_TIMES)}},
            }
        else:
            title, description = collection_id, collection_id
            extent = {
                "spatial": {"bbox": list(XCUBE_BBOX)},
                "temporal": {"interval": [list(_XCUBE_TIMES)]},
            }
        return {
            "type": "Collection",
            "stac_version": documents.STAC_VERSION,
            "stac_extensions": [],
            "id": collection_id,
            "title": title,
            "description": description,
            "license": "proprietary",
            "extent": extent,
            "links": links,
        }

    def _xcube_item(self, collection: str, item_id: str) -> dict[str, Any]:
        """The item of the dataset in ``collection`` (both collections hold it)."""
        endpoint = f"{self.url}/s3"
        x0, y0, x1, y1 = XCUBE_BBOX

        def asset(bucket: str, data_id: str, title: str, roles: list[str]) -> dict[str, Any]:
            return {
                "href": f"{endpoint}/{bucket}/{data_id}",
                "type": documents.ZARR_TYPE,
                "title": title,
                "roles": roles,
                "xcube:data_store_id": "s3",
                "xcube:data_store_params": {
                    "root": bucket,
                    "storage_options": {"anon": True, "client_kwargs": {"endpoint_url": endpoint}},
                },
                "xcube:open_data_params": {"data_id": data_id},
            }

        variables = {
            name: {"type": "data", "dimensions": ["time", "lat", "lon"], "unit": unit}
            for name, unit in (("sst", "degC"), ("chl", "mg m-3"))
        }
        return {
            "type": "Feature",
            "stac_version": documents.STAC_VERSION,
            "stac_extensions": ["https://stac-extensions.github.io/datacube/v2.2.0/schema.json"],
            "id": item_id,
            "collection": collection,
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]],
            },
            "bbox": [x0, y0, x1, y1],
            "properties": {
                "datetime": None,
                "start_datetime": _XCUBE_TIMES[0],
                "end_datetime": _XCUBE_TIMES[1],
                "cube:dimensions": {
                    "time": {
                        "type": "temporal",
                        "extent": list(_XCUBE_TIMES),
                    },
                    "lat": {"type": "spatial", "axis": "y", "extent": [y0, y1]},
                    "lon": {"type": "spatial", "axis": "x", "extent": [x0, x1]},
                },
                "cube:variables": variables,
            },
            "links": self._item_links(collection, item_id),
            "assets": {
                "analytic": asset("datasets", "demo.zarr", "demo data access", ["data"]),
                "analytic_multires": asset(
                    "pyramids", "demo.levels", "demo multi-resolution data access", ["data"]
                ),
            },
        }


# --------------------------------------------------------------------------- helpers


def _search_params_from_query(request: Request) -> dict[str, Any]:
    """GET search parameters as they were sent (strings), keeping the names."""
    return dict(request.query)


def _strip_projection(item: dict[str, Any]) -> None:
    """Remove the projection extension from an item (as many catalogs lack it)."""
    item["stac_extensions"] = [e for e in item["stac_extensions"] if "/projection/" not in e]
    for container in (item["properties"], *item["assets"].values()):
        for key in [k for k in container if k.startswith("proj:")]:
            del container[key]


def _feature_collection(
    features: list[dict[str, Any]], links: list[dict[str, Any]], matched: int
) -> Response:
    """One page of items, with the count of all matches."""
    page = {
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "numberMatched": matched,
        "numberReturned": len(features),
    }
    return _json(page, _GEOJSON)


def _json(document: Any, content_type: str) -> Response:
    """A JSON response of another media type than application/json (GeoJSON, OpenAPI)."""
    return Response(200, json.dumps(document).encode("utf-8"), content_type=content_type)


def _error(status: int, code: str, description: str) -> Response:
    return Response.json({"code": code, "description": description}, status=status)


def _s3_error(status: int, code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{escape(message)}</Message></Error>"
    )
    return Response(status, body.encode(), content_type="application/xml")


def _safe_join(root: Path, relative: str) -> Path | None:
    """The file ``relative`` below ``root``, or None for a name that would leave it."""
    try:
        return confine(root, relative)
    except DataStoreError:
        return None


def _zip_directory(directory: Path) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                archive.write(path, f"{directory.name}/{path.relative_to(directory)}")
    return buffer.getvalue()
