"""Fault profiles and the request log of the emulator server."""

from __future__ import annotations

import dataclasses
import json
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .messages import Headers

_REDACTED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "private-token",
        "x-api-key",
        "api-key",
        "x-auth-token",
    }
)


# --------------------------------------------------------------------------- faults and log


@dataclass
class FaultProfile:
    """Faults injected into the requests whose path fully matches ``paths`` (all when ``None``).

    Rates are probabilities in 0..1 drawn from ``random.Random(seed)``; ``fail_first`` makes
    the first N matching requests fail deterministically with ``error_statuses[0]``.
    ``max_faults_per_request`` bounds how many random faults the same request (method, path,
    query, range and body) meets while the profile is active, so that a client retrying more
    often than that always gets through, whatever other clients ask for at the same time
    (a bound on faults *in a row* would not hold: another client's success of the same
    request in between would start the count again); a rate of 1 is not bounded (the service
    is down), nor is ``None``.
    ``retry_after`` is sent with injected error statuses and 429s: seconds (int or float),
    or ``"date"`` for an HTTP-date at least one second ahead. Control endpoints
    (``/_emulator/...``) are never affected.
    """

    latency_ms: float = 0.0
    slow_body_bytes_per_s: float | None = None
    error_rate: float = 0.0
    error_statuses: tuple[int, ...] = (503,)
    retry_after: int | float | str | None = None
    fail_first: int = 0
    drop_rate: float = 0.0
    truncate_rate: float = 0.0
    max_concurrency_per_client: int | None = None
    token_ttl_s: float | None = None
    paths: str | None = None
    seed: int | None = None
    max_faults_per_request: int | None = 3

    def __post_init__(self) -> None:
        self.error_statuses = tuple(int(status) for status in self.error_statuses)
        if not self.error_statuses:
            raise ValueError("error_statuses must not be empty")
        for name in ("error_rate", "drop_rate", "truncate_rate"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be within 0..1, got {value!r}")
        if isinstance(self.retry_after, str) and self.retry_after != "date":
            raise ValueError(f"retry_after must be seconds or 'date', got {self.retry_after!r}")
        if self.paths is not None:
            re.compile(self.paths)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-compatible dict."""
        data = dataclasses.asdict(self)
        data["error_statuses"] = list(self.error_statuses)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FaultProfile:
        """Inverse of :meth:`to_dict`; unknown keys are an error."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown fault settings: {sorted(unknown)}")
        return cls(**data)


def coerce_faults(faults: FaultProfile | Mapping[str, Any] | str | None) -> FaultProfile | None:
    """A FaultProfile from a profile, a dict of its settings or their JSON text.

    ValueError (with a message for people) when the text is no JSON object of settings.
    """
    if faults is None or isinstance(faults, FaultProfile):
        return faults
    if isinstance(faults, str):
        try:
            faults = json.loads(faults)
        except ValueError as error:
            raise ValueError(f"the fault profile is not valid JSON ({error})") from None
        if faults is None:
            return None
    if not isinstance(faults, Mapping):
        raise ValueError(
            f"a fault profile is a JSON object of settings, got {type(faults).__name__}"
        )
    try:
        return FaultProfile.from_dict(faults)
    except TypeError as error:
        raise ValueError(f"invalid fault settings: {error}") from None


@dataclass
class RequestRecord:
    """One request served (control endpoints excluded).

    ``status`` is 0 for a dropped connection; ``fault`` names the injected fault, if any
    (``"error"``, ``"fail_first"``, ``"drop"``, ``"truncate"``, ``"concurrency"``).
    Header names are lowercase; credential headers carry ``"<scheme> ***"`` or ``"***"``.
    ``path`` is percent-decoded; ``raw_path`` is the path as the client sent it.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int
    bytes_sent: int
    duration_s: float
    headers: dict[str, str] = field(default_factory=dict)
    fault: str | None = None
    started: float = 0.0
    raw_path: str = ""


def redact_headers(headers: Headers) -> dict[str, str]:
    """Lowercased request headers with the values of credential headers hidden."""
    result = headers.lowercased()
    for name in _REDACTED_HEADERS & result.keys():
        scheme, sep, _ = result[name].partition(" ")
        result[name] = f"{scheme} ***" if sep and name.endswith("authorization") else "***"
    return result


class FaultState:
    """The mutable state of one active fault profile: its random stream and counters."""

    def __init__(self, profile: FaultProfile | None):
        self.profile = profile
        self.random = random.Random(profile.seed if profile else None)
        self.matched = 0
        self._faults_by_request: dict[tuple[str, ...], int] = {}
        self.lock = threading.Lock()
        self.paths = re.compile(profile.paths) if profile and profile.paths else None

    def may_fault(self, key: tuple[str, ...], rate: float) -> bool:
        """Whether request ``key`` may meet a random fault of ``rate`` (call with the lock)."""
        bound = self.profile.max_faults_per_request if self.profile else None
        return bound is None or rate >= 1.0 or self._faults_by_request.get(key, 0) < bound

    def count_fault(self, key: tuple[str, ...]) -> None:
        """Record that request ``key`` met a fault (call with the lock)."""
        self._faults_by_request[key] = self._faults_by_request.get(key, 0) + 1

    def applies(self, path: str) -> bool:
        return self.profile is not None and (self.paths is None or bool(self.paths.fullmatch(path)))


@dataclass
class FaultDecision:
    """What the fault profile decided for one request."""

    latency_s: float = 0.0
    fault: str | None = None
    status: int | None = None
    truncate: bool = False
    slow_rate: float | None = None
