"""The S3 side of the emulator: moto's S3 server holding the gedidb array, read-only.

:class:`GediS3Emulator` serves moto's S3 application (``moto.server.create_backend_app``)
behind the toolkit's server, so that requests are logged and faults injected like those
of every emulator. It runs in a child process (:meth:`start_subprocess`): tiledb-py holds
the GIL while it reads array metadata, so a server thread in the reading process would
stall. Its bucket is public-read: TileDB reads it unsigned (``vfs.s3.no_sign_request``),
as gedidb does, with path-style ListObjectsV2, HEAD and ranged GET requests. Ranges
reaching past the end of an object are answered with the bytes that exist and a
``Content-Range`` ending at the last byte, as S3 does and as TileDB needs (it asks for
100 KiB blocks whatever the object's size). Writes are refused, as on the public bucket.

This module imports neither tiledb nor gedidb, so that the child starts quickly.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from eostores.testing import EmulatorServer, Request, Response, route

__all__ = ["GediS3Emulator", "clamped_range", "object_files"]

_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")
_HOP_BY_HOP = ("connection", "transfer-encoding", "keep-alive")
_ACCESS_DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>Access Denied</Message></Error>"
)


class GediS3Emulator(EmulatorServer):
    """A public, read-only S3 bucket holding the files under ``source_dir``.

    ``source_dir`` is a folder (the TileDB array); its files become the objects
    ``<prefix>/<relative path>`` of ``bucket``. ``private_bucket`` names a bucket with the
    same objects that refuses every unsigned request.
    """

    name = "gedidb-s3"

    def __init__(
        self,
        *,
        source_dir: str,
        bucket: str,
        prefix: str = "array_uri",
        private_bucket: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        from moto.server import create_backend_app
        from werkzeug.test import Client

        self.bucket = bucket
        self._client = Client(create_backend_app("s3"))
        self.private_bucket = private_bucket
        root = Path(source_dir)
        files = object_files(root)
        buckets = [(bucket, "public-read")]
        if private_bucket:
            buckets.append((private_bucket, "private"))
        for name, acl in buckets:
            headers = {"Host": "localhost", "x-amz-acl": acl}
            self._moto("PUT", f"/{quote(name)}", headers=headers)
            for path in files:
                key = quote(f"{prefix}/{path.relative_to(root).as_posix()}")
                self._moto("PUT", f"/{quote(name)}/{key}", headers=headers, data=path.read_bytes())
        self.object_count = len(files)

    def _moto(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self._client.open(method=method, path=path, **kwargs)
        if response.status_code >= 300:
            raise RuntimeError(f"moto refused {method} {path}: {response.status_code}")
        return response

    def store_params(self) -> dict[str, Any]:
        return {"endpoint_url": self.url, "bucket": self.bucket}

    @route("GET", r"/.*")
    @route("HEAD", r"/.*")
    def read(self, request: Request) -> Response:
        name = request.path.lstrip("/").split("/", 1)[0]
        if name == self.private_bucket and "Authorization" not in request.headers:
            return Response(403, body=_ACCESS_DENIED, content_type="application/xml")
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        headers.pop("Content-Length", None)
        answer = self._client.open(
            method=request.method,
            path=request.raw_path or request.path,
            query_string=urlencode(request.query_list),
            headers=headers,
        )
        body = answer.get_data()
        out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        if request.method != "HEAD":
            out.pop("Content-Length", None)  # the toolkit sets it from the body it sends
        if answer.status_code == 206:
            body, out = clamped_range(body, out)
        return Response(answer.status_code, body=body, headers=out)

    @route("PUT", r"/.*")
    @route("POST", r"/.*")
    @route("DELETE", r"/.*")
    def write(self, request: Request) -> Response:
        return Response(403, body=_ACCESS_DENIED, content_type="application/xml")


def clamped_range(body: bytes, headers: dict[str, str]) -> tuple[bytes, dict[str, str]]:
    """A partial answer whose ``Content-Range`` ends within the object."""
    name = next((k for k in headers if k.lower() == "content-range"), None)
    match = _CONTENT_RANGE.fullmatch(headers.get(name, "")) if name else None
    if match is None:
        return body, headers
    first, last, total = (int(v) for v in match.groups())
    last = min(last, total - 1, first + len(body) - 1)
    headers[name] = f"bytes {first}-{last}/{total}"
    return body[: last - first + 1], headers


def object_files(root: str | os.PathLike[str]) -> list[Path]:
    """The files :class:`GediS3Emulator` turns into objects, in upload order."""
    return sorted(p for p in Path(root).rglob("*") if p.is_file())
