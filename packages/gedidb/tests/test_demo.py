"""The package's demo runs offline against its own emulator and reports what it did."""

from __future__ import annotations

import re
from importlib.metadata import entry_points


def test_demo_is_registered_and_runs():
    (entry,) = [e for e in entry_points(group="eostores.demos") if e.name == "gedidb"]
    lines: list[str] = []
    entry.load()(lines.append)
    text = "\n".join(lines)
    assert "['L2A', 'L2B', 'L4A', 'L4C', 'all']" in text
    assert "variables ['agbd', 'rh']" in text
    check = re.search(r"agbd = ([-\d.]+) \(expected ([-\d.]+)\)", text)
    assert check and check.group(1) == check.group(2)
    assert "the 5 shots nearest to (10, 46)" in text
    assert "as a GeoDataFrame" in text


def test_emulator_and_store_are_registered():
    from eostores_gedidb.testing import GediEmulator

    from eostores import list_data_store_ids
    from eostores.registry import get_emulator_class

    assert "gedidb" in list_data_store_ids()
    assert get_emulator_class("gedidb") is GediEmulator
