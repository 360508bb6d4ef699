"""``stac-xcube``: items of an xcube server's STAC opened through the filesystem stores.

An xcube server publishes each dataset as an item whose assets ``analytic`` (a Zarr dataset)
and ``analytic_multires`` (a multi-level ``.levels`` dataset) carry the store to read them
from: ``xcube:data_store_params`` (``root`` and ``storage_options``, the server's own S3
interface) and ``xcube:open_data_params`` (the ``data_id`` in that store).

Those fields come from the service: only S3 is followed, the root and data id must be
relative paths, and the store's S3 credentials go only to the S3 endpoint the user
configured or to the origins that may receive credentials (the catalog's own, and
``asset_origins``); any other endpoint is read anonymously.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eostores.descriptor import DatasetDescriptor, MultiLevelDatasetDescriptor, VariableDescriptor
from eostores.errors import DataNotFoundError, InvalidParameterError, ServiceError

from . import schema
from .catalog import StacCatalog
from .config import origin_of
from .records import Item

__all__ = [
    "data_types_of",
    "describe_xcube_item",
    "open_params_schema",
    "open_xcube_item",
    "validate_xcube_params",
]

_ASSETS = {"dataset": "analytic", "mldataset": "analytic_multires"}
_FORMATS = {"dataset": "zarr", "mldataset": "levels"}


def _asset(item: Item, data_type: str) -> Mapping[str, Any] | None:
    asset = (item.document.get("assets") or {}).get(_ASSETS[data_type])
    if not isinstance(asset, Mapping) or not isinstance(
        asset.get("xcube:data_store_params"), Mapping
    ):
        return None
    return asset


def data_types_of(item: Item) -> tuple[str, ...]:
    """The data types an xcube item can be opened as, ``dataset`` first."""
    return tuple(t for t in ("dataset", "mldataset") if _asset(item, t) is not None)


def _variables(item: Item) -> dict[str, Any]:
    variables = item.properties.get("cube:variables") or {}
    if not isinstance(variables, Mapping):
        return {}
    return {
        k: v
        for k, v in variables.items()
        if isinstance(v, Mapping) and v.get("type", "data") == "data"
    }


def _crs(item: Item) -> str:
    """The CRS of the item's x/y dimensions (datacube extension; EPSG:4326 by default)."""
    dimensions = item.properties.get("cube:dimensions") or {}
    if isinstance(dimensions, Mapping):
        for dimension in dimensions.values():
            if isinstance(dimension, Mapping) and dimension.get("type") == "spatial":
                system = dimension.get("reference_system")
                if isinstance(system, int) and not isinstance(system, bool):
                    return f"EPSG:{system}"
                if isinstance(system, str) and system:
                    return system
    return "EPSG:4326"


def wants_levels(data_type: Any) -> bool:
    from eostores.datatype import DataType

    return DataType.normalize(data_type).alias == "mldataset"


def chosen_data_type(item: Item, data_type: Any, store_id: str) -> str:
    """The data type to open ``item`` as; errors name what the item offers."""
    from eostores.datatype import DataType

    available = data_types_of(item)
    if not available:
        raise DataNotFoundError(
            "the item has no xcube data assets (analytic, analytic_multires)",
            store_id=store_id,
            data_id=item.data_id,
        )
    wanted = DataType.normalize(data_type).alias
    if wanted == "any":
        return available[0]
    if wanted not in available:
        raise InvalidParameterError(
            f"the item cannot be opened as {wanted!r}; allowed: {', '.join(available)}",
            store_id=store_id,
            data_id=item.data_id,
            parameter="data_type",
        )
    return wanted


def open_params_schema(item: Item | None, data_type: str) -> Any:
    """The filesystem store's open parameters of the asset's format, variables restricted."""
    from eostores.fs.formats import get_handler
    from eostores.schema import variable_names_schema

    schema_ = get_handler(_FORMATS[data_type]).get_open_params_schema(data_type)
    if item is not None and _variables(item) and "variable_names" in schema_.properties:
        schema_.properties["variable_names"] = variable_names_schema(list(_variables(item)))
    return schema_


def describe_xcube_item(item: Item, data_type: Any, store_id: str) -> DatasetDescriptor:
    """Describe the item from its datacube-extension metadata (no data read)."""
    chosen = chosen_data_type(item, data_type, store_id)
    dimensions = item.properties.get("cube:dimensions") or {}
    data_vars = {
        name: VariableDescriptor(
            name,
            str(meta.get("data_type") or "float32"),
            tuple(meta.get("dimensions") or ()),
            attrs={k: v for k, v in meta.items() if k in ("unit", "description")},
        )
        for name, meta in _variables(item).items()
    }
    cls = DatasetDescriptor if chosen == "dataset" else MultiLevelDatasetDescriptor
    return cls(
        data_id=item.data_id,
        crs=_crs(item),
        bbox=item.bbox,
        time_range=(item.start, item.end),
        data_vars=data_vars,
        attrs={"stac_item_id": item.id, "dimensions": list(dimensions)},
        open_params_schema=open_params_schema(item, chosen),
    )


def validate_xcube_params(
    open_params: Mapping[str, Any], data_type: Any, *, store_id: str, data_id: str
) -> dict[str, Any]:
    """The open parameters checked by the filesystem store's schema; no request."""
    from eostores.schema import parse_bbox, parse_time_range

    context = dict(store_id=store_id, data_id=data_id)
    syntax = open_params_schema(None, "mldataset" if wants_levels(data_type) else "dataset")
    params = syntax.validate_params(open_params, **context)
    try:
        if params.get("bbox") is not None:
            parse_bbox(params["bbox"], geographic=False)
        if params.get("time_range") is not None:
            parse_time_range(params["time_range"])
    except InvalidParameterError as error:
        raise InvalidParameterError(error.message, parameter=error.parameter, **context) from None
    return params


def _check_against_item(item: Item, params: Mapping[str, Any], store_id: str) -> None:
    """Variables and bbox checked against the item's metadata, before the data is touched."""
    from eostores.schema import parse_bbox

    context = dict(store_id=store_id, data_id=item.data_id)
    known = _variables(item)
    wanted = params.get("variable_names")
    if known and wanted:
        unknown = [name for name in wanted if name not in known]
        if unknown:
            raise InvalidParameterError(
                f"unknown variable(s) {unknown}; allowed: {', '.join(known)}",
                parameter="variable_names",
                **context,
            )
    crs = params.get("crs") or _crs(item)
    if params.get("bbox") is not None:
        geographic = schema.crs_is_geographic(crs, **context)
        try:
            parse_bbox(params["bbox"], geographic=geographic)
        except InvalidParameterError as error:
            raise InvalidParameterError(error.message, parameter="bbox", **context) from None


def storage_options_for(catalog: StacCatalog, service_options: Mapping[str, Any]) -> dict[str, Any]:
    """s3fs options: the service's endpoint, the store's credentials only where allowed."""
    own = catalog.settings.s3_options()
    own.pop("config_kwargs", None)
    client_kwargs = dict(own.pop("client_kwargs", {}))
    service_client = service_options.get("client_kwargs") or {}
    endpoint = service_client.get("endpoint_url") if isinstance(service_client, Mapping) else None
    if isinstance(endpoint, str) and endpoint:
        trusted = set(catalog.settings.credential_origins)
        if catalog.settings.s3.endpoint_url:
            trusted.add(origin_of(catalog.settings.s3.endpoint_url))
        if origin_of(endpoint) not in trusted:
            own = {}
        client_kwargs["endpoint_url"] = endpoint
    if service_options.get("anon") is True or not own.get("key"):
        # Never let botocore look for credentials of its own (environment, files).
        own = {"anon": True}
    return {**own, "client_kwargs": client_kwargs}


def open_xcube_item(
    catalog: StacCatalog, item: Item, params: Mapping[str, Any], data_type: Any
) -> Any:
    """Open the item's asset through the filesystem store named by its xcube fields."""
    from eostores.fs import new_fs_data_store
    from eostores.paths import relative_path

    store_id = catalog.store_id
    context = dict(store_id=store_id, data_id=item.data_id)
    chosen = chosen_data_type(item, data_type, store_id)
    _check_against_item(item, params, store_id)
    asset = _asset(item, chosen)
    assert asset is not None
    protocol = asset.get("xcube:data_store_id") or "s3"
    if protocol != "s3":
        raise ServiceError(
            f"the asset names the data store {protocol!r}; only 's3' is followed", **context
        )
    store_params = asset.get("xcube:data_store_params") or {}
    options = store_params.get("storage_options") or {}
    target = (asset.get("xcube:open_data_params") or {}).get("data_id")
    if not isinstance(target, str) or not target:
        raise DataNotFoundError("the asset names no data id (xcube:open_data_params)", **context)
    root = relative_path(str(store_params.get("root", "")), from_service=True, **context)
    target = relative_path(target, from_service=True, **context)
    fs_store = new_fs_data_store(
        "s3",
        root=root,
        storage_options=storage_options_for(
            catalog, options if isinstance(options, Mapping) else {}
        ),
    )
    try:
        return fs_store.open_data(target, data_type=chosen, **params)
    except (DataNotFoundError, InvalidParameterError) as error:
        raise type(error)(error.message, parameter=error.parameter, **context) from None
