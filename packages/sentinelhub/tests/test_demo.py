"""The package's demo runs offline against its emulator."""

from __future__ import annotations

import re

from eostores_sentinelhub.testing.demo import demo


def test_demo_reads_a_sentinel2_cube_with_one_request_per_chunk():
    lines: list[str] = []
    demo(lines.append)
    text = "\n".join(lines)
    assert "'S2L2A'" in text
    assert "with 8 Process API requests" in text
    check = re.search(r"B04\[0,0,0\] = ([\d.]+) \(expected ([\d.]+)\)", text)
    assert check is not None and check.group(1) == check.group(2)
