"""``search_data``: item search through the API (or a walk of a static catalog), collections."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from eostores.errors import InvalidParameterError
from eostores.schema import parse_bbox, parse_time_range

from .api import item_data_id
from .catalog import collection_descriptor, item_descriptor
from .schema import error_context

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor

    from .store import StacDataStore

__all__ = ["check_filter", "search_collections", "search_items", "stac_datetime"]


def check_filter(value: Any, store_id: str | None = None, data_id: str | None = None) -> Any:
    """Parse a cql2-text (string) or cql2-json (object) filter; InvalidParameterError if bad."""
    import cql2

    try:
        if isinstance(value, str):
            return cql2.parse_text(value)
        return cql2.parse_json(json.dumps(value))
    except (cql2.ParseError, cql2.ValidationError, ValueError, TypeError) as error:
        lines = [line.strip() for line in str(error).splitlines() if line.strip()]
        detail = " ".join(lines[:4]) or type(error).__name__
        raise InvalidParameterError(
            f"filter = {value!r} is not valid CQL2: {detail}",
            store_id=store_id,
            data_id=data_id,
            parameter="filter",
        ) from None


def stac_datetime(time_range: Any) -> str | None:
    """A STAC ``datetime`` interval from a parsed TimeRange (None: no restriction)."""
    if time_range is None or (time_range.start is None and time_range.end is None):
        return None
    return time_range.isoformat(timespec="seconds")


def _context(store: StacDataStore) -> dict[str, Any]:
    return {"store_id": store.store_id}


def search_items(store: StacDataStore, params: Mapping[str, Any]) -> Iterator[DataDescriptor]:
    from .schema import item_open_params_schema

    context = _context(store)
    bbox = _parse(parse_bbox, params.get("bbox"), **context)
    time_range = _parse(parse_time_range, params.get("time_range"), **context)
    expression = params.get("filter")
    if expression is not None:
        check_filter(expression, store.store_id)
    limit = params.get("limit")
    api = store.api
    schema = item_open_params_schema()
    if api.is_api and api.can_search:
        found = api.search(
            max_items=limit,
            collections=params.get("collections"),
            ids=params.get("ids"),
            bbox=list(bbox) if bbox is not None else None,
            datetime=stac_datetime(time_range),
            query=params.get("query"),
            filter=expression,
            sortby=params.get("sortby"),
        )
        for item in found:
            yield item_descriptor(item_data_id(item), item, open_params_schema=schema)
        return
    if params.get("query") is not None or params.get("sortby") is not None:
        raise InvalidParameterError(
            "query and sortby need a STAC API with item search; use filter instead",
            parameter="query" if params.get("query") is not None else "sortby",
            **context,
        )
    parsed_filter = check_filter(expression, store.store_id) if expression is not None else None
    count = 0
    for data_id, item in api.iter_items(with_documents=True):
        assert item is not None
        if not _item_matches(item, params, bbox, time_range, parsed_filter):
            continue
        yield item_descriptor(data_id, item, open_params_schema=schema)
        count += 1
        if limit is not None and count >= limit:
            return


def _item_matches(
    item: Mapping[str, Any], params: Mapping[str, Any], bbox: Any, time_range: Any, expression: Any
) -> bool:
    collections = params.get("collections")
    if collections and item.get("collection") not in collections:
        return False
    ids = params.get("ids")
    if ids and item.get("id") not in ids:
        return False
    box = item.get("bbox")
    if bbox is not None and box and not _boxes_meet(box, bbox):
        return False
    if time_range is not None:
        from .catalog import item_time_range

        if not _times_meet(*item_time_range(item), time_range):
            return False
    return not (expression is not None and not expression.matches(dict(item)))


def _boxes_meet(box: Sequence[float], bbox: Sequence[float]) -> bool:
    """Whether a STAC ``box`` (4 or 6 numbers) intersects ``bbox`` (xmin, ymin, xmax, ymax)."""
    x0, y0, x1, y1 = box[0], box[1], box[-2], box[-1]
    return not (x0 > bbox[2] or x1 < bbox[0] or y0 > bbox[3] or y1 < bbox[1])


def _times_meet(start: str | None, end: str | None, time_range: Any) -> bool:
    """Whether the interval [start, end] (ISO strings, None: open) overlaps ``time_range``."""
    if start and time_range.end and parse_time_range([start, None]).start > time_range.end:
        return False
    return not (end and time_range.start and parse_time_range([end, None]).start < time_range.start)


def search_collections(store: StacDataStore, params: Mapping[str, Any]) -> Iterator[DataDescriptor]:
    """Collections whose extent meets bbox and time_range (filtered on their metadata)."""
    from .catalog import collection_variables
    from .schema import stack_open_params_schema

    context = _context(store)
    bbox = _parse(parse_bbox, params.get("bbox"), **context)
    time_range = _parse(parse_time_range, params.get("time_range"), **context)
    wanted = params.get("collections")
    limit = params.get("limit")
    count = 0
    for collection in store.api.collections():
        if wanted and collection.get("id") not in wanted:
            continue
        variables = collection_variables(collection) or {}
        descriptor = collection_descriptor(
            collection, variables, open_params_schema=stack_open_params_schema(list(variables))
        )
        if not _extent_matches(descriptor, bbox, time_range):
            continue
        yield descriptor
        count += 1
        if limit is not None and count >= limit:
            return


def _extent_matches(descriptor: Any, bbox: Any, time_range: Any) -> bool:
    if bbox is not None and descriptor.bbox is not None and not _boxes_meet(descriptor.bbox, bbox):
        return False
    return (
        time_range is None
        or descriptor.time_range is None
        or _times_meet(*descriptor.time_range, time_range)
    )


def _parse(function: Any, value: Any, **context: Any) -> Any:
    if value is None:
        return None
    with error_context(**context):
        return function(value)
