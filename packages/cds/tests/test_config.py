"""Endpoint and key resolution: parameters, CDSAPI_* variables, ~/.cdsapirc."""

from __future__ import annotations

import pickle
import socket
import time

import pytest
from eostores_cds.config import DEFAULT_ENDPOINT_URL, resolve_endpoint_url

from eostores import new_data_store
from eostores.errors import AuthenticationError, InvalidParameterError

ERA5 = "reanalysis-era5-single-levels"
OPEN = dict(
    variable_names=["2m_temperature"],
    bbox=[0, 0, 0.25, 0.25],
    time_range=["2021-05-01", "2021-05-01"],
    time_period="12H",
)


def test_construction_makes_no_request(emulator, fresh_log, tmp_path):
    store = new_data_store("cds", endpoint_url="http://127.0.0.1:9/api", cache_dir=str(tmp_path))
    assert "cds_api_key" in repr(store)
    assert fresh_log.request_log == []


def test_environment_variables(emulator, monkeypatch, tmp_path):
    params = emulator.store_params()
    monkeypatch.setenv("CDSAPI_URL", params["endpoint_url"])
    monkeypatch.setenv("CDSAPI_KEY", params["cds_api_key"])
    store = new_data_store("cds", cache_dir=str(tmp_path), poll_interval=0.02)
    assert store.open_data(ERA5, **OPEN).sizes["time"] == 2


def test_cdsapirc_file(emulator, monkeypatch, tmp_path):
    params = emulator.store_params()
    rc = tmp_path / "cdsapirc"
    rc.write_text(f"url: {params['endpoint_url']}\nkey: {params['cds_api_key']}\n")
    monkeypatch.setenv("CDSAPI_RC", str(rc))
    store = new_data_store("cds", cache_dir=str(tmp_path / "cache"), poll_interval=0.02)
    assert store.open_data(ERA5, **OPEN).sizes["time"] == 2


def test_cdsapirc_with_a_retired_key(emulator, monkeypatch, tmp_path):
    rc = tmp_path / "cdsapirc"
    rc.write_text(f"url: {emulator.store_params()['endpoint_url']}\nkey: 4711:abcdef\n")
    monkeypatch.setenv("CDSAPI_RC", str(rc))
    store = new_data_store("cds", cache_dir=str(tmp_path / "cache"))
    with pytest.raises(AuthenticationError, match="UID:KEY") as caught:
        store.open_data(ERA5, **OPEN)
    assert "abcdef" not in str(caught.value)


def test_default_and_retired_endpoints(monkeypatch):
    assert resolve_endpoint_url(None) == DEFAULT_ENDPOINT_URL
    with pytest.raises(InvalidParameterError):
        resolve_endpoint_url("https://cds.climate.copernicus.eu/api/v2")


def test_store_pickles_and_works_after(store):
    again = pickle.loads(pickle.dumps(store))
    assert again.open_data(ERA5, **OPEN).sizes["time"] == 2


def test_bad_store_params_are_refused():
    with pytest.raises(InvalidParameterError):
        new_data_store("cds", max_concurrent_jobs=0)
    with pytest.raises(InvalidParameterError):
        new_data_store("cds", no_such_param=1)


def test_unreachable_endpoint_fails_within_seconds_naming_the_parameter(tmp_path, capsys):
    from eostores.cli import main

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/api"
    started = time.monotonic()
    argv = ["ids", "cds", "-s", f"endpoint_url={url}", "-s", f"cache_dir={tmp_path}"]
    assert main(argv) == 1
    assert time.monotonic() - started < 5.0
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith("error: store 'cds': cannot connect to http://127.0.0.1:")
    assert error.endswith("check the store parameter endpoint_url")
