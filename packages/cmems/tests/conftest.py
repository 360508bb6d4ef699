"""Fixtures: the emulator on 127.0.0.1, stores pointed at it, a warm catalogue cache."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eostores_cmems.testing import CmemsEmulator, find_dataset
from eostores_cmems.testing.sampledata import expected_value

from eostores import new_data_store

SST = "cmems_obs-sst_glo_phy_nrt_l4_P1D-m"
THETAO = "cmems_mod_glo_phy-thetao_anfc_1deg_P1D-m"
ZOS = "cmems_mod_glo_phy_my_1deg_P1M-m"

#: Credentials variables of the environment that must not leak into the tests.
CREDENTIAL_VARIABLES = (
    "COPERNICUSMARINE_SERVICE_USERNAME",
    "COPERNICUSMARINE_SERVICE_PASSWORD",
    "CMEMS_USERNAME",
    "CMEMS_PASSWORD",
)


@pytest.fixture(autouse=True)
def _isolated_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COPERNICUSMARINE_CREDENTIALS_DIRECTORY", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("NETRC", str(tmp_path / "no-netrc"))
    monkeypatch.setenv("EOSTORES_CACHE_DIR", str(tmp_path / "default-cache"))


@pytest.fixture
def emulator() -> Iterator[CmemsEmulator]:
    with CmemsEmulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def shared_emulator() -> Iterator[CmemsEmulator]:
    """One emulator for read-only tests (never given faults)."""
    with CmemsEmulator() as emu:
        yield emu


@pytest.fixture(scope="session")
def warm_cache(tmp_path_factory: pytest.TempPathFactory, shared_emulator: CmemsEmulator) -> Path:
    """A cache folder holding a walk of the shared emulator's catalogue."""
    folder = tmp_path_factory.mktemp("cmems-cache")
    store = new_data_store("cmems", **shared_emulator.store_params(), cache_dir=str(folder))
    store.list_data_ids()
    return folder


@pytest.fixture
def make_store(tmp_path: Path) -> Callable[..., Any]:
    """A store on an emulator with a fresh cache folder; keywords override parameters."""

    def make(emu: CmemsEmulator, **params: Any) -> Any:
        merged = {
            **emu.store_params(),
            "cache_dir": str(tmp_path / "cache"),
            "retry_backoff_base": 0.01,
            "retry_backoff_max": 0.5,
            **params,
        }
        return new_data_store("cmems", **{k: v for k, v in merged.items() if v is not None})

    return make


@pytest.fixture
def shared_store(shared_emulator: CmemsEmulator, warm_cache: Path, tmp_path: Path) -> Any:
    """A store on the shared emulator with a copy of the warm catalogue cache."""
    folder = tmp_path / "cache"
    shutil.copytree(warm_cache, folder)
    return new_data_store("cmems", **shared_emulator.store_params(), cache_dir=str(folder))


def expected(
    data_id: str, variable: str, dataset: Any, version: str | None = None, part: str = "default"
) -> np.ndarray:
    """The values ``variable`` of ``dataset`` must have, from its coordinates."""
    sample = find_dataset(data_id)
    version = version or sample.default_version
    offset = sample.offset(version, part)
    array = dataset[variable]
    coords = {d: array[d].values for d in array.dims}
    grids = np.meshgrid(*[coords[d] for d in array.dims], indexing="ij", sparse=True)
    named = dict(zip(array.dims, grids, strict=True))
    values = expected_value(
        sample.variable(variable),
        named.get("time", np.datetime64("1970-01-01")),
        named.get("latitude", named.get("lat")),
        named.get("longitude", named.get("lon")),
        named.get("depth", 0.0),
        offset,
    )
    return np.broadcast_to(values, array.shape)
