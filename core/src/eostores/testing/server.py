"""Emulator server toolkit: faithful local models of remote services, with fault injection.

A service emulator subclasses :class:`EmulatorServer` and declares its endpoints with
:func:`route`. It is served by a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 so that real
client libraries talk to it over real HTTP, and so that faults (latency, error statuses,
dropped connections, truncated bodies, throttled bodies, concurrency limits, expiring
tokens) can be injected at the socket level.

An emulator runs in a daemon thread of the current process (``with MyEmulator() as emu``)
or, for client libraries that hold the GIL, in a child process
(``MyEmulator.start_subprocess()``), controlled over the ``/_emulator/*`` endpoints.
"""

from __future__ import annotations

import argparse
import dataclasses
import email.utils
import hashlib
import importlib
import json
import logging
import math
import mimetypes
import os
import random
import re
import secrets
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, TextIO
from urllib.parse import parse_qsl, unquote

__all__ = [
    "EmulatorProcess",
    "EmulatorServer",
    "FaultProfile",
    "Headers",
    "Request",
    "RequestRecord",
    "Response",
    "main",
    "route",
    "run_emulator",
]

logger = logging.getLogger("eostores.testing.server")

CONTROL_PREFIX = "/_emulator/"
_STREAM_CHUNK = 64 * 1024
_REDACTED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "private-token",
        "x-api-key",
        "api-key",
        "x-auth-token",
    }
)


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
        if isinstance(body, str):
            body = body.encode("utf-8")
            self.headers.setdefault("Content-Type", "text/plain; charset=utf-8")
        elif isinstance(body, bytearray | memoryview):
            body = bytes(body)
        self.body: bytes | Iterable[bytes] = body
        if content_type is not None:
            self.headers["Content-Type"] = content_type

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
class _Route:
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


# --------------------------------------------------------------------------- faults and log


@dataclass
class FaultProfile:
    """Faults injected into the requests whose path fully matches ``paths`` (all when ``None``).

    Rates are probabilities in 0..1 drawn from ``random.Random(seed)``; ``fail_first`` makes
    the first N matching requests fail deterministically with ``error_statuses[0]``.
    ``retry_after`` is sent with injected error statuses and 429s: seconds (int or float),
    or ``"date"`` for an HTTP-date at least one second ahead. Control endpoints
    (``/_emulator/...``) are never affected.
    """

    latency_ms: float = 0.0
    slow_body_bytes_per_s: float | None = None
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (503,)
    retry_after: int | float | str | None = None
    fail_first: int = 0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    max_concurrency_per_client: int | None = None
    token_ttl_s: float | None = None
    paths: str | None = None
    seed: int | None = None

    def __post_init__(self) -> None:
        self.error_statuses = tuple(int(status) for status in self.error_statuses)
        if not self.error_statuses:
            raise ValueError("error_statuses must not be empty")
        for name in ("error_rate", "drop_rate", "truncate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value!r}")
        if isinstance(self.retry_after, str) and self.retry_after != "date":
            raise ValueError(f"retry_after must be seconds or 'date', got {self.retry_after!r}")
        if self.paths is not None:
            re.compile(self.paths)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        data = dataclasses.asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultProfile:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**data)


def _coerce_faults(faults: FaultProfile | Mapping[str, Any] | str | None) -> FaultProfile | None:
    if faults is None or isinstance(faults, FaultProfile):
        return faults
    if isinstance(faults, str):
        faults = json.loads(faults)
        if faults is None:
            return None
    return FaultProfile.from_dict(faults)  # type: ignore[arg-type]


@dataclass
class RequestRecord:
    """One request served (control endpoints excluded).

    ``status`` is 0 for a dropped connection; ``fault`` names the injected fault, if any
    (``"error"``, ``"fail_first"``, ``"drop"``, ``"truncate"``, ``"concurrency"``).
    Header names are lowercase; credential headers carry ``"<scheme> ***"`` or ``"***"``.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    bytes_sent: int
    duration_s: float
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    started: float = 0.0


def _redact_headers(headers: Headers) -> dict[str, str]:
    result = headers.lowercased()
    for name in _REDACTED_HEADERS & result.keys():
        scheme, sep, _ = result[name].partition(" ")
        result[name] = f"{scheme} ***" if sep and name.endswith("authorization") else "***"
    return result


class _FaultState:
    """The mutable state of one active fault profile: its random stream and counters."""

    def __init__(self, profile: FaultProfile | None):
        self.profile = profile
        self.random = random.Random(profile.seed if profile else None)
        self.matched = 0
        self.lock = threading.Lock()
        self.paths = re.compile(profile.paths) if profile and profile.paths else None

    def applies(self, path: str) -> bool:
        return self.profile is not None and (self.paths is None or bool(self.paths.fullmatch(path)))


@dataclass
class _Decision:
    latency_s: float = 0.0
    fault: str | None = None
    status: int | None = None
    truncate: bool = False
    slow_rate: float | None = None


# --------------------------------------------------------------------------- server


class _HttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
    emulator: EmulatorServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "eostores-emulator"
    server: _HttpServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without this, Nagle's algorithm and
        # delayed ACKs add ~40 ms to every response.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.emulator._track_connection(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.emulator._track_connection(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.address_string(), *args)

    def _dispatch(self) -> None:
        self.server.emulator._handle(self)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _dispatch

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while True:
                size_line = self.rfile.readline(1024)
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline(1024)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""


class EmulatorServer:
    """Base class of service emulators; see the module docstring.

    Subclasses set ``name``, declare routes with :func:`route` and implement
    :meth:`store_params`. Extra ``__init__`` keyword arguments of subclasses must be
    JSON-serialisable to be usable with :meth:`start_subprocess`.
    """

    name: ClassVar[str] = "emulator"
    _routes: ClassVar[list[_Route]] = []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        by_attribute: dict[str, list[tuple[str, str]]] = {}
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                declared = getattr(value, "_emulator_routes", None)
                if declared is not None:
                    by_attribute[attribute] = declared
                elif attribute in by_attribute:
                    del by_attribute[attribute]  # overridden without a route
        cls._routes = [
            _Route(method, re.compile(pattern), attribute)
            for attribute, declared in by_attribute.items()
            for method, pattern in declared
        ]

    def __init__(
        self,
        latency_ms: float = 0,
        faults: FaultProfile | Mapping[str, Any] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
    ):
        self.latency_ms = latency_ms
        self.host = host
        self.port = port
        self._fault_state = _FaultState(_coerce_faults(faults))
        self._log: list[RequestRecord] = []
        self._lock = threading.Lock()
        self._active_by_client: dict[str, int] = {}
        self._active = 0
        self._peak = 0
        self._tokens: dict[str, float] = {}
        self._connections: set[socket.socket] = set()
        self._server: _HttpServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle

    def start(self) -> EmulatorServer:
        """Serve on ``host:port`` (a free port when 0) from a daemon thread."""
        if self._server is not None:
            raise RuntimeError(f"emulator {self.name!r} is already running at {self.url}")
        server = _HttpServer((self.host, self.port), _Handler)
        server.emulator = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"emulator-{self.name}-{self.port}",
            daemon=True,
        )
        self._thread.start()
        logger.debug("emulator %s serving at %s", self.name, self.url)
        return self

    def stop(self) -> None:
        """Stop serving and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def url(self) -> str:
        """``http://host:port`` of the running emulator."""
        if self._server is None:
            raise RuntimeError(f"emulator {self.name!r} is not running")
        return f"http://{self.host}:{self.port}"

    def store_params(self) -> dict[str, Any]:
        """Store parameters that point a store at this emulator."""
        return {}

    # -- faults, tokens, log

    @property
    def faults(self) -> FaultProfile | None:
        return self._fault_state.profile

    @faults.setter
    def faults(self, profile: FaultProfile | Mapping[str, Any] | None) -> None:
        """Replace the fault profile; counters (``fail_first``) and the random stream restart."""
        self._fault_state = _FaultState(_coerce_faults(profile))

    def issue_token(self) -> str:
        """A new access token, valid for ``faults.token_ttl_s`` seconds (forever if unset)."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens[token] = time.monotonic()
        return token

    def check_token(self, token: str | None) -> bool:
        """Whether ``token`` was issued by :meth:`issue_token` and has not expired."""
        with self._lock:
            issued = self._tokens.get(token or "")
        if issued is None:
            return False
        ttl = self.faults.token_ttl_s if self.faults else None
        return ttl is None or time.monotonic() - issued < ttl

    def require_bearer(self, request: Request) -> Response | None:
        """``None`` when the request carries a valid bearer token, else a 401 response."""
        token = request.bearer_token
        if token is None:
            message = "Authentication credentials were not provided."
        elif not self.check_token(token):
            message = "The access token is invalid or has expired."
        else:
            return None
        return Response.json(
            {"message": message}, status=401, headers={"WWW-Authenticate": "Bearer"}
        )

    @property
    def request_log(self) -> list[RequestRecord]:
        """A copy of the records of requests served so far."""
        with self._lock:
            return list(self._log)

    @property
    def peak_concurrency(self) -> int:
        """The largest number of requests in progress at once since the last reset."""
        return self._peak

    def reset_log(self) -> None:
        """Forget the request log and the peak concurrency."""
        with self._lock:
            self._log.clear()
            self._peak = self._active

    # -- subprocess mode

    @classmethod
    def start_subprocess(cls, **init_kwargs: Any) -> EmulatorProcess:
        """Run this emulator in a child process; see :class:`EmulatorProcess`."""
        return EmulatorProcess(cls, **init_kwargs)

    # -- request handling

    def _track_connection(self, connection: socket.socket, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _handle(self, handler: _Handler) -> None:
        started_wall = time.time()
        started = time.monotonic()
        raw_path, _, raw_query = handler.path.partition("?")
        query_list = parse_qsl(raw_query, keep_blank_values=True)
        try:
            body = handler.read_body()
        except (ValueError, OSError):
            handler.close_connection = True
            return
        request = Request(
            method=handler.command.upper(),
            path=unquote(raw_path),
            query=dict(query_list),
            query_list=query_list,
            headers=Headers(handler.headers.items()),
            body=body,
            client=handler.client_address,
            raw_path=raw_path,
        )
        if request.path.startswith(CONTROL_PREFIX):
            self._send(handler, self._control(request), head=request.method == "HEAD")
            return

        client_ip = handler.client_address[0]
        state = self._fault_state
        profile = state.profile if state.applies(request.path) else None
        admitted = self._enter(client_ip, profile)
        record = RequestRecord(
            method=request.method,
            path=request.path,
            query=request.query,
            status=0,
            bytes_sent=0,
            duration_s=0.0,
            headers=_redact_headers(request.headers),
            started=started_wall,
        )
        with self._lock:
            self._log.append(record)
        left = False

        def finish() -> None:
            # Runs before the last bytes go out, so that a client that has its answer
            # sees a complete log record and a free concurrency slot.
            nonlocal left
            if not left:
                left = True
                record.duration_s = time.monotonic() - started
                self._leave(client_ip, admitted)

        try:
            decision = self._decide(state, profile, admitted)
            if decision.latency_s > 0:
                time.sleep(decision.latency_s)
            record.fault = decision.fault
            if decision.fault == "drop":
                finish()
                handler.close_connection = True
                return
            if decision.status is not None:
                response = self._fault_response(decision.status, profile)
            else:
                response = self._route(request)
            record.status = response.status
            if decision.truncate:
                record.fault = record.fault or "truncate"
            self._send(
                handler,
                response,
                head=request.method == "HEAD",
                truncate=decision.truncate,
                slow_rate=decision.slow_rate,
                record=record,
                before_last_write=finish,
            )
        finally:
            finish()

    def _enter(self, client_ip: str, profile: FaultProfile | None) -> bool:
        limit = profile.max_concurrency_per_client if profile else None
        with self._lock:
            active = self._active_by_client.get(client_ip, 0)
            if limit is not None and active >= limit:
                return False
            self._active_by_client[client_ip] = active + 1
            self._active += 1
            self._peak = max(self._peak, self._active)
            return True

    def _leave(self, client_ip: str, admitted: bool) -> None:
        if not admitted:
            return
        with self._lock:
            self._active_by_client[client_ip] -= 1
            self._active -= 1

    def _decide(
        self, state: _FaultState, profile: FaultProfile | None, admitted: bool
    ) -> _Decision:
        decision = _Decision(latency_s=max(0.0, self.latency_ms) / 1000.0)
        if profile is None:
            return decision
        decision.latency_s += max(0.0, profile.latency_ms) / 1000.0
        decision.slow_rate = profile.slow_body_bytes_per_s
        if not admitted:
            decision.fault, decision.status = "concurrency", 429
            return decision
        with state.lock:
            state.matched += 1
            if state.matched <= profile.fail_first:
                decision.fault, decision.status = "fail_first", profile.error_statuses[0]
                return decision
            rng = state.random
            if profile.drop_rate and rng.random() < profile.drop_rate:
                decision.fault = "drop"
            elif profile.error_rate and rng.random() < profile.error_rate:
                decision.fault = "error"
                decision.status = rng.choice(profile.error_statuses)
            elif profile.truncate_rate and rng.random() < profile.truncate_rate:
                decision.truncate = True
        return decision

    def _fault_response(self, status: int, profile: FaultProfile | None) -> Response:
        try:
            phrase = HTTPStatus(status).phrase
        except ValueError:
            phrase = "Error"
        headers = {}
        retry_after = profile.retry_after if profile else None
        if retry_after is None and status == 429:
            retry_after = 1
        if retry_after == "date":
            headers["Retry-After"] = email.utils.formatdate(
                math.ceil(time.time() + 1.0), usegmt=True
            )
        elif retry_after is not None:
            seconds = float(retry_after)
            headers["Retry-After"] = str(int(seconds)) if seconds.is_integer() else str(seconds)
        return Response.json({"message": f"{phrase} (emulated fault)"}, status, headers)

    def _route(self, request: Request) -> Response:
        method = request.method
        allowed: set[str] = set()
        matched: tuple[_Route, re.Match[str]] | None = None
        head_fallback: tuple[_Route, re.Match[str]] | None = None
        for candidate in self._routes:
            match = candidate.pattern.fullmatch(request.path)
            if match is None:
                continue
            allowed.add(candidate.method)
            if candidate.method == method and matched is None:
                matched = (candidate, match)
            elif method == "HEAD" and candidate.method == "GET" and head_fallback is None:
                head_fallback = (candidate, match)
        matched = matched or head_fallback
        if matched is None:
            if not allowed:
                return Response.json({"message": f"Not found: {request.path}"}, 404)
            if "GET" in allowed:
                allowed.add("HEAD")
            allow = ", ".join(sorted(allowed))
            return Response.json(
                {"message": f"Method {method} not allowed for {request.path}"},
                405,
                headers={"Allow": allow},
            )
        chosen, match = matched
        try:
            result = getattr(self, chosen.attribute)(request, **match.groupdict())
        except Exception as error:
            logger.exception("emulator %s failed on %s %s", self.name, method, request.path)
            return Response.json(
                {"message": f"Internal emulator error: {type(error).__name__}: {error}"}, 500
            )
        if isinstance(result, Response):
            return result
        if isinstance(result, dict | list):
            return Response.json(result)
        raise TypeError(f"route {chosen.attribute} returned {type(result).__name__}")

    def _send(
        self,
        handler: _Handler,
        response: Response,
        *,
        head: bool,
        truncate: bool = False,
        slow_rate: float | None = None,
        record: RequestRecord | None = None,
        before_last_write: Callable[[], None] | None = None,
    ) -> None:
        """Write the response, counting body bytes into ``record``.

        ``before_last_write`` is called once, just before the final bytes are written.
        """
        body = response.body
        headers = response.headers
        no_body = head or response.status in (204, 304) or response.status < 200
        if not isinstance(body, bytes) and truncate and not no_body:
            body = b"".join(body)
        if isinstance(body, bytes) and truncate and not no_body:
            length: int | None = len(body)
            body = body[: len(body) // 2]
            handler.close_connection = True
        elif isinstance(body, bytes):
            length = len(body)
        else:
            length = int(headers["Content-Length"]) if "Content-Length" in headers else None
        finish = before_last_write or (lambda: None)
        try:
            handler.send_response(response.status)
            for name, value in headers.items():
                handler.send_header(name, value)
            bodyless_status = response.status in (204, 304) or response.status < 200
            if "Content-Length" not in headers and length is not None and not bodyless_status:
                handler.send_header("Content-Length", str(length))
            if length is None and not no_body:
                handler.send_header("Connection", "close")
            if no_body or body == b"":
                finish()
                handler.end_headers()
                return
            handler.end_headers()
            pieces: Iterable[bytes] = [body] if isinstance(body, bytes) else body
            iterator = iter(pieces)
            current = next(iterator, None)
            while current is not None:
                following = next(iterator, None)
                last = following is None
                self._write(handler, current, slow_rate, record, finish if last else None)
                current = following
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            handler.close_connection = True
        finally:
            finish()
            close = getattr(body, "close", None)
            if close is not None and not isinstance(body, bytes):
                close()

    @staticmethod
    def _write(
        handler: _Handler,
        data: bytes,
        rate: float | None,
        record: RequestRecord | None,
        before_last: Callable[[], None] | None,
    ) -> None:
        piece = max(1, int(rate / 20)) if rate else max(1, len(data))
        for offset in range(0, len(data), piece):
            part = data[offset : offset + piece]
            if record is not None:
                record.bytes_sent += len(part)
            if before_last is not None and offset + piece >= len(data):
                before_last()
            handler.wfile.write(part)
            if rate:
                time.sleep(len(part) / rate)

    def _control(self, request: Request) -> Response:
        """The ``/_emulator/*`` endpoints: log, faults, tokens, info."""
        action = request.path[len(CONTROL_PREFIX) :].strip("/")
        method = request.method
        if action == "log" and method in ("GET", "HEAD"):
            records = [dataclasses.asdict(record) for record in self.request_log]
            return Response.json({"records": records, "peak_concurrency": self.peak_concurrency})
        if (action == "log" and method == "DELETE") or (action == "reset" and method == "POST"):
            self.reset_log()
            return Response(204)
        if action == "faults" and method in ("GET", "HEAD"):
            return Response.json(self.faults.to_dict() if self.faults else None)
        if action == "faults" and method in ("POST", "PUT"):
            try:
                self.faults = _coerce_faults(request.json())
            except (ValueError, TypeError) as error:
                return Response.json({"message": str(error)}, 400)
            return Response(204)
        if action == "token" and method == "POST":
            return Response.json({"token": self.issue_token()})
        if action == "info" and method in ("GET", "HEAD"):
            return Response.json(
                {"name": self.name, "url": self.url, "store_params": self.store_params()}
            )
        return Response.json({"message": f"Unknown control endpoint {method} {request.path}"}, 404)


# --------------------------------------------------------------------------- subprocess mode


class EmulatorProcess:
    """An emulator running in a child process, controlled over its ``/_emulator/*`` endpoints.

    The child exits on :meth:`stop` and when this process dies (it watches its stdin).
    The child inherits this process's ``sys.path`` so that emulator classes defined in test
    modules can be imported there.
    """

    def __init__(
        self,
        emulator_class: type[EmulatorServer],
        *,
        startup_timeout: float = 60.0,
        **init_kwargs: Any,
    ):
        module = emulator_class.__module__
        if module == "__main__" or "<locals>" in emulator_class.__qualname__:
            raise ValueError(
                f"{emulator_class.__qualname__} must be importable by module path "
                "to run in a subprocess (define it at module level of an importable module)"
            )
        self.emulator_class = emulator_class
        port = int(init_kwargs.pop("port", 0))
        host = init_kwargs.pop("host", "127.0.0.1")
        latency_ms = init_kwargs.pop("latency_ms", 0)
        faults = _coerce_faults(init_kwargs.pop("faults", None))
        command = [
            sys.executable,
            "-m",
            "eostores.testing.server",
            "--class",
            f"{module}:{emulator_class.__qualname__}",
            "--host",
            host,
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
            "--watch-stdin",
        ]
        if faults is not None:
            command += ["--faults", json.dumps(faults.to_dict())]
        if init_kwargs:
            command += ["--kwargs", json.dumps(init_kwargs)]
        env = dict(os.environ)
        paths = [os.getcwd() if entry == "" else entry for entry in sys.path]
        paths += env.get("PYTHONPATH", "").split(os.pathsep)
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in paths if p))
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in stop())
        self._process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env=env,
        )
        try:
            info = json.loads(self._read_first_line(startup_timeout))
        except BaseException:
            self.stop()
            raise
        self.url: str = info["url"]
        self._store_params: dict[str, Any] = info["store_params"]

    def _read_first_line(self, timeout: float) -> str:
        assert self._process.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            if selector.select(timeout):
                line = self._process.stdout.readline().decode("utf-8").strip()
                if line:
                    return line
        self._process.poll()
        raise RuntimeError(
            f"emulator {self.emulator_class.__qualname__} did not start "
            f"(exit code {self._process.returncode}): {self._stderr_tail()}"
        )

    def _stderr_tail(self, limit: int = 4000) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")[-limit:]

    @property
    def pid(self) -> int:
        return self._process.pid

    def store_params(self) -> dict[str, Any]:
        """Store parameters that point a store at the emulator."""
        return dict(self._store_params)

    def _call(self, method: str, action: str, payload: Any = None) -> Any:
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(
            f"{self.url}{CONTROL_PREFIX}{action}",
            data=data,
            method=method,
            headers={"Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                body = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode("utf-8", "replace")
            raise RuntimeError(f"emulator control {method} {action} failed: {detail}") from None
        return json.loads(body) if body else None

    def _log(self) -> dict[str, Any]:
        return self._call("GET", "log")

    @property
    def request_log(self) -> list[RequestRecord]:
        """The child's request log."""
        return [RequestRecord(**record) for record in self._log()["records"]]

    @property
    def peak_concurrency(self) -> int:
        return int(self._log()["peak_concurrency"])

    def reset_log(self) -> None:
        self._call("DELETE", "log")

    def set_faults(self, faults: FaultProfile | Mapping[str, Any] | None) -> None:
        """Replace the child's fault profile (``None`` removes all faults)."""
        profile = _coerce_faults(faults)
        self._call("POST", "faults", profile.to_dict() if profile else None)

    def issue_token(self) -> str:
        """A token the child emulator accepts (see :meth:`EmulatorServer.issue_token`)."""
        return self._call("POST", "token")["token"]

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the child: close its stdin, then terminate, then kill."""
        process = self._process
        if process.poll() is None:
            try:
                if process.stdin is not None:
                    process.stdin.close()
                process.wait(timeout)
            except (subprocess.TimeoutExpired, OSError):
                process.terminate()
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                stream.close()
        self._stderr.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --------------------------------------------------------------------------- command line


def _load_class(spec: str) -> type[EmulatorServer]:
    module_name, sep, qualname = spec.partition(":")
    if not sep:
        raise ValueError(f"expected 'module:Class', got {spec!r}")
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    if not (isinstance(target, type) and issubclass(target, EmulatorServer)):
        raise TypeError(f"{spec} is not an EmulatorServer subclass")
    return target


def run_emulator(
    cls: type[EmulatorServer],
    port: int = 0,
    latency_ms: float = 0,
    faults: FaultProfile | Mapping[str, Any] | str | None = None,
    out: TextIO | None = None,
    *,
    host: str = "127.0.0.1",
    init_kwargs: Mapping[str, Any] | None = None,
    stop_event: threading.Event | None = None,
    watch_stdin: bool = False,
) -> None:
    """Run an emulator in the foreground until interrupted (or ``stop_event`` is set).

    Writes one JSON line ``{"name", "url", "port", "store_params"}`` to ``out``
    (standard output by default) once the server listens.
    """
    out = sys.stdout if out is None else out
    stop_event = stop_event or threading.Event()
    emulator = cls(
        latency_ms=latency_ms,
        faults=_coerce_faults(faults),
        host=host,
        port=port,
        **dict(init_kwargs or {}),
    )
    with emulator:
        info = {
            "name": emulator.name,
            "url": emulator.url,
            "port": emulator.port,
            "store_params": emulator.store_params(),
        }
        out.write(json.dumps(info) + "\n")
        out.flush()
        if watch_stdin:
            sys.stdout = sys.stderr  # the parent reads only the first line

            def watch() -> None:
                try:
                    while sys.stdin.buffer.read(4096):
                        pass
                finally:
                    stop_event.set()

            threading.Thread(target=watch, name="emulator-stdin-watch", daemon=True).start()
        try:
            while not stop_event.wait(0.2):
                pass
        except KeyboardInterrupt:
            pass


def main(argv: list[str] | None = None) -> int:
    """``python -m eostores.testing.server --class pkg.mod:Class [--port P] ...``."""
    parser = argparse.ArgumentParser(
        prog="python -m eostores.testing.server", description="Run a service emulator."
    )
    parser.add_argument("--class", dest="cls", required=True, help="module:Class of the emulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--faults", default=None, help="FaultProfile settings as JSON")
    parser.add_argument("--kwargs", default=None, help="extra emulator arguments as JSON")
    parser.add_argument("--watch-stdin", action="store_true", help="exit when stdin closes")
    args = parser.parse_args(argv)
    try:
        cls = _load_class(args.cls)
        faults = _coerce_faults(args.faults)
        init_kwargs = json.loads(args.kwargs) if args.kwargs else None
    except (ImportError, AttributeError, TypeError, ValueError) as error:
        parser.error(str(error))
    run_emulator(
        cls,
        port=args.port,
        latency_ms=args.latency_ms,
        faults=faults,
        host=args.host,
        init_kwargs=init_kwargs,
        watch_stdin=args.watch_stdin,
    )
    return 0


if __name__ == "__main__":
    # Delegate to the canonical module so that classes compare equal with the emulator's imports.
    from eostores.testing.server import main as _main

    sys.exit(_main())
