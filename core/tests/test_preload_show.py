"""PreloadHandle.show() on a terminal: the table stands on lines of its own, apart from the
progress bars drawn on the same terminal."""

from __future__ import annotations

import os
import re
import sys
import textwrap

import pytest

pty = pytest.importorskip("pty")

SCRIPT = textwrap.dedent(
    """
    import threading

    from eostores.preload import PreloadHandle

    release = threading.Event()
    reported = threading.Barrier(3)


    def task(context):
        context.report(0.2, "step 1")
        reported.wait(60)
        release.wait(60)
        return [context.data_id]


    handle = PreloadHandle(["a.nc", "bbbbb.nc"], task, store=None, blocking=False)
    reported.wait(60)  # both bars are drawn with their progress
    handle.show()
    release.set()
    handle.wait()
    handle.show()
    print("END")
    """
)
_ESCAPES = re.compile(rb"\x1b\[[0-9;]*[A-Za-z]")


def _run_on_a_terminal(script: str) -> bytes:
    """Run ``script`` with stdout and stderr on a pseudo-terminal of 100 columns."""
    import fcntl
    import struct
    import termios

    pid, fd = pty.fork()
    if pid == 0:  # the child: a terminal of known width, then the script
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
        os.execv(sys.executable, [sys.executable, "-c", script])
    output = bytearray()
    while True:
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0, bytes(output).decode(errors="replace")
    return bytes(output)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pseudo-terminal sizes")
def test_show_prints_the_table_on_its_own_lines_while_bars_are_drawn():
    output = _run_on_a_terminal(SCRIPT)
    assert b"END" in output
    assert b"step 1" in output and b"%|" in output  # progress bars were drawn
    text = _ESCAPES.sub(b"", output)
    headers = [m.start() for m in re.finditer(rb"Data ID +Status +Progress +Message", text)]
    assert len(headers) == 2
    for start in headers:
        # the header starts a line: nothing of a progress bar before it on its line
        assert text[start - 1 : start] in (b"\r", b"\n")
        table = text[start:].split(b"\r\n")
        assert re.match(rb"-+ +-+ +-+ +-+$", table[1])
        assert table[2].split()[0] == b"a.nc" and table[3].split()[0] == b"bbbbb.nc"
    running = text[headers[0] :].split(b"\r\n")[2:4]
    assert all(b"started" in row and b"20%" in row for row in running)
