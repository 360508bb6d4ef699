"""Data ids of filesystem stores: paths relative to the store root, never escaping it."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from ..errors import InvalidParameterError

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def normalize_data_id(data_id: str, *, store_id: str | None = None) -> str:
    """Validate a data id and return its normal form (posix, no leading ./, no trailing /).

    Absolute paths, URLs, drive letters and ``..`` components are refused: a data id can
    never point outside the store root.
    """
    if not isinstance(data_id, str) or not data_id.strip():
        raise InvalidParameterError(
            f"a data id must be a non-empty string, got {data_id!r}",
            store_id=store_id,
            parameter="data_id",
        )
    text = data_id.replace("\\", "/")
    if is_absolute(text):
        raise InvalidParameterError(
            "a data id is a path relative to the store root; absolute paths and URLs "
            "are not allowed",
            store_id=store_id,
            data_id=data_id,
            parameter="data_id",
        )
    parts = [p for p in text.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidParameterError(
            "'..' is not allowed in a data id: it must stay inside the store root",
            store_id=store_id,
            data_id=data_id,
            parameter="data_id",
        )
    if not parts:
        raise InvalidParameterError(
            "a data id must name something below the store root",
            store_id=store_id,
            data_id=data_id,
            parameter="data_id",
        )
    return "/".join(parts)


def is_absolute(path: str) -> bool:
    """Whether ``path`` (with ``/`` separators) is absolute, a URL or starts with a drive."""
    return bool(_URL.match(path) or _DRIVE.match(path)) or path.startswith("/")


def join_root(root: str, data_id: str) -> str:
    """The filesystem path of a (normalized) data id below ``root``."""
    if not root:
        return data_id
    if _URL.match(root):
        return root.rstrip("/") + "/" + data_id
    return posixpath.join(root.rstrip("/") or "/", data_id) if root != "/" else "/" + data_id


def is_included(
    data_id: str, includes: Sequence[str] | None, excludes: Sequence[str] | None
) -> bool:
    """Whether a data id passes the store's ``includes`` and ``excludes`` patterns."""
    if includes and not any(_match(data_id, p) for p in includes):
        return False
    return not (excludes and any(_match(data_id, p) for p in excludes))


def _match(data_id: str, pattern: str) -> bool:
    return fnmatchcase(data_id, pattern) or fnmatchcase(posixpath.basename(data_id), pattern)
