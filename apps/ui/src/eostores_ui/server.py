"""The HTTP side of ``eostores ui``: static files, a JSON API, and who may use them.

Served by the standard library's ``ThreadingHTTPServer``. By default it listens on
127.0.0.1 only; on any other interface a token is required in the page's URL (printed at
start), as Jupyter does. Every API call carries the page's token in a header, so that
other web sites open in the same browser cannot drive the application, and requests
naming another host are refused (DNS rebinding). Request logs never show the token, and
form values (which may hold secrets) travel in request bodies only, which are not logged.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import secrets
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from eostores.errors import InvalidParameterError

from .app import UiApp, UiError

__all__ = ["UiServer", "is_loopback"]

logger = logging.getLogger("eostores.ui")

TOKEN_HEADER = "X-Eostores-Token"
_COOKIE = "eostores_ui_token"
_MAX_BODY = 1 << 20
_STATIC_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        "script-src 'self'; connect-src 'self'; frame-ancestors 'none'"
    ),
}
_TOKEN_IN_TEXT = re.compile(r"(token=)[^&\s\"]+")


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address or name of this machine's loopback interface."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _static(name: str) -> bytes | None:
    if not re.fullmatch(r"[a-z0-9_-]+\.[a-z]+", name):
        return None
    entry = resources.files("eostores_ui").joinpath("static", name)
    return entry.read_bytes() if entry.is_file() else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    ui: UiServer


class _Server6(_Server):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "eostores-ui"
    protocol_version = "HTTP/1.1"

    # -- plumbing -------------------------------------------------------------------------

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s %s", self.address_string(), _TOKEN_IN_TEXT.sub(r"\1***", format % args))

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for key, value in {**_SECURITY_HEADERS, **(headers or {})}.items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json")

    def _refuse(self, status: int, text: str) -> None:
        self._send(status, (text + "\n").encode(), "text/plain; charset=utf-8")

    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise UiError(413, {"error": "request too large"})
        raw = self.rfile.read(length) if length else b"{}"
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            raise UiError(400, {"error": "the request body is not JSON"}) from None
        if not isinstance(body, dict):
            raise UiError(400, {"error": "the request body must be a JSON object"})
        return body

    def _host_allowed(self) -> bool:
        ui = self.server.ui
        if not ui.loopback:
            return True
        host = (self.headers.get("Host") or "").lower()
        return host in ui.allowed_hosts

    def _cookie_token(self) -> str | None:
        for part in (self.headers.get("Cookie") or "").split(";"):
            key, _, value = part.strip().partition("=")
            if key == _COOKIE:
                return value
        return None

    # -- routing --------------------------------------------------------------------------

    def do_GET(self) -> None:
        self._route("GET")

    def do_HEAD(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        if not self._host_allowed():
            self._refuse(HTTPStatus.FORBIDDEN, "unknown host name")
            return
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        path = url.path
        try:
            if path in ("/", "/index.html") and method == "GET":
                self._index(query)
            elif path.startswith("/static/") and method == "GET":
                self._asset(path.removeprefix("/static/"))
            elif path == "/favicon.ico":
                self._asset("icon.svg")
            elif path.startswith("/api/"):
                self._api(method, path.removeprefix("/api/"), query)
            else:
                self._refuse(HTTPStatus.NOT_FOUND, "not found")
        except UiError as error:
            self._json(error.status, error.payload)
        except (BrokenPipeError, ConnectionResetError):
            pass
        except Exception as error:  # the page shows it in its banner
            text = self.server.ui.app.redact(f"{type(error).__name__}: {error}")
            logger.error("%s %s failed: %s", method, path, text)
            self._json(500, {"error": text})

    def _index(self, query: dict[str, str]) -> None:
        ui = self.server.ui
        given = query.get("token") or self._cookie_token()
        if ui.url_token and not (given and hmac.compare_digest(given, ui.url_token)):
            self._refuse(
                HTTPStatus.FORBIDDEN,
                "a token is required: open the URL printed by 'eostores ui', "
                "which ends in ?token=...",
            )
            return
        page = _static("index.html")
        assert page is not None
        page = page.replace(b"{{api_token}}", ui.api_token.encode())
        headers = {}
        if ui.url_token:
            headers["Set-Cookie"] = f"{_COOKIE}={ui.url_token}; HttpOnly; SameSite=Strict; Path=/"
        self._send(HTTPStatus.OK, page, _STATIC_TYPES[".html"], headers)

    def _asset(self, name: str) -> None:
        body = _static(name)
        if body is None or name == "index.html":
            self._refuse(HTTPStatus.NOT_FOUND, "not found")
            return
        suffix = name[name.rfind(".") :]
        self._send(HTTPStatus.OK, body, _STATIC_TYPES.get(suffix, "application/octet-stream"))

    def _api(self, method: str, name: str, query: dict[str, str]) -> None:
        ui = self.server.ui
        given = self.headers.get(TOKEN_HEADER) or (
            query.get("token") if name.startswith("files/") else None
        )
        if not given or not hmac.compare_digest(given, ui.api_token):
            self._json(HTTPStatus.FORBIDDEN, {"error": "missing or wrong token"})
            return
        app = ui.app
        if method == "GET":
            if name == "stores":
                self._json(200, {"stores": app.stores()})
            elif name == "store-form":
                self._json(200, app.store_params_form(query.get("store", "")))
            elif name == "data-ids":
                limit = int(query["limit"]) if query.get("limit", "").isdigit() else 200
                self._json(200, app.data_ids(query.get("q", ""), limit))
            elif name == "job":
                self._json(200, {"job": app.job()})
            elif name.startswith("files/"):
                path = app.file_path(name.removeprefix("files/"))
                disposition = f"attachment; filename*=UTF-8''{quote(path.name)}"
                self._send(
                    200,
                    path.read_bytes(),
                    "application/octet-stream",
                    {"Content-Disposition": disposition},
                )
            else:
                self._json(404, {"error": f"no such call: {name}"})
            return
        body = self._body()
        values = body.get("values") if isinstance(body.get("values"), dict) else {}
        if name == "connect":
            self._json(200, app.connect(str(body.get("store", "")), values))
        elif name == "describe":
            self._json(200, app.describe(str(body.get("data_id", ""))))
        elif name == "open":
            self._json(202, {"job": app.open(str(body.get("data_id", "")), values)})
        elif name == "preload":
            self._json(202, {"job": app.preload(str(body.get("data_id", "")), values)})
        elif name == "download":
            job = app.download(
                str(body.get("format", "")),
                str(body.get("filename", "")),
                bool(body.get("replace")),
            )
            self._json(202, {"job": job})
        elif name == "cancel":
            self._json(200, {"job": app.cancel()})
        else:
            self._json(404, {"error": f"no such call: {name}"})


class UiServer:
    """The application served on ``host:port`` (port 0: a free one), in a thread or not.

    ``token`` is required in the page URL; None means: none on 127.0.0.1, a new random one
    on any other interface. An empty token on another interface is refused.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 8000,
        token: str | None = None,
        output_dir: str | None = None,
    ):
        self.loopback = is_loopback(host)
        if not self.loopback and token is not None and not token:
            raise InvalidParameterError(
                f"serving on {host} requires a token; only 127.0.0.1 may be served without one",
                parameter="token",
            )
        if token is None and not self.loopback:
            token = secrets.token_urlsafe(24)
        self.url_token = token or None
        self.api_token = self.url_token or secrets.token_urlsafe(24)
        self.app = UiApp(output_dir)
        self.host = host
        server_class = _Server6 if ":" in host else _Server
        self._server = server_class((host.strip("[]"), port), _Handler)
        self._server.ui = self
        self.port = self._server.server_address[1]
        names = {"127.0.0.1", "localhost", "[::1]", host.lower()}
        self.allowed_hosts = {f"{name}:{self.port}" for name in names} | (
            {"localhost", "127.0.0.1"} if self.port == 80 else set()
        )
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The address to open, with the token when one is required."""
        host = self.host
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        elif ":" in host and not host.startswith("["):
            host = f"[{host}]"
        url = f"http://{host}:{self.port}/"
        return url + (f"?token={self.url_token}" if self.url_token else "")

    def serve_forever(self) -> None:
        """Serve until interrupted."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    def start(self) -> UiServer:
        """Serve in a daemon thread (for tests and notebooks); ``stop()`` ends it."""
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="eostores-ui", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cancel a running job."""
        self.app.guard.cancel()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def __enter__(self) -> UiServer:
        return self.start()

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()
