"""The emulator's protocol details, read with plain HTTP and the ARCO store."""

from __future__ import annotations

import asyncio

import numpy as np
import requests
from conftest import THETAO
from eostores_cmems.arco import ArcoZarrStore
from eostores_cmems.testing import AUTH_PATH, DEFAULT_PASSWORD, DEFAULT_USERNAME, find_dataset
from eostores_cmems.testing.stac import data_href

from eostores.http import HttpConfig


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
    part = requests.get(f"{href}/depth/0", headers={"Range": "bytes=0-3"}, timeout=10)
    assert part.status_code == 206
    assert np.frombuffer(part.content, "<f4")[0] == np.float32(0.494)


def test_listing_objects_page_by_page(shared_emulator):
    href = data_href(shared_emulator.url, find_dataset(THETAO), "202406", "default", "geoChunked")
    store = ArcoZarrStore(href, http_config=HttpConfig())

    async def collect(generator):
        return [key async for key in generator]

    top = asyncio.run(collect(store.list_dir("")))
    assert {".zmetadata", ".zgroup", "thetao", "so", "time", "depth"} <= set(top)
    keys = asyncio.run(collect(store.list_prefix("thetao/")))
    assert len(keys) == 2 + 1 * 10 * 5 * 12  # .zarray, .zattrs and the chunk grid
    assert len(keys) > 1000 / 2
    every = asyncio.run(collect(store.list()))
    assert len(every) > 1000, "more than one ListObjectsV2 page"
    assert len(set(every)) == len(every)
