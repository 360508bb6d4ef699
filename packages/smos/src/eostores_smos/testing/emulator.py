"""A local model of the SMOS catalogue (a STAC API) and of an https mirror of the archive.

``GET /stac/collections/SMOS`` is the collection (its temporal extent starts with the
first product); ``GET /stac/collections/SMOS/items`` searches it with ``datetime``
(``start/end``, ``..`` for an open end), ``bbox`` (-180..180; a box whose xmin exceeds its
xmax is refused, as by many STAC APIs), ``limit`` (at most 1000) and ``page``, in
half-orbit order, every product type of the collection mixed. Like the Copernicus
catalogue, the ``next`` links name the service's internal host
``https://catalogue-svc.prod-catalogue:8250``. ``/eodata/<path>`` serves the product files
of the bucket ``eodata`` with byte ranges (GET and HEAD), as an https mirror would; the S3
archive is :class:`~eostores_smos.testing.moto.MotoArchive`. Faults come from the toolkit.

Like the CREODIAS and CDSE catalogues since 2024-11-12, a search skips at most
``max_skip`` items (10 000): a page with ``(page - 1) * limit`` beyond it is answered 422
with the catalogue's problem body (``{"detail": [{"type": "less_than_equal", "loc":
["query", "page"], "msg": ..., "input": ..., "ctx": {"le": ...}}]}``, the shape documented
for its OData ``$skip``). Whether the STAC ``next`` link is then still given is not
documented: it is by default; with ``omit_next_past_limit`` it is left out, as documented
for OData's ``@odata.nextLink``.

Products are generated into ``data_dir`` (by default a temporary folder, removed when the
emulator stops). ``hostile_href`` (settable at any time) replaces the archive path of every
item with that text, for tests of what a store does with hostile names; ``href_overrides``
maps product names to the archive path their items give instead (None: the item has no
``alternate`` asset).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from itertools import islice
from typing import Any
from urllib.parse import urlencode

from eostores.testing import EmulatorServer, FaultProfile, Request, Response, route

from .archive import BUCKET, ArchiveModel, EmulatedProduct
from .orbits import EPOCH

__all__ = ["INTERNAL_HOST", "SmosEmulator"]

INTERNAL_HOST = "https://catalogue-svc.prod-catalogue:8250"
COLLECTION_PATH = "/stac/collections/SMOS"
MAX_LIMIT = 1000
DEFAULT_LIMIT = 20
#: The most items a search skips: ``(page - 1) * limit`` at most.
MAX_SKIP = 10_000


class _BadRequest(Exception):
    pass


def _instant(text: str, end: bool) -> datetime | None:
    if text in ("", ".."):
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise _BadRequest(f"invalid datetime {text!r}") from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def _parse_bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise _BadRequest(f"invalid bbox {text!r}") from None
    if len(values) != 4 or not all(math.isfinite(v) for v in values):
        raise _BadRequest(f"invalid bbox {text!r}: 4 numbers expected")
    xmin, ymin, xmax, ymax = values
    if xmin > xmax:
        raise _BadRequest("bbox crossing the antimeridian is not supported")
    if ymin > ymax or not (-180 <= xmin <= 180 and -180 <= xmax <= 180):
        raise _BadRequest(f"invalid bbox {text!r}")
    return xmin, ymin, xmax, ymax


class SmosEmulator(EmulatorServer):
    """The SMOS STAC catalogue and an https mirror of the archive; see the module doc."""

    name = "smos"

    def __init__(
        self,
        latency_ms: float = 0,
        faults: FaultProfile | dict[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: str | None = None,
        max_skip: int = MAX_SKIP,
        omit_next_past_limit: bool = False,
    ):
        super().__init__(latency_ms=latency_ms, faults=faults, host=host, port=port)
        self.model = ArchiveModel(data_dir)
        self.max_skip = max_skip
        self.omit_next_past_limit = omit_next_past_limit
        self.hostile_href: str | None = None
        self.href_overrides: dict[str, str | None] = {}

    def store_params(self) -> dict[str, Any]:
        return {"stac_url": self.url + COLLECTION_PATH, "source_path": f"{self.url}/{BUCKET}"}

    def stop(self) -> None:
        """Stop serving, and remove the generated products unless ``data_dir`` was given."""
        super().stop()
        self.model.close()

    # -- catalogue

    @route("GET", COLLECTION_PATH)
    def collection(self, request: Request) -> Response:
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        return Response.json(
            {
                "type": "Collection",
                "stac_version": "1.0.0",
                "id": "SMOS",
                "title": "SMOS",
                "description": "ESA Soil Moisture and Ocean Salinity mission products",
                "license": "proprietary",
                "extent": {
                    "spatial": {"bbox": [[-180, -90, 180, 90]]},
                    "temporal": {"interval": [[EPOCH.strftime("%Y-%m-%dT%H:%M:%SZ"), None]]},
                },
                "links": [
                    {"rel": "items", "href": f"{INTERNAL_HOST}{COLLECTION_PATH}/items"},
                    {"rel": "self", "href": f"{INTERNAL_HOST}{COLLECTION_PATH}"},
                ],
                "updated": now,
            }
        )

    @route("GET", COLLECTION_PATH + "/items")
    def items(self, request: Request) -> Response:
        try:
            return self._items(request)
        except _BadRequest as error:
            return Response.json({"code": "BadRequest", "description": str(error)}, 400)

    def _items(self, request: Request) -> Response:
        query = request.query
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
            page = int(query.get("page", 1))
        except ValueError:
            raise _BadRequest("limit and page must be integers") from None
        if not 1 <= limit <= MAX_LIMIT or page < 1:
            raise _BadRequest(f"limit must be 1..{MAX_LIMIT} and page >= 1")
        if (page - 1) * limit > self.max_skip:
            return self._beyond_limit(page, limit)
        start, end = EPOCH, datetime.now(UTC).replace(tzinfo=None)
        if query.get("datetime"):
            first, sep, last = query["datetime"].partition("/")
            start = _instant(first, end=False) or start
            end = (_instant(last, end=True) or end) if sep else (_instant(first, True) or end)
        bbox = _parse_bbox(query.get("bbox"))
        found = self.model.products(start, end, bbox)
        window = list(islice(found, (page - 1) * limit, page * limit + 1))
        more = len(window) > limit
        base = INTERNAL_HOST + COLLECTION_PATH
        features = [self._item(p, base) for p in window[:limit]]
        links = [{"rel": "self", "href": f"{base}/items?{urlencode(query)}"}]
        if more and self.omit_next_past_limit:
            more = page * limit <= self.max_skip
        if more:
            following = {**query, "page": str(page + 1)}
            links.append(
                {
                    "rel": "next",
                    "href": f"{base}/items?{urlencode(following)}",
                    "type": "application/geo+json",
                }
            )
        return Response.json(
            {
                "type": "FeatureCollection",
                "features": features,
                "links": links,
                "numberReturned": len(features),
            },
            headers={"Content-Type": "application/geo+json"},
        )

    def _item(self, product: EmulatedProduct, base: str) -> dict[str, Any]:
        if product.name not in self.href_overrides:
            return product.item(base, self.hostile_href)
        href = self.href_overrides[product.name]
        item = product.item(base, href)
        if href is None:
            del item["assets"]["PRODUCT"]["alternate"]
        return item

    def _beyond_limit(self, page: int, limit: int) -> Response:
        """422: the page skips more items than the catalogue allows."""
        last = self.max_skip // limit + 1
        detail = {
            "type": "less_than_equal",
            "loc": ["query", "page"],
            "msg": f"Input should be less than or equal to {last}",
            "input": str(page),
            "ctx": {"le": last},
        }
        return Response.json({"detail": [detail]}, 422)

    # -- archive

    @route("GET", f"/{BUCKET}/(?P<path>.+)")
    def product_file(self, request: Request, path: str) -> Response:
        product = self.model.product_for_path(path)
        if product is None:
            return Response.json(
                {"code": "NoSuchKey", "message": "The specified key does not exist."}, 404
            )
        return Response.file(self.model.file(product), request, content_type="application/x-netcdf")
