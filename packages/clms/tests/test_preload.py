"""Preloading end to end: requests, reuse, terminal states, deadlines, links, downloads."""

from __future__ import annotations

import logging
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import IMD_4X4, IMD_100M, TCD, WATER, requests_to
from eostores_clms.jobs import cache_data_id
from eostores_clms.store import NotPreloadedError
from eostores_clms.testing import expected_value

from eostores.errors import DataStoreTimeoutError, ServiceError
from eostores.preload import PreloadStatus
from eostores.testing import FaultProfile

TILE_RES = 100_000.0 / 16  # the emulator's 100 km tiles have 16 pixels


def _check_values(dataset, variable, x_name="x", y_name="y"):
    values = dataset[variable].isel(time=0).values
    expected = expected_value(
        variable, dataset[x_name].values[None, :], dataset[y_name].values[:, None]
    )
    present = ~np.isnan(values)
    np.testing.assert_allclose(values[present], expected[present], rtol=1e-6)
    return present


def _file(data_id: str) -> tuple[str, str]:
    product, _, name = data_id.partition("|")
    return product, name


def _wait_for(condition, timeout=30.0):
    ends = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < ends, "condition not reached in time"
        time.sleep(0.02)


def test_sixteen_tiles_merge_exactly_across_their_seams(store, clms):
    handle = store.preload_data(IMD_4X4, silent=True)
    handle.raise_for_failures()
    assert handle.data_ids == ["imperviousness-density-2018/IMD_2018_010m_eu_03035_v020.zarr"]
    cube = store.open_data(IMD_4X4)
    assert dict(cube.sizes) == {"time": 1, "y": 64, "x": 64}
    assert cube.imperviousness.chunks is not None, "opened lazily from the cache store"
    np.testing.assert_allclose(cube.x.values, 4_000_000 + (np.arange(64) + 0.5) * TILE_RES)
    np.testing.assert_allclose(cube.y.values, 2_400_000 - (np.arange(64) + 0.5) * TILE_RES)
    assert _check_values(cube, "imperviousness").all(), "16 tiles leave no gap"
    values = cube.imperviousness.isel(time=0).values
    # One pixel step is the same inside a tile and across a seam (columns 15|16, rows 31|32).
    np.testing.assert_allclose(np.diff(values, axis=1), 1e-4 * TILE_RES, rtol=1e-4)
    np.testing.assert_allclose(np.diff(values, axis=0), -1e-5 * TILE_RES, rtol=1e-3)
    seam = store.open_data(IMD_4X4, bbox=[4_090_000, 2_190_000, 4_110_000, 2_210_000])
    assert dict(seam.sizes) == {"time": 1, "y": 4, "x": 4}
    _check_values(seam, "imperviousness")
    same = handle.store.open_data(handle.data_ids[0])
    np.testing.assert_array_equal(same.imperviousness.values, cube.imperviousness.values)
    described = store.describe_data(IMD_4X4)
    assert set(described.data_vars) == {"imperviousness"}
    assert described.attrs["preloaded_as"] == handle.data_ids[0]


def test_a_missing_tile_a_single_geotiff_and_a_netcdf(store):
    handle = store.preload_data(IMD_100M, TCD, WATER, silent=True)
    handle.raise_for_failures()
    assert len(handle.data_ids) == 3
    gap = store.open_data(IMD_100M)
    present = _check_values(gap, "imperviousness")
    east = gap.x.values[None, :] >= 4_100_000
    north = gap.y.values[:, None] >= 2_100_000
    np.testing.assert_array_equal(present, ~(east & north))  # tile E41N21 is not delivered
    single = store.open_data(TCD, variable_names=["tree_cover_density"])
    assert _check_values(single, "tree_cover_density").all()
    assert dict(single.sizes) == {"time": 1, "y": 32, "x": 32}
    water = store.open_data(WATER, time_range=["2020-01-01", "2020-01-01"])
    assert _check_values(water, "water_occurrence", "lon", "lat").all()
    assert str(water.time.values[0])[:10] == "2020-01-01"


def test_open_before_preloading_says_what_to_do(store, clms):
    with pytest.raises(NotPreloadedError) as caught:
        store.open_data(TCD, bbox=[4_000_000, 2_000_000, 4_050_000, 2_050_000])
    assert f"preload_data({TCD!r})" in str(caught.value)


def test_a_cached_id_is_not_requested_again(store, clms, make_store, monkeypatch):
    store.preload_data(TCD, silent=True).raise_for_failures()
    clms.reset_log()
    again = store.preload_data(TCD, silent=True)
    again.raise_for_failures()
    assert again.get_state(TCD).message.startswith("already in the cache store")
    monkeypatch.delenv("CLMS_CREDENTIALS", raising=False)
    anonymous = make_store(clms, credentials=None)
    anonymous.preload_data(TCD, silent=True).raise_for_failures()
    assert clms.request_log == []


@pytest.mark.parametrize("head_refused", [False, True])
def test_a_valid_finished_task_is_reused_without_a_new_request(
    fresh_clms, make_store, head_refused
):
    fresh_clms.head_refused = head_refused  # some hosts answer HEAD with 405
    task_id = fresh_clms.add_task(*_file(TCD), age_s=600)
    store = make_store(fresh_clms)
    store.preload_data(TCD, silent=True).raise_for_failures()
    assert not requests_to(fresh_clms, "/@datarequest_post")
    *checks, fetched = [(r.method, r.status) for r in fresh_clms.request_log if task_id in r.path]
    assert checks == ([("HEAD", 405), ("GET", 206)] if head_refused else [("HEAD", 200)])
    assert fetched == ("GET", 200)
    assert _check_values(store.open_data(TCD), "tree_cover_density").all()


@pytest.mark.parametrize("naive_times", [False, True])
def test_old_and_dead_links_are_not_reused(fresh_clms, make_store, naive_times):
    fresh_clms.naive_times = naive_times  # older tasks carry times without the UTC offset
    old = fresh_clms.add_task(*_file(TCD), age_s=2 * 3600)
    dead = fresh_clms.add_task(*_file(TCD), age_s=60, link_gone=True)
    store = make_store(fresh_clms, link_ttl=3600)
    store.preload_data(TCD, silent=True).raise_for_failures()
    assert not [r for r in fresh_clms.request_log if old in r.path], "too old to be tried"
    assert [(r.method, r.status) for r in fresh_clms.request_log if dead in r.path] == [
        ("HEAD", 404)
    ]
    assert len(requests_to(fresh_clms, "/@datarequest_post")) == 1


def test_a_pending_task_for_the_same_file_is_joined(fresh_clms, make_store):
    task_id = fresh_clms.add_task(*_file(TCD), status="In_progress")
    store = make_store(fresh_clms)
    handle = store.preload_data(TCD, blocking=False, silent=True)
    _wait_for(lambda: requests_to(fresh_clms, "/@datarequest_status_get"))
    fresh_clms.finish_task(task_id)
    assert handle.wait(timeout=60)
    handle.raise_for_failures()
    assert not requests_to(fresh_clms, "/@datarequest_post")
    polled = {r.query.get("TaskID") for r in requests_to(fresh_clms, "/@datarequest_status_get")}
    assert polled == {task_id}


def test_a_stale_queued_task_is_cancelled_and_the_file_requested_again(fresh_clms, make_store):
    stale = fresh_clms.add_task(*_file(TCD), status="Queued", age_s=7 * 3600)  # default: 6 h
    store = make_store(fresh_clms, request_deadline=30)
    store.preload_data(TCD, silent=True).raise_for_failures()
    assert fresh_clms.task_status(stale) == "Cancelled"
    assert [r.status for r in requests_to(fresh_clms, "/@datarequest_delete")] == [204]
    assert [r.status for r in requests_to(fresh_clms, "/@datarequest_post")] == [201]
    polled = {r.query.get("TaskID") for r in requests_to(fresh_clms, "/@datarequest_status_get")}
    assert stale not in polled


def test_a_stuck_task_is_replaced_once_it_is_stale(fresh_clms, make_store):
    fresh_clms.script_outcomes("stuck")
    settings = {"poll_interval": 0.1, "stale_task_age": 2.5}
    first = make_store(fresh_clms, request_deadline=1.0, **settings).preload_data(TCD, silent=True)
    assert "still Queued" in str(first.failures[TCD])
    (stuck,) = fresh_clms.task_ids
    time.sleep(2.6)  # registered before the first preload ended
    store = make_store(fresh_clms, request_deadline=30, **settings)
    store.preload_data(TCD, silent=True).raise_for_failures()
    assert fresh_clms.task_status(stuck) == "Cancelled"
    assert [r.status for r in requests_to(fresh_clms, "/@datarequest_post")] == [201, 201]


def test_a_duplicate_refusal_joins_the_pending_task(fresh_clms, make_store):
    stale = fresh_clms.add_task(*_file(TCD), status="Queued", age_s=7 * 3600)
    fresh_clms.delete_blocked = True  # the stale task cannot be cancelled
    store = make_store(fresh_clms, request_deadline=60)
    handle = store.preload_data(TCD, blocking=False, silent=True)
    _wait_for(lambda: requests_to(fresh_clms, "/@datarequest_status_get"))
    fresh_clms.finish_task(stale)
    assert handle.wait(timeout=60)
    handle.raise_for_failures()
    assert [r.status for r in requests_to(fresh_clms, "/@datarequest_delete")] == [403]
    assert [r.status for r in requests_to(fresh_clms, "/@datarequest_post")] == [400]
    polled = {r.query.get("TaskID") for r in requests_to(fresh_clms, "/@datarequest_status_get")}
    assert polled == {stale}


def test_a_request_the_back_end_refused_is_reported_and_its_task_cancelled(fresh_clms, make_store):
    fresh_clms.script_outcomes("fme_failed")
    store = make_store(fresh_clms, request_deadline=30)
    error = store.preload_data(TCD, silent=True).failures[TCD]
    assert isinstance(error, ServiceError) and error.status == 500
    assert "Error, all requests failed" in str(error)
    (orphan,) = fresh_clms.task_ids
    assert fresh_clms.task_status(orphan) == "Cancelled", "not left to block the next request"
    store.preload_data(TCD, silent=True).raise_for_failures()
    assert [r.status for r in requests_to(fresh_clms, "/@datarequest_post")] == [500, 201]


@pytest.mark.parametrize(
    ("outcome", "said"),
    [("Finished_nok", "raster translation error"), ("Rejected", "temporarily unavailable")],
)
def test_failed_and_rejected_tasks_end_with_the_service_message(
    fresh_clms, make_store, outcome, said
):
    fresh_clms.script_outcomes(outcome)
    store = make_store(fresh_clms, request_deadline=60)
    started = time.monotonic()
    handle = store.preload_data(TCD, silent=True)
    assert time.monotonic() - started < 30
    error = handle.failures[TCD]
    assert isinstance(error, ServiceError)
    assert outcome in str(error) and said in str(error)
    assert error.store_id == "clms" and error.data_id == TCD
    polls = len(requests_to(fresh_clms, "/@datarequest_status_get"))
    time.sleep(0.2)
    assert len(requests_to(fresh_clms, "/@datarequest_status_get")) == polls, "polling stopped"
    assert len(requests_to(fresh_clms, "/@datarequest_post")) == 1
    with pytest.raises(NotPreloadedError):
        store.open_data(TCD)


def test_a_task_cancelled_in_the_portal_ends_the_id(fresh_clms, make_store):
    fresh_clms.queue_s = 3600
    store = make_store(fresh_clms)
    handle = store.preload_data(TCD, blocking=False, silent=True)
    _wait_for(lambda: fresh_clms.task_ids)
    fresh_clms.cancel_task(fresh_clms.task_ids[0])
    assert handle.wait(timeout=60)
    error = handle.failures[TCD]
    assert isinstance(error, ServiceError) and "status Cancelled" in str(error)


def test_the_request_deadline_bounds_an_endless_queue(fresh_clms, make_store):
    fresh_clms.queue_s = 3600
    store = make_store(fresh_clms, request_deadline=1.0, poll_interval=0.1)
    started = time.monotonic()
    handle = store.preload_data(TCD, silent=True)
    elapsed = time.monotonic() - started
    error = handle.failures[TCD]
    assert isinstance(error, DataStoreTimeoutError)
    assert "still Queued" in str(error) and "request_deadline 1 s" in str(error)
    assert 0.9 <= elapsed < 20


def test_a_finished_task_whose_link_is_gone_is_requested_once_more(fresh_clms, make_store):
    fresh_clms.script_outcomes("link_gone")
    store = make_store(fresh_clms)
    handle = store.preload_data(TCD, silent=True)
    handle.raise_for_failures()
    assert len(requests_to(fresh_clms, "/@datarequest_post")) == 2
    downloads = [(r.method, r.status) for r in requests_to(fresh_clms, ".zip")]
    assert downloads[0] == ("GET", 404) and downloads[-1] == ("GET", 200)
    assert _check_values(store.open_data(TCD), "tree_cover_density").all()


def test_a_link_that_fails_twice_is_not_requested_a_third_time(fresh_clms, make_store):
    fresh_clms.script_outcomes("link_gone", "link_gone")
    store = make_store(fresh_clms)
    error = store.preload_data(TCD, silent=True).failures[TCD]
    assert isinstance(error, ServiceError) and "second time" in str(error)
    assert len(requests_to(fresh_clms, "/@datarequest_post")) == 2


def test_cancel_stops_the_id_and_the_task_at_the_service(fresh_clms, make_store):
    fresh_clms.queue_s = 3600
    store = make_store(fresh_clms)
    handle = store.preload_data(TCD, blocking=False, silent=True)
    _wait_for(lambda: requests_to(fresh_clms, "/@datarequest_status_get"))
    handle.cancel()
    assert handle.wait(timeout=60)
    assert handle.get_state(TCD).status is PreloadStatus.CANCELLED
    (deleted,) = requests_to(fresh_clms, "/@datarequest_delete", "DELETE")
    assert deleted.status == 204
    assert fresh_clms.task_status(fresh_clms.task_ids[0]) == "Cancelled"


def test_cancel_holds_locally_when_the_service_refuses_to_delete(fresh_clms, make_store):
    fresh_clms.queue_s = 3600
    fresh_clms.delete_blocked = True
    store = make_store(fresh_clms)
    handle = store.preload_data(TCD, blocking=False, silent=True)
    _wait_for(lambda: requests_to(fresh_clms, "/@datarequest_status_get"))
    started = time.monotonic()
    handle.cancel()
    assert handle.wait(timeout=60)
    assert time.monotonic() - started < 20
    state = handle.get_state(TCD)
    assert state.status is PreloadStatus.CANCELLED
    assert [r.status for r in requests_to(fresh_clms, "/@datarequest_delete")] == [403]
    assert fresh_clms.task_status(fresh_clms.task_ids[0]) == "Queued"


def test_downloads_resume_after_dropped_connections_within_and_across_preloads(
    fresh_clms, make_store
):
    store = make_store(fresh_clms)
    fresh_clms.prepare_archives([_file(IMD_4X4)[1]])
    fresh_clms.faults = FaultProfile(truncate_rate=1.0, paths=r"/downloads/.*")
    first = store.preload_data(IMD_4X4, silent=True)
    assert isinstance(first.failures[IMD_4X4], ServiceError)
    offsets = [
        int(r.headers.get("range", "bytes=0-")[6:-1])
        for r in requests_to(fresh_clms, ".zip", "GET")
    ]
    assert len(offsets) == 5 and offsets == sorted(set(offsets)), "each attempt resumes"
    staging = store.work_dir / "downloads"
    (part,) = staging.rglob("result.zip.part")
    kept = part.stat().st_size
    assert kept > offsets[-1]
    fresh_clms.faults = None
    fresh_clms.reset_log()
    second = store.preload_data(IMD_4X4, silent=True)
    second.raise_for_failures()
    assert not requests_to(fresh_clms, "/@datarequest_post"), "the finished task is reused"
    (get,) = requests_to(fresh_clms, ".zip", "GET")
    assert get.headers["range"] == f"bytes={kept}-"
    assert _check_values(store.open_data(IMD_4X4), "imperviousness").all()
    assert not list(staging.rglob("*.zip*")), "cleanup removed the finished download"


@pytest.mark.parametrize("form", ["text", "KB"])
def test_the_download_length_holds_whatever_file_size_says(fresh_clms, make_store, caplog, form):
    caplog.set_level(logging.INFO, logger="eostores.clms")
    fresh_clms.file_size_as = form
    store = make_store(fresh_clms)
    store.preload_data(TCD, silent=True).raise_for_failures()
    assert _check_values(store.open_data(TCD), "tree_cover_density").all()
    noted = [r.getMessage() for r in caplog.records if "FileSize says" in r.getMessage()]
    assert len(noted) == (1 if form == "KB" else 0), noted


def test_cleanup_false_keeps_the_downloaded_archive(store):
    store.preload_data(TCD, silent=True, cleanup=False).raise_for_failures()
    kept = [p.name for p in store.work_dir.joinpath("downloads").rglob("*") if p.is_file()]
    assert "result.zip" in kept
    assert not any(name.endswith(".tif") for name in kept), "extracted files are removed"


def test_throttling_and_server_errors_are_retried(fresh_clms, make_store):
    store = make_store(fresh_clms)
    store.list_data_ids()
    fresh_clms.faults = FaultProfile(
        fail_first=3, error_statuses=(429,), retry_after=0.1, paths=r"/api/@datarequest_.*"
    )
    store.preload_data(TCD, silent=True).raise_for_failures()
    assert [r.status for r in fresh_clms.request_log if r.fault] == [429, 429, 429]
    for status, retry_after in ((500, None), (502, 0), (503, "date")):
        fresh_clms.faults = FaultProfile(
            fail_first=2, error_statuses=(status,), retry_after=retry_after
        )
        fresh_clms.reset_log()
        store.preload_data(WATER, silent=True, cleanup=True).raise_for_failures()
        assert [r.status for r in fresh_clms.request_log if r.fault] == [status, status]
        store.cache_store.delete_data(cache_data_id(store.catalog.get(WATER)))


def test_no_files_are_left_outside_the_cache(store, tmp_path):
    store.preload_data(IMD_100M, silent=True).raise_for_failures()
    outside = [p for p in tmp_path.iterdir() if p.name != "cache"]
    assert outside == []
    files = {
        p.relative_to(tmp_path / "cache").parts[0] for p in Path(tmp_path / "cache").rglob("*")
    }
    assert files <= {"imperviousness-density-2018", ".clms"}


def test_a_memory_cache_store_keeps_its_work_files_in_the_user_cache(
    clms, make_store, tmp_path, monkeypatch
):
    monkeypatch.setenv("EOSTORES_CACHE_DIR", str(tmp_path / "user-cache"))
    store = make_store(
        clms, cache_store_id="memory", cache_store_params={"root": f"clms-test-{id(tmp_path)}"}
    )
    handle = store.preload_data(TCD, silent=True)
    handle.raise_for_failures()
    assert type(handle.store).__name__ == "MemoryDataStore"
    assert _check_values(handle.store.open_data(handle.data_ids[0]), "tree_cover_density").all()
    assert _check_values(store.open_data(TCD), "tree_cover_density").all()
    assert store.work_dir.is_relative_to(tmp_path / "user-cache" / "clms")
    assert not list(store.work_dir.rglob("*.zip")), "downloads were cleaned up"
    handle.store.fs.rm(handle.store.root, recursive=True)
