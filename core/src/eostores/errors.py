"""The exceptions a store raises: everything a user can cause or meet is a DataStoreError."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

__all__ = [
    "MESSAGE_FILTERS",
    "AuthenticationError",
    "DataNotFoundError",
    "DataStoreError",
    "DataStoreTimeoutError",
    "InvalidParameterError",
    "QuotaExceededError",
    "ServiceError",
    "context",
    "error_for_status",
]

#: Functions applied to every error text when it is shown; :mod:`eostores.credentials` adds
#: the removal of secrets, so that no message shows one whoever built it.
MESSAGE_FILTERS: list[Callable[[str], str]] = []


def _filtered(text: str) -> str:
    for apply in MESSAGE_FILTERS:
        text = apply(text)
    return text


class DataStoreError(Exception):
    """Base class of every error raised by eostores and its stores.

    ``store_id``, ``data_id`` and ``parameter`` say where the error arose, when known;
    they are prefixed to the message so that a log line alone tells the story.
    """

    def __init__(
        self,
        message: str,
        *,
        store_id: str | None = None,
        data_id: str | None = None,
        parameter: str | None = None,
    ):
        self.message = message
        self.store_id = store_id
        self.data_id = data_id
        self.parameter = parameter
        super().__init__(message)

    def __str__(self) -> str:
        context = []
        if self.store_id:
            context.append(f"store {self.store_id!r}")
        if self.data_id:
            context.append(f"data {self.data_id!r}")
        if self.parameter and self.parameter not in self.message:
            context.append(f"parameter {self.parameter!r}")
        prefix = ", ".join(context)
        return _filtered(f"{prefix}: {self.message}" if prefix else self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self)!r})"

    def __reduce__(self):
        return _rebuild_error, (type(self), self.message, self.__dict__.copy())


def _rebuild_error(cls, message, state):
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class DataNotFoundError(DataStoreError, KeyError):
    """The data id (or a file, record, collection it refers to) does not exist."""

    def __str__(self) -> str:  # KeyError would quote the message otherwise
        return DataStoreError.__str__(self)


class InvalidParameterError(DataStoreError, ValueError):
    """A parameter is unknown, malformed or not allowed; raised before any request."""


class AuthenticationError(DataStoreError):
    """Credentials are missing, wrong or expired."""


class ServiceError(DataStoreError):
    """The remote service failed; the message carries the service's own words.

    ``status`` is the HTTP status code when there was one; ``url`` the request URL
    with secrets removed.
    """

    def __init__(
        self, message: str, *, status: int | None = None, url: str | None = None, **kwargs
    ):
        self.status = status
        self.url = url
        super().__init__(message, **kwargs)


class QuotaExceededError(ServiceError):
    """The service refused because a rate limit or quota was reached, after retries."""


class DataStoreTimeoutError(DataStoreError, TimeoutError):
    """An operation did not complete within its configured deadline."""


def error_for_status(status: int, message: str, **kwargs) -> DataStoreError:
    """The error for an HTTP ``status``: 401/403 authentication, 404/410 not found, 429
    quota, 400/422 invalid parameter, anything else a service error (``status`` and
    ``url`` keyword arguments are kept on every class)."""
    url = kwargs.pop("url", None)
    url = _filtered(url) if url else url
    cls: type[DataStoreError]
    if status in (401, 403):
        cls = AuthenticationError
    elif status in (404, 410):
        cls = DataNotFoundError
    elif status == 429:
        cls = QuotaExceededError
    elif status in (400, 422):
        cls = InvalidParameterError
    else:
        cls = ServiceError
    if issubclass(cls, ServiceError):
        error: DataStoreError = cls(message, status=status, url=url, **kwargs)
    else:
        error = cls(message, **kwargs)
        error.status = status  # type: ignore[attr-defined]
        error.url = url  # type: ignore[attr-defined]
    return error


@contextlib.contextmanager
def context(store_id: str | None, data_id: str | None = None) -> Iterator[None]:
    """Give every error raised inside the store and data id, and make it a DataStoreError.

    A :class:`DataStoreError` without a ``store_id``/``data_id`` gets these. A stray
    ``FileNotFoundError`` becomes :class:`DataNotFoundError`, a timeout
    :class:`DataStoreTimeoutError`, a ``requests``/``urllib3`` failure the error of its
    HTTP status (or :class:`ServiceError`), any other ``OSError`` a :class:`DataStoreError`;
    the original is chained as ``__cause__``.
    """
    try:
        yield
    except DataStoreError as error:
        if error.store_id is None:
            error.store_id = store_id
        if error.data_id is None:
            error.data_id = data_id
        raise
    except Exception as error:
        translated = _translate(error, store_id, data_id)
        if translated is None:
            raise
        raise translated from error


def _translate(
    error: Exception, store_id: str | None, data_id: str | None
) -> DataStoreError | None:
    ids = {"store_id": store_id, "data_id": data_id}
    module = type(error).__module__.partition(".")[0]
    if module in ("requests", "urllib3"):
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
        text = _describe(error)
        if isinstance(status, int) and status >= 400:
            return error_for_status(status, text, url=getattr(response, "url", None), **ids)
        if "Timeout" in type(error).__name__ or isinstance(error, TimeoutError):
            return DataStoreTimeoutError(text, **ids)
        return ServiceError(text, **ids)
    if isinstance(error, FileNotFoundError):
        name = error.filename if error.filename is not None else (error.args or [""])[-1]
        return DataNotFoundError(f"no such file or object: {name}", **ids)
    if isinstance(error, TimeoutError):
        return DataStoreTimeoutError(_describe(error), **ids)
    if isinstance(error, OSError):
        return DataStoreError(_describe(error), **ids)
    return None


def _describe(error: BaseException) -> str:
    text = str(error).strip()
    return f"{type(error).__name__}: {text}" if text else type(error).__name__
