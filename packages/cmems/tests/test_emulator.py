"""The emulator's protocol details, read with plain HTTP and the ARCO store."""

from __future__ import annotations

import asyncio

import numpy as np
import requests
from conftest import THETAO
from eostores_cmems.arco import ArcoZarrStore
from eostores_cmems.testing import (
    AUTH_PATH,
    DEFAULT_PASSWORD,
    DEFAULT_USERNAME,
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
