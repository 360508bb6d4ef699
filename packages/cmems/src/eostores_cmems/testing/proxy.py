"""A forward proxy that sends every request, whatever host it names, to one emulator.

The ``copernicusmarine`` toolbox reads its configuration URL from the environment, but it
authenticates against a hard-coded ``https://auth.marine.copernicus.eu`` and drops the
port of data URLs. To run the unmodified toolbox against :class:`CmemsEmulator`, point
its documented proxy variables at this proxy (:meth:`ServiceProxy.toolbox_environment`):

* plain HTTP requests in absolute form (``GET http://127.0.0.1/bucket/key``) are passed
  to the emulator in origin form;
* ``CONNECT host:443`` tunnels are answered with a certificate for ``host`` issued by a
  throw-away test CA (``trustme``), whose bundle the toolbox is told to trust through
  ``COPERNICUSMARINE_SET_SSL_CERTIFICATE_PATH``, and the decrypted stream goes to the
  emulator.

For tests only: it binds to 127.0.0.1 and forwards nowhere but to the emulator.
"""

from __future__ import annotations

import os
import socket
import socketserver
import ssl
import tempfile
import threading
from pathlib import Path
from typing import Any

__all__ = ["ServiceProxy"]

_HEAD_LIMIT = 64 * 1024
#: Variables of the calling environment that would override the proxy or the CA bundle
#: (requests prefers ``REQUESTS_CA_BUNDLE`` to the toolbox's certificate setting).
_REPLACED_VARIABLES = frozenset(
    {"NO_PROXY", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"}
)


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request or response head (up to the blank line) and the bytes after it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data, b""
        data += chunk
        if len(data) > _HEAD_LIMIT:
            raise OSError("head too long")
    head, _, rest = data.partition(b"\r\n\r\n")
    return head + b"\r\n\r\n", rest


def _with_connection_close(head: bytes) -> bytes:
    lines = head[:-4].split(b"\r\n")
    kept = [
        line
        for line in lines[1:]
        if not line.lower().startswith((b"connection:", b"proxy-connection:", b"keep-alive:"))
    ]
    return b"\r\n".join([lines[0], *kept, b"Connection: close"]) + b"\r\n\r\n"


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip() or b"0")
    return 0


def _pipe(source: Any, sink: Any) -> None:
    try:
        while True:
            data = source.recv(65536)
            if not data:
                break
            sink.sendall(data)
    except OSError:
        pass
    finally:
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    proxy: ServiceProxy


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        client: socket.socket = self.request
        try:
            head, rest = _read_head(client)
        except OSError:
            return
        if not head:
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        method, target, _version = ([*request_line.split(" "), "", ""])[:3]
        proxy = self.server.proxy
        if method.upper() == "CONNECT":
            self._tunnel(client, target.rsplit(":", 1)[0], proxy)
        else:
            self._forward(client, head, rest, method, target, proxy)

    def _tunnel(self, client: socket.socket, host: str, proxy: ServiceProxy) -> None:
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        try:
            tls = proxy.server_context(host).wrap_socket(client, server_side=True)
        except (OSError, ssl.SSLError):
            return
        upstream = socket.create_connection(proxy.target, timeout=120)
        worker = threading.Thread(target=_pipe, args=(upstream, tls), daemon=True)
        worker.start()
        _pipe(tls, upstream)
        worker.join(timeout=120)
        for sock in (upstream, tls):
            sock.close()

    def _forward(
        self,
        client: socket.socket,
        head: bytes,
        rest: bytes,
        method: str,
        target: str,
        proxy: ServiceProxy,
    ) -> None:
        if "://" in target:  # absolute form: keep the path and query only
            path = "/" + target.split("://", 1)[1].partition("/")[2]
            first, _, remainder = head.partition(b"\r\n")
            version = first.decode("latin-1").rsplit(" ", 1)[-1]
            head = f"{method} {path} {version}".encode("latin-1") + b"\r\n" + remainder
        body = rest
        missing = _content_length(head) - len(body)
        while missing > 0:
            chunk = client.recv(min(65536, missing))
            if not chunk:
                break
            body += chunk
            missing -= len(chunk)
        with socket.create_connection(proxy.target, timeout=120) as upstream:
            upstream.sendall(_with_connection_close(head) + body)
            response_head, response_rest = _read_head(upstream)
            if not response_head:
                return
            client.sendall(_with_connection_close(response_head) + response_rest)
            _pipe(upstream, client)


class ServiceProxy:
    """A proxy on 127.0.0.1 in front of the emulator at ``target`` (host, port)."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self._server: _Server | None = None
        self._contexts: dict[str, ssl.SSLContext] = {}
        self._lock = threading.Lock()
        self._folder = tempfile.TemporaryDirectory(prefix="eostores-cmems-proxy-")
        self._ca: Any = None

    @property
    def ca_bundle(self) -> Path:
        """The PEM file of the test CA that issues the tunnel certificates."""
        path = Path(self._folder.name) / "ca.pem"
        if not path.exists():
            self._authority().cert_pem.write_to_path(str(path))
        return path

    def _authority(self) -> Any:
        with self._lock:
            if self._ca is None:
                import trustme

                self._ca = trustme.CA()
            return self._ca

    def server_context(self, host: str) -> ssl.SSLContext:
        authority = self._authority()
        with self._lock:
            context = self._contexts.get(host)
            if context is None:
                context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
                authority.issue_cert(host).configure_cert(context)
                self._contexts[host] = context
            return context

    def start(self) -> ServiceProxy:
        server = _Server(("127.0.0.1", 0), _Handler)
        server.proxy = self
        self._server = server
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        self._folder.cleanup()

    def __enter__(self) -> ServiceProxy:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the proxy is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def toolbox_environment(
        self, config_url: str, username: str, password: str, home: str | os.PathLike[str]
    ) -> dict[str, str]:
        """Environment variables (all documented by the toolbox) for a toolbox process."""
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.upper().startswith(("COPERNICUSMARINE_", "COPERNICUS_MARINE_"))
            and k.upper() not in _REPLACED_VARIABLES
        }
        env.update(
            COPERNICUSMARINE_CONFIG_URL=config_url,
            COPERNICUSMARINE_SERVICE_USERNAME=username,
            COPERNICUSMARINE_SERVICE_PASSWORD=password,
            COPERNICUSMARINE_CREDENTIALS_DIRECTORY=str(home),
            COPERNICUSMARINE_SET_SSL_CERTIFICATE_PATH=str(self.ca_bundle),
            HTTP_PROXY=self.url,
            HTTPS_PROXY=self.url,
            http_proxy=self.url,
            https_proxy=self.url,
            HOME=str(home),
        )
        return env
