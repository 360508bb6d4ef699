"""Hostile and concurrent input: data ids, grid sizes, credentials, faults, deadlines."""

from __future__ import annotations

import logging
import time

import numpy as np
import pytest
from eostores_stac.testing import StacEmulator
from eostores_stac.testing.scenes import BANDS, band_value

from eostores import new_data_store
from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreTimeoutError,
    InvalidParameterError,
)
from eostores.testing import FaultProfile

BOUNDARY_BOX = [11.9, 50.06, 12.12, 50.14]
_ITEM_PATH = "/collections/sentinel-2-l2a/items/"


def _paths(emulator) -> list[str]:
    return [r.path for r in emulator.request_log]


# -- data ids become URL segments only quoted, or are refused ------------------------------

HOSTILE_ITEM_IDS = [
    "../../../admin/secret",
    "collections/../items/x",
    "collections/sentinel-2-l2a/items/a?b=c",
    "collections/sentinel-2-l2a/items/..%2f..%2fadmin",
    "collections/sentinel-2-l2a/items/%2e%2e",
    "collections/sentinel-2-l2a/items/a#frag",
    "collections/sentinel-2-l2a/items/..",
    "collections/sentinel-2-l2a/items/x/../../../../admin",
    "/collections/sentinel-2-l2a/items/x",
    "http://evil.example/collections/a/items/b",
]


@pytest.mark.parametrize("data_id", HOSTILE_ITEM_IDS)
def test_hostile_item_ids_never_leave_the_item_endpoint(api_log, fast_http, data_id):
    store = new_data_store("stac", **api_log.store_params(), **fast_http)
    with pytest.raises(DataNotFoundError):
        store.describe_data(data_id)
    assert not store.has_data(data_id)
    for record in api_log.request_log:
        assert record.path in ("/", "") or record.path.startswith(_ITEM_PATH), record.path
        if record.path.startswith(_ITEM_PATH):
            assert not record.query, "nothing of the id may become a query"
            assert record.path.count("/") == 4, "the item id stays one path segment"


@pytest.mark.parametrize(
    "collection_id", ["../../../admin/secret", "..", "a/../../b", "%2e%2e", "x?y=1", "a#b"]
)
def test_hostile_collection_ids_stay_one_segment(api_log, fast_http, collection_id):
    store = new_data_store("stac", stack_mode=True, **api_log.store_params(), **fast_http)
    with pytest.raises(DataNotFoundError):
        store.describe_data(collection_id)
    for record in api_log.request_log:
        assert record.path in ("/", "") or record.path.startswith("/collections/"), record.path
        assert record.path.count("/") <= 2 and not record.query


@pytest.mark.parametrize(
    "data_id",
    ["../catalog.json", "/etc/passwd", "sentinel-2-l2a/%2e%2e/x.json", "a\\b.json", "~/x.json"],
)
def test_hostile_static_ids_stay_below_the_catalog(static_emulator, fast_http, data_id):
    static_emulator.reset_log()
    store = new_data_store("stac", **static_emulator.store_params(), **fast_http)
    with pytest.raises(DataNotFoundError):
        store.describe_data(data_id)
    assert all(r.path.startswith("/static/") for r in static_emulator.request_log)


def test_hostile_ids_carry_no_token_outside_the_api(cachea_emulator, tmp_path, fast_http):
    params = {**cachea_emulator.store_params(), "cache_dir": str(tmp_path), **fast_http}
    store = new_data_store("stac-destine", stack_mode=True, **params)
    cachea_emulator.reset_log()
    with pytest.raises(DataNotFoundError):
        store.describe_data("../../../admin/secret")
    assert all(r.path.startswith("/stac/api") for r in cachea_emulator.request_log)


@pytest.mark.parametrize("bad", [123, None, 4.5, ["a"], b"x", ""])
def test_data_ids_that_are_not_strings_are_invalid(api_log, bad):
    store = new_data_store("stac", **api_log.store_params())
    calls = [
        lambda: store.describe_data(bad),
        lambda: store.open_data(bad),
        lambda: store.has_data(bad),
    ]
    if bad is not None:  # None asks for the schema and openers of any data
        calls += [
            lambda: store.get_open_data_params_schema(bad),
            lambda: store.get_data_opener_ids(bad),
        ]
    for call in calls:
        with pytest.raises(InvalidParameterError) as caught:
            call()
        assert caught.value.parameter == "data_id"
    assert not api_log.request_log


# -- grids are bounded before any request ---------------------------------------------------


@pytest.mark.parametrize("resolution", [1e-12, 1e-7])
def test_huge_grids_are_refused_before_any_request(api_log, resolution):
    store = new_data_store("stac", stack_mode=True, **api_log.store_params())
    started = time.monotonic()
    with pytest.raises(InvalidParameterError) as caught:
        store.open_data(
            "sentinel-2-l2a",
            variable_names=["B02"],
            bbox=BOUNDARY_BOX,
            crs="EPSG:4326",
            spatial_res=resolution,
            time_range=["2024-06-01", "2024-06-02"],
        )
    assert time.monotonic() - started < 10
    assert caught.value.parameter == "spatial_res"
    message = str(caught.value)
    assert "bbox" in message and "spatial_res" in message and "max_request_bytes" in message
    assert "bytes" in message
    assert not api_log.request_log


def test_the_grid_bound_is_a_store_parameter(api_log, fast_http):
    common = dict(
        variable_names=["B02", "B03"],
        bbox=BOUNDARY_BOX,
        crs="EPSG:4326",
        spatial_res=0.001,
        time_range=["2024-06-01", "2024-06-11"],
    )
    small = new_data_store(
        "stac", stack_mode=True, max_request_bytes=50_000, **api_log.store_params(), **fast_http
    )
    with pytest.raises(InvalidParameterError, match="max_request_bytes"):
        small.open_data("sentinel-2-l2a", **common)
    unbounded = new_data_store(
        "stac", stack_mode=True, max_request_bytes=None, **api_log.store_params(), **fast_http
    )
    cube = unbounded.open_data("sentinel-2-l2a", **common)
    assert cube.sizes["time"] == 3
    # Time steps count: the same grid over one day fits where three days do not.
    steps = 3 * 2 * cube.sizes["lat"] * cube.sizes["lon"] * 4
    one_day = new_data_store(
        "stac",
        stack_mode=True,
        max_request_bytes=steps // 2,
        **api_log.store_params(),
        **fast_http,
    )
    assert one_day.open_data("sentinel-2-l2a", **{**common, "time_range": ["2024-06-01"] * 2})
    with pytest.raises(InvalidParameterError, match="spatial_res"):
        one_day.open_data("sentinel-2-l2a", **common)


# -- service faults --------------------------------------------------------------------------


@pytest.fixture
def fresh_emulator(api_emulator):
    """A new server (new URLs: nothing cached anywhere) on the same sample files."""
    with StacEmulator(mode="api", data_dir=str(api_emulator.data.root), many_items=0) as emulator:
        yield emulator


def _check_b04(dataset, scene):
    xs, ys = dataset.x.values, dataset.y.values
    values = dataset.B04.isel(time=0).values
    expected = band_value(xs[None, :], ys[:, None], scene.day, BANDS.index("B04"))
    finite = np.isfinite(values)
    assert finite.mean() > 0.9
    np.testing.assert_allclose(values[finite], expected[finite], atol=1e-6)


@pytest.mark.parametrize("fault", ["error", "truncate"])
def test_item_mode_survives_500s_and_truncated_bodies(fresh_emulator, fast_http, fault):
    store = new_data_store("stac", **fresh_emulator.store_params(), **fast_http)
    kwargs = (
        dict(error_rate=0.2, error_statuses=(500,))
        if fault == "error"
        else dict(truncate_rate=0.2, paths=r"/data/.*")
    )
    fresh_emulator.faults = FaultProfile(seed=5, **kwargs)
    scene = fresh_emulator.data.scenes[2]
    dataset = store.open_data(
        fresh_emulator.item_data_id(scene.item_id), variable_names=["B04", "aot", "wvp"]
    ).compute()
    assert [r for r in fresh_emulator.request_log if r.fault == fault]
    _check_b04(dataset, scene)
    assert np.isfinite(dataset.aot.values).all() and np.isfinite(dataset.wvp.values).all()


@pytest.mark.parametrize("fault", ["error", "truncate"])
def test_stack_mode_survives_500s_and_truncated_bodies(fresh_emulator, fast_http, fault):
    store = new_data_store("stac", stack_mode=True, **fresh_emulator.store_params(), **fast_http)
    kwargs = (
        dict(error_rate=0.2, error_statuses=(500,))
        if fault == "error"
        else dict(truncate_rate=0.2, paths=r"/data/.*")
    )
    params = dict(
        variable_names=["B02", "aot", "wvp"],
        bbox=BOUNDARY_BOX,
        crs="EPSG:4326",
        spatial_res=0.001,
        time_range=["2024-06-01", "2024-06-06"],
    )
    reference = store.open_data("sentinel-2-l2a", **params).compute()
    with StacEmulator(mode="api", data_dir=str(fresh_emulator.data.root), many_items=0) as faulty:
        store = new_data_store("stac", stack_mode=True, **faulty.store_params(), **fast_http)
        faulty.faults = FaultProfile(seed=9, **kwargs)
        cube = store.open_data("sentinel-2-l2a", **params).compute()
        assert [r for r in faulty.request_log if r.fault == fault]
    for name in ("B02", "aot", "wvp"):
        np.testing.assert_allclose(cube[name].values, reference[name].values, equal_nan=True)
        assert np.isfinite(cube[name].values).mean() > 0.5


def test_one_deadline_bounds_the_whole_call(fresh_emulator):
    store = new_data_store(
        "stac", **fresh_emulator.store_params(), deadline=2.0, retry_backoff_base=0.01
    )
    fresh_emulator.faults = FaultProfile(latency_ms=600)
    data_id = fresh_emulator.item_data_id(fresh_emulator.data.scenes[0].item_id)
    started = time.monotonic()
    with pytest.raises(DataStoreTimeoutError):
        store.open_data(data_id)
    elapsed = time.monotonic() - started
    assert elapsed < 10, elapsed
    assert all(r.duration_s < 2.0 for r in fresh_emulator.request_log), "each request fits"


# -- credentials go to the catalog's origin only --------------------------------------------

_KEY = "k3y-8d1f-0f9a-7c2e"


@pytest.fixture
def asset_server(api_emulator):
    with StacEmulator(mode="api", data_dir=str(api_emulator.data.root), many_items=0) as server:
        yield server


@pytest.fixture
def split_catalog(api_emulator, asset_server):
    """A catalog whose assets live on another server (another origin)."""
    with StacEmulator(
        mode="api",
        data_dir=str(api_emulator.data.root),
        many_items=0,
        asset_url=asset_server.url,
    ) as catalog:
        yield catalog


def test_headers_go_to_the_catalog_and_named_asset_origins_only(
    split_catalog, asset_server, fast_http
):
    scene = split_catalog.data.scenes[0]
    data_id = split_catalog.item_data_id(scene.item_id)
    headers = {"X-Api-Key": _KEY}
    store = new_data_store("stac", **split_catalog.store_params(), headers=headers, **fast_http)
    dataset = store.open_data(data_id, variable_names=["B04", "aot"]).compute()
    _check_b04(dataset, scene)
    assert all("x-api-key" in r.headers for r in split_catalog.request_log)
    assert asset_server.request_log
    assert not [r for r in asset_server.request_log if "x-api-key" in r.headers]
    asset_server.reset_log()
    trusting = new_data_store(
        "stac",
        **split_catalog.store_params(),
        headers=headers,
        asset_origins=[asset_server.url + "/anything"],
        **fast_http,
    )
    trusting.open_data(data_id, variable_names=["B03"]).compute()
    assert asset_server.request_log
    assert all("x-api-key" in r.headers for r in asset_server.request_log)


def test_bearer_token_is_not_sent_to_another_origin(cachea_emulator, tmp_path, fast_http):
    with StacEmulator(
        mode="cachea", data_dir=str(cachea_emulator.data.root), asset_url=cachea_emulator.url
    ) as catalog:
        # The catalog's token is valid at the catalog only; the download server is the
        # cachea_emulator (another origin), which must not see it.
        params = {**catalog.store_params(), "cache_dir": str(tmp_path), **fast_http}
        store = new_data_store("stac-destine", **params, num_retries=1)
        cachea_emulator.reset_log()
        data_id = catalog.item_data_id(catalog.data.scenes[0].item_id)
        with pytest.raises(AuthenticationError):
            store.open_data(data_id, variable_names=["B02"])
        downloads = [r for r in cachea_emulator.request_log if r.path == "/stac/download"]
        assert downloads and not [r for r in downloads if "authorization" in r.headers]
        assert all("authorization" in r.headers for r in catalog.request_log)
    assert not list(tmp_path.rglob("*.tif"))


def test_secrets_stay_out_of_every_log(split_catalog, asset_server, fast_http, caplog):
    store = new_data_store(
        "stac",
        **split_catalog.store_params(),
        headers={"Authorization": f"Bearer {_KEY}"},
        asset_origins=[asset_server.url],
        **fast_http,
    )
    scene = split_catalog.data.scenes[1]
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("rasterio").setLevel(logging.DEBUG)
        dataset = store.open_data(split_catalog.item_data_id(scene.item_id), variable_names=["B04"])
        dataset.compute()
        cube_store = new_data_store(
            "stac",
            stack_mode=True,
            **split_catalog.store_params(),
            headers={"Authorization": f"Bearer {_KEY}"},
            asset_origins=[asset_server.url],
            **fast_http,
        )
        cube_store.open_data(
            "sentinel-2-l2a",
            variable_names=["B04"],
            bbox=BOUNDARY_BOX,
            crs="EPSG:4326",
            spatial_res=0.002,
            time_range=["2024-06-01", "2024-06-01"],
        ).compute()
    assert caplog.records, "debug logging was captured"
    texts = [record.getMessage() for record in caplog.records]
    assert not [t for t in texts if _KEY in t]
    assert all("authorization" in r.headers for r in asset_server.request_log)
