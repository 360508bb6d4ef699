"""The emulator speaks the STAC API to pystac-client and serves Zarr products to xarray."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pystac_client
import pytest
import requests
import xarray as xr
from conftest import OLCI, S1, S2
from eostores_eopf.testing.scenes import S2_TILES, s2_reflectance


def test_pystac_client_searches_with_paging_and_query(shared_emulator):
    client = pystac_client.Client.open(shared_emulator.url)
    assert {c.id for c in client.get_collections()} >= {S2, OLCI}
    for method in ("GET", "POST"):
        search = client.search(
            collections=[S2], bbox=[11.9, 44.9, 12.1, 45.1], datetime="2025-06-01/2025-06-05",
            query={"eo:cloud_cover": {"lt": 20}}, limit=3, method=method,
        )  # fmt: skip
        ids = [item["id"] for item in search.items_as_dicts()]
        assert len(ids) == 6  # 2 tiles x 2 days + the older and the deprecated version
    item = client.get_collection(S2).get_item(ids[0])
    assert item.properties["processing:version"]
    assert item.assets["B02_10m"].extra_fields["proj:shape"] == [360, 360]


def test_bad_search_and_missing_things_are_service_errors(shared_emulator):
    url = shared_emulator.url
    answer = requests.get(f"{url}/search", params={"bbox": "1,2,3"}, timeout=10)
    assert answer.status_code == 400 and answer.json()["code"] == "BadRequest"
    answer = requests.get(f"{url}/collections/nope", timeout=10)
    assert answer.status_code == 404
    answer = requests.get(f"{url}/products/{S2}/nope.zarr/zarr.json", timeout=10)
    assert answer.status_code == 404 and b"NoSuchKey" in answer.content


def test_products_are_eopf_datatrees_with_known_values(shared_emulator):
    client = pystac_client.Client.open(shared_emulator.url)
    item = next(client.search(collections=[S2], ids=None, max_items=1).items())
    acquisition = shared_emulator.acquisition(item.id)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tree = xr.open_datatree(item.assets["product"].href, engine="zarr", chunks={})
    for resolution in (10, 20, 60):
        assert f"measurements/reflectance/r{resolution}m" in tree.groups or (
            f"/measurements/reflectance/r{resolution}m" in tree.groups
        )
    band = tree["measurements/reflectance/r20m/b05"]
    lon, lat = acquisition.tile.lonlat(20)
    expected = s2_reflectance(lon, lat, acquisition.day, "b05", acquisition.version)
    assert np.abs(band.values - expected).max() < 1.5e-4
    assert tree["conditions/mask/l2a_classification/r20m/scl"].shape == (180, 180)
    assert tree.attrs["other_metadata"]["horizontal_CRS_code"] == f"EPSG:{acquisition.tile.epsg}"


def test_products_serve_byte_ranges(shared_emulator):
    acquisition = shared_emulator.acquisitions[0]
    url = f"{shared_emulator.product_url(acquisition)}/.zmetadata"
    whole = requests.get(url, timeout=10)
    part = requests.get(url, headers={"Range": "bytes=10-19"}, timeout=10)
    assert part.status_code == 206 and part.content == whole.content[10:20]
    assert json.loads(whole.content)["zarr_consolidated_format"] == 1


def test_tiles_overlap_across_the_zone_boundary():
    west = S2_TILES[0].footprint()
    east = S2_TILES[1].footprint()
    assert max(p[0] for p in west) > 12.0 > min(p[0] for p in east)


@pytest.mark.parametrize("kind", ["zarr.json", ".zmetadata"])
def test_both_zarr_formats_are_served(shared_emulator, kind):
    formats = {a.zarr_format for a in shared_emulator.acquisitions}
    assert formats == {2, 3}
    acquisition = next(
        a for a in shared_emulator.acquisitions
        if a.zarr_format == (3 if kind == "zarr.json" else 2)
    )  # fmt: skip
    answer = requests.get(f"{shared_emulator.product_url(acquisition)}/{kind}", timeout=10)
    assert answer.status_code == 200


_POINT = {"type": "Point", "coordinates": [12.0, 45.0]}
_REVERSED = "2025-06-05T00:00:00Z/2025-06-01T00:00:00Z"


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ({"datetime": _REVERSED}, {"datetime": _REVERSED}),
        ({"datetime": "../.."}, {"datetime": "../.."}),
        ({"datetime": "2025-13-01T00:00:00Z"}, {"datetime": "2025-13-01T00:00:00Z"}),
        ({"datetime": 20250601}, None),
        (
            {"bbox": [11.0, 44.0, 13.0, 46.0], "intersects": _POINT},
            {"bbox": "11,44,13,46", "intersects": json.dumps(_POINT)},
        ),
        ({"bbox": 5}, None),
        ({"intersects": [12.0, 45.0]}, {"intersects": "[12.0, 45.0]"}),
        ({"collections": [5]}, None),
        ({"query": {"eo:cloud_cover": {"in": 5}}}, {"query": '{"eo:cloud_cover": {"in": 5}}'}),
        ({"query": {"eo:cloud_cover": {"lt": True}}}, None),
        ({"query": {"platform": {"startsWith": 5}}}, None),
        ({"collections": [S2], "query": {"eo:cloud_cover": {"lt": "ten"}}}, None),
    ],
    ids=lambda v: str(v)[:60],
)
def test_bad_searches_are_400_never_500(shared_emulator, body, query):
    answers = [requests.post(f"{shared_emulator.url}/search", json=body, timeout=10)]
    if query is not None:
        answers.append(requests.get(f"{shared_emulator.url}/search", params=query, timeout=10))
    for answer in answers:
        assert answer.status_code == 400, answer.text
        assert answer.json()["code"] == "BadRequest"


def test_items_with_only_a_datetime_are_searched_by_it(shared_emulator):
    client = pystac_client.Client.open(shared_emulator.url)
    item = next(client.search(collections=[S1]).items_as_dicts())
    assert "start_datetime" not in item["properties"]  # as the service's S1 items
    when = item["properties"]["datetime"]
    for interval, found in (
        (f"{when}/..", 1), (f"../{when}", 1), ("2025-06-02T00:00:00Z/..", 0), (when, 1),
    ):  # fmt: skip
        ids = [i["id"] for i in client.search(collections=[S1], datetime=interval).items_as_dicts()]
        assert len(ids) == found
