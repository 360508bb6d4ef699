"""Service faults: retried where sensible, bounded in time, reported in the service's words.

The store's HTTP parameters govern the STAC requests and every chunk read of the products
(range reads through the core's session).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import OLCI, lonlat_grid
from eostores_eopf.testing.scenes import olci_radiance

from eostores import DataStoreTimeoutError, ServiceError
from eostores.testing import FaultProfile

OPEN = dict(
    bbox=[12.22, 45.22, 12.38, 45.38],
    spatial_res=0.004,
    time_range=["2025-06-04", "2025-06-05"],
    variables=["oa01_radiance"],
)
PRODUCTS = r"/products/.*"


def _check(cube) -> None:
    lon, lat = lonlat_grid(cube)
    values = cube.oa01_radiance.isel(time=0).values
    assert np.abs(values - olci_radiance(lon, lat, 1, "oa01_radiance")).max() < 0.2


@pytest.mark.parametrize(
    "faults",
    [
        FaultProfile(error_rate=0.3, error_statuses=(503, 500, 502), retry_after=0, seed=3),
        FaultProfile(error_rate=0.3, error_statuses=(429,), retry_after=0, seed=4),
        FaultProfile(drop_rate=0.25, seed=5),
        FaultProfile(truncate_rate=0.3, seed=6),
    ],
    ids=["5xx", "429", "dropped", "truncated"],
)
def test_stac_and_chunk_reads_are_retried(emulator, make_store, faults):
    emulator.faults = faults
    store = make_store(emulator, num_retries=8)
    cube = store.open_data(OLCI, **OPEN).load()
    _check(cube)
    faulted = {r.path.split("/")[1] for r in emulator.request_log if r.fault}
    assert "products" in faulted, "faults hit the product reads too"


def test_retry_after_is_honoured_on_chunk_reads(emulator, make_store):
    emulator.faults = FaultProfile(
        fail_first=1, error_statuses=(503,), retry_after=1, paths=r".*/oa01_radiance/c/.*"
    )
    store = make_store(emulator, retry_backoff_max=5)
    cube = store.open_data(OLCI, **OPEN)
    started = time.monotonic()
    cube.load()
    assert time.monotonic() - started >= 0.9
    statuses = [r.status for r in emulator.request_log if "/oa01_radiance/c/" in r.path]
    assert statuses[0] == 503 and statuses[1:] and set(statuses[1:]) == {200}
    _check(cube)


def test_a_failing_product_fails_clearly_within_the_retries(emulator, make_store):
    emulator.faults = FaultProfile(
        error_rate=1.0, error_statuses=(500,), retry_after=0, paths=r".*/oa01_radiance/c/.*"
    )
    store = make_store(emulator, num_retries=2)
    cube = store.open_data(OLCI, **OPEN)
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        cube.load()
    assert time.monotonic() - started < 30
    assert "emulated fault" in str(caught.value)
    assert "oa01_radiance" in str(caught.value)
    tries: dict[str, int] = {}
    for record in emulator.request_log:
        if "/oa01_radiance/c/" in record.path:
            tries[record.path] = tries.get(record.path, 0) + 1
    assert max(tries.values()) == 3 and set(tries.values()) <= {1, 2, 3}  # 1 try + 2 retries


def test_stac_api_errors_carry_the_service_message(emulator, make_store):
    emulator.faults = FaultProfile(
        error_rate=1.0, error_statuses=(502,), retry_after=0, paths="/search"
    )
    store = make_store(emulator, num_retries=1)
    with pytest.raises(ServiceError, match="emulated fault") as caught:
        store.open_data(OLCI, **OPEN)
    assert caught.value.status == 502
    assert len([r for r in emulator.request_log if r.path == "/search"]) == 2


def test_slow_service_times_out_within_the_deadline(emulator, make_store):
    emulator.faults = FaultProfile(latency_ms=3000, paths=PRODUCTS)
    store = make_store(emulator, read_timeout=0.5, num_retries=1, deadline=2.0)
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError):
        store.open_data(OLCI, **OPEN).load()
    assert time.monotonic() - started < 20
