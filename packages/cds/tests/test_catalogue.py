"""Data ids, descriptions and schemas from the catalogue, cached on disk."""

from __future__ import annotations

import pytest

from eostores.errors import InvalidParameterError

ERA5 = "reanalysis-era5-single-levels"
LAND = "reanalysis-era5-land"
DAILY = "derived-era5-single-levels-daily-statistics"
#: A gridded dataset of a family whose native grid the store does not know.
UNKNOWN = "sis-agrometeorological-indicators"


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
    assert temperature.attrs["title"] == "Temperature"
    assert "units" not in temperature.attrs, "the catalogue states no units; none invented"
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
    assert {"const": "2m_temperature", "title": "2m temperature", "type": "string"} in variables
    soil = store.get_open_data_params_schema("satellite-soil-moisture")
    assert soil.properties["time_period"].enum == ["1D", "10D", "1M"]
    assert "time_aggregation" not in soil.properties
    assert soil.properties["spatial_res"].enum == [0.25]


def test_records_state_no_units_or_grid_like_the_service(emulator):
    """Since 2022 the CDS catalogue has no tmp:variables or tmp:description."""
    import requests

    base = emulator.store_params()["endpoint_url"]
    record = requests.get(f"{base}/catalogue/v1/collections/{LAND}", timeout=10).json()
    assert record["id"] == LAND and "extent" in record
    assert not [key for key in record if key.startswith("tmp:")]
    listing = requests.get(f"{base}/catalogue/v1/datasets", timeout=10).json()
    assert not [key for r in listing["collections"] for key in r if key.startswith("tmp:")]


@pytest.mark.parametrize(
    ("data_id", "native"),
    [(ERA5, 0.25), (LAND, 0.1), ("satellite-soil-moisture", 0.25), (DAILY, 0.25)],
)
def test_native_grid_of_known_dataset_families(store, data_id, native):
    assert store.describe_data(data_id).spatial_res == native
    spatial_res = store.get_open_data_params_schema(data_id).properties["spatial_res"]
    assert spatial_res.default == native and not spatial_res.nullable
    if data_id == "satellite-soil-moisture":  # no sub-areas, no regridding
        assert spatial_res.enum == [native]
    else:
        assert spatial_res.minimum == native and spatial_res.enum is None


def test_dataset_of_an_unknown_family_has_no_invented_grid(store, changed_dataset):
    with changed_dataset(LAND, id=UNKNOWN, title="Agrometeorological indicators"):
        descriptor = store.describe_data(UNKNOWN)
        spatial_res = store.get_open_data_params_schema(UNKNOWN).properties["spatial_res"]
    assert descriptor.spatial_res is None
    assert "units" not in descriptor.data_vars["2m_temperature"].attrs
    assert spatial_res.default is None and spatial_res.nullable
    assert spatial_res.minimum is None and spatial_res.enum is None


def test_tmp_fields_of_an_older_catalogue_are_read_when_present(tmp_path, store_params):
    """Units and grid spacing of ``tmp:variables``/``tmp:description`` take precedence."""
    from eostores_cds.testing import CdsEmulator

    from eostores import new_data_store

    with CdsEmulator(tmp_fields=True, resolutions={"satellite-soil-moisture": 1.0}) as older:
        params = {**store_params, **older.store_params(), "cache_dir": str(tmp_path / "old")}
        store = new_data_store("cds", **params)
        temperature = store.describe_data("reanalysis-era5-pressure-levels").data_vars[
            "temperature"
        ]
        soil = store.get_open_data_params_schema("satellite-soil-moisture")
        daily = store.get_open_data_params_schema(DAILY)
    assert temperature.attrs["units"] == "K" and temperature.attrs["long_name"] == "Temperature"
    assert soil.properties["spatial_res"].enum == [1.0], "the record's spacing, not the table's"
    variables = daily.properties["variable_names"].to_dict()["items"]["oneOf"]
    assert {"const": "2m_temperature", "title": "2m temperature [K]", "type": "string"} in variables


def test_search_by_variable_and_bbox(store):
    found = [d.data_id for d in store.search_data(variable_names=["skin_temperature"])]
    assert found == ["reanalysis-era5-land"]


def test_variables_alias_and_unknown_variable(store, fresh_log):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            ERA5, variables=["t2m"], time_range=["2020-01-01", "2020-01-01"], bbox=[0, 0, 1, 1]
        )
    assert "2m_temperature" in str(caught.value)
