"""The store conformance suite of eostores, on the emulator through the real gedidb."""

from __future__ import annotations

import pytest
from conftest import ALL_TIME, BOX

from eostores.testing.conformance import StoreConformance


class TestGedidbConformance(StoreConformance):
    data_id = "L4A"
    open_params = {"bbox": BOX, "time_range": ALL_TIME}
    #: The variables are the array's: its metadata is read (once) before they are checked.
    variables_known_without_requests = False

    @pytest.fixture
    def emulator(self, gedi_emulator):
        yield gedi_emulator
        gedi_emulator.set_faults(None)

    @pytest.fixture
    def store(self, make_store):
        return make_store()
