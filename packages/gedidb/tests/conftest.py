"""Fixtures: one gedidb emulator per session (CMR here, S3 in a child), stores pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from eostores_gedidb.testing import GediEmulator, make_shots

from eostores import new_data_store

#: Few, short retries: the emulator is local.
FAST = dict(num_retries=3, retry_backoff_base=0.01, retry_backoff_max=0.05, read_timeout=20.0)
#: A box of the sample database holding ~120 shots, and a time range covering them all.
BOX = [9.5, 45.5, 10.0, 46.0]
ALL_TIME = ["2019-01-01", "2023-12-31"]


@pytest.fixture(scope="session")
def gedi_emulator() -> Iterator[GediEmulator]:
    with GediEmulator() as server:
        yield server


@pytest.fixture
def emulator(gedi_emulator) -> Iterator[GediEmulator]:
    yield gedi_emulator
    gedi_emulator.set_faults(None)


@pytest.fixture(scope="session")
def shots(gedi_emulator) -> dict[str, np.ndarray]:
    """Every shot of the emulated database, with the values of every attribute."""
    return make_shots(gedi_emulator.sample)


@pytest.fixture
def store_params(emulator, tmp_path) -> dict[str, Any]:
    return {**emulator.store_params(), **FAST, "cache_dir": str(tmp_path / "cache")}


@pytest.fixture
def make_store(store_params) -> Callable[..., Any]:
    def make(**overrides: Any) -> Any:
        return new_data_store("gedidb", **{**store_params, **overrides})

    return make


@pytest.fixture
def store(make_store) -> Any:
    return make_store()


@pytest.fixture(scope="session")
def warm_store(gedi_emulator, tmp_path_factory) -> Any:
    """A store that has read the array's metadata and the CMR records already."""
    cache = tmp_path_factory.mktemp("warm-cache")
    store = new_data_store("gedidb", **gedi_emulator.store_params(), **FAST, cache_dir=str(cache))
    store.describe_data("all")
    return store


def in_box(shots: dict[str, np.ndarray], bbox: list[float]) -> np.ndarray:
    """Mask of the shots inside ``bbox``, edges included."""
    xmin, ymin, xmax, ymax = bbox
    return (
        (shots["longitude"] >= xmin)
        & (shots["longitude"] <= xmax)
        & (shots["latitude"] >= ymin)
        & (shots["latitude"] <= ymax)
    )
