"""Fixtures: the CLMS emulator on 127.0.0.1 and stores pointed at it."""

from __future__ import annotations

import pytest
from eostores_clms.testing import ClmsEmulator

from eostores import new_data_store

#: Quick polling and retries, so that tests of slow queues stay short.
FAST = {"poll_interval": 0.02, "retry_backoff_base": 0.01, "retry_backoff_max": 0.2}

IMD_100M = "imperviousness-density-2018|IMD_2018_100m_eu_03035_v020"
IMD_4X4 = "imperviousness-density-2018|IMD_2018_010m_eu_03035_v020"
TCD = "tree-cover-density-2018|TCD_2018_100m_eu_03035_v020"
WATER = "water-bodies-2020|c_gls_WB300_202001010000_GLOBE_S2_V2.0.1"
SOIL_MOISTURE = "daily-surface-soil-moisture-v1.0"
CORINE = "corine-land-cover-1990"


def pytest_configure(config):
    # rasterio still multiplies affine transforms with "*".
    config.addinivalue_line("filterwarnings", "ignore:Use `@` matmul:PendingDeprecationWarning")


@pytest.fixture(scope="session")
def clms():
    """The emulator shared by tests that leave its settings alone."""
    with ClmsEmulator(run_s=0.05) as emulator:
        emulator.prepare_archives()
        yield emulator


@pytest.fixture
def fresh_clms():
    """An emulator of its own, for tests that script outcomes or inject faults."""
    with ClmsEmulator(run_s=0.05) as emulator:
        yield emulator


@pytest.fixture
def make_store(tmp_path):
    """A factory of stores on an emulator, caching below the test's temporary directory."""

    def make(emulator, **params):
        values = {
            **emulator.store_params(),
            "cache_store_params": {"root": str(tmp_path / "cache")},
            **FAST,
            **params,
        }
        return new_data_store("clms", **values)

    return make


@pytest.fixture
def store(clms, make_store):
    return make_store(clms)


def requests_to(emulator, suffix: str, method: str | None = None) -> list:
    """The logged requests whose path ends with ``suffix`` (and have ``method``)."""
    return [
        r
        for r in emulator.request_log
        if r.path.endswith(suffix) and (method is None or r.method == method)
    ]
