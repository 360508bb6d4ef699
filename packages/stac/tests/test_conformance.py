"""The eostores store conformance suite, applied to every store id of the package."""

from __future__ import annotations

import pytest

from eostores import new_data_store
from eostores.testing.conformance import StoreConformance

_FAST = {"retry_backoff_base": 0.01, "retry_backoff_max": 1.0, "deadline": 60.0}
_FAKE = "fake-secret-value-8d1f-2c"
_FIRST = "S2X_20240601T103000_T32U00"
_ITEM_PARAMS = {
    "variable_names": ["B04", "aot"],
    "bbox": [705000, 5550000, 708000, 5553000],
    "time_range": ["2024-06-01", "2024-06-02"],
}


@pytest.fixture(scope="module")
def destine_params(cachea_emulator, tmp_path_factory):
    params = cachea_emulator.store_params()
    params["cache_dir"] = str(tmp_path_factory.mktemp("destine-conformance"))
    return params


def _primed(store, data_id):
    """A store that has described ``data_id`` once, as users do before opening."""
    store.describe_data(data_id)
    return store


class TestStacItemConformance(StoreConformance):
    data_id = f"collections/sentinel-2-l2a/items/{_FIRST}"
    open_params = _ITEM_PARAMS
    listable = True

    @pytest.fixture
    def emulator(self, api_emulator):
        api_emulator.reset_log()
        return api_emulator

    @pytest.fixture
    def store(self, api_emulator):
        return _primed(new_data_store("stac", **api_emulator.store_params(), **_FAST), self.data_id)

    @pytest.fixture
    def store_with_fake_secret(self, api_emulator):
        params = {**api_emulator.store_params(), "headers": {"X-Api-Key": _FAKE}, **_FAST}
        return new_data_store("stac", **params), _FAKE


class TestStacStackConformance(StoreConformance):
    data_id = "sentinel-2-l2a"
    open_params = {
        "variable_names": ["B04", "wvp"],
        "bbox": [11.95, 50.07, 12.05, 50.12],
        "crs": "EPSG:4326",
        "spatial_res": 0.002,
        "time_range": ["2024-06-01", "2024-06-07"],
    }
    oversized_open_params = {"spatial_res": 1e-9}

    @pytest.fixture
    def emulator(self, api_emulator):
        api_emulator.reset_log()
        return api_emulator

    @pytest.fixture
    def store(self, api_emulator):
        store = new_data_store("stac", stack_mode=True, **api_emulator.store_params(), **_FAST)
        return _primed(store, self.data_id)


class TestStacXcubeConformance(StoreConformance):
    data_id = "collections/datacubes/items/demo"
    open_params = {"bbox": [0.5, 50.5, 1.5, 51.5], "time_range": ["2024-01-01", "2024-01-02"]}

    @pytest.fixture
    def emulator(self, xcube_emulator):
        xcube_emulator.reset_log()
        return xcube_emulator

    @pytest.fixture
    def store(self, xcube_emulator):
        store = new_data_store("stac-xcube", **xcube_emulator.store_params(), **_FAST)
        return _primed(store, self.data_id)


class TestStacCdseConformance(StoreConformance):
    data_id = f"collections/sentinel-2-l2a/items/{_FIRST}"
    open_params = _ITEM_PARAMS

    @pytest.fixture
    def emulator(self, cdse_emulator):
        cdse_emulator.reset_log()
        return cdse_emulator

    @pytest.fixture
    def store(self, cdse_emulator):
        store = new_data_store("stac-cdse", **cdse_emulator.store_params(), **_FAST)
        return _primed(store, self.data_id)

    @pytest.fixture
    def secrets(self, moto_server):
        return [moto_server.secret]

    @pytest.fixture
    def bad_credentials_store(self, cdse_emulator):
        params = {**cdse_emulator.store_params(), "secret": "wrong-secret-8d1f", **_FAST}
        return new_data_store("stac-cdse", num_retries=1, **params)

    @pytest.fixture
    def store_with_fake_secret(self, cdse_emulator):
        params = {**cdse_emulator.store_params(), "secret": _FAKE, **_FAST}
        return new_data_store("stac-cdse", num_retries=1, **params), _FAKE


class TestStacDestineConformance(StoreConformance):
    data_id = f"collections/SENTINEL-2/items/{_FIRST}"
    open_params = _ITEM_PARAMS

    @pytest.fixture
    def emulator(self, cachea_emulator):
        cachea_emulator.reset_log()
        return cachea_emulator

    @pytest.fixture
    def store(self, destine_params):
        store = new_data_store("stac-destine", **destine_params, **_FAST)
        return _primed(store, self.data_id)

    @pytest.fixture
    def secrets(self, destine_params):
        return [destine_params["token"]]

    @pytest.fixture
    def bad_credentials_store(self, destine_params):
        params = {**destine_params, "token": "not-a-valid-token-8d1f", **_FAST}
        return new_data_store("stac-destine", **params)

    @pytest.fixture
    def store_with_fake_secret(self, destine_params):
        params = {**destine_params, "token": _FAKE, **_FAST}
        return new_data_store("stac-destine", num_retries=1, **params), _FAKE
