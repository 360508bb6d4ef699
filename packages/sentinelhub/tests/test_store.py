"""Store parameters, credentials, listing and describing from the catalog."""

from __future__ import annotations

import pickle
import socket

import pytest
from conftest import PROCESS_PATH, TOKEN_PATH, paths
from eostores_sentinelhub.catalog import dataset_info
from eostores_sentinelhub.testing import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET

from eostores import new_data_store
from eostores.errors import AuthenticationError, DataNotFoundError, ServiceError

PARAMS = {
    "variable_names": ["B04"],
    "bbox": [10.0, 50.0, 10.01, 50.01],
    "spatial_res": 0.001,
    "time_range": ["2021-06-03", "2021-06-03"],
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_data_ids_are_the_collections_the_instance_offers(store, clean_emulator):
    ids = store.list_data_ids()
    # the emulator's catalog has no landsat-8-l1c; DEM and CUSTOM need no catalog entry
    offered = ["S1GRD", "S2L1C", "S2L2A", "S3OLCI", "S3SLSTR", "S5PL2", "LOTL1", "LOTL2"]
    assert ids == [*offered, "DEM", "CUSTOM"]
    assert not store.has_data("L8L1C") and store.has_data("S2L2A")
    with_attrs = dict(store.list_data_ids(include_attrs=["title", "collection_id"]))
    assert with_attrs["S2L2A"] == {
        "title": "Sentinel-2 L2A (bottom-of-atmosphere reflectance)",
        "collection_id": "sentinel-2-l2a",
    }


def test_describe_uses_catalog_metadata_only(store, clean_emulator):
    descriptor = store.describe_data("S2L2A")
    assert descriptor.time_range == ("2016-11-01T00:00:00Z", None)
    assert descriptor.bbox == (-180.0, -90.0, 180.0, 90.0)
    b04 = descriptor.data_vars["B04"]
    assert b04.dtype == "float32" and b04.attrs["units"] == "REFLECTANCE"
    assert b04.attrs["allowed_units"] == ["REFLECTANCE", "DN"]
    assert descriptor.data_vars["B05"].attrs["native_resolution_m"] == 20.0
    assert descriptor.data_vars["SCL"].attrs["_FillValue"] == 0
    assert "dataMask" not in descriptor.data_vars
    assert not paths(clean_emulator, PROCESS_PATH)
    with pytest.raises(DataNotFoundError):
        store.describe_data("L8L1C")  # known, but not offered by this instance


def test_open_schema_per_data_id(store, clean_emulator):
    schema = store.get_open_data_params_schema("S1GRD")
    names = schema.properties["variable_names"].items.enum
    assert names[:4] == ["VV", "VH", "HH", "HV"]
    assert "collection_id" in store.get_open_data_params_schema("CUSTOM").required
    assert clean_emulator.request_log == []


def test_least_cloud_cover_is_offered_where_the_service_offers_it(store, clean_emulator):
    # the store's table comes from sentinelhub-py, the emulator's from the service docs
    for data_id in store.list_data_ids():
        info = dataset_info(data_id)
        collection = clean_emulator.collections.get(info.catalog_id or "dem")
        if collection is None:
            continue
        orders = store.get_open_data_params_schema(data_id).properties["mosaicking_order"].enum
        assert ("leastCC" in orders) == collection.least_cc, data_id
    custom = store.get_open_data_params_schema("CUSTOM").properties["mosaicking_order"]
    assert custom.enum == ["mostRecent", "leastRecent"]  # BYOC and batch collections


def test_construction_does_no_network_io():
    port = free_port()
    store = new_data_store(
        "sentinelhub",
        api_url=f"http://127.0.0.1:{port}",
        oauth2_url=f"http://127.0.0.1:{port}/oauth",
        client_id="id",
        client_secret="secret-for-nothing",
        num_retries=0,
    )
    dataset = store.open_data("S2L2A", **PARAMS)  # regular time axis: no request either
    assert dataset.sizes["time"] == 1
    with pytest.raises(ServiceError) as caught:
        dataset.B04.load()
    message = str(caught.value)
    assert "access token from the OAuth2 service: cannot connect to" in message
    assert "check the store parameter oauth2_url" in message
    assert f"127.0.0.1:{port}/oauth/token" in message


def test_instance_presets():
    cdse = new_data_store("sentinelhub", instance="cdse")
    assert cdse.connection.api_url == "https://sh.dataspace.copernicus.eu"
    assert cdse.connection.token_url == (
        "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token"
    )
    default = new_data_store("sentinelhub")
    assert default.connection.process_url == "https://services.sentinel-hub.com/api/v1/process"
    assert default.connection.token_url == "https://services.sentinel-hub.com/oauth/token"


def test_credentials_from_the_environment(clean_emulator, monkeypatch):
    monkeypatch.setenv("SH_CLIENT_ID", DEFAULT_CLIENT_ID)
    monkeypatch.setenv("SH_CLIENT_SECRET", DEFAULT_CLIENT_SECRET)
    store = new_data_store(
        "sentinelhub", api_url=clean_emulator.url, oauth2_url=f"{clean_emulator.url}/oauth"
    )
    assert "S2L2A" in store.list_data_ids()


def test_credentials_from_sentinelhub_config_file(clean_emulator, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    (tmp_path / "sentinelhub").mkdir()
    (tmp_path / "sentinelhub" / "config.toml").write_text(
        "[default-profile]\n"
        f'sh_client_id = "{DEFAULT_CLIENT_ID}"\n'
        f'sh_client_secret = "{DEFAULT_CLIENT_SECRET}"\n'
    )
    store = new_data_store(
        "sentinelhub", api_url=clean_emulator.url, oauth2_url=f"{clean_emulator.url}/oauth"
    )
    assert store.has_data("S2L2A")


def test_missing_credentials_name_every_place_looked_at(clean_emulator):
    store = new_data_store(
        "sentinelhub", api_url=clean_emulator.url, oauth2_url=f"{clean_emulator.url}/oauth"
    )
    with pytest.raises(AuthenticationError) as caught:
        store.list_data_ids()
    assert "SH_CLIENT_ID" in str(caught.value) and "config.toml" in str(caught.value)
    assert clean_emulator.request_log == []


def test_secret_stays_hidden_in_repr_and_pickle(store):
    assert DEFAULT_CLIENT_SECRET not in repr(store)
    pickled = pickle.dumps(store)
    assert DEFAULT_CLIENT_SECRET.encode() not in pickled
    again = pickle.loads(pickled)
    assert again.store_params["client_secret"] == DEFAULT_CLIENT_SECRET
    assert again.has_data("S2L2A")


def test_one_token_serves_many_requests(store, clean_emulator):
    store.open_data("S2L2A", **{**PARAMS, "tile_size": [5, 5]}).load()
    assert len(paths(clean_emulator, PROCESS_PATH)) == 4
    assert len(paths(clean_emulator, TOKEN_PATH)) <= 1  # none if an earlier test fetched it


def test_enable_warnings_flags_questionable_requests(clean_emulator, make_store):
    from eostores_sentinelhub import SentinelHubWarning

    store = make_store(clean_emulator, enable_warnings=True)
    with pytest.warns(SentinelHubWarning, match="round to 0 or 1"):
        store.open_data("S2L2A", **PARAMS, variable_sample_types=["UINT16"])
    with pytest.warns(SentinelHubWarning, match="no time steps"):
        dataset = store.open_data(
            "S2L2A", **{**PARAMS, "time_range": ["2021-06-04", "2021-06-07"]}, time_period=None
        )
    assert dataset.sizes["time"] == 0
