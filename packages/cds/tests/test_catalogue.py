"""Data ids, descriptions and schemas from the catalogue, cached on disk."""

from __future__ import annotations

import pytest

from eostores.errors import InvalidParameterError

ERA5 = "reanalysis-era5-single-levels"


def catalogue_requests(emulator):
    return [r for r in emulator.request_log if "/catalogue/" in r.path]


def test_ids_come_from_every_catalogue_page(store, emulator, fresh_log):
    ids = store.list_data_ids()
    assert {
        ERA5,
        "reanalysis-era5-land",
        "reanalysis-era5-pressure-levels",
        "derived-era5-single-levels-daily-statistics",
        "satellite-soil-moisture",
        "reanalysis-era5-single-levels-monthly-means",
    } <= set(ids)
    assert "insitu-observations-surface-land" not in ids, "only gridded datasets"
    pages = [r for r in emulator.request_log if r.path.endswith("/datasets")]
    assert len(pages) == 3, "7 datasets at 3 per page"


def test_virtual_ids_where_product_types_differ(store):
    ids = store.list_data_ids()
    assert f"{ERA5}:ensemble_members" in ids and f"{ERA5}:reanalysis" in ids
    assert not any(i.startswith("derived-era5-single-levels-daily-statistics:") for i in ids)
    hourly = store.get_open_data_params_schema(f"{ERA5}:reanalysis")
    ensemble = store.get_open_data_params_schema(f"{ERA5}:ensemble_mean")
    assert hourly.properties["time_period"].enum[0] == "1H"
    assert ensemble.properties["time_period"].enum == ["3H", "6H", "12H"]
    assert "product_type" not in ensemble.properties
    assert (
        store.get_open_data_params_schema(ERA5).properties["product_type"].enum[0] == "reanalysis"
    )


def test_catalogue_is_cached_on_disk(make_store, emulator, fresh_log):
    make_store().list_data_ids()
    emulator.reset_log()
    store = make_store()
    assert store.list_data_ids()
    store.describe_data(ERA5)
    assert emulator.request_log == []
    make_store(catalogue_ttl=0).list_data_ids()
    assert catalogue_requests(emulator), "an expired cache is fetched again"


def test_describe_from_metadata_only(store, emulator, fresh_log):
    descriptor = store.describe_data("reanalysis-era5-pressure-levels")
    assert descriptor.time_range == ("1940-01-01", "2025-06-30")
    assert descriptor.bbox == (-180.0, -90.0, 180.0, 90.0)
    assert descriptor.spatial_res == 0.25
    assert descriptor.time_period == "1H"
    temperature = descriptor.data_vars["temperature"]
    assert temperature.attrs["units"] == "K" and temperature.attrs["title"] == "Temperature"
    assert temperature.dims == ("time", "pressure_level", "lat", "lon")
    assert descriptor.attrs["pressure_levels"][-1] == "1000"
    assert not any("/retrieve/" in r.path for r in emulator.request_log)


def test_open_schema_from_form(store):
    schema = store.get_open_data_params_schema("derived-era5-single-levels-daily-statistics")
    assert schema.properties["daily_statistic"].enum == [
        "daily_mean",
        "daily_maximum",
        "daily_minimum",
    ]
    assert schema.properties["daily_statistic"].default == "daily_mean"
    variables = schema.properties["variable_names"].to_dict()["items"]["oneOf"]
    assert {"const": "2m_temperature", "title": "2m temperature [K]", "type": "string"} in variables
    soil = store.get_open_data_params_schema("satellite-soil-moisture")
    assert soil.properties["time_period"].enum == ["1D", "10D", "1M"]
    assert "time_aggregation" not in soil.properties
    assert soil.properties["spatial_res"].enum == [1.0]


def test_search_by_variable_and_bbox(store):
    found = [d.data_id for d in store.search_data(variable_names=["skin_temperature"])]
    assert found == ["reanalysis-era5-land"]


def test_variables_alias_and_unknown_variable(store, fresh_log):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            ERA5, variables=["t2m"], time_range=["2020-01-01", "2020-01-01"], bbox=[0, 0, 1, 1]
        )
    assert "2m_temperature" in str(caught.value)
