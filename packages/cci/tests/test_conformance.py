"""The store conformance suite for the three stores, against their emulators."""

from __future__ import annotations

import pytest
from conftest import CLOUD, FAST_RETRIES
from eostores_cci.testing import ZARR_DATA_IDS

from eostores import new_data_store
from eostores.testing.conformance import StoreConformance


class TestCciOdpConformance(StoreConformance):
    data_id = CLOUD.drs_id
    open_params = {"bbox": [0.0, 50.0, 5.0, 55.0], "time_range": ["2000-01-01", "2000-02-28"]}
    variables_known_without_requests = False

    @pytest.fixture
    def emulator(self, cci_emulator):
        cci_emulator.faults = None
        yield cci_emulator
        cci_emulator.faults = None

    @pytest.fixture
    def store(self, cci_emulator, tmp_path):
        return new_data_store(
            "cciodp", **cci_emulator.store_params(), **FAST_RETRIES, cache_dir=str(tmp_path)
        )


class TestCciKerchunkConformance(StoreConformance):
    data_id = "ESACCI-L3C_CLOUD-CLD_PRODUCTS-AVHRR_NOAA-15-2000-2001-fv3.0-kr1.0"
    open_params = {"bbox": [0.0, 50.0, 5.0, 55.0], "time_range": ["2000-01-01", "2000-02-28"]}
    variables_known_without_requests = False

    @pytest.fixture
    def emulator(self, cci_emulator):
        cci_emulator.faults = None
        yield cci_emulator
        cci_emulator.faults = None

    @pytest.fixture
    def store(self, cci_emulator):
        return new_data_store("esa-cci-kc", refs=list(cci_emulator.reference_urls().values()))


class TestCciZarrConformance(StoreConformance):
    data_id = next(iter(ZARR_DATA_IDS))
    open_params = {"bbox": [0.0, 0.0, 5.0, 5.0], "time_range": ["2000-01-01", "2000-01-02"]}
    variables_known_without_requests = False

    @pytest.fixture
    def store(self, zarr_bucket):
        return new_data_store("ccizarr", **zarr_bucket.store_params())
