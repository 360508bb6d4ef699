"""File formats guessed from names, and records read from the API's JSON."""

from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

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


API = "https://zenodo.org/api"


def _record_with(key: str, links: dict) -> Record:
    data = {"id": 42, "files": [{"key": key, "size": 1, "links": links}]}
    return Record.from_json(data, API + "/")


@pytest.mark.parametrize(
    ("key", "quoted"),
    [
        ("a b#c?.nc", "a%20b%23c%3F.nc"),
        ("50%25 done.nc", "50%2525%20done.nc"),
        ("dir/x.nc", "dir%2Fx.nc"),
        ("a/../../x.nc", "a%2F..%2F..%2Fx.nc"),
    ],
)
@pytest.mark.parametrize(
    "link_key",
    [
        lambda key: key,  # zenodo-rdm's serializer before March 2026
        lambda key: quote(key, safe="/!$&'()*+,;=:@"),  # since then
        lambda key: quote(key, safe=""),
    ],
)
def test_file_urls_quote_the_key_however_the_link_writes_it(key, quoted, link_key):
    link = f"{API}/records/42/files/{link_key(key)}/content"
    file = _record_with(key, {"self": link}).files[key]
    assert file.url == f"{API}/records/42/files/{quoted}/content"
    assert urlsplit(file.url).path.split("/")[-2] == quoted  # one segment: no query, fragment
    assert unquote(quoted) == key


def test_file_links_of_the_files_api_give_content_not_metadata():
    # InvenioRDM: links.self is the entry's metadata, links.content the bytes.
    entry = "https://files.example:8443/api/records/42/files/x.nc"
    file = _record_with("x.nc", {"self": entry, "content": entry + "/content"}).files["x.nc"]
    assert file.url == entry + "/content"
    only_metadata = _record_with("x.nc", {"self": entry}).files["x.nc"]
    assert only_metadata.url == f"{API}/records/42/files/x.nc/content"


@pytest.mark.parametrize(
    "link",
    [
        "https://evil.example/collect?file=x.nc",
        "https://evil.example/api/records/43/files/x.nc/content",
        "https://evil.example/api/records/42/files/y.nc/content",
        "file:///etc/passwd",
        "/api/records/42/files/x.nc/content",
        None,
    ],
)
def test_links_not_naming_the_file_are_ignored(link):
    file = _record_with("x.nc", {"self": link, "content": link}).files["x.nc"]
    assert file.url == f"{API}/records/42/files/x.nc/content"


def test_a_link_naming_the_file_elsewhere_keeps_its_origin_only():
    link = "http://user@mirror.example:8080/api/records/42/files/a b#1.nc/content"
    file = _record_with("a b#1.nc", {"self": link}).files["a b#1.nc"]
    assert file.url == "http://mirror.example:8080/api/records/42/files/a%20b%231.nc/content"


@pytest.mark.parametrize(
    ("access_right", "need_token"),
    [("open", False), ("restricted", True), ("embargoed", True), (None, False)],
)
def test_records_say_when_their_files_need_a_token(access_right, need_token):
    record = Record.from_json({"id": 42, "metadata": {"access_right": access_right}}, API)
    assert record.files_need_token is need_token
