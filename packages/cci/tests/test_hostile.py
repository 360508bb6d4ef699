"""Names and hrefs from the service are hostile until checked: nothing leaves its folder."""

from __future__ import annotations

import json

import pytest
from conftest import FAST_RETRIES
from eostores_cci.testing import HOSTILE_DRS_ID, ZARR_DATA_IDS, CciEmulator

from eostores import new_data_store
from eostores.errors import ServiceError


@pytest.fixture(scope="module")
def hostile_emulator():
    with CciEmulator(hostile=True) as server:
        yield server


def test_hostile_ids_stay_inside_the_cache_and_hrefs_are_refused(hostile_emulator, tmp_path):
    cache = tmp_path / "deep" / "cache"
    store = new_data_store(
        "cciodp", **hostile_emulator.store_params(), **FAST_RETRIES, cache_dir=str(cache)
    )
    assert HOSTILE_DRS_ID in store.list_data_ids()
    with pytest.raises(ServiceError, match="file:///etc/passwd"):
        store.describe_data(HOSTILE_DRS_ID)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written and all(cache in p.parents for p in written)
    evil = [p for p in written if "EVIL" in p.name]
    assert evil and all(p.parent.parent == cache for p in evil), "named safely, in place"


def test_references_into_local_files_are_refused(emulator, tmp_path):
    name = next(iter(emulator.reference_urls()))
    document = emulator.references(name)
    secret = tmp_path / "secret.bin"
    secret.write_bytes(b"\x00" * 4096)
    key = next(k for k in document["refs"] if k.startswith("analysed_sst/0."))
    document["refs"][key] = [f"file://{secret}", 0, 64]
    emulator.extra_references["hostile-kr1.0"] = document
    try:
        store = new_data_store("esa-cci-kc", refs=[f"{emulator.url}/kerchunk/hostile-kr1.0.json"])
        with pytest.raises(ServiceError, match="remote servers only"):
            store.open_data("hostile-kr1.0")
    finally:
        emulator.extra_references.clear()


def test_hostile_ids_in_the_bucket_index_are_ignored(zarr_bucket):
    fs = zarr_bucket.admin_filesystem()
    index = f"{zarr_bucket.bucket}/data_ids.json"
    original = fs.cat_file(index)
    ids = [*ZARR_DATA_IDS, "../../etc/passwd", "/abs.zarr", 42]
    fs.pipe(index, json.dumps(ids).encode())
    try:
        store = new_data_store("ccizarr", **zarr_bucket.store_params())
        assert store.list_data_ids() == list(ZARR_DATA_IDS)
        assert not store.has_data("../../etc/passwd")
    finally:
        fs.pipe(index, original)
