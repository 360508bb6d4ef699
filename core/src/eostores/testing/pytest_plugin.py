"""pytest plugin of eostores (registered through the ``pytest11`` entry point).

Offers the fixture ``eostores_emulator``, a factory that starts a service emulator by its
registered name or class and stops it after the test::

    def test_something(eostores_emulator):
        emulator = eostores_emulator("zenodo", latency_ms=20)
        store = new_data_store("zenodo", **emulator.store_params())

``eostores_dask_cluster`` is a dask.distributed ``LocalCluster`` of two worker processes,
started once per test session (the conformance suite computes datasets on it).

The store conformance suite is :class:`eostores.testing.conformance.StoreConformance`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest


@pytest.fixture
def eostores_emulator() -> Iterator[Callable[..., Any]]:
    """Start emulators (``name_or_class, subprocess=False, **init_kwargs``); stopped at teardown."""
    started: list[Any] = []

    def start(name_or_class: str | type, *, subprocess: bool = False, **kwargs: Any) -> Any:
        if isinstance(name_or_class, str):
            from ..registry import get_emulator_class

            cls = get_emulator_class(name_or_class)
        else:
            cls = name_or_class
        emulator = cls.start_subprocess(**kwargs) if subprocess else cls(**kwargs).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture(scope="session")
def eostores_dask_cluster() -> Iterator[Any]:
    """A dask.distributed LocalCluster with two single-threaded worker processes."""
    import logging

    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster
    finally:
        cluster.close()
