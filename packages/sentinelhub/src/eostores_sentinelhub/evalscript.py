"""Evalscripts for the chosen bands, units and sample type.

Each chunk request asks for its bands plus the service's ``dataMask`` pseudo-band, so that
pixels without data can be set to the variable's fill value (the service itself returns
0 there, which is a valid value of most bands).
"""

from __future__ import annotations

import json
from collections.abc import Sequence

__all__ = ["DATA_MASK", "evalscript"]

DATA_MASK = "dataMask"
_DATA_MASK_UNIT = "DN"


def evalscript(bands: Sequence[str], units: Sequence[str], sample_type: str) -> str:
    """A VERSION=3 evalscript returning ``bands`` (in ``units``) and then ``dataMask``.

    One output ("default") with ``len(bands) + 1`` bands of ``sample_type``.
    """
    if len(bands) != len(units):
        raise ValueError("one unit per band is needed")
    names = [*bands, DATA_MASK]
    unit_list = [*units, _DATA_MASK_UNIT]
    samples = ", ".join(f"sample.{name}" for name in names)
    return (
        "//VERSION=3\n"
        "function setup() {\n"
        "  return {\n"
        f"    input: [{{bands: {json.dumps(names)}, units: {json.dumps(unit_list)}}}],\n"
        f'    output: {{id: "default", bands: {len(names)}, sampleType: "{sample_type}"}}\n'
        "  };\n"
        "}\n"
        "function evaluatePixel(sample) {\n"
        f"  return [{samples}];\n"
        "}\n"
    )
