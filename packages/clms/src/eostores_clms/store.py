"""The ``clms`` data store: CLMS datasets, preloaded through the CLMS download service."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eostores.credentials import Secret, register_secret
from eostores.datatype import DataTypeLike
from eostores.errors import DataStoreError, InvalidParameterError, context
from eostores.paths import check_data_id
from eostores.store import DataStore

from .config import DEFAULT_CACHE_STORE_ID, DEFAULT_CACHE_STORE_PARAMS, STORE_ID

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor
    from eostores.preload import PreloadHandle
    from eostores.schema import JsonObjectSchema

    from .api import ClmsApi
    from .catalog import Catalog, Entry

__all__ = ["ClmsDataStore", "NotPreloadedError"]

_WORK_FOLDER = ".clms"
_MAX_PRELOAD_WORKERS = 8


class NotPreloadedError(DataStoreError):
    """The data id exists but has not been preloaded into the cache store yet."""


class ClmsDataStore(DataStore):
    """Datasets of the Copernicus Land Monitoring Service.

    Data ids are ``<dataset id>|<file name>`` for the pre-packaged raster files of each
    dataset (listing and describing need no credentials). The service delivers files only
    through data requests that wait in a queue, so data are first preloaded
    (:meth:`preload_data`) into a filesystem cache store as Zarr, then opened lazily from
    there (:meth:`open_data`, or ``handle.store``).
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        credentials = self._store_params.get("credentials")
        if isinstance(credentials, Mapping) and isinstance(credentials.get("private_key"), str):
            register_secret(credentials["private_key"])  # kept out of logs from now on
        self._lock = threading.RLock()
        self._api: ClmsApi | None = None
        self._catalog: Catalog | None = None
        self._cache_store: Any = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_lock=None, _api=None, _cache_store=None)
        params = dict(state["_store_params"])
        if isinstance(params.get("credentials"), Mapping):  # pickles never hold the key in clear
            params["credentials"] = Secret(json.dumps(dict(params["credentials"])))
        state["_store_params"] = params
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        params = state["_store_params"]
        if isinstance(params.get("credentials"), Secret):
            params["credentials"] = json.loads(params["credentials"].reveal())
        self.__dict__.update(state)
        self._lock = threading.RLock()

    # -- parameters and service access ------------------------------------------------------

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        from .schema import store_params_schema

        return store_params_schema()

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    @property
    def api(self) -> ClmsApi:
        """The client of the CLMS API."""
        with self._lock:
            if self._api is None:
                from eostores.http import HttpConfig

                from .api import ClmsApi
                from .config import load_service_key

                credentials = self._store_params.get("credentials")
                self._api = ClmsApi(
                    self._store_params["api_url"],
                    HttpConfig.from_params(self._store_params, store_id=STORE_ID),
                    lambda: load_service_key(credentials),
                )
            return self._api

    @property
    def cache_store(self) -> Any:
        """The filesystem store that receives preloaded data as Zarr."""
        with self._lock:
            if self._cache_store is None:
                from eostores.fs import FsDataStore
                from eostores.registry import get_data_store_class

                store_id = self._store_params.get("cache_store_id") or DEFAULT_CACHE_STORE_ID
                cls = get_data_store_class(store_id)
                if not issubclass(cls, FsDataStore):
                    raise InvalidParameterError(
                        f"cache_store_id {store_id!r} is not a filesystem store "
                        "(file, memory, s3, ...)",
                        store_id=STORE_ID,
                        parameter="cache_store_id",
                    )
                params = {
                    **DEFAULT_CACHE_STORE_PARAMS,
                    **dict(self._store_params.get("cache_store_params") or {}),
                }
                if store_id == "file" and not params.get("root"):
                    from eostores.cache import default_cache_dir

                    params["root"] = str(default_cache_dir(STORE_ID))
                self._cache_store = cls(**params)
            return self._cache_store

    @property
    def work_dir(self) -> Path:
        """The local folder for downloads, locks and the catalogue of this cache."""
        cache = self.cache_store
        if cache.protocol == "file":
            return Path(os.path.abspath(os.path.expanduser(cache.root or "."))) / _WORK_FOLDER
        from eostores.cache import default_cache_dir

        key = json.dumps([self._store_params.get("cache_store_id"), cache.root])
        digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
        return Path(default_cache_dir(STORE_ID)) / "work" / digest

    @property
    def catalog(self) -> Catalog:
        """The datasets and files of the service (cached in memory and on disk)."""
        with self._lock:
            if self._catalog is None:
                from .catalog import load_catalog

                digest = hashlib.sha256(self.api.api_url.encode("utf-8")).hexdigest()[:16]
                with context(STORE_ID):
                    self._catalog = load_catalog(
                        self.api,
                        self.work_dir / f"catalog-{digest}.json",
                        self._store_params["catalog_ttl"],
                    )
            return self._catalog

    def _entry(self, data_id: Any) -> Entry:
        check_data_id(data_id, store_id=STORE_ID)
        entry = self.catalog.get(data_id)
        if entry is None:
            raise self._not_found(
                data_id, "not in the CLMS catalogue; ids are '<dataset id>|<file name>'"
            )
        return entry

    def _refuse_elsewhere(self, entry: Entry) -> None:
        if not entry.preloadable:
            raise InvalidParameterError(
                f"dataset {entry.product.id!r} is hosted by {entry.product.place}, not by the "
                "CLMS download service; get it from there",
                store_id=STORE_ID,
                data_id=entry.data_id,
                parameter="data_id",
            )

    # -- listing and describing -------------------------------------------------------------

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._entry(data_id)
        return self.get_data_types()

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        for data_id, entry in self.catalog.entries.items():
            if not include_attrs:
                yield data_id
                continue
            attrs: dict[str, Any] = {
                "title": entry.product.title,
                "dataset_id": entry.product.id,
                "source": entry.product.source,
            }
            if entry.file is not None:
                attrs.update(file=entry.file.name, format=entry.file.format)
            if not entry.preloadable:
                attrs["hosted_by"] = entry.product.place
            yield data_id, self._attrs_selection(attrs, include_attrs)

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        check_data_id(data_id, store_id=STORE_ID)
        self._assert_data_type(data_type)
        return self.catalog.get(data_id) is not None

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        """The catalogue's description; for preloaded ids also the cached variables."""
        from .catalog import describe
        from .jobs import cache_data_id

        self._assert_data_type(data_type)
        entry = self._entry(data_id)
        descriptor = describe(entry)
        if entry.preloadable:
            descriptor.open_params_schema = self.get_open_data_params_schema(data_id)
            cache_id = cache_data_id(entry)
            if self.cache_store.has_data(cache_id):
                with context(STORE_ID, data_id):
                    cached = self.cache_store.describe_data(cache_id)
                for name in ("dims", "coords", "data_vars", "spatial_res", "time_range"):
                    if getattr(cached, name, None):
                        setattr(descriptor, name, getattr(cached, name))
                descriptor.attrs = {**(descriptor.attrs or {}), "preloaded_as": cache_id}
        return descriptor

    # -- opening ----------------------------------------------------------------------------

    def _opener_id(self) -> str:
        return f"dataset:zarr:{self.cache_store.protocol}"

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        self._assert_data_type(data_type)
        if data_id is not None:
            self._entry(data_id)
        return (self._opener_id(),)

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        from .schema import open_params_schema

        if data_id is not None:
            self._refuse_elsewhere(self._entry(data_id))
        self._assert_opener_id(opener_id)
        return open_params_schema(self.cache_store, self._opener_id())

    def _validated_open_params(self, data_id: str, params: dict[str, Any]) -> dict[str, Any]:
        """Check the open parameters before anything is looked up or read."""
        from eostores.schema import parse_bbox, parse_time_range

        from .schema import open_params_schema

        schema = open_params_schema(self.cache_store, self._opener_id())
        validated = schema.validate_params(params, store_id=STORE_ID, data_id=data_id)
        try:
            if validated.get("bbox") is not None:
                parse_bbox(validated["bbox"], geographic=False)
            if validated.get("time_range") is not None:
                parse_time_range(validated["time_range"])
        except InvalidParameterError as error:
            error.store_id, error.data_id = STORE_ID, data_id
            raise
        return validated

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        """Open a preloaded data id from the cache store, lazily."""
        from .jobs import cache_data_id

        check_data_id(data_id, store_id=STORE_ID)
        self._assert_data_type(data_type)
        self._assert_opener_id(opener_id)
        self._validated_open_params(data_id, open_params)
        entry = self._entry(data_id)
        self._refuse_elsewhere(entry)
        cache_id = cache_data_id(entry)
        if not self.cache_store.has_data(cache_id):
            raise NotPreloadedError(
                f"not preloaded yet; call store.preload_data({data_id!r}) first, then open it "
                "here or from the handle's store",
                store_id=STORE_ID,
                data_id=data_id,
            )
        with context(STORE_ID, data_id):
            return self.cache_store.open_data(cache_id, opener_id=self._opener_id(), **open_params)

    # -- preloading -------------------------------------------------------------------------

    def get_preload_data_params_schema(self) -> JsonObjectSchema:
        from .schema import preload_params_schema

        return preload_params_schema()

    def preload_data(self, *data_ids: str, **preload_params: Any) -> PreloadHandle:
        """Request, download and cache ``data_ids`` as Zarr; returns the core PreloadHandle.

        Unknown ids, ids hosted elsewhere and a missing service key fail here, before any
        data request. ``handle.store`` is the cache store and ``handle.data_ids`` the ids to
        open there; ``store.open_data(data_id)`` opens the same data.
        """
        from eostores.preload import PreloadHandle

        from .config import load_service_key
        from .jobs import PreloadJob, PreloadSettings, cache_data_id

        params = self.get_preload_data_params_schema().validate_params(
            preload_params, store_id=STORE_ID
        )
        entries = {}
        for data_id in data_ids:
            entry = self._entry(data_id)
            self._refuse_elsewhere(entry)
            entries[data_id] = entry
        if any(not self.cache_store.has_data(cache_data_id(e)) for e in entries.values()):
            load_service_key(self._store_params.get("credentials"))  # fails now, not per id
        settings = PreloadSettings(
            request_deadline=self._store_params["request_deadline"],
            poll_interval=self._store_params["poll_interval"],
            link_ttl=self._store_params["link_ttl"],
            stale_task_age=self._store_params["stale_task_age"],
            cleanup=params["cleanup"],
        )
        jobs = {
            data_id: PreloadJob(self.api, self.cache_store, self.work_dir, settings, entry)
            for data_id, entry in entries.items()
        }
        return PreloadHandle(
            list(jobs),
            lambda task: jobs[task.data_id].run(task),
            store=self.cache_store,
            blocking=params["blocking"],
            silent=params["silent"],
            cleanup=False,
            max_workers=max(1, min(len(jobs), _MAX_PRELOAD_WORKERS)),
        )
