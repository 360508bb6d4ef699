"""Hostile input: names and links from the service, data ids and grids from the user."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from eostores.errors import (
    AuthenticationError,
    DataStoreTimeoutError,
    InvalidParameterError,
    ServiceError,
)

ERA5 = "reanalysis-era5-single-levels"
OPEN = dict(
    variable_names=["2m_temperature"],
    bbox=[0, 0, 0.5, 0.5],
    time_period="12H",
)


def files_below(root: Path) -> set[Path]:
    return {Path(folder) / name for folder, _, names in os.walk(root) for name in names}


@pytest.fixture
def sandbox(tmp_path):
    """Everything the test may write goes below ``tmp_path``; the cache is one folder in it."""
    before = files_below(tmp_path)

    def escaped() -> list[Path]:
        cache = tmp_path / "cache"
        return [p for p in files_below(tmp_path) - before if cache not in p.parents]

    return escaped


@pytest.mark.parametrize(
    ("name", "day"),
    [("../../x.nc", "01"), ("/tmp/x.nc", "02"), ("..%2F..%2Fx.nc", "03"), ("~/x.nc", "04")],
)
def test_hostile_result_file_names_stay_unused(store, fresh_log, sandbox, name, day):
    emulator = fresh_log
    outside = Path("/tmp/x.nc")
    existed = outside.exists()
    emulator.result_name = name
    try:
        ds = store.open_data(ERA5, time_range=[f"2018-01-{day}", f"2018-01-{day}"], **OPEN)
    finally:
        emulator.result_name = None
    assert ds.sizes["time"] == 2
    downloads = [r for r in emulator.request_log if r.path.startswith("/download/")]
    assert downloads and all(r.path.endswith(name) and r.status == 200 for r in downloads)
    assert sandbox() == []
    assert outside.exists() == existed


@pytest.mark.parametrize(("prefix", "day"), [("../../", "05"), ("/tmp/", "06"), ("a/../../", "07")])
def test_hostile_archive_members_are_refused(store, emulator, sandbox, prefix, day):
    emulator.member_prefix = prefix
    try:
        with pytest.raises(ServiceError) as caught:
            store.open_data(
                ERA5,
                **{
                    **OPEN,
                    "variable_names": ["2m_temperature", "total_precipitation"],
                    "time_range": [f"2018-01-{day}", f"2018-01-{day}"],
                },
            )
    finally:
        emulator.member_prefix = ""
    assert "refusing to extract" in str(caught.value)
    assert sandbox() == []
    assert not Path("/tmp/data_stream-oper_stepType-instant.nc").exists()


@pytest.mark.parametrize(
    ("job_id", "day"), [("../../catalogue/v1/messages", "08"), ("..", "10"), ("a?b#c", "11")]
)
def test_hostile_job_id_in_a_ticket_is_not_followed(make_store, emulator, tmp_path, job_id, day):
    """A ticket naming a hostile job id (as if the service had sent it) is dropped."""
    params = {**OPEN, "time_range": [f"2018-01-{day}", f"2018-01-{day}"]}
    make_store().describe_data(ERA5)  # the catalogue, so that the deadline covers the job
    emulator.job_run_s = 10.0
    try:
        with pytest.raises(DataStoreTimeoutError):
            make_store(call_deadline=2.0).open_data(ERA5, **params)
    finally:
        emulator.job_run_s = 0.05
    (ticket,) = (tmp_path / "cache").rglob("*.job.json")
    ticket.write_text(json.dumps({"job_id": job_id}))
    emulator.reset_log()
    ds = make_store().open_data(ERA5, **params)
    assert ds.sizes["time"] == 2
    followed = [r for r in emulator.request_log if "/jobs/" in r.path and "messages" in r.path]
    assert all(r.status == 404 for r in followed), "the id stays one path segment"
    assert [r.path.endswith("/execution") for r in emulator.request_log].count(True) == 1


def test_api_key_goes_only_to_the_api_origin(store_params, emulator, tmp_path):
    from eostores import new_data_store

    port = emulator.url.rsplit(":", 1)[1]
    emulator.link_origin = f"http://localhost:{port}"
    emulator.reset_log()
    try:
        with pytest.raises(AuthenticationError):
            new_data_store("cds", **store_params).open_data(
                ERA5, **{**OPEN, "time_range": ["2018-01-09", "2018-01-09"]}
            )
    finally:
        emulator.link_origin = None
    foreign = [r for r in emulator.request_log if r.headers.get("host", "").startswith("localhost")]
    assert foreign, "the job was polled at the link's origin"
    assert all("private-token" not in r.headers for r in foreign)
    own = [r for r in emulator.request_log if r.path.endswith("/execution")]
    assert own and all(r.headers.get("private-token") == "***" for r in own)


def test_api_key_is_dropped_on_a_redirect_to_another_origin(store_params, emulator):
    from eostores import new_data_store

    port = emulator.url.rsplit(":", 1)[1]
    emulator.redirect_origin = f"http://localhost:{port}"
    emulator.reset_log()
    try:
        with pytest.raises(AuthenticationError):
            new_data_store("cds", **store_params).open_data(
                ERA5, **{**OPEN, "time_range": ["2018-01-12", "2018-01-12"]}
            )
    finally:
        emulator.redirect_origin = None
    redirected = [r for r in emulator.request_log if r.status == 307]
    foreign = [r for r in emulator.request_log if r.headers.get("host", "").startswith("localhost")]
    assert redirected and foreign, "the job status request was redirected and followed"
    assert all("private-token" not in r.headers for r in foreign)


@pytest.mark.parametrize("bad", [["a"], None, 42, "", ("a",)])
def test_data_ids_that_are_not_strings(store, fresh_log, bad):
    for call in (store.open_data, store.describe_data, store.has_data, store.get_data_opener_ids):
        if call == store.get_data_opener_ids and bad is None:
            continue
        with pytest.raises(InvalidParameterError) as caught:
            call(bad)
        assert caught.value.parameter == "data_id"
    if bad is not None:
        with pytest.raises(InvalidParameterError):
            store.get_open_data_params_schema(bad)
    with pytest.raises(InvalidParameterError):
        store.preload_data(bad, silent=True, time_range=["2018-01-01", "2018-01-01"])
    assert fresh_log.request_log == [], "refused before any request"


def test_grid_size_is_bounded_before_any_request(make_store, emulator, fresh_log):
    store = make_store()
    store.describe_data("reanalysis-era5-land")  # catalogue only
    emulator.reset_log()
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            "reanalysis-era5-land",
            variable_names=["2m_temperature"],
            time_range=["2020-01-01", "2020-12-31"],
        )
    assert caught.value.parameter == "spatial_res"
    assert "bbox" in str(caught.value) and "GiB" in str(caught.value)
    small = make_store(max_request_bytes=1000)
    with pytest.raises(InvalidParameterError, match="max_request_bytes"):
        small.open_data(ERA5, time_range=["2018-01-01", "2018-01-31"], **OPEN)
    assert not any(r.method == "POST" for r in emulator.request_log)
