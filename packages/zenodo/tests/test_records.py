"""Resolving the root, listing the record's files, describing them."""

from __future__ import annotations

import pytest
from eostores_zenodo.testing import (
    CONCEPT_ID,
    EXTERNAL_DOI,
    EXTERNAL_RECORD_ID,
    LATEST_RECORD_ID,
    OLDER_RECORD_ID,
)

from eostores import new_data_store
from eostores.descriptor import DatasetDescriptor, GeoDataFrameDescriptor
from eostores.errors import DataNotFoundError, InvalidParameterError


def test_construction_makes_no_request(zenodo, make_store):
    before = len(zenodo.request_log)
    make_store(zenodo, root="10.5194/anything")
    assert len(zenodo.request_log) == before


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        (LATEST_RECORD_ID, LATEST_RECORD_ID),
        (int(OLDER_RECORD_ID), OLDER_RECORD_ID),
        (f"10.5281/zenodo.{OLDER_RECORD_ID}", OLDER_RECORD_ID),
        (CONCEPT_ID, LATEST_RECORD_ID),
        (f"https://doi.org/10.5281/zenodo.{CONCEPT_ID}", LATEST_RECORD_ID),
        (f"https://zenodo.org/records/{OLDER_RECORD_ID}", OLDER_RECORD_ID),
        (EXTERNAL_DOI, EXTERNAL_RECORD_ID),
    ],
)
def test_root_resolves_to_a_record_version(zenodo, make_store, root, expected):
    store = make_store(zenodo, root=root)
    assert store.record_id == expected
    assert store.has_data("temperature.nc") == (expected != EXTERNAL_RECORD_ID)


def test_concept_id_resolves_without_a_redirect_too(fresh_zenodo, make_store):
    fresh_zenodo.redirect_concepts = False
    store = make_store(fresh_zenodo, root=CONCEPT_ID)
    assert store.record_id == LATEST_RECORD_ID
    paths = [record.path for record in fresh_zenodo.request_log]
    assert f"/api/records/{CONCEPT_ID}/versions/latest" in paths


def test_versions_are_listed_newest_first(zenodo, make_store):
    versions = make_store(zenodo, root=OLDER_RECORD_ID).list_versions()
    assert [v["record_id"] for v in versions] == [LATEST_RECORD_ID, OLDER_RECORD_ID]
    assert [v["is_latest"] for v in versions] == [True, False]


@pytest.mark.parametrize("root", ["999999", "10.5194/no-such-doi"])
def test_unknown_records_are_data_not_found(zenodo, make_store, root):
    store = make_store(zenodo, root=root)
    with pytest.raises(DataNotFoundError) as caught:
        store.list_data_ids()
    assert "999999" in str(caught.value) or "no-such-doi" in str(caught.value)


def test_bad_root_fails_before_any_request(zenodo, make_store):
    before = len(zenodo.request_log)
    store = make_store(zenodo, root="not a record")
    with pytest.raises(InvalidParameterError):
        store.list_data_ids()
    assert len(zenodo.request_log) == before


def test_listing_holds_data_files_with_types_and_attrs(store):
    attrs = dict(store.list_data_ids(include_attrs=True))
    assert "README.md" not in attrs
    assert attrs["temperature.nc"]["format"] == "netcdf"
    assert attrs["temperature.nc"]["lazy"] is True
    assert attrs["collection.zip"]["preload_required"] is True
    assert attrs["temperature.nc"]["checksum"].startswith("md5:")
    assert attrs["temperature.nc"]["size"] == store.record.files["temperature.nc"].size
    vectors = store.list_data_ids(data_type="geodataframe")
    assert {"stations.geojson", "stations.csv", "regions.gpkg", "coast.shp.zip"} <= set(vectors)
    assert "temperature.nc" not in vectors
    assert "elevation.tif" in store.list_data_ids(data_type="mldataset")


def test_types_and_openers_per_file(store):
    assert store.get_data_types_for_data("elevation.tif") == ("dataset", "mldataset")
    assert store.get_data_opener_ids("stations.csv") == ("geodataframe:csv:zenodo",)
    assert "dataset:zarr:zenodo" in store.get_data_opener_ids(data_type="dataset")
    assert not store.has_data("temperature.nc", data_type="geodataframe")
    assert not store.has_data("README.md")


def test_unknown_and_unreadable_files_are_data_not_found(store):
    with pytest.raises(DataNotFoundError, match="data files: "):
        store.describe_data("missing.nc")
    with pytest.raises(DataNotFoundError, match="not in a format"):
        store.open_data("README.md")


def test_describe_reads_the_netcdf_header_only(store, zenodo):
    store.record  # noqa: B018 (fetch the record first)
    zenodo.reset_log()
    descriptor = store.describe_data("temperature.nc")
    assert isinstance(descriptor, DatasetDescriptor)
    assert descriptor.dims == {"time": 4, "lat": 180, "lon": 360}
    assert set(descriptor.data_vars) == {"temperature", "precipitation"}
    assert descriptor.bbox == (-180.0, -90.0, 180.0, 90.0)
    assert descriptor.time_range == ("2020-01-01", "2020-01-04")
    assert descriptor.time_period == "1D"
    assert descriptor.attrs["doi"] == f"10.5281/zenodo.{LATEST_RECORD_ID}"
    assert descriptor.attrs["title"] == "Sample daily grid"  # the file's own attribute wins
    assert descriptor.attrs["checksum"].startswith("md5:")
    assert "variable_names" in descriptor.open_params_schema.properties
    size = store.record.files["temperature.nc"].size
    log = zenodo.request_log
    assert all(record.headers.get("range", "").startswith("bytes=") for record in log)
    assert sum(record.bytes_sent for record in log) < size / 4


def test_describe_cog_zarr_zip_and_archives(store):
    cog = store.describe_data("elevation.tif")
    assert cog.crs == "EPSG:4326" and cog.dims == {"y": 360, "x": 720}
    assert cog.bbox == pytest.approx((-180, -90, 180, 90))
    levels = store.describe_data("elevation.tif", data_type="mldataset")
    assert levels.num_levels > 1
    cube = store.describe_data("cube.zarr.zip")
    assert set(cube.data_vars) == {"chl"} and cube.dims["lat"] == 180
    archive = store.describe_data("collection.zip")
    assert archive.attrs["preload_required"] is True
    assert "series/part-1.nc" in archive.attrs["archive_members"]
    tarball = store.describe_data("scene.tar.gz")
    assert tarball.attrs["preload_required"] is True
    vector = store.describe_data("stations.geojson")
    assert isinstance(vector, GeoDataFrameDescriptor)
    assert "columns" in vector.open_params_schema.properties


def test_describe_is_cached(store, zenodo):
    store.describe_data("temperature.nc")
    before = len(zenodo.request_log)
    store.describe_data("temperature.nc")
    assert len(zenodo.request_log) == before


def test_search_filters_described_extents(store):
    found = [d.data_id for d in store.search_data(pattern="*.nc", time_range=["2020-01-03", None])]
    assert found == ["temperature.nc"]


def test_store_is_registered_with_a_valid_schema():
    schema = new_data_store.__globals__["get_data_store_params_schema"]("zenodo")
    assert schema.required == ["root"]
    assert {
        "root",
        "api_url",
        "access_token",
        "cache_store_id",
        "cache_store_params",
        "num_retries",
    } <= set(schema.properties)
