"""The eostores conformance suite, on a Sentinel-2 cube and on an OLCI swath cube."""

from __future__ import annotations

import pytest
from conftest import OLCI, S2, ZONE32_BBOX

from eostores.testing.conformance import StoreConformance


class _Base(StoreConformance):
    @pytest.fixture
    def emulator(self, shared_emulator):
        shared_emulator.faults = None
        return shared_emulator

    @pytest.fixture
    def store(self, shared_emulator, make_store):
        return make_store(shared_emulator)

    @pytest.fixture
    def store_with_fake_secret(self, shared_emulator, make_store):
        secret = "fake-s3-secret-8d1f"
        options = {"key": "fake-key-id", "secret": secret, "anon": False}
        return make_store(shared_emulator, storage_options=options), secret


class TestSentinel2Conformance(_Base):
    data_id = S2
    open_params = {
        "bbox": ZONE32_BBOX,
        "time_range": ["2025-06-01", "2025-06-02"],
        "spatial_res": 0.0005,
        "variable_names": ["b04", "scl"],
    }
    oversized_open_params = {"bbox": [0, 0, 40, 60], "spatial_res": 0.0001}


class TestOlciConformance(_Base):
    data_id = OLCI
    open_params = {
        "bbox": [12.25, 45.25, 12.35, 45.35],
        "time_range": ["2025-06-01", "2025-06-02"],
        "spatial_res": 0.005,
        "variable_names": ["oa08_radiance"],
    }
    oversized_open_params = {"bbox": [0, 0, 40, 60], "spatial_res": 0.0001}
