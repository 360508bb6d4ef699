"""Tests of eostores.cache: downloads against an emulator, safe archive extraction."""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import random
import sys
import tarfile
import threading
import time
import zipfile
from pathlib import Path

import filelock
import pytest
import requests

from eostores.cache import checksum_of, default_cache_dir, download, extract_archive
from eostores.errors import (
    DataNotFoundError,
    DataStoreError,
    InvalidParameterError,
    ServiceError,
)
from eostores.http import HttpConfig, new_session
from eostores.testing import EmulatorServer, FaultProfile, Response, route

# --------------------------------------------------------------------------- emulator


class FileEmulator(EmulatorServer):
    """Serves ``files`` with ranges and ETags under /files/, without either under /plain/."""

    name = "files"

    def __init__(self, files: dict[str, bytes], **kwargs):
        super().__init__(**kwargs)
        self.files = files

    @route("GET", r"/files/(?P<name>.+)")
    def get_file(self, request, name):
        if name not in self.files:
            return Response.json({"message": "no such file"}, 404)
        return Response.file(self.files[name], request)

    @route("GET", r"/plain/(?P<name>.+)")
    def get_plain(self, request, name):
        return Response(200, self.files[name], content_type="application/octet-stream")

    @route("POST", r"/download/(?P<name>.+)")
    def post_download(self, request, name):
        return Response.file(self.files[name], request)


PAYLOAD = os.urandom(300_000)
PAYLOAD_MD5 = hashlib.md5(PAYLOAD).hexdigest()
PAYLOAD_SHA256 = hashlib.sha256(PAYLOAD).hexdigest()


@pytest.fixture
def emulator():
    with FileEmulator({"data.bin": PAYLOAD}) as emu:
        yield emu


def file_gets(emu, name="data.bin", at_least=1, settle=0.0):
    """GET records of ``name``; waits for ``at_least`` of them (logged once a response ends)."""
    deadline = time.monotonic() + 5

    def records():
        return [r for r in emu.request_log if r.method == "GET" and r.path.endswith("/" + name)]

    while len(records()) < at_least and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(settle)
    return records()


def leftovers(directory: Path) -> list[str]:
    """Entries other than lock files (which stay on purpose)."""
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".lock"))


# --------------------------------------------------------------------------- download


def test_download_verifies_size_and_md5(emulator, tmp_path):
    seen = []
    path = download(
        f"{emulator.url}/files/data.bin",
        tmp_path / "out" / "data.bin",
        expected_size=len(PAYLOAD),
        checksum=f"md5:{PAYLOAD_MD5}",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert path == tmp_path / "out" / "data.bin"
    assert path.read_bytes() == PAYLOAD
    assert leftovers(path.parent) == ["data.bin"]
    assert seen[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert all(total == len(PAYLOAD) for _, total in seen)


@pytest.mark.parametrize("checksum", [f"sha256:{PAYLOAD_SHA256}", PAYLOAD_MD5, PAYLOAD_SHA256])
def test_download_accepts_checksum_forms(emulator, tmp_path, checksum):
    path = download(f"{emulator.url}/files/data.bin", tmp_path / "d.bin", checksum=checksum)
    assert path.read_bytes() == PAYLOAD


def test_wrong_checksum_raises_and_leaves_no_file(emulator, tmp_path):
    wrong = "0" * 32
    with pytest.raises(ServiceError) as info:
        download(f"{emulator.url}/files/data.bin?token=s3cret", tmp_path / "d.bin", checksum=wrong)
    message = str(info.value)
    assert "checksum mismatch" in message
    assert wrong in message and PAYLOAD_MD5 in message
    assert "s3cret" not in message
    assert leftovers(tmp_path) == []


def test_wrong_expected_size_raises_and_leaves_no_file(emulator, tmp_path):
    with pytest.raises(ServiceError, match="size mismatch"):
        download(f"{emulator.url}/files/data.bin", tmp_path / "d.bin", expected_size=10)
    assert leftovers(tmp_path) == []


def test_malformed_checksum_is_rejected_before_any_request(emulator, tmp_path):
    with pytest.raises(InvalidParameterError):
        download(f"{emulator.url}/files/data.bin", tmp_path / "d.bin", checksum="md5:xyz")
    with pytest.raises(InvalidParameterError):
        download(f"{emulator.url}/files/data.bin", tmp_path / "d.bin", checksum="crc99:00")
    assert emulator.request_log == []


def test_complete_target_is_returned_without_network(emulator, tmp_path):
    target = tmp_path / "d.bin"
    target.write_bytes(PAYLOAD)
    path = download(f"{emulator.url}/files/data.bin", target, checksum=PAYLOAD_MD5)
    assert path == target
    assert emulator.request_log == []


def test_corrupt_target_is_downloaded_again(emulator, tmp_path):
    target = tmp_path / "d.bin"
    target.write_bytes(b"not the payload")
    download(f"{emulator.url}/files/data.bin", target, checksum=PAYLOAD_MD5)
    assert target.read_bytes() == PAYLOAD
    assert len(file_gets(emulator)) == 1


def test_truncated_body_is_resumed_with_range(emulator, tmp_path):
    emulator.faults = FaultProfile(truncate_rate=1.0)

    def heal_after_first_bytes(done, total):
        if done:
            emulator.faults = None  # the response already under way stays truncated

    path = download(
        f"{emulator.url}/files/data.bin",
        tmp_path / "d.bin",
        checksum=PAYLOAD_MD5,
        progress=heal_after_first_bytes,
    )
    assert path.read_bytes() == PAYLOAD
    first, second = file_gets(emulator, at_least=2)
    assert first.fault == "truncate" and "range" not in first.headers
    assert second.status == 206
    assert second.headers["range"] == f"bytes={first.bytes_sent}-"
    assert second.headers["if-range"].strip('"')  # the ETag guards against a changed file
    assert leftovers(tmp_path) == ["d.bin"]


def test_attempts_are_bounded_and_the_part_resumes_later(emulator, tmp_path):
    emulator.faults = FaultProfile(truncate_rate=1.0)
    target = tmp_path / "d.bin"
    with pytest.raises(ServiceError, match=r"after 3 attempts: \d+ of 300000 bytes arrived"):
        download(f"{emulator.url}/files/data.bin", target, max_attempts=3, checksum=PAYLOAD_MD5)
    assert not target.exists()
    kept = (tmp_path / "d.bin.part").stat().st_size
    assert 0 < kept < len(PAYLOAD)

    emulator.faults = None
    emulator.reset_log()
    download(f"{emulator.url}/files/data.bin", target, checksum=PAYLOAD_MD5)
    assert target.read_bytes() == PAYLOAD
    (record,) = file_gets(emulator)
    assert record.headers["range"] == f"bytes={kept}-"
    assert record.bytes_sent == len(PAYLOAD) - kept
    assert leftovers(tmp_path) == ["d.bin"]


def test_without_resume_partial_files_are_removed(emulator, tmp_path):
    emulator.faults = FaultProfile(truncate_rate=1.0)
    with pytest.raises(ServiceError, match="incomplete"):
        download(f"{emulator.url}/files/data.bin", tmp_path / "d.bin", resume=False, max_attempts=2)
    assert leftovers(tmp_path) == []
    assert all("range" not in r.headers for r in file_gets(emulator, at_least=2))


def test_server_without_ranges_restarts_from_zero(emulator, tmp_path):
    emulator.faults = FaultProfile(truncate_rate=1.0)

    def heal(done, total):
        if done:
            emulator.faults = None

    path = download(
        f"{emulator.url}/plain/data.bin", tmp_path / "d.bin", checksum=PAYLOAD_MD5, progress=heal
    )
    assert path.read_bytes() == PAYLOAD
    first, second = file_gets(emulator, at_least=2)
    assert first.fault == "truncate"
    assert "range" in second.headers and second.status == 200
    assert second.bytes_sent == len(PAYLOAD)


def test_missing_file_raises_not_found(emulator, tmp_path):
    with pytest.raises(DataNotFoundError):
        download(f"{emulator.url}/files/nope.bin", tmp_path / "nope.bin")
    assert leftovers(tmp_path) == []


def test_error_statuses_are_retried_by_the_session(emulator, tmp_path):
    emulator.faults = FaultProfile(fail_first=2, error_statuses=(503,), retry_after=0)
    session = new_session(HttpConfig(retry_backoff_base=0.01))
    path = download(
        f"{emulator.url}/files/data.bin", tmp_path / "d.bin", session=session, checksum=PAYLOAD_MD5
    )
    assert path.read_bytes() == PAYLOAD
    assert [r.status for r in file_gets(emulator, at_least=3)] == [503, 503, 200]


def test_a_plain_requests_session_gets_the_same_errors(emulator, tmp_path):
    with requests.Session() as session:
        path = download(f"{emulator.url}/files/data.bin", tmp_path / "d.bin", session=session)
        assert path.read_bytes() == PAYLOAD
        with pytest.raises(DataNotFoundError):
            download(f"{emulator.url}/files/nope.bin", tmp_path / "nope.bin", session=session)


def test_cancel_stops_between_chunks_and_keeps_the_part(tmp_path):
    big = os.urandom(2_000_000)
    faults = FaultProfile(slow_body_bytes_per_s=200_000)  # 10 s for the whole file
    with FileEmulator({"big.bin": big}, faults=faults) as emu:
        cancel = threading.Event()
        timer = threading.Timer(0.2, cancel.set)
        timer.start()
        started = time.monotonic()
        with pytest.raises(DataStoreError, match="cancelled"):
            download(f"{emu.url}/files/big.bin", tmp_path / "big.bin", cancel=cancel)
        assert time.monotonic() - started < 1.5
        timer.cancel()
    assert not (tmp_path / "big.bin").exists()
    assert 0 < (tmp_path / "big.bin.part").stat().st_size < len(big)


def test_a_call_deadline_during_the_transfer_is_reported_as_a_timeout(tmp_path):
    from eostores.errors import DataStoreTimeoutError
    from eostores.http import call_deadline

    faults = FaultProfile(slow_body_bytes_per_s=200_000)  # 10 s for the whole file
    with FileEmulator({"big.bin": os.urandom(2_000_000)}, faults=faults) as emu:
        started = time.monotonic()
        with pytest.raises(DataStoreTimeoutError), call_deadline(0.5):
            download(f"{emu.url}/files/big.bin", tmp_path / "big.bin", resume=False)
        assert time.monotonic() - started < 5
    assert leftovers(tmp_path) == []


def test_files_served_to_post_requests_are_downloaded_and_retried(emulator, tmp_path):
    emulator.faults = FaultProfile(fail_first=1, error_statuses=(503,), retry_after=0)
    path = download(f"{emulator.url}/download/data.bin", tmp_path / "d.bin", method="POST")
    assert path.read_bytes() == PAYLOAD
    assert [(r.method, r.status) for r in emulator.request_log] == [("POST", 503), ("POST", 200)]
    with pytest.raises(InvalidParameterError, match="method"):
        download(f"{emulator.url}/download/data.bin", tmp_path / "e.bin", method="PUT")


def test_cancel_while_waiting_for_the_lock(emulator, tmp_path):
    other = filelock.FileLock(str(tmp_path / "d.bin.lock"))
    with other:  # another process is downloading the same target
        cancel = threading.Event()
        threading.Timer(0.1, cancel.set).start()
        started = time.monotonic()
        with pytest.raises(DataStoreError, match="cancelled"):
            download(f"{emulator.url}/files/data.bin", tmp_path / "d.bin", cancel=cancel)
        assert time.monotonic() - started < 1.0
    assert emulator.request_log == []


# The same bytes in every process (spawned children import this module afresh).
SHARED = {f"part{i}.bin": random.Random(i).randbytes(150_000 + 1000 * i) for i in range(3)}
SHARED_MD5 = {name: hashlib.md5(data).hexdigest() for name, data in SHARED.items()}


def _download_all(url: str, cache: str, seed: int) -> list[str]:
    """Download every shared file into ``cache`` in an order of its own."""
    names = sorted(SHARED)
    random.Random(seed).shuffle(names)
    paths = [download(f"{url}/files/{n}", Path(cache) / n, checksum=SHARED_MD5[n]) for n in names]
    return sorted(str(path) for path in paths)


def _process_worker(url: str, cache: str, seed: int, start, results) -> None:
    start.wait(60)
    try:
        results.put(_download_all(url, cache, seed))
    except BaseException as error:  # reported to the test, which fails on it
        results.put(f"{type(error).__name__}: {error}")


def _run_together(work, process_target, process_args, threads=8, processes=4):
    """Run ``work(i)`` in threads and ``process_target`` in spawned processes, all at once."""
    context = multiprocessing.get_context("spawn")
    start, results = context.Event(), context.Queue()
    children = [
        context.Process(target=process_target, args=(*process_args, i, start, results))
        for i in range(processes)
    ]
    for child in children:
        child.start()
    time.sleep(0.5)  # let the children come up; they wait for ``start`` as the threads do
    outcomes: list = []
    gate = threading.Barrier(threads)

    def thread_worker(i):
        gate.wait(60)
        try:
            outcomes.append(work(100 + i))
        except BaseException as error:
            outcomes.append(f"{type(error).__name__}: {error}")

    pool = [threading.Thread(target=thread_worker, args=(i,)) for i in range(threads)]
    start.set()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(120)
    outcomes += [results.get(timeout=120) for _ in children]
    for child in children:
        child.join(60)
    return outcomes


def test_threads_and_processes_share_a_cache_with_one_transfer_per_file(tmp_path):
    faults = FaultProfile(slow_body_bytes_per_s=1_500_000)  # ~0.1 s per file: transfers overlap
    with FileEmulator(dict(SHARED), faults=faults) as emu:
        cache = tmp_path / "cache"
        outcomes = _run_together(
            lambda seed: _download_all(emu.url, str(cache), seed),
            _process_worker,
            (emu.url, str(cache)),
        )
        expected = sorted(str(cache / name) for name in SHARED)
        assert outcomes == [expected] * 12
        for name in SHARED:
            assert len(file_gets(emu, name, settle=0.2)) == 1, name
    for name, data in SHARED.items():
        assert (cache / name).read_bytes() == data
    assert leftovers(cache) == sorted(SHARED)  # no .part or .meta left behind


# --------------------------------------------------------------------------- cache folders


def test_default_cache_dir_layout(monkeypatch, tmp_path):
    monkeypatch.delenv("EOSTORES_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if os.name == "posix" and sys.platform != "darwin":
        assert default_cache_dir("cds") == tmp_path / "xdg" / "eostores" / "cds"
    assert default_cache_dir("zenodo").parent == default_cache_dir("cds").parent
    monkeypatch.setenv("EOSTORES_CACHE_DIR", str(tmp_path / "mine"))
    assert default_cache_dir("stac-cdse") == tmp_path / "mine" / "stac-cdse"
    assert not (tmp_path / "mine").exists()  # nothing is created
    for bad in ("", "../up", "a/b", ".hidden", None):
        with pytest.raises(InvalidParameterError, match="store_id"):
            default_cache_dir(bad)


# --------------------------------------------------------------------------- checksums


def test_checksum_of(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    assert checksum_of(path) == PAYLOAD_MD5
    assert checksum_of(path, "sha256") == PAYLOAD_SHA256
    with pytest.raises(InvalidParameterError):
        checksum_of(path, "nope")
    with pytest.raises(DataNotFoundError):
        checksum_of(tmp_path / "missing")


# --------------------------------------------------------------------------- extraction


def make_zip(path: Path, entries: dict[str, bytes], compression=zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", compression) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def make_tar(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]], mode="w") -> Path:
    with tarfile.open(path, mode) as tf:
        for info, data in members:
            if data is not None:
                info.size = len(data)
                tf.addfile(info, io.BytesIO(data))
            else:
                tf.addfile(info)
    return path


def tar_file(name: str) -> tarfile.TarInfo:
    return tarfile.TarInfo(name)


def tar_link(name: str, target: str, kind=tarfile.SYMTYPE) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def snapshot(directory: Path) -> dict[str, bytes | None]:
    """Content of ``directory``, without the extraction lock and record (``.<name>.*``)."""
    return {
        str(p.relative_to(directory)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(directory.rglob("*"))
        if not p.name.endswith((".lock", ".extracted"))
    }


def visible(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))


def test_zip_is_extracted_with_its_structure(tmp_path):
    entries = {"a.txt": b"alpha", "sub/b.nc": b"beta" * 1000, "sub/deeper/c.bin": os.urandom(99)}
    archive = make_zip(tmp_path / "data.zip", entries)
    files = extract_archive(archive, tmp_path / "out")
    assert files == [tmp_path / "out" / name for name in entries]
    for name, data in entries.items():
        assert (tmp_path / "out" / name).read_bytes() == data
    assert archive.exists()
    assert visible(tmp_path) == ["data.zip", "out"]
    assert not list(tmp_path.glob("*extracting*"))  # no staging left


@pytest.mark.parametrize("mode", ["w", "w:gz", "w:bz2", "w:xz"])
def test_tar_formats_are_detected_by_content(tmp_path, mode):
    archive = make_tar(
        tmp_path / "download.bin",  # the name says nothing about the format
        [(tar_file("x/one.txt"), b"one"), (tar_file("two.txt"), b"two" * 100)],
        mode=mode,
    )
    files = extract_archive(archive, tmp_path / "out")
    assert files == [tmp_path / "out" / "x" / "one.txt", tmp_path / "out" / "two.txt"]
    assert (tmp_path / "out" / "two.txt").read_bytes() == b"two" * 100


def test_nested_archives_are_extracted_into_folders(tmp_path):
    inner_zip = make_zip(tmp_path / "inner.zip", {"a.txt": b"A", "sub/b.txt": b"B"})
    inner_tgz = make_tar(tmp_path / "t.tar.gz", [(tar_file("c.txt"), b"C")], mode="w:gz")
    archive = make_zip(
        tmp_path / "outer.zip",
        {
            "top.txt": b"T",
            "results/inner.zip": inner_zip.read_bytes(),
            "t.tar.gz": inner_tgz.read_bytes(),
            "report.docx.txt": b"plain",
        },
    )
    out = tmp_path / "out"
    files = extract_archive(archive, out, remove_archive=True)
    assert files == [
        out / "top.txt",
        out / "results" / "inner" / "a.txt",
        out / "results" / "inner" / "sub" / "b.txt",
        out / "t" / "c.txt",
        out / "report.docx.txt",
    ]
    assert (out / "results" / "inner" / "sub" / "b.txt").read_bytes() == b"B"
    assert not (out / "results" / "inner.zip").exists()
    assert not (out / "t.tar.gz").exists()
    assert not archive.exists()


def test_tar_ending_with_a_zip_is_a_tar(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"a.txt": b"A"})
    archive = make_tar(tmp_path / "outer.tar", [(tar_file("inner.zip"), inner.read_bytes())])
    assert zipfile.is_zipfile(archive)  # the zip directory near the end fools this check
    files = extract_archive(archive, tmp_path / "out")
    assert files == [tmp_path / "out" / "inner" / "a.txt"]


def test_nested_extraction_can_be_switched_off(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"a.txt": b"A"})
    archive = make_zip(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes()})
    files = extract_archive(archive, tmp_path / "out", nested=False)
    assert files == [tmp_path / "out" / "inner.zip"]


def test_extraction_merges_into_an_existing_directory(tmp_path):
    out = tmp_path / "out"
    (out / "sub").mkdir(parents=True)
    (out / "keep.txt").write_bytes(b"keep")
    (out / "sub" / "old.txt").write_bytes(b"old")
    archive = make_zip(tmp_path / "a.zip", {"sub/old.txt": b"new", "sub/more.txt": b"more"})
    extract_archive(archive, out)
    assert snapshot(out) == {
        "keep.txt": b"keep",
        "sub": None,
        "sub/more.txt": b"more",
        "sub/old.txt": b"new",
    }


def _evil_archives(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    """Archives that must be refused, with the entry name the error must mention."""
    d = tmp_path / "evil"
    d.mkdir()
    device = tarfile.TarInfo("dev/null")
    device.type = tarfile.CHRTYPE
    zip_link = zipfile.ZipInfo("link")
    zip_link.create_system = 3
    zip_link.external_attr = (0o120777) << 16
    with zipfile.ZipFile(d / "ziplink.zip", "w") as zf:
        zf.writestr("ok.txt", b"fine")
        zf.writestr(zip_link, "/etc/passwd")
    return {
        "zip dotdot": (make_zip(d / "dotdot.zip", {"ok.txt": b"1", "../evil": b"x"}), "../evil"),
        "zip backslash": (make_zip(d / "bs.zip", {"..\\evil": b"x"}), "points outside"),
        "zip absolute": (make_zip(d / "abs.zip", {"/tmp/evil-abs": b"x"}), "/tmp/evil-abs"),
        "zip drive": (make_zip(d / "drive.zip", {"C:/evil": b"x"}), "C:/evil"),
        "zip symlink": (d / "ziplink.zip", "'link' is a symbolic link"),
        "tar dotdot": (
            make_tar(d / "dotdot.tar", [(tar_file("a/../../evil"), b"x")]),
            "a/../../evil",
        ),
        "tar symlink absolute": (
            make_tar(d / "sym.tar", [(tar_link("lnk-abs", "/etc/passwd"), None)]),
            "'lnk-abs' links to '/etc/passwd' outside",
        ),
        "tar symlink relative": (
            make_tar(d / "symrel.tar", [(tar_link("a/p", "../../etc/passwd"), None)]),
            "'a/p' links to",
        ),
        "tar hardlink outside": (
            make_tar(
                d / "hard.tar",
                [
                    (tar_file("ok.txt"), b"ok"),
                    (tar_link("hl-out", "../outside", tarfile.LNKTYPE), None),
                ],
            ),
            "'hl-out' is a hard link",
        ),
        "tar hardlink absolute": (
            make_tar(d / "habs.tar", [(tar_link("hl-abs", "/etc/passwd", tarfile.LNKTYPE), None)]),
            "'hl-abs' is a hard link",
        ),
        "tar link chain": (
            make_tar(d / "chain.tar", [(tar_link("s", "x/.."), None), (tar_link("x", "."), None)]),
            "'s' links to 'x/..' through another link",
        ),
        "tar through link": (
            make_tar(
                d / "through.tar",
                [(tar_link("l", "sub"), None), (tar_file("l/f.txt"), b"f")],
            ),
            "l/f.txt",
        ),
        "tar device": (make_tar(d / "dev.tar", [(device, None)]), "'dev/null' is a device"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "zip dotdot",
        "zip backslash",
        "zip absolute",
        "zip drive",
        "zip symlink",
        "tar dotdot",
        "tar symlink absolute",
        "tar symlink relative",
        "tar hardlink outside",
        "tar hardlink absolute",
        "tar link chain",
        "tar through link",
        "tar device",
    ],
)
def test_dangerous_entries_are_refused_and_nothing_is_written(tmp_path, case):
    archive, entry = _evil_archives(tmp_path)[case]
    work = tmp_path / "work"
    out = work / "out"
    out.mkdir(parents=True)
    (out / "existing.txt").write_bytes(b"existing")
    with pytest.raises(ServiceError) as info:
        extract_archive(archive, out)
    message = str(info.value)
    assert archive.name in message
    assert entry in message
    assert snapshot(work) == {"out": None, "out/existing.txt": b"existing"}
    assert not (tmp_path / "evil" / "evil").exists()
    assert not Path("/tmp/evil-abs").exists()


def test_zip_bomb_is_refused_by_ratio(tmp_path):
    archive = make_zip(tmp_path / "bomb.zip", {"small.txt": b"s", "zeros.bin": bytes(4 << 20)})
    assert archive.stat().st_size < 20_000
    with pytest.raises(ServiceError, match=r"bomb\.zip.*zeros\.bin.*ratio"):
        extract_archive(archive, tmp_path / "out")
    assert visible(tmp_path) == ["bomb.zip"]
    assert not list(tmp_path.glob("*extracting*")) and not (tmp_path / ".out.extracted").exists()
    # A higher allowance lets the same archive through.
    extract_archive(archive, tmp_path / "out", max_ratio=10_000)
    assert (tmp_path / "out" / "zeros.bin").stat().st_size == 4 << 20


def test_compressed_tar_bomb_is_refused_by_ratio(tmp_path):
    archive = make_tar(tmp_path / "bomb.tgz", [(tar_file("zeros"), bytes(4 << 20))], mode="w:gz")
    with pytest.raises(ServiceError, match="ratio"):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_small_well_compressed_files_are_not_bombs(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"zeros.txt": bytes(100_000)})
    (path,) = extract_archive(archive, tmp_path / "out")
    assert path.stat().st_size == 100_000


def test_size_and_member_limits_cover_nested_archives(tmp_path):
    inner = make_zip(tmp_path / "inner.zip", {"big.bin": os.urandom(5000)})
    archive = make_zip(tmp_path / "outer.zip", {"inner.zip": inner.read_bytes(), "x": b"x"})
    with pytest.raises(ServiceError, match=r"'inner\.zip'.* more than \d+ bytes"):
        extract_archive(archive, tmp_path / "out", max_total_size=4000 + len(inner.read_bytes()))
    assert not (tmp_path / "out").exists()
    many = make_zip(tmp_path / "many.zip", {f"f{i}": b"" for i in range(5)})
    with pytest.raises(ServiceError, match="more than 3 entries"):
        extract_archive(many, tmp_path / "out", max_members=3)


def test_not_an_archive_and_corrupt_archive(tmp_path):
    text = tmp_path / "file.zip"
    text.write_bytes(b"just text, not a zip")
    with pytest.raises(ServiceError, match="neither a zip nor a tar"):
        extract_archive(text, tmp_path / "out")
    good = make_zip(tmp_path / "good.zip", {"a.bin": os.urandom(50_000)}, zipfile.ZIP_STORED)
    data = bytearray(good.read_bytes())
    data[100:200] = bytes(100)  # damage the stored content; the CRC check catches it
    broken = tmp_path / "broken.zip"
    broken.write_bytes(bytes(data))
    with pytest.raises(ServiceError, match=r"broken\.zip.*corrupt"):
        extract_archive(broken, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(DataNotFoundError):
        extract_archive(tmp_path / "missing.zip", tmp_path / "out")


# --------------------------------------------------------------------------- repeated extraction


def test_a_complete_extraction_is_not_repeated(tmp_path):
    archive = make_zip(tmp_path / "a.zip", {"x.txt": b"x", "sub/y.txt": b"y"})
    out = tmp_path / "out"
    first = extract_archive(archive, out)
    stamp = (out / "x.txt").stat().st_ino, (out / "x.txt").stat().st_mtime_ns
    assert extract_archive(archive, out) == first
    assert ((out / "x.txt").stat().st_ino, (out / "x.txt").stat().st_mtime_ns) == stamp
    (out / "sub" / "y.txt").unlink()  # an incomplete result is extracted again
    assert extract_archive(archive, out) == first
    assert (out / "sub" / "y.txt").read_bytes() == b"y"
    extract_archive(archive, out, remove_archive=True)
    assert not archive.exists()
    assert extract_archive(archive, out) == first  # recorded, though the archive is gone
    other = make_zip(tmp_path / "b.zip", {"z.txt": b"z"})
    assert extract_archive(other, out) == [out / "z.txt"]
    assert snapshot(out) == {"sub": None, "sub/y.txt": b"y", "x.txt": b"x", "z.txt": b"z"}


ARCHIVE_ENTRIES = {
    f"dir{i}/file{j}.bin": random.Random(10 * i + j).randbytes(50_000)
    for i in range(3)
    for j in range(4)
}


def _extract_in_process(archive: str, target: str, seed: int, start, results) -> None:
    start.wait(60)
    try:
        results.put(sorted(str(p) for p in extract_archive(archive, target)))
    except BaseException as error:
        results.put(f"{type(error).__name__}: {error}")


def test_concurrent_extractions_into_one_folder(tmp_path):
    archive = make_zip(tmp_path / "many.zip", ARCHIVE_ENTRIES)
    out = tmp_path / "out"
    outcomes = _run_together(
        lambda seed: sorted(str(p) for p in extract_archive(archive, out)),
        _extract_in_process,
        (str(archive), str(out)),
    )
    expected = sorted(str(out / name) for name in ARCHIVE_ENTRIES)
    assert outcomes == [expected] * 12
    assert snapshot(out) == {
        **{f"dir{i}": None for i in range(3)},
        **ARCHIVE_ENTRIES,
    }
    assert not list(tmp_path.glob("*extracting*"))
