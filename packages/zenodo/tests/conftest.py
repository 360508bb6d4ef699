"""Fixtures: the Zenodo emulator on 127.0.0.1 and stores pointed at it."""

from __future__ import annotations

import pytest
from eostores_zenodo.testing import ZenodoEmulator

from eostores import new_data_store


@pytest.fixture(scope="session")
def zenodo():
    """The emulator shared by tests that leave its faults and rate limit alone."""
    with ZenodoEmulator(rate_limit=None) as emulator:
        yield emulator


@pytest.fixture
def fresh_zenodo():
    """An emulator of its own, for tests that inject faults or change the rate limit."""
    with ZenodoEmulator(rate_limit=None) as emulator:
        yield emulator


@pytest.fixture
def make_store(tmp_path):
    """A factory of stores on an emulator, caching below the test's temporary directory."""

    def make(emulator, **params):
        values = {
            **emulator.store_params(),
            "cache_store_params": {"root": str(tmp_path / "cache")},
            "retry_backoff_max": 2.0,
            **params,
        }
        return new_data_store("zenodo", **values)

    return make


@pytest.fixture
def store(zenodo, make_store):
    return make_store(zenodo)
