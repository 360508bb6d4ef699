"""In a real browser: the file store with a sample cube, from picking the store to Download."""

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
    field_error,
    fill_bbox,
    fill_time_range,
    open_data,
    pick_data,
    quicklook_size,
    run_snippet,
)

from eostores.demo import sample_cube
from eostores.registry import new_data_store

DATA_ID = "sample/cube.zarr"


@pytest.fixture(scope="module")
def cube_root(tmp_path_factory):
    """A file store holding the demo's daily global cube (values known functions)."""
    root = tmp_path_factory.mktemp("file-store")
    new_data_store("file", root=str(root)).write_data(sample_cube(), DATA_ID)
    new_data_store("file", root=str(root)).write_data(sample_cube(days=2), "other/cube.zarr")
    return root


def connect_file_store(page, server, root) -> None:
    choose_store(page, server.url, "file")
    page.get_by_label("Root directory or URL of the store").fill(str(root))
    page.get_by_label("Directory depth searched for data; null for unlimited").fill("2")
    connect(page)


def test_full_flow(page, ui_server, cube_root, tmp_path, artefacts, record_timing):
    server = ui_server()
    started = time.monotonic()
    connect_file_store(page, server, cube_root)
    expect(page.locator("#data-count")).to_have_text("2 of 2 data ids")
    pick_data(page, DATA_ID, search="sample")
    summary = page.locator("#describe-summary")
    expect(summary).to_contain_text("2024-01-01, 2024-01-10")
    expect(summary).to_contain_text("sea surface temperature")

    # the common parameters come first, in the conventions' order
    paths = page.locator("#open-fields > [data-path]").evaluate_all(
        "nodes => nodes.map(n => n.dataset.path)"
    )
    assert paths[:3] == ["variable_names", "bbox", "time_range"]
    choose_variables(page, ["sst"])
    fill_bbox(page, [0, 40, 10, 50])
    fill_time_range(page, "2024-01-03", "2024-01-05")
    page.screenshot(path=str(artefacts / "file-open-form.png"), full_page=True)
    open_data(page)
    assert quicklook_size(page)[0] > 0
    record_timing(
        "file store: store -> params -> data id -> Open -> quicklook", time.monotonic() - started
    )
    page.screenshot(path=str(artefacts / "file-result.png"), full_page=True)

    result = page.locator("#result-summary")
    expect(result).to_contain_text("time: 3, lat: 10, lon: 10")
    expect(result).to_contain_text("degC")
    expect(page.locator("#quicklook-caption")).to_contain_text("sst at time = 2024-01-03")
    assert "chl" not in result.inner_text()

    snippet = page.locator("#snippet").inner_text()
    assert "new_data_store(" in snippet and "'file'" in snippet and "max_depth=2" in snippet
    assert "variable_names=['sst']" in snippet
    reproduced = run_snippet(snippet, tmp_path)
    opened = server.app.opened["data"].load()
    xr.testing.assert_identical(reproduced, opened)
    first = reproduced.sst.isel(time=0, lat=0, lon=0)
    expected = 20 + float(first.lat) / 10 + float(first.lon) / 100 + 2  # day index 2
    assert float(first) == pytest.approx(expected, abs=1e-4)

    # Download as NetCDF, then as Zarr, each with its progress bar
    expect(page.get_by_label("Format")).to_have_value("netcdf")
    expect(page.get_by_label("File name")).to_have_value("cube.nc")
    page.get_by_role("button", name="Download").click()
    expect(page.locator("#download-result")).to_contain_text("Wrote", timeout=TIMEOUT_MS)
    expect(page.locator("#job-label")).to_have_text("Download: finished")
    assert page.locator("#job-progress").evaluate("p => p.value") == 1
    written = server.app.output_dir / "cube.nc"
    with xr.open_dataset(written) as downloaded:
        xr.testing.assert_allclose(downloaded.load(), opened)
    page.get_by_label("Format").select_option("zarr")
    expect(page.get_by_label("File name")).to_have_value("cube.zarr")
    page.get_by_role("button", name="Download").click()
    expect(page.locator("#download-result")).to_contain_text("cube.zarr", timeout=TIMEOUT_MS)
    with xr.open_zarr(server.app.output_dir / "cube.zarr") as downloaded:
        xr.testing.assert_allclose(downloaded.load(), opened)
    # the same name again is refused next to the file name field until Replace is ticked
    page.get_by_role("button", name="Download").click()
    expect(page.locator("#err-download-name")).to_contain_text("exists")
    page.get_by_label("Replace an existing file").check()
    page.get_by_role("button", name="Download").click()
    expect(page.locator("#err-download-name")).to_be_empty()
    expect(page.locator("#download-result")).to_contain_text("cube.zarr", timeout=TIMEOUT_MS)


def test_every_control_has_a_label(page, ui_server, cube_root):
    server = ui_server()
    connect_file_store(page, server, cube_root)
    pick_data(page, DATA_ID)
    unlabelled = page.locator("input, select, textarea").evaluate_all(
        """nodes => nodes
            .filter(n => !n.closest('[hidden]') && !n.closest('#result-html'))
            .filter(n => !(n.labels && n.labels.length && n.labels[0].textContent.trim()))
            .map(n => n.id || n.name)"""
    )
    assert unlabelled == []
    legend = page.locator("fieldset[data-path='time_range'] > legend")
    expect(legend).to_have_text("Time range")
    tooltip = legend.get_attribute("title")
    assert tooltip and "end date" in tooltip.lower()


def test_the_map_draws_the_box(page, ui_server, cube_root):
    server = ui_server()
    connect_file_store(page, server, cube_root)
    pick_data(page, DATA_ID)
    drawing = page.get_by_role("img", name=re.compile("Map of the bounding box"))
    drawing.scroll_into_view_if_needed()
    box = drawing.bounding_box()
    # from 10 E, 60 N to 40 E, 30 N on the global graticule
    start = (box["x"] + box["width"] * (190 / 360), box["y"] + box["height"] * (30 / 180))
    end = (box["x"] + box["width"] * (220 / 360), box["y"] + box["height"] * (60 / 180))
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=6)
    page.mouse.up()
    drawn = [
        float(page.get_by_label(n, exact=True).input_value())
        for n in ("xmin", "ymin", "xmax", "ymax")
    ]
    assert drawn == pytest.approx([10, 30, 40, 60], abs=1.5)
    expect(page.locator("rect.selection")).to_have_attribute("visibility", "visible")
    page.get_by_role("button", name="Use the data's extent").click()
    expect(page.get_by_label("xmin", exact=True)).to_have_value("-180")
    expect(page.get_by_label("ymax", exact=True)).to_have_value("90")
    page.get_by_role("button", name="Clear the box").click()
    expect(page.get_by_label("xmin", exact=True)).to_have_value("")


def test_the_date_pickers_enforce_the_time_limits(page, ui_server, cube_root):
    server = ui_server()
    connect_file_store(page, server, cube_root)
    pick_data(page, DATA_ID)
    start = page.get_by_label("Start", exact=True)
    expect(start).to_have_attribute("type", "date")
    expect(start).to_have_attribute("min", "2024-01-01")
    expect(start).to_have_attribute("max", "2024-01-10")
    start.fill("2023-12-31")
    page.get_by_role("button", name="Open", exact=True).click()
    message = field_error(page, "op", "time_range[0]")
    expect(message).to_have_text("must be on or after 2024-01-01")
    expect(start).to_have_attribute("aria-invalid", "true")
    page.get_by_label("End", exact=True).fill("2024-02-01")
    page.get_by_role("button", name="Open", exact=True).click()
    expect(field_error(page, "op", "time_range[1]")).to_have_text("must be on or before 2024-01-10")
    assert server.app.guard.job is None  # nothing was sent to the store


def test_bad_values_are_shown_next_to_their_fields(page, ui_server, cube_root):
    server = ui_server()
    connect_file_store(page, server, cube_root)
    pick_data(page, DATA_ID)
    # a value the store's schema refuses, inside a JSON field
    page.get_by_label("Dask chunk sizes per dimension").fill('{"time": "many"}')
    page.get_by_role("button", name="Open", exact=True).click()
    error = field_error(page, "op", "chunks")
    expect(error).to_contain_text("chunks.time")
    expect(page.locator("#banner")).to_be_hidden()
    page.get_by_label("Dask chunk sizes per dimension").fill("")
    # boxes the wrong way round
    fill_bbox(page, [10, 40, 0, 50])
    page.get_by_role("button", name="Open", exact=True).click()
    expect(field_error(page, "op", "bbox")).to_contain_text("xmin must be less than xmax")
    expect(error).to_be_empty()
    assert server.app.guard.job is None
    # a bad store parameter is shown on the store form
    page.get_by_label("Directory depth searched for data; null for unlimited").fill("0")
    page.get_by_role("button", name="Connect").click()
    expect(field_error(page, "sp", "max_depth")).to_have_text("must be at least 1")


def test_a_url_token_is_required_off_loopback(page, ui_server):
    server = ui_server(host="0.0.0.0")
    page.goto(f"http://127.0.0.1:{server.port}/")
    expect(page.locator("body")).to_contain_text("a token is required")
    page.goto(server.url)
    expect(page.get_by_label("Store", exact=True)).to_contain_text("file")


def test_readme_screenshot(page, ui_server, cube_root, artefacts):
    """The picture of the README: a global quicklook next to its summary and snippet."""
    server = ui_server()
    connect_file_store(page, server, cube_root)
    pick_data(page, DATA_ID)
    choose_variables(page, ["sst"])
    fill_bbox(page, [-150, -60, 150, 70])
    fill_time_range(page, "2024-01-05", "2024-01-06")
    open_data(page)
    assert quicklook_size(page) == (150, 65)
    page.locator("#job").evaluate("node => node.hidden = true")
    where = (
        "n => [n.getBoundingClientRect().top + scrollY, n.getBoundingClientRect().bottom + scrollY]"
    )
    top = page.locator("#open-fields fieldset[data-path='bbox']").evaluate(where)[0]
    bottom = page.locator(".snippet").evaluate(where)[1]
    shot = artefacts / "readme-ui.png"
    page.screenshot(
        path=str(shot),
        full_page=True,
        clip={"x": 0, "y": top - 8, "width": 1280, "height": bottom - top + 16},
    )
    assert shot.stat().st_size > 10_000
