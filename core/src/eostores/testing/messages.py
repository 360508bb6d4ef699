"""Requests, responses and routes of the emulator server: the HTTP vocabulary of an emulator."""

from __future__ import annotations

import email.utils
import hashlib
import json
import mimetypes
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CONTROL_PREFIX = "/_emulator/"
_STREAM_CHUNK = 64 * 1024


# --------------------------------------------------------------------------- headers


class Headers(Mapping[str, str]):
    """A case-insensitive mapping of HTTP header names to values that keeps the original names."""

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] | None = None):
        self._items: dict[str, tuple[str, str]] = {}
        if items is not None:
            pairs = items.items() if isinstance(items, Mapping) else items
            for name, value in pairs:
                self[name] = value

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()][1]

    def __setitem__(self, name: str, value: Any) -> None:
        self._items[name.lower()] = (name, str(value))

    def __delitem__(self, name: str) -> None:
        del self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return (original for original, _ in self._items.values())

    def __len__(self) -> int:
        return len(self._items)

    def setdefault(self, name: str, value: Any) -> str:  # type: ignore[override]
        if name not in self:
            self[name] = value
        return self[name]

    def lowercased(self) -> dict[str, str]:
        """A plain dict with lowercase names."""
        return {key: value for key, (_, value) in self._items.items()}

    def __repr__(self) -> str:
        return f"Headers({dict(self.items())!r})"


# --------------------------------------------------------------------------- request / response


@dataclass
class Request:
    """One HTTP request as seen by an emulator route."""

    method: str
    path: str
    query: dict[str, str]
    query_list: list[tuple[str, str]]
    headers: Headers
    body: bytes
    client: tuple[str, int]
    raw_path: str = ""

    def json(self) -> Any:
        """The body parsed as JSON (``None`` for an empty body)."""
        return json.loads(self.body) if self.body else None

    @property
    def bearer_token(self) -> str | None:
        """The token of an ``Authorization: Bearer <token>`` header, if any."""
        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        return value.strip() or None if scheme.lower() == "bearer" else None

    @property
    def basic_auth(self) -> tuple[str, str] | None:
        """``(user, password)`` of an ``Authorization: Basic`` header, if any."""
        import base64
        import binascii

        scheme, _, value = self.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return None
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        user, sep, password = decoded.partition(":")
        return (user, password) if sep else None


class Response:
    """What a route returns: status, body and headers.

    ``body`` may be bytes, text (sent as UTF-8) or an iterable of bytes, which is streamed;
    a streamed body without a ``Content-Length`` header ends by closing the connection.
    """

    def __init__(
        self,
        status: int = 200,
        body: bytes | str | Iterable[bytes] = b"",
        headers: Mapping[str, str] | None = None,
        content_type: str | None = None,
    ):
        self.status = int(status)
        self.headers = Headers(headers)
        if content_type is not None:  # a Content-Type in headers wins
            self.headers.setdefault("Content-Type", content_type)
        if isinstance(body, str):
            body = body.encode("utf-8")
            self.headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif isinstance(body, bytearray | memoryview):
            body = bytes(body)
        self.body: bytes | Iterable[bytes] = body

    @classmethod
    def json(
        cls, obj: Any, status: int = 200, headers: Mapping[str, str] | None = None
    ) -> Response:
        """A JSON response."""
        body = json.dumps(obj).encode("utf-8")
        return cls(status, body, headers, content_type="application/json")

    @classmethod
    def text(
        cls,
        text: str,
        status: int = 200,
        headers: Mapping[str, str] | None = None,
        content_type: str = "text/plain; charset=utf-8",
    ) -> Response:
        """A plain-text (or other textual ``content_type``) response."""
        return cls(status, text.encode("utf-8"), headers, content_type=content_type)

    @classmethod
    def html_error(
        cls, status: int, title: str, headers: Mapping[str, str] | None = None
    ) -> Response:
        """A small HTML error page, as many real services send instead of JSON."""
        import html

        safe = html.escape(title)
        page = (
            "<!DOCTYPE html>\n<html>\n<head><title>"
            f"{safe}</title></head>\n<body>\n<h1>{safe}</h1>\n"
            f"<p>Error {int(status)}.</p>\n</body>\n</html>\n"
        )
        return cls(status, page.encode("utf-8"), headers, content_type="text/html; charset=utf-8")

    @classmethod
    def file(
        cls,
        data_or_path: bytes | str | os.PathLike[str],
        request: Request,
        content_type: str | None = None,
        etag: str | None = None,
    ) -> Response:
        """Serve bytes or a file like a static file server: ETag, ranges, conditional GET.

        Honours a single ``Range: bytes=a-b`` / ``a-`` / ``-n`` with 206 and ``Content-Range``,
        answers 416 when the range cannot be satisfied, ignores malformed or multiple ranges
        (full 200 answer), and answers 304 to a matching ``If-None-Match``.
        """
        headers = Headers({"Accept-Ranges": "bytes"})
        if isinstance(data_or_path, bytes | bytearray | memoryview):
            data: bytes | None = bytes(data_or_path)
            path = None
            size = len(data)
            if etag is None:
                etag = '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'
            default_type = "application/octet-stream"
        else:
            data = None
            path = Path(data_or_path)
            stat = path.stat()
            size = stat.st_size
            if etag is None:
                etag = f'"{size:x}-{stat.st_mtime_ns:x}"'
            headers["Last-Modified"] = email.utils.formatdate(stat.st_mtime, usegmt=True)
            default_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        headers["ETag"] = etag
        headers["Content-Type"] = content_type or default_type

        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and etag in [tag.strip() for tag in if_none_match.split(",")]:
            return cls(304, b"", headers)

        byte_range = _parse_range(request.headers.get("Range"), size)
        if_range = request.headers.get("If-Range")
        if if_range is not None and if_range.strip() != etag:
            byte_range = None
        if byte_range == "unsatisfiable":
            headers["Content-Range"] = f"bytes */{size}"
            headers["Content-Length"] = "0"
            return cls(416, b"", headers)
        status, start, end = 200, 0, size  # end exclusive
        if isinstance(byte_range, tuple):
            status, (start, end) = 206, byte_range
            headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
        headers["Content-Length"] = str(end - start)
        if data is not None:
            return cls(status, data[start:end], headers)
        assert path is not None
        return cls(status, _read_file_range(path, start, end), headers)


def _parse_range(header: str | None, size: int) -> tuple[int, int] | str | None:
    """``(start, end_exclusive)``, ``"unsatisfiable"``, or ``None`` to serve everything."""
    if not header:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", header)
    if not match or match.group(1) == match.group(2) == "":
        return None  # malformed or several ranges: ignored as RFC 9110 allows
    first, last = match.group(1), match.group(2)
    if first == "":
        suffix = int(last)
        if suffix == 0 or size == 0:
            return "unsatisfiable"
        return max(0, size - suffix), size
    start = int(first)
    if last != "" and int(last) < start:
        return None
    if start >= size:
        return "unsatisfiable"
    end = size if last == "" else min(size, int(last) + 1)
    return start, end


def _read_file_range(path: Path, start: int, end: int) -> Iterator[bytes]:
    with open(path, "rb") as f:
        f.seek(start)
        remaining = end - start
        while remaining > 0:
            chunk = f.read(min(_STREAM_CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk


# --------------------------------------------------------------------------- routes


@dataclass(frozen=True)
class Route:
    """An endpoint of an emulator: method, path pattern and the method's attribute name."""

    method: str
    pattern: re.Pattern[str]
    attribute: str


def route(method: str, pattern: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare an emulator endpoint.

    ``pattern`` is a regular expression fully matched against the decoded path (without the
    query); its named groups are passed to the method as keyword arguments. A GET route
    also answers HEAD unless a HEAD route is declared. Decorators may be stacked.
    """
    method = method.upper()
    re.compile(pattern)  # fail at class definition on a bad pattern

    def decorate(function: Callable[..., Any]) -> Callable[..., Any]:
        routes = list(getattr(function, "_emulator_routes", ()))
        routes.insert(0, (method, pattern))
        function._emulator_routes = routes  # type: ignore[attr-defined]
        return function

    return decorate
