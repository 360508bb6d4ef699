"""What the ``root`` store parameter may be: a record id, a DOI, or a record URL."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from eostores.errors import InvalidParameterError

__all__ = ["RootReference", "parse_root"]

# Zenodo mints DOIs "10.5281/zenodo.<record id>" (10.5072 on the sandbox).
_ZENODO_DOI = re.compile(r"^10\.(?:5281|5072)/zenodo\.(\d+)$", re.IGNORECASE)
_DOI = re.compile(r"^10\.\d{4,9}/\S+$")
_RECORD_PATH = re.compile(r"/(?:api/)?(?:records|record|deposit|deposits)/(\d+)(?:/|$)")
_DOI_PATH = re.compile(r"/doi/(10\.\d{4,9}/\S+)$")


@dataclass(frozen=True)
class RootReference:
    """A parsed ``root``: a record id (possibly a concept id), or a DOI to look up."""

    record_id: str | None = None
    doi: str | None = None

    def __str__(self) -> str:
        return self.record_id if self.record_id is not None else f"doi:{self.doi}"


def parse_root(root: str | int) -> RootReference:
    """Interpret ``root``: ``"1234567"``, ``"10.5281/zenodo.1234567"``, ``"doi:10.x/y"``,
    ``"https://doi.org/10.x/y"``, ``"https://zenodo.org/records/1234567"`` (also
    ``/record/``, ``/api/records/`` and ``/doi/`` forms). Zenodo DOIs give the record id
    directly; other DOIs are looked up by the service's search.
    """
    text = unquote(str(root)).strip()
    if not text:
        raise InvalidParameterError("root must not be empty", parameter="root")
    if text.isdigit():
        return RootReference(record_id=str(int(text)))
    lowered = text.lower()
    if lowered.startswith("doi:"):
        return _from_doi(text[4:].strip(), text)
    if lowered.startswith(("http://", "https://")):
        return _from_url(text)
    return _from_doi(text, text)


def _from_doi(doi: str, original: str) -> RootReference:
    match = _ZENODO_DOI.match(doi)
    if match:
        return RootReference(record_id=str(int(match.group(1))))
    if _DOI.match(doi):
        return RootReference(doi=doi)
    raise InvalidParameterError(
        f"root {original!r} is neither a Zenodo record id, a DOI nor a record URL; "
        "examples: '1234567', '10.5281/zenodo.1234567', 'https://zenodo.org/records/1234567'",
        parameter="root",
    )


def _from_url(url: str) -> RootReference:
    parts = urlsplit(url)
    host = parts.netloc.lower().rpartition("@")[2]
    path = parts.path.rstrip("/")
    if host in ("doi.org", "dx.doi.org", "www.doi.org"):
        return _from_doi(path.lstrip("/"), url)
    doi_match = _DOI_PATH.search(path)
    if doi_match:
        return _from_doi(doi_match.group(1), url)
    record_match = _RECORD_PATH.search(path + "/")
    if record_match:
        return RootReference(record_id=str(int(record_match.group(1))))
    raise InvalidParameterError(
        f"root {url!r} is not a Zenodo record URL; expected e.g. "
        "'https://zenodo.org/records/1234567'",
        parameter="root",
    )
