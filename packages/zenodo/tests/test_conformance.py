"""The eostores store conformance suite, against the emulator."""

from __future__ import annotations

import pytest

from eostores.testing.conformance import StoreConformance


class _ZenodoConformance(StoreConformance):
    @pytest.fixture
    def emulator(self, zenodo):
        return zenodo

    @pytest.fixture
    def token(self, zenodo):
        return zenodo.issue_token()

    @pytest.fixture
    def store(self, zenodo, make_store, token):
        store = make_store(zenodo, access_token=token)
        # Described once, the store knows the variables and checks them without requests.
        store.describe_data(self.data_id)
        return store

    @pytest.fixture
    def secrets(self, token):
        return [token]

    @pytest.fixture
    def bad_credentials_store(self, zenodo, make_store):
        return make_store(zenodo, access_token="conformance-wrong-token-4711")


class TestNetcdfConformance(_ZenodoConformance):
    data_id = "temperature.nc"
    open_params = {"bbox": [0, 0, 20, 20], "time_range": ["2020-01-01", "2020-01-02"]}


class TestZippedZarrConformance(_ZenodoConformance):
    data_id = "cube.zarr.zip"
    open_params = {"bbox": [0, 0, 20, 20], "time_range": ["2020-01-02", "2020-01-02"]}
