"""eostores.paths: hostile names never leave their root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from eostores.errors import InvalidParameterError, ServiceError
from eostores.paths import (
    check_data_id,
    confine,
    confine_url,
    quote_segment,
    safe_filename,
)

HOSTILE = [
    "../x",
    "a/../../x",
    "a/..",
    "..",
    "%2e%2e/x",
    "%2E%2E/x",
    "a%2fb",
    "a%2F..%2Fb",
    "a%5cb",
    "a%00b",
    "%252e%252e/x",
    "/etc/passwd",
    "//server/share",
    "~/x",
    "~root/x",
    "a\\b",
    "..\\x",
    "C:x",
    "c:/windows",
    "file:///etc/passwd",
    "https://other.host/x",
    "a\x00b",
    "a\nb",
    "",
    ".",
    "./",
    "//",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_confine_refuses_hostile_user_text(tmp_path, text):
    with pytest.raises(InvalidParameterError) as caught:
        confine(tmp_path, text, store_id="file", data_id=text)
    assert caught.value.parameter == "data_id"
    assert caught.value.store_id == "file"


@pytest.mark.parametrize("text", HOSTILE)
def test_confine_reports_hostile_service_text_as_service_error(tmp_path, text):
    with pytest.raises(ServiceError) as caught:
        confine(tmp_path, "downloads", text, from_service=True, store_id="zenodo")
    assert not isinstance(caught.value, InvalidParameterError)
    assert "service" in str(caught.value)


def test_confine_refuses_non_strings(tmp_path):
    for value in (None, 42, b"x", Path("x")):
        with pytest.raises(InvalidParameterError):
            confine(tmp_path, value)  # type: ignore[arg-type]


def test_confine_joins_relative_parts(tmp_path):
    result = confine(tmp_path, "a/b", "./c.nc", "d//e.nc")
    assert result == tmp_path.resolve() / "a" / "b" / "c.nc" / "d" / "e.nc"
    assert confine(tmp_path) == tmp_path.resolve()
    # harmless characters stay as they are
    assert confine(tmp_path, "era5:t2m 100%.nc").name == "era5:t2m 100%.nc"
    assert confine(tmp_path, "a/~b").name == "~b"


def test_confine_refuses_symlink_leading_outside(tmp_path):
    root = tmp_path / "root"
    outside = tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "link").symlink_to(outside, target_is_directory=True)
    (root / "file-link.nc").symlink_to(outside / "victim.nc")
    for text in ("link/x.nc", "link", "file-link.nc"):
        with pytest.raises(InvalidParameterError, match="symbolic link"):
            confine(root, text)


def test_confine_follows_symlink_staying_inside(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    assert confine(tmp_path, "alias/x.nc") == (tmp_path / "real" / "x.nc").resolve()


def test_confine_of_symlinked_root(tmp_path):
    (tmp_path / "real").mkdir()
    (tmp_path / "root").symlink_to(tmp_path / "real", target_is_directory=True)
    assert confine(tmp_path / "root", "x.nc") == (tmp_path / "real" / "x.nc").resolve()


def test_confine_relative_root_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert confine("", "x.nc") == tmp_path.resolve() / "x.nc"
    with pytest.raises(InvalidParameterError):
        confine("", "~/x.nc")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a/b", "a%2Fb"),
        ("a?b=c", "a%3Fb%3Dc"),
        ("a#b", "a%23b"),
        ("100%", "100%25"),
        ("%2e%2e", "%252e%252e"),
        ("a b", "a%20b"),
        ("...", "..."),
        ("é", "%C3%A9"),
    ],
)
def test_quote_segment_keeps_text_one_segment(text, expected):
    assert quote_segment(text) == expected
    assert "/" not in quote_segment(text)


@pytest.mark.parametrize("text", ["", ".", "..", "a\x00", "\n"])
def test_quote_segment_refuses_dot_segments_and_controls(text):
    with pytest.raises(InvalidParameterError):
        quote_segment(text)
    with pytest.raises(ServiceError):
        quote_segment(text, from_service=True)


def test_confine_url():
    base = "http://host/data/"
    assert confine_url(base, "a/b c.nc") == "http://host/data/a/b%20c.nc"
    assert confine_url(base, "x?y#z") == "http://host/data/x%3Fy%23z"
    for text in HOSTILE:
        with pytest.raises(InvalidParameterError):
            confine_url(base, text)


@pytest.mark.parametrize(
    "text",
    ["a/b.nc", "../../etc/passwd", "..", ".", "", ".hidden", "CON", "nul.txt", "a\x00b", "~", "ü"],
)
def test_safe_filename_is_one_harmless_component(tmp_path, text):
    name = safe_filename(text)
    assert name and "/" not in name and "\\" not in name and "\x00" not in name
    assert not name.startswith(".") and name not in (".", "..")
    assert name.split(".")[0].upper() not in ("CON", "NUL")
    assert name.isascii()
    assert confine(tmp_path, name).parent == tmp_path.resolve()


def test_safe_filename_keeps_safe_names_and_separates_unsafe_ones():
    assert safe_filename("ERA5_2020-01.nc") == "ERA5_2020-01.nc"
    # different texts never collide, and the extension survives
    names = {safe_filename(t) for t in ("a/b.nc", "a_b.nc", "a?b.nc", "a b.nc")}
    assert len(names) == 4
    assert all(n.endswith(".nc") for n in names)
    long_name = safe_filename("x" * 1000 + ".zarr")
    assert len(long_name) <= 200 and long_name.endswith(".zarr")
    assert safe_filename("x" * 1000 + ".zarr") == long_name  # deterministic
    assert len(os.fsencode(safe_filename("é" * 500))) <= 200


@pytest.mark.parametrize("value", [None, 1, 1.5, b"id", ["id"], {"id": 1}])
def test_check_data_id_refuses_non_strings(value):
    with pytest.raises(InvalidParameterError) as caught:
        check_data_id(value, store_id="s")
    assert caught.value.parameter == "data_id"
    assert caught.value.store_id == "s"


@pytest.mark.parametrize("value", ["", "   ", "a\x00b"])
def test_check_data_id_refuses_empty_and_nul(value):
    with pytest.raises(InvalidParameterError):
        check_data_id(value)


def test_check_data_id_returns_valid_ids():
    assert check_data_id("reanalysis-era5-single-levels") == "reanalysis-era5-single-levels"
