"""Shared fixtures of the core tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cube():
    """A small cube with values that are known functions of the coordinates."""
    from eostores.demo import sample_cube

    return sample_cube(days=6, resolution=10.0).load()
