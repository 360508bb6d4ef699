"""Names and hrefs from the service are confined before use."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

import pytest
from conftest import SST
from eostores_cmems.testing import HOSTILE_DATASET_ID, CmemsEmulator

from eostores import ServiceError


@pytest.fixture
def hostile():
    with CmemsEmulator(hostile=True) as emu:
        yield emu


def test_escaping_links_are_skipped(hostile, make_store, caplog):
    caplog.set_level(logging.WARNING, logger="eostores.cmems")
    store = make_store(hostile)
    ids = store.list_data_ids()
    assert SST in ids and HOSTILE_DATASET_ID in ids
    skipped = caplog.text
    for href in (
        "../../_emulator/info",
        "http://elsewhere.invalid/",
        "../../../_emulator/faults",
        "/etc/passwd",
    ):
        assert href in skipped
    paths = [r.path for r in hostile.request_log]
    assert all(p.startswith(("/mdl-metadata/metadata/", "/mdl-metadata/clients")) for p in paths)
    assert not any(".." in p or "passwd" in p for p in paths)


def test_cache_files_stay_in_their_folder(hostile, make_store):
    store = make_store(hostile)
    store.list_data_ids()
    store.describe_data(HOSTILE_DATASET_ID)
    root = Path(store.catalogue.root).resolve()
    for folder, _, files in os.walk(root.parent.parent):
        for name in files:
            path = (Path(folder) / name).resolve()
            assert root in path.parents, f"{path} is outside the catalogue cache"
            assert ".." not in name


def test_escaping_data_href_is_refused(hostile, make_store):
    store = make_store(hostile)
    store.list_data_ids()
    with pytest.raises(ServiceError, match="not an http"):
        store.open_data(HOSTILE_DATASET_ID, bbox=[0, 0, 1, 1], time_range=["2020-01-01"] * 2)
    assert not hostile.data_requests(), "nothing is read from an escaping href"


def test_hostile_zarr_keys_are_refused(emulator):
    from eostores_cmems.arco import ArcoZarrStore
    from eostores_cmems.testing import find_dataset
    from eostores_cmems.testing.stac import data_href

    from eostores.http import HttpConfig

    href = data_href(emulator.url, find_dataset(SST), "202311", "default", "timeChunked")
    store = ArcoZarrStore(href, http_config=HttpConfig())
    with pytest.raises(ServiceError, match="not allowed"):
        asyncio.run(store.get("../../../_emulator/info"))
    with pytest.raises(ServiceError, match="not allowed"):
        asyncio.run(store.get("thetao/%2e%2e/x"))
    group = asyncio.run(store.get(".zgroup"))
    assert json.loads(group.to_bytes()) == {"zarr_format": 2}
