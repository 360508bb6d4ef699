"""Filesystem and client-library exceptions turned into eostores errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    QuotaExceededError,
    ServiceError,
)


@contextlib.contextmanager
def translate_errors(
    store_id: str, data_id: str | None, *, endpoint_parameter: str | None = None
) -> Iterator[None]:
    """Turn filesystem and library exceptions into DataStoreError subclasses.

    A service that cannot be reached at all gives a ServiceError naming
    ``endpoint_parameter``, the store parameter that says where the service is.
    """
    try:
        yield
    except DataStoreError as error:
        if endpoint_parameter and error.parameter is None and _caused_by_connection_failure(error):
            error.parameter = endpoint_parameter
            error.message += f"; check the store parameter {endpoint_parameter}"
        raise
    except Exception as error:
        translated = _translated(error, store_id, data_id, endpoint_parameter)
        if translated is None:
            raise
        raise translated from error


def _translated(
    error: Exception, store_id: str, data_id: str | None, endpoint_parameter: str | None
) -> DataStoreError | None:
    context = dict(store_id=store_id, data_id=data_id)
    if _is_connection_failure(error):
        hint = f"; check the store parameter {endpoint_parameter}" if endpoint_parameter else ""
        return ServiceError(
            f"cannot connect to the service ({_first_line(error)}){hint}",
            parameter=endpoint_parameter,
            **context,
        )
    if isinstance(error, FileNotFoundError):
        # fsspec's HTTP filesystem reports a refused request as FileNotFoundError "from" it
        cause = error.__cause__
        refused = _remote_error(cause, store_id, data_id) if isinstance(cause, Exception) else None
        if isinstance(refused, AuthenticationError):
            return refused
        return DataNotFoundError(f"no such data ({error})", **context)
    if isinstance(error, PermissionError):
        return AuthenticationError(f"access denied: {error}", **context)
    if isinstance(error, OSError | TimeoutError):
        return ServiceError(f"{type(error).__name__}: {error}", **context)
    if isinstance(error, ValueError | TypeError | KeyError):
        return DataStoreError(f"cannot read the data: {type(error).__name__}: {error}", **context)
    translated = _remote_error(error, store_id, data_id)
    if translated is None and _is_client_library_error(error):
        return ServiceError(f"{type(error).__name__}: {_first_line(error)}", **context)
    return translated


def _is_client_library_error(error: BaseException) -> bool:
    """Whether ``error`` is a failure of an HTTP or object-store client library."""
    import sys

    for module, name in (
        ("aiohttp", "ClientError"),
        ("botocore.exceptions", "BotoCoreError"),
        ("botocore.exceptions", "ClientError"),
        ("requests", "RequestException"),
        ("azure.core.exceptions", "AzureError"),
    ):
        found = sys.modules.get(module)
        if found is not None and isinstance(error, getattr(found, name)):
            return True
    return False


def _first_line(error: BaseException) -> str:
    from ..credentials import redact_text

    text = str(error).strip()
    return redact_text(text.splitlines()[0]) if text else type(error).__name__


def _caused_by_connection_failure(error: BaseException) -> bool:
    """Whether a connection failure is among the causes and contexts of ``error``."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _is_connection_failure(current):
            return True
        current = current.__cause__ or current.__context__
    return False


def _is_connection_failure(error: BaseException) -> bool:
    """Whether ``error`` says that no connection to the service could be made at all."""
    import socket
    import sys

    if isinstance(error, ConnectionRefusedError | socket.gaierror):
        return True
    aiohttp = sys.modules.get("aiohttp")
    if aiohttp is not None and isinstance(error, aiohttp.ClientConnectorError):
        return True
    urllib3 = sys.modules.get("urllib3.exceptions")
    if urllib3 is not None and isinstance(error, urllib3.NewConnectionError):
        return True
    botocore = sys.modules.get("botocore.exceptions")
    return botocore is not None and isinstance(
        error, botocore.EndpointConnectionError | botocore.ConnectTimeoutError
    )


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
