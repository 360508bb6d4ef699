"""Fixtures: the EOPF emulator on 127.0.0.1, stores pointed at it, expected values."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from eostores_eopf.testing import EopfEmulator

from eostores import new_data_store

S2 = "sentinel-2-l2a"
OLCI = "sentinel-3-olci-l1-efr"
S1 = "sentinel-1-l1-grd"
#: Two days of Sentinel-2 acquisitions around the zone boundary at 12 degrees east.
S2_TIME = ["2025-06-01", "2025-06-04"]
#: A bbox inside the zone-32 tile only (lon/lat).
ZONE32_BBOX = [11.96, 45.02, 11.99, 45.045]
#: A bbox across both tiles and zones (lon/lat).
TWO_ZONES_BBOX = [11.975, 45.02, 12.03, 45.045]


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[EopfEmulator]:
    """One emulator for read-only tests (never given faults), products written up front."""
    with EopfEmulator() as emulator:
        emulator.prepare()
        yield emulator


@pytest.fixture
def emulator(shared_emulator) -> Iterator[EopfEmulator]:
    """A fresh emulator (own faults and request log) on the products of the shared one."""
    with EopfEmulator(data_dir=str(shared_emulator.files.root)) as fresh:
        yield fresh


@pytest.fixture
def make_store() -> Callable[..., Any]:
    """A store on an emulator with brisk retries; keywords override parameters."""

    def make(emulator: EopfEmulator, **params: Any) -> Any:
        merged = {
            **emulator.store_params(),
            "retry_backoff_base": 0.01,
            "retry_backoff_max": 0.2,
            **params,
        }
        return new_data_store("eopf-zarr", **merged)

    return make


@pytest.fixture
def store(shared_emulator, make_store):
    return make_store(shared_emulator)


def product_requests(emulator: EopfEmulator, since: int = 0) -> list[Any]:
    return [r for r in emulator.request_log[since:] if r.path.startswith("/products/")]


def lonlat_grid(cube: Any) -> tuple[np.ndarray, np.ndarray]:
    """Longitude and latitude of every cell of a cube on a lon/lat or UTM grid."""
    if "lon" in cube.coords:
        return np.meshgrid(cube["lon"].values, cube["lat"].values)
    from pyproj import CRS, Transformer

    crs = CRS.from_cf(cube["spatial_ref"].attrs)
    xx, yy = np.meshgrid(cube["x"].values, cube["y"].values)
    lon, lat = Transformer.from_crs(crs, 4326, always_xy=True).transform(xx, yy)
    return np.asarray(lon), np.asarray(lat)
