"""Stack mode: cubes mosaicked from items in two UTM zones, with values checked per pixel."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from eostores_stac.assets import AssetReadWarning
from eostores_stac.testing import StacEmulator
from eostores_stac.testing.scenes import (
    BANDS,
    NODATA_STRIP,
    WVP_SCALE,
    aot_value,
    band_value,
    wvp_value,
)
from pyproj import Transformer

from eostores import new_data_store
from eostores.errors import DataStoreError, InvalidParameterError
from eostores.testing import FaultProfile

BOUNDARY_BOX = [11.9, 50.06, 12.12, 50.14]  # lon/lat box across 12°E


@pytest.fixture
def store(api_emulator, fast_http):
    return new_data_store("stac", stack_mode=True, **api_emulator.store_params(), **fast_http)


def expected_mosaic(scenes, day, band, xs, ys, crs, value=band_value):
    """First valid pixel of the day's scenes (in time order) at output pixel centres."""
    xx, yy = np.meshgrid(xs, ys)
    result = np.full(xx.shape, np.nan)
    source = np.zeros(xx.shape, dtype=int)
    for scene in sorted((s for s in scenes if s.day == day), key=lambda s: s.datetime):
        tile = scene.tile
        east, north = Transformer.from_crs(crs, tile.epsg, always_xy=True).transform(xx, yy)
        col = np.floor((east - tile.x0) / tile.res)
        row = np.floor((tile.y1 - north) / tile.res)
        inside = (col >= 0) & (col < tile.size) & (row >= 0) & (row < tile.size)
        if tile.epsg == 32632:
            inside &= col < tile.size - NODATA_STRIP
        else:
            inside &= row >= NODATA_STRIP
        values = value(east, north, day, band) if band is not None else value(east, north, day)
        fill = inside & np.isnan(result)
        result[fill] = values[fill]
        source[fill] = tile.epsg
    return result, source


def test_cube_mosaics_two_utm_zones_with_known_values(store, api_log):
    cube = store.open_data(
        "sentinel-2-l2a",
        variable_names=["B02", "B04"],
        bbox=BOUNDARY_BOX,
        crs="EPSG:4326",
        spatial_res=0.0005,
        time_range=["2024-06-01", "2024-06-11"],
        tile_size=128,
    )
    assert not [r for r in api_log.request_log if r.path.startswith("/data/")], "lazy"
    assert cube.sizes["time"] == 3
    assert list(cube.B04.dims) == ["time", "lat", "lon"]
    lats, lons = cube.lat.values, cube.lon.values
    assert (np.diff(lats) > 0).all() and (np.diff(lons) > 0).all()
    assert "crs" in cube.coords and cube.B04.attrs["grid_mapping"] == "crs"
    scenes = api_log.data.scenes
    for day in range(3):
        for name in ("B02", "B04"):
            band = BANDS.index(name)
            expected, source = expected_mosaic(scenes, day, band, lons, lats, "EPSG:4326")
            actual = cube[name].isel(time=day).values
            both = np.isfinite(expected) & np.isfinite(actual)
            assert np.isfinite(actual).sum() == pytest.approx(np.isfinite(expected).sum(), rel=0.01)
            agree = np.isclose(actual[both], expected[both], atol=1e-5)
            assert agree.mean() > 0.97, f"{name} day {day}: {agree.mean():.3f} of pixels agree"
            for zone in (32632, 32633):
                zone_pixels = both & (source == zone)
                assert zone_pixels.sum() > 100
                assert (
                    np.isclose(actual[zone_pixels], expected[zone_pixels], atol=1e-5).mean() > 0.97
                )
    # Where the first (zone-32) scene has its nodata strip, the zone-33 scene shows through.
    expected, source = expected_mosaic(scenes, 0, 2, lons, lats, "EPSG:4326")
    tile32 = scenes[0].tile
    east, north = Transformer.from_crs(4326, 32632, always_xy=True).transform(
        *np.meshgrid(lons, lats)
    )
    col = np.floor((east - tile32.x0) / tile32.res)
    row = np.floor((tile32.y1 - north) / tile32.res)
    strip = (col >= tile32.size - NODATA_STRIP) & (col < tile32.size) & (row >= 0)
    strip &= row < tile32.size
    fallback = strip & (source == 32633)
    assert fallback.sum() > 20
    actual = cube.B04.isel(time=0).values
    assert np.isclose(actual[fallback], expected[fallback], atol=1e-5).mean() > 0.95
    ids = json.loads(cube.attrs["stac_items"])
    assert len(ids) == 3 and all(len(v) == 2 for v in ids.values())
    assert cube.attrs["stac_url"] == api_log.catalog_url
    assert len(cube.attrs["stac_item_ids"]) == 6


def test_cube_on_the_native_utm_grid_pastes_exact_values(store, api_emulator):
    scene32 = api_emulator.data.scenes[0]
    _, _, x1, y1 = scene32.tile.bounds
    bbox = [x1 - 3000, y1 - 6000, x1 + 2000, y1 - 1000]
    cube = store.open_data(
        "sentinel-2-l2a",
        variable_names=["B03", "aot"],
        bbox=bbox,
        crs="EPSG:32632",
        spatial_res=100,
        time_range=["2024-06-01", "2024-06-01"],
    )
    xs, ys = cube.x.values, cube.y.values
    assert xs[0] == bbox[0] + 50 and ys[0] == bbox[1] + 50
    b03 = cube.B03.isel(time=0).values
    expected, source = expected_mosaic(api_emulator.data.scenes, 0, 1, xs, ys, "EPSG:32632")
    own = source == 32632
    np.testing.assert_allclose(b03[own], expected[own], atol=1e-6)  # pasted, not warped
    assert (source == 32633).sum() > 0
    aot, aot_source = expected_mosaic(
        api_emulator.data.scenes, 0, None, xs, ys, "EPSG:32632", value=aot_value
    )
    values = cube.aot.isel(time=0).values
    inside = aot_source == 32632
    np.testing.assert_allclose(values[inside], aot[inside], atol=1e-6)


def test_cf_encoded_asset_is_scaled_once_in_the_cube(store, api_emulator):
    """wvp is CF-encoded in its file and the items repeat the encoding as raster fields."""
    common = dict(
        variable_names=["wvp"],
        bbox=[704000, 5550000, 710000, 5556000],  # zone 32 only, on the wvp grid
        crs="EPSG:32632",
        spatial_res=200,
        time_range=["2024-06-06", "2024-06-06"],
    )
    cube = store.open_data("sentinel-2-l2a", **common)
    xs, ys = cube.x.values, cube.y.values
    expected = wvp_value(xs[None, :], ys[:, None], 1)
    np.testing.assert_allclose(cube.wvp.isel(time=0).values, expected, atol=1e-6)
    stored = store.open_data("sentinel-2-l2a", apply_scaling=False, **common).wvp
    assert stored.dtype == np.int16
    np.testing.assert_array_equal(stored.isel(time=0).values, np.round(expected / WVP_SCALE))


def test_groupby_and_time_period(store):
    common = dict(
        variable_names=["B02"],
        bbox=BOUNDARY_BOX,
        crs="EPSG:4326",
        spatial_res=0.002,
        time_range=["2024-06-01", "2024-06-20"],
    )
    assert store.open_data("sentinel-2-l2a", **common).sizes["time"] == 4
    assert store.open_data("sentinel-2-l2a", groupby="time", **common).sizes["time"] == 8
    assert store.open_data("sentinel-2-l2a", groupby="id", **common).sizes["time"] == 8
    assert store.open_data("sentinel-2-l2a", groupby="tile_id", **common).sizes["time"] == 2
    composite = store.open_data("sentinel-2-l2a", time_period="10D", **common)
    assert composite.time.values.astype("datetime64[D]").astype(str).tolist() == [
        "2024-06-01",
        "2024-06-11",
    ]
    first = store.open_data("sentinel-2-l2a", **common)
    np.testing.assert_array_equal(composite.B02.isel(time=0).values, first.B02.isel(time=0).values)


def test_median_mosaic(store, api_emulator):
    params = dict(
        variable_names=["B04"],
        bbox=BOUNDARY_BOX,
        crs="EPSG:4326",
        spatial_res=0.001,
        time_range=["2024-06-06", "2024-06-06"],
        resampling="nearest",
    )
    median = store.open_data("sentinel-2-l2a", mosaic="median", **params).B04.isel(time=0).values
    by_item = store.open_data("sentinel-2-l2a", groupby="id", **params).B04.values
    both = np.isfinite(by_item).all(axis=0)
    assert both.sum() > 50
    np.testing.assert_allclose(median[both], by_item.mean(axis=0)[both], atol=1e-5)
    only_one = np.isfinite(by_item).sum(axis=0) == 1
    np.testing.assert_allclose(median[only_one], np.nanmax(by_item, axis=0)[only_one], atol=1e-6)


def test_dask_graph_grows_with_output_chunks(store):
    def tasks(tile, names):
        cube = store.open_data(
            "sentinel-2-l2a",
            variable_names=names,
            bbox=BOUNDARY_BOX,
            crs="EPSG:4326",
            spatial_res=0.0005,
            time_range=["2024-06-01", "2024-06-20"],
            tile_size=tile,
        )
        chunks = cube[names[0]].data.npartitions
        return len(cube[names[0]].data.__dask_graph__()), chunks

    small, n_small = tasks(64, ["B02"])
    large, n_large = tasks(256, ["B02"])
    items = 8
    # One read-and-mosaic task per output chunk (plus one to order y ascending), one open
    # task per item: nothing grows with items x chunks.
    assert small <= 2 * n_small + items + 4
    assert large <= 2 * n_large + items + 4
    assert n_small > 4 * items


def test_apply_scaling_false_gives_stored_integers(store):
    cube = store.open_data(
        "sentinel-2-l2a",
        variable_names=["B02"],
        bbox=[704000, 5550000, 714000, 5555000],
        crs="EPSG:32632",
        spatial_res=100,
        time_range=["2024-06-01", "2024-06-01"],
        apply_scaling=False,
    )
    values = cube.B02.isel(time=0).values
    assert values.dtype == np.uint16
    xs, ys = cube.x.values, cube.y.values
    from eostores_stac.testing.scenes import raw_band_value

    expected = raw_band_value(xs[None, :], ys[:, None], 0, 0)
    valid = values != 0
    np.testing.assert_array_equal(values[valid], expected[valid])


def test_no_items_give_an_empty_time_axis_with_a_warning(store):
    with pytest.warns(UserWarning, match="no item of collection 'sentinel-2-l2a' matches") as w:
        cube = store.open_data(
            "sentinel-2-l2a",
            variable_names=["B02"],
            bbox=BOUNDARY_BOX,
            crs="EPSG:4326",
            spatial_res=0.002,
            time_range=["2020-01-01", "2020-01-31"],
        )
    assert cube.sizes["time"] == 0 and cube.sizes["lat"] > 0
    assert "the collection covers bbox [" in str(w[0].message)


def test_no_items_without_spatial_res_name_time_range_and_the_extent(store):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            "sentinel-2-l2a",
            variable_names=["B02"],
            bbox=BOUNDARY_BOX,
            time_range=["2020-01-01", "2020-01-31"],
        )
    assert caught.value.parameter == "time_range"
    message = str(caught.value)
    assert "time_range 2020-01-01T00:00:00/2020-01-31T23:59:59.999999" in message
    assert "spatial_res is needed" not in message and "the collection covers" in message


def test_bbox_outside_the_collection_is_invalid_even_with_spatial_res(store):
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            "sentinel-2-l2a",
            variable_names=["B02"],
            bbox=[100.0, -10.0, 100.1, -9.9],
            crs="EPSG:4326",
            spatial_res=0.002,
            time_range=["2024-01-01", "2024-01-31"],
        )
    assert caught.value.parameter == "bbox"
    assert "the collection covers bbox [11." in str(caught.value)


def test_query_and_filter_select_items(store):
    common = dict(
        variable_names=["B02"],
        bbox=BOUNDARY_BOX,
        crs="EPSG:4326",
        spatial_res=0.002,
        time_range=["2024-06-01", "2024-06-20"],
    )
    clear = store.open_data("sentinel-2-l2a", filter="eo:cloud_cover < 20", **common)
    by_query = store.open_data("sentinel-2-l2a", query={"eo:cloud_cover": {"lt": 20}}, **common)
    assert clear.attrs["stac_item_ids"] == by_query.attrs["stac_item_ids"]
    assert 0 < len(clear.attrs["stac_item_ids"]) < 8


@pytest.mark.parametrize(
    ("params", "parameter"),
    [
        ({"time_range": None}, "time_range"),
        ({"bbox": None}, "bbox"),
        ({"crs": "EPSG:999999"}, "crs"),
        ({"variable_names": ["B99"]}, "variable_names"),
        ({"filter": "eo:cloud_cover <<< 3"}, "filter"),
        ({"resampling": {"B77": "bilinear"}}, "resampling"),
        ({"resampling": "fancy"}, "resampling"),
        ({"mosaic": "last"}, "mosaic"),
        ({"groupby": ""}, "groupby"),
        ({"tile_size": 0}, "tile_size"),
        ({"time_period": "3X"}, "time_period"),
        ({"error_policy": "retry"}, "error_policy"),
        ({"bbox": [12.1, 50, 11.9, 50.2]}, "bbox"),
        ({"bbox": [11.9, 50, 12.1, 95]}, "bbox"),
        ({"spatial_res": -1}, "spatial_res"),
    ],
)
def test_bad_parameters_are_refused_before_searching(store, api_log, params, parameter):
    store.describe_data("sentinel-2-l2a")
    api_log.reset_log()
    base = {
        "variable_names": ["B02"],
        "bbox": BOUNDARY_BOX,
        "crs": "EPSG:4326",
        "spatial_res": 0.002,
        "time_range": ["2024-06-01", "2024-06-02"],
    }
    merged = {k: v for k, v in {**base, **params}.items() if v is not None}
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data("sentinel-2-l2a", **merged)
    assert caught.value.parameter == parameter or parameter in str(caught.value)
    assert not api_log.request_log


@pytest.fixture
def fresh_emulator(api_emulator):
    """A new server (new URLs, so nothing is in GDAL's cache) on the same sample files."""
    with StacEmulator(mode="api", data_dir=str(api_emulator.data.root), many_items=0) as emulator:
        yield emulator


@pytest.mark.parametrize("policy", ["fail", "warn", "ignore"])
def test_broken_asset_follows_error_policy(fresh_emulator, fast_http, policy):
    store = new_data_store("stac", stack_mode=True, **fresh_emulator.store_params(), **fast_http)
    broken = fresh_emulator.data.scenes[1]  # the zone-33 scene of the first day
    fresh_emulator.faults = FaultProfile(
        paths=rf".*/{broken.item_id}/B02\.tif", error_rate=1.0, error_statuses=(410,)
    )
    cube = store.open_data(
        "sentinel-2-l2a",
        variable_names=["B02"],
        bbox=BOUNDARY_BOX,
        crs="EPSG:4326",
        spatial_res=0.001,
        time_range=["2024-06-01", "2024-06-01"],
        error_policy=policy,
    )
    if policy == "fail":
        with pytest.raises(DataStoreError, match=rf"{broken.item_id}/B02\.tif"):
            cube.compute(scheduler="synchronous")
        return
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        values = cube.B02.isel(time=0).values
    messages = [str(w.message) for w in caught if issubclass(w.category, AssetReadWarning)]
    assert bool(messages) == (policy == "warn")
    if messages:
        assert f"{broken.item_id}/B02.tif" in messages[0]
    lats, lons = cube.lat.values, cube.lon.values
    expected, _ = expected_mosaic(
        [s for s in fresh_emulator.data.scenes if s is not broken], 0, 0, lons, lats, "EPSG:4326"
    )
    assert np.isfinite(values).sum() == pytest.approx(np.isfinite(expected).sum(), rel=0.02)


def test_coarse_output_reads_cog_overviews(tmp_path_factory, fast_http):
    directory = tmp_path_factory.mktemp("overviews")
    with StacEmulator(
        mode="api", data_dir=str(directory), num_dates=2, size=512, block_size=64, many_items=0
    ) as emulator:
        store = new_data_store("stac", stack_mode=True, **emulator.store_params(), **fast_http)
        scene = emulator.data.scenes[0]
        x0, y0, _, y1 = scene.tile.bounds

        def transferred(day: str, res: float) -> int:
            emulator.reset_log()
            cube = store.open_data(
                "sentinel-2-l2a",
                variable_names=["B02"],
                bbox=[x0, y0, x0 + 40000, y1],
                crs="EPSG:32632",
                spatial_res=res,
                time_range=[day, day],
            )
            assert np.isfinite(cube.B02.values).any()
            return sum(r.bytes_sent for r in emulator.request_log if r.path.endswith(".tif"))

        full = transferred("2024-06-01", 100)
        coarse = transferred("2024-06-06", 800)
    assert coarse < full / 3, (coarse, full)


def test_items_without_projection_metadata_get_it_from_asset_headers(api_emulator, fast_http):
    params = dict(
        variable_names=["B03", "aot", "wvp"],
        bbox=BOUNDARY_BOX,
        crs="EPSG:4326",
        spatial_res=0.001,
        time_range=["2024-06-11", "2024-06-11"],
    )
    with_proj = new_data_store("stac", stack_mode=True, **api_emulator.store_params(), **fast_http)
    reference = with_proj.open_data("sentinel-2-l2a", **params).compute()
    with StacEmulator(
        mode="api", data_dir=str(api_emulator.data.root), many_items=0, with_projection=False
    ) as emulator:
        store = new_data_store("stac", stack_mode=True, **emulator.store_params(), **fast_http)
        item = store.catalog.item(emulator.item_data_id(emulator.data.scenes[0].item_id))
        assert "proj:code" not in item.properties
        assert all(asset.grid is None for asset in item.assets.values())
        emulator.reset_log()
        cube = store.open_data("sentinel-2-l2a", **params)
        assets = {
            tuple(r.path.split("/")[3:5])
            for r in emulator.request_log
            if r.path.startswith("/data/")
        }
        assert len(assets) == 2 * 3, "the header of each item's asset is read at open"
        cube = cube.compute()
    for name in ("B03", "aot", "wvp"):
        np.testing.assert_allclose(cube[name].values, reference[name].values, equal_nan=True)
