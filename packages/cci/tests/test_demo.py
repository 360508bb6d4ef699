"""The demo runs against the emulators and reports the values it checked."""

from __future__ import annotations


def test_demo_opens_one_dataset_from_each_store():
    from eostores_cci.testing.demo import demo

    lines: list[str] = []
    demo(lines.append)
    text = "\n".join(lines)
    assert "cciodp:" in text and "esa-cci-kc:" in text
    assert "largest difference from the emulated values: 0" in text
    assert "ccizarr:" in text
