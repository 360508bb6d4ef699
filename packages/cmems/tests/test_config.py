"""Store parameters: defaults, retired parameters, URLs, no network on construction."""

from __future__ import annotations

import pickle

import pytest
from eostores_cmems.config import DEFAULT_AUTH_URL, DEFAULT_CONFIG_URL

from eostores import InvalidParameterError, new_data_store


def test_defaults_point_at_the_public_service():
    store = new_data_store("cmems")
    params = store.store_params
    assert params["config_url"] == DEFAULT_CONFIG_URL
    assert params["auth_url"] == DEFAULT_AUTH_URL
    assert params["catalogue_ttl"] == 86400
    assert params["num_retries"] == 5


def test_construction_does_no_io(emulator):
    store = new_data_store("cmems", **emulator.store_params())
    pickle.loads(pickle.dumps(store))
    assert emulator.request_log == []


@pytest.mark.parametrize(
    ("name", "replacement"),
    [
        ("cas_url", "auth_url"),
        ("csw_url", "config_url"),
        ("databases", "one catalogue"),
        ("server", "ARCO Zarr"),
    ],
)
def test_retired_parameters_are_refused_with_advice(name, replacement):
    with pytest.raises(InvalidParameterError) as caught:
        new_data_store("cmems", **{name: "https://cmems-du.eu/thredds/dodsC/"})
    assert caught.value.parameter == name
    assert "retired" in str(caught.value) and replacement in str(caught.value)


@pytest.mark.parametrize("name", ["config_url", "auth_url"])
def test_urls_must_be_http(name):
    with pytest.raises(InvalidParameterError, match=name):
        new_data_store("cmems", **{name: "file:///etc/passwd"})


def test_unknown_and_bad_parameters():
    with pytest.raises(InvalidParameterError, match="unknown parameter"):
        new_data_store("cmems", cmems_user="x")
    with pytest.raises(InvalidParameterError, match="catalogue_ttl"):
        new_data_store("cmems", catalogue_ttl=-1)
    with pytest.raises(InvalidParameterError, match="num_retries"):
        new_data_store("cmems", num_retries=-1)


def test_password_not_in_repr_or_pickle():
    store = new_data_store("cmems", cmems_username="someone", cmems_password="pa55-word-x")
    assert "pa55-word-x" not in repr(store)
    assert b"pa55-word-x" not in pickle.dumps(store)
    again = pickle.loads(pickle.dumps(store))
    assert again.store_params["cmems_password"] == "pa55-word-x"


def test_two_stores_on_two_services_in_one_process(make_store, tmp_path):
    from eostores_cmems.testing import HOSTILE_DATASET_ID, CmemsEmulator

    with CmemsEmulator() as plain, CmemsEmulator(hostile=True) as other:
        first = make_store(plain, cache_dir=str(tmp_path / "a"))
        second = make_store(other, cache_dir=str(tmp_path / "a"))
        assert HOSTILE_DATASET_ID not in first.list_data_ids()
        assert HOSTILE_DATASET_ID in second.list_data_ids()
        first.open_data(
            "cmems_obs-sst_glo_phy_nrt_l4_P1D-m", bbox=[0, 0, 1, 1], time_range=["2020-01-01"] * 2
        ).load()
        assert plain.data_requests() and not other.data_requests()
        assert first.catalogue.root != second.catalogue.root
