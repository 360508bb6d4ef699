"""Shared fixtures of the integration tests: no test writes outside its temporary folders,
and a session or connection left unclosed fails the test that dropped it."""

from __future__ import annotations

import gc

import pytest

#: aiohttp (used by s3fs/aiobotocore, adlfs and fsspec's http) warns from ``__del__`` when
#: a session or connector is dropped unclosed; these filters turn that into a failure.
UNCLOSED_SESSION_FILTERS = (
    "error:Unclosed client session:ResourceWarning",
    "error:Unclosed connector:ResourceWarning",
    "error:Exception ignored in. <function (ClientSession|BaseConnector).__del__"
    ":pytest.PytestUnraisableExceptionWarning",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for spec in UNCLOSED_SESSION_FILTERS:
            item.add_marker(pytest.mark.filterwarnings(spec))


@pytest.fixture(autouse=True)
def _confined_writes(tmp_path_factory, monkeypatch):
    """Run each test in a temporary working folder with temporary cache folders (also for
    the processes it starts), so that default caches land there, not in the user's."""
    folder = tmp_path_factory.mktemp("home")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("EOSTORES_CACHE_DIR", str(folder / "eostores-cache"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(folder / "xdg-cache"))
    yield folder
    gc.collect()  # what the test dropped is finalised while it is still the current test
