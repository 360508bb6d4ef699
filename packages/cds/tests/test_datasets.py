"""Every emulated dataset opened through the store and the real client, values checked."""

from __future__ import annotations

import numpy as np
import pytest
from eostores_cds.testing import DAILY_STATISTIC_OFFSETS, expected_value

from eostores.errors import InvalidParameterError

DAILY = "derived-era5-single-levels-daily-statistics"


def offset(emulator, dataset_id: str, variable: str) -> float:
    return emulator.datasets[dataset_id].variable(variable).offset


def expected(ds, name, base, level=None, number=None):
    lat = ds["lat"].values[None, :, None]
    lon = ds["lon"].values[None, None, :]
    time = ds["time"].values[:, None, None]
    return expected_value(base, lat, lon, time, 0.0 if level is None else level, number or 0)


def test_era5_single_levels_subset_values(store, emulator):
    ds = store.open_data(
        "reanalysis-era5-single-levels",
        variable_names=["2m_temperature", "total_precipitation"],
        bbox=[-10.1, 40.05, 0.2, 42.0],
        time_range=["2020-01-31", "2020-02-01"],
        time_period="6H",
    )
    assert set(ds.data_vars) == {"t2m", "tp"}
    assert ds["lat"].values.tolist() == [40.25 + 0.25 * i for i in range(8)]
    assert ds["lon"].values[0] == -10.0 and ds["lon"].values[-1] == 0.0
    assert ds.sizes["lon"] == 41
    assert [str(t)[:13] for t in ds["time"].values] == [
        f"2020-{d}T{h:02d}" for d in ("01-31", "02-01") for h in (0, 6, 12, 18)
    ]
    for name, variable in (("t2m", "2m_temperature"), ("tp", "total_precipitation")):
        want = expected(ds, name, offset(emulator, "reanalysis-era5-single-levels", variable))
        np.testing.assert_allclose(ds[name].values, want, atol=1e-3)
    assert ds["lat"].attrs["units"] == "degrees_north"
    assert "valid_time" not in ds.variables and "expver" in ds.coords


def test_era5_land_native_tenth_degree_grid(store, emulator):
    ds = store.open_data(
        "reanalysis-era5-land",
        variable_names=["skin_temperature"],
        bbox=[10.0, 45.0, 10.5, 45.3],
        time_range=["2021-07-01", "2021-07-01"],
    )
    assert ds.sizes["time"] == 24
    np.testing.assert_allclose(ds["lat"].values, [45.0, 45.1, 45.2, 45.3])
    np.testing.assert_allclose(np.diff(ds["lon"].values), 0.1)
    want = expected(ds, "skt", offset(emulator, "reanalysis-era5-land", "skin_temperature"))
    np.testing.assert_allclose(ds["skt"].values, want, atol=1e-3)


def test_era5_pressure_levels_selected_levels(store, emulator):
    ds = store.open_data(
        "reanalysis-era5-pressure-levels",
        variable_names=["temperature"],
        pressure_level=["500", "850"],
        bbox=[0, 50, 1, 51],
        time_range=["2019-06-01", "2019-06-01"],
        time_period="12H",
    )
    assert ds["t"].dims == ("time", "pressure_level", "lat", "lon")
    assert sorted(ds["pressure_level"].values.tolist()) == [500.0, 850.0]
    base = offset(emulator, "reanalysis-era5-pressure-levels", "temperature")
    for level in (500.0, 850.0):
        layer = ds["t"].sel(pressure_level=level)
        want = expected(ds, "t", base, level=level)
        np.testing.assert_allclose(layer.values, want, atol=1e-3)


def test_ensemble_members_virtual_id(store, emulator):
    ds = store.open_data(
        "reanalysis-era5-single-levels:ensemble_members",
        variable_names=["2m_temperature"],
        bbox=[0, 0, 0.5, 0.5],
        time_range=["2020-01-01", "2020-01-01"],
    )
    assert ds.sizes["number"] == 10
    assert ds.sizes["time"] == 8, "ensemble products are 3-hourly"
    base = offset(emulator, "reanalysis-era5-single-levels", "2m_temperature")
    member = ds["t2m"].sel(number=3)
    np.testing.assert_allclose(member.values, expected(ds, "t2m", base, number=3), atol=1e-3)


def test_daily_statistics(store, emulator):
    ds = store.open_data(
        "derived-era5-single-levels-daily-statistics",
        variable_names=["2m_temperature", "mean_sea_level_pressure"],
        daily_statistic="daily_maximum",
        bbox=[5, 45, 6, 46],
        time_range=["2022-03-30", "2022-04-02"],
    )
    assert ds.sizes["time"] == 4
    assert set(ds.data_vars) == {"t2m", "msl"}
    base = offset(emulator, "derived-era5-single-levels-daily-statistics", "2m_temperature")
    want = expected(ds, "t2m", base + DAILY_STATISTIC_OFFSETS["daily_maximum"])
    np.testing.assert_allclose(ds["t2m"].values, want, atol=1e-3)


@pytest.mark.parametrize(
    ("period", "days"),
    [("1D", ["01", "02", "03"]), ("10D", ["01", "11", "21"]), ("1M", ["01"])],
)
def test_soil_moisture_aggregations(store, emulator, period, days):
    end = "2020-01-03" if period == "1D" else "2020-01-31"
    ds = store.open_data(
        "satellite-soil-moisture",
        variable_names=["volumetric_surface_soil_moisture"],
        bbox=[0, 0, 10, 5],
        time_range=["2020-01-01", end],
        time_period=period,
    )
    assert [str(t)[8:10] for t in ds["time"].values] == days
    np.testing.assert_allclose(ds["lat"].values, 0.125 + 0.25 * np.arange(20))
    np.testing.assert_allclose(ds["lon"].values, 0.125 + 0.25 * np.arange(40))
    np.testing.assert_allclose(ds["sm"].values, expected(ds, "sm", 0.0), atol=1e-3)
    assert "sm_uncertainty" in ds.data_vars


def test_soil_moisture_global_uses_dataset_longitudes(store):
    ds = store.open_data(
        "satellite-soil-moisture",
        variable_names=["volumetric_surface_soil_moisture"],
        time_range=["2020-01-01", "2020-01-01"],
    )
    assert ds.sizes["lat"] == 720 and ds.sizes["lon"] == 1440
    assert ds["lon"].values[0] == -179.875 and ds["lat"].values[0] == -89.875


def test_monthly_means_one_request_per_year(store, emulator, fresh_log, executions):
    ds = store.open_data(
        "reanalysis-era5-single-levels-monthly-means",
        variable_names=["2m_temperature"],
        bbox=[0, 0, 1, 1],
        time_range=["2019-11-01", "2020-02-28"],
    )
    assert [str(t)[:7] for t in ds["time"].values] == ["2019-11", "2019-12", "2020-01", "2020-02"]
    assert len(executions()) == 2
    base = offset(emulator, "reanalysis-era5-single-levels-monthly-means", "2m_temperature")
    np.testing.assert_allclose(ds["t2m"].values, expected(ds, "t2m", base), atol=1e-3)


def test_longitudes_follow_the_bbox_convention(store, emulator):
    east = store.open_data(
        "reanalysis-era5-single-levels",
        variable_names=["2m_temperature"],
        bbox=[350, 40, 352, 41],
        time_range=["2020-01-01", "2020-01-01"],
        time_period="12H",
    )
    west = store.open_data(
        "reanalysis-era5-single-levels",
        variable_names=["2m_temperature"],
        bbox=[-10, 40, -8, 41],
        time_range=["2020-01-01", "2020-01-01"],
        time_period="12H",
    )
    assert east["lon"].values[0] == 350.0 and east["lon"].values[-1] == 352.0
    assert west["lon"].values[0] == -10.0
    np.testing.assert_allclose(east["t2m"].values, west["t2m"].values)


def test_bbox_across_the_prime_meridian(store, emulator):
    ds = store.open_data(
        "reanalysis-era5-single-levels",
        variable_names=["2m_temperature"],
        bbox=[-1, 40, 1, 40.5],
        time_range=["2020-01-01", "2020-01-01"],
        time_period="12H",
    )
    assert ds["lon"].values.tolist() == [-1 + 0.25 * i for i in range(9)]
    base = offset(emulator, "reanalysis-era5-single-levels", "2m_temperature")
    np.testing.assert_allclose(ds["t2m"].values, expected(ds, "t2m", base), atol=1e-3)


def test_coarser_grid_is_requested_from_the_service(store, emulator, fresh_log):
    ds = store.open_data(
        "reanalysis-era5-single-levels",
        variable_names=["2m_temperature"],
        bbox=[-10, 40, 0, 45],
        spatial_res=1.0,
        time_range=["2020-01-01", "2020-01-01"],
        time_period="12H",
    )
    assert ds["lat"].values.tolist() == [40.0, 41.0, 42.0, 43.0, 44.0, 45.0]
    assert ds.sizes["lon"] == 11
    assert emulator.submitted_jobs[-1]["request"]["grid"] == [1.0, 1.0]
    base = offset(emulator, "reanalysis-era5-single-levels", "2m_temperature")
    np.testing.assert_allclose(ds["t2m"].values, expected(ds, "t2m", base), atol=1e-3)


def test_exact_time_range_with_hours(store):
    ds = store.open_data(
        "reanalysis-era5-single-levels",
        variable_names=["2m_temperature"],
        bbox=[0, 0, 0.25, 0.25],
        time_range=["2020-01-01T06:00:00Z", "2020-01-01T12:00:00Z"],
    )
    assert [str(t)[11:13] for t in ds["time"].values] == [f"{h:02d}" for h in range(6, 13)]


def test_normalize_names_makes_identifiers(make_store):
    store = make_store(normalize_names=True)
    ds = store.open_data(
        "reanalysis-era5-single-levels",
        variable_names=["10m_u_component_of_wind"],
        bbox=[0, 0, 0.25, 0.25],
        time_range=["2020-01-01", "2020-01-01"],
        time_period="12H",
    )
    assert list(ds.data_vars) == ["u10"]
    assert all(name.isidentifier() for name in ds.variables)


def test_empty_variable_list_makes_no_request(store, fresh_log, executions):
    ds = store.open_data(
        "reanalysis-era5-single-levels",
        variable_names=[],
        bbox=[-10, 40, 0, 45],
        time_range=["2020-01-01", "2020-01-02"],
        time_period="6H",
    )
    assert not ds.data_vars
    assert ds.sizes == {"time": 8, "lat": 21, "lon": 41}
    assert executions() == []


def test_dataset_of_an_unknown_family_opens_on_the_service_grid(
    make_store, emulator, changed_dataset, executions
):
    """The catalogue states no grid: the service's own comes through; a size bound and an
    empty cube need one, so they use spatial_res when given."""
    unknown = "sis-agrometeorological-indicators"
    store = make_store(max_request_bytes=1000)
    with changed_dataset("reanalysis-era5-land", id=unknown):
        ds = store.open_data(
            unknown,
            variable_names=["skin_temperature"],
            bbox=[10.0, 45.0, 10.5, 45.3],
            time_range=["2021-07-01", "2021-07-01"],
        )
        assert "grid" not in emulator.submitted_jobs[-1]["request"]
        np.testing.assert_allclose(ds["lat"].values, [45.0, 45.1, 45.2, 45.3])
        want = expected(ds, "skt", offset(emulator, unknown, "skin_temperature"))
        np.testing.assert_allclose(ds["skt"].values, want, atol=1e-3)
        submitted = len(executions())
        with pytest.raises(InvalidParameterError, match="max_request_bytes") as caught:
            store.open_data(
                unknown,
                variable_names=["skin_temperature"],
                spatial_res=0.5,
                time_range=["2021-07-01", "2021-07-31"],
            )
        assert caught.value.parameter == "spatial_res"
        empty = store.open_data(unknown, variable_names=[], time_range=["2021-07-01", "2021-07-01"])
    assert dict(empty.sizes) == {"time": 24}, "no invented lat/lon"
    assert len(executions()) == submitted


def test_unknown_grid_without_regridding_refuses_spatial_res(
    store, changed_dataset, fresh_log, executions
):
    unknown = "satellite-lake-water-temperature"
    with (
        changed_dataset("satellite-soil-moisture", id=unknown),
        pytest.raises(InvalidParameterError) as caught,
    ):
        store.open_data(
            unknown,
            variable_names=["volumetric_surface_soil_moisture"],
            spatial_res=0.5,
            time_range=["2020-01-01", "2020-01-01"],
        )
    assert caught.value.parameter == "spatial_res" and "native grid" in str(caught.value)
    assert executions() == []


@pytest.mark.parametrize("dataset_id", ["reanalysis-era5-land", DAILY])
def test_classic_netcdf_results_are_read(store, emulator, changed_dataset, tmp_path, dataset_id):
    """Some datasets come as NetCDF-3 (a single file, or zipped as the daily statistics)."""
    with changed_dataset(dataset_id, netcdf_format="NETCDF3_CLASSIC"):
        ds = store.open_data(
            dataset_id,
            variable_names=["2m_temperature"],
            bbox=[10.0, 45.0, 11.0, 46.0],
            time_range=["2021-07-03", "2021-07-04"],
            time_period="1D" if dataset_id == DAILY else "12H",
        )
    files = [p for p in (tmp_path / "cache").rglob("*.nc") if "pieces" in p.parts]
    assert files and all(p.read_bytes()[:3] == b"CDF" for p in files), "classic NetCDF"
    base = offset(emulator, dataset_id, "2m_temperature")
    np.testing.assert_allclose(ds["t2m"].values, expected(ds, "t2m", base), atol=1e-3)
    assert ds.sizes["time"] == (2 if dataset_id == DAILY else 4)
