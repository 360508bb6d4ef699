"""The EOPF sample service emulator: a STAC API and the Zarr products it points to.

Endpoints (as the sample service's STAC API and object store):

* ``GET /`` landing page, ``GET /conformance``, ``GET /collections``,
  ``GET /collections/{id}``, ``GET /collections/{id}/items`` (``limit``, ``token``),
  ``GET /collections/{id}/items/{item}``;
* ``GET|POST /search``: ``collections``, ``ids``, ``bbox``, ``intersects``, ``datetime``,
  ``query`` (the query extension), ``limit``, paging by ``token`` in ``next`` links; items
  match by ``start_datetime``/``end_datetime``, else ``datetime``; a malformed parameter,
  ``bbox`` with ``intersects``, an interval whose start is after its end or that is open
  at both ends, and a query operand of the wrong type are answered 400;
* ``GET|HEAD /products/{collection}/{item}.zarr/{key}``: the files of each product's
  Zarr store, with ``Range`` support (as an object store serves them).

Products are written on first use into a folder shared between runs
(:func:`.zarrdata.sample_dir`). ``days`` sets the number of Sentinel-2 L2A acquisition
days (two tiles each), ``tile_pixels`` the side of a tile in 10 m pixels;
``hostile=True`` adds items whose product hrefs try to leave the object store (a path
with ``..`` and a ``file://`` URL); ``missing_products`` lists item ids the STAC API still
lists whose products are gone (every key of them is answered as a missing key, as when
the service has removed or not yet converted a product). ``missing_key_status`` is the
status of a GET for a key a product does not have: 404 ``NoSuchKey``, or 403
``AccessDenied``, as object stores answer whoever may not list the bucket (whether the
sample service's store does is not documented).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode
from xml.sax.saxutils import escape

from eostores.errors import DataStoreError
from eostores.paths import confine
from eostores.testing import EmulatorServer, Request, Response, route

from .documents import COLLECTIONS, collection_document, item_document
from .scenes import Acquisition, acquisitions
from .zarrdata import ProductFiles

__all__ = ["CONFORMANCE_CLASSES", "EopfEmulator"]

CONFORMANCE_CLASSES = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/collections",
    "https://api.stacspec.org/v1.0.0/ogcapi-features",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
]
_GEOJSON = "application/geo+json"
_DEFAULT_LIMIT = 10
_MAX_LIMIT = 100
#: Item ids of the hostile items (``hostile=True``).
HOSTILE_ITEMS = ("S2B_MSIL2A_HOSTILE_DOTDOT", "S2B_MSIL2A_HOSTILE_FILE")


class _BadRequest(Exception):
    pass


class EopfEmulator(EmulatorServer):
    """A local model of the EOPF Sentinel Zarr Samples service; see the module docstring."""

    name = "eopf-zarr"

    def __init__(
        self,
        days: int = 3,
        hostile: bool = False,
        tile_pixels: int = 360,
        data_dir: str | None = None,
        missing_products: Iterable[str] = (),
        missing_key_status: int = 404,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        if missing_key_status not in (403, 404):
            raise ValueError(f"missing_key_status must be 403 or 404, got {missing_key_status}")
        self.missing_key_status = missing_key_status
        self.days = days
        self.hostile = hostile
        self.missing_products = frozenset(missing_products)
        self.files = ProductFiles(data_dir)
        if tile_pixels <= 0 or tile_pixels % 6:
            raise ValueError(f"tile_pixels must be a positive multiple of 6, got {tile_pixels}")
        self.acquisitions: list[Acquisition] = acquisitions(days=days, tile_pixels=tile_pixels)
        if hostile:
            tile = self.acquisitions[0].tile
            for item_id in HOSTILE_ITEMS:
                self.acquisitions.append(
                    Acquisition(
                        "sentinel-2-l2a",
                        item_id,
                        "s2",
                        0,
                        datetime(2025, 6, 1, 10, 15, 0) + timedelta(seconds=1),
                        tile=tile,
                    )
                )
        self._by_id = {(a.collection, a.item_id): a for a in self.acquisitions}

    # -- what the store needs

    @property
    def catalog_url(self) -> str:
        return self.url

    def store_params(self) -> dict[str, Any]:
        return {"url": self.url}

    def product_url(self, acquisition: Acquisition) -> str:
        return f"{self.url}/products/{acquisition.collection}/{acquisition.product_name}"

    def acquisition(self, item_id: str) -> Acquisition:
        """The acquisition behind an item id (for tests)."""
        for (_, known), acquisition in self._by_id.items():
            if known == item_id:
                return acquisition
        raise KeyError(item_id)

    def prepare(self) -> None:
        """Write every product now (otherwise each is written on its first request)."""
        for acquisition in self.acquisitions:
            if self._has_product(acquisition):
                self.files.folder(acquisition)

    def _has_product(self, acquisition: Acquisition) -> bool:
        item_id = acquisition.item_id
        return item_id not in HOSTILE_ITEMS and item_id not in self.missing_products

    # -- documents

    def _item(self, acquisition: Acquisition) -> dict[str, Any]:
        hostile = None
        if acquisition.item_id == HOSTILE_ITEMS[0]:
            hostile = f"{self.url}/products/sentinel-2-l2a/../../../etc/passwd.zarr"
        elif acquisition.item_id == HOSTILE_ITEMS[1]:
            hostile = "file:///etc/passwd.zarr"
        return item_document(acquisition, self.url, self.product_url(acquisition), hostile)

    @route("GET", "/")
    def landing(self, request: Request) -> Response:
        links = [
            {"rel": "self", "href": f"{self.url}/", "type": "application/json"},
            {"rel": "root", "href": f"{self.url}/", "type": "application/json"},
            {"rel": "conformance", "href": f"{self.url}/conformance"},
            {"rel": "data", "href": f"{self.url}/collections", "type": "application/json"},
            {"rel": "search", "href": f"{self.url}/search", "type": _GEOJSON, "method": "GET"},
            {"rel": "search", "href": f"{self.url}/search", "type": _GEOJSON, "method": "POST"},
        ]
        links += [
            {"rel": "child", "href": f"{self.url}/collections/{c}", "type": "application/json"}
            for c in COLLECTIONS
        ]
        return Response.json(
            {
                "type": "Catalog",
                "stac_version": "1.1.0",
                "id": "eopf-sample-service",
                "title": "EOPF Sentinel Zarr Samples (emulated)",
                "description": "STAC API of the EOPF Sentinel Zarr Samples",
                "conformsTo": CONFORMANCE_CLASSES,
                "links": links,
            }
        )

    @route("GET", "/conformance")
    def conformance(self, request: Request) -> Response:
        return Response.json({"conformsTo": CONFORMANCE_CLASSES})

    @route("GET", "/collections")
    def collections(self, request: Request) -> Response:
        documents = [collection_document(c, self.url, self.acquisitions) for c in COLLECTIONS]
        return Response.json(
            {
                "collections": documents,
                "links": [{"rel": "self", "href": f"{self.url}/collections"}],
            }
        )

    @route("GET", "/collections/(?P<collection>[^/]+)")
    def collection(self, request: Request, collection: str) -> Response:
        if collection not in COLLECTIONS:
            return _not_found(f"Collection {collection} does not exist.")
        return Response.json(collection_document(collection, self.url, self.acquisitions))

    @route("GET", "/collections/(?P<collection>[^/]+)/items")
    def collection_items(self, request: Request, collection: str) -> Response:
        if collection not in COLLECTIONS:
            return _not_found(f"Collection {collection} does not exist.")
        params = {k: v for k, v in request.query.items()}
        params["collections"] = collection
        return self._search(params, f"{self.url}/collections/{collection}/items", "GET")

    @route("GET", "/collections/(?P<collection>[^/]+)/items/(?P<item>[^/]+)")
    def item(self, request: Request, collection: str, item: str) -> Response:
        acquisition = self._by_id.get((collection, item))
        if acquisition is None:
            return _not_found(f"Item {item} in Collection {collection} does not exist.")
        return Response.json(self._item(acquisition), headers={"Content-Type": _GEOJSON})

    @route("GET", "/search")
    def search_get(self, request: Request) -> Response:
        return self._search(dict(request.query), f"{self.url}/search", "GET")

    @route("POST", "/search")
    def search_post(self, request: Request) -> Response:
        try:
            body = request.json() or {}
        except ValueError:
            return _bad_request("The request body is not valid JSON.")
        if not isinstance(body, dict):
            return _bad_request("The request body must be a JSON object.")
        return self._search(body, f"{self.url}/search", "POST")

    def _search(self, params: dict[str, Any], href: str, method: str) -> Response:
        try:
            search = _Search.parse(params)
            limit = _limit(params.get("limit"))
            offset = _token(params.get("token"))
            matched = [a for a in self.acquisitions if search.matches(self._item(a))]
        except _BadRequest as error:
            return _bad_request(str(error))
        page = matched[offset : offset + limit]
        links: list[dict[str, Any]] = [{"rel": "self", "href": href}]
        if offset + limit < len(matched):
            token = f"next:{offset + limit}"
            if method == "POST":
                links.append(
                    {
                        "rel": "next",
                        "href": href,
                        "method": "POST",
                        "body": {**params, "token": token},
                        "merge": False,
                        "type": _GEOJSON,
                    }
                )
            else:
                query = {k: _query_text(v) for k, v in params.items() if k != "token"}
                if href.endswith("/items"):
                    query.pop("collections", None)
                query["token"] = token
                links.append({"rel": "next", "href": f"{href}?{urlencode(query)}"})
        return Response.json(
            {
                "type": "FeatureCollection",
                "features": [self._item(a) for a in page],
                "links": links,
                "numberMatched": len(matched),
                "numberReturned": len(page),
            },
            headers={"Content-Type": _GEOJSON},
        )

    # -- products

    @route("GET", "/products/(?P<collection>[^/]+)/(?P<name>[^/]+\\.zarr)/(?P<key>.+)")
    def product_file(self, request: Request, collection: str, name: str, key: str) -> Response:
        acquisition = self._by_id.get((collection, name[: -len(".zarr")]))
        if acquisition is None or not self._has_product(acquisition):
            return self._no_such_key(key)
        folder = self.files.folder(acquisition)
        try:
            path = confine(folder, key)
        except DataStoreError:
            return self._no_such_key(key)
        if not path.is_file():
            return self._no_such_key(key)
        return Response.file(path, request, content_type="application/octet-stream")

    def _no_such_key(self, key: str) -> Response:
        """The object store's answer for a key that does not exist (S3's XML error)."""
        code, message = (
            ("AccessDenied", "Access Denied")
            if self.missing_key_status == 403
            else ("NoSuchKey", "The specified key does not exist.")
        )
        body = (
            f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
            f"<Message>{message}</Message><Key>{escape(key)}</Key></Error>"
        )
        return Response(self.missing_key_status, body.encode(), content_type="application/xml")


def _not_found(message: str) -> Response:
    return Response.json({"code": "NotFoundError", "description": message}, 404)


def _bad_request(message: str) -> Response:
    return Response.json({"code": "BadRequest", "description": message}, 400)


def _query_text(value: Any) -> str:
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def _limit(value: Any) -> int:
    if value is None:
        return _DEFAULT_LIMIT
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise _BadRequest(f"limit must be an integer, got {value!r}") from None
    if limit < 1:
        raise _BadRequest("limit must be at least 1")
    return min(limit, _MAX_LIMIT)


def _token(value: Any) -> int:
    if value is None:
        return 0
    text = str(value)
    if not text.startswith("next:") or not text[5:].isdigit():
        raise _BadRequest(f"invalid paging token {text!r}")
    return int(text[5:])


def _as_list(value: Any, name: str) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v for v in value.split(",") if v]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise _BadRequest(f"{name} must be a list of strings, got {value!r}")


def _bbox(value: Any) -> list[float] | None:
    if value is None:
        return None
    parts = value.split(",") if isinstance(value, str) else value
    try:
        if not isinstance(parts, list | tuple):
            raise TypeError
        numbers = [float(v) for v in parts]
    except (TypeError, ValueError):
        raise _BadRequest(f"invalid bbox {value!r}") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or numbers[0] > numbers[2] or numbers[1] > numbers[3]:
        raise _BadRequest(f"invalid bbox {value!r}")
    return numbers


def _geometry_bbox(geometry: Any) -> list[float] | None:
    if geometry is None:
        return None
    if isinstance(geometry, str):
        try:
            geometry = json.loads(geometry)
        except ValueError:
            raise _BadRequest("intersects is not valid GeoJSON") from None
    if not isinstance(geometry, dict) or "type" not in geometry:
        raise _BadRequest("intersects must be a GeoJSON geometry")
    points: list[tuple[float, float]] = []

    def walk(coords: Any) -> None:
        if isinstance(coords, list) and len(coords) >= 2 and isinstance(coords[0], int | float):
            points.append((float(coords[0]), float(coords[1])))
        elif isinstance(coords, list):
            for part in coords:
                walk(part)

    walk(geometry.get("coordinates"))
    if not points:
        raise _BadRequest("intersects has no coordinates")
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return [min(xs), min(ys), max(xs), max(ys)]


def _instant(text: Any) -> datetime | None:
    if text in ("", ".."):
        return None
    if not isinstance(text, str):
        raise _BadRequest(f"invalid datetime {text!r}")
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _BadRequest(f"invalid datetime {text!r}") from None
    if value.tzinfo is not None:
        value = value.replace(tzinfo=None) - (value.utcoffset() or timedelta())
    return value


def _interval(value: Any) -> tuple[datetime | None, datetime | None] | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _BadRequest(f"datetime must be an RFC 3339 instant or interval, got {value!r}")
    if "/" not in value:
        instant = _instant(value)
        if instant is None:
            raise _BadRequest(f"invalid datetime {value!r}")
        return instant, instant
    first, _, last = value.partition("/")
    start, end = _instant(first), _instant(last)
    if start is None and end is None:
        raise _BadRequest("datetime: double open-ended intervals are not allowed")
    if start is not None and end is not None and start > end:
        raise _BadRequest(f"datetime: the start of {value!r} is after its end")
    return start, end


_OPERATORS = {
    "eq": lambda a, b: a == b,
    "neq": lambda a, b: a != b,
    "lt": lambda a, b: a is not None and a < b,
    "lte": lambda a, b: a is not None and a <= b,
    "gt": lambda a, b: a is not None and a > b,
    "gte": lambda a, b: a is not None and a >= b,
    "startsWith": lambda a, b: isinstance(a, str) and a.startswith(b),
    "endsWith": lambda a, b: isinstance(a, str) and a.endswith(b),
    "contains": lambda a, b: isinstance(a, str) and b in a,
    "in": lambda a, b: a in b,
}
#: The operand types of the query operators (the others take any JSON value).
_OPERAND_TYPES: dict[str, tuple[type, ...]] = {
    **dict.fromkeys(("lt", "lte", "gt", "gte"), (int, float, str)),
    **dict.fromkeys(("startsWith", "endsWith", "contains"), (str,)),
    "in": (list,),
}


def _query(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise _BadRequest("query is not valid JSON") from None
    if not isinstance(value, dict):
        raise _BadRequest("query must be a JSON object")
    for name, condition in value.items():
        if not isinstance(condition, dict) or not set(condition) <= set(_OPERATORS):
            raise _BadRequest(f"query on {name!r}: operators must be among {', '.join(_OPERATORS)}")
        for operator, operand in condition.items():
            allowed = _OPERAND_TYPES.get(operator)
            if allowed and (not isinstance(operand, allowed) or isinstance(operand, bool)):
                raise _BadRequest(f"query on {name!r}: {operator} cannot take {operand!r}")
    return value


def _item_instant(properties: dict[str, Any], name: str) -> datetime | None:
    """The item's ``name`` time (``start_datetime``/``end_datetime``), else its
    ``datetime``."""
    text = properties.get(name) or properties.get("datetime")
    return _instant(text) if isinstance(text, str) else None


@dataclass(frozen=True)
class _Search:
    """The parameters of a search, checked once (400 for any that is wrong)."""

    collections: list[str] | None
    ids: list[str] | None
    box: list[float] | None
    interval: tuple[datetime | None, datetime | None] | None
    query: dict[str, Any] | None

    @classmethod
    def parse(cls, params: dict[str, Any]) -> _Search:
        box = _bbox(params.get("bbox"))
        if box is not None and params.get("intersects") is not None:
            raise _BadRequest("bbox and intersects must not be given together")
        return cls(
            collections=_as_list(params.get("collections"), "collections"),
            ids=_as_list(params.get("ids"), "ids"),
            box=box or _geometry_bbox(params.get("intersects")),
            interval=_interval(params.get("datetime")),
            query=_query(params.get("query")),
        )

    def matches(self, item: dict[str, Any]) -> bool:
        if self.collections is not None and item["collection"] not in self.collections:
            return False
        if self.ids is not None and item["id"] not in self.ids:
            return False
        if self.box is not None:
            x0, y0, x1, y1 = item["bbox"]
            box = self.box
            if x0 > box[2] or x1 < box[0] or y0 > box[3] or y1 < box[1]:
                return False
        properties = item["properties"]
        if self.interval is not None:
            start = _item_instant(properties, "start_datetime")
            end = _item_instant(properties, "end_datetime")
            if self.interval[0] is not None and end is not None and end < self.interval[0]:
                return False
            if self.interval[1] is not None and start is not None and start > self.interval[1]:
                return False
        return all(
            self._holds(name, properties.get(name), condition)
            for name, condition in (self.query or {}).items()
        )

    @staticmethod
    def _holds(name: str, actual: Any, condition: dict[str, Any]) -> bool:
        for operator, expected in condition.items():
            try:
                if not _OPERATORS[operator](actual, expected):
                    return False
            except TypeError:
                raise _BadRequest(
                    f"query on {name!r}: {operator} {expected!r} cannot be compared with {actual!r}"
                ) from None
        return True
