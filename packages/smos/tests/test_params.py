"""Store and open parameters: defaults, validation before any request, secrets."""

from __future__ import annotations

import pickle

import pytest
from conftest import BBOX, DAY, SM

from eostores import new_data_store
from eostores.errors import DataNotFoundError, InvalidParameterError


def test_defaults_point_at_the_creodias_catalogue_and_archive():
    store = new_data_store("smos")
    params = store.store_params
    assert params["stac_url"] == "https://datahub.creodias.eu/stac/collections/SMOS"
    assert params["source_path"] == "s3://eodata"
    assert store.list_data_ids() == ["SMOS-L2C-SM", "SMOS-L2C-OS"]
    assert store.get_data_opener_ids() == ("dataset:zarr:smos", "mldataset:zarr:smos")
    assert store.get_data_opener_ids(data_type="mldataset") == ("mldataset:zarr:smos",)
    assert store.has_data(SM) and not store.has_data("SMOS-L3")


def test_s3_options_come_from_parameters_then_the_environment(monkeypatch):
    from eostores_smos.archive import s3_options
    from eostores_smos.schema import archive_spec

    store = new_data_store("smos")
    spec = archive_spec(store.store_params)
    options = s3_options(spec, spec.options())
    assert options["anon"] is True and options["endpoint_url"] == "https://eodata.cloudferro.com"
    assert options["config_kwargs"]["retries"] == {"max_attempts": 6, "mode": "standard"}
    monkeypatch.setenv("CREODIAS_S3_KEY", "env-key-1234")
    monkeypatch.setenv("CREODIAS_S3_SECRET", "env-secret-5678")
    options = s3_options(spec, spec.options())
    assert (options["key"], options["secret"]) == ("env-key-1234", "env-secret-5678")
    assert "anon" not in options
    given = new_data_store(
        "smos", source_storage_options={"key": "param-key-1", "secret": "param-secret-2"}
    )
    spec = archive_spec(given.store_params)
    options = s3_options(spec, spec.options())
    assert (options["key"], options["secret"]) == ("param-key-1", "param-secret-2")
    # extra store parameters are storage options overriding source_storage_options
    override = new_data_store(
        "smos",
        source_storage_options={"endpoint_url": "https://a.example"},
        endpoint_url="https://b.example",
    )
    assert archive_spec(override.store_params).options()["endpoint_url"] == "https://b.example"


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"source_path": "ftp://somewhere/eodata"}, "source_path"),
        ({"source_path": "s3://eodata", "source_protocol": "https"}, "source_protocol"),
        ({"source_path": "s3://"}, "source_path"),
        ({"source_protocol": "gopher"}, "source_protocol"),
        ({"no_such_option": 1}, "no_such_option"),
        (
            {"source_path": "https://mirror.example/eodata", "endpoint_url": "https://x"},
            "endpoint_url",
        ),
        (
            {"stac_url": "https://a.example/SMOS", "stac_smos_url": "https://b.example/SMOS"},
            "stac_url",
        ),
        ({"source_storage_options": {"anon": "yes"}}, "source_storage_options"),
        ({"stac_url": "catalogue.example.com"}, "stac_url"),
        ({"num_retries": -1}, "num_retries"),
    ],
)
def test_bad_store_parameters(params, parameter):
    with pytest.raises(InvalidParameterError) as caught:
        new_data_store("smos", **params)
    assert caught.value.parameter == parameter or parameter in str(caught.value)


def test_unknown_store_parameters_are_refused_by_name():
    with pytest.raises(InvalidParameterError) as caught:
        new_data_store("smos", stac_catalog_url="http://127.0.0.1:1/stac/collections/SMOS")
    message = str(caught.value)
    assert caught.value.parameter == "stac_catalog_url"
    assert "unknown store parameter 'stac_catalog_url'" in message and "stac_url" in message


def test_stac_smos_url_is_an_alias_of_stac_url(emulator):
    """xcube-smos's name of the catalogue parameter points the store at that catalogue."""
    url = emulator.store_params()["stac_url"]
    store = new_data_store("smos", stac_smos_url=url, source_path=f"{emulator.url}/eodata")
    assert store.store_params["stac_url"] == url
    assert "stac_smos_url" not in store.store_params
    cube = store.open_data(SM, time_range=[DAY, DAY], bbox=BBOX, variable_names=[])
    assert cube.sizes["time"] >= 2
    assert emulator.request_log and all(
        r.path.startswith("/stac/collections/SMOS") for r in emulator.request_log
    )
    same = new_data_store("smos", stac_url=url, stac_smos_url=url)
    assert same.store_params["stac_url"] == url


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"time_range": [DAY, DAY], "res_level": 5}, "res_level"),
        ({"time_range": [DAY, DAY], "res_level": -1}, "res_level"),
        ({"time_range": [DAY, DAY], "spatial_res": 0.05}, "spatial_res"),
        ({"bbox": BBOX}, "time_range"),
        ({"time_range": [None, DAY]}, "time_range"),
        ({"time_range": [DAY, DAY], "bbox": [0, 89, 10, 90]}, "bbox"),
        ({"time_range": [DAY, DAY], "bbox": [0, 40, 10, 95]}, "bbox"),
        ({"time_range": [DAY, DAY], "time_period": "1D"}, "time_period"),
        ({"time_range": [DAY, DAY], "crs": "EPSG:3857"}, "crs"),
        ({"time_range": [DAY, DAY], "variables": ["SSS_corr"]}, "variable_names"),
        (
            {"time_range": [DAY, DAY], "variables": ["Chi_2"], "variable_names": ["N_RFI_X"]},
            "variable_names",
        ),
        ({"time_range": ["2020-01-01", "2030-01-01"]}, "spatial_res"),
    ],
)
def test_bad_open_parameters_fail_before_any_request(store, emulator, params, parameter):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(SM, **params)
    assert caught.value.parameter == parameter or parameter in str(caught.value)
    assert not emulator.request_log


def test_variables_is_an_alias_of_variable_names(store):
    cube = store.open_data(SM, time_range=["2009-01-01", "2009-01-01"], variables=["Chi_2"])
    assert list(cube.data_vars) == ["Chi_2"]


@pytest.mark.parametrize(
    "kwargs",
    [{"engine": "netcdf4"}, {"decode_cf": True}, {"chunks": {}}, {"no_such_argument": 1}],
)
def test_xarray_kwargs_are_checked(kwargs):
    with pytest.raises(InvalidParameterError, match="xarray_kwargs"):
        new_data_store("smos", xarray_kwargs=kwargs)


def test_xarray_kwargs_reach_the_reader(emulator, make_store):
    store = make_store(emulator, xarray_kwargs={"engine": "h5netcdf", "phony_dims": "sort"})
    cube = store.open_data(SM, time_range=[DAY, DAY], bbox=BBOX, res_level=4)
    assert cube.compute().Soil_Moisture.notnull().any()


def test_unknown_data_id_and_opener(store):
    with pytest.raises(DataNotFoundError):
        store.open_data("SMOS-L3-SM", time_range=[DAY, DAY])
    with pytest.raises(InvalidParameterError, match="opener"):
        store.open_data(SM, opener_id="dataset:netcdf:smos", time_range=[DAY, DAY])
    with pytest.raises(InvalidParameterError, match="data_id"):
        store.has_data(42)


def test_secrets_stay_hidden_and_survive_pickling():
    store = new_data_store(
        "smos", source_storage_options={"key": "visible-key-id", "secret": "hidden-secret-9f2"}
    )
    assert "hidden-secret-9f2" not in repr(store)
    dumped = pickle.dumps(store)
    assert b"hidden-secret-9f2" not in dumped
    again = pickle.loads(dumped)
    assert again.store_params["source_storage_options"]["secret"] == "hidden-secret-9f2"
    with pytest.raises(InvalidParameterError) as caught:
        again.open_data(SM, time_range=[DAY, DAY], no_such_parameter=1)
    assert "hidden-secret-9f2" not in str(caught.value)


def test_construction_makes_no_request(emulator, make_store):
    make_store(emulator)
    assert not emulator.request_log
