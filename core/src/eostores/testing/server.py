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

import dataclasses
import email.utils
import hashlib
import logging
import math
import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, unquote

from .faults import (
    FaultDecision,
    FaultProfile,
    FaultState,
    RequestRecord,
    coerce_faults,
    redact_headers,
)
from .messages import CONTROL_PREFIX, Headers, Request, Response, Route, route
from .process import EmulatorProcess

__all__ = [
    "EmulatorProcess",
    "EmulatorServer",
    "FaultProfile",
    "Headers",
    "Request",
    "RequestRecord",
    "Response",
    "route",
]

logger = logging.getLogger("eostores.testing.server")


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
    _routes: ClassVar[list[Route]] = []

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
            Route(method, re.compile(pattern), attribute)
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
        self._fault_state = FaultState(coerce_faults(faults))
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
        self._fault_state = FaultState(coerce_faults(profile))

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
            headers=redact_headers(request.headers),
            started=started_wall,
            raw_path=request.raw_path,
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
            key = (
                request.method,
                request.raw_path,
                request.headers.get("Range") or "",
                hashlib.sha1(request.body, usedforsecurity=False).hexdigest(),
            )
            decision = self._decide(state, profile, admitted, key)
            if decision.latency_s > 0:
                time.sleep(decision.latency_s)
            record.fault = decision.fault
            if decision.fault == "drop":
                finish()
                handler.close_connection = True
                return
            if decision.status is not None:
                response = self.fault_response(request, decision.status, profile)
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
        self,
        state: FaultState,
        profile: FaultProfile | None,
        admitted: bool,
        key: tuple[str, ...] = (),
    ) -> FaultDecision:
        decision = FaultDecision(latency_s=max(0.0, self.latency_ms) / 1000.0)
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
                if state.may_fault(key, profile.drop_rate):
                    decision.fault = "drop"
            elif profile.error_rate and rng.random() < profile.error_rate:
                status = rng.choice(profile.error_statuses)
                if state.may_fault(key, profile.error_rate):
                    decision.fault, decision.status = "error", status
            elif profile.truncate_rate and rng.random() < profile.truncate_rate:
                decision.truncate = state.may_fault(key, profile.truncate_rate)
            if decision.fault is not None or decision.truncate:
                state.count_fault(key)
        return decision

    def fault_response(
        self, request: Request, status: int, profile: FaultProfile | None
    ) -> Response:
        """The answer to ``request`` when the fault profile fails it with ``status``.

        JSON ``{"message": ...}`` with ``Retry-After`` from ``profile.retry_after`` (1 for a
        429 without one) in seconds, or as an HTTP date. Emulators of services that answer
        faults in another shape or unit override it.
        """
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
        matched: tuple[Route, re.Match[str]] | None = None
        head_fallback: tuple[Route, re.Match[str]] | None = None
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
                self.faults = coerce_faults(request.json())
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
