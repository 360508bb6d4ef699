"""Fixtures: the SMOS emulator (catalogue and https archive) and an S3 archive (moto)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from eostores_smos.testing import MotoArchive, SmosEmulator, expected_value
from eostores_smos.testing.emulator import MAX_SKIP

from eostores import new_data_store

ITEMS_PATH = "/stac/collections/SMOS/items"
#: The day most tests open, and a box in Europe a few products cross that day.
DAY = "2023-04-01"
BBOX = [0.0, 40.0, 10.0, 50.0]
#: A box of emulated sea, where salinity is (soil moisture is missing over sea elsewhere).
SEA_BBOX = [-40.0, 20.0, -30.0, 30.0]
SM, OS = "SMOS-L2C-SM", "SMOS-L2C-OS"
PRODUCT_TYPES = {SM: "MIR_SMUDP2", OS: "MIR_OSUDP2"}
#: The store's reach: a pixel takes the nearest grid point within this distance.
MAX_DISTANCE_RAD = 11.0 / 6371.0


@pytest.fixture(autouse=True)
def _no_user_credentials(monkeypatch):
    """Keep the user's archive credentials out of the tests."""
    monkeypatch.delenv("CREODIAS_S3_KEY", raising=False)
    monkeypatch.delenv("CREODIAS_S3_SECRET", raising=False)


@pytest.fixture(scope="session")
def smos_emulator(tmp_path_factory) -> Iterator[SmosEmulator]:
    """One emulator for the session; tests that change it reset it (``emulator``)."""
    with SmosEmulator(data_dir=str(tmp_path_factory.mktemp("archive"))) as server:
        yield server


def _reset(server: SmosEmulator) -> None:
    server.faults = None
    server.hostile_href = None
    server.href_overrides = {}
    server.max_skip = MAX_SKIP
    server.omit_next_past_limit = False


@pytest.fixture
def emulator(smos_emulator) -> Iterator[SmosEmulator]:
    """The session emulator as it starts, with an empty request log."""
    _reset(smos_emulator)
    smos_emulator.reset_log()
    yield smos_emulator
    _reset(smos_emulator)


@pytest.fixture
def make_store():
    """``make_store(emulator, **params)``: a store whose catalogue and archive are
    ``emulator``'s (fast retries, so that fault tests stay short)."""

    def make(server: Any, **params: Any):
        defaults = dict(num_retries=4, retry_backoff_base=0.01, retry_backoff_max=0.1)
        return new_data_store("smos", **{**server.store_params(), **defaults, **params})

    return make


@pytest.fixture
def store(emulator, make_store):
    return make_store(emulator)


@pytest.fixture(scope="session")
def moto_archive(smos_emulator) -> Iterator[MotoArchive]:
    """moto's S3 server holding the products of DAY over BBOX (both types)."""
    with MotoArchive() as archive:
        start, end = datetime(2023, 4, 1), datetime(2023, 4, 1, 23, 59, 59)
        products = smos_emulator.model.products(
            start, end, tuple(BBOX), ("MIR_SMUDP2", "MIR_OSUDP2")
        )
        archive.upload(smos_emulator.model, products)
        yield archive


def requests_to(server: Any, prefix: str) -> list[Any]:
    return [r for r in server.request_log if r.path.startswith(prefix)]


def mid_time(value: Any) -> datetime:
    return datetime.fromisoformat(str(np.datetime64(value, "us")))


def expected_cube(dataset: Any, data_id: str, name: str) -> np.ndarray:
    """The emulator's values at every pixel centre of ``dataset`` (time, lat, lon)."""
    lat, lon = np.meshgrid(dataset.lat.values, dataset.lon.values, indexing="ij")
    return np.stack(
        [
            expected_value(PRODUCT_TYPES[data_id], name, lat, lon, mid_time(t))
            for t in dataset.time.values
        ]
    )


def tolerance(data_id: str, name: str) -> float:
    """How far a value may be from the function at the pixel centre: the change over the
    longest distance to the nearest grid point, plus the storage step and float32 error."""
    from eostores_smos.testing import field

    spec = field(PRODUCT_TYPES[data_id], name)
    return spec.gradient * MAX_DISTANCE_RAD + spec.step / 2 + 1e-5 * (1 + abs(spec.gradient))
