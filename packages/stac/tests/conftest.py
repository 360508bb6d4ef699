"""Emulator fixtures: one server per mode for the whole session, plus a moto S3 server."""

from __future__ import annotations

import pytest
from eostores_stac.testing import MotoServer, StacEmulator, upload_sample_data


@pytest.fixture(scope="session")
def api_emulator():
    with StacEmulator(mode="api") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def static_emulator():
    with StacEmulator(mode="static") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def nosearch_emulator():
    with StacEmulator(mode="api", item_search=False, many_items=30) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def xcube_emulator():
    with StacEmulator(mode="xcube") as emulator:
        yield emulator


@pytest.fixture(scope="session")
def cachea_emulator():
    with StacEmulator(mode="cachea", download_delay_s=0.05) as emulator:
        yield emulator


@pytest.fixture(scope="session")
def moto_server():
    with MotoServer() as server:
        yield server


@pytest.fixture(scope="session")
def cdse_emulator(moto_server):
    with StacEmulator(
        mode="cdse",
        s3_endpoint=moto_server.endpoint_url,
        s3_key=moto_server.key,
        s3_secret=moto_server.secret,
    ) as emulator:
        upload_sample_data(emulator.data, moto_server.client(), emulator.s3_bucket)
        yield emulator


@pytest.fixture
def api_log(api_emulator):
    """The api emulator with an empty request log and no faults."""
    api_emulator.reset_log()
    api_emulator.faults = None
    yield api_emulator
    api_emulator.faults = None


@pytest.fixture
def fast_http() -> dict:
    """Store parameters for quick retries in tests."""
    return {"retry_backoff_base": 0.01, "retry_backoff_max": 2.0, "deadline": 60.0}
