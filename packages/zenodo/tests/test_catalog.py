"""File formats guessed from names, and records read from the API's JSON."""

from __future__ import annotations

import pytest
from eostores_zenodo.catalog import Record
from eostores_zenodo.config import format_of


@pytest.mark.parametrize(
    ("key", "format_id", "lazy", "archive"),
    [
        ("data.nc", "netcdf", True, False),
        ("DATA.NC4", "netcdf", True, False),
        ("cube.zarr.zip", "zarr", True, False),
        ("dem.tif", "geotiff", True, False),
        ("scene.COG", "geotiff", True, False),
        ("points.geojson", "geojson", False, False),
        ("coast.shp.zip", "shapefile", False, False),
        ("regions.gpkg", "geopackage", False, False),
        ("table.csv", "csv", False, False),
        ("bundle.zip", "zip", False, True),
        ("bundle.tar.gz", "tar", False, True),
        ("bundle.tgz", "tar", False, True),
        ("bundle.tar", "tar", False, True),
    ],
)
def test_formats_follow_the_longest_suffix(key, format_id, lazy, archive):
    fmt = format_of(key)
    assert fmt is not None
    assert (fmt.format_id, fmt.lazy, fmt.archive) == (format_id, lazy, archive)


@pytest.mark.parametrize("key", ["README.md", "paper.pdf", "data.rar", "notes.txt"])
def test_other_files_have_no_format(key):
    assert format_of(key) is None


def test_record_from_json_keeps_files_checksums_and_links():
    data = {
        "id": 42,
        "conceptrecid": "41",
        "doi": "10.5281/zenodo.42",
        "metadata": {
            "title": "T",
            "version": "2.0",
            "license": {"id": "cc-by-4.0"},
            "creators": [{"name": "Doe, Jane"}],
            "relations": {"version": [{"is_last": False}]},
        },
        "links": {"self_html": "https://zenodo.org/records/42"},
        "files": [
            {
                "key": "a b.nc",
                "size": 10,
                "checksum": "md5:abc",
                "links": {"self": "https://zenodo.org/api/records/42/files/a%20b.nc/content"},
            },
            {"key": "no-link.tif", "size": "7"},
        ],
    }
    record = Record.from_json(data, "https://zenodo.org/api/")
    assert record.record_id == "42" and record.concept_id == "41"
    assert record.is_latest is False
    assert record.files["a b.nc"].checksum == "md5:abc"
    assert record.files["no-link.tif"].size == 7
    assert record.files["no-link.tif"].url == (
        "https://zenodo.org/api/records/42/files/no-link.tif/content"
    )
    attrs = record.attrs()
    assert attrs["license"] == "cc-by-4.0" and attrs["creators"] == ["Doe, Jane"]
    assert attrs["landing_page"] == "https://zenodo.org/records/42"
