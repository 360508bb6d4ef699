"""Service faults: retried where sensible, bounded in time, reported in the service's words.

The store's HTTP parameters govern the STAC requests and every chunk read of the products
(range reads through the core's session).
"""

from __future__ import annotations

import time

import numpy as np
import pytest
from conftest import OLCI, S2, S2_TIME, ZONE32_BBOX, lonlat_grid
from eostores_eopf.catalog import ItemLeftOutWarning
from eostores_eopf.testing import EopfEmulator
from eostores_eopf.testing.scenes import olci_radiance, s2_reflectance

from eostores import DataNotFoundError, DataStoreTimeoutError, ServiceError
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


def _item_of(emulator, collection, day, tile=None):
    return next(
        a.item_id
        for a in emulator.acquisitions
        if a.collection == collection and a.day == day and not a.deprecated
        and a.version == "05.11" and a.timeliness == "NT"
        and (tile is None or a.tile.code == tile)
    )  # fmt: skip


def test_a_missing_s2_product_is_left_out_or_fails(shared_emulator, make_store):
    kept, gone = (_item_of(shared_emulator, S2, day, "32TQR") for day in (0, 1))
    root = str(shared_emulator.files.root)
    with EopfEmulator(missing_products=[gone], data_dir=root) as emulator:
        store = make_store(emulator)
        params = dict(
            crs="native", bbox=ZONE32_BBOX, spatial_res=20, time_range=S2_TIME, variables="b04"
        )
        with pytest.warns(ItemLeftOutWarning, match=gone) as caught:
            cube = store.open_data(S2, **params)
        message = next(str(w.message) for w in caught if gone in str(w.message))
        assert "missing" in message and "404" in message
        assert cube.attrs["stac_items_per_time"] == [[kept]]
        lon, lat = lonlat_grid(cube)
        expected = s2_reflectance(lon, lat, 0, "b04", "05.11")
        assert np.abs(cube.b04.isel(time=0).values - expected).max() < 1.1e-4
        with pytest.raises(DataNotFoundError, match=gone) as failed:
            store.open_data(S2, error_policy="fail", **params)
        assert "missing" in str(failed.value)


def test_a_missing_swath_product_is_left_out_or_fails(shared_emulator, make_store):
    gone = _item_of(shared_emulator, OLCI, 1)
    with EopfEmulator(missing_products=[gone], data_dir=str(shared_emulator.files.root)) as emu:
        store = make_store(emu)
        params = {**OPEN, "time_range": ["2025-06-01", "2025-06-05"]}
        with pytest.warns(ItemLeftOutWarning, match=gone):
            cube = store.open_data(OLCI, **params)
        assert cube.sizes["time"] == 1 and str(cube.time.values[0])[:10] == "2025-06-01"
        assert gone not in cube.attrs["stac_item_ids"]
        lon, lat = lonlat_grid(cube)
        values = cube.oa01_radiance.isel(time=0).values
        assert np.abs(values - olci_radiance(lon, lat, 0, "oa01_radiance")).max() < 0.2
        with pytest.raises(DataNotFoundError, match=gone):
            store.open_data(OLCI, error_policy="fail", **params)
