"""Downloads and archive extraction for cache stores.

``download`` streams a URL to a file atomically: bytes go to ``<target>.part`` and
the finished file is renamed into place, so a half-written file never carries the
target's name. It resumes interrupted transfers with HTTP ranges, verifies size and
checksum, and serialises concurrent downloads of the same target with a file lock.

``extract_archive`` (from :mod:`eostores.archives`) unpacks zip and tar archives safely.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import filelock
import requests
import urllib3

from eostores.archives import extract_archive
from eostores.errors import (
    DataNotFoundError,
    DataStoreError,
    DataStoreTimeoutError,
    InvalidParameterError,
    ServiceError,
)
from eostores.http import HttpConfig, error_for_response, new_session, redact_url
from eostores.http import Session as EostoresSession

__all__ = ["checksum_of", "default_cache_dir", "download", "extract_archive"]

ProgressCallback = Callable[[int, "int | None"], None]

_HEX_LENGTH_TO_ALGORITHM = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
_LOCK_POLL_SECONDS = 0.1
_RETRY_DELAY_SECONDS = 0.05
_MAX_RETRY_DELAY_SECONDS = 1.0
_DEFAULT_TIMEOUT = (10.0, 60.0)


def default_cache_dir(store_id: str) -> Path:
    """The cache folder of a store: ``$EOSTORES_CACHE_DIR/<store_id>`` when that variable is
    set, else ``<user cache dir>/eostores/<store_id>`` (``~/.cache/eostores/<store_id>`` on
    Linux, honouring ``XDG_CACHE_HOME``). The folder is not created."""
    if not isinstance(store_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", store_id):
        raise InvalidParameterError(
            f"store_id must be a name of letters, digits, '.', '_' and '-', got {store_id!r}",
            parameter="store_id",
        )
    base = os.environ.get("EOSTORES_CACHE_DIR")
    if not base:
        import platformdirs

        base = platformdirs.user_cache_dir("eostores", appauthor=False)
    return Path(base).expanduser() / store_id


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
    method: str = "GET",
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

    ``method`` is ``"POST"`` for services that serve files to POST requests which only
    read; such requests are retried like GETs.
    """
    if method not in ("GET", "POST"):
        raise InvalidParameterError(
            f"method must be 'GET' or 'POST', got {method!r}", parameter="method"
        )
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
                target.unlink(missing_ok=True)
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
                method=method,
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
    try:
        return checksum is None or checksum_of(target, checksum.algorithm) == checksum.hexdigest
    except DataNotFoundError:  # replaced by another process just now
        return False


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
        timed_out = isinstance(error, _TIMEOUT_ERRORS) or getattr(error, "timed_out", False)
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
        method: str = "GET",
    ):
        self.url = url
        self.method = method
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
            if isinstance(error, DataStoreError):  # a DataStoreTimeoutError is an OSError too
                raise
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
        self.meta.unlink(missing_ok=True)

    def _discard_part(self) -> None:
        self.part.unlink(missing_ok=True)
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
            kwargs["idempotent"] = True  # a download only reads, whatever its method
        if self.timeout is not None:
            kwargs["timeout"] = self.timeout
        try:
            response = self.session.request(self.method, self.url, **kwargs)
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
                except (*_STREAM_ERRORS, ServiceError) as error:  # a session's broken body
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
    """The body as it arrives: ``read1`` returns what the socket has instead of waiting for a
    full chunk, so a slow server does not delay cancellation checks."""
    return iter(lambda: response.raw.read1(chunk_size, decode_content=True), b"")


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
