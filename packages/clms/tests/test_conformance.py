"""The eostores store conformance suite, against the emulator, on a preloaded id."""

from __future__ import annotations

import pytest
from conftest import FAST, TCD

from eostores import new_data_store
from eostores.testing.conformance import StoreConformance


@pytest.fixture(scope="module")
def preloaded_cache(clms, tmp_path_factory):
    """A cache folder holding the preloaded id and the catalogue, shared by the module."""
    root = tmp_path_factory.mktemp("conformance-cache")
    store = new_data_store(
        "clms", **clms.store_params(), cache_store_params={"root": str(root)}, **FAST
    )
    store.preload_data(TCD, silent=True).raise_for_failures()
    return root


class TestClmsConformance(StoreConformance):
    data_id = TCD
    open_params = {
        "bbox": [4_000_000, 2_000_000, 4_100_000, 2_100_000],
        "time_range": ["2018-01-01", "2018-01-01"],
    }

    @pytest.fixture
    def emulator(self, clms):
        return clms

    @pytest.fixture
    def store(self, clms, preloaded_cache):
        return new_data_store(
            "clms", **clms.store_params(), cache_store_params={"root": str(preloaded_cache)}, **FAST
        )

    @pytest.fixture
    def secrets(self, clms):
        key = clms.service_key()["private_key"].strip().splitlines()
        return key[1:-1]
