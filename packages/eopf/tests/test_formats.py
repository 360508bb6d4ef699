"""Product formats: Zarr 2 and 3, known from the item or probed, missing keys 404 or 403."""

from __future__ import annotations

import numpy as np
import pytest
import requests
from conftest import OLCI, S2, TWO_ZONES_BBOX, lonlat_grid, product_requests
from eostores_eopf.api import open_product
from eostores_eopf.arrayview import ArrayViewFileSystem
from eostores_eopf.catalog import ItemLeftOutWarning
from eostores_eopf.testing import EopfEmulator
from eostores_eopf.testing.scenes import olci_radiance, s2_reflectance

METADATA = (".zmetadata", "zarr.json")
#: Day 1 (June 4th): the zone-32 product is Zarr format 2, the zone-33 one format 3.
S2_OPEN = dict(
    bbox=TWO_ZONES_BBOX, spatial_res=0.0001, time_range=["2025-06-04", "2025-06-04"],
    variables=["b04"], interp_methods="nearest",
)  # fmt: skip


def _metadata_requests(emulator, since=0):
    return [
        (r.path.rsplit("/", 1)[1], r.status)
        for r in product_requests(emulator, since)
        if r.path.endswith(METADATA)
    ]


def _check_s2(cube):
    lon, lat = lonlat_grid(cube)
    values = cube.b04.isel(time=0).values
    filled = np.isfinite(values)
    assert filled.mean() > 0.95
    assert np.abs(values - s2_reflectance(lon, lat, 1, "b04", "05.11"))[filled].max() < 5e-4


def test_items_name_their_products_metadata(shared_emulator):
    for acquisition in shared_emulator.acquisitions[:6]:
        item = requests.get(
            f"{shared_emulator.url}/collections/{acquisition.collection}/items/"
            f"{acquisition.item_id}",
            timeout=10,
        ).json()
        href = item["assets"]["product_metadata"]["href"]
        key = METADATA[acquisition.zarr_format - 2]
        assert href == f"{item['assets']['product']['href']}/{key}"
        assert requests.get(href, timeout=10).status_code == 200


def test_each_product_is_read_in_its_format_without_probing(emulator, make_store):
    store = make_store(emulator)
    cube = store.open_data(S2, **S2_OPEN)
    _check_s2(cube)
    formats = {a.product_name: a.zarr_format for a in emulator.acquisitions}
    asked = [
        (r.path.split("/")[3], r.path.rsplit("/", 1)[1], r.status)
        for r in product_requests(emulator)
        if r.path.endswith(METADATA)
    ]
    assert sorted(formats[name] for name, _, _ in asked) == [2, 3]
    for name, key, status in asked:
        assert key == METADATA[formats[name] - 2] and status == 200


def test_missing_keys_may_be_answered_403(shared_emulator, make_store):
    root = str(shared_emulator.files.root)
    with EopfEmulator(missing_key_status=403, data_dir=root) as emulator:
        answer = requests.get(f"{emulator.url}/products/{S2}/nope.zarr/zarr.json", timeout=10)
        assert answer.status_code == 403 and b"AccessDenied" in answer.content
        store = make_store(emulator)
        _check_s2(store.open_data(S2, **S2_OPEN))
        olci = store.open_data(
            OLCI, bbox=[12.25, 45.25, 12.35, 45.35], spatial_res=0.004,
            time_range=["2025-06-01", "2025-06-05"], variables="oa01_radiance",
        )  # fmt: skip
        assert olci.sizes["time"] == 2  # format 2 (day 0, NR dropped for NT: format 3) and 3
        lon, lat = lonlat_grid(olci)
        for step in (0, 1):
            expected = olci_radiance(lon, lat, step, "oa01_radiance")
            assert np.abs(olci.oa01_radiance.isel(time=step).values - expected).max() < 0.2


@pytest.mark.parametrize("status", [404, 403])
def test_products_are_probed_format_2_first(shared_emulator, make_store, status):
    root = str(shared_emulator.files.root)
    with EopfEmulator(missing_key_status=status, data_dir=root) as emulator:
        settings = make_store(emulator).settings
        for zarr_format in (2, 3):
            acquisition = next(
                a for a in emulator.acquisitions if a.kind == "s2" and a.zarr_format == zarr_format
            )
            href = emulator.product_url(acquisition)
            before = len(emulator.request_log)
            found, metadata = ArrayViewFileSystem(settings).product_metadata(href)
            assert found == zarr_format and "measurements/reflectance/r20m/b05" in str(metadata)
            expected = [(".zmetadata", 200)] if zarr_format == 2 else [
                (".zmetadata", status), ("zarr.json", 200)
            ]  # fmt: skip
            assert _metadata_requests(emulator, before) == expected
            # a wrong hint costs one request, no failure
            wrong = 3 if zarr_format == 2 else 2
            assert ArrayViewFileSystem(settings).product_metadata(href, wrong)[0] == zarr_format
            before = len(emulator.request_log)
            tree = open_product(settings, href, item_id=acquisition.item_id)
            # zarr asks for the format-2 keys at once and gives up at the first 403, so the
            # others may still be under way: their order is not checked
            assert sorted(set(_metadata_requests(emulator, before))) == sorted(expected)
            assert _metadata_requests(emulator, before).count(expected[-1]) == 1
            lon, lat = acquisition.tile.lonlat(20)
            expected_b05 = s2_reflectance(lon, lat, acquisition.day, "b05", acquisition.version)
            b05 = tree["measurements/reflectance/r20m/b05"].values
            assert np.abs(b05 - expected_b05).max() < 1.5e-4


def test_a_missing_product_behind_403_is_left_out(shared_emulator, make_store):
    gone = next(
        a.item_id for a in shared_emulator.acquisitions
        if a.collection == OLCI and a.day == 1
    )  # fmt: skip
    root = str(shared_emulator.files.root)
    with EopfEmulator(missing_key_status=403, missing_products=[gone], data_dir=root) as emulator:
        store = make_store(emulator)
        with pytest.warns(ItemLeftOutWarning, match=gone) as caught:
            cube = store.open_data(
                OLCI, bbox=[12.25, 45.25, 12.35, 45.35], spatial_res=0.004,
                time_range=["2025-06-01", "2025-06-05"], variables="oa01_radiance",
            )  # fmt: skip
        assert cube.sizes["time"] == 1
        assert any("403" in str(w.message) for w in caught)
