"""The eostores store conformance suite, against the emulator."""

from __future__ import annotations

import pytest
from conftest import BBOX, DAY

from eostores.testing.conformance import StoreConformance


class TestSmosConformance(StoreConformance):
    data_id = "SMOS-L2C-SM"
    open_params = {"time_range": [DAY, DAY], "bbox": BBOX, "res_level": 3}
    required_open_params = ("variable_names", "bbox", "spatial_res", "time_range", "time_period")
    oversized_open_params = {
        "bbox": [-180, -88, 180, 88],
        "time_range": ["2015-01-01", "2024-12-31"],
        "res_level": 0,
    }

    @pytest.fixture
    def emulator(self, smos_emulator):
        smos_emulator.faults = None
        smos_emulator.reset_log()
        yield smos_emulator
        smos_emulator.faults = None

    @pytest.fixture
    def store(self, emulator, make_store):
        # The suite injects 503s into one request in five from a seeded schedule, dealt to
        # whichever thread asks next; thirty retries outlast any run of them.
        return make_store(emulator, num_retries=30)

    @pytest.fixture
    def secrets(self):
        return ["conformance-secret-51d0"]

    @pytest.fixture
    def bad_credentials_store(self, emulator, moto_archive, make_store):
        params = moto_archive.store_params()
        params["source_storage_options"] = {
            **params["source_storage_options"],
            "secret": "conformance-secret-51d0",
        }
        return make_store(emulator, **params)

    @pytest.fixture
    def store_with_fake_secret(self, bad_credentials_store):
        return bad_credentials_store, "conformance-secret-51d0"
