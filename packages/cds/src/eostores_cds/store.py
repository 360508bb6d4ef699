"""The ``cds`` data store: the Copernicus Climate Data Store, read from its catalogue."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eostores.datatype import DataTypeLike
from eostores.errors import DataNotFoundError, DataStoreError, InvalidParameterError
from eostores.store import DataStore

from .catalog import Catalogue, DatasetInfo, split_data_id
from .config import STORE_ID, default_cache_dir, resolve_api_key, resolve_endpoint_url

if TYPE_CHECKING:
    from eostores.descriptor import DatasetDescriptor
    from eostores.preload import PreloadHandle, PreloadTask
    from eostores.schema import JsonObjectSchema

    from .api import CdsApi
    from .cachefiles import CacheLayout
    from .planning import Plan

__all__ = ["CdsDataStore"]

OPENER_ID = "dataset:netcdf:cds"
_MEMO_SIZE = 256


class CdsDataStore(DataStore):
    """Gridded datasets of the Copernicus Climate Data Store (CDS).

    Data ids are the catalogue's dataset ids, plus ``<dataset>:<product_type>`` where the
    product types of a dataset offer different options. Opening translates the common
    parameters into CDS requests, runs them as jobs (month by month, concurrently, within
    the service's cost limit), downloads, merges and normalises the files, and caches the
    result by a hash of the request.
    """

    store_id = STORE_ID

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._lock = threading.RLock()
        self._state: dict[str, Any] = {}
        self._memo: OrderedDict[Any, tuple[str, Path]] = OrderedDict()

    # -- pickling: parameters only; clients and caches are rebuilt on demand

    def __getstate__(self) -> dict[str, Any]:
        return {"_store_params": self._store_params}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self._store_params = state["_store_params"]
        self._lock = threading.RLock()
        self._state = {}
        self._memo = OrderedDict()

    # -- parts, created on first use (construction does no I/O)

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        from .schema import store_params_schema

        return store_params_schema()

    def _part(self, name: str) -> Any:
        with self._lock:
            if not self._state:
                self._build()
            return self._state[name]

    def _build(self) -> None:
        from eostores.http import HttpConfig

        from .api import CdsApi
        from .cachefiles import CacheLayout

        params = self._store_params
        endpoint = resolve_endpoint_url(params.get("endpoint_url"))
        config = HttpConfig(
            store_id=STORE_ID,
            num_retries=params["num_retries"],
            retry_backoff_base=min(1.0, params["retry_backoff_max"]),
            retry_backoff_max=params["retry_backoff_max"],
            read_timeout=params["http_timeout"],
            deadline=min(600.0, params["request_deadline"]),
        )
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
            config,
            poll_interval_max=params["poll_interval_max"],
            store_id=STORE_ID,
        )
        cache_dir = Path(params.get("cache_dir") or default_cache_dir())
        layout = CacheLayout(cache_dir, endpoint)
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

    # -- ids

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset",)

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        self._resolve(data_id)
        return ("dataset",)

    def get_data_ids(
        self, data_type: DataTypeLike = None, include_attrs: bool | list[str] | None = None
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        self._assert_data_type(data_type)
        records = self._catalogue.records()
        self._catalogue.prefetch([str(r["id"]) for r in records])
        for record in records:
            dataset_id = str(record["id"])
            try:
                info = self._catalogue.info(dataset_id)
            except DataStoreError:
                continue
            if not info.openable:
                continue
            ids = [dataset_id] + [f"{dataset_id}:{pt}" for pt in info.virtual_product_types()]
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
        try:
            self._assert_data_type(data_type)
            self._resolve(data_id)
        except (DataNotFoundError, InvalidParameterError):
            return False
        return True

    def _resolve(self, data_id: str) -> tuple[DatasetInfo, str | None]:
        if not isinstance(data_id, str) or not data_id:
            raise self._not_found(str(data_id))
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
            self._resolve(data_id)
        return (OPENER_ID,)

    # -- describing

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DatasetDescriptor:
        from eostores.descriptor import DatasetDescriptor, VariableDescriptor

        self._assert_data_type(data_type)
        info, product_type = self._resolve(data_id)
        names = info.allowed("variable", product_type) if product_type else list(info.variables)
        dims = ("time", "lat", "lon")
        data_vars = {}
        for name in names:
            variable = info.variables[name]
            attrs = {"title": variable.title}
            if variable.units:
                attrs["units"] = variable.units
            if variable.description:
                attrs["long_name"] = variable.description
            var_dims = ("time", "pressure_level", "lat", "lon") if info.levels else dims
            data_vars[name] = VariableDescriptor(name, "float32", var_dims, attrs=attrs)
        periods = info.time_periods(product_type)
        attrs = {
            "title": info.title,
            "keywords": info.keywords,
            "licences": [lic.get("id") for lic in info.licences],
            "note": "variables are requested by these names; the files name them by their "
            "short names (e.g. t2m for 2m_temperature)",
        }
        if product_type:
            attrs["product_type"] = product_type
        if info.levels:
            attrs["pressure_levels"] = info.allowed("pressure_level", product_type)
        return DatasetDescriptor(
            data_id=data_id,
            crs="EPSG:4326",
            bbox=info.bbox,
            time_range=(
                info.start[:10] if info.start else None,
                info.end[:10] if info.end else None,
            ),
            time_period=periods[0],
            spatial_res=info.native_res,
            dims={},
            data_vars=data_vars,
            attrs=attrs,
            open_params_schema=self.get_open_data_params_schema(data_id),
        )

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        from eostores.schema import JsonObjectSchema

        self._assert_opener_id(opener_id)
        if data_id is None:
            return JsonObjectSchema(additional_properties=True)
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
        self._assert_data_type(data_type)
        memo_key = _memo_key(data_id, open_params)
        if memo_key is not None:
            with self._lock:
                hit = self._memo.get(memo_key)
            if hit is not None and hit[1].is_file():
                from .convert import open_result

                return open_result(hit[1])
        plan, info = self._plan(data_id, open_params, opener_id)
        if not plan.variables:
            from .convert import empty_cube

            return empty_cube(
                plan.stamps,
                plan.bbox,
                plan.spatial_res,
                plan.grid_origin,
                attrs={"title": info.title, "cds_data_id": data_id},
            )
        path = self._fetch(plan, info)
        if memo_key is not None:
            with self._lock:
                self._memo[memo_key] = (data_id, path)
                while len(self._memo) > _MEMO_SIZE:
                    self._memo.popitem(last=False)
        from .convert import open_result

        return open_result(path)

    def _plan(
        self, data_id: str, open_params: Mapping[str, Any], opener_id: str | None = None
    ) -> tuple[Plan, DatasetInfo]:
        from eostores.schema import apply_parameter_aliases, resolve_variable_names

        from .planning import make_plan

        schema = self.get_open_data_params_schema(data_id, opener_id)
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
        )
        for piece in plan.pieces[:1] + plan.pieces[-1:]:
            info.constraints.check(piece, data_id=data_id, store_id=STORE_ID)
        return plan, info

    def _fetch(
        self,
        plan: Plan,
        info: DatasetInfo,
        *,
        report: Any = None,
        cancel: threading.Event | None = None,
    ) -> Path:
        """The result file of a plan: from the cache, or fetched, merged and written."""
        from .convert import finish_attrs, merge_pieces, normalise, read_piece, subset, write_result
        from .jobs import JobRunner

        key = plan.key(self._api.endpoint_url)
        path = self._layout.result_path(info.id, key)
        if path.is_file():
            return path
        params = self._store_params
        pieces = self._fit_to_cost_limit(plan, info)

        def prepare(file: Path) -> list[Any]:
            return [
                normalise(ds, plan.bbox, normalize_names=plan.normalize_names)
                for ds in read_piece(file, store_id=STORE_ID, data_id=plan.data_id)
            ]

        runner = JobRunner(
            self._api,
            self._layout,
            info.id,
            data_id=plan.data_id,
            store_id=STORE_ID,
            max_workers=params["max_concurrent_jobs"],
            deadline_s=params["request_deadline"],
            poll_interval=params["poll_interval"],
            poll_interval_max=params["poll_interval_max"],
            allow_split=plan.split,
            licences=info.licences,
            report=report,
            cancel=cancel,
            prepare=prepare,
        )
        datasets = [ds for group in runner.run(pieces) for ds in group]
        try:
            merged = merge_pieces(datasets)
        except (ValueError, TypeError) as error:
            raise DataStoreError(
                f"cannot merge the files the CDS delivered: {error}",
                store_id=STORE_ID,
                data_id=plan.data_id,
            ) from None
        result = subset(merged, plan.bbox, plan.time_range.to_slice())
        result = finish_attrs(
            result, data_id=plan.data_id, dataset_title=info.title, request_key=key
        )
        write_result(result, path)
        for ds in datasets:
            ds.close()
        return path

    def _fit_to_cost_limit(self, plan: Plan, info: DatasetInfo) -> list[dict[str, Any]]:
        """The pieces, split further where the service's cost estimate exceeds its limit."""
        from .planning import piece_key, request_cost, split_to_limit

        endpoint = self._api.endpoint_url
        missing = [
            p
            for p in plan.pieces
            if self._layout.existing_piece(info.id, piece_key(endpoint, info.id, p)) is None
        ]
        if not missing:
            return list(plan.pieces)
        biggest = max(missing, key=request_cost)
        estimate = self._api.costing(info.id, biggest)
        if estimate is None:
            return list(plan.pieces)
        cost, limit = estimate
        scale = cost / max(1, request_cost(biggest))

        def fits(piece: Mapping[str, Any]) -> bool:
            return request_cost(piece) * scale <= limit

        if not plan.split:
            if cost > limit:
                raise InvalidParameterError(
                    _split_advice(plan, cost, limit),
                    store_id=STORE_ID,
                    data_id=plan.data_id,
                    parameter="time_range",
                )
            return list(plan.pieces)
        pieces = []
        for piece in plan.pieces:
            try:
                pieces += split_to_limit(piece, fits)
            except ValueError:
                raise InvalidParameterError(
                    f"a single field of this dataset costs more than the CDS allows "
                    f"({cost:g} > {limit:g})",
                    store_id=STORE_ID,
                    data_id=plan.data_id,
                ) from None
        return pieces

    # -- preloading

    def get_preload_data_params_schema(self) -> JsonObjectSchema:
        from .schema import preload_params_schema

        return preload_params_schema(super().get_preload_data_params_schema())

    def preload_data(self, *data_ids: str, **preload_params: Any) -> PreloadHandle:
        """Submit and track the jobs of each data id; the handle's store opens the results.

        The open parameters (``variable_names``, ``bbox``, ``time_range``, ...) apply to
        every data id; dataset-specific ones go in ``open_params``. Each data id yields
        one result id in ``handle.store`` (a file store over the result cache); opening the
        same request with :meth:`open_data` afterwards reads the same file.
        """
        from eostores.fs.stores import new_fs_data_store
        from eostores.preload import PreloadHandle

        params = self.get_preload_data_params_schema().validate_params(
            preload_params, store_id=STORE_ID
        )
        control = {k: params.pop(k) for k in ("blocking", "silent", "cleanup")}
        extra = dict(params.pop("open_params") or {})
        open_params = {k: v for k, v in params.items() if v is not None}
        open_params.update(extra)
        plans = {}
        for data_id in data_ids:
            plans[data_id] = self._plan(data_id, open_params)
        cache_store = new_fs_data_store(
            "file", root=str(self._layout.results), max_depth=2, read_only=True
        )

        def task(context: PreloadTask) -> list[str]:
            plan, info = plans[context.data_id]
            if not plan.variables:
                raise InvalidParameterError(
                    "nothing to preload: variable_names is empty",
                    store_id=STORE_ID,
                    data_id=context.data_id,
                    parameter="variable_names",
                )
            context.report(0.0, "submitting")
            path = self._fetch(
                plan,
                info,
                report=lambda message, fraction: context.report(0.95 * fraction, message),
                cancel=context.cancel_event,
            )
            return [path.relative_to(self._layout.results).as_posix()]

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


def _split_advice(plan: Plan, cost: float, limit: float) -> str:
    import math

    parts = math.ceil(cost / limit)
    days = max(1, len({s.date() for s in plan.stamps}) // parts)
    return (
        f"the request asks for {cost:g} fields but the CDS allows {limit:g} per request for "
        f"this dataset; split it into at least {parts} requests, e.g. time_range spans of at "
        f"most {days} days each, or fewer variable_names/levels, or open with "
        "split_requests=True to let the store split and merge it"
    )
