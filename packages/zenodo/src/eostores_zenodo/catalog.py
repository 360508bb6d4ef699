"""Which data ids a record has and how each is described.

A :class:`Record` holds the files of one record version as the service lists them; the
format of each file follows from its name. :func:`describe_file` describes a file from
the record's metadata and, where cheap, the file's header: lazily readable files
(NetCDF4/HDF5, zipped Zarr, GeoTIFF) are opened over HTTP ranges, which reads their
header and 1-D coordinates only, and zip archives have their central directory read.
Feature collections and tar archives are described from the record alone: reading them
would mean downloading them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from eostores.errors import ServiceError

from .api import ZenodoApi, service_record_id
from .config import FileFormat, format_of, parse_root

if TYPE_CHECKING:
    from eostores.descriptor import DataDescriptor

__all__ = [
    "Record",
    "RecordFile",
    "describe_file",
    "file_url",
    "record_versions",
    "resolve_record",
]

_MAX_LISTED_MEMBERS = 200


@dataclass(frozen=True)
class RecordFile:
    """A file of a record: its key, size, checksum (``"md5:<hex>"``) and download URL.

    The key is text from the service: it names the data id, and goes into URLs only
    quoted and into local paths only confined (see :mod:`eostores.paths`).
    """

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
        record_id = service_record_id(data)
        metadata = data.get("metadata")
        metadata = dict(metadata) if isinstance(metadata, Mapping) else {}
        files: dict[str, RecordFile] = {}
        entries = data.get("files") or []
        if isinstance(entries, Mapping):  # some answers wrap them as {"entries": [...]}
            entries = entries.get("entries") or []
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, Mapping):
                continue
            key = entry.get("key") or entry.get("filename")
            if not isinstance(key, str) or not key or "\x00" in key:
                continue
            links = entry.get("links") if isinstance(entry.get("links"), Mapping) else {}
            try:
                url = file_url(api_url, record_id, key, links)
            except ServiceError:
                continue  # a name no URL can address
            checksum = entry.get("checksum")
            files[key] = RecordFile(
                key=key,
                size=_size(entry.get("size") or entry.get("filesize")),
                checksum=str(checksum) if checksum else None,
                url=url,
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
    def files_need_token(self) -> bool:
        """Whether the record says its files are restricted or under embargo: then the
        service may list and serve them only to callers with an access token."""
        return self.metadata.get("access_right") in ("restricted", "embargoed")

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


def _size(value: Any) -> int:
    try:
        size = int(value or 0)
    except (TypeError, ValueError):
        return 0
    return max(size, 0)


def file_url(api_url: str, record_id: str, key: str, links: Mapping[str, Any]) -> str:
    """The content URL of the file ``key``: ``{api_url}/records/{id}/files/{key}/content``
    with the key quoted as one path segment (:func:`eostores.paths.quote_segment`).

    The service's links are not used as they come: Zenodo has sent keys in them
    unquoted (then ``#``, ``?`` or ``%`` in a key change the URL), and now quotes them
    but keeps ``/`` (then ``..`` segments change the path). A link that names the file
    this way (``links.content``, else ``links.self``; quoted or not) contributes its
    origin only, so that files served by another host are read there. Raises
    :class:`~eostores.errors.ServiceError` for a key no URL can address.
    """
    from eostores.paths import quote_segment

    api_origin, api_path = _split_origin(api_url.rstrip("/"))
    prefix = f"{api_path}/records/{record_id}/files/"
    quoted = prefix + quote_segment(key, from_service=True) + "/content"
    for name in ("content", "self"):  # RDM: self is the file's metadata, content its bytes
        link = links.get(name)
        if not isinstance(link, str):
            continue
        origin, path = _split_origin(link)
        if origin and prefix + key + "/content" in (path, unquote(path)):
            return origin + quoted
    return api_origin + quoted


def _split_origin(url: str) -> tuple[str, str]:
    """``(origin, path)`` of an http(s) URL read as plain text, so that ``?`` and ``#``
    stay in the path; user names are dropped. The origin is ``""`` for other text."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    host = netloc.rpartition("@")[2]
    valid_host = bool(host) and not any(c in host for c in "?#\\")
    if not (sep and scheme.lower() in ("http", "https") and valid_host):
        return "", url
    return f"{scheme.lower()}://{host}", slash + path


def resolve_record(api: ZenodoApi, root: str | int) -> Record:
    """The record ``root`` designates: record id, concept id, DOI or record URL."""
    reference = parse_root(root)
    record_id = reference.record_id
    if record_id is None:
        assert reference.doi is not None
        record_id = api.find_doi(reference.doi)
    return Record.from_json(api.record_json(record_id), api.api_url)


def record_versions(api: ZenodoApi, record_id: str) -> list[Record]:
    """All published versions of the record, newest first."""
    return [Record.from_json(hit, api.api_url) for hit in api.versions_json(record_id)]


def describe_file(
    record: Record, file: RecordFile, fmt: FileFormat, data_type: str, fs: Any
) -> DataDescriptor:
    """The descriptor of ``file`` as ``data_type``; ``fs`` reads the record's files."""
    from eostores.descriptor import (
        DatasetDescriptor,
        GeoDataFrameDescriptor,
        new_data_descriptor,
    )

    from .openers import inspect_zip, open_dataset
    from .schema import open_params_schema

    schema = open_params_schema(fmt, data_type)
    attrs = {
        **record.attrs(),
        "file_key": file.key,
        "file_size": file.size,
        "checksum": file.checksum,
        "format": fmt.format_id,
        "download_url": file.url,
        "lazy": fmt.lazy,
        "preload_required": fmt.archive,
    }
    if data_type == "geodataframe":
        return GeoDataFrameDescriptor(data_id=file.key, open_params_schema=schema)
    contents = None
    if fmt.format_id == "zip":
        contents = inspect_zip(fs, file)
        attrs["archive_members"] = list(contents.names[:_MAX_LISTED_MEMBERS])
        if contents.zarr_root is not None:
            attrs.update(lazy=True, preload_required=False)
    if fmt.archive and (contents is None or contents.zarr_root is None):
        return DatasetDescriptor(data_id=file.key, attrs=attrs, open_params_schema=schema)
    data = open_dataset(fs, file, fmt, data_type, {}, zip_contents=contents)
    try:
        descriptor = new_data_descriptor(file.key, data)
    finally:
        close = getattr(data, "close", None)
        if close is not None:
            close()
    descriptor.attrs = {**attrs, **(descriptor.attrs or {})}
    descriptor.open_params_schema = schema
    return descriptor
