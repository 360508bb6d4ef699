"""The one HTTP session factory every store uses.

:func:`new_session` returns a :class:`requests.Session` whose retries are urllib3's
:class:`~urllib3.util.Retry`: a failed connection is retried once (a refused connection or
an unknown host fails within seconds); dropped connections, read timeouts and the statuses
429/500/502/503/504 are retried for GET, HEAD, OPTIONS, PUT, DELETE and for a POST marked
``idempotent=True``, with full-jitter exponential backoff and ``Retry-After``, both capped
by ``retry_backoff_max``. This module adds only what urllib3 cannot do:

* one deadline per call (:attr:`HttpConfig.deadline`, and :func:`call_deadline` for a whole
  user call): no attempt, wait or (non-streamed) body read passes it;
* a truncated body of an idempotent request is fetched again;
* a cap on concurrent requests per (store, host) across the sessions of the process;
* failures become :mod:`eostores.errors` exceptions with the service's own message, the
  status and the URL without secrets; log lines on ``eostores.http`` carry no secrets.

A streamed response (``stream=True``) holds its concurrency slot until it is read or
closed; its body is bounded by the read timeout per read and by :func:`call_deadline`, not
by :attr:`HttpConfig.deadline`, since a large download may take longer than one request.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import email.utils
import html
import itertools
import json
import logging
import random
import re
import threading
import time
import weakref
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase, HTTPBasicAuth
from requests.utils import get_encoding_from_headers
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.util import Retry, Timeout

from eostores.__about__ import __version__
from eostores.credentials import Secret, install_log_redaction, is_secret_name, redact_text
from eostores.errors import (
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    ServiceError,
    context,
    error_for_status,
)
from eostores.schema import JsonIntegerSchema, JsonNumberSchema, JsonSchema

__all__ = [
    "IDEMPOTENT_METHODS",
    "BearerAuth",
    "HeaderAuth",
    "HttpConfig",
    "Session",
    "call_deadline",
    "error_for_response",
    "http_params_schema",
    "new_session",
    "parse_retry_after",
    "redact_url",
    "service_message",
]

logger = logging.getLogger("eostores.http")
install_log_redaction()

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
_MESSAGE_LIMIT = 300
_ERROR_BODY_LIMIT = 64 * 1024
_CHUNK = 64 * 1024


def redact_url(url: str) -> str:
    """``url`` without its userinfo password and secret query values (names kept), and
    without registered secrets; see :func:`eostores.credentials.is_secret_name`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return redact_text(url)
    items = (item.partition("=") for item in parts.query.split("&"))
    query = "&".join(
        f"{name}=***" if sep and is_secret_name(name) else f"{name}{sep}{value}"
        for name, sep, value in items
    )
    return redact_text(urlunsplit((parts.scheme, parts.netloc, parts.path, query, parts.fragment)))


# --------------------------------------------------------------------------- configuration


@dataclass(frozen=True)
class HttpConfig:
    """Timeouts, retries and limits of the HTTP calls of one store.

    The wait before retry ``n`` (0-based) is uniform in
    ``[0, min(retry_backoff_max, retry_backoff_base * 2**n)]`` unless the service sends
    ``Retry-After``, honoured up to ``retry_backoff_max``. ``deadline`` bounds one call
    with all its retries and waits (``None``: only timeouts and retries bound it).
    ``max_concurrency_per_host`` caps the requests in flight per ``(store_id, host)``.
    ``retry_after_unit`` is the length in seconds of one unit of a numeric ``Retry-After``
    of a 429 answer (``0.001`` for rate limiters that count milliseconds).
    ``endpoints`` pairs store parameters with the service URLs they give; a connection
    that cannot be made to one of their origins is reported against that parameter.
    """

    store_id: str | None = None
    num_retries: int = 5
    retry_backoff_base: float = 1.0
    retry_backoff_max: float = 40.0
    retry_statuses: tuple[int, ...] = (429, 500, 502, 503, 504)
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    deadline: float | None = 600.0
    max_concurrency_per_host: int | None = None
    user_agent: str | None = None
    retry_after_unit: float = 1.0
    endpoints: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "retry_statuses", tuple(int(s) for s in self.retry_statuses))
        with context(self.store_id):
            for name, (cls, settings) in _PARAMS.items():
                cls(**settings).validate_instance(getattr(self, name), name=name)

    @classmethod
    def from_params(cls, params: Mapping[str, Any], store_id: str | None = None) -> HttpConfig:
        """A config from store parameters of the same names, and ``endpoints`` from those
        whose value is an http(s) URL; other keys are ignored.

        ``None`` means the default, except for ``deadline``, ``max_concurrency_per_host``
        and ``user_agent`` where it means "none".
        """
        nullable = {"deadline", "max_concurrency_per_host", "user_agent"}
        values = {
            f.name: params[f.name]
            for f in dataclasses.fields(cls)
            if f.name not in ("store_id", "endpoints")
            and f.name in params
            and (params[f.name] is not None or f.name in nullable)
        }
        if store_id is None:
            store_id = params.get("store_id")
        endpoints = tuple(
            (name, value)
            for name, value in params.items()
            if isinstance(value, str) and value.lower().startswith(("http://", "https://"))
        )
        return cls(store_id=store_id, endpoints=endpoints, **values)

    def endpoint_parameter(self, url: str) -> str | None:
        """The store parameter whose URL has the origin of ``url`` and shares the longest
        beginning with it, if any."""
        origin = _origin(url)
        candidates = [(name, value) for name, value in self.endpoints if _origin(value) == origin]
        if not candidates:
            return None
        segments = urlsplit(url).path.split("/")

        def shared(value: str) -> int:
            pairs = zip(urlsplit(value).path.rstrip("/").split("/"), segments, strict=False)
            return sum(1 for _ in itertools.takewhile(lambda pair: pair[0] == pair[1], pairs))

        return max(candidates, key=lambda candidate: shared(candidate[1]))[0]

    @property
    def effective_user_agent(self) -> str:
        if self.user_agent:
            return self.user_agent
        suffix = f" ({self.store_id})" if self.store_id else ""
        return f"eostores/{__version__}{suffix}"

    def backoff(self, attempt: int, rng: random.Random | None = None) -> float:
        """The jittered wait before retry number ``attempt`` (0-based)."""
        ceiling = min(self.retry_backoff_max, self.retry_backoff_base * 2**attempt)
        return (rng or random).uniform(0.0, ceiling)


def _setting(title: str, description: str, **limits: Any) -> dict[str, Any]:
    return dict(title=title, description=description, **limits)


_PARAMS: dict[str, tuple[type[JsonSchema], dict[str, Any]]] = {
    "num_retries": (
        JsonIntegerSchema,
        _setting(
            "Retries of a failed request",
            "Dropped connections, read timeouts and answers 429/500/502/503/504 are retried "
            "this often; a connection that cannot be made is retried once.",
            minimum=0,
        ),
    ),
    "retry_backoff_base": (
        JsonNumberSchema,
        _setting("First retry wait, s", "Retry n waits up to base * 2**n s.", minimum=0),
    ),
    "retry_backoff_max": (
        JsonNumberSchema,
        _setting("Longest retry wait, s", "Also caps the service's Retry-After.", minimum=0),
    ),
    "connect_timeout": (
        JsonNumberSchema,
        _setting("Connect timeout, s", "Longest wait for a connection.", exclusive_minimum=0),
    ),
    "read_timeout": (
        JsonNumberSchema,
        _setting("Read timeout, s", "Longest wait for more of an answer.", exclusive_minimum=0),
    ),
    "deadline": (
        JsonNumberSchema,
        _setting(
            "Longest time for one request with all its retries, s",
            "null: only the timeouts and the retries bound a request.",
            exclusive_minimum=0,
            nullable=True,
        ),
    ),
    "max_concurrency_per_host": (
        JsonIntegerSchema,
        _setting("Most requests in flight per host", "null: no cap.", minimum=1, nullable=True),
    ),
}


def http_params_schema(**defaults: Any) -> dict[str, JsonSchema]:
    """The HTTP store parameters (``num_retries``, ``retry_backoff_base``,
    ``retry_backoff_max``, ``connect_timeout``, ``read_timeout``, ``deadline``,
    ``max_concurrency_per_host``) as schemas to merge into a store-parameter schema.

    Keyword arguments replace :class:`HttpConfig`'s defaults; an unknown name is a
    ``TypeError``, an invalid value an :class:`InvalidParameterError`. Read the values back
    with :meth:`HttpConfig.from_params`.
    """
    unknown = sorted(set(defaults) - set(_PARAMS))
    if unknown:
        raise TypeError(
            f"http_params_schema() got unknown parameter(s) {', '.join(unknown)}; "
            f"known: {', '.join(_PARAMS)}"
        )
    config = HttpConfig(**defaults)
    return {
        name: cls(default=getattr(config, name), **settings)
        for name, (cls, settings) in _PARAMS.items()
    }


# --------------------------------------------------------------------------- deadlines

_CALL_DEADLINE: contextvars.ContextVar[tuple[float, float] | None] = contextvars.ContextVar(
    "eostores_call_deadline", default=None
)


@contextlib.contextmanager
def call_deadline(seconds: float | None) -> Iterator[None]:
    """Bound every request made inside by one deadline ``seconds`` from now.

    Requests, their retry waits and their bodies (streamed ones too) give up with
    :class:`DataStoreTimeoutError` when the deadline is reached, however many requests the
    call makes. It holds in this thread, in asyncio tasks, and in code run in a copy of this
    context (``contextvars.copy_context().run``); nested deadlines can only shorten it.
    ``None`` adds no bound.
    """
    if seconds is None:
        yield
        return
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds > 0:
        raise InvalidParameterError(
            f"deadline must be a number > 0, got {seconds!r}", parameter="deadline"
        )
    ends = time.monotonic() + seconds
    outer = _CALL_DEADLINE.get()
    token = _CALL_DEADLINE.set((ends, seconds) if outer is None or ends < outer[0] else outer)
    try:
        yield
    finally:
        _CALL_DEADLINE.reset(token)


class _Call:
    """One call of :meth:`Session.request`: its clock, attempts and last failure."""

    def __init__(self, config: HttpConfig, method: str, url: str, idempotent: bool | None):
        self.config = config
        self.method = method
        self.url = url
        self.idempotent = method in IDEMPOTENT_METHODS if idempotent is None else idempotent
        self.started = time.monotonic()
        ambient = _CALL_DEADLINE.get()
        self.ambient_ends = ambient[0] if ambient else None
        bounds = [ambient] if ambient else []
        if config.deadline is not None:
            bounds.append((self.started + config.deadline, config.deadline))
        self.ends, self.seconds = min(bounds) if bounds else (None, None)
        self.attempt = 1
        self.last_failure = "request failed"
        self.unreachable = False  # the last attempt could not connect at all

    def remaining(self) -> float | None:
        return None if self.ends is None else self.ends - time.monotonic()

    def failure(self, cls: type[DataStoreError], message: str, status: int | None = None):
        return _failure(cls, message, self.config, self.method, self.url, status)

    def timed_out(self, what: str) -> DataStoreError:
        elapsed = time.monotonic() - self.started
        return self.failure(
            DataStoreTimeoutError,
            f"{what}; gave up after {elapsed:.1f} s and {self.attempt} attempt(s) "
            f"(deadline {self.seconds:g} s)",
        )

    def note_failure(self, response: Any = None, error: BaseException | None = None) -> None:
        """Remember why the attempt failed (for the retry log line and a final error)."""
        if response is not None:
            try:
                body = response.read(_ERROR_BODY_LIMIT, decode_content=True)
            except Exception:
                body = b""
            message = _message_of(body, response.headers, response.reason, response.status)
            self.last_failure = f"HTTP {response.status} ({message})"
            self.unreachable = False
        elif error is not None:
            self.last_failure = f"{_what_failed(error)} ({_describe_exception(error)})"
            self.unreachable = isinstance(_root_cause(error), NewConnectionError)

    def before_retry(self, wait: float) -> None:
        """Log the coming retry, or raise when its wait would pass the deadline."""
        remaining = self.remaining()
        if remaining is not None and wait >= remaining:
            raise self.timed_out(
                f"{self.last_failure}; the next retry (in {wait:.1f} s) would pass the deadline"
            )
        logger.warning(
            "%s: %s; retry %d/%d in %.2f s",
            _where(self.method, self.url),
            redact_text(self.last_failure),
            self.attempt,
            min(self.config.num_retries, 1) if self.unreachable else self.config.num_retries,
            wait,
        )
        self.attempt += 1


_CALL: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("eostores_call", default=None)


class _GiveUp(Exception):
    """Carries an eostores error out of urllib3's retry loop (which wraps OSErrors)."""

    def __init__(self, error: DataStoreError):
        super().__init__(str(error))
        self.error = error


class _Retry(Retry):
    """urllib3's retry policy with the call's idempotency, deadline and failure log."""

    @staticmethod
    def _idempotent(method: str | None) -> bool:
        call = _CALL.get()
        return call.idempotent if call is not None else (method or "") in IDEMPOTENT_METHODS

    def is_retry(self, method: str, status_code: int, has_retry_after: bool = False) -> bool:
        return self._idempotent(method) and super().is_retry(method, status_code, has_retry_after)

    def increment(
        self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None
    ):
        connecting = isinstance(error, ConnectTimeoutError)  # the request was not sent
        if error is not None and not connecting and not self._idempotent(method):
            raise error.with_traceback(_stacktrace)
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        call = _CALL.get()
        if call is not None:
            call.note_failure(response, error)
        return retry

    def get_backoff_time(self) -> float:
        exponent = max(len(self.history) - 1, 0)
        ceiling = min(self.backoff_max, self.backoff_factor * 2**exponent)
        return random.uniform(0.0, ceiling)

    def get_retry_after(self, response: Any) -> float | None:
        call = _CALL.get()
        rate_limited = call is not None and response.status == HTTPStatus.TOO_MANY_REQUESTS
        unit = call.config.retry_after_unit if rate_limited else 1.0
        seconds = parse_retry_after(response.headers.get("Retry-After"), unit=unit)
        return None if seconds is None else min(seconds, self.backoff_max)

    def sleep(self, response: Any = None) -> None:
        wait = self.get_retry_after(response) if response is not None else None
        if wait is None:
            wait = self.get_backoff_time()
        if self.history and isinstance(self.history[-1].error, NewConnectionError):
            wait = min(wait, 0.5)  # a refused connection or unknown host: one quick retry
        call = _CALL.get()
        if call is not None:
            try:
                call.before_retry(wait)
            except DataStoreError as error:
                raise _GiveUp(error) from None
        if wait > 0:
            time.sleep(wait)


def _retry_policy(config: HttpConfig) -> _Retry:
    return _Retry(
        total=config.num_retries,
        connect=min(config.num_retries, 1),
        read=config.num_retries,
        status=config.num_retries,
        other=0,
        redirect=False,  # requests follows redirects itself
        allowed_methods=None,  # decided per call in _Retry._idempotent
        status_forcelist=config.retry_statuses,
        backoff_factor=config.retry_backoff_base,
        backoff_max=config.retry_backoff_max,
        raise_on_status=False,
    )


class _DeadlineTimeout(Timeout):
    """Connect and read timeouts of each attempt, never reaching past the deadline."""

    def __init__(self, connect: float | None, read: float | None, ends: float | None):
        super().__init__(connect=connect, read=read)
        self.limits = (connect, read)
        self.ends = ends

    def clone(self) -> _DeadlineTimeout:
        return _DeadlineTimeout(*self.limits, self.ends)

    def _bounded(self, value: float | None) -> float | None:
        if self.ends is None:
            return value
        remaining = max(self.ends - time.monotonic(), 0.001)
        return remaining if value is None else min(value, remaining)

    @property
    def connect_timeout(self) -> float | None:  # type: ignore[override]
        return self._bounded(self.limits[0])

    @property
    def read_timeout(self) -> float | None:  # type: ignore[override]
        return self._bounded(self.limits[1])


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


class _Slot:
    """A concurrency slot of a (store, host), held from the request until the body is read."""

    def __init__(self, call: _Call):
        self._semaphore: threading.BoundedSemaphore | None = None
        self._lock = threading.Lock()
        limit = call.config.max_concurrency_per_host
        if limit is not None:
            host = urlsplit(call.url).netloc.rpartition("@")[2].lower()
            with _host_limits_lock:  # stores configured alike share one cap
                key = (call.config.store_id, host, limit)
                semaphore = _host_limits.setdefault(key, threading.BoundedSemaphore(limit))
            remaining = call.remaining()
            if not semaphore.acquire(timeout=-1 if remaining is None else max(0.0, remaining)):
                raise call.timed_out("no free connection slot for this host within the deadline")
            self._semaphore = semaphore

    def release(self) -> None:
        with self._lock:
            semaphore, self._semaphore = self._semaphore, None
        if semaphore is not None:
            semaphore.release()


# --------------------------------------------------------------------------- bodies


class _BrokenBody(ServiceError):
    """The body of a response broke off (dropped connection, short body, read timeout)."""

    timed_out = False


def _broken(call: _Call, received: int, error: BaseException) -> _BrokenBody:
    broken = call.failure(
        _BrokenBody,
        f"the response body broke off after {received} bytes ({_describe_exception(error)})",
    )
    broken.timed_out = isinstance(error, ReadTimeoutError | TimeoutError)  # type: ignore[attr-defined]
    return broken  # type: ignore[return-value]


class _Body:
    """A response's raw body read in pieces: the deadline is checked between them, failures
    become eostores errors, and the concurrency slot is freed at the end.

    Everything else is the urllib3 response's own (``headers``, ``status``, ...).
    """

    def __init__(self, raw: Any, call: _Call, ends: float | None):
        self.raw = raw
        self.call = call
        self.ends = ends
        self.received = 0
        self.done = False
        self._slot: _Slot | None = None

    def __getattr__(self, name: str) -> Any:
        if name == "raw":  # not set yet (e.g. while copying)
            raise AttributeError(name)
        return getattr(self.raw, name)

    def hold(self, slot: _Slot) -> None:
        """Free ``slot`` when the body has been read or closed."""
        self._slot = slot
        if self.done:
            slot.release()

    def _finish(self) -> None:
        self.done = True
        if self._slot is not None:
            self._slot.release()

    def read1(self, amt: int = _CHUNK, decode_content: bool = True) -> bytes:
        if self.ends is not None and time.monotonic() >= self.ends:
            self.close()
            raise self.call.timed_out("deadline reached while reading the response body")
        try:
            chunk = self.raw.read1(amt if amt and amt > 0 else _CHUNK, decode_content)
        except (Urllib3Error, OSError) as error:
            self.close()
            raise _broken(self.call, self.received, error) from None
        self.received += len(chunk)
        if not chunk:
            self._finish()
        return chunk

    def read(self, amt: int | None = None, decode_content: bool = True, **_: Any) -> bytes:
        if amt is None or amt < 0:
            return b"".join(iter(lambda: self.read1(_CHUNK, decode_content), b""))
        pieces: list[bytes] = []
        while amt > 0 and (chunk := self.read1(min(amt, _CHUNK), decode_content)):
            pieces.append(chunk)
            amt -= len(chunk)
        return b"".join(pieces)

    def stream(
        self, amt: int | None = _CHUNK, decode_content: bool | None = None
    ) -> Iterator[bytes]:
        while chunk := self.read1(amt or _CHUNK, decode_content is not False):
            yield chunk

    def close(self) -> None:
        try:
            self.raw.close()
        finally:
            self._finish()

    def release_conn(self) -> None:
        try:
            self.raw.release_conn()
        finally:
            self._finish()


# --------------------------------------------------------------------------- session


class Session(requests.Session):
    """A :class:`requests.Session` with eostores' retries, deadline, limits and errors.

    Extra keyword arguments of :meth:`request` (and ``get``, ``post``, ...):
    ``raise_for_status=True`` (``False`` returns failed responses, after retries) and
    ``idempotent`` (defaults by method; ``True`` marks a POST that only queries, e.g. a
    search, so that its failures are retried like a GET's).
    """

    __attrs__ = [*requests.Session.__attrs__, "config"]

    def __init__(self, config: HttpConfig | None = None):
        super().__init__()
        self.config = config or HttpConfig()
        self.headers["User-Agent"] = self.config.effective_user_agent
        pool = max(10, self.config.max_concurrency_per_host or 0)
        adapter = HTTPAdapter(
            max_retries=_retry_policy(self.config), pool_connections=pool, pool_maxsize=pool
        )
        self.mount("https://", adapter)
        self.mount("http://", adapter)

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
        method_text = (method.decode() if isinstance(method, bytes) else str(method)).upper()
        url_text = url.decode() if isinstance(url, bytes) else str(url)
        call = _Call(self.config, method_text, url_text, idempotent)
        remaining = call.remaining()
        if remaining is not None and remaining <= 0:
            raise call.timed_out("the deadline had passed before the request")
        slot = _Slot(call)
        token = _CALL.set(call)
        try:
            response = self._attempts(call, method, url, args, kwargs)
            if response.status_code >= 400 and raise_for_status:
                error = error_for_response(
                    response,
                    store_id=self.config.store_id,
                    method=method_text,
                    attempts=call.attempt,
                )
                response.close()
                raise error
        except BaseException:
            slot.release()
            raise
        finally:
            _CALL.reset(token)
        body = response.raw
        if isinstance(body, _Body) and not body.done:
            body.hold(slot)
            weakref.finalize(response, slot.release)
        else:
            slot.release()
        return response

    def _attempts(
        self, call: _Call, method: Any, url: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> requests.Response:
        """Send until a response arrives whole; only broken bodies are retried here."""
        while True:
            try:
                return super().request(method, url, *args, **kwargs)
            except _BrokenBody as broken:
                if not call.idempotent or call.attempt > self.config.num_retries:
                    cls = DataStoreTimeoutError if broken.timed_out else ServiceError
                    raise call.failure(
                        cls, f"{broken.message}; gave up after {call.attempt} attempt(s)"
                    ) from None
                call.last_failure = broken.message
                call.before_retry(self.config.backoff(call.attempt - 1))
            except DataStoreError:
                raise
            except requests.RequestException as error:
                raise _request_failure(call, error) from None

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        call = _CALL.get() or _Call(self.config, request.method or "GET", request.url or "", None)
        stream = bool(kwargs.get("stream"))
        timeout = kwargs.get("timeout")
        if not isinstance(timeout, _DeadlineTimeout):
            if timeout is None:
                timeout = (self.config.connect_timeout, self.config.read_timeout)
            elif not isinstance(timeout, tuple):
                timeout = (timeout, timeout)
            kwargs["timeout"] = _DeadlineTimeout(*timeout, call.ends)
        kwargs["stream"] = True  # bodies are read below, within the deadline
        started = time.monotonic()
        try:
            response = super().send(request, **kwargs)
        except _GiveUp as stop:
            raise stop.error from None
        body = response.raw
        if not isinstance(body, _Body):
            body = response.raw = _Body(body, call, call.ambient_ends)
        if not stream:
            body.ends = call.ends
            _ = response.content
        if logger.isEnabledFor(logging.DEBUG):
            size = "streamed body" if stream else f"{len(response.content)} bytes"
            logger.debug(
                "%s -> %d, %s, %.3f s, attempt %d",
                _where(call.method, request.url or call.url),
                response.status_code,
                size,
                time.monotonic() - started,
                call.attempt,
            )
        return response


def _what_failed(error: BaseException) -> str:
    root = _root_cause(error)
    if isinstance(root, ReadTimeoutError | TimeoutError):
        return "read timed out"
    if isinstance(root, ConnectTimeoutError) and not isinstance(root, NewConnectionError):
        return "connection timed out"
    return "connection failed"


_URL_ERRORS = (
    requests.exceptions.InvalidURL,
    requests.exceptions.InvalidSchema,
    requests.exceptions.MissingSchema,
)


def _request_failure(call: _Call, error: requests.RequestException) -> DataStoreError:
    if isinstance(error, _URL_ERRORS):
        return call.failure(InvalidParameterError, f"invalid URL ({_describe_exception(error)})")
    what = f"{_what_failed(error)} ({_describe_exception(error)})"
    remaining = call.remaining()
    if remaining is not None and remaining <= 0:
        return call.timed_out(what)
    timed_out = "timed out" in what.partition(" (")[0]
    cls = DataStoreTimeoutError if timed_out else ServiceError
    root = _root_cause(error)
    if isinstance(root, NewConnectionError):  # refused, or no such host
        reason = str(root).partition("): ")[2] or str(root)
        what = f"cannot connect to {_origin(redact_url(call.url))} ({reason})"
    failure = call.failure(cls, f"{what}; gave up after {call.attempt} attempt(s)")
    parameter = call.config.endpoint_parameter(call.url)
    if parameter and isinstance(root, NewConnectionError):
        failure.message += f"; check the store parameter {parameter}"
        failure.parameter = parameter
    return failure


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{parts.netloc.rpartition('@')[2].lower()}"


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
    for name, value in (headers or {}).items():
        session.headers[name] = value.reveal() if isinstance(value, Secret) else value
    return session


# --------------------------------------------------------------------------- errors


def service_message(response: requests.Response, body: bytes | None = None) -> str:
    """The service's own explanation in ``response`` (JSON, HTML or text), at most 300 chars.

    Falls back to the reason phrase. Secrets are removed.
    """
    if body is None:
        try:
            body = response.content or b""
        except (requests.RequestException, DataStoreError, RuntimeError):
            body = b""
    return _message_of(body, response.headers, response.reason, response.status_code)


def _message_of(body: bytes, headers: Mapping[str, str], reason: str | None, status: int) -> str:
    content_type = headers.get("Content-Type", "").lower()
    try:
        text = body[:_ERROR_BODY_LIMIT].decode(
            get_encoding_from_headers(headers) or "utf-8", "replace"
        )
    except LookupError:
        text = body[:_ERROR_BODY_LIMIT].decode("utf-8", "replace")
    stripped = text.strip()
    message = None
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
        message = reason or _status_phrase(status)
    message = " ".join(str(message).split())
    if len(message) > _MESSAGE_LIMIT:
        message = message[: _MESSAGE_LIMIT - 1] + "…"
    return redact_text(message)


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return f"HTTP {status}"


_JSON_MESSAGE_KEYS = (
    "code",
    "title",
    "message",
    "error",
    "error_description",
    "description",
    "detail",
    "msg",
    "errors",
)


def _message_from_json(data: Any) -> str | None:
    if isinstance(data, list):
        texts = [m for m in (_message_from_json(item) for item in data[:5]) if m]
        return "; ".join(texts) or None
    if isinstance(data, str):
        return data.strip() or None
    if not isinstance(data, dict):
        return None
    parts: list[str] = []
    for key in _JSON_MESSAGE_KEYS:
        value = data.get(key)
        if isinstance(value, dict | list):
            value = _message_from_json(value)
        if isinstance(value, str | int | float) and not isinstance(value, bool):
            text = str(value).strip()
            if text and text not in parts:
                parts.append(text)
    return ": ".join(parts) or None


def _message_from_html(text: str) -> str | None:
    found: list[str] = []
    for tag in ("title", "h1"):
        match = re.search(rf"<{tag}\b[^>]*>(.*?)</{tag}\s*>", text, re.IGNORECASE | re.DOTALL)
        if match:
            value = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", match.group(1))).split())
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
    request = response.request
    method = method or (request.method if request else None) or "GET"
    url = redact_url(response.url or (request.url if request else "") or "")
    tail = f" (HTTP {status} from {_where(method, url)}"
    tail += f", after {attempts} attempts)" if attempts > 1 else ")"
    message = redact_text(service_message(response, body) + tail)
    return error_for_status(status, message, url=url, store_id=store_id)


def _failure(
    cls: type[DataStoreError],
    message: str,
    config: HttpConfig,
    method: str,
    url: str,
    status: int | None = None,
) -> DataStoreError:
    text = redact_text(f"{message} ({_where(method, url)})")
    if issubclass(cls, ServiceError):
        return cls(text, status=status, url=redact_url(url), store_id=config.store_id)
    error = cls(text, store_id=config.store_id)
    error.status = status  # type: ignore[attr-defined]
    error.url = redact_url(url)  # type: ignore[attr-defined]
    return error


def _root_cause(error: BaseException) -> BaseException:
    """The innermost of requests -> urllib3 wrapping (``reason`` or first argument)."""
    for _ in range(6):
        inner = getattr(error, "reason", None) or (error.args[0] if error.args else None)
        if not isinstance(inner, BaseException) or inner is error:
            break
        error = inner
    return error


def _describe_exception(error: BaseException) -> str:
    reason = _root_cause(error)
    return redact_text(f"{type(reason).__name__}: {reason}")


def parse_retry_after(
    value: str | None, now: float | None = None, unit: float = 1.0
) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (a number of ``unit`` seconds, or an
    HTTP date); ``None`` if invalid."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds * unit) if seconds == seconds else None  # NaN is invalid
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.fromtimestamp(time.time() if now is None else now, UTC)
    return max(0.0, (when - current).total_seconds())
