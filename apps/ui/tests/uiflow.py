"""Steps of the browser tests: what a person does on the page, one function each."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

#: Generous, because the machine running the tests may be loaded.
TIMEOUT_MS = 60_000


def choose_store(page: Page, url: str, store_id: str) -> None:
    """Open the page and pick a store; its parameter form appears."""
    page.goto(url)
    page.get_by_label("Store", exact=True).select_option(store_id)
    expect(page.locator("#store-form")).to_be_visible()


def connect(page: Page) -> None:
    """Connect with the store parameters filled in; the data id list appears."""
    page.get_by_role("button", name="Connect").click()
    expect(page.locator("#step-data")).to_be_visible()
    expect(page.locator("#data-count")).to_contain_text("data ids")


def pick_data(page: Page, data_id: str, search: str | None = None) -> None:
    """Search the data ids and pick one; its description and open form appear."""
    if search is not None:
        count = page.locator("#data-count").inner_text()
        page.get_by_label("Search data ids").fill(search)
        expect(page.locator("#data-count")).not_to_have_text(count)
        expect(page.locator(f'#data-id option[value="{data_id}"]')).to_have_count(1)
    page.get_by_label("Data id", exact=True).select_option(data_id)
    expect(page.locator("#describe-summary")).to_contain_text(data_id)
    expect(page.get_by_role("button", name="Open", exact=True)).to_be_visible()


def fill_bbox(page: Page, values: list[float]) -> None:
    for label, value in zip(("xmin", "ymin", "xmax", "ymax"), values, strict=True):
        page.get_by_label(label, exact=True).fill(str(value))


def fill_time_range(page: Page, start: str, end: str) -> None:
    page.get_by_label("Start", exact=True).fill(start)
    page.get_by_label("End", exact=True).fill(end)


def choose_variables(page: Page, wanted: list[str]) -> None:
    """Tick exactly the variables whose labels start with the given texts."""
    boxes = page.locator("fieldset.kind-checkboxes[data-path='variable_names'] .choice")
    for i in range(boxes.count()):
        choice = boxes.nth(i)
        label = choice.locator("label").inner_text()
        checkbox = choice.locator("input")
        if any(label.startswith(w) for w in wanted):
            checkbox.check()
        else:
            checkbox.uncheck()


def open_data(page: Page) -> None:
    """Press Open and wait for the result (summary, quicklook, snippet)."""
    page.get_by_role("button", name="Open", exact=True).click()
    expect(page.locator("#job")).to_have_attribute("data-state", "done", timeout=TIMEOUT_MS)
    expect(page.locator("#step-result")).to_be_visible()


def quicklook_size(page: Page) -> tuple[int, int]:
    """The decoded size of the quicklook image (0, 0 if it did not load)."""
    image = page.locator("#quicklook")
    expect(image).to_be_visible()
    return tuple(image.evaluate("img => [img.naturalWidth, img.naturalHeight]"))  # type: ignore[return-value]


def field_error(page: Page, prefix: str, path: str) -> Any:
    """The error element of a field (``prefix`` op: open form, sp: store form)."""
    safe = "".join(c if c.isalnum() or c in "_-" else "-" for c in path)
    return page.locator(f"#err-{prefix}-{safe}")


def run_snippet(snippet: str, tmp_path: Path, env: dict[str, str] | None = None) -> Any:
    """Run the page's snippet in a new Python process; the dataset it opened (loaded)."""
    out = tmp_path / "snippet-result.pickle"
    code = snippet + f"\nimport pickle\npickle.dump(ds.load(), open({str(out)!r}, 'wb'))\n"
    script = tmp_path / "snippet.py"
    script.write_text(code)
    done = subprocess.run(
        [sys.executable, str(script)],
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    with out.open("rb") as stream:
        return pickle.load(stream)
