"""The service-specific stores: stac-cdse (S3 assets), stac-destine (Cache-A), stac-xcube."""

from __future__ import annotations

import os
import threading
import warnings

import numpy as np
import pytest
from eostores_stac.testing import StacEmulator
from eostores_stac.testing.scenes import (
    BANDS,
    NODATA,
    NODATA_STRIP,
    OFFSET,
    SCALE,
    aot_value,
    band_value,
)
from eostores_stac.testing.xcubedata import XCUBE_BBOX

from eostores import new_data_store
from eostores.errors import AuthenticationError, InvalidParameterError

# -- stac-cdse --------------------------------------------------------------------------------


@pytest.fixture
def cdse_store(cdse_emulator, fast_http):
    return new_data_store("stac-cdse", **cdse_emulator.store_params(), **fast_http)


def test_cdse_defaults_point_at_the_public_service():
    from eostores_stac.store import StacCdseDataStore

    store = StacCdseDataStore()
    assert store.url == "https://stac.dataspace.copernicus.eu/v1"
    assert store.store_params["endpoint_url"] == "https://eodata.dataspace.copernicus.eu"


def test_cdse_item_reads_s3_assets_with_the_store_credentials(cdse_store, cdse_emulator):
    scene = cdse_emulator.data.scenes[1]
    item = cdse_store.catalog.item(cdse_emulator.item_data_id(scene.item_id))
    assert item.assets["B04"].href.startswith("s3://eodata/")
    dataset = cdse_store.open_data(cdse_emulator.item_data_id(scene.item_id))
    xs, ys = dataset.x.values, dataset.y.values
    values = dataset.B04.isel(time=0).values
    expected = band_value(xs[None, :], ys[:, None], scene.day, BANDS.index("B04"))
    finite = np.isfinite(values)
    np.testing.assert_allclose(values[finite], expected[finite], atol=1e-6)
    np.testing.assert_allclose(
        dataset.aot.isel(time=0).values, aot_value(xs[None, :], ys[:, None], scene.day), atol=1e-6
    )
    assert np.isfinite(dataset.wvp.values).all()


def test_cdse_lists_a_documented_number_of_items(cdse_emulator, fast_http):
    """The CDSE catalogue holds millions of items: get_data_ids stops at max_listed_items."""
    from eostores_stac.store import StacCdseDataStore, StacDataStore

    cdse_schema = StacCdseDataStore.get_data_store_params_schema().properties
    assert cdse_schema["max_listed_items"].default == 1000
    assert (
        StacDataStore.get_data_store_params_schema().properties["max_listed_items"].default is None
    )
    params = {**cdse_emulator.store_params(), **fast_http}
    store = new_data_store("stac-cdse", max_listed_items=3, page_size=2, **params)
    cdse_emulator.reset_log()
    with pytest.warns(UserWarning, match="after 3 items.*max_listed_items.*search_data"):
        ids = store.list_data_ids()
    assert ids == [cdse_emulator.item_data_id(s.item_id) for s in cdse_emulator.data.scenes[:3]]
    assert len([r for r in cdse_emulator.request_log if r.path == "/v1/search"]) == 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        everything = new_data_store("stac-cdse", max_listed_items=None, **params).list_data_ids()
    assert len(everything) == len(cdse_emulator.data.scenes)


def test_cdse_stac_1_1_band_metadata_scales_masks_and_types(cdse_store, cdse_emulator, fast_http):
    scene = next(s for s in cdse_emulator.data.scenes if s.zone == 33)
    data_id = cdse_emulator.item_data_id(scene.item_id)
    b04 = cdse_store.describe_data(data_id).data_vars["B04"]
    assert b04.dtype == "float32"
    assert (b04.attrs["scale"], b04.attrs["offset"], b04.attrs["nodata"]) == (SCALE, OFFSET, NODATA)
    dataset = cdse_store.open_data(data_id, variable_names=["B04"])
    xs, ys = dataset.x.values, dataset.y.values
    expected = band_value(xs[None, :], ys[:, None], scene.day, BANDS.index("B04"))
    expected[:NODATA_STRIP, :] = np.nan  # the nodata strip at the zone-33 north edge
    np.testing.assert_allclose(dataset.B04.isel(time=0).values, expected, atol=1e-6)
    raw = cdse_store.open_data(data_id, variable_names=["B04"], apply_scaling=False)
    assert raw.B04.dtype == np.uint16
    stack = new_data_store(
        "stac-cdse", stack_mode=True, **cdse_emulator.store_params(), **fast_http
    )
    variables = stack.describe_data("sentinel-2-l2a").data_vars
    assert variables["B04"].attrs["scale"] == SCALE and variables["aot"].dtype == "float32"


def test_cdse_stack_mode_reads_s3(cdse_emulator, fast_http):
    store = new_data_store(
        "stac-cdse", stack_mode=True, **cdse_emulator.store_params(), **fast_http
    )
    cube = store.open_data(
        "sentinel-2-l2a",
        variable_names=["B02", "wvp"],
        bbox=[11.95, 50.07, 12.05, 50.12],
        crs="EPSG:4326",
        spatial_res=0.001,
        time_range=["2024-06-06", "2024-06-06"],
    )
    values = cube.B02.values
    assert cube.sizes["time"] == 1 and np.isfinite(values).mean() > 0.9
    assert np.nanmin(values) > 0.9  # 10000 * 1e-4 - 0.1 at least
    assert np.isfinite(cube.wvp.values).mean() > 0.9


def test_cdse_credentials_from_environment(cdse_emulator, moto_server, monkeypatch, fast_http):
    params = {k: v for k, v in cdse_emulator.store_params().items() if k not in ("key", "secret")}
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", moto_server.key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", moto_server.secret)
    store = new_data_store("stac-cdse", **params, **fast_http)
    data_id = cdse_emulator.item_data_id(cdse_emulator.data.scenes[0].item_id)
    assert np.isfinite(store.open_data(data_id, variable_names=["B03"]).B03.values).any()
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(AuthenticationError, match="AWS_ACCESS_KEY_ID"):
        new_data_store("stac-cdse", **params, **fast_http).open_data(data_id)


# -- stac-destine -----------------------------------------------------------------------------


@pytest.fixture
def destine_params(cachea_emulator, tmp_path, fast_http):
    return {**cachea_emulator.store_params(), "cache_dir": str(tmp_path), **fast_http}


def test_destine_defaults_and_token_from_netrc(cachea_emulator, tmp_path, monkeypatch, fast_http):
    from eostores_stac.store import StacDestineDataStore

    assert StacDestineDataStore().url == "https://cachea.destine.eu/stac/api"
    token = cachea_emulator.issue_token()
    netrc = tmp_path / "netrc"
    netrc.write_text(f"machine 127.0.0.1 login anonymous password {token}\n")
    os.chmod(netrc, 0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.delenv("DESTINE_TOKEN", raising=False)
    store = new_data_store(
        "stac-destine", url=cachea_emulator.catalog_url, cache_dir=str(tmp_path), **fast_http
    )
    assert store.has_data(cachea_emulator.item_data_id(cachea_emulator.data.scenes[0].item_id))


def test_destine_without_token_names_the_places_looked(cachea_emulator, tmp_path, monkeypatch):
    monkeypatch.setenv("NETRC", str(tmp_path / "none"))
    monkeypatch.delenv("DESTINE_TOKEN", raising=False)
    store = new_data_store("stac-destine", url=cachea_emulator.catalog_url)
    with pytest.raises(AuthenticationError, match="DESTINE_TOKEN"):
        store.list_data_ids()


def test_destine_search_by_cloud_cover_filter(destine_params, cachea_emulator):
    store = new_data_store("stac-destine", **destine_params)
    found = list(store.search_data(filter="eo:cloud_cover<20", bbox=[11.8, 50.0, 12.2, 50.2]))
    expected = {s.item_id for s in cachea_emulator.data.scenes if s.cloud_cover < 20}
    assert {d.attrs["stac_item_id"] for d in found} == expected
    with pytest.raises(InvalidParameterError, match="query"):
        list(store.search_data(query={"eo:cloud_cover": {"lt": 20}}))


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"query": {"eo:cloud_cover": {"lt": 20}}}, "query"),
        ({"sortby": "-properties.datetime"}, "sortby"),
        ({"intersects": {"type": "Point", "coordinates": [12.0, 50.1]}}, "intersects"),
        ({"filter": "platform = 'sentinel-2x'"}, "filter"),
        ({"filter": "eo:cloud_cover <> 20"}, "filter"),
        ({"filter": "eo:cloud_cover < 20 or eo:cloud_cover > 50"}, "filter"),
        ({"filter": {"op": "<", "args": [{"property": "gsd"}, 20]}}, "filter"),
    ],
)
def test_destine_refuses_what_cache_a_does_not_search_by_before_any_request(
    destine_params, cachea_emulator, params, parameter
):
    store = new_data_store("stac-destine", **destine_params)
    cachea_emulator.reset_log()
    with pytest.raises(InvalidParameterError, match="eo:cloud_cover") as caught:
        list(store.search_data(**params))
    assert caught.value.parameter == parameter
    stack = new_data_store("stac-destine", stack_mode=True, **destine_params)
    with pytest.raises(InvalidParameterError, match="eo:cloud_cover") as caught:
        stack.open_data(
            "SENTINEL-2",
            bbox=[11.9, 50.0, 12.1, 50.2],
            time_range=["2024-06-01", "2024-06-30"],
            **params,
        )
    assert caught.value.parameter == parameter
    assert not cachea_emulator.request_log
    assert "query" not in stack.get_open_data_params_schema().properties
    assert not {"query", "sortby"} & set(store.get_search_params_schema().properties)


def test_destine_results_are_filtered_if_the_service_ignores_the_filter(tmp_path, fast_http):
    """Cache-A documents its filter by one example: a service that ignores it silently
    still gives only the matching items, in item search and in stack mode."""
    with StacEmulator(mode="cachea", search_filter=False) as emulator:
        params = {**emulator.store_params(), "cache_dir": str(tmp_path), **fast_http}
        store = new_data_store("stac-destine", **params)
        found = store.search_data(filter="eo:cloud_cover >= 1 and eo:cloud_cover < 20", limit=2)
        expected = [s.item_id for s in emulator.data.scenes if 1 <= s.cloud_cover < 20]
        assert len(expected) > 2
        assert [d.attrs["stac_item_id"] for d in found] == expected[:2]
        stack = new_data_store("stac-destine", stack_mode=True, **params)
        cube = stack.open_data(
            "SENTINEL-2",
            variable_names=["B04"],
            bbox=[11.95, 50.07, 12.05, 50.12],
            spatial_res=0.002,
            time_range=["2024-06-01", "2024-06-30"],
            filter="eo:cloud_cover < 20",
        )
        wanted = [s.item_id for s in emulator.data.scenes if s.cloud_cover < 20]
        assert sorted(cube.attrs["stac_item_ids"]) == sorted(wanted)


def test_destine_finds_items_by_search_without_features_endpoints(destine_params, cachea_emulator):
    """Cache-A documents item search only (GET): items are looked up by their ids."""
    scene = cachea_emulator.data.scenes[2]
    data_id = cachea_emulator.item_data_id(scene.item_id)
    store = new_data_store("stac-destine", **destine_params)
    cachea_emulator.reset_log()
    descriptor = store.describe_data(data_id)
    assert descriptor.attrs["stac_item_id"] == scene.item_id
    searches = [r for r in cachea_emulator.request_log if r.path == "/stac/api/search"]
    assert [r.method for r in searches] == ["GET"]
    assert searches[0].query["ids"] == scene.item_id
    assert not [r for r in cachea_emulator.request_log if "/items" in r.path]
    assert not store.has_data(f"collections/SENTINEL-2/items/{scene.item_id}X")
    assert not store.has_data(f"collections/OTHER/items/{scene.item_id}")


def test_destine_downloads_never_exceed_two_at_once(destine_params, cachea_emulator):
    store = new_data_store("stac-destine", **destine_params)
    cachea_emulator.reset_log()
    cachea_emulator.peak_downloads = 0
    data_ids = [cachea_emulator.item_data_id(s.item_id) for s in cachea_emulator.data.scenes[:3]]
    datasets = []

    def open_one(data_id):
        datasets.append(store.open_data(data_id))

    threads = [threading.Thread(target=open_one, args=(d,)) for d in data_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    downloads = [r for r in cachea_emulator.request_log if r.path == "/stac/download"]
    assert len(downloads) == 3 * 5
    assert not [r for r in downloads if r.status == 429]
    assert cachea_emulator.peak_downloads == 2
    assert len(datasets) == 3 and all(np.isfinite(d.B02.values).any() for d in datasets)


def test_destine_quota_is_enforced_by_the_service(destine_params, cachea_emulator):
    store = new_data_store("stac-destine", max_parallel_downloads=4, **destine_params)
    cachea_emulator.reset_log()
    scene = cachea_emulator.data.scenes[4]
    dataset = store.open_data(cachea_emulator.item_data_id(scene.item_id))
    statuses = [r.status for r in cachea_emulator.request_log if r.path == "/stac/download"]
    assert 429 in statuses, "more than 2 parallel downloads are refused"
    assert statuses.count(200) == 5
    xs, ys = dataset.x.values, dataset.y.values
    values = dataset.B03.isel(time=0).values
    expected = band_value(xs[None, :], ys[:, None], scene.day, 1)
    finite = np.isfinite(values)
    np.testing.assert_allclose(values[finite], expected[finite], atol=1e-6)


def test_destine_stack_mode(destine_params, cachea_emulator):
    store = new_data_store("stac-destine", stack_mode=True, **destine_params)
    cube = store.open_data(
        "SENTINEL-2",
        variable_names=["B04"],
        bbox=[11.95, 50.07, 12.05, 50.12],
        crs="EPSG:4326",
        spatial_res=0.002,
        time_range=["2024-06-11", "2024-06-11"],
        filter="eo:cloud_cover < 60",
    )
    assert cube.sizes["time"] == 1 and np.isfinite(cube.B04.values).mean() > 0.9


# -- stac-xcube -------------------------------------------------------------------------------


@pytest.fixture
def xcube_store(xcube_emulator, fast_http):
    return new_data_store("stac-xcube", **xcube_emulator.store_params(), **fast_http)


DEMO = "collections/datacubes/items/demo"


def test_xcube_item_opens_through_the_s3_store(xcube_store):
    assert xcube_store.get_data_types_for_data(DEMO) == ("dataset", "mldataset")
    assert xcube_store.get_data_opener_ids(DEMO) == ("dataset:zarr:s3", "mldataset:levels:s3")
    descriptor = xcube_store.describe_data(DEMO)
    assert set(descriptor.data_vars) == {"sst", "chl"}
    cube = xcube_store.open_data(
        DEMO,
        variable_names=["sst"],
        bbox=[0.5, 50.5, 1.0, 51.0],
        time_range=["2024-01-02", "2024-01-03"],
    )
    lat, lon = cube.lat.values, cube.lon.values
    expected = (
        10 + lat[None, :, None] / 10 + lon[None, None, :] / 100 + np.array([1, 2])[:, None, None]
    )
    np.testing.assert_allclose(cube.sst.values, expected, atol=1e-4)


def test_xcube_multires_opens_levels(xcube_store):
    levels = xcube_store.open_data(DEMO, data_type="mldataset")
    assert levels.num_levels == 2
    coarse = levels.get_dataset(1)
    assert coarse.sizes["lon"] == 15


def test_xcube_refuses_unknown_variables_before_any_request(xcube_store, xcube_emulator):
    xcube_store.describe_data(DEMO)
    xcube_emulator.reset_log()
    with pytest.raises(InvalidParameterError, match="sst"):
        xcube_store.open_data(DEMO, variable_names=["nope"])
    assert not xcube_emulator.request_log


@pytest.mark.parametrize(
    "bbox", [[0.5, 50.5, 1.5, 95.0], [500000, 5500000, 600000, 5600000], [1.5, 50.5, 0.5, 51.5]]
)
def test_xcube_refuses_a_bad_bbox_before_reading_data(xcube_emulator, fast_http, bbox):
    store = new_data_store("stac-xcube", **xcube_emulator.store_params(), **fast_http)
    xcube_emulator.reset_log()
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(DEMO, bbox=bbox)
    assert caught.value.parameter == "bbox"
    assert not [r for r in xcube_emulator.request_log if r.path.startswith("/s3")]
    assert len(xcube_emulator.request_log) <= 2, "at most the landing page and the item"
    xcube_emulator.reset_log()
    with pytest.raises(InvalidParameterError):
        store.open_data(DEMO, bbox=bbox)
    assert not xcube_emulator.request_log, "the item is known now: no request at all"


def test_xcube_credentials_go_only_to_trusted_endpoints(xcube_emulator):
    from eostores_stac.catalog import StacCatalog
    from eostores_stac.config import StoreSettings
    from eostores_stac.xcube import storage_options_for

    params = {**xcube_emulator.store_params(), "key": "AKIA8D1F", "secret": "s3cr3t-8d1f"}
    catalog = StacCatalog(StoreSettings.from_params("stac-xcube", params))
    own = {"client_kwargs": {"endpoint_url": f"{xcube_emulator.url}/s3"}}
    assert storage_options_for(catalog, own)["key"] == "AKIA8D1F"
    elsewhere = {"client_kwargs": {"endpoint_url": "https://collector.example.com"}}
    options = storage_options_for(catalog, elsewhere)
    assert options == {"anon": True, "client_kwargs": elsewhere["client_kwargs"]}
    assert storage_options_for(catalog, {**own, "anon": True})["anon"] is True
    assert "key" not in storage_options_for(catalog, {**own, "anon": True})


def test_xcube_store_works_without_item_search(xcube_store, xcube_emulator, fast_http):
    """The server's /search answers {}: items are listed through each collection's items,
    and the datacubes extent keyed by dataset id is read in stack mode."""
    xcube_emulator.reset_log()
    assert sorted(xcube_store.get_data_ids()) == [
        "collections/datacubes/items/demo",
        "collections/demo/items/datacube",
    ]
    assert xcube_store.describe_data("collections/demo/items/datacube").bbox == XCUBE_BBOX
    stack = new_data_store("stac-xcube", stack_mode=True, **xcube_emulator.store_params())
    assert stack.has_data("datacubes")
    described = stack.describe_data("datacubes")
    assert described.bbox == XCUBE_BBOX
    assert described.time_range == ("2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z")
    found = stack.search_data(bbox=[1.0, 51.0, 2.0, 51.5], time_range=["2024-01-02", None])
    assert sorted(d.data_id for d in found) == ["datacubes", "demo"]
    assert not list(stack.search_data(bbox=[10.0, 51.0, 11.0, 51.5]))
    assert not [r for r in xcube_emulator.request_log if r.path.endswith("/search")]
