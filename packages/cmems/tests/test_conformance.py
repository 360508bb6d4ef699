"""The eostores conformance suite."""

from __future__ import annotations

import pytest
from conftest import SST
from eostores_cmems.testing import DEFAULT_PASSWORD

from eostores import new_data_store
from eostores.testing.conformance import StoreConformance


class TestCmemsConformance(StoreConformance):
    data_id = SST
    open_params = {"bbox": [10, 40, 12, 42], "time_range": ["2020-01-01", "2020-01-02"]}
    variables_known_without_requests = False

    @pytest.fixture
    def emulator(self, shared_emulator):
        shared_emulator.faults = None
        return shared_emulator

    @pytest.fixture
    def store(self, shared_store):
        return shared_store

    @pytest.fixture
    def secrets(self):
        return [DEFAULT_PASSWORD]

    @pytest.fixture
    def bad_credentials_store(self, shared_emulator, warm_cache):
        params = {**shared_emulator.store_params(), "cmems_password": "wrong-password"}
        return new_data_store("cmems", **params, cache_dir=str(warm_cache))
