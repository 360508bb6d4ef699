"""Store parameters, defaults and endpoints of the Zenodo store, and what it reads.

* the service's endpoint and the defaults of the store and HTTP parameters;
* :data:`FORMATS`: how files of each format are treated, recognised by name;
* :func:`parse_root`: what the ``root`` store parameter may be (record id, DOI, URL).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from eostores.errors import InvalidParameterError

__all__ = [
    "DEFAULT_API_URL",
    "DEFAULT_CACHE_STORE_PARAMS",
    "FORMATS",
    "HTTP_DEFAULTS",
    "OTHER_CACHE_ROOT",
    "STORAGE_ID",
    "STORE_ID",
    "TARGET_FORMATS",
    "FileFormat",
    "RootReference",
    "format_of",
    "parse_root",
]

STORE_ID = "zenodo"
#: The storage part of this store's opener ids (``dataset:netcdf:zenodo``).
STORAGE_ID = "zenodo"
DEFAULT_API_URL = "https://zenodo.org/api"
#: Parameters of the cache store when ``cache_store_params`` lacks them. Without a
#: ``root``, the file store caches in ``eostores.cache.default_cache_dir("zenodo")`` and
#: other filesystem stores below :data:`OTHER_CACHE_ROOT`.
DEFAULT_CACHE_STORE_PARAMS: dict[str, Any] = {"max_depth": 10}
OTHER_CACHE_ROOT = "zenodo_cache"
TARGET_FORMATS = ("zarr",)
#: The store's defaults of the core HTTP parameters. Zenodo allows 133 requests a minute
#: per client and answers 429 with a Retry-After of up to a minute beyond that.
HTTP_DEFAULTS: dict[str, Any] = {
    "num_retries": 5,
    "retry_backoff_base": 1.0,
    "retry_backoff_max": 60.0,
    "connect_timeout": 10.0,
    "read_timeout": 60.0,
    "deadline": 600.0,
}


# --------------------------------------------------------------------------- formats


@dataclass(frozen=True)
class FileFormat:
    """How the store treats files of one format.

    ``lazy``: opened over HTTP range requests; ``whole``: read whole when opened
    (feature collections); ``archive``: only preloading (download and extraction) helps.
    """

    format_id: str
    data_types: tuple[str, ...]
    suffixes: tuple[str, ...]
    lazy: bool = False
    whole: bool = False
    archive: bool = False

    @property
    def openable(self) -> bool:
        return self.lazy or self.whole


FORMATS: tuple[FileFormat, ...] = (
    FileFormat("zarr", ("dataset",), (".zarr.zip",), lazy=True),
    FileFormat("netcdf", ("dataset",), (".nc", ".nc4", ".netcdf", ".h5", ".hdf5", ".he5"), True),
    FileFormat("geotiff", ("dataset", "mldataset"), (".tif", ".tiff", ".geotiff", ".cog"), True),
    FileFormat("geojson", ("geodataframe",), (".geojson",), whole=True),
    FileFormat("shapefile", ("geodataframe",), (".shp.zip", ".shz"), whole=True),
    FileFormat("geopackage", ("geodataframe",), (".gpkg",), whole=True),
    FileFormat("csv", ("geodataframe",), (".csv",), whole=True),
    FileFormat("zip", ("dataset", "geodataframe"), (".zip",), archive=True),
    FileFormat(
        "tar",
        ("dataset", "geodataframe"),
        (".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz"),
        archive=True,
    ),
)


def format_of(key: str) -> FileFormat | None:
    """The format of a file from its name (the longest matching suffix), or None."""
    lowered = key.lower()
    best: FileFormat | None = None
    best_length = 0
    for candidate in FORMATS:
        for suffix in candidate.suffixes:
            if lowered.endswith(suffix) and len(suffix) > best_length:
                best, best_length = candidate, len(suffix)
    return best


# --------------------------------------------------------------------------- root

# Zenodo mints DOIs "10.5281/zenodo.<record id>" (10.5072 on the sandbox).
_ZENODO_DOI = re.compile(r"^10\.(?:5281|5072)/zenodo\.(\d+)$", re.IGNORECASE)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_RECORD_PATH = re.compile(r"/(?:api/)?(?:records|record|deposit|deposits)/(\d+)(?:/|$)")
_DOI_PATH = re.compile(r"/doi/(10\.\d{4,9}/\S+)$")


@dataclass(frozen=True)
class RootReference:
    """A parsed ``root``: a record id (possibly a concept id), or a DOI to look up."""

    record_id: str | None = None
    doi: str | None = None

    def __str__(self) -> str:
        return self.record_id if self.record_id is not None else f"doi:{self.doi}"


def parse_root(root: str | int) -> RootReference:
    """Interpret ``root``: ``"1234567"``, ``"10.5281/zenodo.1234567"``, ``"doi:10.x/y"``,
    ``"https://doi.org/10.x/y"``, ``"https://zenodo.org/records/1234567"`` (also
    ``/record/``, ``/api/records/`` and ``/doi/`` forms). Zenodo DOIs give the record id
    directly; other DOIs are looked up by the service's search.
    """
    if isinstance(root, bool) or not isinstance(root, str | int):
        raise InvalidParameterError(
            f"root must be a record id, DOI or record URL, got {type(root).__name__}",
            store_id=STORE_ID,
            parameter="root",
        )
    text = unquote(str(root)).strip()
    if not text:
        raise InvalidParameterError("root must not be empty", store_id=STORE_ID, parameter="root")
    if text.isascii() and text.isdigit():
        return RootReference(record_id=str(int(text)))
    lowered = text.lower()
    if lowered.startswith("doi:"):
        return _from_doi(text[4:].strip(), text)
    if lowered.startswith(("http://", "https://")):
        return _from_url(text)
    return _from_doi(text, text)


def _from_doi(doi: str, original: str) -> RootReference:
    match = _ZENODO_DOI.match(doi)
    if match:
        return RootReference(record_id=str(int(match.group(1))))
    if _DOI.match(doi):
        return RootReference(doi=doi)
    raise InvalidParameterError(
        f"root {original!r} is neither a Zenodo record id, a DOI nor a record URL; "
        "examples: '1234567', '10.5281/zenodo.1234567', 'https://zenodo.org/records/1234567'",
        store_id=STORE_ID,
        parameter="root",
    )


def _from_url(url: str) -> RootReference:
    parts = urlsplit(url)
    host = parts.netloc.lower().rpartition("@")[2]
    path = parts.path.rstrip("/")
    if host in ("doi.org", "dx.doi.org", "www.doi.org"):
        return _from_doi(path.lstrip("/"), url)
    doi_match = _DOI_PATH.search(path)
    if doi_match:
        return _from_doi(doi_match.group(1), url)
    record_match = _RECORD_PATH.search(path + "/")
    if record_match:
        return RootReference(record_id=str(int(record_match.group(1))))
    raise InvalidParameterError(
        f"root {url!r} is not a Zenodo record URL; expected e.g. "
        "'https://zenodo.org/records/1234567'",
        store_id=STORE_ID,
        parameter="root",
    )
