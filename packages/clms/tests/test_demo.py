"""The package's demo runs offline and reports what it did."""

from __future__ import annotations

from importlib.metadata import entry_points


def test_demo_is_registered_and_runs(tmp_path):
    (entry,) = [e for e in entry_points(group="eostores.demos") if e.name == "clms"]
    lines: list[str] = []
    entry.load()(lines.append, tmp_path)
    text = "\n".join(lines)
    assert "6 data ids listed without credentials" in text
    assert "16 tiles merged" in text
    assert "largest deviation 0.00e+00" in text
    assert "preloaded again from the cache: 0 requests" in text
