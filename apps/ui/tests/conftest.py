"""Fixtures of the ``eostores ui`` tests: the application server, the browser, artefacts.

The browser is Debian's Chromium (``/usr/bin/chromium``, or ``EOSTORES_UI_CHROMIUM``)
driven by Playwright's Python API with a fresh profile. Without it the browser tests are
skipped, unless ``EOSTORES_UI_REQUIRE_BROWSER=1`` (the nox ``ui`` session) makes that a
failure. Screenshots and timings go to ``EOSTORES_UI_ARTEFACTS`` or a temporary folder.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = os.environ.get("EOSTORES_UI_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Generous, because the machine running the tests may be loaded.
TIMEOUT_MS = 60_000


@pytest.fixture(autouse=True)
def _no_user_credentials(monkeypatch, tmp_path_factory) -> None:
    """No credentials or configuration of the machine leak into the tests."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name in ("CDSAPI_URL", "CDSAPI_KEY", "ECMWF_DATASTORES_URL", "ECMWF_DATASTORES_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("CDSAPI_RC", str(home / "no-cdsapirc"))
    monkeypatch.setenv("ECMWF_DATASTORES_RC_FILE", str(home / "no-datastoresrc"))
    monkeypatch.setenv("EOSTORES_CACHE_DIR", str(home / "cache"))


@pytest.fixture(scope="session")
def cube():
    """A small cube with values that are known functions of the coordinates."""
    from eostores.demo import sample_cube

    return sample_cube(days=6, resolution=10.0).load()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    """Where screenshots and timings are saved (kept after the run)."""
    folder = os.environ.get("EOSTORES_UI_ARTEFACTS")
    path = Path(folder) if folder else Path(tempfile.gettempdir()) / "eostores-ui-artefacts"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def record_timing(artefacts) -> Callable[[str, float], None]:
    """Record a measured duration (seconds) in ``timings.json`` among the artefacts."""
    target = artefacts / "timings.json"
    target.unlink(missing_ok=True)

    def record(name: str, seconds: float) -> None:
        timings = json.loads(target.read_text()) if target.exists() else {}
        timings[name] = round(seconds, 3)
        target.write_text(json.dumps(timings, indent=2))
        print(f"\n[eostores ui] {name}: {seconds:.2f} s")

    return record


@pytest.fixture
def ui_server(tmp_path) -> Iterator[Callable[..., Any]]:
    """Start the application on a free port (``ui_server(**UiServer kwargs)``)."""
    from eostores_ui.server import UiServer

    started = []

    def start(**kwargs: Any) -> UiServer:
        kwargs.setdefault("output_dir", str(tmp_path / "downloads"))
        Path(kwargs["output_dir"]).mkdir(parents=True, exist_ok=True)
        server = UiServer(kwargs.pop("host", "127.0.0.1"), 0, **kwargs).start()
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory) -> Iterator[Any]:
    """A headless Chromium with a fresh profile, shared by the browser tests."""
    required = os.environ.get("EOSTORES_UI_REQUIRE_BROWSER") == "1"
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if required:
            raise
        pytest.skip("Playwright is not installed (pip install playwright)")
    if not Path(CHROMIUM).exists():
        if required:
            pytest.fail(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
        pytest.skip(f"no Chromium at {CHROMIUM}")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
            accept_downloads=True,
        )
        context.set_default_timeout(TIMEOUT_MS)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser_context, request, artefacts) -> Iterator[Any]:
    """A new tab; it fails the test on a script error, and is screenshotted at the end."""
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    name = request.node.name.replace("/", "_").replace("[", "-").replace("]", "")
    try:
        tab.screenshot(path=str(artefacts / f"{name}-end.png"), full_page=True)
    finally:
        tab.close()
    assert not errors, f"script errors in the page: {errors}"
