"""``search_data``: items by item search (or a walk of a static catalog), or collections."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from eostores.errors import InvalidParameterError
from eostores.schema import parse_bbox, parse_time_range

from . import schema
from .catalog import (
    StacCatalog,
    boxes_meet,
    collection_descriptor,
    item_descriptor,
    times_meet,
)

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor

__all__ = ["parse_search_params", "search_collections", "search_items"]


def parse_search_params(params: Mapping[str, Any], store_id: str) -> dict[str, Any]:
    """Validated search parameters with bbox, time_range and filter parsed; no request."""
    parsed = dict(params)
    try:
        if params.get("bbox") is not None:
            parsed["bbox"] = parse_bbox(params["bbox"])
        if params.get("time_range") is not None:
            parsed["time_range"] = parse_time_range(params["time_range"])
    except InvalidParameterError as error:
        raise InvalidParameterError(
            error.message, store_id=store_id, parameter=error.parameter
        ) from None
    if params.get("filter") is not None:
        parsed["expression"] = schema.check_filter(params["filter"], store_id)
    return parsed


def search_items(catalog: StacCatalog, params: Mapping[str, Any]) -> Iterator[DataDescriptor]:
    """Descriptors of the matching items, from the search response: no request per item."""
    open_schema = schema.item_open_params_schema()
    found = catalog.find_items(
        collections=params.get("collections"),
        ids=params.get("ids"),
        bbox=params.get("bbox"),
        time_range=params.get("time_range"),
        query=params.get("query"),
        filter=params.get("filter"),
        expression=params.get("expression"),
        sortby=params.get("sortby"),
        limit=params.get("limit"),
    )
    for item in found:
        yield item_descriptor(item, open_params_schema=open_schema)


def search_collections(catalog: StacCatalog, params: Mapping[str, Any]) -> Iterator[DataDescriptor]:
    """Collections whose extent meets bbox and time_range (filtered on their metadata)."""
    wanted = params.get("collections")
    bbox, time_range, limit = params.get("bbox"), params.get("time_range"), params.get("limit")
    count = 0
    for collection in catalog.collections():
        if wanted and collection.id not in wanted:
            continue
        if (
            bbox is not None
            and collection.bbox is not None
            and not boxes_meet(collection.bbox, bbox)
        ):
            continue
        interval = collection.interval
        if (
            time_range is not None
            and interval is not None
            and not times_meet(*interval, time_range)
        ):
            continue
        variables = dict(collection.variables or {})
        yield collection_descriptor(
            collection,
            variables,
            open_params_schema=schema.stack_open_params_schema(list(variables), catalog.store_id),
        )
        count += 1
        if limit is not None and count >= limit:
            return
