"""A local model of the Copernicus Marine services, for tests and the demo.

:class:`CmemsEmulator` serves over HTTP on 127.0.0.1 what the ``copernicusmarine`` toolbox
reads from the real service:

* the client configuration ``/mdl-metadata/clientsConfigV1.json``, the STAC catalogue
  (root -> product collections -> dataset items with ``cube:*`` properties and one asset
  per ARCO service with its ``viewDims``) and the dataset -> product id mapping;
* the OpenID Connect token endpoint (password grant; a wrong password gives
  ``400 invalid_grant``) and the userinfo endpoint under
  ``/realms/MIS/protocol/openid-connect``;
* the ARCO Zarr v2 stores of both services as S3 objects (path style, bucket first:
  GetObject, HeadObject and ListObjectsV2), whose values are
  :func:`~eostores_cmems.testing.sampledata.expected_value` of their coordinates.

Faults (latency, error statuses with Retry-After, dropped connections, truncated bodies,
expiring tokens) come from the eostores emulator toolkit.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from eostores.testing import EmulatorServer, FaultProfile, Request, Response, route

from . import stac
from .arco import ZarrLayout, list_objects_xml, s3_error_xml
from .sampledata import ASSET_BUCKETS, DATASETS, SampleDataset, expected_value, find_dataset

__all__ = [
    "DATASETS",
    "DEFAULT_PASSWORD",
    "DEFAULT_USERNAME",
    "CmemsEmulator",
    "expected_value",
    "find_dataset",
]

DEFAULT_USERNAME = "marine-user"
DEFAULT_PASSWORD = "correct-horse-battery"
AUTH_PATH = "/realms/MIS/protocol/openid-connect"
CONFIG_PATH = "/mdl-metadata/clientsConfigV1.json"
_STAC = f"/{stac.METADATA_BUCKET}/{stac.STAC_FOLDER}"
_BUCKETS = "|".join(ASSET_BUCKETS.values())

#: Products and items of the catalogue that ``hostile=True`` adds.
HOSTILE_PRODUCT = "HOSTILE_NAMES_PRODUCT"
HOSTILE_DATASET_ID = "../../escape"


class CmemsEmulator(EmulatorServer):
    """The Copernicus Marine metadata, authentication and ARCO data services.

    ``users`` maps user names to passwords (default: one user, :data:`DEFAULT_USERNAME`).
    Tokens advertise ``token_lifetime_s`` as their ``expires_in``; with a fault profile's
    ``token_ttl_s`` the emulator itself rejects them after that time. ``hostile=True``
    adds catalogue entries whose hrefs and ids try to leave their folders.
    """

    name = "cmems"

    def __init__(
        self,
        latency_ms: float = 0,
        faults: FaultProfile | Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        users: Mapping[str, str] | None = None,
        token_lifetime_s: float = 3600.0,
        hostile: bool = False,
    ):
        super().__init__(latency_ms=latency_ms, faults=faults, host=host, port=port)
        self.users = dict(users or {DEFAULT_USERNAME: DEFAULT_PASSWORD})
        self.token_lifetime_s = float(token_lifetime_s)
        self.hostile = bool(hostile)
        self._usernames: dict[str, str] = {}
        self._layouts: dict[tuple[str, str, str, str], ZarrLayout] = {}
        self._objects: dict[tuple[str, str], tuple[SampleDataset, str, str, str]] = {}
        for dataset in DATASETS:
            for version, parts in dataset.versions.items():
                for part in parts:
                    for asset, bucket in ASSET_BUCKETS.items():
                        prefix = f"arco/{dataset.product_id}/{dataset.item_id(version, part)}"
                        self._objects[(bucket, f"{prefix}/{asset}.zarr")] = (
                            dataset,
                            version,
                            part,
                            asset,
                        )

    # -- what a store needs ------------------------------------------------------------------

    def store_params(self) -> dict[str, Any]:
        """Store parameters that point the ``cmems`` store at this emulator."""
        return {
            "config_url": self.url + CONFIG_PATH,
            "auth_url": self.url + AUTH_PATH,
            "cmems_username": DEFAULT_USERNAME if DEFAULT_USERNAME in self.users else None,
            "cmems_password": self.users.get(DEFAULT_USERNAME),
        }

    @property
    def config_url(self) -> str:
        return self.url + CONFIG_PATH

    def data_requests(self, path_prefix: str = "/mdl-arco-") -> list[Any]:
        """Records of the data (S3 object) requests served so far."""
        return [r for r in self.request_log if r.path.startswith(path_prefix)]

    # -- metadata ----------------------------------------------------------------------------

    @route("GET", CONFIG_PATH)
    def client_config(self, request: Request) -> Response:
        return Response.json(stac.client_config(self.url))

    @route("GET", f"/{stac.METADATA_BUCKET}/dataset_product_id_mapping.json")
    def id_mapping(self, request: Request) -> Response:
        mapping = stac.id_mapping(list(DATASETS))
        if self.hostile:
            mapping[HOSTILE_DATASET_ID] = HOSTILE_PRODUCT
        return Response.json(mapping)

    def _products(self) -> dict[str, tuple[str, list[SampleDataset]]]:
        products: dict[str, tuple[str, list[SampleDataset]]] = {}
        for dataset in DATASETS:
            _title, members = products.setdefault(dataset.product_id, (dataset.product_title, []))
            members.append(dataset)
        return products

    @route("GET", f"{_STAC}/catalog.stac.json")
    def root(self, request: Request) -> Response:
        entries = [
            (product_id, title, f"{product_id}/product.stac.json")
            for product_id, (title, _) in self._products().items()
        ]
        if self.hostile:
            entries += [
                ("escape", "Escapes the catalogue", "../../_emulator/info"),
                ("elsewhere", "Another host", "http://elsewhere.invalid/p/product.stac.json"),
                (HOSTILE_PRODUCT, "Hostile names", f"{HOSTILE_PRODUCT}/product.stac.json"),
            ]
        return Response.json(stac.root_catalog(entries))

    @route("GET", f"{_STAC}/(?P<product>[^/]+)/product.stac.json")
    def product(self, request: Request, product: str) -> Response:
        if self.hostile and product == HOSTILE_PRODUCT:
            hostile = DATASETS[0]
            document = stac.product_document(
                product,
                "Hostile names",
                [hostile],
                [
                    "escape_202311/dataset.stac.json",
                    "../../../_emulator/faults",
                    "/etc/passwd",
                ],
            )
            return Response.json(document)
        entry = self._products().get(product)
        if entry is None:
            return _not_found(request.path)
        title, members = entry
        hrefs = [
            f"{dataset.item_id(version, part)}/dataset.stac.json"
            for dataset in members
            for version, parts in dataset.versions.items()
            for part in parts
        ]
        return Response.json(stac.product_document(product, title, members, hrefs))

    @route("GET", f"{_STAC}/(?P<product>[^/]+)/(?P<item>[^/]+)/dataset.stac.json")
    def item(self, request: Request, product: str, item: str) -> Response:
        if self.hostile and product == HOSTILE_PRODUCT and item == "escape_202311":
            dataset = DATASETS[0]
            escape = f"{self.url}/{ASSET_BUCKETS['timeChunked']}/../_emulator/info"
            document = stac.item_document(
                dataset,
                "202311",
                "default",
                self.url,
                hrefs={"timeChunked": escape, "geoChunked": escape},
                item_id=f"{HOSTILE_DATASET_ID}_202311",
            )
            return Response.json(document)
        for dataset in DATASETS:
            if dataset.product_id != product:
                continue
            for version, parts in dataset.versions.items():
                for part in parts:
                    if dataset.item_id(version, part) == item:
                        return Response.json(stac.item_document(dataset, version, part, self.url))
        return _not_found(request.path)

    # -- authentication ----------------------------------------------------------------------

    @route("POST", f"{AUTH_PATH}/token")
    def token(self, request: Request) -> Response:
        form = dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))
        if form.get("grant_type") != "password":
            return Response.json(
                {"error": "unsupported_grant_type", "error_description": "Unsupported grant"},
                400,
            )
        if not form.get("client_id"):
            return Response.json(
                {"error": "invalid_client", "error_description": "Invalid client credentials"},
                401,
            )
        username, password = form.get("username", ""), form.get("password", "")
        if not username or self.users.get(username) != password:
            return Response.json(
                {"error": "invalid_grant", "error_description": "Invalid user credentials"},
                400,
            )
        access = self.issue_token()
        self._usernames[access] = username
        return Response.json(
            {
                "access_token": access,
                "expires_in": int(self.token_lifetime_s),
                "refresh_expires_in": 1800,
                "refresh_token": self.issue_token(),
                "token_type": "Bearer",
                "not-before-policy": 0,
                "session_state": str(uuid.uuid4()),
                "scope": form.get("scope") or "openid profile email",
            }
        )

    @route("GET", f"{AUTH_PATH}/userinfo")
    def userinfo(self, request: Request) -> Response:
        token = request.bearer_token
        if token is None or not self.check_token(token):
            return Response.json(
                {"error": "invalid_token", "error_description": "Token verification failed"},
                401,
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        username = self._usernames.get(token, "")
        return Response.json(
            {
                "sub": str(uuid.uuid5(uuid.NAMESPACE_URL, username)),
                "email_verified": True,
                "preferred_username": username,
                "email": f"{username}@example.org",
            }
        )

    # -- ARCO data (S3 path style) -----------------------------------------------------------

    def _layout(self, bucket: str, key: str) -> tuple[ZarrLayout, str] | None:
        for (object_bucket, prefix), (dataset, version, part, asset) in self._objects.items():
            if bucket == object_bucket and (key == prefix or key.startswith(prefix + "/")):
                cache_key = (dataset.dataset_id, version, part, asset)
                layout = self._layouts.get(cache_key)
                if layout is None:
                    layout = self._layouts[cache_key] = ZarrLayout(dataset, version, part, asset)
                return layout, key[len(prefix) :].lstrip("/")
        return None

    @route("GET", f"/(?P<bucket>{_BUCKETS})/(?P<key>.+)")
    def get_object(self, request: Request, bucket: str, key: str) -> Response:
        found = self._layout(bucket, key)
        data = found[0].get(found[1]) if found is not None and found[1] else None
        if data is None:
            return Response(
                404,
                s3_error_xml(
                    "NoSuchKey", "The specified key does not exist.", Key=key, BucketName=bucket
                ),
                content_type="application/xml",
            )
        return Response.file(data, request, content_type="binary/octet-stream")

    @route("GET", f"/(?P<bucket>{_BUCKETS})/?")
    def list_objects(self, request: Request, bucket: str) -> Response:
        if request.query.get("list-type") != "2":
            return Response(
                400,
                s3_error_xml("InvalidRequest", "Only ListObjectsV2 (list-type=2) is emulated."),
                content_type="application/xml",
            )
        prefix = request.query.get("prefix", "")
        start_after = request.query.get("continuation-token") or request.query.get(
            "start-after", ""
        )
        max_keys = max(1, min(1000, int(request.query.get("max-keys", "1000") or 1000)))
        candidates: list[tuple[str, ZarrLayout, str]] = []
        for object_bucket, root in self._objects:
            if object_bucket != bucket or not (root.startswith(prefix) or prefix.startswith(root)):
                continue
            found = self._layout(bucket, root)
            if found is None:
                continue
            layout = found[0]
            candidates += [(f"{root}/{key}", layout, key) for key in layout.all_keys()]
        candidates = sorted(
            (c for c in candidates if c[0].startswith(prefix) and c[0] > start_after),
            key=lambda c: c[0],
        )
        truncated = len(candidates) > max_keys
        entries = [(full, layout.size(key)) for full, layout, key in candidates[:max_keys]]
        next_token = entries[-1][0] if truncated and entries else None
        body = list_objects_xml(
            bucket, prefix, entries, max_keys=max_keys, truncated=truncated, next_token=next_token
        )
        return Response(200, body, content_type="application/xml")


def _not_found(path: str) -> Response:
    return Response(
        404,
        s3_error_xml("NoSuchKey", "The specified key does not exist.", Key=path.lstrip("/")),
        content_type="application/xml",
    )
