"""A record and its files as the store sees them: formats guessed from file names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

__all__ = ["FORMATS", "FileFormat", "Record", "RecordFile", "format_of"]


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


@dataclass(frozen=True)
class RecordFile:
    """A file of a record: its key, size, checksum (``"md5:<hex>"``) and download URL."""

    key: str
    size: int
    checksum: str | None
    url: str

    @property
    def format(self) -> FileFormat | None:
        return format_of(self.key)

    def attrs(self) -> dict[str, Any]:
        """The attributes listed with the data id."""
        fmt = self.format
        result: dict[str, Any] = {"size": self.size, "checksum": self.checksum}
        if fmt is not None:
            result.update(
                data_type=fmt.data_types[0],
                format=fmt.format_id,
                lazy=fmt.lazy,
                preload_required=fmt.archive,
            )
        return result


@dataclass
class Record:
    """One version of a Zenodo record."""

    record_id: str
    concept_id: str | None
    doi: str | None
    title: str | None
    version: str | None
    publication_date: str | None
    files: dict[str, RecordFile] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    links: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: Mapping[str, Any], api_url: str) -> Record:
        """Build from the JSON of ``GET /api/records/{id}``."""
        record_id = str(data.get("id") or data.get("recid"))
        metadata = dict(data.get("metadata") or {})
        files: dict[str, RecordFile] = {}
        entries = data.get("files") or []
        if isinstance(entries, Mapping):  # some answers wrap them as {"entries": [...]}
            entries = entries.get("entries") or []
        for entry in entries:
            key = str(entry.get("key") or entry.get("filename") or "")
            if not key:
                continue
            links = entry.get("links") or {}
            url = links.get("self") or links.get("content") or links.get("download")
            if not url:
                url = f"{api_url.rstrip('/')}/records/{record_id}/files/{quote(key)}/content"
            checksum = entry.get("checksum")
            files[key] = RecordFile(
                key=key,
                size=int(entry.get("size") or entry.get("filesize") or 0),
                checksum=str(checksum) if checksum else None,
                url=str(url),
            )
        concept = data.get("conceptrecid")
        return cls(
            record_id=record_id,
            concept_id=str(concept) if concept else None,
            doi=data.get("doi") or metadata.get("doi"),
            title=data.get("title") or metadata.get("title"),
            version=metadata.get("version"),
            publication_date=metadata.get("publication_date"),
            files=files,
            metadata=metadata,
            links=dict(data.get("links") or {}),
        )

    @property
    def is_latest(self) -> bool | None:
        """Whether this is the latest version, when the record says so."""
        for relation in (self.metadata.get("relations") or {}).get("version") or []:
            if "is_last" in relation:
                return bool(relation["is_last"])
        return None

    def attrs(self) -> dict[str, Any]:
        """Record-level attributes for descriptors."""
        license_ = self.metadata.get("license")
        if isinstance(license_, Mapping):
            license_ = license_.get("id")
        creators = [
            creator.get("name")
            for creator in self.metadata.get("creators") or []
            if isinstance(creator, Mapping) and creator.get("name")
        ]
        values = {
            "zenodo_record_id": self.record_id,
            "zenodo_concept_id": self.concept_id,
            "doi": self.doi,
            "title": self.title,
            "version": self.version,
            "publication_date": self.publication_date,
            "license": license_,
            "creators": creators or None,
            "keywords": self.metadata.get("keywords"),
            "landing_page": self.links.get("self_html"),
        }
        return {key: value for key, value in values.items() if value is not None}
