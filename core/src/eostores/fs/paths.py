"""Data ids of filesystem stores: paths relative to the store root, never escaping it."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Sequence
from fnmatch import fnmatchcase

from ..paths import check_data_id, relative_path

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_DRIVE = re.compile(r"^[A-Za-z]:[\\/]")


def normalize_data_id(data_id: str, *, store_id: str | None = None) -> str:
    """Validate a data id and return its normal form (no leading ./, no trailing /).

    Absolute paths, URLs, drive letters, ``~``, backslashes, encoded dots and separators
    and ``..`` components are refused: a data id can never point outside the store root.
    """
    check_data_id(data_id, store_id=store_id)
    return relative_path(data_id, store_id=store_id, data_id=data_id)


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
