"""cciodp under faults: the store's retry parameters govern every request; a 404 is final."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest
from conftest import CLOUD, OZONE, SST, dods
from eostores_cci.testing import DATASETS, expected_value

from eostores.errors import (
    DataNotFoundError,
    DataStoreTimeoutError,
    QuotaExceededError,
    ServiceError,
)


def _attempts(server, suffix):
    return [r for r in server.request_log if r.path.endswith(suffix)]


def test_retry_after_is_honoured(emulator, make_store):
    store = make_store(emulator, retry_backoff_max=5)
    emulator.faults = {"fail_first": 1, "error_statuses": [503], "retry_after": 1}
    started = time.monotonic()
    assert store.list_data_ids()
    assert time.monotonic() - started >= 0.9, "waited for the service's Retry-After"
    statuses = [r.status for r in _attempts(emulator, "description.xml")]
    assert statuses == [503, 200]


@pytest.mark.parametrize("num_retries, succeeds", [(1, False), (3, True)])
def test_num_retries_governs_requests(emulator, make_store, num_retries, succeeds):
    store = make_store(emulator, num_retries=num_retries)
    emulator.faults = {"fail_first": 3, "error_statuses": [502], "retry_after": 0}
    if succeeds:
        store.describe_data(CLOUD.drs_id)
        assert [r.status for r in _attempts(emulator, "description.xml")] == [502] * 3 + [200]
    else:
        with pytest.raises(ServiceError, match="emulated fault") as caught:
            store.list_data_ids()
        assert caught.value.status == 502
        assert len(_attempts(emulator, "description.xml")) == num_retries + 1


def test_429_is_retried_then_reported_as_quota(emulator, make_store):
    store = make_store(emulator, num_retries=2)
    emulator.faults = {"fail_first": 10, "error_statuses": [429], "retry_after": 0}
    with pytest.raises(QuotaExceededError):
        store.list_data_ids()
    assert len(_attempts(emulator, "description.xml")) == 3


def test_a_404_is_never_retried(emulator, make_store):
    store = make_store(
        emulator, num_retries=50, endpoint_description_url=f"{emulator.url}/nope.xml"
    )
    started = time.monotonic()
    with pytest.raises(DataNotFoundError, match=r"Not found: /nope\.xml"):
        store.list_data_ids()
    assert time.monotonic() - started < 5
    assert len(_attempts(emulator, "/nope.xml")) == 1


def test_dropped_connections_and_truncated_bodies(emulator, make_store, tmp_path):
    store = make_store(emulator, num_retries=10)
    emulator.faults = {"drop_rate": 0.2, "truncate_rate": 0.2, "seed": 11, "retry_after": 0}
    cube = store.open_data(
        OZONE.drs_id, bbox=[0, 30, 40, 60], time_range=["2005-01-01", "2005-06-30"]
    )
    values = cube.O3_du_tot.values
    faults = {r.fault for r in emulator.request_log}
    assert {"drop", "truncate"} <= faults, "both faults happened"
    emulator.faults = None
    want = expected_value(
        OZONE,
        "O3_du_tot",
        cube.time.values[:, None, None],
        cube.lat.values[:, None],
        cube.lon.values,
    )
    np.testing.assert_allclose(values, want, atol=1e-4)
    for path in (tmp_path / "cache").rglob("*"):
        if path.is_file() and path.suffix not in (".lock", ".part", ".meta"):
            content = path.read_bytes()
            if path.parent.name == "search":
                json.loads(content)  # complete documents only carry the target's name
            assert content.strip(), path


def test_failures_leave_no_document_in_the_cache(emulator, make_store, tmp_path):
    store = make_store(emulator, num_retries=1)
    emulator.faults = {"truncate_rate": 1.0, "seed": 1}
    with pytest.raises(ServiceError):
        store.list_data_ids()
    cached = [p for p in (tmp_path / "cache").rglob("*") if p.is_file() and p.name[-1].isdigit()]
    assert cached == [], "no partial document under a document's name"
    emulator.faults = None
    assert len(store.list_data_ids()) == len(DATASETS)


def test_the_deadline_bounds_a_call(emulator, make_store):
    store = make_store(emulator, num_retries=200, retry_backoff_max=1, deadline=2)
    emulator.faults = {"error_rate": 1.0, "error_statuses": [503], "retry_after": 1}
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError):
        store.describe_data(SST.drs_id)
    assert time.monotonic() - started < 4


def test_chunk_requests_are_retried(emulator, make_store):
    store = make_store(emulator, num_retries=4)
    cube = store.open_data(CLOUD.drs_id, bbox=[0, 50, 10, 55], time_range=["2000-03-01", None])
    emulator.reset_log()
    emulator.faults = {
        "fail_first": 3,
        "error_statuses": [503],
        "retry_after": 0,
        "paths": r".*\.dods",
    }
    values = cube.ctt.values
    assert not np.isnan(values).any()
    assert sum(r.status == 503 for r in dods(emulator)) == 3
