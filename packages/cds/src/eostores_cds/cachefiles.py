"""The on-disk layout of the store's cache: downloaded pieces, job tickets and results.

``<cache_dir>/<endpoint hash>/`` holds ``catalogue/`` (see :mod:`.catalog`),
``pieces/<dataset>/<hash>.<ext>`` (one downloaded file per request, named by the hash
of the request), ``pieces/<dataset>/<hash>.job.json`` (the id of a submitted job, so
that a crashed run resumes polling it instead of submitting again) and
``results/<dataset>/<hash>.nc`` (the merged, normalised, subset result of an open).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

__all__ = ["CacheLayout", "write_json_atomically"]

PIECE_SUFFIXES = (".nc", ".zip", ".tar.gz", ".grib")


class CacheLayout:
    """Paths of one endpoint's cache."""

    def __init__(self, cache_dir: Path, endpoint_url: str):
        digest = hashlib.sha256(endpoint_url.encode("utf-8")).hexdigest()[:12]
        self.root = Path(cache_dir) / digest
        self.catalogue = self.root / "catalogue"
        self.pieces = self.root / "pieces"
        self.results = self.root / "results"

    # -- results

    def result_path(self, dataset_id: str, key: str) -> Path:
        return self.results / dataset_id / f"{key}.nc"

    # -- pieces

    def piece_base(self, dataset_id: str, key: str) -> Path:
        return self.pieces / dataset_id / key

    def existing_piece(self, dataset_id: str, key: str) -> Path | None:
        base = self.piece_base(dataset_id, key)
        for suffix in PIECE_SUFFIXES:
            path = base.with_name(base.name + suffix)
            if path.is_file():
                return path
        return None

    def piece_target(self, dataset_id: str, key: str, content_type: str, url: str) -> Path:
        base = self.piece_base(dataset_id, key)
        text = f"{content_type} {url}".lower()
        if "zip" in text:
            suffix = ".zip"
        elif "tar" in text or "gzip" in text or url.endswith(".tgz"):
            suffix = ".tar.gz"
        elif "grib" in text:
            suffix = ".grib"
        else:
            suffix = ".nc"
        return base.with_name(base.name + suffix)

    # -- job tickets

    def ticket_path(self, dataset_id: str, key: str) -> Path:
        base = self.piece_base(dataset_id, key)
        return base.with_name(base.name + ".job.json")

    def read_ticket(self, dataset_id: str, key: str) -> dict[str, Any] | None:
        try:
            with open(self.ticket_path(dataset_id, key), encoding="utf-8") as file:
                ticket = json.load(file)
            return ticket if isinstance(ticket, dict) and ticket.get("job_id") else None
        except (OSError, ValueError):
            return None

    def write_ticket(self, dataset_id: str, key: str, ticket: dict[str, Any]) -> None:
        try:
            write_json_atomically(self.ticket_path(dataset_id, key), ticket)
        except OSError:
            pass  # without a ticket a crashed run submits the request again

    def remove_ticket(self, dataset_id: str, key: str) -> None:
        self.ticket_path(dataset_id, key).unlink(missing_ok=True)


def write_json_atomically(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to a sibling temporary file renamed to ``path``, so that
    readers never see half a file; OSError if that fails."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        json.dump(data, file)
    os.replace(temporary, path)
