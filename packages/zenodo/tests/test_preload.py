"""Preloading: verified downloads, safe extraction of every archive kind, conversion."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pytest
from eostores_zenodo.testing import EXTERNAL_RECORD_ID, LATEST_RECORD_ID
from eostores_zenodo.testing.samples import (
    chlorophyll_value,
    precipitation_value,
    reflectance_value,
    station_value,
    temperature_value,
)

from eostores.errors import DataNotFoundError, ServiceError
from eostores.testing import FaultProfile


def _files_below(path: Path) -> set[str]:
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}


def _bookkeeping(name: str) -> bool:
    """Lock files and completion records, which stay in the downloads folder by design."""
    return name.startswith(".downloads/") and name.endswith((".lock", ".done.json", ".extracted"))


def _data_files_below(path: Path) -> set[str]:
    """Files below ``path`` other than locks and job markers."""
    return {name for name in _files_below(path) if not _bookkeeping(name)}


def _record_dir(store) -> Path:
    return Path(store.cache_store.root)


def test_zip_with_netcdfs_in_a_subfolder(store):
    handle = store.preload_data("collection.zip")
    handle.raise_for_failures()
    assert handle.data_ids == ["collection/series/part-1.nc", "collection/series/part-2.nc"]
    second = handle.store.open_data("collection/series/part-2.nc")
    day = np.array([2.0, 3.0])[:, None, None]
    expected = precipitation_value(
        day, second.lat.values[None, :, None], second.lon.values[None, None, :]
    )
    np.testing.assert_allclose(second.precipitation.values, expected, rtol=1e-6)
    assert not (_record_dir(store) / ".downloads" / "collection.zip").exists()


def test_tar_gz_with_a_geotiff_keeps_no_doubled_folder(store):
    handle = store.preload_data("scene.tar.gz")
    handle.raise_for_failures()
    assert handle.data_ids == ["scene/reflectance.tif"]
    scene = handle.store.open_data("scene/reflectance.tif")
    expected = reflectance_value(scene.y.values[:, None], scene.x.values[None, :])
    np.testing.assert_allclose(scene.reflectance.values, expected, rtol=1e-6)


def test_nested_zip_is_unpacked_level_by_level(store):
    handle = store.preload_data("nested.zip")
    handle.raise_for_failures()
    assert handle.data_ids == ["nested/level1/inner/points/stations.geojson"]
    frame = handle.store.open_data(handle.data_ids[0])
    for lon, lat, value in zip(frame.geometry.x, frame.geometry.y, frame["value"], strict=True):
        assert value == pytest.approx(station_value(lon, lat))
    assert "nested/level1/inner.zip" not in _files_below(_record_dir(store))


def test_zipped_zarr_becomes_a_zarr_folder(store):
    handle = store.preload_data("cube.zarr.zip")
    handle.raise_for_failures()
    assert handle.data_ids == ["cube.zarr"]
    cube = handle.store.open_data("cube.zarr", time_range=["2020-01-03", "2020-01-03"])
    expected = chlorophyll_value(2.0, cube.lat.values[:, None], cube.lon.values[None, :])
    np.testing.assert_allclose(cube.chl.isel(time=0).values, expected, rtol=1e-6)


def test_plain_file_is_verified_and_not_fetched_twice(store, zenodo):
    handle = store.preload_data("temperature.nc", blocking=False)
    assert handle.wait(timeout=30)
    handle.raise_for_failures()
    path = _record_dir(store) / "temperature.nc"
    expected_md5 = store.record.files["temperature.nc"].checksum.partition(":")[2]
    assert hashlib.md5(path.read_bytes()).hexdigest() == expected_md5
    zenodo.reset_log()
    again = store.preload_data("temperature.nc")
    again.raise_for_failures()
    assert again.data_ids == ["temperature.nc"]
    assert not [r for r in zenodo.request_log if r.path.endswith("/content")]
    dataset = again.store.open_data("temperature.nc", variable_names=["temperature"])
    value = float(dataset.temperature.isel(time=1, lat=0, lon=0))
    assert value == pytest.approx(temperature_value(1.0, -89.5, -179.5), rel=1e-6)


def test_conversion_to_zarr_combines_a_netcdf_collection(store):
    handle = store.preload_data("collection.zip", "scene.tar.gz", target_format="zarr")
    handle.raise_for_failures()
    assert handle.data_ids == ["collection/series.zarr", "scene/reflectance.zarr"]
    series = handle.store.open_data("collection/series.zarr")
    assert series.sizes["time"] == 4
    day = np.arange(4.0)[:, None, None]
    expected = temperature_value(
        day, series.lat.values[None, :, None], series.lon.values[None, None, :]
    )
    np.testing.assert_allclose(series.temperature.values, expected, rtol=1e-6)
    files = _files_below(_record_dir(store))
    assert not any(name.endswith((".nc", ".tif")) for name in files)
    assert not any(name.startswith(".downloads/") and not _bookkeeping(name) for name in files)


def test_without_cleanup_the_sources_stay(store):
    handle = store.preload_data("collection.zip", target_format="zarr", cleanup=False)
    handle.raise_for_failures()
    files = _files_below(_record_dir(store))
    assert "collection/series/part-1.nc" in files
    assert ".downloads/collection.zip" in files


def test_a_memory_cache_store_gets_uploads(zenodo, make_store):
    store = make_store(
        zenodo, cache_store_id="memory", cache_store_params={"root": "zenodo-test-cache"}
    )
    handle = store.preload_data("scene.tar.gz", "stations.csv")
    handle.raise_for_failures()
    assert handle.data_ids == ["scene/reflectance.tif"]
    assert handle.store.fs.exists(f"{handle.store.root}/stations.csv")
    scene = handle.store.open_data("scene/reflectance.tif")
    assert float(scene.reflectance.isel(x=0, y=0)) == pytest.approx(
        reflectance_value(float(scene.y[0]), float(scene.x[0]))
    )
    handle.store.fs.rm(handle.store.root, recursive=True)


def test_no_data_ids_preloads_every_data_file(zenodo, make_store):
    store = make_store(zenodo, root=EXTERNAL_RECORD_ID)
    handle = store.preload_data()
    handle.raise_for_failures()
    assert handle.data_ids == ["stations.geojson"]


@pytest.mark.parametrize(
    ("data_id", "escapes"),
    [
        ("escape-dotdot.zip", ["eostores-zenodo-escaped.txt"]),
        ("escape-absolute.tar", ["/tmp/eostores-zenodo-absolute.txt"]),
        ("escape-link.tar.gz", ["eostores-zenodo-outside"]),
    ],
)
def test_malicious_archives_are_refused_leaving_nothing(store, tmp_path, data_id, escapes):
    handle = store.preload_data(data_id)
    error = handle.failures[data_id]
    assert isinstance(error, ServiceError)
    assert "refusing to extract" in str(error)
    record_dir = _record_dir(store)
    assert _data_files_below(record_dir) == set()
    assert store.cache_store.list_data_ids() == []
    for escape in escapes:
        candidates = (
            [Path(escape)]
            if escape.startswith("/")
            else [parent / escape for parent in (record_dir, *record_dir.parents[:4])]
        )
        assert not any(os.path.lexists(c) for c in candidates)


def test_checksum_mismatch_is_detected_and_nothing_kept(store):
    handle = store.preload_data("corrupted.nc")
    error = handle.failures["corrupted.nc"]
    assert isinstance(error, ServiceError) and "checksum mismatch" in str(error)
    assert _data_files_below(_record_dir(store)) == set()


def test_download_resumes_after_dropped_connections(fresh_zenodo, make_store):
    store = make_store(fresh_zenodo)
    store.record  # noqa: B018
    fresh_zenodo.faults = FaultProfile(
        truncate_rate=0.5, seed=3, paths=r".*/files/temperature\.nc/content"
    )
    handle = store.preload_data("temperature.nc")
    handle.raise_for_failures()
    downloads = [r for r in fresh_zenodo.request_log if r.path.endswith("/content")]
    truncated = [r for r in downloads if r.fault == "truncate"]
    assert truncated, "the fault profile should have cut a body short"
    resumed = [r for r in downloads if r.headers.get("range", "bytes=0-") != "bytes=0-"]
    assert resumed and all(r.headers["range"].endswith("-") for r in resumed)
    size = store.record.files["temperature.nc"].size
    assert sum(r.bytes_sent for r in downloads) < 2 * size  # resumed, not restarted
    path = _record_dir(store) / "temperature.nc"
    expected_md5 = store.record.files["temperature.nc"].checksum.partition(":")[2]
    assert hashlib.md5(path.read_bytes()).hexdigest() == expected_md5


def test_a_failed_download_resumes_in_the_next_preload(fresh_zenodo, make_store):
    store = make_store(fresh_zenodo)
    store.record  # noqa: B018
    fresh_zenodo.faults = FaultProfile(truncate_rate=1.0, paths=r".*/temperature\.nc/content")
    first = store.preload_data("temperature.nc")
    assert isinstance(first.failures["temperature.nc"], ServiceError)
    part = _record_dir(store) / ".downloads" / "temperature.nc.part"
    kept = part.stat().st_size
    assert kept > 0
    fresh_zenodo.faults = None
    fresh_zenodo.reset_log()
    second = store.preload_data("temperature.nc")
    second.raise_for_failures()
    ranges = [
        r.headers.get("range") for r in fresh_zenodo.request_log if r.path.endswith("/content")
    ]
    assert ranges == [f"bytes={kept}-"]


def test_vanished_file_is_data_not_found_naming_record_and_file(fresh_zenodo, make_store):
    store = make_store(fresh_zenodo)
    store.record  # noqa: B018 (the record still lists the file)
    fresh_zenodo.delete_file(LATEST_RECORD_ID, "stations.csv")
    handle = store.preload_data("stations.csv")
    error = handle.failures["stations.csv"]
    assert isinstance(error, DataNotFoundError)
    assert LATEST_RECORD_ID in str(error) and "stations.csv" in str(error)


def test_plain_tar_and_a_single_netcdf_to_zarr(fresh_zenodo, make_store, tmp_path):
    import tarfile

    from eostores_zenodo.testing.samples import sample_files

    v2 = sample_files()["v2"].files
    bundle = tmp_path / "bundle.tar"
    with tarfile.open(bundle, "w") as archive:
        archive.add(v2["stations.geojson"], "points/stations.geojson")
        archive.add(v2["temperature.nc"], "grids/temperature.nc")
    fresh_zenodo.add_record(
        "7400001", {"bundle.tar": bundle, "temperature.nc": v2["temperature.nc"]}
    )
    store = make_store(fresh_zenodo, root="7400001")
    handle = store.preload_data("bundle.tar", "temperature.nc", target_format="zarr")
    handle.raise_for_failures()
    assert handle.data_ids == [
        "bundle/grids/temperature.zarr",
        "bundle/points/stations.geojson",
        "temperature.zarr",
    ]
    cube = handle.store.open_data("temperature.zarr", variable_names=["temperature"])
    value = float(cube.temperature.isel(time=3, lat=179, lon=359))
    assert value == pytest.approx(temperature_value(3.0, 89.5, 179.5), rel=1e-6)


def test_the_cache_folder_defaults_to_the_stores_own(zenodo, monkeypatch, tmp_path):
    from eostores import new_data_store

    monkeypatch.setenv("EOSTORES_CACHE_DIR", str(tmp_path / "eostores-cache"))
    store = new_data_store("zenodo", **zenodo.store_params())
    assert Path(store.cache_store.root) == tmp_path / "eostores-cache" / "zenodo" / LATEST_RECORD_ID
    handle = store.preload_data("stations.csv")
    handle.raise_for_failures()
    assert (tmp_path / "eostores-cache" / "zenodo" / LATEST_RECORD_ID / "stations.csv").is_file()
