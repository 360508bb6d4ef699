"""How the store meets the service's ways: rate limits, HTML 404s, faults, tokens."""

from __future__ import annotations

import logging
import time

import pytest
from eostores_zenodo.testing import LATEST_RECORD_ID
from eostores_zenodo.testing.samples import sample_files

from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    QuotaExceededError,
    ServiceError,
)
from eostores.testing import FaultProfile


def test_rate_limit_429_waits_for_retry_after(fresh_zenodo, make_store):
    fresh_zenodo.rate_limit = 2
    fresh_zenodo.rate_window_s = 1.0
    store = make_store(fresh_zenodo)
    store.describe_data("temperature.nc")  # the record plus header reads: over the limit
    log = fresh_zenodo.request_log
    limited = [i for i, r in enumerate(log) if r.status == 429]
    assert limited, "the emulator should have refused some requests"
    first = log[limited[0]]
    retry = log[limited[0] + 1]
    assert retry.path == first.path
    assert retry.started - first.started >= 0.5
    assert all(r.status in (200, 206, 429) for r in log)


def test_rate_limit_headers_are_sent(fresh_zenodo, make_store):
    fresh_zenodo.rate_limit = 100
    store = make_store(fresh_zenodo)
    response = store.api.session.get(f"{store.api_url}/records/{LATEST_RECORD_ID}")
    assert response.headers["X-RateLimit-Limit"] == "100"
    assert int(response.headers["X-RateLimit-Remaining"]) == 99


def test_rate_limit_without_retries_is_quota_exceeded(fresh_zenodo, make_store):
    fresh_zenodo.rate_limit = 1
    fresh_zenodo.rate_window_s = 30.0
    store = make_store(fresh_zenodo, num_retries=0)
    store.record  # noqa: B018 (the one request allowed)
    with pytest.raises(QuotaExceededError):
        store.open_data("temperature.nc")


def test_missing_file_html_404_is_data_not_found_at_once(fresh_zenodo, make_store):
    store = make_store(fresh_zenodo)
    store.record  # noqa: B018 (the record still lists the file)
    fresh_zenodo.delete_file(LATEST_RECORD_ID, "temperature.nc")
    started = time.monotonic()
    with pytest.raises(DataNotFoundError) as caught:
        store.open_data("temperature.nc")
    assert time.monotonic() - started < 5, "a 404's Retry-After must not cause waiting"
    message = str(caught.value)
    assert LATEST_RECORD_ID in message and "temperature.nc" in message
    assert "Page not found" in message
    page = fresh_zenodo.request_log[-1]
    assert page.status == 404 and page.headers.get("range")


@pytest.mark.parametrize(
    ("data_id", "variable"), [("cube.zarr.zip", "chl"), ("temperature.nc", "temperature")]
)
def test_missing_file_during_compute_fails_loudly(fresh_zenodo, make_store, data_id, variable):
    store = make_store(fresh_zenodo)
    dataset = store.open_data(data_id)
    fresh_zenodo.delete_file(LATEST_RECORD_ID, data_id)
    with pytest.raises(ServiceError) as caught:  # never chunks silently filled with NaN
        dataset[variable].isel(time=1).values  # noqa: B018
    assert caught.value.status == 404
    assert LATEST_RECORD_ID in str(caught.value) and data_id in str(caught.value)


def test_transient_errors_are_retried(fresh_zenodo, make_store):
    store = make_store(fresh_zenodo)
    fresh_zenodo.faults = FaultProfile(fail_first=3, error_statuses=(503,), retry_after=0)
    dataset = store.open_data("temperature.nc", variable_names=["temperature"])
    assert float(dataset.temperature.isel(time=0, lat=0, lon=0)) > 0
    assert [r.fault for r in fresh_zenodo.request_log[:3]] == ["fail_first"] * 3


def test_unknown_token_is_an_authentication_error(zenodo, make_store):
    store = make_store(zenodo, access_token="not-a-valid-token-123")
    with pytest.raises(AuthenticationError) as caught:
        store.list_data_ids()
    assert "not-a-valid-token-123" not in str(caught.value)
    assert "not-a-valid-token-123" not in repr(store)


def test_restricted_files_need_a_token(fresh_zenodo, make_store, caplog):
    files = {"stations.geojson": sample_files()["v2"].files["stations.geojson"]}
    fresh_zenodo.add_record("7200001", files, restricted=True)
    anonymous = make_store(fresh_zenodo, root="7200001")
    with pytest.raises(AuthenticationError):
        anonymous.open_data("stations.geojson")
    token = fresh_zenodo.issue_token()
    with caplog.at_level(logging.DEBUG, logger="eostores"):
        frame = make_store(fresh_zenodo, root="7200001", access_token=token).open_data(
            "stations.geojson"
        )
    assert len(frame) == 5
    assert token not in caplog.text
    sent = [r.headers.get("authorization") for r in fresh_zenodo.request_log]
    assert "Bearer ***" in sent


def test_hidden_restricted_files_are_not_found_with_a_hint_about_the_token(
    fresh_zenodo, make_store, monkeypatch
):
    monkeypatch.delenv("ZENODO_ACCESS_TOKEN", raising=False)
    fresh_zenodo.list_restricted_files = False
    files = {"stations.geojson": sample_files()["v2"].files["stations.geojson"]}
    fresh_zenodo.add_record("7200001", files, restricted=True)
    anonymous = make_store(fresh_zenodo, root="7200001")
    assert anonymous.list_data_ids() == []
    with pytest.raises(DataNotFoundError, match="restricted") as caught:
        anonymous.open_data("stations.geojson")
    assert "access_token" in caught.value.message
    assert "ZENODO_ACCESS_TOKEN" in caught.value.message
    token = fresh_zenodo.issue_token()
    with_token = make_store(fresh_zenodo, root="7200001", access_token=token)
    assert with_token.list_data_ids() == ["stations.geojson"]
    assert len(with_token.open_data("stations.geojson")) == 5
    with pytest.raises(DataNotFoundError) as caught:
        with_token.open_data("other.geojson")
    assert "access_token" not in caught.value.message


def test_missing_files_of_open_records_say_nothing_about_tokens(store):
    with pytest.raises(DataNotFoundError, match="no such file") as caught:
        store.open_data("missing.geojson")
    assert "access_token" not in caught.value.message


def test_token_from_the_environment(fresh_zenodo, make_store, monkeypatch):
    files = {"stations.geojson": sample_files()["v2"].files["stations.geojson"]}
    fresh_zenodo.add_record("7200001", files, restricted=True)
    monkeypatch.setenv("ZENODO_ACCESS_TOKEN", fresh_zenodo.issue_token())
    frame = make_store(fresh_zenodo, root="7200001").open_data("stations.geojson")
    assert len(frame) == 5
