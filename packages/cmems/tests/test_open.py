"""Opening: every open parameter, with values checked against the known function."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import SST, THETAO, ZOS, expected

from eostores import InvalidParameterError


def _assert_values(data_id, dataset, **kwargs):
    for name in dataset.data_vars:
        np.testing.assert_allclose(
            dataset[name].values, expected(data_id, name, dataset, **kwargs), rtol=1e-6
        )


def test_box_time_depth_subset_is_exact(shared_store):
    ds = shared_store.open_data(
        THETAO,
        variable_names=["thetao"],
        bbox=[10.0, 40.0, 14.0, 43.0],
        time_range=["2023-02-01", "2023-02-03"],
        depth_range=[1.0, 11.0],
    )
    assert list(ds.data_vars) == ["thetao"]
    assert ds["thetao"].chunks is not None, "variables are dask-backed"
    assert ds["latitude"].values.tolist() == [40.5, 41.5, 42.5]
    assert ds["longitude"].values.tolist() == [10.5, 11.5, 12.5, 13.5]
    np.testing.assert_allclose(ds["depth"].values, [1.541, 2.646, 5.078, 10.536], rtol=1e-6)
    assert ds["time"].values.astype("datetime64[D]").astype(str).tolist() == [
        "2023-02-01",
        "2023-02-02",
        "2023-02-03",
    ], "an end date covers its whole day"
    _assert_values(THETAO, ds)


def test_box_edges_are_inclusive(shared_store):
    ds = shared_store.open_data(SST, bbox=[10.5, 40.5, 12.5, 41.5], time_range=["2020-03-01"] * 2)
    assert ds["longitude"].values.tolist() == [10.5, 11.5, 12.5]
    assert ds["latitude"].values.tolist() == [40.5, 41.5]
    assert ds.sizes["time"] == 1
    _assert_values(SST, ds)


def test_empty_variable_list_keeps_dimensions(shared_store):
    ds = shared_store.open_data(
        SST, variable_names=[], bbox=[0, 0, 2, 2], time_range=["2020-01-01", "2020-01-02"]
    )
    assert not ds.data_vars
    assert dict(ds.sizes) == {"time": 2, "latitude": 2, "longitude": 2}


def test_variables_alias(shared_store):
    ds = shared_store.open_data(
        SST, variables=["sea_ice_fraction"], bbox=[0, 0, 2, 2], time_range=["2020-01-01"] * 2
    )
    assert list(ds.data_vars) == ["sea_ice_fraction"]
    _assert_values(SST, ds)


def test_versions_and_parts(shared_store):
    params = dict(bbox=[0, 0, 3, 3], time_range=["2019-01-01", "2019-03-31"])
    newest = shared_store.open_data(ZOS, **params)
    older = shared_store.open_data(ZOS, dataset_version="202112", **params)
    interim = shared_store.open_data(
        ZOS, dataset_version="202311", dataset_part="interim", **params
    )
    assert newest.attrs["cmems_dataset_version"] == "202311"
    assert older.attrs["cmems_dataset_version"] == "202112"
    assert interim.attrs["cmems_dataset_part"] == "interim"
    assert newest.sizes["time"] == 3
    _assert_values(ZOS, newest, version="202311")
    _assert_values(ZOS, older, version="202112")
    _assert_values(ZOS, interim, version="202311", part="interim")
    difference = (newest["zos"] - older["zos"]).values
    np.testing.assert_allclose(difference, 100.0, rtol=1e-5)
    with pytest.raises(InvalidParameterError, match="dataset_part"):
        shared_store.open_data(ZOS, dataset_version="202112", dataset_part="interim", **params)
    with pytest.raises(InvalidParameterError, match="dataset_version"):
        shared_store.open_data(ZOS, dataset_version="199901", **params)


def test_automatic_service_choice(shared_store, shared_emulator):
    shared_emulator.reset_log()
    series = shared_store.open_data(
        SST, bbox=[10.2, 40.2, 10.8, 40.8], time_range=["2020-01-01", "2020-12-31"]
    )
    assert series.attrs["cmems_service"] == "arco-time-series"
    assert series.attrs["cmems_service_asset"] == "geoChunked"
    assert series["analysed_sst"].shape == (366, 1, 1)
    _assert_values(SST, series)
    assert all("/geoChunked.zarr/" in r.path for r in shared_emulator.data_requests())
    world = shared_store.open_data(SST, time_range=["2020-06-01", "2020-06-01"])
    assert world.attrs["cmems_service"] == "arco-geo-series"
    assert world["analysed_sst"].shape == (1, 180, 360)
    np.testing.assert_allclose(
        world["analysed_sst"].isel(latitude=slice(0, 5)).values,
        expected(SST, "analysed_sst", world.isel(latitude=slice(0, 5))),
        rtol=1e-6,
    )


def test_forced_service_gives_the_same_values(shared_store):
    params = dict(bbox=[5, 5, 8, 7], time_range=["2020-02-27", "2020-03-02"])
    geo = shared_store.open_data(SST, service="geoseries", **params)
    series = shared_store.open_data(SST, service="arco-time-series", **params)
    assert geo.attrs["cmems_service"] == "arco-geo-series"
    assert series.attrs["cmems_service"] == "arco-time-series"
    assert geo["analysed_sst"].data.chunksize != series["analysed_sst"].data.chunksize
    np.testing.assert_array_equal(geo["analysed_sst"].values, series["analysed_sst"].values)
    _assert_values(SST, geo)


def test_force_cube(shared_store):
    ds = shared_store.open_data(
        THETAO,
        bbox=[0, 0, 2, 2],
        time_range=["2023-05-01"] * 2,
        depth_range=[0, 3],
        force_cube=True,
    )
    assert ds["thetao"].dims == ("time", "depth", "lat", "lon")
    assert "latitude" not in ds.coords
    assert ds["lat"].values.tolist() == [0.5, 1.5]
    _assert_values(THETAO, ds)


def test_longitudes_beyond_180(shared_store):
    ds = shared_store.open_data(SST, bbox=[178, 0, 182, 1], time_range=["2020-01-05"] * 2)
    assert ds["longitude"].values.tolist() == [178.5, 179.5, 180.5, 181.5]
    _assert_values(SST, ds.assign_coords(longitude=((ds["longitude"] + 180) % 360) - 180))


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"bbox": [10, 0, 0, 10]}, "bbox"),
        ({"time_range": ["2020-02-01", "2020-01-01"]}, "time_range"),
        ({"depth_range": [10, 1]}, "depth_range"),
        ({"depth_range": [-5, 1]}, "depth_range"),
        ({"service": "wmts"}, "service"),
        ({"spatial_res": 0.25}, "spatial_res"),
        ({"time_period": "1M"}, "time_period"),
        ({"variable_names": ["thetao", "thetao"]}, "variable_names"),
        ({"variables": ["so"], "variable_names": ["thetao"]}, "variable_names"),
    ],
)
def test_bad_parameters_name_themselves(shared_store, params, parameter):
    with pytest.raises(InvalidParameterError) as caught:
        shared_store.open_data(THETAO, **params)
    assert caught.value.parameter == parameter or parameter in str(caught.value)


def test_request_outside_the_dataset(shared_store):
    with pytest.raises(InvalidParameterError) as caught:
        shared_store.open_data(THETAO, depth_range=[1000, 2000], time_range=["2023-02-01"] * 2)
    assert caught.value.parameter == "depth_range"
    with pytest.raises(InvalidParameterError, match="time_range"):
        shared_store.open_data(SST, time_range=["2030-01-01", "2030-01-02"])
    with pytest.raises(InvalidParameterError) as caught:
        shared_store.open_data(ZOS, bbox=[0, 70, 5, 80], time_range=["2019-01-01"] * 2)
    assert caught.value.parameter == "bbox"


@pytest.mark.parametrize(
    ("depth_range", "depths"),
    [
        ([5, 110], [5.078, 10.536, 21.6, 47.37, 109.7]),
        ([0, 1], [0.494]),
        ([200, 1000], [222.5, 541.1]),
        ([0, 6000], [0.494, 1.541, 2.646, 5.078, 10.536, 21.6, 47.37, 109.7, 222.5, 541.1]),
    ],
)
def test_depth_range_selects_on_the_services_elevation_axis(shared_store, depth_range, depths):
    # The ARCO data have "elevation" (negative, ascending); the store gives positive depths.
    ds = shared_store.open_data(
        THETAO, bbox=[0, 0, 2, 1], time_range=["2023-06-01"] * 2, depth_range=depth_range
    )
    assert "elevation" not in ds.dims
    np.testing.assert_allclose(ds["depth"].values, depths, rtol=1e-6)
    assert ds["depth"].attrs["positive"] == "down"
    assert ds["thetao"].dims == ("time", "depth", "latitude", "longitude")
    _assert_values(THETAO, ds)
    surface_first = ds["thetao"].isel(time=0, latitude=0, longitude=0).values
    assert np.all(np.diff(surface_first) < 0), "values fall with depth (the known function)"


def test_time_starts_at_the_first_valid_date(shared_store):
    # The item's admp_valid_start_date is 2023-01-15; the store holds data from 2023-01-01.
    ds = shared_store.open_data(
        THETAO, bbox=[0, 0, 1, 1], time_range=["2023-01-15", "2023-01-17"], depth_range=[0, 1]
    )
    days = ds["time"].values.astype("datetime64[D]").astype(str).tolist()
    assert days == ["2023-01-15", "2023-01-16", "2023-01-17"]
    _assert_values(THETAO, ds)
    whole = shared_store.open_data(THETAO, variable_names=[], bbox=[0, 0, 1, 1])
    assert str(whole["time"].values[0].astype("datetime64[D]")) == "2023-01-15"
    assert whole.sizes["time"] == 351
    for time_range in (["2023-01-10", "2023-01-17"], ["2023-01-01", "2023-01-10"]):
        with pytest.raises(InvalidParameterError, match="2023-01-15") as caught:
            shared_store.open_data(THETAO, time_range=time_range)
        assert caught.value.parameter == "time_range"


def test_versions_in_preparation_and_retired_parts_are_not_offered(shared_store):
    descriptor = shared_store.describe_data(ZOS)
    assert descriptor.attrs["versions"] == ["202311", "202112"]  # 202506: in preparation
    with pytest.raises(InvalidParameterError) as caught:
        shared_store.open_data(ZOS, dataset_version="202506", time_range=["2019-01-01"] * 2)
    assert caught.value.parameter == "dataset_version"
    with pytest.raises(InvalidParameterError) as caught:  # retired on 2024-06-30
        shared_store.open_data(
            ZOS, dataset_version="202112", dataset_part="interim", time_range=["2019-01-01"] * 2
        )
    assert caught.value.parameter == "dataset_part"
    older = shared_store.open_data(
        ZOS, dataset_version="202112", bbox=[0, 0, 2, 2], time_range=["2019-01-01"] * 2
    )
    assert older.attrs["cmems_dataset_part"] == "default"
    _assert_values(ZOS, older, version="202112")
