"""The filesystem stores reached over the network: s3, https, ftp, abfs."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import translate_errors
from .formats import FormatHandler, handler_for_path
from .storage_options import store_params_schema
from .stores import FsDataStore

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..schema import JsonObjectSchema

__all__ = ["AbfsDataStore", "FtpDataStore", "HttpsDataStore", "NetworkFsDataStore", "S3DataStore"]


class NetworkFsDataStore(FsDataStore):
    """A filesystem store reached over the network (s3, https, ftp, abfs).

    Listing a root that exists but cannot be read fails instead of yielding nothing; and
    where fsspec's filesystem lacks something the store needs, ``filesystem_class`` names
    a subclass of it in :mod:`eostores.fs.filesystems`.
    """

    #: Name of a class of eostores.fs.filesystems to use instead of fsspec's, if any.
    filesystem_class: ClassVar[str | None] = None

    @property
    def fs(self) -> AbstractFileSystem:
        if self._fs is None and self.filesystem_class is not None:
            with translate_errors(self.store_id, None):
                from . import filesystems

                cls = getattr(filesystems, self.filesystem_class)
                self._fs = cls(**self._storage_options())
        return super().fs

    def _walk(self) -> Iterator[tuple[str, FormatHandler]]:
        # The generic walk asks fs.exists(root) first, which for S3 buckets and HTTP
        # answers False on 401/403: probe with a listing so that those surface.
        root = self.root.rstrip("/")
        if root:
            with translate_errors(self.store_id, None), contextlib.suppress(FileNotFoundError):
                self.fs.ls(root, detail=False)
        yield from super()._walk()


class S3DataStore(NetworkFsDataStore):
    """Data in an S3 bucket (or any S3-compatible object store)."""

    protocol = "s3"
    store_id = "s3"
    filesystem_class = "S3FileSystem"

    def _storage_options(self) -> dict[str, Any]:
        options = super()._storage_options()
        endpoint = options.pop("endpoint_url", None)
        if endpoint:
            options["client_kwargs"] = {
                "endpoint_url": endpoint,
                **options.get("client_kwargs", {}),
            }
        return options


class HttpsDataStore(NetworkFsDataStore):
    """Data below an https URL; read-only unless the server accepts uploads.

    Credentials: ``bearer_token``, or the login for the root URL's host in ``~/.netrc``
    (or the file named by ``NETRC``). GET and HEAD requests answered with a transient
    status (408, 429, 5xx) are retried with backoff, honouring ``Retry-After``.
    """

    protocol = "https"
    store_id = "https"
    filesystem_class = "HTTPFileSystem"

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        from ..schema import JsonBooleanSchema, JsonStringSchema

        return store_params_schema(
            cls.protocol,
            bearer_token=JsonStringSchema(
                title="Bearer token sent as 'Authorization: Bearer ...'",
                description="A secret: never shown in reprs, logs or errors.",
            ),
            use_netrc=JsonBooleanSchema(
                default=True, title="Use the login in .netrc for the root URL's host"
            ),
        )

    def _storage_options(self) -> dict[str, Any]:
        # Credentials go into plain headers: zarr re-creates the filesystem from its JSON
        # form, which an aiohttp.BasicAuth object would not survive.
        options = super()._storage_options()
        headers = dict(options.pop("headers", None) or {})
        client_kwargs = dict(options.get("client_kwargs") or {})
        given = {name.lower() for name in (*headers, *client_kwargs.get("headers", {}))}
        token = self._store_params.get("bearer_token")
        if token:
            headers["Authorization"] = f"Bearer {token}"
        elif (
            self._store_params.get("use_netrc", True)
            and "auth" not in client_kwargs
            and "authorization" not in given
        ):
            authorization = _netrc_auth(self.root)
            if authorization is not None:
                headers["Authorization"] = authorization
        if headers:
            client_kwargs["headers"] = {**client_kwargs.get("headers", {}), **headers}
        if client_kwargs:
            options["client_kwargs"] = client_kwargs
        return options

    def _existing_handler(self, data_id: str) -> FormatHandler | None:
        # HTTP servers often list no directories, so a zarr URL may answer 404 while its
        # keys exist: look for its metadata instead. Probe strictly, so that 401 and 403
        # surface as errors instead of as absence.
        path = self._path(data_id)
        handler = handler_for_path(path)
        if handler is None or (handler.is_directory and handler.format_id != "zarr"):
            return super()._existing_handler(data_id)
        if handler.is_directory:
            from .zarr import METADATA_KEYS

            found = any(self.fs.exists(f"{path}/{key}", strict=True) for key in METADATA_KEYS)
        else:
            found = self.fs.exists(path, strict=True)
        return handler if found else None


def _netrc_auth(url: str) -> str | None:
    """The ``Authorization`` header value for the login of ``url``'s host in .netrc."""
    from urllib.parse import urlparse

    from ..credentials import netrc_credentials

    host = urlparse(url).hostname
    found = netrc_credentials(host) if host else None
    if found is None:
        return None
    import base64

    return "Basic " + base64.b64encode(f"{found[0]}:{found[1]}".encode()).decode("ascii")


class FtpDataStore(NetworkFsDataStore):
    """Data on an FTP server (``storage_options``: host, port, username, password)."""

    protocol = "ftp"
    store_id = "ftp"
    filesystem_class = "FTPFileSystem"


class AbfsDataStore(NetworkFsDataStore):
    """Data in an Azure Blob Storage container.

    Against an emulator such as Azurite, pass a ``connection_string`` (``account_host``
    always means https).
    """

    protocol = "abfs"
    store_id = "abfs"
    filesystem_class = "AzureBlobFileSystem"
