"""eostores.errors: the error context of a store call and the status mapping."""

from __future__ import annotations

import pickle
import socket

import pytest
import requests

from eostores import errors
from eostores.credentials import Secret
from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
    error_for_status,
)
from eostores.testing import EmulatorServer, Request, Response, route


class Missing(EmulatorServer):
    name = "missing"

    @route("GET", r"/gone")
    def gone(self, request: Request) -> Response:
        return Response.json({"message": "record withdrawn"}, 410)


def test_context_fills_in_missing_ids_only():
    with pytest.raises(InvalidParameterError) as info, errors.context("cds", "era5"):
        raise InvalidParameterError("bbox must have 4 numbers", parameter="bbox")
    assert (info.value.store_id, info.value.data_id) == ("cds", "era5")
    assert str(info.value).startswith("store 'cds', data 'era5'")
    with pytest.raises(ServiceError) as info, errors.context("cds", "era5"):
        raise ServiceError("busy", store_id="inner", data_id="other")
    assert (info.value.store_id, info.value.data_id) == ("inner", "other")


def test_context_turns_stray_os_errors_into_store_errors(tmp_path):
    with pytest.raises(DataNotFoundError) as info, errors.context("zenodo", "123/a.nc"):
        (tmp_path / "absent.nc").read_bytes()
    assert isinstance(info.value.__cause__, FileNotFoundError)
    assert "absent.nc" in str(info.value) and info.value.data_id == "123/a.nc"
    with pytest.raises(DataStoreTimeoutError), errors.context("s"):
        raise TimeoutError("slow disk")
    with pytest.raises(DataStoreError) as info, errors.context("s"):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x"))
    assert type(info.value) is DataStoreError and "Permission denied" in str(info.value)
    with pytest.raises(ZeroDivisionError), errors.context("s"):
        _ = 1 / 0  # programming errors are not disguised


def test_context_maps_requests_exceptions_by_status_and_kind():
    url_of_gone = "/gone?token=ctx-secret-1"
    with Missing() as emulator, pytest.raises(DataNotFoundError) as info, errors.context("stac"):
        requests.get(f"{emulator.url}{url_of_gone}", timeout=5).raise_for_status()
    assert info.value.status == 410
    assert isinstance(info.value.__cause__, requests.HTTPError)
    assert "ctx-secret-1" not in str(info.value) and "ctx-secret-1" not in info.value.url
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(ServiceError) as info, errors.context("stac"):
        requests.get(f"http://127.0.0.1:{port}/x", timeout=5)
    assert isinstance(info.value.__cause__, requests.ConnectionError)
    with pytest.raises(DataStoreTimeoutError), errors.context("stac"):
        raise requests.ReadTimeout("read timed out")


@pytest.mark.parametrize(
    ("status", "cls"),
    [
        (400, InvalidParameterError),
        (401, AuthenticationError),
        (403, AuthenticationError),
        (404, DataNotFoundError),
        (410, DataNotFoundError),
        (422, InvalidParameterError),
        (429, QuotaExceededError),
        (500, ServiceError),
    ],
)
def test_error_for_status(status, cls):
    error = error_for_status(status, "why", url="https://h/x", store_id="s")
    assert type(error) is cls
    assert (error.status, error.url, error.store_id) == (status, "https://h/x", "s")


def test_messages_and_reprs_never_show_secrets():
    secret = Secret("registered-error-secret")
    error = ServiceError(f"failed with {secret.reveal()} at https://h/p?api_key=k-12345678")
    for text in (str(error), repr(error), str(pickle.loads(pickle.dumps(error)))):
        assert "registered-error-secret" not in text and "k-12345678" not in text
    assert "api_key=***" in str(error)
