"""The index of the Open Data Portal's kerchunk reference files, and how to regenerate it.

The index ships with the package (``data/kc_refs.json``): one entry per reference file,
``{"ref_path": url, "data_id": id, "data_descriptor": {...}}``, the descriptor taken from the
reference file's metadata keys alone (no data are read). Regenerate it with::

    python -m eostores_cci.kcindex [URL ...] [--index FILE] [--output FILE]

which reads every reference file of the current index and the URLs given, through the
eostores HTTP session, and drops the ones the portal no longer has (404).
"""

from __future__ import annotations

import argparse
import json
import posixpath
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eostores.errors import DataNotFoundError, DataStoreError, ServiceError

from .config import KC_STORE_ID

__all__ = [
    "INDEX_RESOURCE",
    "REMOTE_SCHEMES",
    "data_id_of",
    "describe_references",
    "foreign_targets",
    "index_entry",
    "load_index",
    "main",
    "regenerate",
]

INDEX_RESOURCE = "data/kc_refs.json"
#: The schemes a reference may point at: the portal's servers and object stores, never
#: local files or other filesystems.
REMOTE_SCHEMES = frozenset({"http", "https", "s3"})
_KEPT_ATTRS = ("title", "summary", "institution", "id", "product_version", "license")


def load_index() -> list[dict[str, Any]]:
    """The index shipped with the package (no network access)."""
    text = resources.files("eostores_cci").joinpath(INDEX_RESOURCE).read_text("utf-8")
    return json.loads(text)


def data_id_of(ref_path: str) -> str:
    """The data id of a reference file: its name without ``.json``."""
    name = posixpath.basename(urlsplit(ref_path).path.rstrip("/"))
    return name[: -len(".json")] if name.endswith(".json") else name


def _metadata(refs: Mapping[str, Any], key: str) -> dict[str, Any]:
    value = refs.get(key)
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as error:
            raise ServiceError(f"the reference key {key!r} holds no JSON: {error}") from None
    return value if isinstance(value, dict) else {}


def _instant(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().removesuffix("Z")
    for pattern in (
        "%Y%m%dT%H%M%S",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M:%S.%f",
        "%Y-%m-%d",
        "%Y%m%d",
    ):
        try:
            return datetime.strptime(text, pattern).strftime("%Y-%m-%d")
        except ValueError:
            continue
    return None


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def describe_references(document: Mapping[str, Any], data_id: str) -> dict[str, Any]:
    """A dataset descriptor (as a dict) from the metadata keys of a reference document."""
    import numpy as np

    refs = document.get("refs", document)
    if not isinstance(refs, Mapping):
        raise ServiceError("the reference file has no 'refs' mapping", data_id=data_id)
    attrs = _metadata(refs, ".zattrs")
    dims: dict[str, int] = {}
    variables: dict[str, dict[str, Any]] = {}
    for key in sorted(refs):
        if not key.endswith("/.zarray") or key.count("/") != 1:
            continue
        name = key.partition("/")[0]
        array = _metadata(refs, key)
        var_attrs = _metadata(refs, f"{name}/.zattrs")
        names = var_attrs.get("_ARRAY_DIMENSIONS") or []
        shape = array.get("shape") or []
        if len(names) != len(shape):
            continue
        dims.update({str(d): int(n) for d, n in zip(names, shape, strict=True)})
        units = str(var_attrs.get("units", ""))
        dtype = "datetime64[ns]" if " since " in units else np.dtype(array.get("dtype")).name
        shown = {k: v for k, v in var_attrs.items() if not k.startswith("_")}
        entry: dict[str, Any] = {"name": name, "dtype": dtype, "dims": list(names)}
        if array.get("chunks"):
            entry["chunks"] = list(array["chunks"])
        if shown:
            entry["attrs"] = shown
        variables[name] = entry
    coords = {n: v for n, v in variables.items() if v["dims"] == [n]}
    data_vars = {n: v for n, v in variables.items() if n not in coords}
    descriptor: dict[str, Any] = {
        "data_id": data_id,
        "data_type": "dataset",
        "dims": dims,
        "coords": coords,
        "data_vars": data_vars,
    }
    bounds = [
        _number(attrs.get(f"geospatial_{axis}_{end}"))
        for axis, end in (("lon", "min"), ("lat", "min"), ("lon", "max"), ("lat", "max"))
    ]
    if all(b is not None for b in bounds):
        descriptor["crs"] = "EPSG:4326"
        descriptor["bbox"] = bounds
        lat_size = dims.get("lat") or dims.get("latitude")
        if lat_size:
            descriptor["spatial_res"] = round((bounds[3] - bounds[1]) / lat_size, 10)
    start, end = (
        _instant(attrs.get("time_coverage_start")),
        _instant(attrs.get("time_coverage_end")),
    )
    if start or end:
        descriptor["time_range"] = [start, end]
    kept = {k: attrs[k] for k in _KEPT_ATTRS if k in attrs}
    if kept:
        descriptor["attrs"] = kept
    return descriptor


def foreign_targets(document: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(key, url)`` of the references of ``document`` that point anywhere but at a remote
    server (REMOTE_SCHEMES): local paths, ``file:``, ``memory:`` and the like.

    Simple ``{{name}}`` templates (version 1) are filled in first, as fsspec does.
    """
    refs = document.get("refs", document)
    templates = document.get("templates") if isinstance(document.get("templates"), dict) else {}
    foreign = []
    if not isinstance(refs, Mapping):
        return foreign
    for key, value in refs.items():
        if not isinstance(value, list) or not value:
            continue
        url = value[0]
        if not isinstance(url, str):
            foreign.append((str(key), repr(url)))
            continue
        for name, replacement in (templates or {}).items():
            url = url.replace("{{" + str(name) + "}}", str(replacement))
        scheme = urlsplit(url).scheme.lower()
        if scheme not in REMOTE_SCHEMES or "://" not in url:
            foreign.append((str(key), url))
    return foreign


def index_entry(ref_path: str, session: Any) -> dict[str, Any]:
    """The index entry of the reference file at ``ref_path`` (read through ``session``)."""
    data_id = data_id_of(ref_path)
    response = session.get(ref_path)
    try:
        document = response.json()
    except ValueError as error:
        raise ServiceError(f"{ref_path} holds no JSON: {error}", data_id=data_id) from None
    if not isinstance(document, dict):
        raise ServiceError(f"{ref_path} holds no reference document", data_id=data_id)
    return {
        "ref_path": ref_path,
        "data_id": data_id,
        "data_descriptor": describe_references(document, data_id),
    }


def regenerate(ref_paths: Iterable[str], session: Any, report: Any = None) -> list[dict[str, Any]]:
    """Index entries of ``ref_paths`` (duplicates once, in order); gone files dropped."""
    entries = []
    seen: set[str] = set()
    for ref_path in ref_paths:
        if ref_path in seen:
            continue
        seen.add(ref_path)
        try:
            entries.append(index_entry(ref_path, session))
        except DataNotFoundError:
            if report is not None:
                report(f"dropped (no longer on the portal): {ref_path}")
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the index; see the module docstring."""
    from eostores.http import HttpConfig, new_session

    parser = argparse.ArgumentParser(prog="python -m eostores_cci.kcindex", description=__doc__)
    parser.add_argument("urls", nargs="*", help="URLs of further reference files")
    parser.add_argument("--index", type=Path, help="the index to refresh (default: shipped)")
    parser.add_argument("--output", type=Path, help="where to write (default: stdout)")
    parser.add_argument("--no-refresh", action="store_true", help="ignore the current index")
    args = parser.parse_args(argv)
    current: list[dict[str, Any]] = []
    if not args.no_refresh:
        current = json.loads(args.index.read_text("utf-8")) if args.index else load_index()
    paths = [entry["ref_path"] for entry in current] + list(args.urls)
    session = new_session(HttpConfig(store_id=KC_STORE_ID, num_retries=5))
    try:
        entries = regenerate(paths, session, report=lambda text: print(text, file=sys.stderr))
    except DataStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    text = json.dumps(entries, indent=1) + "\n"
    if args.output:
        partial = args.output.with_name(args.output.name + ".part")
        partial.write_text(text, "utf-8")
        partial.replace(args.output)
    else:
        sys.stdout.write(text)
    print(f"{len(entries)} reference files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
