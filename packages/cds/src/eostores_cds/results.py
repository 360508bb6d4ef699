"""The result file of a plan: from the cache, or fetched through jobs, merged and written.

One writer per result: whoever produces it holds the result's lock file, so that any
number of threads, processes and store instances asking for the same request wait for
one producer and then read its file. Requests whose estimated cost exceeds the
service's limit are split further before any job is submitted.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eostores.errors import DataStoreError, InvalidParameterError

from .api import CdsApi
from .catalog import DatasetInfo
from .convert import (
    finish_attrs,
    is_unpacked,
    merge_pieces,
    normalise,
    read_piece,
    subset,
    unpack_piece,
    write_result,
)
from .jobs import JobRunner, ProgressReport
from .layout import CacheLayout, file_lock
from .plan import Plan, piece_key, request_cost, split_to_limit

__all__ = ["JobSettings", "result_file"]


@dataclass(frozen=True)
class JobSettings:
    """How jobs are run: concurrency, polling and the deadline of the user's call."""

    max_workers: int
    poll_interval: float
    poll_interval_max: float
    deadline_s: float
    deadline_at: float


def result_file(
    plan: Plan,
    info: DatasetInfo,
    api: CdsApi,
    layout: CacheLayout,
    settings: JobSettings,
    *,
    store_id: str,
    report: ProgressReport | None = None,
    cancel: threading.Event | None = None,
) -> Path:
    """The path of the plan's result, fetching and writing it unless it is cached."""
    key = plan.key(api.endpoint_url)
    path = layout.result_path(info.id, key)
    if path.is_file():
        return path
    with file_lock(
        path.with_name(path.name + ".lock"),
        what="the result of this request",
        deadline_at=settings.deadline_at,
        cancel=cancel,
        store_id=store_id,
        data_id=plan.data_id,
    ):
        if not path.is_file():  # else produced by another thread, process or store meanwhile
            _produce(plan, info, api, layout, settings, key, path, store_id, report, cancel)
    return path


def _produce(
    plan: Plan,
    info: DatasetInfo,
    api: CdsApi,
    layout: CacheLayout,
    settings: JobSettings,
    key: str,
    path: Path,
    store_id: str,
    report: ProgressReport | None,
    cancel: threading.Event | None,
) -> None:
    pieces = _fit_to_cost_limit(plan, info, api, layout, store_id)

    def prepare(file: Path) -> list[Any]:
        return [
            normalise(ds, plan.bbox, normalize_names=plan.normalize_names)
            for ds in read_piece(file, store_id=store_id, data_id=plan.data_id)
        ]

    runner = JobRunner(
        api,
        layout,
        info.id,
        data_id=plan.data_id,
        store_id=store_id,
        max_workers=settings.max_workers,
        deadline_at=settings.deadline_at,
        deadline_s=settings.deadline_s,
        poll_interval=settings.poll_interval,
        poll_interval_max=settings.poll_interval_max,
        allow_split=plan.split,
        licences=info.licences,
        report=report,
        cancel=cancel,
        prepare=prepare,
        unpack=unpack_piece,
        is_unpacked=is_unpacked,
    )
    datasets = [ds for group in runner.run(pieces) for ds in group]
    try:
        try:
            merged = merge_pieces(datasets)
        except (ValueError, TypeError) as error:
            raise DataStoreError(
                f"cannot merge the files the CDS delivered: {error}",
                store_id=store_id,
                data_id=plan.data_id,
            ) from None
        result = subset(merged, plan.bbox, plan.time_range.to_slice())
        result = finish_attrs(
            result, data_id=plan.data_id, dataset_title=info.title, request_key=key
        )
        write_result(result, path)
    finally:
        for ds in datasets:
            ds.close()


def _fit_to_cost_limit(
    plan: Plan, info: DatasetInfo, api: CdsApi, layout: CacheLayout, store_id: str
) -> list[dict[str, Any]]:
    """The pieces, split further where the service's cost estimate exceeds its limit."""
    endpoint = api.endpoint_url
    missing = [
        p
        for p in plan.pieces
        if layout.existing_piece(info.id, piece_key(endpoint, info.id, p)) is None
    ]
    if not missing:
        return list(plan.pieces)
    biggest = max(missing, key=request_cost)
    estimate = api.costing(info.id, biggest)
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
                store_id=store_id,
                data_id=plan.data_id,
                parameter="time_range",
            )
        return list(plan.pieces)
    pieces: list[dict[str, Any]] = []
    for piece in plan.pieces:
        try:
            pieces += split_to_limit(piece, fits)
        except ValueError:
            raise InvalidParameterError(
                f"a single field of this dataset costs more than the CDS allows "
                f"({cost:g} > {limit:g})",
                store_id=store_id,
                data_id=plan.data_id,
            ) from None
    return pieces


def _split_advice(plan: Plan, cost: float, limit: float) -> str:
    parts = math.ceil(cost / limit)
    days = max(1, len({s.date() for s in plan.stamps}) // parts)
    return (
        f"the request asks for {cost:g} fields but the CDS allows {limit:g} per request for "
        f"this dataset; split it into at least {parts} requests, e.g. time_range spans of at "
        f"most {days} days each, or fewer variable_names/levels, or open with "
        "split_requests=True to let the store split and merge it"
    )
