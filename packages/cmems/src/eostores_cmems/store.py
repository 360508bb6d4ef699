"""The ``cmems`` data store: Copernicus Marine datasets as lazy ARCO Zarr cubes."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from eostores.credentials import Secret
from eostores.datatype import DataTypeLike
from eostores.errors import context
from eostores.http import HttpConfig
from eostores.paths import check_data_id
from eostores.store import DataStore

from .api import CmemsApi, LoginCache, monitoring_params, open_arco
from .catalog import Catalogue, describe
from .config import (
    OPENER_ID,
    STORE_ID,
    cache_root,
    check_url,
    refuse_retired,
    resolve_password,
    resolve_username,
)
from .convert import subset, to_cube, with_attrs
from .retrieval import plan_open
from .schema import (
    check_syntax,
    open_params_schema,
    parse_open_params,
    static_open_params_schema,
    store_params_schema,
)

if TYPE_CHECKING:
    import xarray

    from eostores.descriptor import DatasetDescriptor
    from eostores.schema import JsonObjectSchema

__all__ = ["CmemsDataStore"]

_SECRET_PARAMS = ("cmems_password",)


class CmemsDataStore(DataStore):
    """Datasets of the Copernicus Marine Service, opened lazily from its ARCO services.

    Listing and describing read the STAC catalogue (cached on disk for
    ``catalogue_ttl``) and need no credentials; opening logs in once per store and reads
    the Zarr chunks a computation needs. Construction does no network I/O.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        params = self._store_params
        refuse_retired(params)
        self._config_url = check_url(params["config_url"], "config_url")
        self._auth_url = check_url(params["auth_url"], "auth_url")
        with context(STORE_ID):
            self._http_config = HttpConfig.from_params(params, store_id=STORE_ID)
        self._init_runtime()

    def _init_runtime(self) -> None:
        params = self._store_params
        self._api = CmemsApi(self._config_url, self._auth_url, self._http_config)
        self._catalogue = Catalogue(
            self._api,
            cache_root(params.get("cache_dir"), self._config_url),
            float(params["catalogue_ttl"]),
        )
        self._logins = LoginCache()
        self._credentials: tuple[Secret, Secret] | None = None
        self._credentials_lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        params = dict(self._store_params)
        for name in _SECRET_PARAMS:
            if params.get(name):
                params[name] = Secret(params[name], source=f"parameter {name!r}")
        return {"params": params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        params = dict(state["params"])
        for name in _SECRET_PARAMS:
            if isinstance(params.get(name), Secret):
                params[name] = params[name].reveal()
        self.__init__(**params)

    @property
    def catalogue(self) -> Catalogue:
        """The store's catalogue (its cache folder is ``catalogue.root``)."""
        return self._catalogue

    @property
    def login_count(self) -> int:
        """How many times this store has logged in (once until the token expires)."""
        return self._logins.count

    # -- description of the store ----------------------------------------------------------

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return store_params_schema()

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._check_exists(data_id)
        return ("dataset",)

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        self._assert_data_type(data_type)
        if data_id is not None:
            self._check_exists(data_id)
        return (OPENER_ID,)

    # -- listing and describing ------------------------------------------------------------

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        with context(STORE_ID):
            listing = self._catalogue.listing()
        for data_id, attrs in listing.items():
            if include_attrs:
                yield data_id, self._attrs_selection(attrs, include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        check_data_id(data_id, STORE_ID)
        self._assert_data_type(data_type)
        with context(STORE_ID, data_id):
            return self._catalogue.has(data_id)

    def _check_exists(self, data_id: str) -> None:
        check_data_id(data_id, STORE_ID)
        with context(STORE_ID, data_id):
            self._catalogue.dataset(data_id)

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DatasetDescriptor:
        check_data_id(data_id, STORE_ID)
        self._assert_data_type(data_type)
        with context(STORE_ID, data_id):
            summary = self._catalogue.summary(data_id)
            return describe(summary, open_params_schema(summary))

    def search_data(self, data_type: DataTypeLike = None, **search_params: Any):
        with context(STORE_ID):
            yield from super().search_data(data_type, **search_params)

    # -- opening ---------------------------------------------------------------------------

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        self._assert_opener_id(opener_id)
        if data_id is None:
            return static_open_params_schema()
        check_data_id(data_id, STORE_ID)
        with context(STORE_ID, data_id):
            return open_params_schema(self._catalogue.summary(data_id))

    def _credentials_pair(self) -> tuple[Secret, Secret]:
        with self._credentials_lock:
            if self._credentials is None:
                params = self._store_params
                self._credentials = (
                    resolve_username(params.get("cmems_username")),
                    resolve_password(params.get("cmems_password")),
                )
            return self._credentials

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> xarray.Dataset:
        check_data_id(data_id, STORE_ID)
        self._assert_data_type(data_type)
        self._assert_opener_id(opener_id)
        params = check_syntax(open_params, data_id)
        with context(STORE_ID, data_id):
            dataset = self._catalogue.dataset(data_id)
            summary = self._catalogue.summary(data_id)
            request = parse_open_params(params, summary, data_id)
            username, password = self._credentials_pair()
            login = self._logins.get(self._api, username, password)
            plan = plan_open(dataset, request, data_id, login.user)
            raw = open_arco(
                plan.service.uri,
                self._api.http_config,
                monitoring_params(login.user),
                data_id=data_id,
            )
            cube = subset(raw, plan.subset_arguments())
            cube = with_attrs(
                cube,
                request.variable_names,
                {
                    "cmems_dataset_id": data_id,
                    "cmems_product_id": summary.product_id,
                    "cmems_dataset_version": plan.version,
                    "cmems_dataset_part": plan.part.name,
                    "cmems_service": plan.service_name,
                    "cmems_service_asset": plan.asset,
                },
            )
            return to_cube(cube) if request.force_cube else cube
