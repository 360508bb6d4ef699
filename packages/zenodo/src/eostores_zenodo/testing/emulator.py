"""A local emulator of the Zenodo REST API, for tests, demos and benchmarks.

It models what the store relies on, as the service documents and behaves:

* ``GET /api/records/{id}``: the record JSON of Zenodo's legacy serializer (``id``,
  ``conceptrecid``, ``doi``, ``metadata``, ``links``, ``files`` with ``key``, ``size``,
  ``checksum: "md5:..."`` and ``links.self``, the URL of the bytes); a concept id answers
  with a redirect to its latest version; unknown ids a JSON 404. The key in
  ``links.self`` is quoted with ``/`` kept, as the serializer does since March 2026, or
  sent unquoted as before (``raw_file_links``).
* ``GET /api/records/{id}/versions`` and ``.../versions/latest``, ``GET /api/records?q=``
  (``doi:"..."``, ``conceptrecid:N``).
* ``GET /api/records/{id}/files[/{key}]``: the InvenioRDM files API, whose entries have
  ``links.self`` (the entry's metadata) and ``links.content`` (the bytes).
* ``GET /api/records/{id}/files/{key}/content`` and ``/records/{id}/files/{key}``: the
  bytes, with ``Content-Length``, ``Accept-Ranges``, ``ETag`` and single ``Range``
  requests; a missing file is an HTML 404 page.
* Rate limits: ``X-RateLimit-Limit/-Remaining/-Reset`` on every answer, 429 with
  ``Retry-After`` beyond ``rate_limit`` requests per ``rate_window_s`` and client; the
  HTML 404 pages carry ``Retry-After`` too, as Zenodo's do.
* Access tokens: a request with an unknown bearer token is refused with 401; files of
  records created with ``restricted=True`` need a token from :meth:`issue_token`.
  Whether such records list their files to callers without a token is not documented:
  ``list_restricted_files`` chooses (when false, ``files`` is empty and the files API
  answers 403).

The generated records (see :mod:`eostores_zenodo.testing.samples`): concept ``7000000`` with
versions ``7000001`` and ``7000002`` (the latest, holding every sample file), and
``7100001`` whose DOI is not a Zenodo DOI. Faults of the toolkit (latency, error
statuses, dropped connections, truncated bodies) apply through ``faults``.
"""

from __future__ import annotations

import hashlib
import html
import math
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eostores.cache import checksum_of
from eostores.testing import EmulatorServer, Request, Response, route

__all__ = [
    "CONCEPT_ID",
    "EXTERNAL_DOI",
    "EXTERNAL_RECORD_ID",
    "LATEST_RECORD_ID",
    "OLDER_RECORD_ID",
    "EmulatedFile",
    "EmulatedRecord",
    "ZenodoEmulator",
]

CONCEPT_ID = "7000000"
OLDER_RECORD_ID = "7000001"
LATEST_RECORD_ID = "7000002"
EXTERNAL_RECORD_ID = "7100001"
EXTERNAL_DOI = "10.5194/essd-example-2020-1"
ZENODO_DOI_PREFIX = "10.5281/zenodo."
#: Characters Zenodo leaves unquoted in the keys of file links (zenodo-rdm's legacy
#: serializer, and werkzeug's ``path`` converter for the InvenioRDM files API).
LINK_SAFE = "/!$&'()*+,;=:@"


@dataclass
class EmulatedFile:
    """A file of a record: where its bytes are and the checksum the record announces."""

    key: str
    path: Path
    checksum: str
    file_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    #: Base URL of the server the record's file link names (None: this emulator).
    link_base: str | None = None

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class EmulatedRecord:
    """A published record version."""

    record_id: str
    concept_id: str
    version: str
    title: str
    files: dict[str, EmulatedFile]
    publication_date: str = "2024-05-01"
    doi: str | None = None
    restricted: bool = False
    deleted: bool = False

    def __post_init__(self) -> None:
        if self.doi is None:
            self.doi = ZENODO_DOI_PREFIX + self.record_id


class ZenodoEmulator(EmulatorServer):
    """The Zenodo REST API on 127.0.0.1; see the module docstring.

    ``sample`` adds the generated records; ``records`` adds more, as
    ``{record_id: {file_key: local_path}}`` (JSON-serialisable, so that they also work
    in a subprocess). ``rate_limit`` (requests per ``rate_window_s`` per client; ``None``
    for no limit) can be changed while running. ``raw_file_links`` sends file keys
    unquoted in the records' file links, as Zenodo did before March 2026;
    ``list_restricted_files=False`` hides the files of restricted records from callers
    without a token.
    """

    name = "zenodo"

    def __init__(
        self,
        *,
        sample: bool = True,
        records: Mapping[str, Mapping[str, str]] | None = None,
        rate_limit: int | None = 133,
        rate_window_s: float = 60.0,
        raw_file_links: bool = False,
        list_restricted_files: bool = True,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.rate_limit = rate_limit
        self.rate_window_s = rate_window_s
        self.raw_file_links = raw_file_links
        self.list_restricted_files = list_restricted_files
        #: Whether ``GET /api/records/{concept id}`` redirects to the latest version
        #: (else it answers 404, and ``.../versions/latest`` is the way).
        self.redirect_concepts = True
        self._windows: dict[str, tuple[float, int]] = {}
        self._rate_lock = threading.Lock()
        self.records: dict[str, EmulatedRecord] = {}
        self.concepts: dict[str, list[str]] = {}
        if sample:
            self._add_samples()
        for record_id, files in (records or {}).items():
            self.add_record(record_id, files)

    def store_params(self) -> dict[str, Any]:
        return {"root": LATEST_RECORD_ID, "api_url": f"{self.url}/api"}

    # -- content

    def add_record(
        self,
        record_id: str,
        files: Mapping[str, str | Path],
        *,
        concept_id: str | None = None,
        title: str | None = None,
        doi: str | None = None,
        restricted: bool = False,
        wrong_checksums: set[str] | frozenset[str] = frozenset(),
        link_base: str | None = None,
    ) -> EmulatedRecord:
        """Publish a record (as a new version of ``concept_id`` when given).

        ``link_base`` makes the record's file links name another server (e.g. another
        emulator holding the same record), as a record's links may.
        """
        record_id = str(record_id)
        concept_id = str(concept_id) if concept_id else str(int(record_id) - 1)
        emulated = {}
        for key, path in files.items():
            checksum = checksum_of(path, "md5")
            if key in wrong_checksums:
                checksum = hashlib.md5(checksum.encode(), usedforsecurity=False).hexdigest()
            emulated[key] = EmulatedFile(key, Path(path), "md5:" + checksum, link_base=link_base)
        versions = self.concepts.setdefault(concept_id, [])
        record = EmulatedRecord(
            record_id=record_id,
            concept_id=concept_id,
            version=f"{len(versions) + 1}.0",
            title=title or f"Record {record_id}",
            files=emulated,
            doi=doi,
            restricted=restricted,
        )
        self.records[record_id] = record
        versions.append(record_id)
        return record

    def delete_file(self, record_id: str, key: str) -> None:
        """Make a listed file vanish from storage (its download becomes an HTML 404)."""
        self.records[str(record_id)].files[key].path = Path("/nonexistent") / key

    def _add_samples(self) -> None:
        from .samples import sample_files

        samples = sample_files()
        self.add_record(
            OLDER_RECORD_ID,
            samples["v1"].files,
            concept_id=CONCEPT_ID,
            title="Sample Earth observation data (first version)",
        )
        self.add_record(
            LATEST_RECORD_ID,
            samples["v2"].files,
            concept_id=CONCEPT_ID,
            title="Sample Earth observation data",
            wrong_checksums=samples["v2"].wrong_checksums,
        )
        self.add_record(
            EXTERNAL_RECORD_ID,
            samples["external"].files,
            concept_id="7100000",
            title="Stations with an external DOI",
            doi=EXTERNAL_DOI,
        )

    # -- helpers

    def _concept_of(self, record_id: str) -> str:
        """The concept id of a record version; a concept id stands for itself."""
        record = self.records.get(record_id)
        return record.concept_id if record is not None else record_id

    def _latest_of(self, concept_id: str) -> str | None:
        versions = [
            record_id
            for record_id in self.concepts.get(concept_id, [])
            if not self.records[record_id].deleted
        ]
        return versions[-1] if versions else None

    def _files_listed(self, record: EmulatedRecord, request: Request) -> bool:
        """Whether ``request`` may see the list of the record's files."""
        return (
            not record.restricted
            or self.list_restricted_files
            or self.check_token(request.bearer_token)
        )

    def _record_json(self, record: EmulatedRecord, request: Request) -> dict[str, Any]:
        base = self.url
        api = f"{base}/api/records/{record.record_id}"
        latest = self._latest_of(record.concept_id)
        versions = self.concepts[record.concept_id]
        index = versions.index(record.record_id) + 1
        files = []
        if self._files_listed(record, request):
            files = [self._file_json(record, file) for file in record.files.values()]
        return {
            "id": int(record.record_id),
            "recid": record.record_id,
            "conceptrecid": record.concept_id,
            "doi": record.doi,
            "conceptdoi": ZENODO_DOI_PREFIX + record.concept_id,
            "doi_url": f"https://doi.org/{record.doi}",
            "title": record.title,
            "created": f"{record.publication_date}T10:00:00.000000+00:00",
            "modified": f"{record.publication_date}T10:00:00.000000+00:00",
            "updated": f"{record.publication_date}T10:00:00.000000+00:00",
            "status": "published",
            "state": "done",
            "submitted": True,
            "revision": 1,
            "metadata": {
                "title": record.title,
                "doi": record.doi,
                "publication_date": record.publication_date,
                "description": "<p>Sample data served by the eostores Zenodo emulator.</p>",
                "access_right": "restricted" if record.restricted else "open",
                "creators": [{"name": "Doe, Jane", "affiliation": "Example Institute"}],
                "keywords": ["earth observation", "sample"],
                "license": {"id": "cc-by-4.0"},
                "resource_type": {"title": "Dataset", "type": "dataset"},
                "version": record.version,
                "relations": {
                    "version": [
                        {
                            "index": index - 1,
                            "is_last": record.record_id == latest,
                            "parent": {"pid_type": "recid", "pid_value": record.concept_id},
                        }
                    ]
                },
            },
            "links": {
                "self": api,
                "self_html": f"{base}/records/{record.record_id}",
                "doi": f"https://doi.org/{record.doi}",
                "parent_doi": f"https://doi.org/{ZENODO_DOI_PREFIX}{record.concept_id}",
                "files": f"{api}/files",
                "latest": f"{api}/versions/latest",
                "latest_html": f"{base}/records/{record.record_id}/latest",
                "versions": f"{api}/versions",
            },
            "files": files,
            "stats": {"downloads": 0, "unique_downloads": 0, "views": 0, "unique_views": 0},
        }

    def _file_json(self, record: EmulatedRecord, file: EmulatedFile) -> dict[str, Any]:
        """A file as the legacy record serializer lists it: ``links.self`` is the bytes."""
        key = file.key if self.raw_file_links else quote(file.key, safe=LINK_SAFE)
        return {
            "id": file.file_id,
            "key": file.key,
            "size": _size_of(file),
            "checksum": file.checksum,
            "links": {"self": f"{self._files_url(record, file)}/{key}/content"},
        }

    def _file_entry_json(self, record: EmulatedRecord, file: EmulatedFile) -> dict[str, Any]:
        """A file as the InvenioRDM files API lists it: ``links.self`` is this entry,
        ``links.content`` the bytes."""
        entry = f"{self._files_url(record, file)}/{quote(file.key, safe=LINK_SAFE)}"
        stamp = f"{record.publication_date}T10:00:00.000000+00:00"
        return {
            "key": file.key,
            "created": stamp,
            "updated": stamp,
            "status": "completed",
            "metadata": {},
            "checksum": file.checksum,
            "size": _size_of(file),
            "mimetype": "application/octet-stream",
            "storage_class": "L",
            "file_id": file.file_id,
            "links": {"self": entry, "content": f"{entry}/content"},
        }

    def _files_url(self, record: EmulatedRecord, file: EmulatedFile) -> str:
        return f"{file.link_base or self.url}/api/records/{record.record_id}/files"

    def _rate_headers(self, request: Request) -> tuple[dict[str, str], bool]:
        """Rate-limit headers for this request, and whether it is over the limit."""
        limit = self.rate_limit
        if limit is None:
            return {}, False
        now = time.time()
        client = request.client[0]
        with self._rate_lock:
            start, count = self._windows.get(client, (now, 0))
            if now - start >= self.rate_window_s:
                start, count = now, 0
            count += 1
            self._windows[client] = (start, count)
        reset = start + self.rate_window_s
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(max(0, limit - count)),
            "X-RateLimit-Reset": str(math.ceil(reset)),
        }
        if count > limit:
            headers["Retry-After"] = str(max(1, math.ceil(reset - now)))
            return headers, True
        return headers, False

    def _answer(self, request: Request, build: Any) -> Response:
        """Apply the rate limit and the token check, then ``build()`` the response."""
        headers, limited = self._rate_headers(request)
        if limited:
            response = Response.json(
                {"status": 429, "message": "Too many requests. Please try again later."},
                status=429,
            )
        elif request.bearer_token is not None and not self.check_token(request.bearer_token):
            response = Response.json(
                {"status": 401, "message": "The access token is invalid or has expired."},
                status=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        else:
            response = build()
        for name, value in headers.items():
            response.headers.setdefault(name, value)
        if response.status == 404 and "text/html" in response.headers.get("Content-Type", ""):
            response.headers.setdefault("Retry-After", "60")
        return response

    def _not_found_page(self) -> Response:
        return Response.html_error(404, "Page not found")

    def _record_or_error(self, record_id: str) -> EmulatedRecord | Response:
        record = self.records.get(record_id)
        if record is None:
            return Response.json(
                {"status": 404, "message": "The persistent identifier does not exist."}, 404
            )
        if record.deleted:
            return Response.json({"status": 410, "message": "The record has been deleted."}, 410)
        return record

    def _redirect(self, location: str) -> Response:
        return Response(302, b"", headers={"Location": location})

    # -- routes

    @route("GET", r"/api/records/(?P<record_id>\d+)")
    def get_record(self, request: Request, record_id: str) -> Response:
        def build() -> Response:
            concept = record_id not in self.records and record_id in self.concepts
            if concept and self.redirect_concepts:
                latest = self._latest_of(record_id)
                if latest is not None:
                    return self._redirect(f"{self.url}/api/records/{latest}")
            found = self._record_or_error(record_id)
            if isinstance(found, Response):
                return found
            return Response.json(self._record_json(found, request))

        return self._answer(request, build)

    @route("GET", r"/api/records/(?P<record_id>\d+)/versions/latest")
    def get_latest(self, request: Request, record_id: str) -> Response:
        def build() -> Response:
            latest = self._latest_of(self._concept_of(record_id))
            if latest is None:
                return self._record_or_error(record_id)  # type: ignore[return-value]
            return self._redirect(f"{self.url}/api/records/{latest}")

        return self._answer(request, build)

    @route("GET", r"/api/records/(?P<record_id>\d+)/versions")
    def get_versions(self, request: Request, record_id: str) -> Response:
        def build() -> Response:
            concept = self._concept_of(record_id)
            if concept not in self.concepts:
                return self._record_or_error(record_id)  # type: ignore[return-value]
            hits = [
                self._record_json(self.records[version], request)
                for version in reversed(self.concepts[concept])
                if not self.records[version].deleted
            ]
            return Response.json({"hits": {"hits": hits, "total": len(hits)}, "links": {}})

        return self._answer(request, build)

    @route("GET", r"/api/records")
    def search(self, request: Request) -> Response:
        def build() -> Response:
            query = request.query.get("q", "").strip()
            field_name, _, value = query.partition(":")
            value = value.strip().strip('"')
            fields = {
                "doi": lambda record: (record.doi or "").lower() == value.lower(),
                "conceptrecid": lambda record: record.concept_id == value,
                "recid": lambda record: record.record_id == value,
                "id": lambda record: record.record_id == value,
            }
            test = fields.get(field_name, lambda record: False)
            matches = [r for r in self.records.values() if not r.deleted and test(r)]
            size = int(request.query.get("size", "10") or 10)
            hits = [self._record_json(record, request) for record in matches[:size]]
            return Response.json({"hits": {"hits": hits, "total": len(matches)}, "links": {}})

        return self._answer(request, build)

    @route("GET", r"/api/records/(?P<record_id>\d+)/files")
    def list_files(self, request: Request, record_id: str) -> Response:
        def build() -> Response:
            found = self._record_or_error(record_id)
            if isinstance(found, Response):
                return found
            if not self._files_listed(found, request):
                return _permission_denied()
            entries = [self._file_entry_json(found, file) for file in found.files.values()]
            return Response.json(
                {
                    "enabled": True,
                    "links": {"self": f"{self.url}/api/records/{record_id}/files"},
                    "entries": entries,
                    "default_preview": None,
                    "order": [],
                }
            )

        return self._answer(request, build)

    @route("GET", r"/api/records/(?P<record_id>\d+)/files/(?P<key>(?:(?!/content$).)+)")
    def get_file_entry(self, request: Request, record_id: str, key: str) -> Response:
        def build() -> Response:
            found = self._record_or_error(record_id)
            if isinstance(found, Response):
                return found
            if not self._files_listed(found, request):
                return _permission_denied()
            file = found.files.get(key)
            if file is None:
                return Response.json({"status": 404, "message": "File not found."}, 404)
            return Response.json(self._file_entry_json(found, file))

        return self._answer(request, build)

    @route("GET", r"/api/records/(?P<record_id>\d+)/files/(?P<key>.+)/content")
    @route("GET", r"/records/(?P<record_id>\d+)/files/(?P<key>.+)")
    def get_content(self, request: Request, record_id: str, key: str) -> Response:
        def build() -> Response:
            record = self.records.get(record_id)
            if record is None or record.deleted:
                return self._not_found_page()
            file = record.files.get(key)
            if file is None or not file.path.is_file():
                return self._not_found_page()
            if record.restricted and not self.check_token(request.bearer_token):
                return Response.html_error(403, "Permission denied")
            return Response.file(file.path, request, etag=f'"{file.checksum}"')

        return self._answer(request, build)

    @route("GET", r"/records/(?P<record_id>\d+)")
    def landing_page(self, request: Request, record_id: str) -> Response:
        def build() -> Response:
            record = self.records.get(record_id)
            if record is None:
                return self._not_found_page()
            title = html.escape(record.title)
            page = f"<!DOCTYPE html><html><head><title>{title}</title></head><body>"
            page += f"<h1>{title}</h1></body></html>"
            return Response.text(page, content_type="text/html; charset=utf-8")

        return self._answer(request, build)

    @route("GET", r"/(?!_emulator/).*")
    def anything_else(self, request: Request) -> Response:
        return self._answer(request, self._not_found_page)


def _size_of(file: EmulatedFile) -> int:
    """The file's size; 0 once its bytes are gone (see :meth:`ZenodoEmulator.delete_file`)."""
    try:
        return file.size
    except OSError:
        return 0


def _permission_denied() -> Response:
    return Response.json({"status": 403, "message": "Permission denied."}, 403)
