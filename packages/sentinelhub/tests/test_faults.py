"""Tokens expiring mid-read, 429 storms, dropped connections and every error_policy."""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from conftest import PROCESS_PATH, TOKEN_PATH, paths
from eostores_sentinelhub.cube import SentinelHubChunkWarning
from eostores_sentinelhub.testing import BYOC_ID, SentinelHubEmulator

from eostores.errors import AuthenticationError, QuotaExceededError, ServiceError
from eostores.testing import FaultProfile

PARAMS = {
    "variable_names": ["B04"],
    "bbox": [10.0, 50.0, 10.05, 50.03],
    "spatial_res": 0.001,
    "time_range": ["2021-06-02", "2021-06-03"],
    "tile_size": [20, 20],
}
CHUNKS_PER_STEP = 3 * 2


def statuses(server, path):
    return [record.status for record in paths(server, path)]


def test_token_is_renewed_before_it_expires(make_store):
    with SentinelHubEmulator(token_expires_in=1.0) as server:
        dataset = make_store(server).open_data("S2L2A", **PARAMS)
        dataset.B04.isel(time=0).load()
        time.sleep(0.95)  # within the last tenth of the token's life
        dataset.B04.isel(time=1).load()
        assert statuses(server, TOKEN_PATH) == [200, 200]
        assert set(statuses(server, PROCESS_PATH)) == {200}, "no request may meet a 401"


def test_token_expiring_mid_read_is_renewed_once_on_401(make_store):
    # the service cuts tokens short (0.5 s) although they announce an hour
    with SentinelHubEmulator(faults=FaultProfile(token_ttl_s=0.5)) as server:
        dataset = make_store(server).open_data("S2L2A", **PARAMS)
        first = dataset.B04.isel(time=1).values
        time.sleep(0.6)
        again = make_store(server).open_data("S2L2A", **PARAMS).B04.isel(time=1).values
        np.testing.assert_array_equal(again, first)
        process = statuses(server, PROCESS_PATH)
        assert 401 in process and process.count(200) == 2 * CHUNKS_PER_STEP
        assert statuses(server, TOKEN_PATH) == [200, 200], "one renewal for all threads"


def test_429_storm_is_ridden_out_with_retry_after_in_milliseconds(make_store):
    with SentinelHubEmulator(max_concurrent_requests=2, processing_ms=40) as server:
        store = make_store(server, max_concurrent_requests=8, num_retries=100)
        dataset = store.open_data("S2L2A", **PARAMS)
        started = time.monotonic()
        values = dataset.B04.values
        elapsed = time.monotonic() - started
        assert server.rate_limited > 0, "the storm must have happened"
        assert statuses(server, PROCESS_PATH).count(200) == 2 * CHUNKS_PER_STEP
        # Retry-After counts milliseconds (about 40 here); read as seconds, one wait alone
        # would take the 40 s cap
        assert elapsed < 10
        assert np.isnan(values[0]).all() and not np.isnan(values[1]).any()


def test_429_after_the_last_retry_is_quota_exceeded(make_store):
    with SentinelHubEmulator(max_concurrent_requests=1, processing_ms=300) as server:
        store = make_store(server, max_concurrent_requests=8, num_retries=0)
        dataset = store.open_data("S2L2A", **PARAMS)
        with pytest.raises(QuotaExceededError) as caught:
            dataset.B04.isel(time=1).load()
        assert "exceeded your rate limit" in str(caught.value)


def test_dropped_connections_and_503s_are_retried(clean_emulator, make_store):
    store = make_store(clean_emulator, num_retries=10, retry_backoff_base=0.01)
    expected = store.open_data("S2L2A", **PARAMS).B04.isel(time=1).values
    clean_emulator.faults = FaultProfile(
        drop_rate=0.25,
        error_rate=0.25,
        error_statuses=(503,),
        retry_after=0,
        seed=11,
        paths=PROCESS_PATH,
    )
    clean_emulator.reset_log()
    again = make_store(clean_emulator, num_retries=10, retry_backoff_base=0.01)
    values = again.open_data("S2L2A", **PARAMS).B04.isel(time=1).values
    np.testing.assert_array_equal(values, expected)
    faults = {record.fault for record in paths(clean_emulator, PROCESS_PATH)}
    assert {"drop", "error"} <= faults


def test_token_service_failures_are_retried(make_store):
    faults = FaultProfile(fail_first=2, error_statuses=(503,), retry_after=0, paths=TOKEN_PATH)
    with SentinelHubEmulator(faults=faults) as server:
        store = make_store(server, num_retries=3, retry_backoff_base=0.01)
        store.open_data("S2L2A", **PARAMS).B04.isel(time=1).load()
        assert statuses(server, TOKEN_PATH) == [503, 503, 200]


def _bad_band(store):
    return store.open_data(
        "CUSTOM",
        collection_id=BYOC_ID,
        variable_names=["B99"],
        bbox=[10.0, 50.0, 10.01, 50.01],
        spatial_res=0.001,
        time_range=["2021-06-01", "2021-06-01"],
    )


def test_error_policy_fail_raises_the_service_message(clean_emulator, make_store):
    dataset = _bad_band(make_store(clean_emulator, error_policy="fail"))
    with pytest.raises(ServiceError) as caught:
        dataset.B99.load()
    assert "Band 'B99' does not exist" in str(caught.value)
    assert caught.value.status == 400


def test_error_policy_fail_on_a_server_error(clean_emulator, make_store):
    clean_emulator.faults = FaultProfile(error_rate=1.0, error_statuses=(500,), paths=PROCESS_PATH)
    dataset = make_store(clean_emulator).open_data("S2L2A", **PARAMS)
    with pytest.raises(ServiceError) as caught:
        dataset.B04.isel(time=1).load()
    assert caught.value.status == 500 and "emulated fault" in str(caught.value)
    assert len(paths(clean_emulator, PROCESS_PATH)) <= CHUNKS_PER_STEP, "500 is not retried"


def test_error_policy_warn_fills_and_warns(clean_emulator, make_store):
    dataset = _bad_band(make_store(clean_emulator, error_policy="warn"))
    with pytest.warns(SentinelHubChunkWarning, match="does not exist"):
        values = dataset.B99.values
    assert np.isnan(values).all()


def test_error_policy_ignore_fills_silently(clean_emulator, make_store):
    dataset = _bad_band(make_store(clean_emulator, error_policy="ignore"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = dataset.B99.values
    assert np.isnan(values).all()
    assert not [w for w in caught if issubclass(w.category, SentinelHubChunkWarning)]


def test_wrong_credentials_raise_whatever_the_policy(clean_emulator, make_store):
    store = make_store(clean_emulator, client_secret="wrong-secret-77aa", error_policy="ignore")
    dataset = store.open_data("S2L2A", **PARAMS)
    with pytest.raises(AuthenticationError) as caught:
        dataset.B04.isel(time=1).load()
    assert "Invalid client" in str(caught.value)
    assert "wrong-secret-77aa" not in str(caught.value)
    assert not paths(clean_emulator, PROCESS_PATH)
