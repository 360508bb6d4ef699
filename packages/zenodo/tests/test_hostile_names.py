"""File keys are the service's text: nothing built from them leaves the record's cache folder."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

import pytest
from eostores_zenodo.preload import local_name
from eostores_zenodo.testing.samples import sample_files

from eostores.errors import DataStoreError
from eostores.paths import confine

RECORD_ID = "7500001"


def _snapshot(folder: Path, skip: Path) -> dict[str, tuple[int, str]]:
    """Every file and link below ``folder`` outside ``skip``, with size and md5."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        here = Path(dirpath)
        if here == skip or skip in here.parents:
            dirnames.clear()
            continue
        for name in filenames + [d for d in dirnames if (here / d).is_symlink()]:
            path = here / name
            if path.is_symlink():
                found[str(path)] = (-1, os.readlink(path))
            else:
                found[str(path)] = (path.stat().st_size, hashlib.md5(path.read_bytes()).hexdigest())
    return found


@pytest.fixture
def sandbox(tmp_path):
    """A cache deep inside a folder of victims that hostile keys aim at."""
    cache_root = tmp_path / "a" / "b" / "c" / "cache"
    for level in (tmp_path, tmp_path / "a", tmp_path / "a" / "b", tmp_path / "a" / "b" / "c"):
        victim = level / "victim_dir"
        victim.mkdir(parents=True)
        (victim / "precious.txt").write_text("do not touch\n")
        (level / "x.geojson").write_text("original\n")
    cache_root.mkdir(parents=True)
    return tmp_path, cache_root


def _hostile_keys(tag: str) -> list[str]:
    return [
        "../../../victim_dir.zip",
        "../../victim_dir.zip",
        "../../../x.geojson",
        "../../x.geojson",
        f"/tmp/eostores-zenodo-{tag}.nc",
        f"/tmp/eostores-zenodo-{tag}.zip",
        f"~/eostores-zenodo-{tag}.nc",
        "..%2F..%2F..%2Fx.geojson",
        "%2e%2e/%2e%2e/victim_dir.zip",
        "..\\..\\..\\victim_dir.zip",
        "sub\\..\\..\\x.geojson",
        "C:\\Windows\\x.nc",
        "a/../../../../x.geojson",
        "./../x.geojson",
        ".downloads/collection.zip",
        ".hidden.nc",
        "link_out.nc",
        "linked_dir/inner.nc",
        "x" * 300 + ".nc",
        "é" * 150 + ".geojson",
        "CON.nc",
        "spaces and ? # %.geojson",
    ]


def _content_for(key: str) -> Path:
    v2 = sample_files()["v2"].files
    if key.endswith(".zip"):
        return v2["collection.zip"]
    if key.endswith(".geojson"):
        return v2["stations.geojson"]
    return v2["temperature.nc"]


@pytest.mark.parametrize("key", _hostile_keys("x"))
def test_local_names_stay_below_any_root(tmp_path, key):
    name = local_name(key)
    path = confine(tmp_path, name)
    assert tmp_path in path.parents
    assert not any(part.startswith(".") for part in Path(name).parts)
    assert all(len(part.encode()) <= 255 for part in Path(name).parts)


def test_distinct_keys_get_distinct_names():
    keys = [*_hostile_keys("x"), "a/b.nc", "a_b.nc", "a b.nc", "a?b.nc", "new\nline.nc"]
    names = [local_name(key) for key in keys]
    assert len(set(names)) == len(keys)


def test_clean_keys_keep_their_names():
    for key in ("temperature.nc", "collection.zip", "folder/sub/data.nc", "a b.nc"):
        assert local_name(key) == key


@pytest.mark.parametrize("raw_file_links", [False, True])
def test_preloading_hostile_keys_writes_and_deletes_only_inside_the_cache(
    fresh_zenodo, make_store, sandbox, raw_file_links
):
    outside, cache_root = sandbox
    fresh_zenodo.raw_file_links = raw_file_links
    tag = uuid.uuid4().hex
    keys = _hostile_keys(tag)
    fresh_zenodo.add_record(RECORD_ID, {key: _content_for(key) for key in keys})
    store = make_store(fresh_zenodo, root=RECORD_ID, cache_store_params={"root": str(cache_root)})
    record_dir = cache_root / RECORD_ID
    # Links planted in the cache folder (by anyone) must not be followed outward.
    record_dir.mkdir()
    (record_dir / "link_out.nc").symlink_to(outside / "victim_dir" / "precious.txt")
    (record_dir / "linked_dir").symlink_to(outside / "victim_dir", target_is_directory=True)
    before = _snapshot(outside, cache_root)
    listed = set(store.list_data_ids())
    assert listed == set(keys)

    handle = store.preload_data(*listed, max_workers=4)

    assert _snapshot(outside, cache_root) == before
    for temporary in (f"/tmp/eostores-zenodo-{tag}.nc", f"/tmp/eostores-zenodo-{tag}.zip"):
        assert not os.path.lexists(temporary)
    assert not os.path.lexists(Path.home() / f"eostores-zenodo-{tag}.nc")
    real_record_dir = Path(os.path.realpath(record_dir))
    for data_id in handle.data_ids:
        path = Path(os.path.realpath(record_dir / data_id))
        assert real_record_dir in path.parents, data_id
        assert not any(part in ("..", "") for part in data_id.split("/")), data_id
    for linked in ("link_out.nc", "linked_dir/inner.nc"):
        assert isinstance(handle.failures.get(linked), DataStoreError), linked
    others = [key for key in listed if key not in ("link_out.nc", "linked_dir/inner.nc")]
    assert not {key: handle.failures[key] for key in others if key in handle.failures}
    # Results are usable and what the record holds.
    data_ids = [d for d in handle.data_ids if d.endswith(".geojson")]
    assert data_ids
    frame = handle.store.open_data(data_ids[0])
    assert len(frame) == 5
    # Each file was read from the URL of its own key, one quoted path segment.
    read = {r.path for r in fresh_zenodo.request_log if r.path.endswith("/content")}
    files = f"/api/records/{RECORD_ID}/files/"
    assert read == {f"{files}{key}/content" for key in others}
    assert all(
        r.raw_path.startswith(files) and "/" not in r.raw_path[len(files) : -len("/content")]
        for r in fresh_zenodo.request_log
        if r.path.endswith("/content")
    )


def test_a_key_with_nul_is_not_listed(fresh_zenodo, make_store):
    fresh_zenodo.add_record(
        RECORD_ID, {"ok.geojson": _content_for("ok.geojson"), "b\x00d.geojson": _content_for("x")}
    )
    store = make_store(fresh_zenodo, root=RECORD_ID)
    assert store.list_data_ids() == ["ok.geojson"]


@pytest.mark.parametrize("key", ["../../../x.geojson", "/tmp/x.geojson", "..\\..\\x.geojson"])
def test_opening_hostile_keys_reads_them_without_writing_outside(
    fresh_zenodo, make_store, sandbox, key
):
    outside, cache_root = sandbox
    fresh_zenodo.add_record(RECORD_ID, {key: _content_for(key)})
    store = make_store(fresh_zenodo, root=RECORD_ID, cache_store_params={"root": str(cache_root)})
    before = _snapshot(outside, cache_root)
    frame = store.open_data(key)
    assert len(frame) == 5
    assert _snapshot(outside, cache_root) == before


def test_keys_whose_results_coincide_get_results_of_their_own(fresh_zenodo, make_store):
    from eostores_zenodo.preload import result_names

    v2 = sample_files()["v2"].files
    files = {
        "scene.zip": v2["collection.zip"],
        "scene.tar.gz": v2["scene.tar.gz"],
        "Scene.tar": v2["scene.tar.gz"],
        "other.nc": v2["temperature.nc"],
    }
    fresh_zenodo.add_record(RECORD_ID, files)
    store = make_store(fresh_zenodo, root=RECORD_ID)
    results = result_names(store.record.files.values())
    assert results["other.nc"] == "other.nc"
    assert len({r.casefold() for r in results.values()}) == len(files)
    handle = store.preload_data(*files, max_workers=3)
    handle.raise_for_failures()
    from_zip = [d for d in handle.data_ids if d.startswith(results["scene.zip"] + "/")]
    from_tar = [d for d in handle.data_ids if d.startswith(results["scene.tar.gz"] + "/")]
    assert sorted(from_zip) == [
        f"{results['scene.zip']}/series/part-1.nc",
        f"{results['scene.zip']}/series/part-2.nc",
    ]
    # The archive's single top folder "scene" is kept: it is not named like the result.
    assert from_tar == [f"{results['scene.tar.gz']}/scene/reflectance.tif"]
