"""The STAC data stores: ``stac``, ``stac-xcube``, ``stac-cdse`` and ``stac-destine``."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from eostores.datatype import DataTypeLike
from eostores.errors import DataNotFoundError
from eostores.store import DataStore

from . import schema as schemas

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor
    from eostores.schema import JsonObjectSchema

    from .api import StacApi
    from .assets import AssetAccess
    from .catalog import AssetInfo

__all__ = [
    "StacCdseDataStore",
    "StacDataStore",
    "StacDestineDataStore",
    "StacXcubeDataStore",
]


class MetadataCache:
    """Item and collection documents kept for ``ttl`` seconds, so a describe-then-open costs
    one request, and bad parameters are found without asking the service again."""

    def __init__(self, ttl: float, max_entries: int = 512):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    def get(self, key: str, load: Callable[[], Any]) -> Any:
        now = time.monotonic()
        with self._lock:
            found = self._entries.get(key)
            if found is not None and now - found[0] <= self.ttl:
                return found[1]
        value = load()
        if self.ttl > 0:
            with self._lock:
                if len(self._entries) >= self.max_entries:
                    oldest = min(self._entries, key=lambda k: self._entries[k][0])
                    del self._entries[oldest]
                self._entries[key] = (now, value)
        return value


class StacDataStore(DataStore):
    """Items of any STAC API or static catalog as datasets, or collections as cubes.

    With ``stack_mode=False`` (the default) data ids are item paths
    (``collections/<collection>/items/<item>`` for APIs, the item href relative to the
    catalog for static catalogs) and each opens as one dataset of its assets. With
    ``stack_mode=True`` data ids are collection ids, and opening mosaics the items matching
    bbox and time_range into one (time, y, x) cube.
    """

    store_id: ClassVar[str] = "stac"

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._setup()

    def _setup(self) -> None:
        self._api: StacApi | None = None
        self._cache = MetadataCache(float(self._store_params.get("metadata_ttl", 300.0)))
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {"_store_params": self._store_params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._store_params = state["_store_params"]
        self._setup()

    # -- description of the store -----------------------------------------------------------

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return schemas.store_params_schema(cls.store_id)

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    @property
    def stack_mode(self) -> bool:
        return bool(self._store_params.get("stack_mode"))

    @property
    def url(self) -> str:
        return str(self._store_params["url"])

    # -- service access -----------------------------------------------------------------------

    def _http_config(self) -> Any:
        from eostores.http import HttpConfig

        return HttpConfig.from_params(self._store_params, store_id=self.store_id)

    def _auth(self) -> Any:
        """The requests auth for catalog requests (None: anonymous)."""
        return None

    def _headers(self) -> dict[str, str]:
        headers = dict(self._store_params.get("headers") or {})
        if headers:
            from eostores.credentials import register_secret

            for value in headers.values():
                register_secret(value)
        return headers

    def _new_session(self) -> Any:
        from eostores.http import new_session

        return new_session(self._http_config(), auth=self._auth(), headers=self._headers())

    @property
    def api(self) -> StacApi:
        with self._lock:
            if self._api is None:
                from .api import StacApi

                self._api = StacApi(
                    self.url,
                    self._new_session,
                    page_size=int(self._store_params.get("page_size", 100)),
                    store_id=self.store_id,
                )
            return self._api

    def _http_params(self) -> dict[str, Any]:
        names = (
            "num_retries",
            "retry_backoff_base",
            "retry_backoff_max",
            "connect_timeout",
            "read_timeout",
            "deadline",
            "max_concurrency_per_host",
        )
        return {k: self._store_params[k] for k in names if k in self._store_params}

    def _s3_credentials(self) -> tuple[str | None, str | None]:
        return self._store_params.get("key"), self._store_params.get("secret")

    def _s3_options(self) -> dict[str, Any]:
        from eostores.credentials import register_secret

        params = self._store_params
        options: dict[str, Any] = {}
        key, secret = self._s3_credentials()
        if params.get("anon"):
            options["anon"] = True
        if key:
            options["key"] = key
            options["secret"] = secret
            register_secret(str(secret or ""))
        if params.get("token"):
            options["token"] = params["token"]
            register_secret(params["token"])
        client_kwargs = dict(params.get("client_kwargs") or {})
        if params.get("endpoint_url"):
            client_kwargs["endpoint_url"] = params["endpoint_url"]
        if params.get("region_name"):
            client_kwargs["region_name"] = params["region_name"]
        options["client_kwargs"] = client_kwargs
        config = self._http_config()
        options["config_kwargs"] = {
            "retries": {"max_attempts": config.num_retries + 1, "mode": "standard"},
            "connect_timeout": config.connect_timeout,
            "read_timeout": config.read_timeout,
        }
        return options

    def _access(self, hrefs: list[str] | None = None) -> AssetAccess:
        """How to read assets (called when opening, never at construction)."""
        from .assets import AssetAccess

        needs_s3 = hrefs is None or any(h.lower().startswith(("s3://", "s3a://")) for h in hrefs)
        return AssetAccess(
            store_id=self.store_id,
            s3_options=self._s3_options() if needs_s3 else {},
            http_params=self._http_params(),
            headers=self._headers(),
        )

    # -- metadata -------------------------------------------------------------------------------

    def _item(self, data_id: str) -> dict[str, Any]:
        return self._cache.get(f"item:{data_id}", lambda: self.api.item(data_id))

    def _collection(self, collection_id: str) -> dict[str, Any]:
        return self._cache.get(
            f"collection:{collection_id}", lambda: self.api.collection(collection_id)
        )

    def _collection_variables(self, collection_id: str) -> dict[str, AssetInfo]:
        """The data assets of a collection's items: from item_assets, else from one item."""
        from .catalog import asset_infos, collection_variables

        def load() -> dict[str, AssetInfo]:
            collection = self._collection(collection_id)
            found = collection_variables(collection)
            if found is not None:
                return found
            if self.api.can_search:
                for item in self.api.search(collections=[collection_id], max_items=1):
                    return asset_infos(item)
            return {}

        return self._cache.get(f"variables:{collection_id}", load)

    def _check_data_id(self, data_id: Any) -> str:
        if not isinstance(data_id, str) or not data_id.strip():
            raise DataNotFoundError(
                f"a data id must be a non-empty string, got {data_id!r}", store_id=self.store_id
            )
        return data_id.strip()

    def _ensure_exists(self, data_id: str) -> None:
        data_id = self._check_data_id(data_id)
        if self.stack_mode:
            self._collection(data_id)
        else:
            self._item(data_id)

    # -- listing -------------------------------------------------------------------------------

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._ensure_exists(data_id)
        return self.get_data_types()

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        if self.stack_mode:
            for collection in self.api.collections():
                if include_attrs:
                    yield (
                        collection["id"],
                        self._attrs_selection(_collection_attrs(collection), include_attrs),
                    )
                else:
                    yield collection["id"]
            return
        for data_id, item in self.api.iter_items(with_documents=bool(include_attrs)):
            if include_attrs:
                yield data_id, self._attrs_selection(_item_attrs(item or {}), include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        self._assert_data_type(data_type)
        try:
            self._ensure_exists(data_id)
        except DataNotFoundError:
            return False
        return True

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        self._assert_data_type(data_type)
        data_id = self._check_data_id(data_id)
        if self.stack_mode:
            from .catalog import collection_descriptor

            collection = self._collection(data_id)
            variables = self._collection_variables(data_id)
            return collection_descriptor(
                collection,
                variables,
                open_params_schema=schemas.stack_open_params_schema(list(variables)),
            )
        from .catalog import asset_infos, item_descriptor

        item = self._item(data_id)
        return item_descriptor(
            data_id,
            item,
            open_params_schema=schemas.item_open_params_schema(list(asset_infos(item))),
        )

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        self._assert_data_type(data_type)
        if data_id is not None:
            self._ensure_exists(data_id)
        kind = "stac-cube" if self.stack_mode else "stac-item"
        return (f"dataset:{kind}:{self.store_id}",)

    # -- opening -------------------------------------------------------------------------------

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        self._assert_opener_id(opener_id)
        if self.stack_mode:
            names = list(self._collection_variables(data_id)) if data_id else None
            return schemas.stack_open_params_schema(names)
        if data_id is None:
            return schemas.item_open_params_schema()
        from .catalog import asset_infos

        return schemas.item_open_params_schema(list(asset_infos(self._item(data_id))))

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        self._assert_data_type(data_type)
        self._assert_opener_id(opener_id)
        data_id = self._check_data_id(data_id)
        from eostores.schema import apply_parameter_aliases

        open_params = apply_parameter_aliases(open_params, schemas.OPEN_PARAM_ALIASES)
        if self.stack_mode:
            from .stack import open_cube

            return open_cube(self, data_id, open_params)
        return self._open_item(data_id, open_params, data_type)

    def _validate_item_params(self, data_id: str, open_params: Mapping[str, Any]) -> dict[str, Any]:
        """Check the open parameters; everything but variable names needs no request."""
        from eostores.schema import parse_bbox, parse_time_range

        context = dict(store_id=self.store_id, data_id=data_id)
        params = schemas.item_open_params_schema().validate_params(open_params, **context)
        parsed: dict[str, Any] = dict(params)
        crs = params.get("crs")
        geographic = crs is not None and schemas.crs_is_geographic(crs, **context)
        with schemas.error_context(**context):
            if params.get("bbox") is not None:
                parsed["bbox"] = parse_bbox(params["bbox"], geographic=geographic)
            if params.get("time_range") is not None:
                parsed["time_range"] = parse_time_range(params["time_range"])
        if params.get("tile_size") is not None:
            size = params["tile_size"]
            parsed["tile_size"] = (size, size) if isinstance(size, int) else tuple(size)
        return parsed

    def _open_item(self, data_id: str, open_params: Mapping[str, Any], data_type: Any) -> Any:
        from eostores.schema import resolve_variable_names

        from .catalog import asset_infos
        from .convert import open_item

        params = self._validate_item_params(data_id, open_params)
        item = self._item(data_id)
        infos = asset_infos(item)
        with schemas.error_context(
            store_id=self.store_id, data_id=data_id, parameter="variable_names"
        ):
            names = resolve_variable_names(params.get("variable_names"), list(infos))
        access = self._access([infos[n].href for n in names])
        return open_item(
            item,
            data_id=data_id,
            variable_names=names,
            access=access,
            apply_scaling=params.get("apply_scaling", True),
            bbox=params.get("bbox"),
            crs=params.get("crs"),
            spatial_res=params.get("spatial_res"),
            time_range=params.get("time_range"),
            tile_size=params.get("tile_size"),
            error_policy=params.get("error_policy", "fail"),
            store_id=self.store_id,
            stac_url=self.url,
        )

    # -- search --------------------------------------------------------------------------------

    def get_search_params_schema(self, data_type: DataTypeLike = None) -> JsonObjectSchema:  # type: ignore[override]
        return schemas.search_params_schema(self.stack_mode)

    def search_data(
        self, data_type: DataTypeLike = None, **search_params: Any
    ) -> Iterator[DataDescriptor]:
        """Descriptors of the items (or, in stack mode, collections) matching the parameters.

        Items are described from the search response itself: no request per item.
        """
        from .search import search_collections, search_items

        self._assert_data_type(data_type)
        params = self.get_search_params_schema(data_type).validate_params(
            search_params, store_id=self.store_id
        )
        if self.stack_mode:
            yield from search_collections(self, params)
        else:
            yield from search_items(self, params)


class StacXcubeDataStore(StacDataStore):
    """Items of an xcube server's STAC, opened through the eostores filesystem stores.

    The asset fields ``xcube:data_store_params`` and ``xcube:open_data_params`` say which
    store (root, storage options) holds the data and under which data id; ``analytic`` is
    opened as a dataset, ``analytic_multires`` as a multi-level dataset.
    """

    store_id: ClassVar[str] = "stac-xcube"

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset", "mldataset")

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        if self.stack_mode:
            return super().get_data_types_for_data(data_id)
        from .xcube import data_types_of

        return data_types_of(self._item(self._check_data_id(data_id)))

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        if self.stack_mode:
            return super().describe_data(data_id, data_type)
        from .xcube import describe_xcube_item

        self._assert_data_type(data_type)
        data_id = self._check_data_id(data_id)
        return describe_xcube_item(self, data_id, self._item(data_id), data_type)

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        if self.stack_mode:
            return super().get_data_opener_ids(data_id, data_type)
        self._assert_data_type(data_type)
        types = self.get_data_types() if data_id is None else self.get_data_types_for_data(data_id)
        return tuple(f"{t}:zarr:s3" if t == "dataset" else f"{t}:levels:s3" for t in types)

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        if self.stack_mode:
            return super().get_open_data_params_schema(data_id, opener_id)
        from .xcube import open_params_schema

        self._assert_opener_id(opener_id)
        data_type = "mldataset" if opener_id and opener_id.startswith("mldataset") else "dataset"
        item = self._item(self._check_data_id(data_id)) if data_id else None
        return open_params_schema(item, data_type)

    def _open_item(self, data_id: str, open_params: Mapping[str, Any], data_type: Any) -> Any:
        from .xcube import open_xcube_item

        return open_xcube_item(self, data_id, open_params, data_type)


class StacCdseDataStore(StacDataStore):
    """The Copernicus Data Space Ecosystem STAC, with S3 access to its ``eodata`` bucket.

    S3 credentials: ``key``/``secret``, else AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY.
    """

    store_id: ClassVar[str] = "stac-cdse"

    def _s3_credentials(self) -> tuple[str | None, str | None]:
        from eostores.credentials import resolve_secret

        key = resolve_secret(
            "key",
            explicit=self._store_params.get("key"),
            env=["AWS_ACCESS_KEY_ID"],
            store_id=self.store_id,
        )
        secret = resolve_secret(
            "secret",
            explicit=self._store_params.get("secret"),
            env=["AWS_SECRET_ACCESS_KEY"],
            store_id=self.store_id,
        )
        assert key is not None and secret is not None
        return key.reveal(), secret.reveal()


class StacDestineDataStore(StacDataStore):
    """DestinE Data Cache Cache-A: its STAC API with bearer-token access.

    Token: ``token``, else DESTINE_TOKEN, else the password of the catalog host in .netrc.
    Assets are downloaded (``POST .../download``) into ``cache_dir`` before they are read,
    never more than ``max_parallel_downloads`` (the service's quota: 2) at once.
    """

    store_id: ClassVar[str] = "stac-destine"

    def _token(self) -> Any:
        from urllib.parse import urlsplit

        from eostores.credentials import resolve_secret

        return resolve_secret(
            "token",
            explicit=self._store_params.get("token"),
            env=["DESTINE_TOKEN"],
            netrc_host=urlsplit(self.url).hostname,
            store_id=self.store_id,
        )

    def _auth(self) -> Any:
        from eostores.http import BearerAuth

        return BearerAuth(self._token())

    def _access(self, hrefs: list[str] | None = None) -> AssetAccess:
        from .destine import DownloadingAccess, default_cache_dir

        return DownloadingAccess(
            store_id=self.store_id,
            http_params=self._http_params(),
            token=self._token(),
            cache_dir=self._store_params.get("cache_dir") or str(default_cache_dir()),
            max_parallel_downloads=int(self._store_params.get("max_parallel_downloads", 2)),
        )


# -- helpers ---------------------------------------------------------------------------------------


def _item_attrs(item: Mapping[str, Any]) -> dict[str, Any]:
    properties = item.get("properties", {})
    attrs = {
        "collection": item.get("collection"),
        "datetime": properties.get("datetime"),
        "bbox": item.get("bbox"),
    }
    for key in ("eo:cloud_cover", "platform", "proj:code"):
        if key in properties:
            attrs[key] = properties[key]
    return {k: v for k, v in attrs.items() if v is not None}


def _collection_attrs(collection: Mapping[str, Any]) -> dict[str, Any]:
    extent = collection.get("extent", {})
    attrs = {
        "title": collection.get("title"),
        "description": collection.get("description"),
        "bbox": (extent.get("spatial", {}).get("bbox") or [None])[0],
        "time_range": (extent.get("temporal", {}).get("interval") or [None])[0],
    }
    return {k: v for k, v in attrs.items() if v is not None}
