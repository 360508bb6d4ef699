"""Tests of eostores.preload: task states, progress, failures, cancellation, display."""

from __future__ import annotations

import io
import os
import threading
import time
import zipfile
from pathlib import Path

import pytest

from eostores.cache import download, extract_archive
from eostores.errors import DataNotFoundError, DataStoreError, ServiceError
from eostores.preload import PreloadHandle, PreloadStatus, PreloadTask
from eostores.testing import EmulatorServer, FaultProfile, Response, route

WAIT = 5.0  # upper bound for events that normally take milliseconds


class DirectoryStore:
    """The part of a cache store the handle's users need: ids of files under a root."""

    def __init__(self, root: Path):
        self.root = root

    def list_data_ids(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in self.root.rglob("*") if p.is_file())

    def has_data(self, data_id: str) -> bool:
        return (self.root / data_id).is_file()


class FileEmulator(EmulatorServer):
    name = "files"

    def __init__(self, files: dict[str, bytes], **kwargs):
        super().__init__(**kwargs)
        self.files = files

    @route("GET", r"/files/(?P<name>.+)")
    def get_file(self, request, name):
        return Response.file(self.files[name], request)


@pytest.fixture
def store(tmp_path):
    root = tmp_path / "cache"
    root.mkdir()
    return DirectoryStore(root)


def preload_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("eostores-preload")]


class Gate:
    """Lets a test hold tasks at a point and know when they got there."""

    def __init__(self):
        self.reached: dict[str, threading.Event] = {}
        self.release: dict[str, threading.Event] = {}

    def task(self, context: PreloadTask):
        reached = self.reached.setdefault(context.data_id, threading.Event())
        release = self.release.setdefault(context.data_id, threading.Event())
        context.report(0.5, "halfway")
        reached.set()
        while not release.wait(0.01):
            context.raise_if_cancelled()
        return [f"{context.data_id}.zarr"]

    def wait_reached(self, data_id: str) -> None:
        deadline = time.monotonic() + WAIT
        while data_id not in self.reached and time.monotonic() < deadline:
            time.sleep(0.005)
        assert self.reached[data_id].wait(WAIT)

    def open(self, data_id: str) -> None:
        self.release.setdefault(data_id, threading.Event()).set()


def test_blocking_run_completes_and_collects_ids(store):
    def task(context):
        if context.data_id == "b":
            context.add_data_ids("b/part1.nc")
            return ["b/part2.nc"]
        return [f"{context.data_id}.zarr"]

    handle = PreloadHandle(["a", "b", "c"], task, store=store, silent=True)
    assert handle.done
    assert handle.store is store
    assert handle.data_ids == ["a.zarr", "b/part1.nc", "b/part2.nc", "c.zarr"]
    assert [s.status for s in handle.states] == [PreloadStatus.COMPLETED] * 3
    assert all(s.progress == 1.0 for s in handle.states)
    assert handle.get_state("b").data_ids == ["b/part1.nc", "b/part2.nc"]
    assert preload_threads() == []
    handle.raise_for_failures()  # nothing failed: no error


def test_states_and_progress_in_background(store):
    gate = Gate()
    handle = PreloadHandle(["a", "b"], gate.task, store=store, blocking=False, silent=True)
    try:
        gate.wait_reached("a")
        gate.wait_reached("b")
        state = handle.get_state("a")
        assert state.status is PreloadStatus.STARTED
        assert state.progress == 0.5 and state.message == "halfway"
        assert not handle.done
        assert handle.wait(timeout=0.05) is False
        assert handle.data_ids == []

        gate.open("a")
        deadline = time.monotonic() + WAIT
        while handle.get_state("a").status is not PreloadStatus.COMPLETED:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        assert handle.data_ids == ["a.zarr"]  # b still running
        gate.open("b")
        assert handle.wait(timeout=WAIT) is True
        assert handle.data_ids == ["a.zarr", "b.zarr"]
        assert preload_threads() == []
    finally:
        handle.close()


def test_tasks_beyond_max_workers_wait(store):
    gate = Gate()
    handle = PreloadHandle(
        ["first", "second"], gate.task, store=store, blocking=False, silent=True, max_workers=1
    )
    with handle:
        gate.wait_reached("first")
        assert handle.get_state("second").status is PreloadStatus.WAITING
        assert handle.get_state("second").progress == 0.0
        gate.open("first")
        gate.wait_reached("second")
        assert handle.get_state("first").status is PreloadStatus.COMPLETED
        gate.open("second")
        assert handle.wait(WAIT)


def test_failures_are_recorded_and_raised_on_demand(store):
    error = ServiceError("the service said no", status=500)

    def task(context):
        if context.data_id == "bad":
            raise error
        if context.data_id == "buggy":
            raise ValueError("unexpected")
        return ["ok.zarr"]

    handle = PreloadHandle(["ok", "bad", "buggy"], task, store=store, silent=True)
    bad = handle.get_state("bad")
    assert bad.status is PreloadStatus.FAILED
    assert bad.exception is error
    assert bad.message == "the service said no"
    assert handle.get_state("ok").status is PreloadStatus.COMPLETED
    assert handle.data_ids == ["ok.zarr"]
    assert list(handle.failures) == ["bad", "buggy"]
    with pytest.raises(ServiceError) as info:
        handle.raise_for_failures()
    assert info.value is error
    with pytest.raises(ServiceError):
        handle.wait(raise_errors=True)

    only_buggy = PreloadHandle(["buggy"], task, store=store, silent=True)
    with pytest.raises(DataStoreError, match="ValueError: unexpected") as info:
        only_buggy.raise_for_failures()
    assert isinstance(info.value.__cause__, ValueError)
    assert info.value.data_id == "buggy"


def test_cancel_stops_running_and_waiting_tasks(store):
    gate = Gate()
    handle = PreloadHandle(
        ["a", "b", "c"], gate.task, store=store, blocking=False, silent=True, max_workers=1
    )
    gate.wait_reached("a")
    started = time.monotonic()
    handle.cancel()
    assert handle.wait(WAIT)
    assert time.monotonic() - started < 1.0
    assert handle.cancelled
    assert [s.status for s in handle.states] == [PreloadStatus.CANCELLED] * 3
    assert handle.data_ids == []
    assert handle.failures == {}
    handle.raise_for_failures()  # cancellation is not a failure
    assert "b" not in gate.reached  # never started
    assert preload_threads() == []


def test_cancel_single_data_id(store):
    gate = Gate()
    with PreloadHandle(["a", "b"], gate.task, store=store, blocking=False, silent=True) as handle:
        gate.wait_reached("a")
        gate.wait_reached("b")
        handle.cancel("a")
        gate.open("b")
        assert handle.wait(WAIT)
        assert handle.get_state("a").status is PreloadStatus.CANCELLED
        assert handle.get_state("b").status is PreloadStatus.COMPLETED
        assert not handle.cancelled
        with pytest.raises(DataNotFoundError):
            handle.cancel("unknown")


def test_exit_cancels_unfinished_tasks(store):
    gate = Gate()
    with PreloadHandle(["a"], gate.task, store=store, blocking=False, silent=True) as handle:
        gate.wait_reached("a")
    assert handle.get_state("a").status is PreloadStatus.CANCELLED
    assert preload_threads() == []


def test_cancel_mid_download_is_quick_and_leaves_no_target(store, tmp_path):
    big = os.urandom(2_000_000)
    faults = FaultProfile(slow_body_bytes_per_s=100_000)  # 20 s for the whole file
    with FileEmulator({"big.bin": big}, faults=faults) as emu:
        first_bytes = threading.Event()

        def task(context):
            report = context.progress_callback(0.0, 0.9, "downloading")

            def progress(done, total):
                report(done, total)
                if done:
                    first_bytes.set()

            target = store.root / "big.bin"
            download(
                f"{emu.url}/files/big.bin", target, cancel=context.cancel_event, progress=progress
            )
            return ["big.bin"]

        handle = PreloadHandle(["big"], task, store=store, blocking=False, silent=True)
        assert first_bytes.wait(WAIT)
        state = handle.get_state("big")
        assert 0 < state.progress < 0.5 and state.message == "downloading"
        started = time.monotonic()
        handle.cancel()
        assert handle.wait(timeout=2.0)
        assert time.monotonic() - started < 1.0
    assert handle.get_state("big").status is PreloadStatus.CANCELLED
    assert not (store.root / "big.bin").exists()
    assert handle.data_ids == []


def test_archive_task_gives_several_ids_and_cleans_up(store, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("tiles/E10N40.tif", b"tile-1")
        zf.writestr("tiles/E10N50.tif", b"tile-2")
    downloads = tmp_path / "downloads"
    with FileEmulator({"product.zip": buffer.getvalue()}) as emu:

        def task(context):
            archive = download(f"{emu.url}/files/product.zip", downloads / "product.zip")
            context.add_temporary(archive)
            context.report(0.5, "extracting")
            files = extract_archive(archive, store.root / context.data_id)
            return [str(path.relative_to(store.root)) for path in files]

        handle = PreloadHandle(["product"], task, store=store, silent=True)
    assert handle.data_ids == ["product/tiles/E10N40.tif", "product/tiles/E10N50.tif"]
    assert all(store.has_data(data_id) for data_id in handle.data_ids)
    assert not (downloads / "product.zip").exists()


def test_cleanup_can_be_switched_off(store, tmp_path):
    scratch = tmp_path / "scratch"

    def task(context):
        scratch.mkdir(exist_ok=True)
        (scratch / "x").write_bytes(b"x")
        context.add_temporary(scratch)
        return []

    PreloadHandle(["a"], task, store=store, silent=True, cleanup=False)
    assert (scratch / "x").exists()

    def failing(context):
        task(context)
        raise ServiceError("broken")

    handle = PreloadHandle(["b"], failing, store=store, silent=True)
    assert handle.get_state("b").status is PreloadStatus.FAILED
    assert not scratch.exists()  # cleaned up after a failure too


def test_table_and_repr(store, capsys):
    def task(context):
        if context.data_id == "bad":
            raise ServiceError("HTTP 503 from the service")
        return ["good.zarr"]

    handle = PreloadHandle(["good", "bad"], task, store=store, silent=True)
    handle.show()
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["Data", "ID", "Status", "Progress", "Message"]
    assert set(lines[1]) <= {"-", " "}
    assert lines[2].split() == ["good", "completed", "100%"]
    assert lines[3].split()[:3] == ["bad", "failed", "0%"]
    assert lines[3].endswith("HTTP 503 from the service")
    assert str(handle) == handle.table()
    assert "2 data ids" in repr(handle) and "1 completed" in repr(handle)
    assert "1 failed" in repr(handle) and "DirectoryStore" in repr(handle)


def test_html_repr_escapes(store):
    handle = PreloadHandle(["<script>"], lambda c: ["x"], store=store, silent=True)
    page = handle._repr_html_()
    assert page.startswith("<table") and page.endswith("</table>")
    assert "&lt;script&gt;" in page and "<script>" not in page
    assert page.count("<tr>") == 2
    assert "completed" in page and "100%" in page


def test_status_lines_when_not_on_a_terminal(store, capsys):
    def task(context):
        if context.data_id == "bad":
            raise ServiceError("quota exhausted")
        return ["ok"]

    PreloadHandle(["ok", "bad"], task, store=store, max_workers=1)
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "preload ok: started",
        "preload ok: completed",
        "preload bad: started",
        "preload bad: failed: quota exhausted",
    ]


def test_silent_prints_nothing(store, capsys):
    PreloadHandle(["a"], lambda c: ["a"], store=store, silent=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bars_on_a_terminal(store, monkeypatch):
    terminal = FakeTerminal()
    monkeypatch.setattr("sys.stderr", terminal)

    def task(context):
        context.report(0.3, "downloading")
        return ["a"]

    PreloadHandle(["era5-2020", "era5-2021"], task, store=store)
    output = terminal.getvalue()
    assert "era5-2020" in output and "era5-2021" in output
    assert "100%" in output and "completed" in output


def test_unknown_data_id_and_bad_arguments(store):
    handle = PreloadHandle(["a", "a"], lambda c: ["a"], store=store, silent=True)
    assert [s.data_id for s in handle.states] == ["a"]
    with pytest.raises(DataNotFoundError):
        handle.get_state("b")
    with pytest.raises(ValueError):
        PreloadHandle(["a"], lambda c: None, store=store, max_workers=0)
    empty = PreloadHandle([], lambda c: None, store=store, silent=True)
    assert empty.done and empty.data_ids == [] and empty.wait(0)
