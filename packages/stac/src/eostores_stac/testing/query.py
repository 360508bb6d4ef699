"""Item search as the emulator answers it: parameters of GET and POST searches, matching.

Follows the STAC API item-search specification with the query, sort and filter (cql2-text
and cql2-json) extensions; Cache-A's narrower set of search attributes is checked by
:func:`check_cachea_params`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "BadRequest",
    "boxes_intersect",
    "check_cachea_params",
    "flat_box",
    "instant",
    "matching_items",
    "normalize_params",
    "page_limit",
    "sorted_items",
    "token_offset",
]

QUERY_OPERATORS = {
    "eq",
    "neq",
    "lt",
    "lte",
    "gt",
    "gte",
    "startsWith",
    "endsWith",
    "contains",
    "in",
}
CLOUD_OPERATORS = {"<", "<=", ">", ">=", "="}


class BadRequest(Exception):
    """A client error answered with 400 and a STAC API error document."""


def page_limit(value: Any, default: int, maximum: int) -> int:
    if value in (None, ""):
        return default
    try:
        limit = int(value)
    except (TypeError, ValueError):
        raise BadRequest(f"limit = {value!r} is not an integer") from None
    if limit < 1:
        raise BadRequest("limit must be >= 1")
    return min(limit, maximum)


def token_offset(token: Any) -> int:
    if token in (None, ""):
        return 0
    if not isinstance(token, str) or not token.startswith("next:"):
        raise BadRequest(f"invalid paging token {token!r}")
    try:
        return max(0, int(token[5:]))
    except ValueError:
        raise BadRequest(f"invalid paging token {token!r}") from None


def split_list(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    raise BadRequest(f"expected a list of strings, got {value!r}")


def instant(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise BadRequest(f"invalid date-time {text!r}") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value


def interval(value: Any) -> tuple[datetime | None, datetime | None]:
    if not isinstance(value, str) or not value:
        raise BadRequest(f"datetime = {value!r} must be an RFC 3339 instant or interval")
    if "/" in value:
        first, _, last = value.partition("/")
        start = None if first in ("", "..") else instant(first)
        end = None if last in ("", "..") else instant(last)
        if start is None and end is None:
            raise BadRequest("datetime: at least one end of the interval must be given")
        if start is not None and end is not None and start > end:
            raise BadRequest("datetime: the start is after the end")
        return start, end
    moment = instant(value)
    return moment, moment


def normalize_params(params: dict[str, Any]) -> dict[str, Any]:
    """Search parameters from a GET query or a POST body in one checked form."""
    import cql2

    result: dict[str, Any] = {}
    known = {
        "collections", "ids", "bbox", "intersects", "datetime", "limit", "token", "query",
        "filter", "filter-lang", "filter_lang", "sortby", "fields", "filter-crs",
    }  # fmt: skip
    unknown = set(params) - known
    if unknown:
        raise BadRequest(f"unknown search parameter(s): {', '.join(sorted(unknown))}")
    result["collections"] = split_list(params.get("collections"))
    result["ids"] = split_list(params.get("ids"))
    if params.get("bbox") is not None:
        raw = params["bbox"]
        parts = raw.split(",") if isinstance(raw, str) else raw
        try:
            box = flat_box([float(v) for v in parts])
        except (TypeError, ValueError):
            raise BadRequest(f"bbox = {raw!r} must be 4 or 6 numbers") from None
        if len(box) != 4 or box[1] > box[3]:
            raise BadRequest(f"bbox = {raw!r} must be 4 or 6 numbers, south <= north")
        result["bbox"] = box
    if params.get("intersects") is not None:
        geometry = params["intersects"]
        if isinstance(geometry, str):
            try:
                geometry = json.loads(geometry)
            except ValueError:
                raise BadRequest("intersects must be a GeoJSON geometry") from None
        if not isinstance(geometry, dict) or "type" not in geometry:
            raise BadRequest("intersects must be a GeoJSON geometry")
        if result.get("bbox") is not None:
            raise BadRequest("bbox and intersects must not be given together")
        result["intersects"] = geometry
    if params.get("datetime") is not None:
        result["datetime"] = interval(params["datetime"])
    query = params.get("query")
    if query is not None:
        if isinstance(query, str):
            try:
                query = json.loads(query)
            except ValueError:
                raise BadRequest("query must be a JSON object") from None
        if not isinstance(query, dict):
            raise BadRequest("query must be a JSON object")
        for name, ops in query.items():
            if not isinstance(ops, dict) or not set(ops) <= QUERY_OPERATORS:
                raise BadRequest(
                    f"query on {name!r}: operators must be among {sorted(QUERY_OPERATORS)}"
                )
        result["query"] = query
    expression = params.get("filter")
    if expression is not None:
        language = params.get("filter-lang") or params.get("filter_lang")
        if language is None:
            language = "cql2-text" if isinstance(expression, str) else "cql2-json"
        try:
            if language == "cql2-text" and isinstance(expression, str):
                parsed = cql2.parse_text(expression)
            elif language == "cql2-json":
                text = expression if isinstance(expression, str) else json.dumps(expression)
                parsed = cql2.parse_json(text)
            else:
                raise BadRequest(f"filter-lang {language!r} is not supported")
        except (cql2.ParseError, cql2.ValidationError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise BadRequest(f"invalid filter: {first}") from None
        result["filter"] = parsed
        result["filter_json"] = parsed.to_json()
    if params.get("sortby") is not None:
        result["sortby"] = parse_sortby(params["sortby"])
    return result


def parse_sortby(value: Any) -> list[tuple[str, bool]]:
    fields: list[tuple[str, bool]] = []
    if isinstance(value, str):
        for part in value.split(","):
            part = part.strip()
            if not part:
                continue
            descending = part.startswith("-")
            fields.append((part.lstrip("+-"), descending))
    elif isinstance(value, list):
        for entry in value:
            if not isinstance(entry, dict) or "field" not in entry:
                raise BadRequest("sortby entries must be objects with 'field' and 'direction'")
            direction = entry.get("direction", "asc")
            if direction not in ("asc", "desc"):
                raise BadRequest(f"sortby direction {direction!r} must be asc or desc")
            fields.append((entry["field"], direction == "desc"))
    else:
        raise BadRequest("sortby must be a string or a list")
    return fields


def item_field(item: dict[str, Any], name: str) -> Any:
    if name.startswith("properties."):
        return item["properties"].get(name[len("properties.") :])
    if name in ("id", "collection"):
        return item.get(name)
    return item["properties"].get(name)


def sorted_items(
    items: list[dict[str, Any]], fields: list[tuple[str, bool]]
) -> list[dict[str, Any]]:
    result = list(items)
    for name, descending in reversed(fields):
        present = [i for i in result if item_field(i, name) is not None]
        missing = [i for i in result if item_field(i, name) is None]
        present.sort(key=lambda i: item_field(i, name), reverse=descending)
        result = present + missing
    return result


def query_matches(item: dict[str, Any], query: dict[str, Any]) -> bool:
    for name, ops in query.items():
        value = item_field(item, name)
        for op, operand in ops.items():
            if value is None:
                return False
            try:
                ok = {
                    "eq": lambda v, o: v == o,
                    "neq": lambda v, o: v != o,
                    "lt": lambda v, o: v < o,
                    "lte": lambda v, o: v <= o,
                    "gt": lambda v, o: v > o,
                    "gte": lambda v, o: v >= o,
                    "startsWith": lambda v, o: str(v).startswith(str(o)),
                    "endsWith": lambda v, o: str(v).endswith(str(o)),
                    "contains": lambda v, o: str(o) in str(v),
                    "in": lambda v, o: v in o,
                }[op](value, operand)
            except TypeError:
                raise BadRequest(f"query on {name!r}: cannot compare with {operand!r}") from None
            if not ok:
                return False
    return True


def flat_box(box: Sequence[float]) -> list[float]:
    """A bbox's 2-D corners: 6 numbers are ``[xmin, ymin, zmin, xmax, ymax, zmax]``."""
    if len(box) == 6:
        return [box[0], box[1], box[3], box[4]]
    return list(box)


def boxes_intersect(a: Sequence[float], b: Sequence[float]) -> bool:
    """Whether two bboxes (4 or 6 numbers each) intersect."""
    ax0, ay0, ax1, ay1 = flat_box(a)
    bx0, by0, bx1, by1 = flat_box(b)
    return not (ax0 > bx1 or ax1 < bx0 or ay0 > by1 or ay1 < by0)


def check_cachea_params(params: dict[str, Any]) -> None:
    """Cache-A supports bbox, datetime, ids and ``eo:cloud_cover`` comparisons only."""
    if params.get("query") is not None:
        raise BadRequest("the query extension is not supported; use filter=eo:cloud_cover<20")
    if params.get("intersects") is not None:
        raise BadRequest("intersects is not supported; use bbox")
    if params.get("sortby") is not None:
        raise BadRequest("sortby is not supported")
    expression = params.get("filter_json")
    if expression is not None:
        check_cloud_filter(expression)


def check_cloud_filter(node: Any) -> None:
    if not isinstance(node, dict) or "op" not in node:
        raise BadRequest("filter: only eo:cloud_cover comparisons are supported")
    op = node["op"]
    args = node.get("args", [])
    if op == "and":
        for arg in args:
            check_cloud_filter(arg)
        return
    if op not in CLOUD_OPERATORS or len(args) != 2:
        raise BadRequest(f"filter: operator {op!r} is not supported")
    names = [a.get("property") for a in args if isinstance(a, dict)]
    if names != ["eo:cloud_cover"] or not isinstance(args[1], int | float):
        raise BadRequest("filter: only eo:cloud_cover can be filtered (e.g. eo:cloud_cover<20)")


def matching_items(
    items: list[dict[str, Any]], params: dict[str, Any], known_collections: Iterable[str]
) -> list[dict[str, Any]]:
    """The items meeting normalised search ``params`` (see :func:`normalize_params`)."""
    collections = params.get("collections")
    if collections:
        known = set(known_collections)
        items = [i for i in items if i["collection"] in collections and i["collection"] in known]
    ids = params.get("ids")
    if ids:
        items = [i for i in items if i["id"] in ids]
    bbox = params.get("bbox")
    if bbox is not None:
        items = [i for i in items if boxes_intersect(i["bbox"], bbox)]
    geometry = params.get("intersects")
    if geometry is not None:
        from shapely.geometry import shape

        area = shape(geometry)
        items = [i for i in items if shape(i["geometry"]).intersects(area)]
    window = params.get("datetime")
    if window is not None:
        start, end = window
        items = [i for i in items if _within(i["properties"], start, end)]
    query = params.get("query")
    if query:
        items = [i for i in items if query_matches(i, query)]
    expression = params.get("filter")
    if expression is not None:
        items = [i for i in items if expression.matches(i)]
    return items


def _within(properties: dict[str, Any], start: datetime | None, end: datetime | None) -> bool:
    """Whether an item's time (or its start/end interval) meets [start, end]."""
    first = properties.get("start_datetime") or properties.get("datetime")
    last = properties.get("end_datetime") or properties.get("datetime")
    if first is None or last is None:
        return False
    return (end is None or instant(first) <= end) and (start is None or instant(last) >= start)
