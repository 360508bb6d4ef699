"""The exceptions a store raises: everything a user can cause or meet is a DataStoreError."""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "DataNotFoundError",
    "DataStoreError",
    "DataStoreTimeoutError",
    "InvalidParameterError",
    "QuotaExceededError",
    "ServiceError",
]


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
        return f"{prefix}: {self.message}" if prefix else self.message

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
