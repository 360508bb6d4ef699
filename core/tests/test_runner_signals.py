"""An emulator run in the foreground stops cleanly on SIGTERM and SIGHUP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest

EMULATOR_MODULE = textwrap.dedent(
    '''
    import shutil
    import tempfile

    from eostores.testing import EmulatorServer


    class FolderEmulator(EmulatorServer):
        """Holds a working folder from construction until it stops."""

        name = "folder"

        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.folder = tempfile.mkdtemp(prefix="eostores-folder-emulator-")

        def stop(self):
            super().stop()
            shutil.rmtree(self.folder, ignore_errors=True)

        def store_params(self):
            return {"folder": self.folder}
    '''
)


CLASS = "folder_emulator:FolderEmulator"


@pytest.mark.skipif(os.name != "posix", reason="POSIX signals")
@pytest.mark.parametrize("signal_name", ["SIGTERM", "SIGHUP"])
def test_signal_stops_the_emulator_and_its_cleanup_runs(tmp_path, signal_name):
    (tmp_path / "folder_emulator.py").write_text(EMULATOR_MODULE)
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    env = {
        **os.environ,
        "TMPDIR": str(temporary),
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "eostores.testing.runner", "--class", CLASS],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        info = json.loads(process.stdout.readline())
        folder = info["store_params"]["folder"]
        assert os.path.isdir(folder) and folder.startswith(str(temporary))
        process.send_signal(getattr(signal, signal_name))
        assert process.wait(timeout=120) == 0, process.stderr.read()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stdout.close()
        process.stderr.close()
    assert list(temporary.iterdir()) == []
