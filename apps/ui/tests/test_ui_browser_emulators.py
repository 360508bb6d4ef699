"""In a real browser against service emulators: the CDS (a job queue behind a secret key)
and STAC (a catalogue of many items, and lazily read cubes) stores.

The emulators are started through the registry (entry points ``eostores.emulators``), as
any installed store package offers them; the tests are skipped when a package is absent.
"""

from __future__ import annotations

import os
import re
import time

import pytest
import xarray as xr

if os.environ.get("EOSTORES_UI_REQUIRE_BROWSER") != "1":
    pytest.importorskip("playwright.sync_api")

from playwright.sync_api import expect
from uiflow import (
    TIMEOUT_MS,
    choose_store,
    choose_variables,
    connect,
    fill_bbox,
    fill_time_range,
    open_data,
    pick_data,
    quicklook_size,
    run_snippet,
)

from eostores.registry import list_data_store_ids


def needs(store_id: str):
    return pytest.mark.skipif(
        store_id not in list_data_store_ids(), reason=f"store {store_id!r} is not installed"
    )


CDS_DATA_ID = "derived-era5-single-levels-daily-statistics"


@needs("cds")
def test_cds_flow_with_a_secret_key(
    page, ui_server, eostores_emulator, tmp_path, artefacts, record_timing
):
    emulator = eostores_emulator("cds", job_run_s=0.05)
    params = emulator.store_params()
    key = params["cds_api_key"]
    server = ui_server()
    started = time.monotonic()
    choose_store(page, server.url, "cds")
    key_field = page.get_by_label("CDS API key")
    expect(key_field).to_have_attribute("type", "password")
    expect(key_field).to_have_value("")
    key_field.fill(key)
    page.get_by_label("API endpoint URL").fill(params["endpoint_url"])
    page.get_by_label("Cache directory").fill(str(tmp_path / "cds-cache"))
    page.get_by_label("First job poll interval (s)").fill("0.02")
    page.get_by_label("Poll interval cap (s)").fill("0.1")
    connect(page)
    pick_data(page, CDS_DATA_ID, search="daily statistics")
    expect(page.locator("#describe-summary")).to_contain_text("1940-01-01")
    start = page.get_by_label("Start", exact=True)
    expect(start).to_have_attribute("min", "1940-01-01")
    expect(start).to_have_attribute("max", "2025-06-23")
    expect(page.get_by_label("Coordinate reference system")).to_have_value("EPSG:4326")
    expect(page.get_by_label("Coordinate reference system")).to_have_attribute("readonly", "")
    choose_variables(page, ["2m temperature"])
    fill_bbox(page, [0, 40, 10, 50])
    fill_time_range(page, "2024-01-03", "2024-01-05")
    page.get_by_label("Daily statistic").select_option(label="daily_maximum")
    expect(page.get_by_role("button", name="Preload")).to_be_visible()
    open_data(page)
    assert quicklook_size(page) == (41, 41)
    record_timing(
        "cds emulator: store -> params -> data id -> Open -> quicklook", time.monotonic() - started
    )
    page.screenshot(path=str(artefacts / "cds-result.png"), full_page=True)

    expect(page.locator("#result-summary")).to_contain_text("time: 3, lat: 41, lon: 41")
    expect(page.locator("#quicklook-caption")).to_contain_text("t2m at time = 2024-01-03")
    snippet = page.locator("#snippet").inner_text()
    assert key not in snippet
    assert "os.environ['CDS_API_KEY']" in snippet
    assert "daily_statistic='daily_maximum'" in snippet
    assert key not in page.content()
    reproduced = run_snippet(snippet, tmp_path, env={"CDS_API_KEY": key})
    opened = server.app.opened["data"]
    xr.testing.assert_equal(reproduced, opened.load())
    assert reproduced.t2m.attrs == opened.t2m.attrs

    # Preload prepares another month through the job queue, with progress
    fill_time_range(page, "2024-02-01", "2024-02-02")
    page.get_by_role("button", name="Preload").click()
    expect(page.locator("#preload-result")).to_contain_text("preloaded", timeout=TIMEOUT_MS)
    expect(page.locator("#job-label")).to_have_text("Preload: finished")


STAC_ITEM = "collections/sentinel-2-l2a/items/S2X_20240606T103020_T33U00"


@needs("stac")
def test_stac_flow_in_a_projected_crs(
    page, ui_server, eostores_emulator, tmp_path, artefacts, record_timing
):
    emulator = eostores_emulator("stac")
    server = ui_server()
    started = time.monotonic()
    choose_store(page, server.url, "stac")
    page.get_by_label(
        "URL of the STAC API landing page or of a static catalog's catalog.json"
    ).fill(emulator.store_params()["url"])
    connect(page)
    expect(page.locator("#data-count")).to_contain_text("the first 200 are listed")
    pick_data(page, STAC_ITEM, search="20240606 T33U00")
    expect(page.locator("#data-count")).to_have_text(re.compile(r"^1 of \d{4} data ids$"))
    # the map shows the item's extent in its own CRS
    expect(page.locator(".map-caption")).to_contain_text("EPSG:32633")
    page.get_by_role("button", name="Use the data's extent").click()
    extent = [
        float(page.get_by_label(n, exact=True).input_value())
        for n in ("xmin", "ymin", "xmax", "ymax")
    ]
    assert extent[2] - extent[0] > 1000
    inner = [extent[0] + 1000, extent[1] + 2000, extent[0] + 6000, extent[1] + 8000]
    fill_bbox(page, inner)
    choose_variables(page, ["B04"])
    open_data(page)
    width, height = quicklook_size(page)
    assert (width, height) == (50, 60)
    record_timing(
        "stac emulator: store -> params -> data id -> Open -> quicklook", time.monotonic() - started
    )
    page.screenshot(path=str(artefacts / "stac-result.png"), full_page=True)
    expect(page.locator("#result-summary")).to_contain_text("y: 60, x: 50")
    snippet = page.locator("#snippet").inner_text()
    assert "variable_names=['B04']" in snippet
    reproduced = run_snippet(snippet, tmp_path)
    xr.testing.assert_equal(reproduced, server.app.opened["data"].load())


@needs("stac-xcube")
def test_a_running_download_refuses_other_actions_and_can_be_cancelled(
    page, ui_server, eostores_emulator, artefacts
):
    emulator = eostores_emulator("stac", mode="xcube")
    server = ui_server()
    choose_store(page, server.url, "stac-xcube")
    page.get_by_label(
        "URL of the STAC API landing page or of a static catalog's catalog.json"
    ).fill(emulator.store_params()["url"])
    connect(page)
    pick_data(page, "collections/datacubes/items/demo")
    open_data(page)
    # every chunk now takes a quarter of a second to arrive: the download runs a while
    emulator.latency_ms = 250
    page.get_by_label("Format").select_option("zarr")
    page.get_by_role("button", name="Download").click()
    expect(page.locator("#job-label")).to_have_text("Download: running")
    expect(page.locator("#job-message")).to_contain_text("tasks", timeout=TIMEOUT_MS)
    page.get_by_role("button", name="Open", exact=True).click()
    banner = page.get_by_role("alert").filter(has_text="still running")
    expect(banner).to_contain_text("'Download' is still running")
    expect(banner).to_contain_text("before starting 'Open'")
    page.screenshot(path=str(artefacts / "busy-refusal.png"), full_page=False)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("#job-label")).to_have_text("Download: cancelled", timeout=TIMEOUT_MS)
    expect(page.locator("#download-result")).to_have_text(
        "Download cancelled; nothing was written."
    )
    assert list(server.app.output_dir.iterdir()) == []
    emulator.latency_ms = 0
    page.get_by_role("button", name="Download").click()
    expect(page.locator("#download-result")).to_contain_text("Wrote", timeout=TIMEOUT_MS)
    assert [p.name for p in server.app.output_dir.iterdir()] == ["demo.zarr"]
