"""Helpers shared by the benchmark scripts: test data, alternating timing, and goals: each
figure is printed with its goal, and the last line says which goals are met."""

from __future__ import annotations

import os
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

MB = 1 << 20


def write_random_zip(path: Path, size: int, members: int = 20, folder: str = "data") -> None:
    """A deflated zip of random (incompressible) data in ``members`` files below ``folder``."""
    per_member = size // members
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for index in range(members):
            with zf.open(f"{folder}/part-{index:03d}.bin", "w", force_zip64=True) as member:
                for offset in range(0, per_member, 16 * MB):
                    member.write(os.urandom(min(16 * MB, per_member - offset)))


def best_times(
    candidates: dict[str, Callable[[], None]], rounds: int, cleanup: Callable[[], None]
) -> dict[str, float]:
    """Run the candidates alternately; the best wall time of each."""
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, run in candidates.items():
            cleanup()
            started = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - started)
    cleanup()
    return best


# --------------------------------------------------------------------------- goals

_GOALS: list[tuple[str, bool]] = []


def goal(
    name: str,
    value: float,
    *,
    at_most: float | None = None,
    below: float | None = None,
    at_least: float | None = None,
    equal: float | None = None,
    unit: str = "x",
) -> str:
    """Record whether ``value`` meets its goal (exactly one bound); the text to print beside
    the figure, e.g. ``(goal <= 1.3x: met)``."""
    bounds = {
        "<=": (at_most, lambda v, b: v <= b),
        "<": (below, lambda v, b: v < b),
        ">=": (at_least, lambda v, b: v >= b),
        "==": (equal, lambda v, b: abs(v - b) <= 1e-9 * max(1.0, abs(b))),
    }
    given = [(symbol, bound, test) for symbol, (bound, test) in bounds.items() if bound is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of at_most, below, at_least, equal")
    symbol, bound, test = given[0]
    met = bool(test(value, bound))
    _GOALS.append((name, met))
    return f"(goal {symbol} {bound:g}{unit}: {'met' if met else 'MISSED'})"


def goals_summary() -> str:
    """One line: how many goals were met, and which were missed."""
    missed = [name for name, met in _GOALS if not met]
    line = f"goals met: {len(_GOALS) - len(missed)} of {len(_GOALS)}"
    return line + (f"; missed: {', '.join(missed)}" if missed else "")


def run_with_goals(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main``; its last line says which goals are met, also when it fails."""
    try:
        main()
    except BaseException:
        print(goals_summary() + " (the benchmark stopped early)", flush=True)
        raise
    print(goals_summary(), flush=True)
