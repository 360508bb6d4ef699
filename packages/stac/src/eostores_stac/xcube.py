"""``stac-xcube``: items of an xcube server's STAC opened through the filesystem stores.

An xcube server publishes each dataset as an item whose assets ``analytic`` (a Zarr dataset)
and ``analytic_multires`` (a multi-level ``.levels`` dataset) carry the store to read them
from: ``xcube:data_store_params`` (``root`` and ``storage_options``, typically the server's
own S3 interface) and ``xcube:open_data_params`` (the ``data_id`` in that store).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from eostores.descriptor import DatasetDescriptor, MultiLevelDatasetDescriptor, VariableDescriptor
from eostores.errors import DataNotFoundError, InvalidParameterError

if TYPE_CHECKING:
    from .store import StacXcubeDataStore

__all__ = ["data_types_of", "describe_xcube_item", "open_params_schema", "open_xcube_item"]

_ASSETS = {"dataset": "analytic", "mldataset": "analytic_multires"}
_FORMATS = {"dataset": "zarr", "mldataset": "levels"}


def _asset(item: Mapping[str, Any], data_type: str) -> Mapping[str, Any] | None:
    asset = (item.get("assets") or {}).get(_ASSETS[data_type])
    if asset is None or "xcube:data_store_params" not in asset:
        return None
    return asset


def data_types_of(item: Mapping[str, Any]) -> tuple[str, ...]:
    """The data types an xcube item can be opened as, ``dataset`` first."""
    return tuple(t for t in ("dataset", "mldataset") if _asset(item, t) is not None)


def _variables(item: Mapping[str, Any]) -> dict[str, Any]:
    properties = item.get("properties", {})
    variables = properties.get("cube:variables") or {}
    return {k: v for k, v in variables.items() if v.get("type", "data") == "data"}


def _data_type(
    item: Mapping[str, Any], data_type: Any, store: StacXcubeDataStore, data_id: str
) -> str:
    from eostores.datatype import DataType

    available = data_types_of(item)
    if not available:
        raise DataNotFoundError(
            "the item has no xcube data assets (analytic, analytic_multires)",
            store_id=store.store_id,
            data_id=data_id,
        )
    wanted = DataType.normalize(data_type).alias
    if wanted == "any":
        return available[0]
    if wanted not in available:
        raise InvalidParameterError(
            f"the item cannot be opened as {wanted!r}; allowed: {', '.join(available)}",
            store_id=store.store_id,
            data_id=data_id,
            parameter="data_type",
        )
    return wanted


def open_params_schema(item: Mapping[str, Any] | None, data_type: str) -> Any:
    """The filesystem store's open parameters of the asset's format, variables restricted."""
    from eostores.fs.formats import get_handler
    from eostores.schema import variable_names_schema

    schema = get_handler(_FORMATS[data_type]).get_open_params_schema(data_type)
    if item is not None and _variables(item) and "variable_names" in schema.properties:
        schema.properties["variable_names"] = variable_names_schema(list(_variables(item)))
    return schema


def describe_xcube_item(
    store: StacXcubeDataStore, data_id: str, item: Mapping[str, Any], data_type: Any
) -> DatasetDescriptor:
    """Describe the item from its datacube-extension metadata (no data read)."""
    from .catalog import flat_bbox, item_time_range

    chosen = _data_type(item, data_type, store, data_id)
    properties = item.get("properties", {})
    dimensions = properties.get("cube:dimensions") or {}
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
        data_id=data_id,
        crs="EPSG:4326",
        bbox=flat_bbox(item.get("bbox")),
        time_range=item_time_range(item),
        data_vars=data_vars,
        attrs={"stac_item_id": item.get("id"), "dimensions": list(dimensions)},
        open_params_schema=open_params_schema(item, chosen),
    )


def open_xcube_item(
    store: StacXcubeDataStore, data_id: str, open_params: Mapping[str, Any], data_type: Any
) -> Any:
    """Open the item's asset through the filesystem store named by its xcube fields."""
    from eostores.fs import new_fs_data_store
    from eostores.schema import parse_bbox, parse_time_range

    from .schema import error_context

    context = dict(store_id=store.store_id, data_id=data_id)
    syntax = open_params_schema(None, "mldataset" if _wants_levels(data_type) else "dataset")
    params = syntax.validate_params(open_params, **context)
    with error_context(**context):
        if params.get("bbox") is not None:
            parse_bbox(params["bbox"], geographic=False)
        if params.get("time_range") is not None:
            parse_time_range(params["time_range"])
    item = store._item(data_id)
    chosen = _data_type(item, data_type, store, data_id)
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
    asset = _asset(item, chosen)
    assert asset is not None
    store_params = dict(asset.get("xcube:data_store_params") or {})
    protocol = str(asset.get("xcube:data_store_id") or "s3")
    options = dict(store_params.get("storage_options") or {})
    if protocol == "s3":
        own = store._s3_options()
        own.pop("config_kwargs", None)
        client_kwargs = {**own.pop("client_kwargs", {}), **options.get("client_kwargs", {})}
        options = {**own, **options, "client_kwargs": client_kwargs}
        if options.get("anon"):
            options.pop("key", None)
            options.pop("secret", None)
            options.pop("token", None)
    fs_store = new_fs_data_store(
        protocol, root=str(store_params.get("root", "")), storage_options=options
    )
    target = (asset.get("xcube:open_data_params") or {}).get("data_id")
    if not target:
        raise DataNotFoundError("the asset names no data id (xcube:open_data_params)", **context)
    try:
        return fs_store.open_data(target, data_type=chosen, **params)
    except (DataNotFoundError, InvalidParameterError) as error:
        raise type(error)(error.message, parameter=error.parameter, **context) from None


def _wants_levels(data_type: Any) -> bool:
    from eostores.datatype import DataType

    return DataType.normalize(data_type).alias == "mldataset"
