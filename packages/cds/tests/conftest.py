"""Fixtures: one CDS emulator per session, stores pointed at it, a clean environment."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from eostores_cds.testing import DEFAULT_KEY, CdsEmulator

from eostores import new_data_store

#: A valid key whose account has not accepted the dataset licences.
LICENCE_PENDING_KEY = "0d3c7b1a-9e2f-4c5d-8a6b-1f2e3d4c5b6a"
#: A valid key of another account.
OTHER_ACCOUNT_KEY = "5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170"
#: Fast polling, few retries: tests run against a local emulator.
FAST = dict(
    poll_interval=0.02,
    poll_interval_max=0.1,
    num_retries=4,
    retry_backoff_max=0.05,
    read_timeout=10.0,
    call_deadline=60.0,
)


@pytest.fixture(scope="session")
def cds_emulator() -> Iterator[CdsEmulator]:
    with CdsEmulator(
        keys=[DEFAULT_KEY, OTHER_ACCOUNT_KEY],
        licence_pending_keys=[LICENCE_PENDING_KEY],
        job_run_s=0.05,
        max_page_size=3,
    ) as server:
        yield server


@pytest.fixture
def emulator(cds_emulator) -> Iterator[CdsEmulator]:
    yield cds_emulator
    cds_emulator.dismiss_unfinished()  # a test's slow jobs must not hold the next one's slots


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch, tmp_path_factory) -> None:
    """No credentials or configuration of the machine leak into the tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in (
        "CDSAPI_URL",
        "CDSAPI_KEY",
        "CDSAPI_RC",
        "ECMWF_DATASTORES_URL",
        "ECMWF_DATASTORES_KEY",
        "ECMWF_DATASTORES_RC_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CDSAPI_RC", str(home / "no-cdsapirc"))
    monkeypatch.setenv("ECMWF_DATASTORES_RC_FILE", str(home / "no-datastoresrc"))


@pytest.fixture
def store_params(emulator, tmp_path) -> dict[str, Any]:
    """Parameters of a cds store on the emulator, with the test's own cache directory."""
    return {**emulator.store_params(), **FAST, "cache_dir": str(tmp_path / "cache")}


@pytest.fixture
def make_store(store_params) -> Callable[..., Any]:
    """A cds store on the emulator with the test's cache directory; overrides as keywords."""

    def make(**overrides: Any) -> Any:
        return new_data_store("cds", **{**store_params, **overrides})

    return make


@pytest.fixture
def licence_pending_key() -> str:
    return LICENCE_PENDING_KEY


@pytest.fixture
def other_account_key() -> str:
    return OTHER_ACCOUNT_KEY


@pytest.fixture
def store(make_store) -> Any:
    return make_store()


@pytest.fixture
def fresh_log(emulator) -> CdsEmulator:
    emulator.reset_log()
    return emulator


@pytest.fixture
def changed_dataset(emulator) -> Callable[..., Any]:
    """``with changed_dataset(dataset_id, **changes):`` the emulator serves the dataset
    with these fields changed; with ``id=`` among them, as a further dataset."""

    @contextlib.contextmanager
    def changed(dataset_id: str, **changes: Any) -> Iterator[Any]:
        original = emulator.datasets[dataset_id]
        dataset = dataclasses.replace(original, **changes)
        emulator.datasets[dataset.id] = dataset
        try:
            yield dataset
        finally:
            if dataset.id == dataset_id:
                emulator.datasets[dataset_id] = original
            else:
                del emulator.datasets[dataset.id]

    return changed


@pytest.fixture
def cost_limit(changed_dataset) -> Callable[[str, int], Any]:
    """``with cost_limit(dataset_id, n):`` lowers the emulator's cost limit of a dataset."""

    def lowered(dataset_id: str, limit: int) -> Any:
        return changed_dataset(dataset_id, cost_limit=limit)

    return lowered


@pytest.fixture
def executions(emulator) -> Callable[[], list[Any]]:
    """The job submissions in the emulator's request log so far."""

    def submitted() -> list[Any]:
        return [
            r
            for r in emulator.request_log
            if r.method == "POST" and r.path.endswith("/execution") and r.status == 201
        ]

    return submitted
