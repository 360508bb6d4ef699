"""The store's own refinements of the eostores errors."""

from __future__ import annotations

from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    ServiceError,
)

__all__ = ["FileUnavailableError", "MustPreloadError", "as_data_store_error", "must_preload"]


class MustPreloadError(DataStoreError):
    """The file cannot be read over HTTP ranges; preloading it is the way."""


class FileUnavailableError(ServiceError):
    """A record file could not be fetched because the service has it no more (404/410).

    Raised while format libraries read a file; the store restates it as a
    :class:`~eostores.errors.DataNotFoundError` where it can (opening, describing,
    preloading). It is deliberately no ``KeyError``: libraries reading through fsspec
    take a ``KeyError`` for "no such chunk" and would fill the chunk with missing values.
    """


def must_preload(key: str, reason: str) -> MustPreloadError:
    """The error for a file that only preloading makes usable, saying how to do it."""
    return MustPreloadError(
        f"{reason}, so it cannot be opened lazily; preload it with "
        f"store.preload_data({key!r}) and open the results from handle.store",
        data_id=key,
    )


def as_data_store_error(error: Exception, store_id: str, data_id: str) -> DataStoreError:
    """The eostores error for an exception a format library raised while reading."""
    context = dict(store_id=store_id, data_id=data_id)
    text = f"{type(error).__name__}: {error}"
    if isinstance(error, DataStoreError):
        return error
    if isinstance(error, FileNotFoundError):
        return DataNotFoundError(f"no such data ({text})", **context)
    if isinstance(error, PermissionError):
        return AuthenticationError(f"access denied ({text})", **context)
    if isinstance(error, OSError | TimeoutError):
        return ServiceError(f"reading failed: {text}", **context)
    return DataStoreError(f"cannot read the data: {text}", **context)
