"""The ``cds`` data store: the Copernicus Climate Data Store, read from its catalogue."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eostores.datatype import DataTypeLike
from eostores.errors import (
    DataNotFoundError,
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    context,
)
from eostores.http import call_deadline
from eostores.paths import check_data_id
from eostores.store import DataStore

from .catalog import Catalogue, DatasetInfo, describe, split_data_id
from .config import STORE_ID, cache_dir, http_config, resolve_api_key, resolve_endpoint_url

if TYPE_CHECKING:
    from eostores.descriptor import DatasetDescriptor
    from eostores.preload import PreloadHandle, PreloadTask
    from eostores.schema import JsonObjectSchema

    from .api import CdsApi
    from .layout import CacheLayout
    from .plan import Plan
    from .results import JobSettings

__all__ = ["CdsDataStore"]

OPENER_ID = "dataset:netcdf:cds"
_MEMO_SIZE = 256


class CdsDataStore(DataStore):
    """Gridded datasets of the Copernicus Climate Data Store (CDS).

    Data ids are the catalogue's dataset ids, plus ``<dataset>:<product_type>`` where the
    product types of a dataset offer different options. Opening translates the common
    parameters into CDS requests, runs them as jobs (month by month, concurrently, within
    the service's cost limit), downloads, merges and normalises the files, and caches the
    result by a hash of the request. Every call is bounded by ``call_deadline``.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._lock = threading.RLock()
        self._state: dict[str, Any] = {}
        self._memo: OrderedDict[Any, Path] = OrderedDict()

    # -- pickling: parameters only; clients and caches are rebuilt on demand

    def __getstate__(self) -> dict[str, Any]:
        return {"_store_params": self._store_params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._store_params = state["_store_params"]
        self._lock = threading.RLock()
        self._state = {}
        self._memo = OrderedDict()

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        from .schema import store_params_schema

        return store_params_schema()

    # -- parts, created on first use (construction does no I/O)

    def _part(self, name: str) -> Any:
        with self._lock:
            if not self._state:
                self._build()
            return self._state[name]

    def _build(self) -> None:
        from .api import CdsApi
        from .layout import CacheLayout

        params = self._store_params
        endpoint = resolve_endpoint_url(params.get("endpoint_url"))
        key_lock = threading.Lock()
        resolved: list[Any] = []

        def api_key() -> Any:
            with key_lock:
                if not resolved:
                    resolved.append(resolve_api_key(params.get("cds_api_key")))
                return resolved[0]

        api = CdsApi(
            endpoint,
            api_key,
            http_config(params),
            poll_interval_max=params["poll_interval_max"],
            store_id=STORE_ID,
        )
        layout = CacheLayout(cache_dir(params), endpoint, store_id=STORE_ID)
        self._state.update(
            api=api,
            layout=layout,
            catalogue=Catalogue(lambda: api, layout.catalogue, params["catalogue_ttl"], STORE_ID),
        )

    @property
    def _api(self) -> CdsApi:
        return self._part("api")

    @property
    def _layout(self) -> CacheLayout:
        return self._part("layout")

    @property
    def _catalogue(self) -> Catalogue:
        return self._part("catalogue")

    @contextlib.contextmanager
    def _call(self, data_id: str | None = None) -> Iterator[float]:
        """One user call: errors name the store and data id; all within ``call_deadline``.

        Yields the ``time.monotonic()`` value at which the call's deadline passes (never
        after the one its requests see).
        """
        seconds = float(self._store_params["call_deadline"])
        ends = time.monotonic() + seconds
        with context(STORE_ID, data_id), call_deadline(seconds):
            yield ends

    def _job_settings(self, deadline_at: float) -> JobSettings:
        from .results import JobSettings

        params = self._store_params
        return JobSettings(
            max_workers=params["max_concurrent_jobs"],
            poll_interval=params["poll_interval"],
            poll_interval_max=params["poll_interval_max"],
            deadline_s=float(params["call_deadline"]),
            deadline_at=deadline_at,
        )

    # -- ids

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        check_data_id(data_id, STORE_ID)
        with self._call(data_id):
            self._resolve(data_id)
        return ("dataset",)

    def get_data_ids(
        self, data_type: DataTypeLike = None, include_attrs: bool | list[str] | None = None
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        with self._call():
            records = self._catalogue.records()
            self._catalogue.prefetch([str(r["id"]) for r in records])
            entries = []
            for record in records:
                try:
                    info = self._catalogue.info(str(record["id"]))
                except DataStoreTimeoutError:
                    raise
                except DataStoreError:
                    continue
                if info.openable:
                    entries.append(info)
        for info in entries:
            ids = [info.id] + [f"{info.id}:{pt}" for pt in info.virtual_product_types()]
            for data_id in ids:
                if include_attrs:
                    attrs = {
                        "title": info.title,
                        "product_type": split_data_id(data_id)[1],
                        "keywords": info.keywords,
                        "time_range": [info.start, info.end],
                    }
                    yield data_id, self._attrs_selection(attrs, include_attrs)
                else:
                    yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        check_data_id(data_id, STORE_ID)
        try:
            self._assert_data_type(data_type)
            with self._call(data_id):
                self._resolve(data_id)
        except (DataNotFoundError, InvalidParameterError):
            return False
        return True

    def _resolve(self, data_id: str) -> tuple[DatasetInfo, str | None]:
        dataset_id, product_type = split_data_id(data_id)
        try:
            info = self._catalogue.info(dataset_id)
        except DataNotFoundError:
            raise self._not_found(data_id, "not a gridded dataset of the CDS catalogue") from None
        if not info.openable:
            raise self._not_found(data_id, "the dataset has no year/month request form")
        if product_type is not None and product_type not in info.virtual_product_types():
            offered = ", ".join(info.virtual_product_types()) or "none"
            raise self._not_found(data_id, f"unknown product type; offered: {offered}")
        return info, product_type

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        self._assert_data_type(data_type)
        if data_id is not None:
            check_data_id(data_id, STORE_ID)
            with self._call(data_id):
                self._resolve(data_id)
        return (OPENER_ID,)

    # -- describing

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DatasetDescriptor:
        check_data_id(data_id, STORE_ID)
        self._assert_data_type(data_type)
        with self._call(data_id):
            info, product_type = self._resolve(data_id)
            return describe(info, data_id, product_type, self._open_schema(data_id))

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        from eostores.schema import JsonObjectSchema

        self._assert_opener_id(opener_id)
        if data_id is None:
            return JsonObjectSchema(additional_properties=True)
        check_data_id(data_id, STORE_ID)
        with self._call(data_id):
            return self._open_schema(data_id)

    def _open_schema(self, data_id: str) -> JsonObjectSchema:
        with self._lock:
            cached = self._state.get(("schema", data_id))
        if cached is not None:
            return cached
        from .schema import open_params_schema

        info, product_type = self._resolve(data_id)
        schema = open_params_schema(info, product_type)
        with self._lock:
            self._state[("schema", data_id)] = schema
        return schema

    # -- opening

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        """Open a dataset; blocks until the CDS jobs are done (cached by request)."""
        from .convert import empty_cube, open_result

        check_data_id(data_id, STORE_ID)
        self._assert_data_type(data_type)
        self._assert_opener_id(opener_id)
        memo_key = _memo_key(data_id, open_params)
        with self._call(data_id) as deadline_at:
            if memo_key is not None:
                with self._lock:
                    hit = self._memo.get(memo_key)
                if hit is not None and hit.is_file():
                    return open_result(hit)
            plan, info = self._plan(data_id, open_params)
            if not plan.variables:
                return empty_cube(
                    plan.stamps,
                    plan.bbox,
                    plan.spatial_res,
                    plan.grid_origin,
                    attrs={"title": info.title, "cds_data_id": data_id},
                )
            path = self._result(plan, info, deadline_at)
            if memo_key is not None:
                with self._lock:
                    self._memo[memo_key] = path
                    while len(self._memo) > _MEMO_SIZE:
                        self._memo.popitem(last=False)
            return open_result(path)

    def _result(
        self,
        plan: Plan,
        info: DatasetInfo,
        deadline_at: float,
        *,
        report: Any = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        from .results import result_file

        return result_file(
            plan,
            info,
            self._api,
            self._layout,
            self._job_settings(deadline_at),
            store_id=STORE_ID,
            report=report,
            cancel=cancel,
        )

    def _plan(self, data_id: str, open_params: Mapping[str, Any]) -> tuple[Plan, DatasetInfo]:
        """Validated open parameters as a plan of requests; no request is made here."""
        from eostores.limits import MAX_BYTES_PARAMETER
        from eostores.schema import apply_parameter_aliases, resolve_variable_names

        from .plan import make_plan

        schema = self._open_schema(data_id)
        info, product_type = self._resolve(data_id)
        params = apply_parameter_aliases(open_params, {"variables": "variable_names"})
        params = schema.validate_params(params, store_id=STORE_ID, data_id=data_id)
        product_type = (
            product_type
            or params.get("product_type")
            or (next(iter(info.product_types)) if info.product_types else None)
        )
        try:
            offered = info.allowed("variable", product_type)
            variables = resolve_variable_names(params.get("variable_names"), offered)
        except InvalidParameterError as error:
            raise InvalidParameterError(
                error.message, store_id=STORE_ID, data_id=data_id, parameter=error.parameter
            ) from None
        plan = make_plan(
            info,
            data_id,
            product_type,
            params,
            variables,
            normalize_names=self._store_params["normalize_names"],
            store_id=STORE_ID,
            grib_readable=_cfgrib_available(),
            split=params.get("split_requests", True),
            max_bytes=self._store_params.get(MAX_BYTES_PARAMETER),
        )
        for piece in plan.pieces[:1] + plan.pieces[-1:]:
            info.constraints.check(piece, data_id=data_id, store_id=STORE_ID)
        return plan, info

    # -- preloading

    def get_preload_data_params_schema(self) -> JsonObjectSchema:
        from .schema import preload_params_schema

        return preload_params_schema(super().get_preload_data_params_schema())

    def preload_data(self, *data_ids: str, **preload_params: Any) -> PreloadHandle:
        """Submit and track the jobs of each data id; the handle's store opens the results.

        The open parameters (``variable_names``, ``bbox``, ``time_range``, ...) apply to
        every data id; dataset-specific ones go in ``open_params``. Each data id yields
        one result id in ``handle.store`` (a file store over the result cache); opening the
        same request with :meth:`open_data` afterwards reads the same file. The preload
        of each data id is bounded by ``call_deadline``.
        """
        from eostores.fs.stores import new_fs_data_store
        from eostores.preload import PreloadHandle

        for data_id in data_ids:
            check_data_id(data_id, STORE_ID)
        params = self.get_preload_data_params_schema().validate_params(
            preload_params, store_id=STORE_ID
        )
        control = {k: params.pop(k) for k in ("blocking", "silent", "cleanup")}
        extra = dict(params.pop("open_params") or {})
        open_params = {k: v for k, v in params.items() if v is not None}
        open_params.update(extra)
        plans = {}
        for data_id in data_ids:
            with self._call(data_id):
                plans[data_id] = self._plan(data_id, open_params)
        results_root = self._layout.results
        cache_store = new_fs_data_store("file", root=str(results_root), max_depth=2, read_only=True)

        def task(task_context: PreloadTask) -> list[str]:
            data_id = task_context.data_id
            plan, info = plans[data_id]
            if not plan.variables:
                raise InvalidParameterError(
                    "nothing to preload: variable_names is empty",
                    store_id=STORE_ID,
                    data_id=data_id,
                    parameter="variable_names",
                )
            task_context.report(0.0, "submitting")
            with self._call(data_id) as deadline_at:
                path = self._result(
                    plan,
                    info,
                    deadline_at,
                    report=lambda message, fraction: task_context.report(0.95 * fraction, message),
                    cancel=task_context.cancel_event,
                )
            return [path.relative_to(results_root).as_posix()]

        return PreloadHandle(
            list(data_ids),
            task,
            store=cache_store,
            blocking=control["blocking"],
            silent=control["silent"],
            cleanup=control["cleanup"],
            max_workers=2,
        )


def _memo_key(data_id: str, open_params: Mapping[str, Any]) -> Any:
    import json

    try:
        return data_id, json.dumps(open_params, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return None


def _cfgrib_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("cfgrib") is not None
