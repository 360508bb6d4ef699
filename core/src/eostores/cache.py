"""Downloads and archive extraction for cache stores.

``download`` streams a URL to a file atomically: bytes go to ``<target>.part`` and
the finished file is renamed into place, so a half-written file never carries the
target's name. It resumes interrupted transfers with HTTP ranges, verifies size and
checksum, and serialises concurrent downloads of the same target with a file lock.

``extract_archive`` unpacks zip and tar archives (and archives nested in them) only
after checking every entry: no absolute paths, no ``..``, no links leaving the
target, no device files, and bounded sizes and compression ratios. Extraction goes
to a hidden sibling directory first, so a refused or broken archive leaves the
target directory as it was.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import lzma
import os
import queue
import re
import shutil
import stat
import tarfile
import tempfile
import threading
import zipfile
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import filelock
import requests
import urllib3

from eostores.errors import (
    DataNotFoundError,
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    ServiceError,
)
from eostores.http import HttpConfig, error_for_response, new_session, redact_url
from eostores.http import Session as EostoresSession

__all__ = ["checksum_of", "download", "extract_archive"]

ProgressCallback = Callable[[int, "int | None"], None]

_HEX_LENGTH_TO_ALGORITHM = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_LOCK_POLL_SECONDS = 0.1
_RETRY_DELAY_SECONDS = 0.05
_MAX_RETRY_DELAY_SECONDS = 1.0
_DEFAULT_TIMEOUT = (10.0, 60.0)


# --------------------------------------------------------------------------- checksums


def checksum_of(path: str | os.PathLike[str], algorithm: str = "md5") -> str:
    """Return the hex digest of a file's content with a hashlib ``algorithm``."""
    _new_hash(algorithm)  # fail on an unknown algorithm before touching the file
    try:
        with open(path, "rb") as file:
            return hashlib.file_digest(file, algorithm).hexdigest()
    except FileNotFoundError:
        raise DataNotFoundError(f"file {os.fspath(path)!r} does not exist") from None
    except OSError as error:
        raise DataStoreError(f"cannot read {os.fspath(path)!r}: {error.strerror}") from error


def _new_hash(algorithm: str) -> Any:
    try:
        return hashlib.new(algorithm)
    except (ValueError, TypeError):
        raise InvalidParameterError(
            f"unknown checksum algorithm {algorithm!r}; use one of md5, sha1, sha256, sha512",
            parameter="checksum",
        ) from None


class _BackgroundHash:
    """A hash computed in a thread of its own, so that hashing overlaps with receiving.

    hashlib releases the GIL for large blocks, so a download checked against its md5 takes
    about as long as one that is not.
    """

    _DONE = None

    def __init__(self, algorithm: str):
        self._hash = _new_hash(algorithm)
        self._blocks: queue.Queue[bytes | None] = queue.Queue(maxsize=64)
        self._thread = threading.Thread(target=self._run, name="eostores-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (block := self._blocks.get()) is not self._DONE:
            self._hash.update(block)

    def update(self, block: bytes) -> None:
        self._blocks.put(bytes(block))

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._blocks.put(self._DONE)
            self._thread.join()


@dataclass(frozen=True)
class _Checksum:
    algorithm: str
    hexdigest: str

    @classmethod
    def parse(cls, text: str) -> _Checksum:
        """``"md5:<hex>"``, ``"sha256:<hex>"``; bare hex is md5 (32 digits) or sha1/256/512."""
        algorithm, sep, digest = text.strip().partition(":")
        if not sep:
            digest = algorithm
            algorithm = _HEX_LENGTH_TO_ALGORITHM.get(len(digest), "")
        algorithm = algorithm.lower().replace("-", "")
        digest = digest.lower()
        if not algorithm or not re.fullmatch(r"[0-9a-f]+", digest):
            raise InvalidParameterError(
                f"malformed checksum {text!r}; expected '<algorithm>:<hex digest>' "
                "or an md5 hex digest",
                parameter="checksum",
            )
        _new_hash(algorithm)
        return cls(algorithm, digest)

    def __str__(self) -> str:
        return f"{self.algorithm} {self.hexdigest}"


# --------------------------------------------------------------------------- download


def download(
    url: str,
    target: str | os.PathLike[str],
    *,
    session: requests.Session | None = None,
    expected_size: int | None = None,
    checksum: str | None = None,
    resume: bool = True,
    chunk_size: int = 1 << 20,
    progress: ProgressCallback | None = None,
    headers: Mapping[str, str] | None = None,
    cancel: threading.Event | None = None,
    max_attempts: int = 5,
    timeout: float | tuple[float, float] | None = None,
) -> Path:
    """Download ``url`` to ``target`` and return the target path.

    The body is streamed to ``<target>.part`` and renamed to ``target`` once complete
    and verified against ``expected_size`` (else the announced length) and ``checksum``
    (``"md5:<hex>"``, ``"sha256:<hex>"``, or bare hex: md5 for 32 digits, sha256 for 64).
    A mismatch deletes the file and raises :class:`ServiceError`.

    A target that already exists is returned without any request when it matches
    ``expected_size`` and ``checksum`` (when neither is given, its existence is enough:
    only complete files ever get the target name); one that does not match is replaced.

    Concurrent calls for the same target, in threads or processes, are serialised with a
    lock file ``<target>.lock``; the later call finds the finished file and returns it.
    The lock file stays in place: deleting it could let two holders lock different files.

    Bodies that end early are resumed with ``Range`` requests (guarded by ``If-Range``
    with the server's ETag), at most ``max_attempts`` responses in all; a server that
    ignores ranges makes the download restart from zero. With ``resume=True`` a failed
    or cancelled download keeps its ``.part`` file (and a small ``.part.meta`` with the
    ETag) so that a later call continues it; with ``resume=False`` ranges are never
    used and partial files are removed.

    ``progress(bytes_done, bytes_total_or_None)`` is called after every chunk.
    ``cancel``, when set, stops the transfer between chunks with a :class:`DataStoreError`.
    ``session`` defaults to a new :func:`eostores.http.new_session` (retries of error
    statuses and failed connections, timeouts, errors mapped to :mod:`eostores.errors`);
    ``timeout`` is passed to each request when given (a plain ``requests.Session`` gets
    10 s to connect and 60 s per read by default). The session's overall deadline bounds
    each request up to its headers, not the transfer of a large body.
    """
    if expected_size is not None and expected_size < 0:
        raise InvalidParameterError(
            f"expected_size must be >= 0, got {expected_size}", parameter="expected_size"
        )
    if chunk_size <= 0:
        raise InvalidParameterError(
            f"chunk_size must be > 0, got {chunk_size}", parameter="chunk_size"
        )
    if max_attempts < 1:
        raise InvalidParameterError(
            f"max_attempts must be >= 1, got {max_attempts}", parameter="max_attempts"
        )
    expected_checksum = _Checksum.parse(checksum) if checksum else None
    target = Path(target)
    if _is_complete(target, expected_size, expected_checksum):
        return target
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataStoreError(f"cannot create directory {str(target.parent)!r}: {error}") from error

    own_session = session is None
    if session is None:
        session = new_session(HttpConfig())
    elif timeout is None and not isinstance(session, EostoresSession):
        timeout = _DEFAULT_TIMEOUT  # a plain requests session would otherwise wait forever
    try:
        with _file_lock(target.with_name(target.name + ".lock"), url, cancel):
            if target.exists():
                if _is_complete(target, expected_size, expected_checksum):
                    return target
                _remove(target)
            transfer = _Transfer(
                url=url,
                target=target,
                session=session,
                expected_size=expected_size,
                checksum=expected_checksum,
                resume=resume,
                chunk_size=chunk_size,
                progress=progress,
                headers=dict(headers or {}),
                cancel=cancel,
                max_attempts=max_attempts,
                timeout=timeout,
            )
            return transfer.run()
    finally:
        if own_session:
            session.close()


def _is_complete(target: Path, expected_size: int | None, checksum: _Checksum | None) -> bool:
    try:
        size = target.stat().st_size
    except FileNotFoundError:
        return False
    except OSError as error:
        raise DataStoreError(f"cannot access {str(target)!r}: {error.strerror}") from error
    if expected_size is not None and size != expected_size:
        return False
    return checksum is None or checksum_of(target, checksum.algorithm) == checksum.hexdigest


@contextlib.contextmanager
def _file_lock(path: Path, url: str, cancel: threading.Event | None) -> Iterator[None]:
    """Hold an inter-process lock on ``path``, waiting in slices so ``cancel`` is seen."""
    lock = filelock.FileLock(str(path))
    while True:
        if cancel is not None and cancel.is_set():
            raise DataStoreError(f"download cancelled: {redact_url(url)}")
        try:
            lock.acquire(timeout=_LOCK_POLL_SECONDS)
            break
        except filelock.Timeout:
            continue
        except OSError as error:
            raise DataStoreError(f"cannot lock {str(path)!r}: {error.strerror}") from error
    try:
        yield
    finally:
        lock.release()


class _Truncated(Exception):
    """The body ended before all announced bytes arrived; worth another attempt."""

    def __init__(self, reason: str, *, timed_out: bool = False):
        super().__init__(reason)
        self.timed_out = timed_out

    @classmethod
    def from_error(cls, what: str, error: BaseException) -> _Truncated:
        timed_out = isinstance(error, _TIMEOUT_ERRORS)
        return cls(f"{what}: {type(error).__name__}", timed_out=timed_out)


class _Cancelled(Exception):
    pass


_TIMEOUT_ERRORS = (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)
# Errors urllib3/requests raise while a body is being read: connection drops, short reads.
_STREAM_ERRORS = (
    urllib3.exceptions.HTTPError,
    requests.RequestException,
    ConnectionError,
    TimeoutError,
)


class _Transfer:
    """One download: the state that survives from attempt to attempt."""

    def __init__(
        self,
        *,
        url: str,
        target: Path,
        session: requests.Session,
        expected_size: int | None,
        checksum: _Checksum | None,
        resume: bool,
        chunk_size: int,
        progress: ProgressCallback | None,
        headers: dict[str, str],
        cancel: threading.Event | None,
        max_attempts: int,
        timeout: float | tuple[float, float] | None,
    ):
        self.url = url
        self.safe_url = redact_url(url)
        self.target = target
        self.part = target.with_name(target.name + ".part")
        self.meta = target.with_name(target.name + ".part.meta")
        self.session = session
        self.expected_size = expected_size
        self.checksum = checksum
        self.resume = resume
        self.chunk_size = chunk_size
        self.progress = progress
        self.headers = headers
        self.cancel = cancel
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.offset = 0
        self.total: int | None = None
        self.etag: str | None = None
        self.hash: Any = None

    # -- driving the attempts

    def run(self) -> Path:
        try:
            self._start_from_part()
            attempt = 0
            while True:
                attempt += 1
                self._raise_if_cancelled()
                try:
                    self._attempt()
                    break
                except _Truncated as error:
                    if attempt >= self.max_attempts:
                        total = "?" if self.total is None else str(self.total)
                        message = (
                            f"download of {self.safe_url} incomplete after {attempt} attempts: "
                            f"{self.offset} of {total} bytes arrived ({error})"
                        )
                        if error.timed_out:
                            raise DataStoreTimeoutError(message) from None
                        raise ServiceError(message, url=self.safe_url) from None
                    if not self.resume:
                        self._discard_part()
                    self._pause(
                        min(_RETRY_DELAY_SECONDS * 2 ** (attempt - 1), _MAX_RETRY_DELAY_SECONDS)
                    )
            self._verify()
            os.replace(self.part, self.target)
            self._remove_meta()
            return self.target
        except _Cancelled:
            if not self.resume:
                self._discard_part()
            raise DataStoreError(f"download cancelled: {self.safe_url}") from None
        except OSError as error:  # the local file system, not the network
            if not self.resume:
                self._discard_part()
            raise DataStoreError(f"cannot write {str(self.target)!r}: {error}") from error
        except BaseException:
            if not self.resume:
                self._discard_part()
            raise

    def _pause(self, seconds: float) -> None:
        if self.cancel is not None:
            if self.cancel.wait(seconds):
                raise _Cancelled
        else:
            threading.Event().wait(seconds)

    def _raise_if_cancelled(self) -> None:
        if self.cancel is not None and self.cancel.is_set():
            raise _Cancelled

    # -- partial files

    def _start_from_part(self) -> None:
        """Continue an earlier ``.part`` when it can be validated, else start afresh."""
        if not self.resume:
            self._discard_part()
            return
        try:
            size = self.part.stat().st_size
        except FileNotFoundError:
            self._remove_meta()
            return
        meta = self._read_meta()
        self.etag = meta.get("etag")
        self.total = meta.get("total")
        # Without a validator the old bytes could belong to another version of the file.
        if not size or (self.etag is None and self.checksum is None):
            self._discard_part()
            return
        if self.total is not None and size > self.total:
            self._discard_part()
            return
        self.offset = size
        if self.checksum is not None:
            self.hash = _BackgroundHash(self.checksum.algorithm)
            with open(self.part, "rb") as file:
                for block in iter(lambda: file.read(1 << 20), b""):
                    self.hash.update(block)

    def _read_meta(self) -> dict[str, Any]:
        try:
            meta = json.loads(self.meta.read_text())
        except (OSError, ValueError):
            return {}
        return meta if isinstance(meta, dict) else {}

    def _write_meta(self) -> None:
        if not self.resume:
            return
        try:
            self.meta.write_text(json.dumps({"etag": self.etag, "total": self.total}))
        except OSError:
            pass  # only an aid to resuming after a crash

    def _remove_meta(self) -> None:
        _remove(self.meta)

    def _discard_part(self) -> None:
        _remove(self.part)
        self._remove_meta()
        self.offset = 0
        if self.hash is not None:
            self.hash.close()
        self.hash = None

    # -- one request

    def _attempt(self) -> None:
        if self.total is not None and self.offset == self.total and self.offset > 0:
            return  # the part already holds every byte
        headers = {"Accept-Encoding": "identity", **self.headers}
        if self.offset:
            headers["Range"] = f"bytes={self.offset}-"
            if self.etag:
                headers["If-Range"] = self.etag
        kwargs: dict[str, Any] = {"headers": headers, "stream": True}
        if isinstance(self.session, EostoresSession):
            kwargs["raise_for_status"] = False  # 416 is handled here
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        try:
            response = self.session.get(self.url, **kwargs)
        except DataStoreError:
            raise
        except (
            requests.exceptions.MissingSchema,
            requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL,
        ) as error:
            raise InvalidParameterError(
                f"invalid URL {self.safe_url} ({type(error).__name__})", parameter="url"
            ) from None
        except _STREAM_ERRORS as error:
            raise _Truncated.from_error("connection failed", error) from None
        with response:
            self._accept(response)
            self._receive(response)

    def _accept(self, response: requests.Response) -> None:
        """Check the status, decide whether the body continues the part or replaces it."""
        status = response.status_code
        if status == 416 and self.offset:
            total = _content_range_total(response.headers.get("Content-Range", ""))
            if total is not None and total == self.offset:
                self.total = total
                return
            self._discard_part()
            raise _Truncated("the server refused to resume")
        if status >= 400:
            raise error_for_response(response)
        if status == 206:
            parsed = _parse_content_range(response.headers.get("Content-Range", ""))
            if parsed is None or parsed[0] != self.offset:
                self._discard_part()
                raise _Truncated("the server sent an unexpected range")
            self.total = parsed[2]
        elif status == 200:
            if self.offset:
                self._discard_part()  # the server ignored the range or the file changed
            self.total = _content_length(response)
        else:
            raise ServiceError(
                f"unexpected HTTP status {status} downloading {self.safe_url}",
                status=status,
                url=self.safe_url,
            )
        etag = response.headers.get("ETag")
        self.etag = etag if etag and not etag.startswith("W/") else None
        if self.expected_size is not None and self.total not in (None, self.expected_size):
            self._discard_part()
            raise ServiceError(
                f"size mismatch for {self.safe_url}: expected {self.expected_size} bytes, "
                f"the server announces {self.total}",
                url=self.safe_url,
            )
        if self.checksum is not None and self.hash is None:
            self.hash = _BackgroundHash(self.checksum.algorithm)
        self._write_meta()

    def _receive(self, response: requests.Response) -> None:
        if self.total is not None and self.offset >= self.total and self.offset:
            return
        if self.progress is not None:
            self.progress(self.offset, self.total)
        try:
            file = open(self.part, "ab" if self.offset else "wb")  # noqa: SIM115
        except OSError as error:
            raise DataStoreError(f"cannot write {str(self.part)!r}: {error.strerror}") from error
        with file:
            chunks = _iter_body(response, self.chunk_size)
            while True:
                self._raise_if_cancelled()
                try:
                    chunk = next(chunks, b"")
                except _STREAM_ERRORS as error:
                    raise _Truncated.from_error("reading failed", error) from None
                if not chunk:
                    break
                try:
                    file.write(chunk)
                except OSError as error:
                    raise DataStoreError(
                        f"cannot write {str(self.part)!r}: {error.strerror}"
                    ) from error
                if self.hash is not None:
                    self.hash.update(chunk)
                self.offset += len(chunk)
                if self.progress is not None:
                    self.progress(self.offset, self.total)
        if self.total is not None and self.offset < self.total:
            raise _Truncated("the connection closed early")

    # -- verification

    def _verify(self) -> None:
        size = self.offset
        expected = self.expected_size if self.expected_size is not None else self.total
        if expected is not None and size != expected:
            self._discard_part()
            raise ServiceError(
                f"size mismatch for {self.safe_url}: expected {expected} bytes, got {size}",
                url=self.safe_url,
            )
        if self.checksum is not None:
            actual = self.hash.hexdigest() if self.hash is not None else None
            if actual is None:
                actual = checksum_of(self.part, self.checksum.algorithm)
            if actual != self.checksum.hexdigest:
                self._discard_part()
                raise ServiceError(
                    f"checksum mismatch for {self.safe_url}: expected {self.checksum}, "
                    f"got {self.checksum.algorithm} {actual}",
                    url=self.safe_url,
                )


def _iter_body(response: requests.Response, chunk_size: int) -> Iterator[bytes]:
    """Yield the body as it arrives (at most ``chunk_size`` bytes a time).

    ``read1`` returns whatever the socket has instead of waiting for a full chunk, so a
    slow server does not delay cancellation checks.
    """
    raw = response.raw
    read1 = getattr(raw, "read1", None)
    if read1 is None:
        yield from response.iter_content(chunk_size)
        return
    while True:
        chunk = read1(chunk_size, decode_content=True)
        if not chunk:
            return
        yield chunk


def _content_length(response: requests.Response) -> int | None:
    if response.headers.get("Content-Encoding", "identity").lower() not in ("identity", ""):
        return None  # the length counts encoded bytes, not the file's
    value = response.headers.get("Content-Length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def _parse_content_range(value: str) -> tuple[int, int, int | None] | None:
    match = re.fullmatch(r"\s*bytes\s+(\d+)-(\d+)/(\d+|\*)\s*", value)
    if match is None:
        return None
    total = None if match[3] == "*" else int(match[3])
    return int(match[1]), int(match[2]), total


def _content_range_total(value: str) -> int | None:
    match = re.fullmatch(r"\s*bytes\s+\*/(\d+)\s*", value)
    return int(match[1]) if match else None


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


# --------------------------------------------------------------------------- extraction

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
    """
    archive = Path(archive)
    target_dir = Path(target_dir)
    if max_total_size < 0:
        raise InvalidParameterError("max_total_size must be >= 0", parameter="max_total_size")
    if max_ratio <= 0:
        raise InvalidParameterError("max_ratio must be > 0", parameter="max_ratio")
    if max_members < 1:
        raise InvalidParameterError("max_members must be >= 1", parameter="max_members")
    if not archive.is_file():
        raise DataNotFoundError(f"archive {str(archive)!r} does not exist")
    budget = _Budget(max_total_size, max_ratio, max_members)
    try:
        target_dir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(
            tempfile.mkdtemp(
                prefix=f".{target_dir.name}.", suffix=".extracting", dir=target_dir.parent
            )
        )
    except OSError as error:
        raise DataStoreError(
            f"cannot create a directory next to {str(target_dir)!r}: {error}"
        ) from error
    try:
        files = _extract_into(archive, staging, staging, budget, nested=nested, depth=0)
        _move_into_place(staging, target_dir)
    except OSError as error:
        raise DataStoreError(
            f"cannot extract {archive.name!r} into {str(target_dir)!r}: {error}"
        ) from error
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if remove_archive:
        _remove(archive)
    return [target_dir.joinpath(*path.parts) for path in files]


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
