"""The eostores store conformance suite, against the emulator."""

from __future__ import annotations

import pytest
from eostores_sentinelhub.testing import DEFAULT_CLIENT_SECRET

from eostores.testing.conformance import StoreConformance


class TestSentinelHubConformance(StoreConformance):
    data_id = "S2L2A"
    open_params = {
        "variable_names": ["B04", "B08"],
        "bbox": [10.0, 50.0, 10.02, 50.02],
        "spatial_res": 0.001,
        "time_range": ["2021-06-01", "2021-06-02"],
        "tile_size": [10, 10],
    }
    required_open_params = ("variable_names", "bbox", "spatial_res", "time_range", "time_period")

    @pytest.fixture
    def emulator(self, clean_emulator):
        return clean_emulator

    @pytest.fixture
    def store(self, clean_emulator, make_store):
        # The suite injects 503s into one request in five, from a seeded schedule: a fixed
        # sequence of about a dozen faults before the 17 requests of its open (a token,
        # 16 chunks) succeed, dealt to whichever thread asks next. Forty retries exceed
        # that sequence, so no request can run out of them, whatever the thread order.
        return make_store(
            clean_emulator, num_retries=40, retry_backoff_base=0.01, retry_backoff_max=0.1
        )

    @pytest.fixture
    def secrets(self):
        return [DEFAULT_CLIENT_SECRET]

    @pytest.fixture
    def bad_credentials_store(self, clean_emulator, make_store):
        return make_store(clean_emulator, client_secret="not-the-secret-31c9", num_retries=2)
