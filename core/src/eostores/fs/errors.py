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
