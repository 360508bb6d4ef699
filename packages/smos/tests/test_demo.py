"""The package's demo runs offline against its emulator."""

from __future__ import annotations

import re

from eostores_smos.testing.demo import demo


def test_demo_reads_a_soil_moisture_cube_in_ranges(tmp_path):
    lines: list[str] = []
    demo(lines.append, tmp_path)
    text = "\n".join(lines)
    assert "'SMOS-L2C-SM'" in text
    fetched = re.search(r"computed with \d+ range requests: (\d+) of the (\d+) bytes", text)
    assert fetched is not None and int(fetched.group(1)) < int(fetched.group(2)) / 2
    check = re.search(r"Soil_Moisture = ([\d.]+) \(expected ([\d.]+)", text)
    assert check is not None and abs(float(check.group(1)) - float(check.group(2))) < 5e-4
