"""Translating, splitting, cost limits, concurrency, caching and resuming of requests."""

from __future__ import annotations

import numpy as np
import pytest
from eostores_cds.api import ResultsExpiredError

from eostores.errors import DataStoreTimeoutError, InvalidParameterError
from eostores.testing import FaultProfile

ERA5 = "reanalysis-era5-single-levels"
SMALL = dict(bbox=[0, 0, 0.5, 0.5], time_period="6H")


def test_split_by_month_requests_only_days_in_range(store, emulator, fresh_log):
    ds = store.open_data(
        ERA5,
        variable_names=["2m_temperature"],
        time_range=["2020-01-30", "2020-03-02"],
        **SMALL,
    )
    requests = sorted((job["request"] for job in emulator.submitted_jobs[-3:]), key=str)
    assert [(r["month"], r["day"][0], r["day"][-1]) for r in requests] == [
        (["01"], "30", "31"),
        (["02"], "01", "29"),
        (["03"], "01", "02"),
    ]
    assert all(r["time"] == ["00:00", "06:00", "12:00", "18:00"] for r in requests)
    assert all(r["area"] == [0.5, 0, 0, 0.5] and r["data_format"] == ["netcdf"] for r in requests)
    assert ds.sizes["time"] == (2 + 29 + 2) * 4
    assert np.all(np.diff(ds["time"].values) == np.timedelta64(6, "h"))


def test_jobs_run_concurrently_within_the_limit(make_store, emulator, fresh_log):
    emulator.job_run_s = 0.3
    try:
        store = make_store(max_concurrent_jobs=2)
        store.open_data(
            ERA5,
            variable_names=["2m_temperature"],
            time_range=["2020-01-01", "2020-04-30"],
            bbox=[0, 0, 0.25, 0.25],
            time_period="12H",
        )
    finally:
        emulator.job_run_s = 0.05
    jobs = sorted(emulator.jobs.values(), key=lambda j: j.created)[-4:]
    overlaps = [
        sum(1 for other in jobs if other.start < job.end and job.start < other.end) for job in jobs
    ]
    assert max(overlaps) == 2, "two jobs in flight at once, never more"


def test_cost_limit_splits_by_variable(store, emulator, fresh_log, cost_limit, executions):
    variables = ["2m_temperature", "10m_u_component_of_wind", "mean_sea_level_pressure"]
    with cost_limit(ERA5, 100):
        ds = store.open_data(
            ERA5, variable_names=variables, time_range=["2020-01-01", "2020-01-10"], **SMALL
        )
    submitted = [
        job["request"]["variable"] for job in emulator.submitted_jobs[-len(executions()) :]
    ]
    assert len(submitted) == 2
    assert sorted(v for group in submitted for v in group) == sorted(variables)
    assert set(ds.data_vars) == {"t2m", "u10", "msl"}
    assert ds.sizes["time"] == 40


def test_without_splitting_a_too_large_request_is_explained(
    store, emulator, fresh_log, cost_limit, executions
):
    with cost_limit(ERA5, 100), pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            ERA5,
            variable_names=["2m_temperature"],
            time_range=["2020-01-01", "2020-03-31"],
            split_requests=False,
            **SMALL,
        )
    message = str(caught.value)
    assert "split" in message and "100" in message and "time_range" in message
    assert executions() == []


def test_cost_refusal_at_submit_is_split_adaptively(make_store, emulator, fresh_log, cost_limit):
    store = make_store()
    emulator.offer_costing = False  # a deployment without cost estimates
    try:
        with cost_limit(ERA5, 60):
            ds = store.open_data(
                ERA5,
                variable_names=["2m_temperature", "mean_sea_level_pressure"],
                time_range=["2020-01-01", "2020-01-10"],
                **SMALL,
            )
    finally:
        emulator.offer_costing = True
    assert ds.sizes["time"] == 40 and set(ds.data_vars) == {"t2m", "msl"}
    refused = [r for r in emulator.request_log if r.path.endswith("/execution") and r.status == 403]
    assert len(refused) == 1


def test_reopening_is_served_from_the_cache(make_store, emulator, fresh_log):
    params = dict(variable_names=["2m_temperature"], time_range=["2020-05-01", "2020-05-02"])
    first = make_store().open_data(ERA5, **params, **SMALL)
    emulator.reset_log()
    second = make_store().open_data(ERA5, **params, **SMALL)
    assert emulator.request_log == [], "a new store on the same cache makes no request"
    np.testing.assert_array_equal(first["t2m"].values, second["t2m"].values)


def test_pieces_are_reused_across_requests(store, emulator, fresh_log, executions):
    store.open_data(
        ERA5, variable_names=["2m_temperature"], time_range=["2020-06-29", "2020-07-02"], **SMALL
    )
    assert len(executions()) == 2
    emulator.reset_log()
    ds = store.open_data(
        ERA5, variable_names=["2m_temperature"], time_range=["2020-07-01", "2020-07-02"], **SMALL
    )
    assert executions() == [], "the July piece was downloaded before"
    assert ds.sizes["time"] == 8


def test_timed_out_request_resumes_the_same_job(make_store, emulator, fresh_log, executions):
    params = dict(variable_names=["2m_temperature"], time_range=["2020-08-01", "2020-08-01"])
    make_store().describe_data(ERA5)  # the catalogue, so that the deadline covers the job
    emulator.job_run_s = 3.0
    try:
        with pytest.raises(DataStoreTimeoutError, match="resumes"):
            make_store(call_deadline=1.0).open_data(ERA5, **params, **SMALL)
        assert len(executions()) == 1
        ds = make_store().open_data(ERA5, **params, **SMALL)
    finally:
        emulator.job_run_s = 0.05
    assert len(executions()) == 1, "the second run polled the job of the first"
    assert ds.sizes["time"] == 4


def job_of_a_timed_out_call(make_store, emulator, executions, params):
    """Submit the request in a call that times out, leaving its ticket; the job, made to
    have finished an hour ago."""
    make_store().describe_data(ERA5)  # the catalogue, so that the deadline covers the job
    emulator.job_run_s = 30.0
    try:
        with pytest.raises(DataStoreTimeoutError):
            make_store(call_deadline=1.0).open_data(ERA5, **params, **SMALL)
    finally:
        emulator.job_run_s = 0.05
    assert len(executions()) == 1
    job = max(emulator.jobs.values(), key=lambda job: job.created)
    job.start, job.end = job.start - 3600, job.end - 3600 - 30
    return job


def test_resumed_job_whose_results_expired_is_submitted_again(
    make_store, emulator, fresh_log, executions, tmp_path
):
    params = dict(variable_names=["2m_temperature"], time_range=["2020-08-02", "2020-08-02"])
    first = job_of_a_timed_out_call(make_store, emulator, executions, params)
    emulator.results_ttl_s = 600.0
    try:
        ds = make_store().open_data(ERA5, **params, **SMALL)
    finally:
        emulator.results_ttl_s = None
    assert ds.sizes["time"] == 4
    assert len(executions()) == 2, "the expired job was replaced by one new job"
    asked = [r for r in emulator.request_log if r.path.endswith(f"/jobs/{first.id}/results")]
    assert asked and all(r.status == 404 for r in asked)
    assert not list((tmp_path / "cache").rglob("*.job.json"))


def test_resumed_job_whose_download_link_is_gone_is_submitted_again(
    make_store, emulator, fresh_log, executions
):
    params = dict(variable_names=["2m_temperature"], time_range=["2020-08-03", "2020-08-03"])
    first = job_of_a_timed_out_call(make_store, emulator, executions, params)
    emulator.faults = FaultProfile(fail_first=1, error_statuses=(404,), paths=r"/download/.*")
    try:
        ds = make_store().open_data(ERA5, **params, **SMALL)
    finally:
        emulator.faults = None
    assert ds.sizes["time"] == 4
    assert len(executions()) == 2
    downloads = [r for r in emulator.request_log if r.path.startswith("/download/")]
    assert downloads[0].path.startswith(f"/download/{first.id}/") and downloads[0].status == 404


def test_expired_results_of_a_new_job_are_an_error_not_a_loop(store, emulator, executions):
    emulator.reset_log()
    emulator.results_ttl_s = 0.0
    try:
        with pytest.raises(ResultsExpiredError, match="results expired"):
            store.open_data(
                ERA5,
                variable_names=["2m_temperature"],
                time_range=["2020-08-04", "2020-08-04"],
                **SMALL,
            )
    finally:
        emulator.results_ttl_s = None
    assert len(executions()) == 1


def test_invalid_combination_is_refused_before_submitting(store, fresh_log, executions):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            "satellite-soil-moisture",
            variable_names=["volumetric_surface_soil_moisture"],
            type_of_sensor="active",
            time_range=["2020-01-01", "2020-01-02"],
        )
    assert "type_of_sensor" in str(caught.value) or "variable_names" in str(caught.value)
    assert executions() == []


def test_time_period_not_offered_for_product_type(store, fresh_log):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            ERA5,
            product_type="ensemble_mean",
            variable_names=["2m_temperature"],
            time_range=["2020-01-01", "2020-01-01"],
            time_period="1H",
            bbox=[0, 0, 1, 1],
        )
    assert caught.value.parameter == "time_period"
    assert not any(r.path.endswith("/execution") for r in fresh_log.request_log)


def test_time_range_outside_the_extent(store):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            ERA5, variable_names=["2m_temperature"], time_range=["1930-01-01", "1930-01-02"]
        )
    assert "time_range" in str(caught.value)


def test_relative_result_hrefs(store, emulator):
    emulator.relative_hrefs = True
    try:
        ds = store.open_data(
            ERA5,
            variable_names=["2m_temperature"],
            time_range=["2020-09-09", "2020-09-09"],
            **SMALL,
        )
    finally:
        emulator.relative_hrefs = False
    assert ds.sizes["time"] == 4
