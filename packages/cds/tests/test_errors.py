"""Every failure a user can meet, as an eostores error with the service's words; faults."""

from __future__ import annotations

import time

import pytest
from eostores_cds.api import LicenceNotAcceptedError
from eostores_cds.testing import DEFAULT_KEY

from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreTimeoutError,
    ServiceError,
)
from eostores.testing import FaultProfile

ERA5 = "reanalysis-era5-single-levels"
OPEN = dict(
    variable_names=["2m_temperature"],
    bbox=[0, 0, 0.5, 0.5],
    time_range=["2021-02-01", "2021-02-01"],
    time_period="12H",
)


@pytest.fixture
def faults(emulator):
    def apply(**settings):
        emulator.faults = FaultProfile(**settings)

    yield apply
    emulator.faults = None


def test_wrong_key_is_an_authentication_error(make_store, fresh_log, executions):
    store = make_store(cds_api_key="11111111-2222-3333-4444-555555555555")
    started = time.monotonic()
    with pytest.raises(AuthenticationError) as caught:
        store.open_data(ERA5, **OPEN)
    assert time.monotonic() - started < 10
    assert "Authentication failed" in str(caught.value)
    assert "11111111-2222" not in str(caught.value)
    assert executions() == []


def test_key_of_the_retired_api_is_refused(make_store, fresh_log):
    store = make_store(cds_api_key="12345:abcdef01-2345-6789-abcd-ef0123456789")
    with pytest.raises(AuthenticationError, match="retired"):
        store.open_data(ERA5, **OPEN)
    assert not any(r.path.endswith("/execution") for r in fresh_log.request_log)


def test_missing_key_names_every_place_looked_at(make_store):
    store = make_store(cds_api_key=None)
    with pytest.raises(AuthenticationError) as caught:
        store.open_data(ERA5, **OPEN)
    message = str(caught.value)
    assert "CDSAPI_KEY" in message and "cdsapirc" in message


def test_licence_not_accepted_names_licence_and_page(make_store, licence_pending_key):
    store = make_store(cds_api_key=licence_pending_key)
    with pytest.raises(LicenceNotAcceptedError) as caught:
        store.open_data(ERA5, **OPEN)
    error = caught.value
    assert isinstance(error, AuthenticationError)
    assert "Licence to use Copernicus Products" in str(error)
    assert error.url.endswith(f"/datasets/{ERA5}?tab=download#manage-licences")
    assert error.url in str(error)


def test_another_accounts_job_in_a_shared_cache_is_submitted_again(
    make_store, emulator, other_account_key, fresh_log
):
    """A ticket of a job started with another key (a team cache): the service answers
    403 "permission denied" for it; the store submits the request for its own key."""
    params = {**OPEN, "time_range": ["2021-05-01", "2021-05-01"]}
    make_store().describe_data(ERA5)  # the catalogue, so that the deadline covers the job
    emulator.job_run_s = 30.0
    try:
        with pytest.raises(DataStoreTimeoutError):
            make_store(cds_api_key=other_account_key, call_deadline=1.0).open_data(ERA5, **params)
    finally:
        emulator.job_run_s = 0.05
    theirs = max(emulator.jobs.values(), key=lambda job: job.created)
    ds = make_store().open_data(ERA5, **params)
    assert ds.sizes["time"] == 2
    refused = [r for r in emulator.request_log if r.path.endswith(f"/jobs/{theirs.id}")]
    assert refused[-1].status == 403
    mine = max(emulator.jobs.values(), key=lambda job: job.created)
    assert theirs.user == other_account_key and mine.user == DEFAULT_KEY
    assert mine.request == theirs.request


def test_non_authentication_refusal_is_a_service_error(store, changed_dataset, fresh_log):
    """A 403 that is not about the key (here a disabled dataset) keeps the service's words."""
    reason = "This dataset is temporarily disabled for maintenance."
    with changed_dataset(ERA5, disabled_reason=reason), pytest.raises(ServiceError) as caught:
        store.open_data(ERA5, **{**OPEN, "time_range": ["2021-05-02", "2021-05-02"]})
    assert not isinstance(caught.value, AuthenticationError)
    assert caught.value.status == 403 and caught.value.parameter is None
    assert reason in str(caught.value)


def test_failed_job_reports_the_service_message(store, emulator):
    emulator.fail_next = 1
    with pytest.raises(ServiceError) as caught:
        store.open_data(ERA5, **OPEN)
    assert emulator.failure_message in str(caught.value)
    ds = store.open_data(ERA5, **OPEN)  # the failed job is forgotten; a new one succeeds
    assert ds.sizes["time"] == 2


def test_rejected_job_is_a_service_error(store, emulator):
    emulator.reject_next = 1
    with pytest.raises(ServiceError, match="rejected"):
        store.open_data(ERA5, **{**OPEN, "time_range": ["2021-02-02", "2021-02-02"]})


def test_unknown_ids_are_not_found(store):
    with pytest.raises(DataNotFoundError):
        store.open_data("reanalysis-era5-nothing", **OPEN)
    with pytest.raises(DataNotFoundError, match="product type"):
        store.describe_data(f"{ERA5}:no_such_product")
    with pytest.raises(DataNotFoundError):
        store.describe_data("insitu-observations-surface-land")  # not gridded
    assert not store.has_data("reanalysis-era5-land:reanalysis")


def test_deadline_bounds_waiting_for_jobs(make_store, emulator):
    make_store().describe_data(ERA5)  # the catalogue, so that the deadline covers the job
    emulator.job_run_s = 5.0
    try:
        started = time.monotonic()
        with pytest.raises(DataStoreTimeoutError):
            make_store(call_deadline=1.0).open_data(
                ERA5, **{**OPEN, "time_range": ["2021-03-01", "2021-03-01"]}
            )
        assert time.monotonic() - started < 4
    finally:
        emulator.job_run_s = 0.05


def test_retries_503_with_retry_after(store, faults, emulator):
    faults(error_rate=0.3, error_statuses=(503,), retry_after=0, seed=3)
    ds = store.open_data(ERA5, **{**OPEN, "time_range": ["2021-04-01", "2021-04-01"]})
    assert ds["t2m"].values.size == 2 * 3 * 3
    assert any(r.fault == "error" for r in emulator.request_log)


def test_retries_plain_500s(make_store, faults, emulator):
    """The CDS answers transient faults with 500; its own client retries them, so do we."""
    faults(error_rate=0.2, error_statuses=(500,), seed=5)
    store = make_store(num_retries=6)
    for day in ("05", "06", "07"):
        ds = store.open_data(ERA5, **{**OPEN, "time_range": [f"2021-04-{day}", f"2021-04-{day}"]})
        assert ds["t2m"].values.size == 2 * 3 * 3
    injected = [r for r in emulator.request_log if r.fault == "error" and r.status == 500]
    assert len(injected) >= 3
    assert {"GET", "POST"} <= {r.method for r in injected}


def test_one_deadline_per_call_with_a_service_down(make_store, faults, emulator):
    """503 forever: every request retries until the call's deadline, not each its own."""
    warm = make_store()
    warm.describe_data(ERA5)  # a catalogue on disk, kept as a fallback when it expires
    faults(error_rate=1.0, error_statuses=(503,), retry_after=0.2)
    store = make_store(call_deadline=2.0, catalogue_ttl=0, retry_backoff_max=0.2, num_retries=200)
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError) as caught:
        store.open_data(ERA5, **{**OPEN, "time_range": ["2021-04-08", "2021-04-08"]})
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, f"one 2 s deadline for the whole call, took {elapsed:.1f} s"
    assert "503" in str(caught.value) or "deadline" in str(caught.value)


def test_one_deadline_for_a_listing_with_a_service_down(make_store, faults):
    """Describing the datasets concurrently still shares the one deadline of the listing."""
    store = make_store(call_deadline=2.0, retry_backoff_max=0.2, num_retries=200)
    faults(error_rate=1.0, error_statuses=(503,), retry_after=0.2, paths=r".*/collections/.*")
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError):
        store.list_data_ids()
    elapsed = time.monotonic() - started
    assert elapsed < 5.0, f"one 2 s deadline for the whole listing, took {elapsed:.1f} s"


def test_dropped_connections_and_truncated_downloads(store, faults, emulator):
    faults(
        drop_rate=0.15, truncate_rate=0.3, seed=11, paths=r"/api/retrieve/v1/jobs/.*|/download/.*"
    )
    ds = store.open_data(ERA5, **{**OPEN, "time_range": ["2021-04-02", "2021-04-02"]})
    assert ds["t2m"].values.size == 2 * 3 * 3


def test_persistent_server_errors_give_up_in_time(make_store, faults):
    faults(error_rate=1.0, error_statuses=(502,), retry_after=0, paths=r".*/execution")
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        make_store(num_retries=2).open_data(
            ERA5, **{**OPEN, "time_range": ["2021-04-03", "2021-04-03"]}
        )
    assert time.monotonic() - started < 10
    assert "502" in str(caught.value)


def test_no_partial_files_after_a_failed_download(make_store, faults, tmp_path):
    faults(truncate_rate=1.0, paths=r"/download/.*")
    store = make_store(num_retries=1)
    with pytest.raises(ServiceError):
        store.open_data(ERA5, **{**OPEN, "time_range": ["2021-04-04", "2021-04-04"]})
    finished = [p for p in (tmp_path / "cache").rglob("*") if p.suffix in (".nc", ".zip")]
    assert finished == [], "only complete files carry their final name"
