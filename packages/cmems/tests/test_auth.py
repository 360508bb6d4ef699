"""Credentials: where they come from, checked once per store, errors that say where."""

from __future__ import annotations

import base64
import logging
import time

import pytest
from conftest import SST
from eostores_cmems.api import CmemsApi
from eostores_cmems.testing import DEFAULT_PASSWORD, DEFAULT_USERNAME, CmemsEmulator

from eostores import AuthenticationError
from eostores.credentials import Secret
from eostores.http import HttpConfig
from eostores.testing import FaultProfile

TOKEN = "/realms/MIS/protocol/openid-connect/token"
OPEN = dict(bbox=[0, 0, 1, 1], time_range=["2020-01-01"] * 2)


def _logins(emulator) -> int:
    return sum(1 for r in emulator.request_log if r.path == TOKEN)


def test_login_once_per_store(emulator, make_store):
    store = make_store(emulator)
    for _ in range(3):
        store.open_data(SST, **OPEN).load()
    assert _logins(emulator) == 1
    assert store.login_count == 1
    records = emulator.data_requests()
    assert records and all(r.query.get("x-cop-user") == DEFAULT_USERNAME for r in records)
    assert all(r.query.get("x-cop-client") == "copernicus-marine-toolbox" for r in records)


def test_expired_token_means_a_new_login():
    with CmemsEmulator(token_lifetime_s=2) as emulator:
        from eostores import new_data_store

        store = new_data_store("cmems", **emulator.store_params())
        store.describe_data(SST)  # catalogue and toolbox ready: the opens below are quick
        store.open_data(SST, **OPEN)
        store.open_data(SST, **OPEN)
        assert _logins(emulator) == 1
        time.sleep(2.1)
        store.open_data(SST, **OPEN)
        assert _logins(emulator) == 2


def test_a_token_lifetime_counts_from_when_it_was_asked_for():
    """A token answer that takes seconds to arrive: the login expires 3600 s (less the margin)
    after the request was sent, not after the slow answer was read."""
    with CmemsEmulator() as emulator:
        # the token answer (about 330 bytes) at 100 bytes/s, sent after the token was issued
        emulator.faults = FaultProfile(paths=TOKEN, slow_body_bytes_per_s=100)
        params = emulator.store_params()
        api = CmemsApi(params["config_url"], params["auth_url"], HttpConfig(store_id="cmems"))
        asked = time.monotonic()
        login = api.login(Secret(DEFAULT_USERNAME), Secret(DEFAULT_PASSWORD))
        assert time.monotonic() - asked >= 2.0, "the answer was slow"
        assert login.expires_at < asked + 3600 - 5 + 1.0


def test_wrong_password_names_its_source(emulator, make_store):
    store = make_store(emulator, cmems_password="not-the-password")
    with pytest.raises(AuthenticationError) as caught:
        store.open_data(SST, **OPEN)
    message = str(caught.value)
    assert "parameter 'cmems_password'" in message and "parameter 'cmems_username'" in message
    assert "Invalid user credentials" in message
    assert "not-the-password" not in message and "not-the-password" not in repr(store)


def test_credentials_from_the_environment(emulator, make_store, monkeypatch):
    monkeypatch.setenv("COPERNICUSMARINE_SERVICE_USERNAME", DEFAULT_USERNAME)
    monkeypatch.setenv("CMEMS_PASSWORD", "wrong-from-env")
    store = make_store(emulator, cmems_username=None, cmems_password=None)
    with pytest.raises(AuthenticationError, match="environment variable CMEMS_PASSWORD"):
        store.open_data(SST, **OPEN)
    monkeypatch.setenv("COPERNICUSMARINE_SERVICE_PASSWORD", DEFAULT_PASSWORD)
    store = make_store(emulator, cmems_username=None, cmems_password=None)
    assert store.open_data(SST, **OPEN).sizes["time"] == 1


def test_credentials_from_the_toolbox_file(emulator, make_store, monkeypatch, tmp_path):
    folder = tmp_path / "toolbox-home"
    folder.mkdir()
    text = f"[credentials]\nusername={DEFAULT_USERNAME}\npassword={DEFAULT_PASSWORD}\n"
    (folder / ".copernicusmarine-credentials").write_text(base64.b64encode(text.encode()).decode())
    monkeypatch.setenv("COPERNICUSMARINE_CREDENTIALS_DIRECTORY", str(folder))
    store = make_store(emulator, cmems_username=None, cmems_password=None)
    assert store.open_data(SST, **OPEN).sizes["latitude"] == 1


def test_missing_credentials_say_where_they_were_looked_for(emulator, make_store):
    store = make_store(emulator, cmems_username=None, cmems_password=None)
    with pytest.raises(AuthenticationError) as caught:
        store.open_data(SST, **OPEN)
    message = str(caught.value)
    assert "COPERNICUSMARINE_SERVICE_USERNAME" in message
    assert ".copernicusmarine-credentials" in message
    assert _logins(emulator) == 0


def test_token_refused_after_login(make_store):
    with CmemsEmulator(faults={"token_ttl_s": 0, "paths": "/nothing"}) as emulator:
        store = make_store(emulator)
        with pytest.raises(AuthenticationError, match="rejected the token"):
            store.open_data(SST, **OPEN)


def test_password_never_logged(emulator, make_store, caplog):
    caplog.set_level(logging.DEBUG)
    store = make_store(emulator, cmems_password="hunter2-secret-pw")
    with pytest.raises(AuthenticationError):
        store.open_data(SST, **OPEN)
    assert "hunter2-secret-pw" not in caplog.text
    store = make_store(emulator)
    store.open_data(SST, **OPEN).load()
    assert DEFAULT_PASSWORD not in caplog.text
