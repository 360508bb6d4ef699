"""Preloading as callers of xcube's ``store.preload_data()`` use it: the handle serves as
the store, state names in both cases, partial state updates."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from eostores import DataNotFoundError, InvalidParameterError, new_data_store
from eostores.preload import STORE_METHODS, PreloadHandle, PreloadState, PreloadStatus


def test_status_members_have_lower_case_names_too():
    assert PreloadStatus.completed is PreloadStatus.COMPLETED
    assert PreloadStatus["failed"] is PreloadStatus.FAILED
    assert PreloadStatus("cancelled") is PreloadStatus.cancelled
    assert len(PreloadStatus) == 5, "the lower-case names are aliases, not more members"
    assert str(PreloadStatus.started) == "started"


def test_state_update_takes_the_fields_an_event_sets():
    state = PreloadState("a.zarr")
    state.update(PreloadState("a.zarr", status=PreloadStatus.started, progress=0.25))
    state.update(PreloadState("a.zarr", message="downloading"))
    assert (state.status, state.progress, state.message) == (
        PreloadStatus.STARTED,
        0.25,
        "downloading",
    )
    state.update(PreloadState("other.zarr", progress=1.0))
    assert state.progress == 0.25, "events of other data ids change nothing"
    with pytest.raises(InvalidParameterError, match="event"):
        state.update({"progress": 1.0})


def test_handle_of_a_store_offers_the_store_methods(tmp_path, cube):
    store = new_data_store("file", root=str(tmp_path))
    store.write_data(cube, "cube.zarr")
    preloaded = store.preload_data("cube.zarr")
    # code written for "preload_data returns the store" keeps working
    assert preloaded.list_data_ids() == ["cube.zarr"]
    assert preloaded.has_data("cube.zarr")
    assert preloaded.describe_data("cube.zarr").data_id == "cube.zarr"
    np.testing.assert_allclose(preloaded.open_data("cube.zarr").sst.values, cube.sst.values)
    assert preloaded.preload_handle is preloaded
    assert preloaded.store is store
    assert preloaded.preload_handle.get_state("cube.zarr").status is PreloadStatus.completed
    assert set(dir(preloaded)) >= STORE_METHODS
    # only reading methods are offered
    with pytest.raises(AttributeError, match="write_data"):
        preloaded.write_data(cube, "other.zarr")
    with pytest.raises(DataNotFoundError):
        store.preload_data("missing.zarr")


def test_notify_reports_progress_while_a_task_runs():
    started, release = threading.Event(), threading.Event()

    def task(context):
        started.set()
        release.wait(10)
        return [context.data_id]

    class Store:
        def open_data(self, data_id):
            return data_id

    handle = PreloadHandle(["x"], task, store=Store(), blocking=False, silent=True)
    try:
        assert started.wait(10)
        handle.notify(PreloadState("x", progress=0.5, message="half way"))
        state = handle.get_state("x")
        assert (state.progress, state.message) == (0.5, "half way")
        assert state.status is PreloadStatus.STARTED
        with pytest.raises(DataNotFoundError):
            handle.notify(PreloadState("y", progress=0.5))
    finally:
        release.set()
        handle.wait(10)
    assert handle.get_state("x").status is PreloadStatus.completed
    assert handle.open_data("x") == "x"
