"""Credentials: where a store finds its secrets, and how they stay out of sight.

A secret is looked for, in this order, in the store parameter, in environment variables,
in the service's own configuration file(s) and in ``.netrc``. It is wrapped in
:class:`Secret`, whose repr, str and format never show the value, and registered so that
:func:`redact_text` and the logging filter replace it with ``***`` wherever it turns up.
:func:`is_secret_name` is the one test of whether a parameter, option, header or query
name holds a secret.
"""

from __future__ import annotations

import base64
import bisect
import functools
import hmac
import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote, quote_plus, unquote, urlsplit

from eostores.errors import MESSAGE_FILTERS, AuthenticationError

__all__ = [
    "REDACTED_LOGGERS",
    "ConfigSource",
    "RedactingFilter",
    "Secret",
    "install_log_redaction",
    "is_secret_name",
    "netrc_credentials",
    "parse_key_value_file",
    "redact_text",
    "register_secret",
    "resolve_secret",
]

REDACTED = "***"
_MIN_REGISTERED_LENGTH = 4  # shorter values would blank out ordinary words in every text


# --------------------------------------------------------------------------- secret names

# Words that make a name secret wherever they stand in it ...
_SECRET_ANYWHERE = frozenset(
    {"secret", "password", "passwd", "passphrase", "credential", "credentials", "apikey"}
)
# ... and words that do so only as the name's last word ("api_key", not "key_id").
_SECRET_LAST = frozenset(
    {"token", "key", "pwd", "sig", "signature", "auth", "authorization", "private", "cookie"}
)
_SECRET_NAMES = frozenset({"connection_string"})


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """Whether a parameter, option, header or query parameter called ``name`` holds a secret.

    Names are split into words at ``_``, ``-``, ``.``, spaces and camelCase; a name is secret
    when a word is one of secret, password, passwd, passphrase, credential(s), apikey, or
    when its last word is token, key, pwd, sig, signature, auth, authorization, private or
    cookie (``client_secret``, ``accessToken``, ``X-Amz-Signature``, ``api-key``, ``sig``),
    and not for ``key_id``, ``token_url`` or ``monkey``.
    """
    text = unquote(str(name)).strip()
    if text.lower() in _SECRET_NAMES:
        return True
    words = re.findall(r"[a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower())
    if not words:
        return False
    return words[-1] in _SECRET_LAST or any(word in _SECRET_ANYWHERE for word in words)


# --------------------------------------------------------------------------- registry


class _SecretRegistry:
    """Process-wide set of secret values to scrub from text.

    Adding a value costs the same however many are registered (a process that renews
    tokens for days keeps registering new ones); redaction replaces every registered
    value found in the text, longest first, so a secret that contains another one is
    hidden whole.
    """

    def __init__(self) -> None:
        self._values: set[str] = set()
        self._longest_first: list[str] = []
        self._lock = threading.Lock()

    def add(self, value: str) -> None:
        if len(value) < _MIN_REGISTERED_LENGTH:
            return
        forms = {value, quote(value, safe=""), quote_plus(value, safe="")}
        with self._lock:
            new = forms - self._values
            if not new:
                return
            self._values |= new
            ordered = list(self._longest_first)
            for form in new:
                bisect.insort(ordered, form, key=lambda text: -len(text))
            self._longest_first = ordered  # replaced whole: readers need no lock

    def redact(self, text: str) -> str:
        for form in self._longest_first:
            if form in text:
                text = text.replace(form, REDACTED)
        return text


_registry = _SecretRegistry()


def register_secret(value: str | Secret) -> None:
    """Remember a secret value so that logs and error texts never show it.

    Values shorter than four characters are not registered. Creating a :class:`Secret`
    registers its value and turns on log redaction (:func:`install_log_redaction`).
    """
    text = value.reveal() if isinstance(value, Secret) else str(value)
    if not text:
        return
    _registry.add(text)
    install_log_redaction()


_AUTH_SCHEME = re.compile(
    r"\b(?P<scheme>Bearer|Basic|Digest|Token)(?P<space>\s+)(?P<value>[A-Za-z0-9\-._~+/]+=*)",
    re.IGNORECASE,
)
_USERINFO = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@")
_ASSIGNMENT = re.compile(
    r"(?P<pre>^|[?&;\s,(\[{'\"])(?P<name>[A-Za-z][A-Za-z0-9_.\-]*)=(?P<value>[^&#\s'\"()<>\[\],;]*)"
)
_QUOTED_PAIR = re.compile(
    r"(?P<q>['\"])(?P<name>[A-Za-z][A-Za-z0-9_.\- ]{0,63})(?P=q)(?P<sep>\s*:\s*)"
    r"(?P<vq>['\"])(?P<value>[^'\"]*)(?P=vq)"
)
_HEADER_LINE = re.compile(
    r"(?<![\w\-'\"])(?P<name>[A-Z][\w\-]*)(?P<sep>:[ \t]+)(?P<value>[^\s,;'\"]+)"
)
_AUTH_WORDS = frozenset({"bearer", "basic", "digest", "token", REDACTED})


def _auth_value(match: re.Match[str]) -> str:
    """``Bearer ***``: any bearer token, and other schemes' values that look like tokens
    (so that "Basic information" stays as it is)."""
    value = match.group("value")
    looks_like_token = len(value) >= 8 and (
        re.search(r"[0-9\-._~+/=]", value) or re.search(r"[A-Z]", value[1:])
    )
    if match.group("scheme").lower() != "bearer" and not looks_like_token:
        return match.group(0)
    return f"{match.group('scheme')}{match.group('space')}{REDACTED}"


def _assignment(match: re.Match[str]) -> str:
    value = match.group("value")
    if not value or value.lower() in _AUTH_WORDS or not is_secret_name(match.group("name")):
        return match.group(0)
    return f"{match.group('pre')}{match.group('name')}={REDACTED}"


def _quoted_pair(match: re.Match[str]) -> str:
    if not is_secret_name(match.group("name")):
        return match.group(0)
    value = match.group("value")
    if REDACTED not in value:
        value = REDACTED
    q, vq = match.group("q"), match.group("vq")
    return f"{q}{match.group('name')}{q}{match.group('sep')}{vq}{value}{vq}"


def _header_line(match: re.Match[str]) -> str:
    value = match.group("value")
    if value.lower() in _AUTH_WORDS or not is_secret_name(match.group("name")):
        return match.group(0)
    return f"{match.group('name')}{match.group('sep')}{REDACTED}"


def redact_text(text: str) -> str:
    """``text`` without secrets: registered secrets (also URL-encoded), credentials in
    URLs, ``Authorization`` values (``Bearer ...``, ``Basic ...``), and the values of
    secret names (see :func:`is_secret_name`) in ``name=value``, ``'name': 'value'`` and
    header-like ``Name: value`` forms, all as ``***``."""
    text = _registry.redact(text)
    if "://" in text:
        text = _USERINFO.sub(lambda m: f"{m.group('scheme')}{m.group('user')}:{REDACTED}@", text)
    text = _AUTH_SCHEME.sub(_auth_value, text)
    if "=" in text:
        text = _ASSIGNMENT.sub(_assignment, text)
    if ":" in text:
        text = _QUOTED_PAIR.sub(_quoted_pair, text)
        text = _HEADER_LINE.sub(_header_line, text)
    return text


MESSAGE_FILTERS.append(redact_text)


# --------------------------------------------------------------------------- Secret


def _scramble(value: str) -> str:
    data = bytes(b ^ 0x5A for b in value.encode("utf-8"))
    return base64.b64encode(data).decode("ascii")


def _unscramble(token: str) -> str:
    return bytes(b ^ 0x5A for b in base64.b64decode(token)).decode("utf-8")


def _restore_secret(token: str, source: str | None) -> Secret:
    return Secret(_unscramble(token), source=source)


class Secret:
    """A secret string that never shows itself.

    ``repr``, ``str`` and ``format`` give ``Secret('***')``; :meth:`reveal` returns the value
    for the one place that needs it (a request header). Secrets compare and hash by value,
    and pickle (so that stores can be sent to dask workers); the pickled form is not plain
    text, which keeps the value out of casual greps but is no encryption. ``source`` says
    where the value was found (never the value itself).
    """

    __slots__ = ("_source", "_value")

    def __init__(self, value: str | Secret, *, source: str | None = None):
        if isinstance(value, Secret):
            source = source or value.source
            value = value.reveal()
        if not isinstance(value, str):
            raise TypeError(f"a secret must be a string, not {type(value).__name__}")
        self._value = value
        self._source = source
        register_secret(value)

    def reveal(self) -> str:
        """The secret value."""
        return self._value

    @property
    def source(self) -> str | None:
        """Where the value came from, e.g. ``"environment variable CDSAPI_KEY"``."""
        return self._source

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __format__(self, format_spec: str) -> str:
        return format(repr(self), format_spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)

    def __reduce__(self) -> tuple[Any, ...]:
        return _restore_secret, (_scramble(self._value), self._source)

    def __copy__(self) -> Secret:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> Secret:
        return self


# --------------------------------------------------------------------------- sources


def parse_key_value_file(text: str) -> dict[str, str]:
    """Parse ``key: value`` lines (as in ``~/.cdsapirc``); ``key = value`` works too.

    Blank lines and lines starting with ``#`` are skipped; a value may contain colons.
    """
    result: dict[str, str] = {}
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        match = re.match(r"([A-Za-z0-9_.\-]+)\s*[:=]\s*(.*)$", stripped)
        if match:
            result[match.group(1)] = match.group(2).strip()
    return result


@dataclass(frozen=True)
class ConfigSource:
    """A service's own configuration file that may hold the secret under ``key``.

    ``path`` is ``~``-expanded; when the environment variable ``env_override`` is set
    (e.g. ``CDSAPI_RC``) its value is used as the path instead.
    """

    path: str
    parser: Callable[[str], Mapping[str, str]]
    key: str
    description: str = ""
    env_override: str | None = None

    def resolved_path(self) -> Path:
        """The file that is read: the override's value if set, else ``path``."""
        override = os.environ.get(self.env_override) if self.env_override else None
        return Path(os.path.expanduser(override or self.path))

    def read(self) -> Mapping[str, str] | None:
        """The parsed file, or ``None`` when it does not exist."""
        path = self.resolved_path()
        if not path.is_file():
            return None
        try:
            return self.parser(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as error:
            raise AuthenticationError(
                f"cannot read credentials file {path}: {type(error).__name__}"
            ) from None

    def place(self) -> str:
        """Where this source looks, for messages."""
        text = f"file {self.resolved_path()} (key {self.key!r}"
        if self.env_override:
            text += f"; set {self.env_override} to use another file"
        text += ")"
        return f"{text}, {self.description}" if self.description else text


def _netrc_path(netrc_path: str | os.PathLike[str] | None) -> Path:
    if netrc_path is not None:
        return Path(os.path.expanduser(netrc_path))
    if os.environ.get("NETRC"):
        return Path(os.path.expanduser(os.environ["NETRC"]))
    home = Path(os.path.expanduser("~"))
    default = home / ".netrc"
    if not default.exists() and os.name == "nt" and (home / "_netrc").exists():
        return home / "_netrc"
    return default


def _host_of(host: str) -> str:
    return urlsplit(host).hostname or host if "://" in host else host


def netrc_credentials(
    host: str, netrc_path: str | os.PathLike[str] | None = None
) -> tuple[str, str] | None:
    """``(login, password)`` for ``host`` (a host name or URL) from the netrc file.

    The file is ``netrc_path``, else ``$NETRC``, else ``~/.netrc``; ``None`` when it or the
    entry does not exist. A malformed file raises :class:`AuthenticationError`.
    """
    import netrc

    path = _netrc_path(netrc_path)
    if not path.is_file():
        return None
    try:
        entry = netrc.netrc(os.fspath(path)).authenticators(_host_of(host))
    except netrc.NetrcParseError as error:
        raise AuthenticationError(f"cannot parse netrc file {path} (line {error.lineno})") from None
    except OSError as error:
        raise AuthenticationError(f"cannot read netrc file {path}: {error.strerror}") from None
    if entry is None:
        return None
    login, _account, password = entry
    if not login and not password:
        return None
    return login or "", password or ""


def resolve_secret(
    name: str,
    *,
    explicit: str | Secret | None = None,
    env: Sequence[str] = (),
    config_files: Sequence[ConfigSource] = (),
    netrc_host: str | None = None,
    netrc_field: Literal["password", "login"] = "password",
    netrc_path: str | os.PathLike[str] | None = None,
    store_id: str | None = None,
    required: bool = True,
) -> Secret | None:
    """Find a secret: parameter ``name``, then ``env`` variables, config files, ``.netrc``.

    Empty values count as missing. When nothing is found, returns ``None`` unless
    ``required``, in which case :class:`AuthenticationError` lists every place looked at.
    Call this when the secret is first needed, not when a store is constructed.
    """
    if explicit is not None and explicit != "":
        if isinstance(explicit, Secret):
            if explicit:
                return explicit
        else:
            return Secret(str(explicit), source=f"parameter {name!r}")
    for variable in env:
        value = os.environ.get(variable)
        if value:
            return Secret(value, source=f"environment variable {variable}")
    for source in config_files:
        mapping = source.read()
        value = mapping.get(source.key) if mapping else None
        if value:
            return Secret(str(value), source=f"file {source.resolved_path()}")
    if netrc_host:
        credentials = netrc_credentials(netrc_host, netrc_path)
        if credentials is not None:
            value = credentials[0] if netrc_field == "login" else credentials[1]
            if value:
                path = _netrc_path(netrc_path)
                return Secret(value, source=f"{path} machine {_host_of(netrc_host)}")
    if not required:
        return None
    places = [f"parameter {name!r}"]
    places += [f"environment variable {variable}" for variable in env]
    places += [source.place() for source in config_files]
    if netrc_host:
        places.append(
            f"{netrc_field} of machine {_host_of(netrc_host)!r} in {_netrc_path(netrc_path)}"
        )
    raise AuthenticationError(
        f"no {name} found; looked in: " + "; ".join(places),
        store_id=store_id,
        parameter=name,
    )


# --------------------------------------------------------------------------- logging

#: Loggers of the libraries stores drive, whose records are redacted like our own.
# fmt: off
REDACTED_LOGGERS = (
    "eostores", "requests_oauthlib", "oauthlib", "requests", "urllib3", "rasterio", "botocore",
    "boto3", "s3fs", "fsspec", "aiohttp", "aiobotocore", "adlfs", "azure", "sentinelhub",
    "ecmwf", "cdsapi", "copernicusmarine",
)
# fmt: on


class RedactingFilter(logging.Filter):
    """Remove secrets (see :func:`redact_text`) from a record's message, traceback, stack."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "eostores_redacted", False):
            return True
        try:
            message = record.getMessage()
        except Exception:
            return True  # a broken format string is logging's own error to report
        redacted = redact_text(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_text(record.stack_info)
        record.eostores_redacted = True
        return True


_install_lock = threading.Lock()
_redacting = RedactingFilter()
_factory_installed = False


def _covered(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in REDACTED_LOGGERS)


def install_log_redaction() -> RedactingFilter:
    """Redact secrets in the log records of eostores and of :data:`REDACTED_LOGGERS`.

    Records of those loggers are redacted when they are created (through the log record
    factory), so that handlers configured before or after this call, at any level, never
    see a secret; the filter is also put on the root logger's handlers and on those
    loggers and their handlers, for records made elsewhere. Idempotent; called when a
    secret is registered and when :mod:`eostores.http` is imported.
    """
    global _factory_installed
    with _install_lock:
        if not _factory_installed:
            previous_factory = logging.getLogRecordFactory()

            def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
                record = previous_factory(*args, **kwargs)
                if _covered(record.name):
                    _redacting.filter(record)
                return record

            logging.setLogRecordFactory(factory)
            _factory_installed = True
        loggers = [logging.getLogger()] + [logging.getLogger(name) for name in REDACTED_LOGGERS]
        for index, logger in enumerate(loggers):
            if index and _redacting not in logger.filters:
                logger.addFilter(_redacting)
            for handler in logger.handlers:
                if _redacting not in handler.filters:
                    handler.addFilter(_redacting)
    return _redacting
