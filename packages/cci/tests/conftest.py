"""Fixtures: the CCI emulator and the Zarr bucket on 127.0.0.1, and stores pointed at them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from eostores_cci.testing import DATASETS, CciEmulator, ZarrBucket

from eostores import new_data_store

SST, OZONE, CLOUD, ICESHEETS = DATASETS
FAST_RETRIES = {"num_retries": 3, "retry_backoff_base": 0.01, "retry_backoff_max": 0.05}


@pytest.fixture(scope="session")
def cci_emulator() -> Iterator[CciEmulator]:
    """One emulator for the session; tests that change it get it through ``emulator``."""
    with CciEmulator() as server:
        yield server


@pytest.fixture
def emulator(cci_emulator) -> Iterator[CciEmulator]:
    """The session emulator with an empty request log, no faults and no missing files."""
    cci_emulator.faults = None
    cci_emulator.missing_files.clear()
    cci_emulator.reset_log()
    yield cci_emulator
    cci_emulator.faults = None
    cci_emulator.missing_files.clear()


@pytest.fixture
def make_store(tmp_path):
    """``make_store(emulator, **params)``: a ``cciodp`` store on the emulator, own cache."""

    def make(server: Any, **params: Any):
        options = {**server.store_params(), **FAST_RETRIES, "cache_dir": str(tmp_path / "cache")}
        return new_data_store("cciodp", **{**options, **params})

    return make


@pytest.fixture
def store(emulator, make_store):
    return make_store(emulator)


@pytest.fixture(scope="session")
def zarr_bucket() -> Iterator[ZarrBucket]:
    pytest.importorskip("moto")
    with ZarrBucket() as bucket:
        yield bucket


def dods(server: Any) -> list[Any]:
    """The DAP2 data requests of ``server``'s log."""
    return [r for r in server.request_log if r.path.endswith(".dods")]


def searches(server: Any) -> list[Any]:
    return [r for r in server.request_log if r.path == "/opensearch/request"]
