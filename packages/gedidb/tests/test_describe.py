"""Describing levels from the array's metadata and CMR collection records (cached)."""

from __future__ import annotations

import contextlib
import copy
import re
import time
from pathlib import Path

import pytest
from eostores_gedidb.cmr import collection_record
from eostores_gedidb.testing import VARIABLES

from eostores.errors import ServiceError
from eostores.http import HttpConfig, new_session
from eostores.testing import EmulatorServer, Response, route

L4A_CONCEPT = "C2237824918-ORNL_CLOUD"


@contextlib.contextmanager
def cmr_record(emulator, concept_id, **changes):
    """The emulator's CMR record of ``concept_id`` changed (None: removed) for a while."""
    saved = copy.deepcopy(emulator.collections)
    if changes.get("remove"):
        emulator.collections.pop(concept_id)
    else:
        emulator.collections[concept_id].update(changes)
    try:
        yield
    finally:
        emulator.collections.clear()
        emulator.collections.update(saved)


def test_levels_are_described_from_metadata_and_cmr(store):
    for level in ("L2A", "L2B", "L4A", "L4C"):
        descriptor = store.describe_data(level)
        want = {v.name for v in VARIABLES.values() if v.product_level == level} - {"shot_number"}
        assert set(descriptor.data_vars) == want
        for name, variable in descriptor.data_vars.items():
            assert variable.attrs["units"] == VARIABLES[name].units
            assert variable.attrs["product_level"] == level
            assert variable.dims[0] == "shot_number"
        assert descriptor.crs == "EPSG:4326"
    l2a = store.describe_data("L2A")
    assert l2a.bbox == (-180.0, -51.6, 180.0, 51.6)  # CMR's "S W N E" as xmin, ymin, xmax, ymax
    assert l2a.time_range == ("2019-03-25", "2023-03-16")
    assert l2a.dims == {"percentile": 101}
    assert l2a.data_vars["rh"].dims == ("shot_number", "percentile")
    assert l2a.data_vars["beam_type"].dtype == "object"
    assert l2a.attrs["cmr_concept_ids"] == ["C2142771958-LPCLOUD"]
    assert "Ground elevation" in l2a.attrs["summary"]
    assert store.describe_data("L2B").dims == {"height_m": 30}


def test_all_combines_every_level(store):
    descriptor = store.describe_data("all")
    assert len(descriptor.data_vars) == len(VARIABLES) - 1
    assert descriptor.bbox == (-180.0, -52.0, 180.0, 52.0)
    assert descriptor.time_range == ("2019-03-25", "2023-03-16")
    assert len(descriptor.attrs["cmr_concept_ids"]) == 4
    assert descriptor.attrs["database_time_domain"] == ["2018-01-01", "2030-12-31"]


def test_geodataframe_descriptor_lists_the_columns(store):
    descriptor = store.describe_data("L2A", data_type="geodataframe")
    assert descriptor.data_type == "geodataframe"
    columns = descriptor.feature_schema.properties
    assert {"shot_number", "time", "sensitivity", "rh_p0", "rh_p100"} <= set(columns)
    assert columns["beam_type"].type == "string"
    assert columns["quality_flag"].type == "integer"


def test_metadata_entries_without_attributes_or_identifiers_are_skipped(store):
    names = set(store.describe_data("all").data_vars)
    assert "ghost" not in names
    assert all(re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name) for name in names)
    enum = store.get_open_data_params_schema("all").properties["variable_names"].to_dict()
    assert "escape" not in str(enum) and "bad name" not in str(enum)


def test_descriptions_are_cached_in_the_store_and_on_disk(make_store, emulator, tmp_path):
    cache = str(tmp_path / "shared-cache")
    store = make_store(cache_dir=cache)
    store.describe_data("L4A")
    emulator.reset_log()
    store.describe_data("L4A")
    store.get_open_data_params_schema("L4A")
    assert emulator.request_log == []
    again = make_store(cache_dir=cache)
    again.describe_data("L4A")
    assert emulator.cmr_log == [], "the CMR record comes from the cache folder"
    assert emulator.request_log, "the array's metadata is read by each new store"


def test_malformed_cmr_parts_are_ignored(make_store, emulator):
    with cmr_record(
        emulator,
        L4A_CONCEPT,
        boxes=["garbage", "10 20 nan 30", "-95 0 10 10", 7],
        time_start="yesterday",
        time_end=None,
        summary="\x1b[31mred\x00 text" + "x" * 1000,
    ):
        descriptor = make_store().describe_data("L4A")
    assert descriptor.bbox is None
    assert descriptor.time_range == ("2018-01-01", None)  # the database's first day
    assert "\x1b" not in descriptor.attrs["summary"] and "\x00" not in descriptor.attrs["summary"]
    assert len(descriptor.attrs["summary"]) <= 500


def test_a_box_across_the_antimeridian_spans_all_longitudes(make_store, emulator):
    with cmr_record(emulator, L4A_CONCEPT, boxes=["-10 170 10 -170", "20 0 30 10"]):
        descriptor = make_store().describe_data("L4A")
    assert descriptor.bbox == (-180.0, -10.0, 180.0, 30.0)


def test_a_collection_cmr_does_not_know(make_store, emulator):
    with cmr_record(emulator, L4A_CONCEPT, remove=True):
        descriptor = make_store().describe_data("L4A")
    assert descriptor.bbox is None
    assert descriptor.attrs["cmr_concept_ids"] == []
    assert set(descriptor.data_vars) == {"agbd", "agbd_se", "l4_quality_flag"}


# -- faults on the CMR side -----------------------------------------------------------------


def test_cmr_503s_with_retry_after_are_retried(make_store, emulator):
    emulator.reset_log()
    emulator.faults = {"fail_first": 2, "error_statuses": [503], "retry_after": 0}
    descriptor = make_store().describe_data("L4A")
    assert descriptor.time_range == ("2019-04-18", "2023-03-16")
    statuses = [r.status for r in emulator.cmr_log]
    assert statuses[:3] == [503, 503, 200]


def test_cmr_429_is_retried(make_store, emulator):
    emulator.reset_log()
    emulator.faults = {"fail_first": 1, "error_statuses": [429], "retry_after": 1}
    assert make_store().describe_data("L4C").time_range == ("2019-04-18", "2023-03-16")
    assert [r.status for r in emulator.cmr_log][:2] == [429, 200]


def test_truncated_and_dropped_cmr_answers_are_retried(make_store, emulator):
    emulator.reset_log()
    emulator.faults = {"truncate_rate": 0.5, "drop_rate": 0.3, "seed": 11}
    store = make_store(num_retries=8)
    descriptor = store.describe_data("all")
    assert descriptor.time_range == ("2019-03-25", "2023-03-16")
    assert any(r.fault in ("truncate", "drop") for r in emulator.cmr_log)


@pytest.mark.parametrize(
    "faults",
    [
        {"error_rate": 1.0, "error_statuses": [500], "retry_after": 0},
        {"truncate_rate": 1.0},
        {"drop_rate": 1.0},
    ],
    ids=["always-500", "always-truncated", "always-dropped"],
)
def test_a_failing_cmr_is_a_clear_bounded_error_and_no_file(make_store, emulator, tmp_path, faults):
    cache = tmp_path / "failing-cache"
    store = make_store(cache_dir=str(cache), num_retries=2)
    store.get_open_data_params_schema("L4A")  # the array's metadata is fine
    emulator.reset_log()
    emulator.faults = faults
    started = time.monotonic()
    with pytest.raises(ServiceError) as caught:
        store.describe_data("L4A")
    assert time.monotonic() - started < 30
    assert caught.value.store_id == "gedidb" and caught.value.data_id == "L4A"
    assert "collections.json" in str(caught.value) or "cmr" in str(caught.value).lower()
    assert list(cache.rglob("*.json")) == [], "no partial record may stay"
    # Retried, and boundedly: num_retries for statuses, the download's attempts for bodies.
    assert 3 <= len(emulator.cmr_log) <= 6


# -- the record cache itself, against a CMR that answers badly ------------------------------


class BrokenCmr(EmulatorServer):
    """A CMR stand-in whose answers are no collection feeds."""

    name = "broken-cmr"

    @route("GET", r"/search/collections\.json")
    def collections(self, request):
        concept = request.query.get("concept_id", "")
        if concept == "C1-HTML":
            return Response.text("<html>maintenance</html>", content_type="text/html")
        if concept == "C2-LIST":
            return Response.json({"feed": {"entry": {"not": "a list"}}})
        return Response.json({"feed": {"entry": [{"id": concept, "time_start": "2020-01-01"}]}})


@pytest.fixture(scope="module")
def broken_cmr():
    with BrokenCmr() as server:
        yield server


@pytest.mark.parametrize("concept_id", ["C1-HTML", "C2-LIST"])
def test_answers_that_are_no_feed_are_service_errors(broken_cmr, tmp_path, concept_id):
    session = new_session(HttpConfig(num_retries=0))
    with pytest.raises(ServiceError, match="no collection feed"):
        collection_record(session, f"{broken_cmr.url}/search", concept_id, tmp_path, 3600)
    assert list(tmp_path.rglob("*.json")) == []


def test_hostile_concept_ids_stay_inside_the_cache(broken_cmr, tmp_path):
    session = new_session(HttpConfig(num_retries=0))
    root = tmp_path / "cache"
    for concept_id in ("../../escape", "/etc/passwd", "a/b?c#d", "C3-OK"):
        entry = collection_record(session, f"{broken_cmr.url}/search", concept_id, root, 3600)
        assert entry["id"] == concept_id
    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert files and all(root in p.parents for p in files)
    assert all(Path(p).parent.parent == root / "cmr" for p in files if p.suffix == ".json")
