"""Service faults: retried where sensible, bounded in time, reported with the service's words."""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import BBOX, DAY, ITEMS_PATH, SM, requests_to
from test_open import check_values

from eostores.errors import AuthenticationError, DataStoreTimeoutError, ServiceError

OPEN = dict(time_range=[DAY, DAY], bbox=BBOX, res_level=2, variable_names=["Soil_Moisture"])
ARCHIVE = "/eodata/.*"


def test_catalogue_503s_are_retried(store, emulator):
    emulator.faults = {"fail_first": 2, "error_statuses": [503], "retry_after": 0}
    cube = store.open_data(SM, **OPEN)
    searches = requests_to(emulator, ITEMS_PATH)
    assert [r.status for r in searches] == [503, 503, 200]
    assert cube.sizes["time"] >= 2


def test_catalogue_429_waits_for_retry_after(emulator, make_store):
    store = make_store(emulator, retry_backoff_max=5)  # Retry-After is honoured up to it
    emulator.faults = {"fail_first": 1, "error_statuses": [429], "retry_after": 1}
    started = time.monotonic()
    store.open_data(SM, **OPEN)
    assert time.monotonic() - started >= 0.9
    assert [r.status for r in requests_to(emulator, ITEMS_PATH)] == [429, 200]


def test_a_failing_catalogue_gives_up_in_time_with_its_message(emulator, make_store):
    store = make_store(emulator, num_retries=2)
    emulator.faults = {"error_rate": 1.0, "error_statuses": [500], "retry_after": 0}
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        store.open_data(SM, **OPEN)
    assert time.monotonic() - started < 10
    assert "emulated fault" in str(caught.value) and caught.value.status == 500
    assert len(requests_to(emulator, ITEMS_PATH)) == 3


def test_dropped_connections_and_truncated_bodies_are_retried(emulator, make_store):
    store = make_store(emulator, num_retries=8)
    emulator.faults = {"drop_rate": 0.3, "truncate_rate": 0.3, "seed": 5}
    cube = store.open_data(SM, **OPEN).compute()
    check_values(cube, SM, "Soil_Moisture", min_filled=0.01)
    faults = [r.fault for r in emulator.request_log if r.fault]
    assert "drop" in faults and "truncate" in faults


def test_archive_errors_during_compute_are_retried(emulator, make_store):
    store = make_store(emulator, num_retries=8)
    cube = store.open_data(SM, **OPEN)
    emulator.faults = {
        "error_rate": 0.3,
        "error_statuses": [429, 503],
        "retry_after": 0,
        "paths": ARCHIVE,
        "seed": 11,
    }
    check_values(cube.compute(), SM, "Soil_Moisture", min_filled=0.01)
    assert any(r.fault == "error" for r in requests_to(emulator, "/eodata"))


def test_a_slow_archive_fails_at_the_deadline(emulator, make_store):
    store = make_store(emulator, deadline=1.0)
    cube = store.open_data(SM, **OPEN)
    emulator.faults = {"latency_ms": 3000, "paths": ARCHIVE}
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError):
        cube.compute()
    assert time.monotonic() - started < 15


def test_a_missing_product_file_is_a_clear_service_error(emulator, make_store):
    store = make_store(emulator)
    cube = store.open_data(SM, **OPEN)
    emulator.faults = {"fail_first": 100, "error_statuses": [404], "paths": ARCHIVE}
    with pytest.raises(ServiceError, match="the archive has no file"):
        cube.compute()


def test_wrong_archive_credentials_fail_clearly(emulator, moto_archive, make_store):
    params = moto_archive.store_params()
    params["source_storage_options"] = {
        **params["source_storage_options"],
        "secret": "not-the-secret-7c1e",
    }
    store = make_store(emulator, **params)
    cube = store.open_data(SM, **OPEN)
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as caught:
        cube.compute()
    assert time.monotonic() - started < 30
    assert "not-the-secret-7c1e" not in str(caught.value)
    assert np.isfinite(
        make_store(emulator, **moto_archive.store_params()).open_data(SM, **OPEN).Soil_Moisture
    ).any()
