"""The filesystem data stores: file, memory, s3, https, ftp, abfs (reference: reference.py)."""

from __future__ import annotations

import contextlib
import posixpath
import sys
import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from ..datatype import DataType, DataTypeLike
from ..errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
)
from ..store import MutableDataStore
from .formats import (
    FormatHandler,
    all_handlers,
    get_handler,
    handler_for_data_type,
    handler_for_path,
)
from .paths import is_included, join_root, normalize_data_id
from .storage_options import STORE_IDS, store_params_schema

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..descriptor import DataDescriptor
    from ..schema import JsonObjectSchema

__all__ = [
    "AbfsDataStore",
    "FileDataStore",
    "FsDataStore",
    "FtpDataStore",
    "HttpsDataStore",
    "MemoryDataStore",
    "S3DataStore",
    "new_fs_data_store",
]


@contextlib.contextmanager
def translate_errors(store_id: str, data_id: str | None) -> Iterator[None]:
    """Turn filesystem and library exceptions into DataStoreError subclasses."""
    try:
        yield
    except DataStoreError:
        raise
    except FileNotFoundError as error:
        # fsspec's HTTP filesystem reports a refused request as FileNotFoundError "from" it
        cause = error.__cause__
        refused = _remote_error(cause, store_id, data_id) if isinstance(cause, Exception) else None
        if isinstance(refused, AuthenticationError):
            raise refused from error
        raise DataNotFoundError(
            f"no such data ({error})", store_id=store_id, data_id=data_id
        ) from error
    except PermissionError as error:
        raise AuthenticationError(
            f"access denied: {error}", store_id=store_id, data_id=data_id
        ) from error
    except (OSError, TimeoutError) as error:
        raise ServiceError(
            f"{type(error).__name__}: {error}", store_id=store_id, data_id=data_id
        ) from error
    except (ValueError, TypeError, KeyError) as error:
        raise DataStoreError(
            f"cannot read the data: {type(error).__name__}: {error}",
            store_id=store_id,
            data_id=data_id,
        ) from error
    except Exception as error:
        translated = _remote_error(error, store_id, data_id)
        if translated is None:
            raise
        raise translated from error


def _remote_error(error: Exception, store_id: str, data_id: str | None) -> DataStoreError | None:
    """The DataStoreError for a client library's HTTP status or FTP reply error, if it is one.

    aiohttp carries the status in ``status``, the Azure SDK in ``status_code`` (and signals
    unusable credentials with ClientAuthenticationError); ftplib puts the server's reply
    code at the start of the message.
    """
    import sys

    from ..credentials import redact_text

    context = dict(store_id=store_id, data_id=data_id)
    message = redact_text(str(error).strip().splitlines()[0] if str(error).strip() else "")
    message = message or type(error).__name__
    ftplib = sys.modules.get("ftplib")
    if ftplib is not None and isinstance(error, ftplib.Error):
        if message.startswith(("530", "532")):
            return AuthenticationError(f"the FTP server refused the login: {message}", **context)
        if message.startswith("550"):
            return DataNotFoundError(f"no such file on the FTP server: {message}", **context)
        return ServiceError(f"the FTP server replied: {message}", **context)
    azure = sys.modules.get("azure.core.exceptions")
    if azure is not None and isinstance(error, azure.ClientAuthenticationError):
        return AuthenticationError(f"access denied: {message}", **context)
    status = next(
        (
            value
            for value in (getattr(error, "status", None), getattr(error, "status_code", None))
            if isinstance(value, int)
        ),
        None,
    )
    if status is None:
        return None
    if status in (401, 403):
        return AuthenticationError(f"access denied (HTTP {status}): {message}", **context)
    if status in (404, 410):
        return DataNotFoundError(f"no such data (HTTP {status}): {message}", **context)
    if status == 429:
        return QuotaExceededError(message, status=status, **context)
    return ServiceError(message, status=status, **context)


class FsDataStore(MutableDataStore):
    """A store of data files and directories below ``root`` on an fsspec filesystem.

    Data ids are paths relative to ``root``; the format follows from the file name
    extension (``.zarr``, ``.nc``, ``.tif``, ``.geojson``, ``.shp``, ``.levels``).
    """

    protocol: ClassVar[str] = "file"

    def __init__(self, **store_params: Any):
        super().__init__(**store_params)
        self._fs: AbstractFileSystem | None = None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_fs"] = None
        return state

    @classmethod
    def get_data_store_params_schema(cls) -> JsonObjectSchema:
        return store_params_schema(cls.protocol)

    @classmethod
    def get_data_types(cls) -> tuple[str, ...]:
        return ("dataset", "mldataset", "geodataframe")

    # -- filesystem access ------------------------------------------------------------------

    @property
    def root(self) -> str:
        return self._store_params.get("root") or ""

    @property
    def read_only(self) -> bool:
        return bool(self._store_params.get("read_only"))

    def _storage_options(self) -> dict[str, Any]:
        return dict(self._store_params.get("storage_options") or {})

    @property
    def fs(self) -> AbstractFileSystem:
        """The fsspec filesystem, created on first use."""
        if self._fs is None:
            import fsspec

            with translate_errors(self.store_id, None):
                self._fs = fsspec.filesystem(self.protocol, **self._storage_options())
        return self._fs

    def _path(self, data_id: str) -> str:
        return join_root(self.root, data_id)

    def _normalize(self, data_id: str) -> str:
        return normalize_data_id(data_id, store_id=self.store_id)

    def _patterns(self, key: str) -> list[str] | None:
        value = self._store_params.get(key)
        return [value] if isinstance(value, str) else value

    # -- listing ----------------------------------------------------------------------------

    def _walk(self) -> Iterator[tuple[str, FormatHandler]]:
        max_depth = self._store_params.get("max_depth", 1)
        root_path = self.root.rstrip("/") or ("/" if self.root.startswith("/") else "")
        pending: list[tuple[str, int]] = [(root_path, 1)]
        with translate_errors(self.store_id, None):
            if root_path and not self.fs.exists(root_path):
                return
            while pending:
                directory, depth = pending.pop(0)
                entries = sorted(self.fs.ls(directory or "", detail=True), key=lambda e: e["name"])
                for entry in entries:
                    name = entry["name"].rstrip("/")
                    base = posixpath.basename(name)
                    if base.startswith(".") or not base:
                        continue
                    data_id = self._relative(name)
                    if data_id is None:
                        continue
                    is_dir = entry.get("type") == "directory"
                    handler = self._handler_of(name, is_dir)
                    if handler is not None:
                        if is_included(
                            data_id, self._patterns("includes"), self._patterns("excludes")
                        ):
                            yield data_id, handler
                    elif is_dir and (max_depth is None or depth < max_depth):
                        pending.append((name, depth + 1))

    def _relative(self, name: str) -> str | None:
        root = self.fs._strip_protocol(self.root).rstrip("/") if self.root else ""
        name = self.fs._strip_protocol(name).rstrip("/")
        if root and not name.startswith(root + "/"):
            return None
        return name[len(root) + 1 :] if root else name.lstrip("/")

    def _handler_of(self, path: str, is_dir: bool) -> FormatHandler | None:
        handler = handler_for_path(path)
        if handler is not None:
            return handler if handler.is_directory == is_dir else None
        if is_dir:
            from .zarr import is_zarr

            if is_zarr(self.fs, path):
                return get_handler("zarr")
        return None

    def get_data_ids(
        self,
        data_type: DataTypeLike = None,
        include_attrs: bool | list[str] | None = None,
    ) -> Iterator[str | tuple[str, dict[str, Any]]]:
        wanted = self._assert_data_type(data_type)
        for data_id, handler in self._walk():
            if not _handler_delivers(handler, wanted):
                continue
            if include_attrs:
                attrs = {"data_type": handler.data_types[0], "format": handler.format_id}
                yield data_id, self._attrs_selection(attrs, include_attrs)
            else:
                yield data_id

    def has_data(self, data_id: str, data_type: DataTypeLike = None) -> bool:
        wanted = self._assert_data_type(data_type)
        try:
            data_id = self._normalize(data_id)
        except InvalidParameterError:
            return False
        if not is_included(data_id, self._patterns("includes"), self._patterns("excludes")):
            return False
        with translate_errors(self.store_id, data_id):
            handler = self._existing_handler(data_id)
        return handler is not None and _handler_delivers(handler, wanted)

    def _existing_handler(self, data_id: str) -> FormatHandler | None:
        path = self._path(data_id)
        handler = handler_for_path(path)
        if handler is not None and handler.is_directory:
            # Object stores and http have no directories: look for the metadata keys.
            return handler if handler.exists(self.fs, path) else None
        if not self.fs.exists(path):
            return None
        return self._handler_of(path, self.fs.isdir(path))

    def _resolve(self, data_id: str, opener_id: str | None) -> tuple[str, FormatHandler]:
        data_id = self._normalize(data_id)
        if not is_included(data_id, self._patterns("includes"), self._patterns("excludes")):
            raise self._not_found(data_id, "excluded by the store's includes/excludes")
        with translate_errors(self.store_id, data_id):
            handler = self._existing_handler(data_id)
            if handler is None:
                path_handler = handler_for_path(data_id)
                if (path_handler is not None and path_handler.is_directory) or not (
                    self.fs.exists(self._path(data_id))
                ):
                    raise self._not_found(data_id, f"nothing at {self._path(data_id)}")
                raise InvalidParameterError(
                    "the format cannot be determined from the data id; known extensions: "
                    + ", ".join(e for h in all_handlers() for e in h.extensions),
                    store_id=self.store_id,
                    data_id=data_id,
                )
        if opener_id is not None:
            handler = self._handler_for_accessor(opener_id, "opener_id", data_id)
        return data_id, handler

    def _handler_for_accessor(
        self, accessor_id: str, parameter: str, data_id: str | None
    ) -> FormatHandler:
        from ..accessor import parse_accessor_id

        accessor = parse_accessor_id(accessor_id)
        if accessor.storage != self.protocol and accessor.storage != self.store_id:
            raise InvalidParameterError(
                f"{parameter} {accessor_id!r} is for storage {accessor.storage!r}, "
                f"this store uses {self.protocol!r}",
                store_id=self.store_id,
                data_id=data_id,
                parameter=parameter,
            )
        return get_handler(accessor.format)

    def _data_type_for(self, handler: FormatHandler, data_type: DataTypeLike, data_id: str) -> str:
        wanted = self._assert_data_type(data_type)
        if wanted.alias == "any":
            return handler.data_types[0]
        if wanted.alias not in handler.data_types:
            raise InvalidParameterError(
                f"{handler.format_id} data cannot be opened as {wanted.alias!r}; "
                f"allowed: {', '.join(handler.data_types)}",
                store_id=self.store_id,
                data_id=data_id,
                parameter="data_type",
            )
        return wanted.alias

    def get_data_types_for_data(self, data_id: str) -> tuple[str, ...]:
        return self._resolve(data_id, None)[1].data_types

    def get_data_opener_ids(
        self, data_id: str | None = None, data_type: DataTypeLike = None
    ) -> tuple[str, ...]:
        wanted = self._assert_data_type(data_type)
        handlers = [self._resolve(data_id, None)[1]] if data_id else all_handlers()
        return tuple(
            f"{t}:{h.format_id}:{self.protocol}"
            for h in handlers
            for t in h.data_types
            if wanted.alias in ("any", t)
        )

    # -- describing and opening -------------------------------------------------------------

    def describe_data(self, data_id: str, data_type: DataTypeLike = None) -> DataDescriptor:
        data_id, handler = self._resolve(data_id, None)
        dtype = self._data_type_for(handler, data_type, data_id)
        with translate_errors(self.store_id, data_id):
            descriptor = handler.describe(self.fs, self._path(data_id), data_id, dtype)
        descriptor.open_params_schema = handler.get_open_params_schema(dtype)
        return descriptor

    def get_open_data_params_schema(
        self, data_id: str | None = None, opener_id: str | None = None
    ) -> JsonObjectSchema:
        if data_id is None and opener_id is None:
            from ..schema import JsonObjectSchema

            return JsonObjectSchema(
                additional_properties=True,
                description="The parameters depend on the format; pass a data id or an opener id.",
            )
        if data_id is not None:
            data_id, handler = self._resolve(data_id, opener_id)
        else:
            handler = self._handler_for_accessor(opener_id, "opener_id", None)
        data_type = handler.data_types[0]
        if opener_id is not None:
            from ..accessor import parse_accessor_id

            data_type = parse_accessor_id(opener_id).data_type
        return handler.get_open_params_schema(data_type)

    def open_data(
        self,
        data_id: str,
        opener_id: str | None = None,
        data_type: DataTypeLike = None,
        **open_params: Any,
    ) -> Any:
        data_id, handler = self._resolve(data_id, opener_id)
        if opener_id is not None and data_type is None:
            from ..accessor import parse_accessor_id

            data_type = parse_accessor_id(opener_id).data_type
        dtype = self._data_type_for(handler, data_type, data_id)
        schema = handler.get_open_params_schema(dtype)
        params = schema.validate_params(open_params, store_id=self.store_id, data_id=data_id)
        context = dict(store_id=self.store_id, data_id=data_id)
        with translate_errors(self.store_id, data_id):
            data = handler.open(self.fs, self._path(data_id), dtype, params)
            if dtype == "dataset":
                from .subset import apply_common_params

                data = apply_common_params(data, params, **context)
        return data

    # -- writing ------------------------------------------------------------------------------

    def get_data_writer_ids(self, data_type: DataTypeLike = None) -> tuple[str, ...]:
        wanted = self._assert_data_type(data_type)
        return tuple(
            f"{t}:{h.format_id}:{self.protocol}"
            for h in all_handlers()
            for t in h.writable_types
            if wanted.alias in ("any", t)
        )

    def get_write_data_params_schema(self, writer_id: str | None = None) -> JsonObjectSchema:
        if writer_id is None:
            return get_handler("zarr").get_write_params_schema()
        return self._handler_for_accessor(writer_id, "writer_id", None).get_write_params_schema()

    def get_delete_data_params_schema(self, data_id: str | None = None) -> JsonObjectSchema:
        from ..schema import JsonObjectSchema

        return JsonObjectSchema(additional_properties=False)

    def _assert_writable(self, data_id: str | None) -> None:
        if self.read_only:
            raise DataStoreError(
                "the store is read-only (read_only=True)", store_id=self.store_id, data_id=data_id
            )

    def write_data(
        self,
        data: Any,
        data_id: str | None = None,
        writer_id: str | None = None,
        replace: bool = False,
        **write_params: Any,
    ) -> str:
        """Write ``data``; atomically unless appending (``append_dim``) to existing data."""
        self._assert_writable(data_id)
        data_type = DataType.of(data).alias
        handler = self._writer_handler(data_type, data_id, writer_id)
        if data_id is None:
            data_id = uuid.uuid4().hex + handler.extensions[0]
        data_id = self._normalize(data_id)
        if data_type not in handler.writable_types:
            raise InvalidParameterError(
                f"the {handler.format_id} writer cannot write {data_type} data",
                store_id=self.store_id,
                data_id=data_id,
                parameter="writer_id",
            )
        params = handler.get_write_params_schema().validate_params(
            write_params, store_id=self.store_id, data_id=data_id
        )
        if params.get("base_dataset_id"):
            # The levels format stores the base dataset relative to the levels' folder.
            base_id = self._normalize(params["base_dataset_id"])
            params["base_dataset_id"] = posixpath.relpath(
                base_id, posixpath.dirname(data_id) or "."
            )
        path = self._path(data_id)
        with translate_errors(self.store_id, data_id):
            exists = self.fs.exists(path)
            if params.get("append_dim") and exists:
                handler.append(data, self.fs, path, params)
                return data_id
            if exists and not replace:
                raise InvalidParameterError(
                    "data with this id exists; pass replace=True to overwrite it",
                    store_id=self.store_id,
                    data_id=data_id,
                    parameter="replace",
                )
            self._write_atomically(handler, data, path, params, exists)
        return data_id

    def _writer_handler(
        self, data_type: str, data_id: str | None, writer_id: str | None
    ) -> FormatHandler:
        if writer_id is not None:
            return self._handler_for_accessor(writer_id, "writer_id", data_id)
        if data_id is not None:
            handler = handler_for_path(data_id)
            if handler is not None:
                return handler
        return handler_for_data_type(data_type)

    def _write_atomically(
        self, handler: FormatHandler, data: Any, path: str, params: dict[str, Any], exists: bool
    ) -> None:
        directory, name = posixpath.split(path)
        token = uuid.uuid4().hex[:12]
        temporary = posixpath.join(directory, f".tmp-{token}-{name}")
        if directory:
            self.fs.makedirs(directory, exist_ok=True)
        try:
            handler.write(data, self.fs, temporary, params)
            if exists:
                old = posixpath.join(directory, f".old-{token}-{name}")
                handler.move(self.fs, path, old)
                handler.move(self.fs, temporary, path)
                handler.delete(self.fs, old)
            else:
                handler.move(self.fs, temporary, path)
        except BaseException:
            with contextlib.suppress(Exception):
                if self.fs.exists(temporary):
                    handler.delete(self.fs, temporary)
            raise

    def delete_data(self, data_id: str, **delete_params: Any) -> None:
        self._assert_writable(data_id)
        self.get_delete_data_params_schema(data_id).validate_params(
            delete_params, store_id=self.store_id, data_id=data_id
        )
        data_id, handler = self._resolve(data_id, None)
        with translate_errors(self.store_id, data_id):
            handler.delete(self.fs, self._path(data_id))


def _handler_delivers(handler: FormatHandler, wanted: DataType) -> bool:
    return wanted.alias == "any" or wanted.alias in handler.data_types


class FileDataStore(FsDataStore):
    """Data in a directory of the local filesystem."""

    protocol = "file"
    store_id = "file"

    def _storage_options(self) -> dict[str, Any]:
        return {"auto_mkdir": True, **super()._storage_options()}


class MemoryDataStore(FsDataStore):
    """Data in fsspec's process-wide in-memory filesystem (tests, scratch space)."""

    protocol = "memory"
    store_id = "memory"


#: Option names whose values are secrets besides those ``is_secret_parameter`` recognises.
_SECRET_OPTION_NAMES = frozenset({"auth", "authorization", "connection_string"})


def _shown(name: str, value: Any) -> str:
    """``repr(value)`` with secrets replaced by ``***``, also inside nested dicts."""
    from ..store import is_secret_parameter

    if value is not None and (is_secret_parameter(name) or name.lower() in _SECRET_OPTION_NAMES):
        return "***"
    if isinstance(value, dict):
        items = ", ".join(f"{k!r}: {_shown(str(k), v)}" for k, v in value.items())
        return "{" + items + "}"
    return repr(value)


class NetworkFsDataStore(FsDataStore):
    """A filesystem store reached over the network (s3, https, ftp, abfs).

    Its repr hides secrets inside ``storage_options``; listing a root that exists but
    cannot be read fails instead of yielding nothing; and where fsspec's filesystem
    lacks something the store needs, ``filesystem_class`` names a subclass of it in
    this module.
    """

    #: Name of a filesystem class of this module to use instead of fsspec's, if any.
    filesystem_class: ClassVar[str | None] = None

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={_shown(k, v)}" for k, v in self._store_params.items())
        return f"{type(self).__name__}({shown})"

    @property
    def fs(self) -> AbstractFileSystem:
        if self._fs is None and self.filesystem_class is not None:
            with translate_errors(self.store_id, None):
                cls = getattr(sys.modules[__name__], self.filesystem_class)
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
            names = ("zarr.json", ".zmetadata", ".zgroup")
            found = any(self.fs.exists(f"{path}/{name}", strict=True) for name in names)
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


_HTTP_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
_HTTP_RETRIES = 5
_HTTP_MAX_WAIT_S = 10.0


async def retry_transient_http(request: Any, handler: Any) -> Any:
    """aiohttp client middleware: retry GET and HEAD on transient statuses and lost connections.

    Waits ``Retry-After`` (capped) when the server sends it, else an exponential backoff
    with jitter; the last answer is returned as it is.
    """
    import asyncio
    import random

    import aiohttp

    attempt = 0
    while True:
        last = attempt >= _HTTP_RETRIES or request.method not in ("GET", "HEAD")
        backoff = random.uniform(0, 0.05 * 2**attempt)
        attempt += 1
        try:
            response = await handler(request)
        except aiohttp.ClientConnectionError:
            if last:
                raise
            await asyncio.sleep(backoff)
            continue
        if last or response.status not in _HTTP_RETRY_STATUSES:
            return response
        wait = _retry_after_s(response.headers.get("Retry-After"))
        response.release()
        await asyncio.sleep(backoff if wait is None else wait)


def _retry_after_s(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (seconds or an HTTP date), capped."""
    import email.utils
    import time

    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        try:
            seconds = email.utils.parsedate_to_datetime(value).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return min(max(seconds, 0.0), _HTTP_MAX_WAIT_S)


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


# -- filesystem subclasses, built on first use so that importing this module stays cheap ----


def _move_tree(fs: AbstractFileSystem, source: str, target: str) -> None:
    """Move a directory on an object store: copy object by object, then delete the source.

    Object stores have no directory rename, and s3fs and adlfs fail copying recursively
    because they also try to copy the (inferred) directories.
    """
    files = fs.find(source)
    if not files:
        raise FileNotFoundError(source)
    prefix = fs._strip_protocol(source).rstrip("/")
    destination = fs._strip_protocol(target).rstrip("/")
    fs.copy(files, [destination + name[len(prefix) :] for name in files], on_error="raise")
    fs.rm(files)
    fs.invalidate_cache()


def _object_store_class(base: type) -> type:
    class ObjectStoreFileSystem(base):
        def mv(
            self,
            path1: str,
            path2: str,
            recursive: bool = False,
            maxdepth: Any = None,
            **kwargs: Any,
        ) -> None:
            if recursive and self.isdir(path1):
                _move_tree(self, path1, path2)
            else:
                super().mv(path1, path2, recursive=recursive, maxdepth=maxdepth, **kwargs)

    return ObjectStoreFileSystem


def _s3_filesystem_class() -> type:
    from s3fs import S3FileSystem

    return _object_store_class(S3FileSystem)


def _abfs_filesystem_class() -> type:
    from adlfs import AzureBlobFileSystem

    class AbfsFileSystem(_object_store_class(AzureBlobFileSystem)):
        def invalidate_cache(self, path: str | None = None) -> None:
            # After a write adlfs invalidates the parent path without its container,
            # which matches no cached listing, so zarr would consolidate stale listings:
            # forget all listings instead.
            super().invalidate_cache(None)

    return AbfsFileSystem


def _ftp_filesystem_class() -> type:
    import ftplib
    import threading

    from fsspec.implementations.ftp import FTPFileSystem

    class ThreadSafeFTPFileSystem(FTPFileSystem):
        """FTP with one connection per thread, creating parent directories on writes.

        An FTP control connection serves one command at a time, but zarr and dask read
        and write from several threads; zarr writes keys below directories that do not
        exist yet, and expects FileNotFoundError when it deletes a missing key.
        """

        def __init__(self, *args: Any, **kwargs: Any):
            self._connections = threading.local()
            self._mkdir_lock = threading.Lock()
            super().__init__(*args, **kwargs)

        @property
        def ftp(self) -> Any:
            if getattr(self._connections, "ftp", None) is None:
                self._connect()
            return self._connections.ftp

        @ftp.setter
        def ftp(self, connection: Any) -> None:
            self._connections.ftp = connection

        def _open(self, path: str, mode: str = "rb", **kwargs: Any) -> Any:
            directory = self._parent(self._strip_protocol(path))
            if "r" not in mode and directory not in ("", "/"):
                with self._mkdir_lock:
                    try:
                        self.makedirs(directory, exist_ok=True)
                    except ftplib.error_perm:
                        self.invalidate_cache()
                        if not self.isdir(directory):
                            raise
            return super()._open(path, mode, **kwargs)

        def rm(self, path: Any, recursive: bool = False, maxdepth: Any = None) -> None:
            try:
                super().rm(path, recursive=recursive, maxdepth=maxdepth)
            except ftplib.error_perm:
                self.invalidate_cache()
                if isinstance(path, str) and not self.exists(path):
                    raise FileNotFoundError(path) from None
                raise

        def __del__(self) -> None:
            connection = getattr(getattr(self, "_connections", None), "ftp", None)
            if connection is not None:
                with contextlib.suppress(Exception):
                    connection.close()

    return ThreadSafeFTPFileSystem


def _http_filesystem_class() -> type:
    from fsspec.implementations.http import HTTPFileSystem

    class RetryingHTTPFileSystem(HTTPFileSystem):
        """HTTP whose sessions retry transient failures (see ``retry_transient_http``).

        The middleware is added here rather than passed in ``client_kwargs``, so that the
        filesystem's options stay JSON-serialisable (zarr re-creates it from JSON).
        """

        def __init__(self, *args: Any, client_kwargs: dict | None = None, **kwargs: Any):
            client_kwargs = dict(client_kwargs or {})
            client_kwargs["middlewares"] = (
                retry_transient_http,
                *client_kwargs.get("middlewares", ()),
            )
            super().__init__(*args, client_kwargs=client_kwargs, **kwargs)

    return RetryingHTTPFileSystem


_FILESYSTEM_CLASSES = {
    "HTTPFileSystem": _http_filesystem_class,
    "S3FileSystem": _s3_filesystem_class,
    "AzureBlobFileSystem": _abfs_filesystem_class,
    "FTPFileSystem": _ftp_filesystem_class,
}


def __getattr__(name: str) -> Any:
    # Module attribute access builds the filesystem subclasses lazily; they are found by
    # name again when filesystems (and the datasets using them) are unpickled.
    build = _FILESYSTEM_CLASSES.get(name)
    if build is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    cls = build()
    cls.__name__ = cls.__qualname__ = name
    cls.__module__ = __name__
    globals()[name] = cls
    return cls


_CLASSES: dict[str, type[FsDataStore]] = {
    cls.protocol: cls
    for cls in (
        FileDataStore,
        MemoryDataStore,
        S3DataStore,
        HttpsDataStore,
        FtpDataStore,
        AbfsDataStore,
    )
}


def fs_store_class(protocol: str) -> type[FsDataStore]:
    """The store class for an fsspec protocol; a generic one for other protocols."""
    protocol = "https" if protocol == "http" else protocol
    if protocol == "reference":
        from .reference import ReferenceDataStore

        return ReferenceDataStore
    if protocol in _CLASSES:
        return _CLASSES[protocol]
    return type(
        f"{protocol.title()}DataStore",
        (FsDataStore,),
        {
            "protocol": protocol,
            "store_id": STORE_IDS.get(protocol, protocol),
            "__module__": __name__,
        },
    )


def new_fs_data_store(
    protocol: str,
    root: str = "",
    max_depth: int | None = 1,
    read_only: bool = False,
    includes: str | list[str] | None = None,
    excludes: str | list[str] | None = None,
    storage_options: dict[str, Any] | None = None,
    **params: Any,
) -> FsDataStore:
    """A filesystem store for ``protocol`` (file, memory, s3, https, ftp, abfs, reference...)."""
    values = dict(root=root, max_depth=max_depth, read_only=read_only, **params)
    for key, value in (
        ("includes", includes),
        ("excludes", excludes),
        ("storage_options", storage_options),
    ):
        if value is not None:
            values[key] = value
    return fs_store_class(protocol)(**values)
