"""The eostores conformance suite, against the emulator."""

from __future__ import annotations

import pytest

from eostores import new_data_store
from eostores.testing.conformance import StoreConformance


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("conformance-cache")


class TestCdsConformance(StoreConformance):
    data_id = "reanalysis-era5-single-levels"
    open_params = {
        "variable_names": ["2m_temperature"],
        "bbox": [0, 40, 1, 41],
        "time_range": ["2020-01-01", "2020-01-01"],
        "time_period": "6H",
    }

    @pytest.fixture
    def emulator(self, cds_emulator):
        return cds_emulator

    @pytest.fixture
    def store(self, emulator, cache_dir):
        params = {**emulator.store_params(), "cache_dir": str(cache_dir)}
        return new_data_store("cds", **params, poll_interval=0.02, poll_interval_max=0.1)

    @pytest.fixture
    def secrets(self, emulator):
        return [emulator.store_params()["cds_api_key"]]

    @pytest.fixture
    def bad_credentials_store(self, emulator, tmp_path):
        # A cache of its own: a result cached by an earlier test needs no credentials.
        params = {**emulator.store_params(), "cache_dir": str(tmp_path)}
        params["cds_api_key"] = "99999999-8888-7777-6666-555555555555"
        return new_data_store("cds", **params, num_retries=2)


class TestCdsVirtualIdConformance(TestCdsConformance):
    data_id = "reanalysis-era5-single-levels:ensemble_mean"
