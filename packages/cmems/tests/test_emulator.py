"""The emulator's protocol details, read with plain HTTP and the ARCO store."""

from __future__ import annotations

import asyncio

import numpy as np
import requests
from conftest import SST, THETAO, ZOS
from eostores_cmems.arco import ArcoZarrStore
from eostores_cmems.testing import (
    AUTH_PATH,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
    expected_value,
    find_dataset,
)
from eostores_cmems.testing.stac import data_href

from eostores.http import HttpConfig


def _item(emulator, data_id, version, part="default"):
    dataset = find_dataset(data_id)
    item_id = dataset.item_id(version, part)
    url = f"{emulator.url}/mdl-metadata/metadata/{dataset.product_id}/{item_id}/dataset.stac.json"
    return requests.get(url, timeout=10).json()


def test_token_endpoint_speaks_openid_connect(shared_emulator):
    url = shared_emulator.url + AUTH_PATH
    form = {"client_id": "toolbox", "grant_type": "password", "username": DEFAULT_USERNAME}
    wrong = requests.post(f"{url}/token", data={**form, "password": "x"}, timeout=10)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    grant = requests.post(f"{url}/token", data={**form, "grant_type": "code"}, timeout=10)
    assert grant.json()["error"] == "unsupported_grant_type"
    ok = requests.post(f"{url}/token", data={**form, "password": DEFAULT_PASSWORD}, timeout=10)
    token = ok.json()["access_token"]
    assert ok.json()["expires_in"] == 3600
    info = requests.get(f"{url}/userinfo", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert info.json()["preferred_username"] == DEFAULT_USERNAME
    assert requests.get(f"{url}/userinfo", timeout=10).status_code == 401


def test_s3_objects_ranges_and_errors(shared_emulator):
    href = data_href(shared_emulator.url, find_dataset(THETAO), "202406", "default", "geoChunked")
    missing = requests.get(f"{href}/thetao/99.0.0.0", timeout=10)
    assert missing.status_code == 404 and "<Code>NoSuchKey</Code>" in missing.text
    part = requests.get(f"{href}/elevation/0", headers={"Range": "bytes=0-3"}, timeout=10)
    assert part.status_code == 206
    assert np.frombuffer(part.content, "<f4")[0] == np.float32(-541.1)


def test_the_vertical_axis_is_elevation_as_on_arco(shared_emulator):
    # ARCO serves the vertical axis as "elevation": metres, positive up, ascending.
    href = data_href(shared_emulator.url, find_dataset(THETAO), "202406", "default", "geoChunked")
    metadata = requests.get(f"{href}/.zmetadata", timeout=10).json()["metadata"]
    assert metadata["thetao/.zattrs"]["_ARRAY_DIMENSIONS"][1] == "elevation"
    assert metadata["elevation/.zattrs"]["positive"] == "up"
    values = np.frombuffer(requests.get(f"{href}/elevation/0", timeout=10).content, "<f4")
    assert np.all(values < 0) and np.all(np.diff(values) > 0)
    np.testing.assert_allclose(-values[::-1], find_dataset(THETAO).depths, rtol=1e-6)
    item = _item(shared_emulator, THETAO, "202406")
    dimensions = item["properties"]["cube:dimensions"]
    assert "depth" not in dimensions and dimensions["elevation"]["axis"] == "z"
    view = item["assets"]["timeChunked"]["viewDims"]["elevation"]["coords"]["values"]
    assert view == sorted(view) and max(view) < 0


def test_items_carry_the_catalogues_admp_properties(shared_emulator):
    properties = _item(shared_emulator, THETAO, "202406")["properties"]
    assert properties["admp_valid_start_date"] == "2023-01-15T00:00:00Z"
    assert _item(shared_emulator, ZOS, "202506")["properties"]["admp_in_preparation"] is True
    retired = _item(shared_emulator, ZOS, "202112", "interim")["properties"]
    assert retired["admp_retired_date"] == "2024-06-30T00:00:00Z"


def test_a_compressed_store(shared_emulator):
    import numcodecs

    dataset = find_dataset(SST)
    href = data_href(shared_emulator.url, dataset, "202311", "default", "timeChunked")
    zarray = requests.get(f"{href}/analysed_sst/.zarray", timeout=10).json()
    assert zarray["compressor"]["id"] == "blosc"
    stored = requests.get(f"{href}/analysed_sst/3.0.0", timeout=10).content
    codec = numcodecs.get_codec(zarray["compressor"])
    values = np.frombuffer(codec.decode(stored), "<f4").reshape(zarray["chunks"])
    assert len(stored) < values.nbytes
    lat, lon = dataset.axis("latitude"), dataset.axis("longitude")
    want = expected_value(
        dataset.variable("analysed_sst"), dataset.times[3], lat[:, None], lon[None, :]
    )
    np.testing.assert_array_equal(values[0], want)


def test_listing_objects_page_by_page(shared_emulator):
    href = data_href(shared_emulator.url, find_dataset(THETAO), "202406", "default", "geoChunked")
    store = ArcoZarrStore(href, http_config=HttpConfig())

    async def collect(generator):
        return [key async for key in generator]

    top = asyncio.run(collect(store.list_dir("")))
    assert {".zmetadata", ".zgroup", "thetao", "so", "time", "elevation"} <= set(top)
    keys = asyncio.run(collect(store.list_prefix("thetao/")))
    assert len(keys) == 2 + 1 * 10 * 5 * 12  # .zarray, .zattrs and the chunk grid
    assert len(keys) > 1000 / 2
    every = asyncio.run(collect(store.list()))
    assert len(every) > 1000, "more than one ListObjectsV2 page"
    assert len(set(every)) == len(every)
