"""Paths and URLs built from text that came from a user or a service, kept inside their root.

Every name a store puts into a path or a URL — a data id typed by a user, a file name, key
or href returned by a service — is hostile until it went through this module:

* :func:`confine` joins relative parts below a local root and refuses anything that would
  leave it: ``..``, absolute paths, ``~``, drive letters, backslashes, NUL and control
  characters, percent-encoded dots, separators or percent signs, and symlinks that resolve
  outside the root.
* :func:`relative_path` makes the same checks without a local root (object keys).
* :func:`confine_url` makes them for a relative path below a base URL, and quotes every
  segment.
* :func:`safe_filename` turns any text into one harmless file name.
* :func:`quote_segment` quotes text as one URL path segment.
* :func:`check_data_id` refuses data ids that are not non-empty strings.

Text from a user fails with :class:`~eostores.errors.InvalidParameterError`; text a
service sent (``from_service=True``) with :class:`~eostores.errors.ServiceError`, since the
user cannot fix it.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata
from pathlib import Path
from urllib.parse import quote

from .errors import DataStoreError, InvalidParameterError, ServiceError

__all__ = [
    "check_data_id",
    "confine",
    "confine_url",
    "quote_segment",
    "relative_path",
    "safe_filename",
]

_DRIVE = re.compile(r"^[A-Za-z]:")
_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
# %2e '.', %2f '/', %5c '\', %00 NUL, %25 '%' (double encoding): in any case.
_ENCODED = re.compile(r"%(2e|2f|5c|00|25)", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNSAFE_FILENAME_CHARS = re.compile(r"[^A-Za-z0-9._+\-=@]+")
_WINDOWS_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
#: Longest file name produced by safe_filename, in characters (all ASCII).
MAX_FILENAME_LENGTH = 200


def _refusal(
    reason: str,
    text: object,
    *,
    from_service: bool,
    store_id: str | None,
    data_id: str | None,
    parameter: str | None,
) -> DataStoreError:
    if from_service:
        return ServiceError(
            f"the service sent the name {text!r}, which is not allowed: {reason}",
            store_id=store_id,
            data_id=data_id,
        )
    return InvalidParameterError(
        f"{text!r} is not allowed: {reason}",
        store_id=store_id,
        data_id=data_id,
        parameter=parameter,
    )


def _relative_segments(
    part: object,
    *,
    from_service: bool,
    store_id: str | None,
    data_id: str | None,
    parameter: str | None,
) -> list[str]:
    """The path segments of one relative part, or the error for a hostile part."""

    def refuse(reason: str) -> DataStoreError:
        return _refusal(
            reason,
            part,
            from_service=from_service,
            store_id=store_id,
            data_id=data_id,
            parameter=parameter,
        )

    if not isinstance(part, str):
        raise refuse(f"a path part must be a string, not {type(part).__name__}")
    if _CONTROL.search(part):
        raise refuse("NUL and control characters are not allowed")
    if "\\" in part:
        raise refuse("backslashes are not allowed (use '/' between folders)")
    if _ENCODED.search(part):
        raise refuse("percent-encoded dots, separators and percent signs are not allowed")
    if part.startswith("/") or _DRIVE.match(part) or _URL_SCHEME.match(part):
        raise refuse("it must be a path relative to the root, not absolute or a URL")
    if part.startswith("~"):
        raise refuse("'~' (a home folder) is not allowed")
    segments = [s for s in part.split("/") if s not in ("", ".")]
    if ".." in segments:
        raise refuse("'..' would leave the root")
    return segments


def relative_path(
    text: str,
    *,
    from_service: bool = False,
    store_id: str | None = None,
    data_id: str | None = None,
    parameter: str | None = "data_id",
) -> str:
    """``text`` checked as a path relative to some root, in normal form (``a/b/c``).

    Refuses what :func:`confine` refuses, without needing a local root: for object keys,
    URLs and the paths of in-memory filesystems.
    """
    context = dict(
        from_service=from_service, store_id=store_id, data_id=data_id, parameter=parameter
    )
    segments = _relative_segments(text, **context)
    if not segments:
        raise _refusal("it names nothing below the root", text, **context)
    return "/".join(segments)


def confine(
    root: str | os.PathLike[str],
    *parts: str,
    from_service: bool = False,
    store_id: str | None = None,
    data_id: str | None = None,
    parameter: str | None = "data_id",
) -> Path:
    """The absolute path of ``parts`` joined below ``root``, guaranteed to stay inside it.

    Parts are relative paths with ``/`` between folders. Symlinks are resolved: the result
    is the real path, and one that resolves outside the real root is refused, so that
    writes and deletes through it cannot leave the root. Parts that name nothing (``""``,
    ``"."``) are refused as well, so that no caller deletes the root by accident. Raises
    :class:`~eostores.errors.InvalidParameterError` naming ``parameter``, or
    :class:`~eostores.errors.ServiceError` with ``from_service=True``.
    """
    context = dict(
        from_service=from_service, store_id=store_id, data_id=data_id, parameter=parameter
    )
    segments: list[str] = []
    for part in parts:
        found = _relative_segments(part, **context)
        if not found:
            raise _refusal("it names nothing below the root", part, **context)
        segments.extend(found)
    real_root = Path(os.path.realpath(os.path.abspath(os.fspath(root))))
    target = Path(os.path.realpath(real_root.joinpath(*segments)))
    if target != real_root and real_root not in target.parents:
        raise _refusal(
            "it leads outside the root through a symbolic link", "/".join(parts), **context
        )
    if parts and target == real_root:
        raise _refusal("it names nothing below the root", "/".join(parts), **context)
    return target


def quote_segment(
    text: str,
    *,
    from_service: bool = False,
    store_id: str | None = None,
    data_id: str | None = None,
    parameter: str | None = "data_id",
) -> str:
    """``text`` quoted as exactly one URL path segment.

    Every character but letters, digits and ``-._~`` is percent-encoded, so that ``/``,
    ``?``, ``#`` and ``%`` stay part of the name. ``""``, ``"."`` and ``".."`` (whose
    meaning no quoting can hide) and control characters are refused.
    """
    context = dict(
        from_service=from_service, store_id=store_id, data_id=data_id, parameter=parameter
    )
    if not isinstance(text, str):
        raise _refusal(
            f"a URL path segment must be a string, not {type(text).__name__}", text, **context
        )
    if text in ("", ".", ".."):
        raise _refusal("an empty, '.' or '..' URL path segment", text, **context)
    if _CONTROL.search(text):
        raise _refusal("NUL and control characters are not allowed", text, **context)
    return quote(text, safe="")


def confine_url(
    base_url: str,
    relative: str,
    *,
    from_service: bool = False,
    store_id: str | None = None,
    data_id: str | None = None,
    parameter: str | None = "data_id",
) -> str:
    """The URL of the relative path ``relative`` (``/`` between folders) below ``base_url``.

    The part is checked as by :func:`confine` (no ``..``, no absolute paths or URLs, no
    encoded dots or separators, no ``~``) and each segment is quoted with
    :func:`quote_segment`, so that ``?``, ``#`` and ``%`` cannot change the path.
    """
    context = dict(
        from_service=from_service, store_id=store_id, data_id=data_id, parameter=parameter
    )
    segments = relative_path(relative, **context).split("/")
    quoted = "/".join(quote_segment(s, **context) for s in segments)
    return base_url.rstrip("/") + "/" + quoted


def safe_filename(text: str, *, max_length: int = MAX_FILENAME_LENGTH) -> str:
    """A file name made from any text: one path component, ASCII, never hidden or reserved.

    Characters other than letters, digits and ``._+-=@`` become ``_``; leading dots and
    trailing dots and spaces go. When the text had to be changed, a short hash of the
    original is added before the extension, so that different texts never share a file
    name (``"a/b.nc"`` gives ``"a_b-<hash>.nc"``).
    """
    if not isinstance(text, str):
        raise InvalidParameterError(
            f"a file name must be made from a string, not {type(text).__name__}"
        )
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = _UNSAFE_FILENAME_CHARS.sub("_", ascii_text).lstrip(".").rstrip(". ")
    stem, dot, extension = cleaned.rpartition(".")
    if not dot or not stem or len(extension) > 16:
        stem, extension = cleaned, ""
    if stem.split(".")[0].upper() in _WINDOWS_RESERVED:
        stem = "_" + stem
    changed = not stem or (stem + (f".{extension}" if extension else "")) != text
    budget = max(16, max_length) - (len(extension) + 1 if extension else 0)
    if changed or len(stem) > budget:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
        stem = (stem or "_")[: budget - len(digest) - 1] + "-" + digest
    return stem + (f".{extension}" if extension else "")


def check_data_id(data_id: object, store_id: str | None = None) -> str:
    """``data_id`` if it is a non-empty string without NUL characters, else the error.

    Every store calls this before using a data id, so that ``store.open_data(42)`` or
    ``store.has_data(None)`` fails alike everywhere.
    """
    if not isinstance(data_id, str):
        raise InvalidParameterError(
            f"a data id must be a string, not {type(data_id).__name__} ({data_id!r})",
            store_id=store_id,
            parameter="data_id",
        )
    if not data_id.strip():
        raise InvalidParameterError(
            "a data id must not be empty", store_id=store_id, parameter="data_id"
        )
    if "\x00" in data_id:
        raise InvalidParameterError(
            "a data id must not contain NUL characters",
            store_id=store_id,
            data_id=data_id.replace("\x00", "\\x00"),
            parameter="data_id",
        )
    return data_id
