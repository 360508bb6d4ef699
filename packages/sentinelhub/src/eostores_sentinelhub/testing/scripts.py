"""What the emulator understands of a request: VERSION=3 evalscripts and CQL2-text filters.

Evalscripts are parsed for their input bands and units, the output band count and sample
type; ``evaluatePixel`` must return ``[sample.X, ...]``. Filters are ``prop op value``
comparisons joined by AND.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .samples import SAMPLE_TYPES

__all__ = ["BadRequest", "EvalScript", "matches_filter", "parse_evalscript", "parse_filter"]

# --------------------------------------------------------------------------- evalscript


@dataclass(frozen=True)
class EvalScript:
    input_bands: list[str]
    units: list[str] | None
    output_bands: int
    sample_type: str
    returned: list[str]


class BadRequest(Exception):
    def __init__(self, message: str, code: str = "COMMON_BAD_PAYLOAD"):
        super().__init__(message)
        self.code = code


def parse_evalscript(script: Any) -> EvalScript:
    if not isinstance(script, str) or not script.strip():
        raise BadRequest("The evalscript is missing.")
    if not script.lstrip().startswith("//VERSION=3"):
        raise BadRequest("Only evalscripts of VERSION=3 are supported.")
    input_match = re.search(r"input\s*:\s*\[\s*\{(.*?)\}\s*\]", script, re.DOTALL)
    if input_match is None:
        raise BadRequest("Invalid script! setup() must declare input: [{bands: [...]}].")
    inputs = input_match.group(1)
    bands_match = re.search(r"bands\s*:\s*\[([^\]]*)\]", inputs)
    if bands_match is None:
        raise BadRequest("Invalid script! The input declares no bands.")
    input_bands = re.findall(r"[\"']([^\"']+)[\"']", bands_match.group(1))
    units_match = re.search(r"units\s*:\s*(\[[^\]]*\]|[\"'][^\"']*[\"'])", inputs)
    units = None
    if units_match is not None:
        units = re.findall(r"[\"']([^\"']+)[\"']", units_match.group(1))
        if units_match.group(1).startswith("["):
            if len(units) != len(input_bands):
                raise BadRequest("Invalid script! units must name one unit per input band.")
        else:
            units = units * len(input_bands)
    output_match = re.search(r"output\s*:\s*\{([^}]*)\}", script)
    if output_match is None:
        raise BadRequest("Invalid script! setup() must declare an output.")
    count_match = re.search(r"bands\s*:\s*(\d+)", output_match.group(1))
    if count_match is None:
        raise BadRequest("Invalid script! The output declares no number of bands.")
    type_match = re.search(r"sampleType\s*:\s*[\"'](\w+)[\"']", output_match.group(1))
    sample_type = type_match.group(1) if type_match else "AUTO"
    if sample_type not in SAMPLE_TYPES:
        raise BadRequest(
            f"Invalid script! Unknown sampleType {sample_type!r}; use one of "
            + ", ".join(SAMPLE_TYPES)
        )
    return_match = re.search(
        r"function\s+evaluatePixel\s*\(\s*(\w+)\s*\)\s*\{.*?return\s*\[([^\]]*)\]",
        script,
        re.DOTALL,
    )
    if return_match is None:
        raise BadRequest("Invalid script! evaluatePixel must return an array of samples.")
    variable = return_match.group(1)
    items = [item.strip() for item in return_match.group(2).split(",") if item.strip()]
    returned = []
    for item in items:
        match = re.fullmatch(rf"{variable}\.(\w+)", item)
        if match is None:
            raise BadRequest(f"Invalid script! The emulator cannot evaluate {item!r}.")
        if match.group(1) not in input_bands:
            raise BadRequest(
                f"Invalid script! {match.group(1)!r} is used but not declared as an input band."
            )
        returned.append(match.group(1))
    output_bands = int(count_match.group(1))
    if output_bands != len(returned):
        raise BadRequest(
            f"Invalid script! The output declares {output_bands} bands but evaluatePixel "
            f"returns {len(returned)}."
        )
    return EvalScript(input_bands, units, output_bands, sample_type, returned)


# --------------------------------------------------------------------------- filters


_COMPARISON = re.compile(r"^\s*([\w:.\-]+)\s*(<>|<=|>=|=|<|>)\s*('(?:[^']*)'|-?\d+(?:\.\d+)?)\s*$")


def parse_filter(text: str) -> list[tuple[str, str, Any]]:
    clauses = []
    for part in re.split(r"\s+AND\s+", text.strip(), flags=re.IGNORECASE):
        match = _COMPARISON.match(part)
        if match is None:
            raise BadRequest(f"Cannot parse CQL2 filter expression {part!r}.")
        name, op, raw = match.groups()
        value: Any = raw[1:-1] if raw.startswith("'") else float(raw)
        clauses.append((name, op, value))
    return clauses


def matches_filter(properties: Mapping[str, Any], clauses: list[tuple[str, str, Any]]) -> bool:
    for name, op, value in clauses:
        actual = properties.get(name)
        if actual is None:
            return False
        outcome = {
            "=": actual == value,
            "<>": actual != value,
            "<": actual < value,
            "<=": actual <= value,
            ">": actual > value,
            ">=": actual >= value,
        }[op]
        if not outcome:
            return False
    return True
