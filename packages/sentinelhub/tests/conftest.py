"""Fixtures: the Sentinel Hub emulator on 127.0.0.1 and stores pointed at it."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eostores_sentinelhub.testing import SentinelHubEmulator

from eostores import new_data_store

PROCESS_PATH = "/api/v1/process"
SEARCH_PATH = "/api/v1/catalog/1.0.0/search"
TOKEN_PATH = "/oauth/token"


@pytest.fixture(autouse=True)
def _no_user_configuration(monkeypatch, tmp_path_factory):
    """Keep the user's SH_* variables and sentinelhub-py config.toml out of the tests."""
    monkeypatch.delenv("SH_CLIENT_ID", raising=False)
    monkeypatch.delenv("SH_CLIENT_SECRET", raising=False)
    monkeypatch.delenv("SH_PROFILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg")))


@pytest.fixture(scope="session")
def sh_emulator() -> Iterator[SentinelHubEmulator]:
    """One emulator for the session; tests that change its faults reset them."""
    with SentinelHubEmulator() as server:
        yield server


@pytest.fixture
def clean_emulator(sh_emulator) -> Iterator[SentinelHubEmulator]:
    """The session emulator with an empty request log and no faults."""
    sh_emulator.faults = None
    sh_emulator.reset_log()
    yield sh_emulator
    sh_emulator.faults = None


@pytest.fixture
def make_store():
    """``make_store(emulator, **params)``: a store pointed at ``emulator``."""

    def make(server: Any, **params: Any):
        return new_data_store("sentinelhub", **{**server.store_params(), **params})

    return make


@pytest.fixture
def store(clean_emulator, make_store):
    return make_store(clean_emulator, num_retries=3, retry_backoff_base=0.01)


def paths(server: Any, path: str) -> list[Any]:
    """The request records of ``server`` for ``path``."""
    return [record for record in server.request_log if record.path == path]
