"""Collection records of NASA's CMR search API, cached on disk.

A record is fetched with ``GET <cmr_url>/collections.json?concept_id=<id>`` through the
core's HTTP session (retries, ``Retry-After``, deadlines) and stored by
:func:`eostores.cache.download` (atomic, one transfer per file across threads and
processes). The file name carries the period of ``ttl`` seconds it belongs to, so a
record is fetched again once per period and concurrent readers never see a file replaced.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

from eostores.errors import ServiceError

from .config import STORE_ID

__all__ = ["collection_record"]


def collection_record(
    session: Any, cmr_url: str, concept_id: str, cache_root: Path, ttl: float
) -> dict[str, Any] | None:
    """The CMR ``feed.entry`` of ``concept_id``, or None if CMR has no such collection."""
    from eostores.cache import download
    from eostores.paths import confine, safe_filename

    period = int(time.time() // ttl)
    endpoint_key = hashlib.sha256(cmr_url.encode("utf-8")).hexdigest()[:16]
    folder = confine(cache_root, "cmr", endpoint_key)
    stem = safe_filename(concept_id)
    target = confine(folder, f"{stem}.{period}.json")
    url = f"{cmr_url}/collections.json?concept_id={quote(concept_id, safe='')}"
    download(url, target, session=session, resume=False, headers={"Accept": "application/json"})
    try:
        feed = json.loads(target.read_text(encoding="utf-8"))["feed"]
        entries = feed["entry"]
        if not isinstance(entries, list):
            raise TypeError("entry is not a list")
    except (OSError, ValueError, KeyError, TypeError) as error:
        target.unlink(missing_ok=True)
        raise ServiceError(
            f"CMR answered {url} with no collection feed ({error})", url=url, store_id=STORE_ID
        ) from None
    _forget_older(folder, stem, period)
    entry = entries[0] if entries else None
    return entry if isinstance(entry, dict) else None


def _forget_older(folder: Path, stem: str, period: int) -> None:
    """Remove records older than the previous period (which a reader may still be using)."""
    for path in folder.glob(f"{stem}.*.json"):
        mark = path.name[len(stem) + 1 : -len(".json")]
        if mark.isdigit() and int(mark) < period - 1:
            path.unlink(missing_ok=True)
