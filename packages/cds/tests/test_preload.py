"""Preloading: jobs tracked with the core preload handle, results in a cache store."""

from __future__ import annotations

import numpy as np
from eostores_cds.testing import expected_value

ERA5 = "reanalysis-era5-single-levels"
PARAMS = dict(
    variable_names=["2m_temperature"],
    bbox=[0, 0, 0.5, 0.5],
    time_range=["2020-09-29", "2020-10-02"],
    time_period="12H",
)


def test_preload_then_open_from_cache_store(store, emulator, fresh_log, executions):
    messages = []
    handle = store.preload_data(ERA5, silent=True, blocking=False, **PARAMS)
    while not handle.wait(0.02):
        messages.append(handle.get_state(ERA5).message)
    handle.raise_for_failures()
    assert len(handle.data_ids) == 1
    assert any("CDS jobs" in m for m in messages)
    ds = handle.store.open_data(handle.data_ids[0])
    assert ds.sizes["time"] == 8
    want = expected_value(
        250.0,
        ds["lat"].values[None, :, None],
        ds["lon"].values[None, None, :],
        ds["time"].values[:, None, None],
    )
    np.testing.assert_allclose(ds["t2m"].values, want, atol=1e-3)
    jobs = len(executions())
    assert jobs == 2
    again = store.open_data(ERA5, **PARAMS)
    assert len(executions()) == jobs, "opening after preloading reuses the result"
    assert again.sizes == ds.sizes


def test_preload_failure_is_recorded(store, emulator):
    emulator.fail_next = 1
    handle = store.preload_data(
        ERA5, silent=True, **{**PARAMS, "time_range": ["2020-11-01", "2020-11-01"]}
    )
    assert ERA5 in handle.failures
    assert emulator.failure_message in str(handle.failures[ERA5])


def test_preload_with_dataset_specific_params(store):
    handle = store.preload_data(
        "reanalysis-era5-pressure-levels",
        silent=True,
        variable_names=["geopotential"],
        bbox=[0, 0, 0.25, 0.25],
        time_range=["2020-12-01", "2020-12-01"],
        time_period="12H",
        open_params={"pressure_level": ["500"]},
    )
    handle.raise_for_failures()
    ds = handle.store.open_data(handle.data_ids[0])
    assert ds["pressure_level"].values.tolist() == [500.0]


def test_cancelled_preload_dismisses_its_jobs(store, emulator):
    def submitted():
        return [
            j
            for j in emulator.jobs.values()
            if j.request.get("month") == ["12"] and j.request.get("day") == ["24"]
        ]

    emulator.job_run_s = 3.0
    try:
        params = {**PARAMS, "time_range": ["2020-12-24", "2020-12-24"]}
        handle = store.preload_data(ERA5, silent=True, blocking=False, **params)
        for _ in range(100):
            if submitted():
                break
            handle.wait(0.02)
        handle.cancel()
        assert handle.wait(5)
    finally:
        emulator.job_run_s = 0.05
    assert [job.dismissed for job in submitted()] == [True]
    assert handle.get_state(ERA5).status == "cancelled"
