"""Service faults: retried where sensible, bounded in time, reported in the service's words."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from conftest import SST, THETAO, expected

from eostores import DataStoreTimeoutError, ServiceError
from eostores.testing import FaultProfile

OPEN = dict(bbox=[10, 40, 13, 42], time_range=["2020-01-01", "2020-01-03"])
CONFIG = "/mdl-metadata/clientsConfigV1.json"


def _check_values(ds) -> None:
    for name in ds.data_vars:
        np.testing.assert_allclose(ds[name].values, expected(SST, name, ds), rtol=1e-6)


def _faults(emulator, kind: str) -> int:
    return sum(1 for r in emulator.request_log if r.fault == kind)


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
def test_everything_is_retried(emulator, make_store, faults):
    emulator.faults = faults
    store = make_store(emulator, num_retries=8)
    assert store.list_data_ids()
    ds = store.open_data(SST, **OPEN).load()
    _check_values(ds)
    kinds = {r.fault for r in emulator.request_log if r.fault}
    assert kinds, "faults were injected"


def test_retry_after_is_honoured(emulator, make_store):
    emulator.faults = FaultProfile(fail_first=1, error_statuses=(503,), retry_after=1, paths=CONFIG)
    store = make_store(emulator, retry_backoff_max=5)
    started = time.monotonic()
    store.list_data_ids()
    assert time.monotonic() - started >= 0.9
    assert [r.status for r in emulator.request_log if r.path == CONFIG] == [503, 200]


def test_failing_configuration_is_an_error_not_a_fallback(emulator, make_store, tmp_path):
    emulator.faults = FaultProfile(
        error_rate=1.0, error_statuses=(500,), retry_after=0, paths=CONFIG
    )
    store = make_store(emulator, num_retries=2)
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        store.list_data_ids()
    assert time.monotonic() - started < 30
    assert "emulated fault" in str(caught.value)
    assert "clientsConfigV1.json" in str(caught.value)
    assert {r.path for r in emulator.request_log} == {CONFIG}
    assert len(emulator.request_log) == 3


def test_failed_walk_leaves_no_files(emulator, make_store):
    emulator.faults = FaultProfile(
        error_rate=1.0,
        error_statuses=(502,),
        retry_after=0,
        paths=r"/mdl-metadata/metadata/GLOBAL_MULTIYEAR_PHY_001_030/.*",
    )
    store = make_store(emulator, num_retries=1)
    with pytest.raises(ServiceError):
        store.list_data_ids()
    root = Path(store.catalogue.root)
    assert not (root / "listing.json").exists()
    assert not list(root.rglob("*.tmp"))
    emulator.faults = None
    assert len(store.list_data_ids()) == 3
    assert not list(root.rglob("*.tmp"))


def test_data_failures_are_bounded_by_the_deadline(emulator, make_store):
    store = make_store(emulator, num_retries=50, deadline=2.0)
    ds = store.open_data(SST, **OPEN)
    emulator.faults = FaultProfile(
        error_rate=1.0, error_statuses=(503,), retry_after=0, paths=r"/mdl-arco-.*"
    )
    started = time.monotonic()
    with pytest.raises((DataStoreTimeoutError, ServiceError)) as caught:
        ds.load()
    assert time.monotonic() - started < 30
    assert "emulated fault" in str(caught.value) or "deadline" in str(caught.value)


def test_persistent_data_error_carries_the_service_message(emulator, make_store):
    store = make_store(emulator, num_retries=1)
    ds = store.open_data(
        THETAO, bbox=[0, 0, 1, 1], time_range=["2023-01-16"] * 2, depth_range=[0, 1]
    )
    emulator.faults = FaultProfile(
        error_rate=1.0, error_statuses=(500,), retry_after=0, paths=r"/mdl-arco-.*/thetao/.*"
    )
    with pytest.raises(ServiceError) as caught:
        ds["thetao"].load()
    assert "emulated fault" in str(caught.value)
    assert caught.value.status == 500


def test_missing_configuration_is_a_service_error(emulator, make_store):
    store = make_store(emulator, config_url=emulator.url + "/mdl-metadata/no-such-config.json")
    with pytest.raises(ServiceError, match="client configuration") as caught:
        store.list_data_ids()
    assert caught.value.status == 404
