"""Endpoints, defaults and the service key of the clms store."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eostores.credentials import Secret
from eostores.errors import AuthenticationError

__all__ = [
    "CREDENTIALS_ENV",
    "DATA_ID_SEPARATOR",
    "DEFAULT_API_URL",
    "DEFAULT_CACHE_STORE_ID",
    "DEFAULT_CACHE_STORE_PARAMS",
    "FINISHED_OK",
    "PENDING_STATUSES",
    "STORE_ID",
    "TERMINAL_FAILURES",
    "ServiceKey",
    "load_service_key",
]

STORE_ID = "clms"
DEFAULT_API_URL = "https://land.copernicus.eu/api"
#: Environment variable naming the service key JSON file.
CREDENTIALS_ENV = "CLMS_CREDENTIALS"
DEFAULT_CACHE_STORE_ID = "file"
DEFAULT_CACHE_STORE_PARAMS: dict[str, Any] = {"max_depth": 2}
#: Separates the dataset id from the file name in a data id.
DATA_ID_SEPARATOR = "|"

#: Seconds a data request may take from submission to the cached result.
DEFAULT_REQUEST_DEADLINE = 12 * 3600.0
#: Seconds between status queries at first; the interval grows up to 4 times this.
DEFAULT_POLL_INTERVAL = 15.0
#: Seconds after its finalisation during which a task's download link is trusted.
DEFAULT_LINK_TTL = 24 * 3600.0
#: Seconds after its registration after which a task still ``Queued`` counts as lost (the
#: service keeps a task ``Queued`` for good when its processing back end refused it).
DEFAULT_STALE_TASK_AGE = 6 * 3600.0
#: Seconds the dataset catalogue stays cached on disk.
DEFAULT_CATALOG_TTL = 24 * 3600.0
#: Retry defaults of the store's HTTP calls.
HTTP_DEFAULTS: dict[str, Any] = {
    "num_retries": 5,
    "retry_backoff_base": 1.0,
    "retry_backoff_max": 60.0,
}

# Task statuses of the download service.
QUEUED = "Queued"
IN_PROGRESS = "In_progress"
FINISHED_OK = "Finished_ok"
FINISHED_NOK = "Finished_nok"
REJECTED = "Rejected"
CANCELLED = "Cancelled"
PENDING_STATUSES = frozenset({QUEUED, IN_PROGRESS})
TERMINAL_FAILURES = frozenset({FINISHED_NOK, REJECTED, CANCELLED})

REQUIRED_KEY_FIELDS = ("client_id", "user_id", "token_uri", "private_key")
OPTIONAL_KEY_FIELDS = ("issued", "key_id", "title")


@dataclass(frozen=True)
class ServiceKey:
    """A CLMS service key: who signs the token grant, with which key, for which endpoint.

    ``private_key`` is a :class:`~eostores.credentials.Secret`; ``source`` says where the
    key was found (never its content).
    """

    client_id: str
    user_id: str
    token_uri: str
    private_key: Secret
    key_id: str | None = None
    issued: str | None = None
    title: str | None = None
    source: str = "parameter 'credentials'"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str) -> ServiceKey:
        """Check the fields of a service key JSON object and wrap its private key."""
        if not isinstance(data, Mapping):
            raise AuthenticationError(
                f"the service key from {source} must be a JSON object",
                store_id=STORE_ID,
                parameter="credentials",
            )
        absent = [
            k
            for k in REQUIRED_KEY_FIELDS
            if not isinstance(data.get(k), str | Secret) or not data[k]
        ]
        if absent:
            raise AuthenticationError(
                f"the service key from {source} lacks {', '.join(absent)}; it needs "
                f"{', '.join(REQUIRED_KEY_FIELDS)} (create one in your CLMS profile)",
                store_id=STORE_ID,
                parameter="credentials",
            )
        token_uri = str(data["token_uri"])
        if urlsplit(token_uri).scheme not in ("http", "https"):
            raise AuthenticationError(
                f"the token_uri of the service key from {source} is not an http(s) URL",
                store_id=STORE_ID,
                parameter="credentials",
            )
        optional = {k: str(data[k]) for k in OPTIONAL_KEY_FIELDS if data.get(k) is not None}
        return cls(
            client_id=str(data["client_id"]),
            user_id=str(data["user_id"]),
            token_uri=token_uri,
            private_key=Secret(data["private_key"], source=source),
            source=source,
            **optional,
        )


def _read_key_file(path: str, source: str) -> ServiceKey:
    file = Path(os.path.expanduser(path))
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise AuthenticationError(
            f"the service key file {str(file)!r} ({source}) does not exist",
            store_id=STORE_ID,
            parameter="credentials",
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise AuthenticationError(
            f"cannot read the service key file {str(file)!r} ({source}): {type(error).__name__}",
            store_id=STORE_ID,
            parameter="credentials",
        ) from None
    try:
        data = json.loads(text)
    except ValueError as error:
        line = getattr(error, "lineno", "?")
        raise AuthenticationError(
            f"the service key file {str(file)!r} is not valid JSON (line {line})",
            store_id=STORE_ID,
            parameter="credentials",
        ) from None
    return ServiceKey.from_mapping(data, f"file {str(file)!r}")


def load_service_key(credentials: Mapping[str, Any] | str | None) -> ServiceKey:
    """The service key: the ``credentials`` dict, a JSON file it names, or the file that
    ``$CLMS_CREDENTIALS`` names; :class:`AuthenticationError` when there is none."""
    if isinstance(credentials, Mapping):
        return ServiceKey.from_mapping(credentials, "parameter 'credentials'")
    if isinstance(credentials, str) and credentials:
        return _read_key_file(credentials, "parameter 'credentials'")
    path = os.environ.get(CREDENTIALS_ENV)
    if path:
        return _read_key_file(path, f"environment variable {CREDENTIALS_ENV}")
    raise AuthenticationError(
        "no CLMS service key found; pass credentials (the service key as a dict or the path "
        f"of its JSON file) or set {CREDENTIALS_ENV} to the path of the file",
        store_id=STORE_ID,
        parameter="credentials",
    )
