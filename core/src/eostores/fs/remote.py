"""The filesystem stores reached over the network: s3, https, ftp, abfs."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import unquote

from ..errors import DataStoreError
from ..paths import confine_url, relative_path
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
            with self._translating(None), self._requiring_libraries():
                from . import filesystems

                cls = getattr(filesystems, self.filesystem_class)
                self._fs = cls(**self._storage_options())
        return super().fs

    def _walk(self) -> Iterator[tuple[str, FormatHandler]]:
        # The generic walk asks fs.exists(root) first, which for S3 buckets and HTTP
        # answers False on 401/403: probe with a listing so that those surface.
        root = self.root.rstrip("/")
        if root:
            with self._translating(None), contextlib.suppress(FileNotFoundError):
                self.fs.ls(root, detail=False)
        yield from super()._walk()


class S3DataStore(NetworkFsDataStore):
    """Data in an S3 bucket (or any S3-compatible object store)."""

    protocol = "s3"
    store_id = "s3"
    endpoint_parameter = "storage_options.endpoint_url"
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
    """Data below an https URL, read-only, read by range requests.

    Every request goes through one :mod:`eostores.http` session: transient failures
    (dropped connections, 429, 5xx) are retried with backoff honouring ``Retry-After``,
    within the store's ``deadline``. Credentials: ``bearer_token``, or the login for the
    root URL's host in ``~/.netrc`` (or the file named by ``NETRC``). Data ids are listed
    from the servers' index pages where they offer them.
    """

    protocol = "https"
    store_id = "https"
    endpoint_parameter = "root"

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        root = self._store_params.get("root") or ""
        if root and not _SCHEME.match(root):
            # A root without a scheme is a host and path: reached over https.
            self._store_params["root"] = "https://" + root.lstrip("/")

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        from ..http import http_params_schema
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
            **http_params_schema(),
        )

    @property
    def fs(self) -> AbstractFileSystem:
        if self._fs is None:
            from ..http import BearerAuth, HttpConfig, new_session
            from . import filesystems

            options = self._storage_options()
            config = HttpConfig.from_params(self._store_params, store_id=self.store_id)
            token = self._store_params.get("bearer_token")
            auth: Any = None
            if token:
                auth = BearerAuth(token)
            elif self._store_params.get("use_netrc", True):
                auth = _netrc_login(self.root)
            if auth is None:
                auth = filesystems.NoAuth()
            session = new_session(config, auth=auth, headers=options.get("headers"))
            block_size = options.get("block_size")
            self._fs = filesystems.HttpsFileSystem(
                session, **({"block_size": block_size} if block_size else {})
            )
        return self._fs

    def _assert_writable(self, data_id: str | None) -> None:
        raise DataStoreError(
            "data over https are read-only", store_id=self.store_id, data_id=data_id
        )

    def _path(self, data_id: str) -> str:
        # Each segment is quoted, so that '?', '#' and '%' in a data id cannot change the URL.
        return confine_url(self.root, data_id, store_id=self.store_id, data_id=data_id)

    def _relative(self, name: str) -> str | None:
        # Listed names are URLs from the server's index pages: decoded into data ids, and
        # left out when they would not stay below the root.
        relative = super()._relative(name)
        if relative is None:
            return None
        try:
            return relative_path(unquote(relative), from_service=True, store_id=self.store_id)
        except DataStoreError:
            return None

    def _existing_handler(self, data_id: str) -> FormatHandler | None:
        # HTTP servers often list no directories, so a zarr URL may answer 404 while its
        # keys exist: look for its metadata instead. Probes are strict: 401 and 403
        # surface as errors instead of as absence.
        path = self._path(data_id)
        handler = handler_for_path(path)
        if handler is None or (handler.is_directory and handler.format_id != "zarr"):
            return super()._existing_handler(data_id)
        if handler.is_directory:
            from .zarr import METADATA_KEYS

            found = any(self.fs.exists(f"{path}/{key}") for key in METADATA_KEYS)
        else:
            found = self.fs.exists(path)
        return handler if found else None


_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def _netrc_login(url: str) -> tuple[str, str] | None:
    """The login for ``url``'s host in .netrc, if there is one."""
    from urllib.parse import urlparse

    from ..credentials import netrc_credentials

    host = urlparse(url).hostname
    return netrc_credentials(host) if host else None


class FtpDataStore(NetworkFsDataStore):
    """Data on an FTP server (``storage_options``: host, port, username, password)."""

    protocol = "ftp"
    store_id = "ftp"
    endpoint_parameter = "storage_options.host"
    filesystem_class = "FTPFileSystem"


class AbfsDataStore(NetworkFsDataStore):
    """Data in an Azure Blob Storage container.

    Against an emulator such as Azurite, pass a ``connection_string`` (``account_host``
    always means https).
    """

    protocol = "abfs"
    store_id = "abfs"
    endpoint_parameter = "storage_options.connection_string"
    filesystem_class = "AzureBlobFileSystem"
