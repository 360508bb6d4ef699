"""Tokens expiring mid-read, 429 storms, 5xx, dropped connections and every error_policy.

Fault schedules are seeded. A seeded schedule is a fixed sequence of decisions, one per
request served, whatever the order in which threads send them; the number of faults met
before N requests succeed is therefore fixed too, and no single request can meet more.
Each test gives the store more retries than that number (:func:`faults_before`), so that
no budget can run out by chance; the test asserts that bound on the request log.
"""

from __future__ import annotations

import time
import warnings

import numpy as np
import pytest
from conftest import PROCESS_PATH, TOKEN_PATH, paths
from eostores_sentinelhub.chunks import SentinelHubChunkWarning
from eostores_sentinelhub.testing import BYOC_ID, SentinelHubEmulator

from eostores.errors import (
    AuthenticationError,
    DataStoreTimeoutError,
    QuotaExceededError,
    ServiceError,
)
from eostores.testing import FaultProfile

PARAMS = {
    "variable_names": ["B04"],
    "bbox": [10.0, 50.0, 10.05, 50.03],
    "spatial_res": 0.001,
    "time_range": ["2021-06-02", "2021-06-03"],
    "tile_size": [20, 20],
}
CHUNKS_PER_STEP = 3 * 2
FAST_RETRIES = {"retry_backoff_base": 0.01, "retry_backoff_max": 0.1}


def statuses(server, path):
    return [record.status for record in paths(server, path)]


def faults_met(server, path=None):
    return [r for r in server.request_log if r.fault and (path is None or r.path == path)]


def wait_until(wall_time: float) -> None:
    time.sleep(max(0.0, wall_time - time.time()))


# --------------------------------------------------------------------------- tokens


def test_token_is_renewed_before_it_expires(make_store):
    # a 4 s token is renewed in its last 0.4 s; the first read ends long before that
    with SentinelHubEmulator(token_expires_in=4.0) as server:
        dataset = make_store(server).open_data("S2L2A", **PARAMS)
        dataset.B04.isel(time=0).load()
        issued = paths(server, TOKEN_PATH)[0].started  # the store asked no earlier
        wait_until(issued + 3.7)
        dataset.B04.isel(time=1).load()
        assert statuses(server, TOKEN_PATH) == [200, 200]
        assert set(statuses(server, PROCESS_PATH)) == {200}, "no request may meet a 401"


def test_token_expiring_mid_read_is_renewed_once_on_401(make_store):
    # the service cuts tokens short (3 s) although they announce an hour
    with SentinelHubEmulator(faults=FaultProfile(token_ttl_s=3.0)) as server:
        dataset = make_store(server).open_data("S2L2A", **PARAMS)
        first = dataset.B04.isel(time=1).values
        wait_until(paths(server, TOKEN_PATH)[0].started + 3.2)
        again = make_store(server).open_data("S2L2A", **PARAMS).B04.isel(time=1).values
        np.testing.assert_array_equal(again, first)
        process = statuses(server, PROCESS_PATH)
        assert 401 in process and process.count(200) == 2 * CHUNKS_PER_STEP
        assert statuses(server, TOKEN_PATH) == [200, 200], "one renewal for all threads"


def test_token_service_failures_are_retried(make_store):
    faults = FaultProfile(fail_first=2, error_statuses=(503,), retry_after=0, paths=TOKEN_PATH)
    with SentinelHubEmulator(faults=faults) as server:
        store = make_store(server, num_retries=3, **FAST_RETRIES)
        store.open_data("S2L2A", **PARAMS).B04.isel(time=1).load()
        assert statuses(server, TOKEN_PATH) == [503, 503, 200]


def test_token_service_500_is_retried_with_the_identity_servers_retry_after(make_store):
    # the identity server counts Retry-After in seconds, as HTTP does: 0.2 s, not 0.2 ms
    faults = FaultProfile(fail_first=1, error_statuses=(500,), retry_after=0.2, paths=TOKEN_PATH)
    with SentinelHubEmulator(faults=faults) as server:
        store = make_store(server, num_retries=2, retry_backoff_base=0.01)
        store.open_data("S2L2A", **PARAMS).B04.isel(time=1).load()
        first, second = paths(server, TOKEN_PATH)
        assert (first.status, second.status) == (500, 200)
        assert second.started - first.started >= 0.2


def test_token_service_failing_for_good_reports_its_message(make_store):
    faults = FaultProfile(error_rate=1.0, error_statuses=(502,), retry_after=0, paths=TOKEN_PATH)
    with SentinelHubEmulator(faults=faults) as server:
        store = make_store(server, num_retries=2, **FAST_RETRIES)
        with pytest.raises(ServiceError) as caught:
            store.list_data_ids()
        assert caught.value.status == 502
        assert "access token" in str(caught.value) and "emulated fault" in str(caught.value)
        assert statuses(server, TOKEN_PATH) == [502, 502, 502]


# --------------------------------------------------------------------------- rate limits


def test_429_storm_is_ridden_out_with_retry_after_in_milliseconds(make_store):
    # 8 requests at once against 2 slots of 200 ms: the service answers 429 with
    # Retry-After in milliseconds (about 200). Read as seconds, the first wait (capped at
    # retry_backoff_max, 40 s) would pass the 30 s deadline and fail at once.
    with SentinelHubEmulator(max_concurrent_requests=2, processing_ms=200) as server:
        store = make_store(
            server, max_concurrency_per_host=8, num_retries=200, retry_backoff_max=40, deadline=30
        )
        values = store.open_data("S2L2A", **PARAMS).B04.values
        assert server.rate_limited > 0, "the storm must have happened"
        assert statuses(server, PROCESS_PATH).count(200) == 2 * CHUNKS_PER_STEP
        assert np.isnan(values[0]).all() and not np.isnan(values[1]).any()


def test_injected_429s_of_the_api_make_the_store_wait_their_retry_after(make_store):
    # the fault answers Retry-After: 600 (milliseconds); read as seconds, the wait would be
    # capped at retry_backoff_max (40 s) and pass the 20 s deadline at once
    faults = FaultProfile(fail_first=1, error_statuses=(429,), retry_after=0.6, paths=PROCESS_PATH)
    with SentinelHubEmulator(faults=faults) as server:
        store = make_store(server, num_retries=2, retry_backoff_max=40, deadline=20)
        dataset = store.open_data("S2L2A", **{**PARAMS, "tile_size": [50, 30]})  # one tile
        dataset.B04.isel(time=1).load()
        refused, served = paths(server, PROCESS_PATH)
        assert (refused.status, served.status) == (429, 200)
        assert 0.6 <= served.started - refused.started < 5.0


def test_injected_429s_of_the_identity_server_count_seconds(make_store):
    faults = FaultProfile(fail_first=1, error_statuses=(429,), retry_after=0.4, paths=TOKEN_PATH)
    with SentinelHubEmulator(faults=faults) as server:
        store = make_store(server, num_retries=2, retry_backoff_max=40, deadline=20)
        store.list_data_ids()
        refused, served = paths(server, TOKEN_PATH)
        assert (refused.status, served.status) == (429, 200)
        assert 0.4 <= served.started - refused.started < 5.0


def test_429_after_the_last_retry_is_quota_exceeded(make_store):
    with SentinelHubEmulator(max_concurrent_requests=1, processing_ms=1000) as server:
        store = make_store(server, max_concurrency_per_host=8, num_retries=0)
        dataset = store.open_data("S2L2A", **PARAMS)
        with pytest.raises(QuotaExceededError) as caught:
            dataset.B04.isel(time=1).load()
        assert "exceeded your rate limit" in str(caught.value)


def test_a_retry_after_beyond_the_deadline_fails_at_once(make_store):
    faults = FaultProfile(error_rate=1.0, error_statuses=(503,), retry_after=60, paths=PROCESS_PATH)
    with SentinelHubEmulator(faults=faults) as server:
        store = make_store(server, num_retries=5, retry_backoff_max=120, deadline=20)
        dataset = store.open_data("S2L2A", **{**PARAMS, "tile_size": [50, 30]})
        started = time.monotonic()
        with pytest.raises(DataStoreTimeoutError) as caught:
            dataset.B04.isel(time=1).load()
        assert time.monotonic() - started < 20
        assert "deadline" in str(caught.value)
        assert statuses(server, PROCESS_PATH) == [503]


# --------------------------------------------------------------------------- 5xx, broken bodies


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_one_in_five_server_errors_are_retried_and_opens_succeed(
    clean_emulator, make_store, status
):
    expected = make_store(clean_emulator).open_data("S2L2A", **PARAMS).B04.values
    clean_emulator.faults = FaultProfile(
        error_rate=0.2, error_statuses=(status,), retry_after=0, seed=5
    )
    clean_emulator.reset_log()
    store = make_store(clean_emulator, num_retries=30, **FAST_RETRIES)
    dataset = store.open_data("S2L2A", **{**PARAMS, "time_period": None})  # a search, too
    values = dataset.B04.values
    np.testing.assert_array_equal(values, expected[1:])  # the one acquisition, 2021-06-03
    met = faults_met(clean_emulator)
    assert met and {r.status for r in met} == {status}
    assert len(met) <= 30, "the budget exceeds every fault the seeded schedule injects"


def test_dropped_connections_truncated_bodies_and_503s_are_retried(clean_emulator, make_store):
    store = make_store(clean_emulator, num_retries=30, **FAST_RETRIES)
    expected = store.open_data("S2L2A", **PARAMS).B04.isel(time=1).values
    clean_emulator.faults = FaultProfile(
        drop_rate=0.2,
        error_rate=0.2,
        truncate_rate=0.2,
        error_statuses=(503,),
        retry_after=0,
        seed=11,
        paths=PROCESS_PATH,
        max_faults_per_request=None,  # the seeded stream alone decides which faults are met
    )
    clean_emulator.reset_log()
    again = make_store(clean_emulator, num_retries=30, **FAST_RETRIES)
    values = again.open_data("S2L2A", **PARAMS).B04.isel(time=1).values
    np.testing.assert_array_equal(values, expected)
    met = faults_met(clean_emulator, PROCESS_PATH)
    assert {"drop", "error", "truncate"} <= {record.fault for record in met}
    assert len(met) <= 30


def test_server_errors_for_good_fail_with_the_service_message_after_the_retries(
    clean_emulator, make_store
):
    clean_emulator.faults = FaultProfile(error_rate=1.0, error_statuses=(500,), paths=PROCESS_PATH)
    store = make_store(clean_emulator, num_retries=2, **FAST_RETRIES)
    dataset = store.open_data("S2L2A", **{**PARAMS, "tile_size": [50, 30]})  # one tile
    with pytest.raises(ServiceError) as caught:
        dataset.B04.isel(time=1).load()
    assert caught.value.status == 500 and "emulated fault" in str(caught.value)
    assert "after 3 attempts" in str(caught.value)
    assert statuses(clean_emulator, PROCESS_PATH) == [500, 500, 500]


def test_client_errors_are_not_retried(clean_emulator, make_store):
    dataset = _bad_band(make_store(clean_emulator, num_retries=5, **FAST_RETRIES))
    with pytest.raises(ServiceError):
        dataset.B99.load()
    assert statuses(clean_emulator, PROCESS_PATH) == [400]


# --------------------------------------------------------------------------- error policies


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
    assert len(paths(clean_emulator, TOKEN_PATH)) == 1, "refused credentials are not re-sent"


# --------------------------------------------------------------------------- 403s


def test_an_exhausted_quota_is_quota_exceeded_not_wrong_credentials(make_store):
    with SentinelHubEmulator(forbidden="quota") as server:
        dataset = make_store(server).open_data("S2L2A", **{**PARAMS, "tile_size": [50, 30]})
        with pytest.raises(QuotaExceededError) as caught:
            dataset.B04.isel(time=1).load()
        assert caught.value.status == 403 and "processing units quota" in str(caught.value)
        assert statuses(server, PROCESS_PATH) == [403], "not retried, no token renewed"
        assert statuses(server, TOKEN_PATH) == [200]


def test_an_exhausted_quota_follows_the_error_policy(make_store):
    with SentinelHubEmulator(forbidden="quota") as server:
        store = make_store(server, error_policy="warn")
        dataset = store.open_data("S2L2A", **{**PARAMS, "tile_size": [50, 30]})
        with pytest.warns(SentinelHubChunkWarning, match="quota"):
            values = dataset.B04.isel(time=1).values
        assert np.isnan(values).all()


def test_other_403s_stay_authentication_errors_whatever_the_policy(make_store):
    with SentinelHubEmulator(forbidden="access") as server:
        store = make_store(server, error_policy="ignore")
        dataset = store.open_data("S2L2A", **{**PARAMS, "tile_size": [50, 30]})
        with pytest.raises(AuthenticationError) as caught:
            dataset.B04.isel(time=1).load()
        assert caught.value.status == 403 and "do not have access" in str(caught.value)
