"""The package's demo runs offline and reports what it did."""

from __future__ import annotations

from importlib.metadata import entry_points


def test_demo_is_registered_and_runs():
    (entry,) = [e for e in entry_points(group="eostores.demos") if e.name == "zenodo"]
    lines: list[str] = []
    entry.load()(lines.append)
    text = "\n".join(lines)
    assert "resolved to record 7000002" in text
    assert "opened temperature.nc lazily" in text
    assert "collection/series.zarr" in text
