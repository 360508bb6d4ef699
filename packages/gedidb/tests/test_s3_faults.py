"""Faults on the S3 side: TileDB retries them; what it cannot read is a clear error."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest
from conftest import ALL_TIME, BOX, in_box
from eostores_gedidb.api import GediArray
from eostores_gedidb.config import (
    DEFAULT_REGION,
    GEDIDB_REQUEST_TIMEOUT,
    HTTP_DEFAULTS,
    http_config,
)
from eostores_gedidb.testing.emulator import PRIVATE_BUCKET

from eostores.errors import AuthenticationError, DataNotFoundError, ServiceError


def _expected_agbd(shots, dataset):
    index = {int(n): i for i, n in enumerate(shots["shot_number"])}
    rows = [index[int(n)] for n in dataset["shot_number"].values]
    return shots["agbd"][rows]


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 0.3, "error_statuses": [503, 500], "retry_after": 0, "seed": 5},
        {"drop_rate": 0.15, "seed": 6},
        {"truncate_rate": 0.15, "seed": 7},
    ],
    ids=["5xx", "dropped", "truncated"],
)
def test_reads_survive_s3_faults_with_the_right_values(make_store, emulator, shots, faults):
    store = make_store(num_retries=6)
    emulator.s3.set_faults(faults)
    emulator.reset_log()
    dataset = store.open_data("L4A", variable_names=["agbd"], bbox=BOX, time_range=ALL_TIME)
    values = dataset["agbd"].values
    emulator.s3.set_faults(None)
    assert len(values) == int(in_box(shots, BOX).sum())
    np.testing.assert_array_equal(values, _expected_agbd(shots, dataset))
    assert any(r.fault for r in emulator.s3.request_log), "faults were injected"


def test_persistent_s3_errors_are_a_bounded_service_error(make_store, emulator):
    store = make_store(num_retries=1, retry_backoff_base=0.01)
    emulator.s3.set_faults({"error_rate": 1.0, "error_statuses": [500], "retry_after": 0})
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        store.open_data("L4A", bbox=BOX, time_range=ALL_TIME)
    assert time.monotonic() - started < 60
    error = caught.value
    assert error.store_id == "gedidb" and error.data_id == "L4A"
    assert error.parameter == "endpoint_url" and error.status == 500
    assert "HTTP Response Code: 500" in str(error) and "[Headers:" not in str(error)


def test_a_missing_bucket_is_data_not_found_naming_the_bucket(make_store):
    store = make_store(bucket="no-such-gedidb-bucket")
    with pytest.raises(DataNotFoundError) as caught:
        store.open_data("L4A", bbox=BOX, time_range=ALL_TIME)
    assert caught.value.parameter == "bucket"
    assert "no-such-gedidb-bucket" in str(caught.value)


def test_a_bucket_closed_to_anonymous_readers(make_store):
    store = make_store(bucket=PRIVATE_BUCKET)
    with pytest.raises(AuthenticationError) as caught:
        store.describe_data("L2A")
    assert caught.value.parameter == "bucket"
    assert "anonymous" in str(caught.value)


def test_an_endpoint_nobody_listens_on_fails_fast(make_store):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    store = make_store(endpoint_url=f"http://127.0.0.1:{port}", num_retries=1)
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        store.open_data("L4A", bbox=BOX, time_range=ALL_TIME)
    assert time.monotonic() - started < 60
    assert caught.value.parameter == "endpoint_url"
    assert f"127.0.0.1:{port}" in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "seconds"),
    [
        ({}, GEDIDB_REQUEST_TIMEOUT),  # read_timeout 120 s: gedidb's 600 s
        ({"read_timeout": 900.0, "deadline": None}, 900.0),
        ({"read_timeout": 900.0, "deadline": 700.0}, 700.0),
        ({"deadline": 30.0}, 30.0),
    ],
    ids=["gedidb-default", "longer-read-timeout", "deadline-bounds", "short-deadline"],
)
def test_tiledb_requests_wait_as_long_as_gedidb_within_the_deadline(emulator, settings, seconds):
    config = http_config({**HTTP_DEFAULTS, **settings})
    params = emulator.store_params()
    array = GediArray(params["endpoint_url"], params["bucket"], DEFAULT_REGION, config)
    ctx_config = array.provider().ctx.config()
    assert ctx_config["vfs.s3.request_timeout_ms"] == str(round(seconds * 1000))
    assert ctx_config["vfs.s3.connect_timeout_ms"] == str(round(config.connect_timeout * 1000))
