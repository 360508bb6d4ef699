"""The catalogue: all pages, internal next links, product types, versions, hostile names."""

from __future__ import annotations

import logging
from datetime import datetime

import numpy as np
import pytest
from conftest import BBOX, DAY, ITEMS_PATH, SM, requests_to
from eostores_smos.testing import EPOCH, INTERNAL_HOST, HalfOrbit
from eostores_smos.testing.orbits import HALF_ORBIT

from eostores.errors import ServiceError


def test_every_page_is_followed_through_the_internal_next_links(store, emulator):
    cube = store.open_data(SM, time_range=["2023-04-01", "2023-04-02"], variable_names=[])
    searches = requests_to(emulator, ITEMS_PATH)
    pages = [r.query.get("page") for r in searches]
    assert len(pages) >= 2 and pages == [None] + [str(n) for n in range(2, len(pages) + 1)]
    assert all(r.query["datetime"] == searches[0].query["datetime"] for r in searches)
    start, end = datetime(2023, 4, 1), datetime(2023, 4, 2, 23, 59, 59, 999999)
    expected = sorted(
        p.name
        for p in emulator.model.products(start, end, product_types=("MIR_SMUDP2",))
        if not p.old_version and start <= p.orbit.mid <= end
    )
    assert sorted(cube.attrs["products"]) == expected
    assert len(expected) > 50
    times = cube.time.values
    assert np.all(np.diff(times) > np.timedelta64(0)), "one time step per product, in order"


def test_next_links_name_the_internal_host(emulator):
    import requests

    url = emulator.store_params()["stac_url"] + "/items"
    page = requests.get(url, params={"limit": 5, "datetime": "2023-04-01T00:00:00Z/.."}).json()
    nexts = [link["href"] for link in page["links"] if link["rel"] == "next"]
    assert nexts and nexts[0].startswith(INTERNAL_HOST)


def test_only_the_data_ids_product_type_and_latest_versions(store, emulator):
    """Every seventh half orbit has an older version whose values are off by one."""
    day = datetime(2023, 4, 1)
    first = int((day - EPOCH) / HALF_ORBIT)
    orbit = next(
        HalfOrbit(k) for k in range(first, first + 30) if k % 7 == 3 and HalfOrbit(k).mid > day
    )
    lat, lon = orbit.track
    at = int(np.argmin(np.abs(lat - 30.0)))
    bbox = [float(lon[at]) - 1.5, 28.5, float(lon[at]) + 1.5, 31.5]
    cube = store.open_data(
        SM, time_range=[DAY, DAY], bbox=bbox, variable_names=["Soil_Moisture"], res_level=2
    )
    names = cube.attrs["products"]
    assert all("_MIR_SMUDP2_" in n and n.endswith("_700_001_1") for n in names)
    assert any(orbit.start.strftime("%Y%m%dT%H%M%S") in n for n in names)
    from test_open import check_values

    check_values(cube.compute(), SM, "Soil_Moisture", min_filled=0.01)


@pytest.mark.parametrize(
    "href",
    [
        "/eodata/../../etc/passwd",
        "/eodata/SMOS/L2SM/MIR_SMUDP2/2023/04/01/%2e%2e%2fescape",
        "s3://eodata/SMOS/../../../outside",
        "https://elsewhere.example.com/eodata/SMOS/x",
        "/eodata/SMOS\\..\\..\\x",
    ],
)
def test_hostile_archive_paths_are_refused(emulator, make_store, tmp_path, href):
    emulator.hostile_href = href
    store = make_store(emulator, cache_path=str(tmp_path / "cache"))
    with pytest.raises(ServiceError) as caught:
        store.open_data(SM, time_range=[DAY, DAY], bbox=BBOX)
    message = str(caught.value)
    assert "the service sent" in message or "the catalogue" in message
    assert not requests_to(emulator, "/eodata")
    assert not any(tmp_path.rglob("*"))


@pytest.mark.parametrize(
    "href",
    [
        "",
        "/eodata",
        "/eodata/SMOS/L2SM/MIR_SMUDP2/2023/04/01/not_a_product_name",
        "/eodata/SMOS/L2SM/MIR_SMUDP2/2023/04/01/SM_OPER_MIR_OSUDP2_20230401T131000_"
        "20230401T140300_700_001_1",
    ],
)
def test_items_naming_no_product_are_skipped_with_a_warning(
    emulator, make_store, tmp_path, caplog, href
):
    emulator.hostile_href = href
    store = make_store(emulator, cache_path=str(tmp_path / "cache"))
    with caplog.at_level(logging.WARNING, logger="eostores_smos"):
        cube = store.open_data(SM, time_range=[DAY, DAY], bbox=BBOX)
    assert cube.sizes["time"] == 0
    skipped = [r.getMessage() for r in caplog.records if "skipped the catalogue item" in r.message]
    assert skipped and all("_MIR_SMUDP2_" in text for text in skipped)
    assert not requests_to(emulator, "/eodata")
    assert not any(tmp_path.rglob("*"))


def test_one_odd_item_leaves_the_others_in_the_cube(store, emulator, caplog):
    """An item without an archive path, or with a folder not named like a product, is
    left out; the search and the other products are unaffected."""
    start, end = datetime(2023, 4, 1), datetime(2023, 4, 1, 23, 59, 59, 999999)
    expected = _latest_sm_products(emulator, start, end, tuple(BBOX))
    without_path, misnamed = expected[0], expected[1]
    emulator.href_overrides = {
        without_path: None,
        misnamed: "/eodata/SMOS/L2SM/MIR_SMUDP2/2023/04/01/SM_OPER_MIR_SMUDP2_broken",
    }
    with caplog.at_level(logging.WARNING, logger="eostores_smos"):
        cube = store.open_data(SM, time_range=[DAY, DAY], bbox=BBOX, variable_names=[])
    assert sorted(cube.attrs["products"]) == sorted(set(expected) - {without_path, misnamed})
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert without_path in warnings and misnamed in warnings


def _latest_sm_products(emulator, start, end, bbox=None):
    """The names of the latest SM products of the emulator with their mid-time in range."""
    return sorted(
        p.name
        for p in emulator.model.products(start, end, bbox, product_types=("MIR_SMUDP2",))
        if not p.old_version and start <= p.orbit.mid <= end
    )


# -- the catalogue's paging limit: (page - 1) * limit <= max_skip

#: Three days hold about 280 items of all types; 200 can be paged through with max_skip 100.
LONG = (datetime(2023, 4, 1), datetime(2023, 4, 3, 23, 59, 59, 999999))


def _client(emulator, **kwargs):
    from eostores_smos.api import StacClient

    from eostores.http import HttpConfig, new_session

    session = new_session(HttpConfig.from_params({"num_retries": 0}, store_id="smos"))
    return StacClient(emulator.store_params()["stac_url"], session, **kwargs)


def _windows(emulator):
    return {r.query["datetime"] for r in requests_to(emulator, ITEMS_PATH)}


def test_a_search_past_the_paging_limit_still_finds_every_product(store, emulator):
    """The catalogue refuses pages past its limit with 422; the store searches shorter
    windows instead, and merges them without duplicates."""
    emulator.max_skip = 100
    cube = store.open_data(
        SM, time_range=["2023-04-01", "2023-04-03"], variable_names=[], res_level=4
    )
    refused = [r for r in requests_to(emulator, ITEMS_PATH) if r.status == 422]
    assert refused, "the search met the limit"
    assert len(_windows(emulator)) > 2
    names = cube.attrs["products"]
    assert len(names) == len(set(names))
    assert sorted(names) == _latest_sm_products(emulator, *LONG)


def test_a_catalogue_leaving_out_the_next_link_at_its_limit_loses_no_product(emulator):
    from eostores_smos.catalog import find_products
    from eostores_smos.config import dataset_info

    emulator.max_skip = 100
    emulator.omit_next_past_limit = True
    unaware = list(_client(emulator).items(*LONG))
    assert len(unaware) == 200, "one search ends silently at the limit"
    found = find_products(_client(emulator, max_skip=100), dataset_info(SM), *LONG, None)
    assert [p.name for p in found] == _latest_sm_products(emulator, *LONG)
    assert all(r.status == 200 for r in requests_to(emulator, ITEMS_PATH))


def test_the_store_asks_for_no_page_past_the_limit(emulator):
    from eostores_smos.catalog import find_products
    from eostores_smos.config import dataset_info

    found = find_products(_client(emulator, max_skip=100), dataset_info(SM), *LONG, None)
    assert [p.name for p in found] == _latest_sm_products(emulator, *LONG)
    pages = [int(r.query.get("page", 1)) for r in requests_to(emulator, ITEMS_PATH)]
    assert max(pages) == 2 and len(_windows(emulator)) > 2


def test_a_search_the_catalogue_cannot_page_through_even_in_short_windows_fails(emulator):
    from eostores_smos.catalog import find_products
    from eostores_smos.config import dataset_info

    client = _client(emulator, limit=1, max_skip=0)
    with pytest.raises(ServiceError, match=r"paging limit.*choose a smaller bbox"):
        find_products(client, dataset_info(SM), *LONG, None)
    shortest = min(_windows(emulator), key=lambda text: _length(text))
    assert _length(shortest) == 3600


def _length(window: str) -> float:
    start, end = (datetime.fromisoformat(t.rstrip("Z")) for t in window.split("/"))
    return (end - start).total_seconds()


def test_the_emulator_refuses_pages_past_its_limit_as_the_catalogue_does(emulator):
    import requests

    url = emulator.store_params()["stac_url"] + "/items"
    query = {"limit": 100, "datetime": "2023-04-01T00:00:00Z/2023-04-03T23:59:59Z"}
    emulator.max_skip = 100
    last = requests.get(url, params={**query, "page": 2})
    assert last.status_code == 200 and any(link["rel"] == "next" for link in last.json()["links"])
    refused = requests.get(url, params={**query, "page": 3})
    assert refused.status_code == 422
    (detail,) = refused.json()["detail"]
    assert detail["type"] == "less_than_equal" and detail["loc"] == ["query", "page"]
    assert detail["ctx"] == {"le": 2} and detail["input"] == "3"
    emulator.omit_next_past_limit = True
    last = requests.get(url, params={**query, "page": 2}).json()
    assert len(last["features"]) == 100
    assert not any(link["rel"] == "next" for link in last["links"])


def test_answers_without_features_fail_with_the_service_text(emulator, make_store):
    from eostores.testing import Response

    original = type(emulator)._items

    def broken(self, request):
        return Response.json({"detail": "search backend unavailable"})

    type(emulator)._items = broken
    try:
        with pytest.raises(ServiceError, match="search backend unavailable"):
            make_store(emulator).open_data(SM, time_range=[DAY, DAY], bbox=BBOX)
    finally:
        type(emulator)._items = original


def test_describe_data_takes_the_time_extent_from_the_catalogue(store, emulator):
    descriptor = store.describe_data(SM)
    assert descriptor.time_range[0] == "2010-01-15"
    assert descriptor.bbox == (-180.0, -88.59375, 180.0, 88.59375)
    assert descriptor.data_vars["Soil_Moisture"].attrs["units"] == "m3 m-3"
    assert descriptor.data_vars["Soil_Moisture"].attrs["source_fill_value"] == -999.0
    assert descriptor.spatial_res == 360 / 8192
    store.describe_data("SMOS-L2C-OS")
    assert len(requests_to(emulator, "/stac/collections/SMOS")) == 1, "fetched once"
    assert not requests_to(emulator, "/eodata"), "describing reads no data"
    pyramid = store.describe_data(SM, data_type="mldataset")
    assert pyramid.data_type == "mldataset" and pyramid.num_levels == 5
