"""Safe extraction of zip and tar archives, for stores that download them.

``extract_archive`` unpacks zip and tar archives (and archives nested in them) only
after checking every entry: no absolute paths, no ``..``, no links leaving the
target, no device files, and bounded sizes and compression ratios. Extraction goes
to a hidden sibling directory first, so a refused or broken archive leaves the
target directory as it was; a lock and a completion record make extraction safe to
run concurrently and to repeat.
"""

from __future__ import annotations

import json
import lzma
import os
import re
import shutil
import stat
import tarfile
import tempfile
import threading
import zipfile
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

import filelock

from eostores.errors import (
    DataNotFoundError,
    DataStoreError,
    InvalidParameterError,
    ServiceError,
)

__all__ = ["extract_archive"]

_ARCHIVE_SUFFIXES = (
    ".tar.gz",
    ".tar.bz2",
    ".tar.xz",
    ".tgz",
    ".tbz2",
    ".tbz",
    ".txz",
    ".tar",
    ".zip",
)
# Members and archives smaller than this are not held to the compression ratio:
# small files of repeated bytes compress very well without being bombs.
_RATIO_FLOOR = 1 << 20
_MAX_NESTING = 8
_COPY_BUFFER = 1 << 20


class _Budget:
    """Limits shared by an archive and the archives nested in it."""

    def __init__(self, max_total_size: int, max_ratio: float, max_members: int):
        self.size_left = max_total_size
        self.max_total_size = max_total_size
        self.max_ratio = max_ratio
        self.members_left = max_members
        self.max_members = max_members

    def take_member(self, archive: Path) -> None:
        self.members_left -= 1
        if self.members_left < 0:
            raise _refusal(archive, f"more than {self.max_members} entries")

    def take_size(self, archive: Path, size: int) -> None:
        if size > self.size_left:
            raise _refusal(
                archive, f"it would unpack to more than {self.max_total_size} bytes in total"
            )
        self.size_left -= size

    def check_ratio(self, archive: Path, name: str | None, size: int, packed: int) -> None:
        if size > _RATIO_FLOOR and size > self.max_ratio * max(packed, 1):
            what = f"entry {name!r}" if name else "its content"
            raise _refusal(
                archive,
                f"{what} expands {size} bytes from {packed} (ratio above {self.max_ratio:g})",
            )


def _refusal(archive: Path, reason: str) -> ServiceError:
    return ServiceError(f"refusing to extract archive {archive.name!r}: {reason}")


def extract_archive(
    archive: str | os.PathLike[str],
    target_dir: str | os.PathLike[str],
    *,
    nested: bool = True,
    max_total_size: int = 50 * 2**30,
    max_ratio: float = 200.0,
    max_members: int = 100_000,
    remove_archive: bool = False,
) -> list[Path]:
    """Extract a zip or tar archive (plain, gz, bz2, xz) into ``target_dir``.

    The format is recognised from the content, not the name. Every entry is checked
    before anything is written; an archive with an absolute path, a ``..`` component,
    a drive letter, a device file, a link in a zip, a tar link leaving the target or
    passing through another link, more than ``max_members`` entries, more than
    ``max_total_size`` unpacked bytes, or a compression ratio above ``max_ratio`` (per
    zip entry and per archive, for content above 1 MiB) is refused with
    :class:`ServiceError` naming the archive and the entry.

    With ``nested``, archives inside (recognised by a zip/tar name suffix and confirmed
    by content) are extracted into a folder named after them without the suffix and
    then deleted; limits apply to the whole tree. Extraction happens in a hidden
    sibling of ``target_dir`` whose content is moved into place at the end, so a
    failure leaves ``target_dir`` unchanged. Returns the paths of the extracted files
    in archive order.

    Extractions into one ``target_dir`` hold a lock (``.<name>.lock`` beside it, in threads
    and processes), and a complete one is recorded last in ``.<name>.extracted``: extracting
    the same archive (same name, size and mtime) again returns its files at once while
    they all exist, also after ``remove_archive`` deleted the archive.
    """
    archive = Path(archive)
    target_dir = Path(target_dir)
    if max_total_size < 0:
        raise InvalidParameterError("max_total_size must be >= 0", parameter="max_total_size")
    if max_ratio <= 0:
        raise InvalidParameterError("max_ratio must be > 0", parameter="max_ratio")
    if max_members < 1:
        raise InvalidParameterError("max_members must be >= 1", parameter="max_members")
    marker = target_dir.with_name(f".{target_dir.name}.extracted")
    try:
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(target_dir.with_name(f".{target_dir.name}.lock"))):
            files = _recorded(marker, archive, target_dir)
            if files is None:
                limits = (max_total_size, max_ratio, max_members)
                files = _extract_once(archive, target_dir, marker, limits, nested)
            if remove_archive:
                archive.unlink(missing_ok=True)
            return files
    except OSError as error:
        raise DataStoreError(
            f"cannot extract {archive.name!r} into {str(target_dir)!r}: {error}"
        ) from error


def _extract_once(
    archive: Path, target_dir: Path, marker: Path, budget_args: tuple[int, float, int], nested: bool
) -> list[Path]:
    """Extract into a hidden sibling, move it into place, then record the extraction."""
    try:
        stat = archive.stat()
    except FileNotFoundError:
        raise DataNotFoundError(f"archive {str(archive)!r} does not exist") from None
    staging = Path(
        tempfile.mkdtemp(prefix=f".{target_dir.name}.", suffix=".extracting", dir=target_dir.parent)
    )
    try:
        files = _extract_into(
            archive, staging, staging, _Budget(*budget_args), nested=nested, depth=0
        )
        _move_into_place(staging, target_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    names = [path.as_posix() for path in files]
    records = _read_records(marker)
    records[archive.name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "files": names}
    temporary = marker.with_name(f"{marker.name}.{os.getpid()}.{threading.get_ident()}")
    temporary.write_text(json.dumps(records))
    os.replace(temporary, marker)  # written last: its entry means the extraction is complete
    return [target_dir.joinpath(*path.parts) for path in files]


def _read_records(marker: Path) -> dict[str, Any]:
    try:
        records = json.loads(marker.read_text())
    except (OSError, ValueError):
        return {}
    return records if isinstance(records, dict) else {}


def _recorded(marker: Path, archive: Path, target_dir: Path) -> list[Path] | None:
    """The files of an earlier complete extraction of ``archive``, if they are all there."""
    record = _read_records(marker).get(archive.name)
    if not isinstance(record, dict) or not isinstance(record.get("files"), list):
        return None
    try:
        stat = archive.stat()
    except FileNotFoundError:
        stat = None  # removed after its extraction
    if stat is not None and (stat.st_size, stat.st_mtime_ns) != (
        record.get("size"),
        record.get("mtime_ns"),
    ):
        return None
    files = [target_dir.joinpath(*PurePosixPath(name).parts) for name in record["files"]]
    return files if all(path.is_file() for path in files) else None


def _archive_kind(path: Path) -> str | None:
    # Tar first: a plain tar whose last member is a zip would also pass is_zipfile,
    # which looks for a zip directory near the end of the file.
    try:
        if tarfile.is_tarfile(path):
            return "tar"
        if zipfile.is_zipfile(path):
            return "zip"
    except OSError:
        return None
    return None


def _archive_stem(name: str) -> str | None:
    lower = name.lower()
    for suffix in _ARCHIVE_SUFFIXES:
        if lower.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def _extract_into(
    archive: Path, dest: Path, root: Path, budget: _Budget, *, nested: bool, depth: int
) -> list[PurePosixPath]:
    """Extract ``archive`` into ``dest`` (inside the staging ``root``); relative file paths."""
    kind = _archive_kind(archive)
    if kind is None:
        raise ServiceError(f"{archive.name!r} is neither a zip nor a tar archive (or is corrupt)")
    real_root = os.path.realpath(root)
    real_dest = os.path.realpath(dest)
    if os.path.commonpath([real_root, real_dest]) != real_root:
        raise _refusal(archive, "it would be extracted through a link leaving the target")
    dest.mkdir(parents=True, exist_ok=True)
    if kind == "zip":
        files = _extract_zip(archive, dest, budget)
    else:
        files = _extract_tar(archive, dest, budget)
    if not nested:
        return list(dict.fromkeys(files))
    result: list[PurePosixPath] = []
    for file in files:
        stem = _archive_stem(file.name)
        inner = dest.joinpath(*file.parts)
        if stem is None or inner.is_symlink() or _archive_kind(inner) is None:
            result.append(file)
            continue
        if depth + 1 > _MAX_NESTING:
            raise _refusal(archive, f"archives nested more than {_MAX_NESTING} deep")
        folder = file.with_name(stem)
        if dest.joinpath(*folder.parts).is_file():
            raise _refusal(
                archive, f"nested archive {str(file)!r} clashes with file {str(folder)!r}"
            )
        inner_files = _extract_into(
            inner, dest.joinpath(*folder.parts), root, budget, nested=True, depth=depth + 1
        )
        inner.unlink()
        result.extend(folder / path for path in inner_files)
    return list(dict.fromkeys(result))


def _safe_member_path(archive: Path, name: str) -> PurePosixPath | None:
    """The entry's path relative to the target; None for the root itself; refuse escapes."""
    if "\x00" in name:
        raise _refusal(archive, f"entry {name!r} contains a NUL character")
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or re.match(r"[A-Za-z]:", normalized):
        raise _refusal(archive, f"entry {name!r} has an absolute path")
    parts = [part for part in normalized.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _refusal(archive, f"entry {name!r} points outside the target ('..')")
    return PurePosixPath(*parts) if parts else None


_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError)


def _extract_zip(archive: Path, dest: Path, budget: _Budget) -> list[PurePosixPath]:
    try:
        with zipfile.ZipFile(archive) as zf:
            plan = _plan_zip(archive, zf, budget)
            for info, path in plan:
                out = dest.joinpath(*path.parts)
                if info.is_dir():
                    out.mkdir(parents=True, exist_ok=True)
                    continue
                out.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as source, open(out, "wb") as sink:
                    _copy_bounded(archive, info.filename, source, sink, info.file_size)
    except _ZIP_ERRORS as error:
        raise ServiceError(f"archive {archive.name!r} is corrupt: {error}") from error
    return [path for info, path in plan if not info.is_dir()]


def _plan_zip(
    archive: Path, zf: zipfile.ZipFile, budget: _Budget
) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    plan = []
    total = packed = 0
    for info in zf.infolist():
        budget.take_member(archive)
        path = _safe_member_path(archive, info.filename)
        if path is None:
            continue
        mode = info.external_attr >> 16
        if info.create_system == 3 and stat.S_IFMT(mode):  # unix file type recorded
            if stat.S_ISLNK(mode):
                raise _refusal(archive, f"entry {info.filename!r} is a symbolic link")
            if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                raise _refusal(archive, f"entry {info.filename!r} is a device or special file")
        if info.flag_bits & 0x1:
            raise _refusal(archive, f"entry {info.filename!r} is encrypted")
        if not info.is_dir():
            budget.check_ratio(archive, info.filename, info.file_size, info.compress_size)
            total += info.file_size
            packed += info.compress_size
        plan.append((info, path))
    budget.check_ratio(archive, None, total, packed)
    budget.take_size(archive, total)
    return plan


def _copy_bounded(archive: Path, name: str, source: Any, sink: Any, limit: int) -> None:
    """Copy at most ``limit`` bytes; an entry yielding more than it declared is refused."""
    written = 0
    read = source.read
    write = sink.write
    while block := read(_COPY_BUFFER):
        written += len(block)
        if written > limit:
            raise _refusal(archive, f"entry {name!r} is larger than it declares")
        write(block)


_TAR_ERRORS = (tarfile.TarError, zlib.error, EOFError, lzma.LZMAError)


def _extract_tar(archive: Path, dest: Path, budget: _Budget) -> list[PurePosixPath]:
    try:
        with tarfile.open(archive, "r:*") as tf:
            members = _plan_tar(archive, tf, budget)
            tf.extractall(dest, members=members, filter="data")
    except tarfile.FilterError as error:
        raise _refusal(archive, str(error)) from error
    except _TAR_ERRORS as error:
        raise ServiceError(f"archive {archive.name!r} is corrupt: {error}") from error
    except OSError as error:
        if error.errno is not None:
            raise  # a local file system problem
        raise ServiceError(f"archive {archive.name!r} is corrupt: {error}") from error  # gzip, bz2
    return [PurePosixPath(member.name) for member in members if not member.isdir()]


def _plan_tar(archive: Path, tf: tarfile.TarFile, budget: _Budget) -> list[tarfile.TarInfo]:
    """Check every member (reading headers only, bounded by the limits) and normalise names."""
    packed = max(archive.stat().st_size, 1)
    selected: list[tuple[tarfile.TarInfo, PurePosixPath]] = []
    links: set[PurePosixPath] = set()
    regular: set[PurePosixPath] = set()
    total = 0
    for member in tf:
        budget.take_member(archive)
        path = _safe_member_path(archive, member.name)
        if path is None:
            continue
        if member.isdev():
            raise _refusal(archive, f"entry {member.name!r} is a device or special file")
        if member.issym():
            links.add(path)
        elif member.islnk():
            try:
                linked = _safe_member_path(archive, member.linkname)
            except ServiceError:
                linked = None
            if linked is None or linked not in regular:
                raise _refusal(
                    archive,
                    f"entry {member.name!r} is a hard link to {member.linkname!r}, "
                    "which is not an earlier file of this archive",
                )
            member.linkname = str(linked)
            links.add(path)
        elif member.isfile():
            total += member.size
            regular.add(path)
            if total > budget.size_left:
                budget.take_size(archive, total)  # raises
            budget.check_ratio(archive, None, total, packed)
        elif not member.isdir():
            raise _refusal(archive, f"entry {member.name!r} has an unsupported type")
        selected.append((member, path))
    # Links are judged against the whole archive: a later link could otherwise redirect
    # an earlier one.
    for member, path in selected:
        if any(parent in links for parent in path.parents):
            raise _refusal(archive, f"entry {member.name!r} lies inside a link")
        if member.issym():
            _check_symlink(archive, member, path, links)
        member.name = str(path)
    budget.take_size(archive, total)
    return [member for member, _ in selected]


def _check_symlink(
    archive: Path, member: tarfile.TarInfo, path: PurePosixPath, links: set[PurePosixPath]
) -> None:
    """A symlink must resolve, as text, inside the target and not through another link."""
    outside = f"entry {member.name!r} links to {member.linkname!r} outside the target"
    target = member.linkname.replace("\\", "/")
    if not target or target.startswith("/") or re.match(r"[A-Za-z]:", target):
        raise _refusal(archive, outside)
    resolved: list[str] = list(path.parent.parts)
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not resolved:
                raise _refusal(archive, outside)
            resolved.pop()
            continue
        resolved.append(part)
        if PurePosixPath(*resolved) in links:
            raise _refusal(
                archive, f"entry {member.name!r} links to {member.linkname!r} through another link"
            )


def _move_into_place(staging: Path, target_dir: Path) -> None:
    """Move the staged tree into ``target_dir``, merging with what is there."""
    if not target_dir.exists() and not target_dir.is_symlink():
        os.rename(staging, target_dir)
        return
    _check_merge(staging, target_dir)
    _merge(staging, target_dir)


def _check_merge(source: Path, dest: Path) -> None:
    for entry in source.iterdir():
        existing = dest / entry.name
        if not existing.exists() and not existing.is_symlink():
            continue
        entry_is_dir = entry.is_dir() and not entry.is_symlink()
        existing_is_dir = existing.is_dir() and not existing.is_symlink()
        if entry_is_dir != existing_is_dir:
            kind = "a directory" if existing_is_dir else "a file"
            raise DataStoreError(f"cannot extract over {str(existing)!r}: it is {kind}")
        if entry_is_dir:
            _check_merge(entry, existing)


def _merge(source: Path, dest: Path) -> None:
    for entry in source.iterdir():
        existing = dest / entry.name
        if entry.is_dir() and not entry.is_symlink() and existing.is_dir():
            _merge(entry, existing)
        else:
            os.replace(entry, existing)
