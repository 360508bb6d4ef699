"""``eostores emulate``: every installed emulator stops cleanly on SIGTERM, removing its
working folders."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading

import pytest

from eostores.registry import find_emulator_extensions

EMULATORS = sorted(e.name for e in find_emulator_extensions())


def _first_line(process: subprocess.Popen, timeout: float) -> str:
    """The first line of the process's output, read in a thread so that a hang fails."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(process.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout)
    return lines[0] if lines else ""


@pytest.mark.skipif(not hasattr(signal, "SIGTERM") or os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("name", EMULATORS)
def test_sigterm_stops_the_emulator_and_removes_its_files(name, tmp_path):
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "eostores.cli", "emulate", name],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "TMPDIR": str(temporary)},
    )
    try:
        line = _first_line(process, timeout=240)
        assert line, f"emulator {name!r} printed nothing: {process.poll()}"
        assert json.loads(line)["name"] == name
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=120) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    # the emulator's working folders go; sample-data caches meant to be shared may stay
    left = sorted(path.name for path in temporary.glob("eostores-*-emulator-*"))
    assert left == [], f"emulator {name!r} left {left} behind"
