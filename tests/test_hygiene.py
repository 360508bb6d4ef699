"""The integration tests' own hygiene: where they write, and unclosed sessions failing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

from eostores.cache import default_cache_dir

LEAKING_TEST = textwrap.dedent(
    """
    import asyncio

    import aiohttp


    def test_drops_an_unclosed_session():
        async def make():
            return aiohttp.ClientSession()

        loop = asyncio.new_event_loop()
        session = loop.run_until_complete(make())
        loop.close()
        del session


    def test_closes_its_session():
        async def use():
            session = aiohttp.ClientSession()
            await session.close()

        asyncio.run(use())
    """
)


def test_tests_run_in_temporary_folders(tmp_path_factory):
    temporary = Path(tempfile.gettempdir()).resolve()
    assert Path.cwd().resolve().is_relative_to(temporary)
    assert default_cache_dir("cds").resolve().is_relative_to(temporary)
    assert Path(os.environ["XDG_CACHE_HOME"]).resolve().is_relative_to(temporary)


def test_a_dropped_unclosed_session_fails_the_test_that_dropped_it(tmp_path):
    shutil.copy(Path(__file__).with_name("conftest.py"), tmp_path / "conftest.py")
    (tmp_path / "test_leak.py").write_text(LEAKING_TEST)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 1, result.stdout
    assert "FAILED test_leak.py::test_drops_an_unclosed_session" in result.stdout
    assert "ClientSession" in result.stdout
    assert "1 failed, 1 passed" in result.stdout
