"""The one HTTP session factory every store uses.

:func:`new_session` returns a :class:`requests.Session` that

* retries connection failures, read timeouts and truncated bodies of idempotent requests
  and the configured retry statuses (never other 4xx), with exponential backoff and full
  jitter, honouring ``Retry-After`` in seconds or as an HTTP date (capped);
* bounds every call, retries and waits included, by an overall ``deadline``;
* caps concurrent requests per (store, host) across all sessions of the process;
* turns every failure into a :mod:`eostores.errors` exception carrying the service's own
  message, the status and the URL with secrets removed;
* logs each request on the ``eostores.http`` logger, with secrets removed.

What the deadline bounds: connecting, waiting for response headers, every retry wait and,
for non-streamed responses, reading the body. For ``stream=True`` the response's
``iter_content`` (and therefore ``iter_lines``, ``content``, ``text`` and ``json``) checks
the deadline between chunks; reading ``response.raw`` directly is bounded by the read
timeout per socket read only.
"""

from __future__ import annotations

import dataclasses
import email.utils
import html
import json
import logging
import random
import re
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import requests
from requests.auth import AuthBase, HTTPBasicAuth

from eostores.__about__ import __version__
from eostores.credentials import Secret, redact_text
from eostores.errors import (
    AuthenticationError,
    DataNotFoundError,
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    QuotaExceededError,
    ServiceError,
)

__all__ = [
    "BearerAuth",
    "HeaderAuth",
    "HttpConfig",
    "Session",
    "error_for_response",
    "new_session",
    "redact_url",
    "service_message",
]

logger = logging.getLogger("eostores.http")

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_MESSAGE_LIMIT = 300
_ERROR_BODY_LIMIT = 64 * 1024
_CHUNK = 64 * 1024

# --------------------------------------------------------------------------- redaction

_SECRET_PARAM_NAMES = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth",
        "authorization",
        "key",
        "apikey",
        "api_key",
        "api-key",
        "secret",
        "client_secret",
        "password",
        "passwd",
        "pwd",
        "signature",
        "sig",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
    }
)
_SECRET_PARAM_SUFFIX = re.compile(
    r"[_\-.](token|secret|password|passwd|signature|credential|apikey|key)$", re.IGNORECASE
)
_QUERY_PARAM_IN_TEXT = re.compile(
    r"(?P<sep>[?&;])(?P<name>[^=&#\s?;'\"]+)=(?P<value>[^&#\s'\"()<>\[\],]*)"
)
_USERINFO_IN_TEXT = re.compile(
    r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@"
)


def _is_secret_param(name: str) -> bool:
    lowered = unquote(name).strip().lower()
    return lowered in _SECRET_PARAM_NAMES or bool(_SECRET_PARAM_SUFFIX.search(lowered))


def redact_url(url: str) -> str:
    """``url`` without its userinfo password and with secret-looking query values as ``***``.

    Query parameters such as ``token``, ``key``, ``api_key``, ``access_token``, ``password``,
    ``signature``, ``sig`` and ``X-Amz-Signature``/``-Credential``/``-Security-Token`` (any
    case, and names ending in ``_token``, ``-key`` and the like) keep their names. Registered
    secrets (see :mod:`eostores.credentials`) are removed wherever they occur.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(_redact_params_in_text(url))
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, _, hostport = netloc.rpartition("@")
        user, has_password, _ = userinfo.partition(":")
        netloc = f"{user}:***@{hostport}" if has_password else f"{userinfo}@{hostport}"
    query = "&".join(_redact_query_item(item) for item in parts.query.split("&"))
    rebuilt = urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
    return redact_text(rebuilt)


def _redact_query_item(item: str) -> str:
    name, sep, _value = item.partition("=")
    return f"{name}=***" if sep and _is_secret_param(name) else item


def _redact_params_in_text(text: str) -> str:
    """Remove secrets of URLs embedded in free text (e.g. an exception message)."""

    def query(match: re.Match[str]) -> str:
        if _is_secret_param(match.group("name")):
            return f"{match.group('sep')}{match.group('name')}=***"
        return match.group(0)

    text = _USERINFO_IN_TEXT.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:***@", text)
    return _QUERY_PARAM_IN_TEXT.sub(query, text)


def _clean(text: str) -> str:
    return redact_text(_redact_params_in_text(text))


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class HttpConfig:
    """Timeouts, retries and limits of the HTTP calls of one store.

    The delay before retry ``n`` (0-based) is uniform in
    ``[0, min(retry_backoff_max, retry_backoff_base * 2**n)]`` unless the service sends
    ``Retry-After``, which is honoured up to ``retry_backoff_max``. ``deadline`` bounds one
    call with all its retries and waits (``None``: only the timeouts and the retry count
    bound it). ``max_concurrency_per_host`` caps the requests in flight per
    ``(store_id, host)`` in this process.
    """

    store_id: str | None = None
    num_retries: int = 5
    retry_backoff_base: float = 1.0
    retry_backoff_max: float = 40.0
    retry_statuses: tuple[int, ...] = (429, 502, 503, 504)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    deadline: float | None = 600.0
    max_concurrency_per_host: int | None = None
    user_agent: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry_statuses", tuple(int(s) for s in self.retry_statuses))
        self._check(self.num_retries, "num_retries", minimum=0, integer=True)
        self._check(self.retry_backoff_base, "retry_backoff_base", minimum=0)
        self._check(self.retry_backoff_max, "retry_backoff_max", minimum=0)
        self._check(self.connect_timeout, "connect_timeout", minimum=0, exclusive=True)
        self._check(self.read_timeout, "read_timeout", minimum=0, exclusive=True)
        if self.deadline is not None:
            self._check(self.deadline, "deadline", minimum=0, exclusive=True)
        if self.max_concurrency_per_host is not None:
            self._check(self.max_concurrency_per_host, "max_concurrency_per_host", 1, True)

    def _check(
        self,
        value: Any,
        name: str,
        minimum: float,
        integer: bool = False,
        exclusive: bool = False,
    ) -> None:
        valid_type = (int,) if integer else (int, float)
        ok = isinstance(value, valid_type) and not isinstance(value, bool)
        ok = ok and (value > minimum if exclusive else value >= minimum)
        if not ok:
            bound = f"> {minimum}" if exclusive else f">= {minimum}"
            kind = "an integer" if integer else "a number"
            raise InvalidParameterError(
                f"{name} must be {kind} {bound}, got {value!r}",
                store_id=self.store_id,
                parameter=name,
            )

    @classmethod
    def from_params(cls, params: Mapping[str, Any], store_id: str | None = None) -> HttpConfig:
        """A config from store parameters of the same names; other keys are ignored.

        ``None`` means the default, except for ``deadline``, ``max_concurrency_per_host``
        and ``user_agent`` where it means "none".
        """
        nullable = {"deadline", "max_concurrency_per_host", "user_agent"}
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            if f.name == "store_id" or f.name not in params:
                continue
            value = params[f.name]
            if value is None and f.name not in nullable:
                continue
            values[f.name] = value
        if "retry_statuses" in values:
            values["retry_statuses"] = tuple(values["retry_statuses"])
        return cls(store_id=store_id if store_id is not None else params.get("store_id"), **values)

    @property
    def effective_user_agent(self) -> str:
        if self.user_agent:
            return self.user_agent
        suffix = f" ({self.store_id})" if self.store_id else ""
        return f"eostores/{__version__}{suffix}"

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The jittered delay before retry number ``attempt`` (0-based)."""
        ceiling = min(self.retry_backoff_max, self.retry_backoff_base * 2**attempt)
        return (rng or random).uniform(0.0, ceiling)


# --------------------------------------------------------------------------- auth


class BearerAuth(AuthBase):
    """``Authorization: Bearer <token>`` from a :class:`~eostores.credentials.Secret`."""

    def __init__(self, token: Secret | str):
        self.token = token if isinstance(token, Secret) else Secret(token)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self.token.reveal()}"
        return request

    def __repr__(self) -> str:
        return "BearerAuth(Secret('***'))"


class HeaderAuth(AuthBase):
    """A secret sent in a header of its own, e.g. ``PRIVATE-TOKEN`` or ``X-API-Key``."""

    def __init__(self, header: str, value: Secret | str):
        self.header = header
        self.value = value if isinstance(value, Secret) else Secret(value)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self.header] = self.value.reveal()
        return request

    def __repr__(self) -> str:
        return f"HeaderAuth({self.header!r}, Secret('***'))"


class _SecretBasicAuth(HTTPBasicAuth):
    """Basic auth whose password is a Secret until the request is prepared."""

    def __init__(self, username: str, password: Secret):
        self.username = username
        self.secret = password

    @property
    def password(self) -> str:  # type: ignore[override]
        return self.secret.reveal()

    @password.setter
    def password(self, value: str) -> None:
        self.secret = Secret(value)

    def __repr__(self) -> str:
        return f"BasicAuth({self.username!r}, Secret('***'))"


def _coerce_auth(auth: Any) -> Any:
    if isinstance(auth, tuple) and len(auth) == 2:
        user, password = auth
        user = user.reveal() if isinstance(user, Secret) else user
        return _SecretBasicAuth(str(user), Secret(password))
    return auth


# --------------------------------------------------------------------------- concurrency


_host_limits: dict[tuple[str | None, str, int], threading.BoundedSemaphore] = {}
_host_limits_lock = threading.Lock()


def _host_semaphore(config: HttpConfig, url: str) -> threading.BoundedSemaphore | None:
    limit = config.max_concurrency_per_host
    if limit is None:
        return None
    host = urlsplit(url).netloc.rpartition("@")[2].lower()
    key = (config.store_id, host, limit)  # stores configured alike share one cap
    with _host_limits_lock:
        semaphore = _host_limits.get(key)
        if semaphore is None:
            semaphore = _host_limits[key] = threading.BoundedSemaphore(limit)
        return semaphore


class _Slot:
    """A held concurrency slot, released exactly once."""

    def __init__(self, semaphore: threading.BoundedSemaphore | None):
        self._semaphore = semaphore
        self._lock = threading.Lock()

    def release(self) -> None:
        with self._lock:
            semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()


# --------------------------------------------------------------------------- errors


def service_message(response: requests.Response, body: bytes | None = None) -> str:
    """The service's own explanation in ``response`` (JSON, HTML or text), at most 300 chars.

    Falls back to the reason phrase. Registered secrets are removed.
    """
    if body is None:
        body = response.content if response._content_consumed else b""  # type: ignore[attr-defined]
    text = body[:_ERROR_BODY_LIMIT].decode(response.encoding or "utf-8", "replace")
    content_type = response.headers.get("Content-Type", "").lower()
    message = None
    stripped = text.strip()
    if "json" in content_type or stripped[:1] in ("{", "["):
        try:
            message = _message_from_json(json.loads(stripped))
        except ValueError:
            message = None
    if message is None and ("html" in content_type or stripped[:1] == "<"):
        message = _message_from_html(stripped)
    if message is None and stripped and stripped[:1] not in ("{", "[", "<"):
        message = next(line.strip() for line in stripped.splitlines() if line.strip())
    if not message:
        message = response.reason or _status_phrase(response.status_code)
    message = " ".join(str(message).split())
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    return _clean(message)


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


def _message_from_json(data: Any) -> str | None:
    if isinstance(data, list):
        texts = [m for m in (_message_from_json(item) for item in data[:5]) if m]
        return "; ".join(texts) or None
    if isinstance(data, str):
        return data.strip() or None
    if not isinstance(data, dict):
        return None
    parts: list[str] = []
    for key in (
        "code",
        "title",
        "message",
        "error",
        "error_description",
        "description",
        "detail",
        "msg",
        "errors",
    ):
        value = data.get(key)
        if isinstance(value, dict | list):
            value = _message_from_json(value)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value).strip()
            if text and text not in parts:
                parts.append(text)
    return ": ".join(parts) or None


def _html_text(fragment: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def _message_from_html(text: str) -> str | None:
    found: list[str] = []
    for tag in ("title", "h1"):
        match = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}\s*>", text, re.IGNORECASE | re.DOTALL)
        if match:
            value = _html_text(match.group(1))
            if value and value not in found:
                found.append(value)
    return ": ".join(found) or None


def _where(method: str, url: str) -> str:
    return f"{method.upper()} {redact_url(url)}"


def error_for_response(
    response: requests.Response,
    *,
    store_id: str | None = None,
    method: str | None = None,
    attempts: int = 1,
    body: bytes | None = None,
) -> DataStoreError:
    """The :mod:`eostores.errors` exception for a failed response.

    401/403: :class:`AuthenticationError`; 404/410: :class:`DataNotFoundError`;
    429: :class:`QuotaExceededError`; 400/422: :class:`InvalidParameterError`; other
    statuses: :class:`ServiceError`. Every one carries ``status`` and ``url`` (redacted).
    """
    status = response.status_code
    method = method or (response.request.method if response.request else "GET") or "GET"
    url = redact_url(response.url or (response.request.url if response.request else "") or "")
    message = service_message(response, body)
    tail = f" (HTTP {status} from {_where(method, url)}"
    tail += f", after {attempts} attempts)" if attempts > 1 else ")"
    text = _clean(message + tail)
    error: DataStoreError
    if status in (401, 403):
        error = AuthenticationError(text, store_id=store_id)
    elif status in (404, 410):
        error = DataNotFoundError(text, store_id=store_id)
    elif status == 429:
        error = QuotaExceededError(text, status=status, url=url, store_id=store_id)
    elif status in (400, 422):
        error = InvalidParameterError(text, store_id=store_id)
    else:
        error = ServiceError(text, status=status, url=url, store_id=store_id)
    error.status = status  # type: ignore[attr-defined]
    error.url = url  # type: ignore[attr-defined]
    return error


def _failure(
    cls: type[DataStoreError],
    message: str,
    *,
    config: HttpConfig,
    method: str,
    url: str,
    status: int | None = None,
) -> DataStoreError:
    redacted = redact_url(url)
    text = _clean(f"{message} ({_where(method, url)})")
    if issubclass(cls, ServiceError):
        error: DataStoreError = cls(text, status=status, url=redacted, store_id=config.store_id)
    else:
        error = cls(text, store_id=config.store_id)
    error.status = status  # type: ignore[attr-defined]
    error.url = redacted  # type: ignore[attr-defined]
    return error


def _describe_exception(error: BaseException) -> str:
    reason = error
    for _ in range(4):  # dig to the root cause of requests -> urllib3 wrapping
        inner = getattr(reason, "reason", None) or (reason.args[0] if reason.args else None)
        if isinstance(inner, BaseException) and inner is not reason:
            reason = inner
        else:
            break
    return _clean(f"{type(reason).__name__}: {reason}")


# --------------------------------------------------------------------------- retry policy


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP date); ``None`` if invalid."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if seconds == seconds else None  # NaN is invalid
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return max(0.0, (when - current).total_seconds())


class _Call:
    """The clock of one call: its deadline and attempt counter."""

    def __init__(self, config: HttpConfig, method: str, url: str):
        self.config = config
        self.method = method
        self.url = url
        self.started = time.monotonic()
        self.ends = None if config.deadline is None else self.started + config.deadline
        self.attempt = 0

    def remaining(self) -> float | None:
        return None if self.ends is None else self.ends - time.monotonic()

    def timed_out(self, what: str, status: int | None = None) -> DataStoreError:
        elapsed = time.monotonic() - self.started
        return _failure(
            DataStoreTimeoutError,
            f"{what}; gave up after {elapsed:.1f} s and {self.attempt} attempt(s) "
            f"(deadline {self.config.deadline:g} s)",
            config=self.config,
            method=self.method,
            url=self.url,
            status=status,
        )

    def check(self, what: str = "deadline reached") -> None:
        remaining = self.remaining()
        if remaining is not None and remaining <= 0:
            raise self.timed_out(what)

    def timeouts(self, requested: Any) -> Any:
        """Per-attempt (connect, read) timeouts, never beyond the deadline."""
        if requested is None:
            connect, read = self.config.connect_timeout, self.config.read_timeout
        elif isinstance(requested, tuple):
            connect, read = requested
        else:
            connect = read = requested
        remaining = self.remaining()
        if remaining is not None:
            remaining = max(remaining, 0.001)
            connect = remaining if connect is None else min(connect, remaining)
            read = remaining if read is None else min(read, remaining)
        return (connect, read)


# --------------------------------------------------------------------------- session


class Session(requests.Session):
    """A :class:`requests.Session` with eostores' retries, deadline, limits and errors.

    Extra keyword arguments of :meth:`request` (and ``get``, ``post``, ...):
    ``raise_for_status=True`` (``False`` returns failed responses, after retries) and
    ``idempotent`` (defaults by method; pass ``True`` for a POST that only queries, e.g. a
    search, so that dropped connections and read timeouts are retried).
    """

    def __init__(self, config: HttpConfig | None = None):
        super().__init__()
        self.config = config or HttpConfig()
        self.headers["User-Agent"] = self.config.effective_user_agent
        self._random = random.Random()

    def __repr__(self) -> str:
        return f"<eostores.http.Session store_id={self.config.store_id!r}>"

    def request(  # type: ignore[override]
        self,
        method: str | bytes,
        url: str | bytes,
        *args: Any,
        raise_for_status: bool = True,
        idempotent: bool | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        method = method.decode() if isinstance(method, bytes) else str(method)
        method = method.upper()
        url = url.decode() if isinstance(url, bytes) else str(url)
        for name, value in zip(_REQUEST_ARGUMENTS, args, strict=False):
            if name in kwargs:
                raise TypeError(f"request() got multiple values for argument {name!r}")
            kwargs[name] = value
        if len(args) > len(_REQUEST_ARGUMENTS):
            raise TypeError("request() got too many positional arguments")
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        stream = bool(kwargs.pop("stream", False))
        requested_timeout = kwargs.pop("timeout", None)
        call = _Call(self.config, method, url)
        semaphore = _host_semaphore(self.config, url)
        while True:
            call.check()
            slot = self._acquire(semaphore, call)
            call.attempt += 1
            attempt_started = time.monotonic()
            retry_reason: str | None = None
            response: requests.Response | None = None
            try:
                received = super().request(
                    method, url, stream=True, timeout=call.timeouts(requested_timeout), **kwargs
                )
                if not stream or received.status_code >= 400:
                    self._read_body(received, call)
                response = received
            except requests.exceptions.ConnectTimeout as error:
                retry_reason = f"connection timed out ({_describe_exception(error)})"
                failure_class: type[DataStoreError] = DataStoreTimeoutError
            except requests.exceptions.ReadTimeout as error:
                if not idempotent:
                    slot.release()
                    raise self._exhausted(
                        call, DataStoreTimeoutError, error, "read timed out"
                    ) from None
                retry_reason = f"read timed out ({_describe_exception(error)})"
                failure_class = DataStoreTimeoutError
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
                what = (
                    "the response body broke off"
                    if isinstance(error, requests.exceptions.ChunkedEncodingError)
                    else "connection failed"
                )
                if not (idempotent or _is_connect_failure(error)):
                    slot.release()
                    raise self._exhausted(call, ServiceError, error, what) from None
                retry_reason = f"{what} ({_describe_exception(error)})"
                failure_class = ServiceError
            except DataStoreError:
                slot.release()
                raise
            except (
                requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema,
                requests.exceptions.InvalidURL,
            ) as error:
                slot.release()
                raise _failure(
                    InvalidParameterError,
                    f"invalid URL ({_describe_exception(error)})",
                    config=self.config,
                    method=method,
                    url=url,
                ) from None
            except requests.RequestException as error:
                slot.release()
                raise _failure(
                    ServiceError,
                    f"request failed ({_describe_exception(error)})",
                    config=self.config,
                    method=method,
                    url=url,
                ) from None
            except BaseException:
                slot.release()
                raise

            if response is not None:
                self._log_response(response, call, attempt_started, stream)
                status = response.status_code
                if status in self.config.retry_statuses and call.attempt <= self.config.num_retries:
                    wait = self._wait_for(response, call)
                    message = service_message(response)
                    response.close()
                    slot.release()
                    self._sleep_before_retry(
                        call, wait, f"HTTP {status} ({message})", response=response
                    )
                    continue
                if status >= 400 and raise_for_status:
                    response.close()
                    slot.release()
                    raise error_for_response(
                        response,
                        store_id=self.config.store_id,
                        method=method,
                        attempts=call.attempt,
                    )
                if stream:
                    _bound_stream(response, call, slot)
                else:
                    response.close()
                    slot.release()
                return response

            slot.release()
            assert retry_reason is not None
            if call.attempt > self.config.num_retries:
                raise _failure(
                    failure_class,
                    f"{retry_reason}; gave up after {call.attempt} attempt(s)",
                    config=self.config,
                    method=method,
                    url=url,
                )
            self._sleep_before_retry(call, self.config.backoff(call.attempt - 1), retry_reason)

    # -- helpers

    def _acquire(self, semaphore: threading.BoundedSemaphore | None, call: _Call) -> _Slot:
        if semaphore is None:
            return _Slot(None)
        remaining = call.remaining()
        if not semaphore.acquire(timeout=-1 if remaining is None else max(0.0, remaining)):
            raise call.timed_out("no free connection slot for this host within the deadline")
        return _Slot(semaphore)

    def _read_body(self, response: requests.Response, call: _Call) -> None:
        """Read the whole body, checking the deadline between chunks."""
        chunks = []
        raw = response.raw
        try:
            if hasattr(raw, "read1"):  # urllib3 >= 2: returns as soon as some bytes arrive
                while chunk := raw.read1(_CHUNK, decode_content=True):
                    chunks.append(chunk)
                    call.check("deadline reached while reading the response body")
            else:
                for chunk in raw.stream(8192, decode_content=True):
                    chunks.append(chunk)
                    call.check("deadline reached while reading the response body")
        except DataStoreError:
            response.close()
            raise
        except Exception as error:
            response.close()
            raise _to_requests_error(error) from error
        response._content = b"".join(chunks)
        response._content_consumed = True  # type: ignore[attr-defined]

    def _wait_for(self, response: requests.Response, call: _Call) -> float:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if retry_after is not None:
            return min(retry_after, self.config.retry_backoff_max)
        return self.config.backoff(call.attempt - 1, self._random)

    def _sleep_before_retry(
        self,
        call: _Call,
        wait: float,
        reason: str,
        response: requests.Response | None = None,
    ) -> None:
        remaining = call.remaining()
        if remaining is not None and wait >= remaining:
            status = response.status_code if response is not None else None
            raise call.timed_out(
                f"{reason}; the next retry (in {wait:.1f} s) would pass the deadline", status
            )
        logger.warning(
            "%s: %s; retry %d/%d in %.2f s",
            _where(call.method, call.url),
            _clean(reason),
            call.attempt,
            self.config.num_retries,
            wait,
        )
        if wait > 0:
            time.sleep(wait)

    def _exhausted(
        self, call: _Call, cls: type[DataStoreError], error: BaseException, what: str
    ) -> DataStoreError:
        return _failure(
            cls,
            f"{what} ({_describe_exception(error)}); not retried for a non-idempotent request",
            config=self.config,
            method=call.method,
            url=call.url,
        )

    def _log_response(
        self, response: requests.Response, call: _Call, started: float, stream: bool
    ) -> None:
        if not logger.isEnabledFor(logging.DEBUG):
            return
        if response._content_consumed and isinstance(response._content, bytes):  # type: ignore[attr-defined]
            size = f"{len(response._content)} bytes"
        elif "Content-Length" in response.headers:
            size = f"{response.headers['Content-Length']} bytes"
        else:
            size = "streamed body"
        logger.debug(
            "%s -> %d, %s, %.3f s, attempt %d",
            _where(call.method, call.url),
            response.status_code,
            size,
            time.monotonic() - started,
            call.attempt,
        )


_REQUEST_ARGUMENTS = (
    "params",
    "data",
    "headers",
    "cookies",
    "files",
    "auth",
    "timeout",
    "allow_redirects",
    "proxies",
    "hooks",
    "stream",
    "verify",
    "cert",
    "json",
)


def _is_connect_failure(error: BaseException) -> bool:
    """Whether the connection could not be established (so the request was never sent)."""
    from urllib3.exceptions import NewConnectionError

    seen = 0
    current: Any = error
    while current is not None and seen < 6:
        if isinstance(current, NewConnectionError):
            return True
        seen += 1
        inner = getattr(current, "reason", None)
        if inner is None and getattr(current, "args", None):
            inner = current.args[0]
        current = inner if isinstance(inner, BaseException) else None
    return False


def _to_requests_error(error: Exception) -> requests.RequestException:
    """Translate a urllib3 body-reading error as requests would."""
    from urllib3.exceptions import ProtocolError, ReadTimeoutError

    if isinstance(error, requests.RequestException):
        return error
    if isinstance(error, ProtocolError):
        return requests.exceptions.ChunkedEncodingError(error)
    if isinstance(error, ReadTimeoutError):
        return requests.exceptions.ReadTimeout(error)
    if isinstance(error, OSError):
        return requests.ConnectionError(error)
    return requests.exceptions.ContentDecodingError(error)


def _bound_stream(response: requests.Response, call: _Call, slot: _Slot) -> None:
    """Make a streamed response check the deadline between chunks and free its slot."""
    original_iter_content = response.iter_content
    original_close = response.close
    config = call.config

    def iter_content(chunk_size: int | None = 1, decode_unicode: bool = False) -> Iterator[Any]:
        try:
            for chunk in original_iter_content(chunk_size, decode_unicode):
                yield chunk
                call.check("deadline reached while streaming the response body")
        except DataStoreError:
            close()
            raise
        except requests.RequestException as error:
            close()
            raise _failure(
                ServiceError,
                f"the response body broke off ({_describe_exception(error)})",
                config=config,
                method=call.method,
                url=call.url,
            ) from None
        slot.release()

    def close() -> None:
        try:
            original_close()
        finally:
            slot.release()

    response.iter_content = iter_content  # type: ignore[method-assign]
    response.close = close  # type: ignore[method-assign]
    weakref.finalize(response, slot.release)


def new_session(
    config: HttpConfig | None = None,
    *,
    auth: Any = None,
    headers: Mapping[str, str] | None = None,
) -> Session:
    """A session configured by ``config``.

    ``auth`` is any requests auth: a ``(user, password)`` tuple (the password may be a
    :class:`~eostores.credentials.Secret`), :class:`BearerAuth` or :class:`HeaderAuth`.
    ``headers`` are sent with every request.
    """
    session = Session(config)
    if auth is not None:
        session.auth = _coerce_auth(auth)
    if headers:
        for name, value in headers.items():
            session.headers[name] = value.reveal() if isinstance(value, Secret) else value
    return session
