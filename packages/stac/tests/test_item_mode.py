"""Item mode of the ``stac`` store against the emulator: listing, describing, opening, search."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
from eostores_stac.assets import AssetReadWarning
from eostores_stac.testing.scenes import (
    BANDS,
    NODATA_STRIP,
    WVP_FILL,
    WVP_SCALE,
    aot_value,
    band_value,
    wvp_value,
)

from eostores import new_data_store
from eostores.errors import DataNotFoundError, DataStoreError, InvalidParameterError
from eostores.testing import FaultProfile


@pytest.fixture
def store(api_emulator, fast_http):
    return new_data_store("stac", **api_emulator.store_params(), **fast_http)


def _item_gets(emulator) -> list:
    return [r for r in emulator.request_log if "/items/" in r.path and r.method == "GET"]


def _asset_requests(emulator) -> list:
    return [r for r in emulator.request_log if r.path.startswith("/data/")]


def test_get_data_ids_streams_through_pages(store, api_log):
    ids = store.get_data_ids()
    first = next(ids)
    assert first.startswith("collections/")
    searches = [r for r in api_log.request_log if r.path == "/search"]
    assert len(searches) == 1, "only the first page is fetched before the first id"
    rest = list(ids)
    assert len(rest) + 1 == 1200 + len(api_log.data.scenes)
    assert len([r for r in api_log.request_log if r.path == "/search"]) == 13  # 1208 / 100


def test_list_with_attrs_comes_from_the_search_pages(store, api_log):
    listed = store.list_data_ids(include_attrs=["eo:cloud_cover", "datetime"])
    assert all(set(attrs) == {"eo:cloud_cover", "datetime"} for _, attrs in listed)
    assert not _item_gets(api_log)


def test_describe_uses_item_metadata_only(store, api_log):
    scene = api_log.data.scenes[1]
    data_id = api_log.item_data_id(scene.item_id)
    descriptor = store.describe_data(data_id)
    assert not _asset_requests(api_log)
    assert len(_item_gets(api_log)) == 1
    assert set(descriptor.data_vars) == {*BANDS, "aot", "wvp"}
    b04 = descriptor.data_vars["B04"]
    assert b04.dtype == "float32" and b04.dims == ("time", "y", "x")
    assert b04.attrs["scale"] == 0.0001 and b04.attrs["offset"] == -0.1 and b04.attrs["nodata"] == 0
    assert descriptor.data_vars["wvp"].dims == ("time", "y_wvp", "x_wvp")
    assert descriptor.crs == "EPSG:32633"
    assert descriptor.bbox == scene.tile.bounds
    assert descriptor.time_range == (scene.datetime, scene.datetime)
    assert descriptor.dims == {"time": 1, "y": 128, "x": 128, "y_wvp": 64, "x_wvp": 64}


def test_open_reads_every_format_with_values_from_the_known_function(store, api_log):
    scene = api_log.data.scenes[0]
    data_id = api_log.item_data_id(scene.item_id)
    dataset = store.open_data(data_id)
    assert len(_item_gets(api_log)) == 1, "one item GET per open"
    assert all(dataset[name].chunks is not None for name in dataset.data_vars)
    xs, ys = dataset.x.values, dataset.y.values
    for index, band in enumerate(BANDS):
        values = dataset[band].isel(time=0).values
        expected = band_value(xs[None, :], ys[:, None], scene.day, index)
        expected[:, -NODATA_STRIP:] = np.nan  # the strip of nodata at the zone-32 east edge
        np.testing.assert_allclose(values, expected, atol=1e-6)
    np.testing.assert_allclose(
        dataset.aot.isel(time=0).values, aot_value(xs[None, :], ys[:, None], scene.day), atol=1e-6
    )
    xw, yw = dataset.x_wvp.values, dataset.y_wvp.values
    np.testing.assert_allclose(
        dataset.wvp.isel(time=0).values, wvp_value(xw[None, :], yw[:, None], scene.day), atol=1e-6
    )
    assert dataset.time.values[0] == np.datetime64(scene.datetime.rstrip("Z"), "ns")
    assert dataset.attrs["stac_item_id"] == scene.item_id


def test_apply_scaling_false_keeps_stored_values(store, api_emulator):
    scene = api_emulator.data.scenes[0]
    dataset = store.open_data(
        api_emulator.item_data_id(scene.item_id), asset_names=["B02"], apply_scaling=False
    )
    values = dataset.B02.isel(time=0).values
    assert values.dtype == np.uint16
    assert (values[:, -NODATA_STRIP:] == 0).all()
    assert dataset.B02.attrs["scale"] == 0.0001 and dataset.B02.attrs["nodata"] == 0


def test_cf_encoded_asset_is_scaled_once_by_its_raster_fields(store, api_emulator):
    """The NetCDF variable is CF-encoded and the item repeats that encoding as raster
    metadata: the values are scaled once, and apply_scaling=False gives the stored ints."""
    scene = api_emulator.data.scenes[0]
    data_id = api_emulator.item_data_id(scene.item_id)
    assert store.catalog.item(data_id).assets["wvp"].scale == WVP_SCALE
    scaled = store.open_data(data_id, variable_names=["wvp"]).wvp
    xw, yw = scaled.x_wvp.values, scaled.y_wvp.values
    expected = wvp_value(xw[None, :], yw[:, None], scene.day)
    np.testing.assert_allclose(scaled.isel(time=0).values, expected, atol=1e-6)
    assert scaled.dtype == store.describe_data(data_id).data_vars["wvp"].dtype
    assert not {"scale", "nodata", "scale_factor", "_FillValue"} & set(scaled.attrs)
    stored = store.open_data(data_id, variable_names=["wvp"], apply_scaling=False).wvp
    assert stored.dtype == np.int16
    np.testing.assert_array_equal(stored.isel(time=0).values, np.round(expected / WVP_SCALE))
    assert stored.attrs["scale"] == WVP_SCALE and stored.attrs["nodata"] == WVP_FILL


def test_second_open_uses_cached_item(store, api_log):
    data_id = api_log.item_data_id(api_log.data.scenes[2].item_id)
    store.describe_data(data_id)
    store.open_data(data_id, variable_names=["B03"])
    assert len(_item_gets(api_log)) == 1


def test_bbox_in_lonlat_selects_native_pixels(store, api_emulator):
    scene = api_emulator.data.scenes[0]
    dataset = store.open_data(
        api_emulator.item_data_id(scene.item_id),
        variable_names=["B04", "wvp"],
        bbox=[11.9, 50.06, 11.95, 50.1],
        crs="EPSG:4326",
    )
    assert 0 < dataset.sizes["x"] < 128 and 0 < dataset.sizes["y"] < 128
    assert 0 < dataset.sizes["x_wvp"] < 64
    from pyproj import Transformer

    to_utm = Transformer.from_crs(4326, 32632, always_xy=True)
    x0, _ = to_utm.transform(11.9, 50.06)
    assert dataset.x.values.min() >= x0 - 1000
    values = dataset.B04.isel(time=0).values
    xs, ys = dataset.x.values, dataset.y.values
    np.testing.assert_allclose(values, band_value(xs[None, :], ys[:, None], 0, 2), atol=1e-6)


def test_spatial_res_reads_cog_overviews(store, api_log):
    scene = api_log.data.scenes[1]
    data_id = api_log.item_data_id(scene.item_id)
    full = store.open_data(data_id, variable_names=["B02"])
    coarse = store.open_data(data_id, variable_names=["B02"], spatial_res=400)
    assert full.sizes["x"] == 128 and coarse.sizes["x"] == 32
    assert coarse.B02.attrs["overview_level"] == 1
    assert float(coarse.x[1] - coarse.x[0]) == 400.0
    values = coarse.B02.isel(time=0).values
    assert np.isfinite(values).mean() > 0.8


def test_empty_variable_list_keeps_grid(store, api_log):
    data_id = api_log.item_data_id(api_log.data.scenes[0].item_id)
    dataset = store.open_data(data_id, variable_names=[])
    assert not dataset.data_vars
    assert dataset.sizes == {"time": 1, "x": 128, "y": 128}
    assert not _asset_requests(api_log)


def test_bbox_beside_the_item_names_bbox_and_the_item_extent(store, api_emulator):
    data_id = api_emulator.item_data_id(api_emulator.data.scenes[0].item_id)
    with pytest.raises(InvalidParameterError) as beside:
        store.open_data(
            data_id, variable_names=["B04"], bbox=[13.0, 50.06, 13.1, 50.1], crs="EPSG:4326"
        )
    assert beside.value.parameter == "bbox"
    message = str(beside.value)
    assert "does not overlap the item, whose extent in EPSG:4326 is [11." in message
    assert "pass crs=" not in message
    with pytest.raises(InvalidParameterError) as lonlat:  # crs defaults to the item's UTM
        store.open_data(data_id, variable_names=["B04"], bbox=[11.9, 50.06, 11.95, 50.1])
    message = str(lonlat.value)
    assert "in EPSG:32632 does not overlap" in message
    assert "for longitude/latitude pass crs='EPSG:4326'" in message


def test_time_range_outside_the_item_gives_empty_time(store, api_emulator):
    data_id = api_emulator.item_data_id(api_emulator.data.scenes[0].item_id)
    dataset = store.open_data(
        data_id, variable_names=["B02"], time_range=["2020-01-01", "2020-01-02"]
    )
    assert dataset.sizes["time"] == 0


def test_unknown_item_is_not_found(store):
    assert not store.has_data("collections/sentinel-2-l2a/items/nope")
    with pytest.raises(DataNotFoundError):
        store.open_data("collections/sentinel-2-l2a/items/nope")
    with pytest.raises(DataNotFoundError):
        store.describe_data("not-an-item-path")


def test_unknown_asset_is_refused_naming_the_choices(store, api_emulator):
    data_id = api_emulator.item_data_id(api_emulator.data.scenes[0].item_id)
    with pytest.raises(InvalidParameterError, match="B02") as caught:
        store.open_data(data_id, variable_names=["B99"])
    assert caught.value.parameter == "variable_names"
    with pytest.raises(InvalidParameterError):
        store.open_data(data_id, asset_names=["B02"], variable_names=["B03"])


@pytest.mark.parametrize("policy", ["fail", "warn", "ignore"])
def test_broken_asset_follows_error_policy(store, api_log, policy):
    # The last scene's B03 is read by no other test: GDAL keeps what it read in memory.
    scene = api_log.data.scenes[-1]
    data_id = api_log.item_data_id(scene.item_id)
    broken = rf".*/{scene.item_id}/B03\.tif"
    api_log.faults = FaultProfile(paths=broken, error_rate=1.0, error_statuses=(410,))
    if policy == "fail":
        with pytest.raises(DataStoreError, match=r"B03\.tif"):
            store.open_data(data_id, variable_names=["B02", "B03"], error_policy=policy)
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        dataset = store.open_data(data_id, variable_names=["B02", "B03"], error_policy=policy)
    assert list(dataset.data_vars) == ["B02"]
    messages = [str(w.message) for w in caught if issubclass(w.category, AssetReadWarning)]
    if policy == "warn":
        assert messages and "B03.tif" in messages[0]
    else:
        assert not messages


def test_search_describes_items_from_the_response(store, api_log):
    found = list(
        store.search_data(
            collections=["sentinel-2-l2a"],
            bbox=[11.9, 50.0, 12.2, 50.2],
            time_range=["2024-06-01", "2024-06-11"],
            filter="eo:cloud_cover < 30",
        )
    )
    expected = [s for s in api_log.data.scenes if s.day <= 2 and s.cloud_cover < 30]
    assert {d.data_id for d in found} == {api_log.item_data_id(s.item_id) for s in expected}
    assert not _item_gets(api_log), "no request per item"
    assert all("B04" in d.data_vars for d in found)
    limited = list(store.search_data(query={"eo:cloud_cover": {"gte": 50}}, limit=7))
    assert len(limited) == 7
    assert all(d.attrs["eo:cloud_cover"] >= 50 for d in limited)


@pytest.mark.parametrize("walk", [False, True], ids=["item-search", "catalog-walk"])
def test_an_item_in_the_last_second_of_the_range_is_found(
    walk, store, api_emulator, nosearch_emulator, fast_http
):
    """Item times have fractions: the end of time_range is not cut to whole seconds."""
    emulator = nosearch_emulator if walk else api_emulator
    if walk:
        store = new_data_store("stac", **emulator.store_params(), **fast_http)
    scene = next(s for s in emulator.data.scenes if s.day == 0 and s.zone == 33)
    assert scene.datetime == "2024-06-01T10:30:20.024Z"
    found = store.search_data(
        collections=["sentinel-2-l2a"], time_range=["2024-06-01T10:30:01", "2024-06-01T10:30:20.5"]
    )
    assert [d.attrs["stac_item_id"] for d in found] == [scene.item_id]


def test_search_refuses_bad_filter_before_any_request(store, api_log):
    with pytest.raises(InvalidParameterError, match="filter"):
        list(store.search_data(filter="eo:cloud_cover <<< 3"))
    assert not api_log.request_log


def test_static_catalog_with_relative_hrefs(static_emulator, fast_http):
    store = new_data_store("stac", **static_emulator.store_params(), **fast_http)
    ids = store.list_data_ids()
    assert len(ids) == len(static_emulator.data.scenes)
    scene = static_emulator.data.scenes[3]
    data_id = static_emulator.item_data_id(scene.item_id)
    assert data_id in ids
    dataset = store.open_data(data_id, variable_names=["B02", "aot"])
    xs, ys = dataset.x.values, dataset.y.values
    values = dataset.B02.isel(time=0).values
    expected = band_value(xs[None, :], ys[:, None], scene.day, 0)
    finite = np.isfinite(values)
    np.testing.assert_allclose(values[finite], expected[finite], atol=1e-6)
    found = list(store.search_data(filter="eo:cloud_cover < 20", bbox=[11.85, 50, 11.9, 50.2]))
    assert {d.data_id for d in found} == {
        static_emulator.item_data_id(s.item_id)
        for s in static_emulator.data.scenes
        if s.cloud_cover < 20 and s.zone == 32
    }


def test_catalog_without_item_search_is_walked(nosearch_emulator, fast_http):
    store = new_data_store("stac", **nosearch_emulator.store_params(), **fast_http)
    ids = store.list_data_ids()
    assert len(ids) == len(nosearch_emulator.data.scenes) + 30
    assert not [r for r in nosearch_emulator.request_log if r.path.endswith("/search")]
    scene = nosearch_emulator.data.scenes[0]
    data_id = nosearch_emulator.item_data_id(scene.item_id)
    assert store.describe_data(data_id).crs == "EPSG:32632"


def test_opened_dataset_and_store_pickle(store, api_emulator):
    data_id = api_emulator.item_data_id(api_emulator.data.scenes[1].item_id)
    dataset = store.open_data(data_id, variable_names=["B04", "aot"])
    again = pickle.loads(pickle.dumps(dataset))
    np.testing.assert_array_equal(again.B04.values, dataset.B04.values)
    assert pickle.loads(pickle.dumps(store)).has_data(data_id)
