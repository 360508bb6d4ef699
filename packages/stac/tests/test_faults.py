"""Injected faults: throttled searches, failing and broken responses, deadlines."""

from __future__ import annotations

import time

import numpy as np
import pytest
from eostores_stac.testing import StacEmulator

from eostores import new_data_store
from eostores.errors import QuotaExceededError
from eostores.testing import FaultProfile


def test_search_429_with_retry_after_is_waited_out(api_log, fast_http):
    store = new_data_store("stac", **api_log.store_params(), **fast_http)
    api_log.faults = FaultProfile(
        paths=r"/search", fail_first=2, error_statuses=(429,), retry_after=0.5
    )
    started = time.monotonic()
    found = list(store.search_data(collections=["sentinel-2-l2a"], limit=3))
    elapsed = time.monotonic() - started
    assert len(found) == 3
    statuses = [r.status for r in api_log.request_log if r.path == "/search"]
    assert statuses[:3] == [429, 429, 200]
    assert elapsed >= 1.0, "Retry-After was honoured"


def test_persistent_429_gives_quota_exceeded(api_log):
    store = new_data_store("stac", **api_log.store_params(), num_retries=2, retry_backoff_base=0.01)
    api_log.faults = FaultProfile(
        paths=r"/search", error_rate=1.0, error_statuses=(429,), retry_after=0
    )
    with pytest.raises(QuotaExceededError, match="search"):
        list(store.search_data(limit=3))
    assert len([r for r in api_log.request_log if r.path == "/search"]) == 3


def test_dropped_and_truncated_item_responses_are_retried(api_log, fast_http):
    store = new_data_store("stac", **api_log.store_params(), **fast_http)
    data_id = api_log.item_data_id(api_log.data.scenes[0].item_id)
    api_log.faults = FaultProfile(paths=r".*/items/.*", drop_rate=0.4, truncate_rate=0.4, seed=3)
    descriptor = store.describe_data(data_id)
    assert "B04" in descriptor.data_vars


def test_asset_503s_are_retried_while_computing_a_cube(api_emulator, fast_http):
    with StacEmulator(mode="api", data_dir=str(api_emulator.data.root), many_items=0) as emulator:
        store = new_data_store("stac", stack_mode=True, **emulator.store_params(), **fast_http)
        emulator.faults = FaultProfile(
            paths=r"/data/.*", error_rate=0.3, error_statuses=(503,), retry_after=0, seed=11
        )
        cube = store.open_data(
            "sentinel-2-l2a",
            variable_names=["B02", "aot"],
            bbox=[11.95, 50.07, 12.05, 50.12],
            crs="EPSG:4326",
            spatial_res=0.001,
            time_range=["2024-06-01", "2024-06-06"],
        ).compute()
        injected = [r for r in emulator.request_log if r.fault == "error"]
    assert injected, "faults were injected"
    assert np.isfinite(cube.B02.values).mean() > 0.9
    assert np.isfinite(cube.aot.values).mean() > 0.9
