"""The store conformance suite: the same checks for every store, as a pytest mixin class.

A store package applies it with a few lines::

    from eostores.testing.conformance import StoreConformance

    class TestMyStoreConformance(StoreConformance):
        data_id = "some-dataset"                 # a small dataset the store serves
        open_params = {"time_range": ["2020-01-01", "2020-01-02"]}   # a cheap valid open

        @pytest.fixture
        def store(self, my_emulator):
            return new_data_store("my", **my_emulator.store_params())

Optional fixtures refine the checks: ``emulator`` (an EmulatorServer or EmulatorProcess;
enables request-log and fault-injection checks), ``secrets`` (strings the store was created
with that must never be shown, also not in DEBUG logs), ``bad_credentials_store`` (a store
configured with wrong credentials) and ``store_with_fake_secret`` (``(store, secret)``: a
store created with a made-up secret, whose calls may fail). Class attributes tune the
checks: ``hostile_data_ids``, ``oversized_open_params`` (open parameters whose grid would
exceed the store's size bound; ``None`` for stores without a grid) and ``concurrency``.
The dask.distributed check uses the session-wide ``eostores_dask_cluster`` fixture of the
eostores pytest plugin (two worker processes).
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import threading
import time
from typing import Any, ClassVar
from urllib.parse import unquote

import pytest

from ..errors import AuthenticationError, DataNotFoundError, DataStoreError, InvalidParameterError

UNKNOWN_DATA_ID = "no-such-data-id-8d1f"
#: A name no store serves, inside every hostile data id, to find it in request logs.
HOSTILE_MARKER = "hostile8d1f"
#: Data ids that must never lead a request out of the store's place (parametrize ids first).
HOSTILE_DATA_IDS: dict[str, str] = {
    "dotdot": f"../{HOSTILE_MARKER}",
    "encoded-dotdot": f"%2e%2e/{HOSTILE_MARKER}",
    "absolute": f"/etc/{HOSTILE_MARKER}",
    "home": f"~/{HOSTILE_MARKER}",
    "query": f"{HOSTILE_MARKER}?b=c",
    "fragment": f"{HOSTILE_MARKER}#b",
    "nul": f"{HOSTILE_MARKER}\x00b",
}
NON_STRING_DATA_IDS = (42, 1.5, b"bytes-id", ["list-id"], {"dict": "id"})


def _check_json_schema(schema_dict: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema_dict)


def _request_count(emulator: Any) -> int:
    return len(emulator.request_log)


def escaped_requests(records: list[Any], data_id: str) -> list[str]:
    """The requests of ``records`` in which the hostile ``data_id`` left its place.

    A request may carry the id as one quoted path segment or in the query; any other
    appearance of :data:`HOSTILE_MARKER` (a path normalised past ``..``, a query or fragment
    split off the id, a NUL cut) is an escape.
    """
    escaped = []
    for record in records:
        raw = getattr(record, "raw_path", "") or record.path
        segments = raw.split("/")
        if not any(HOSTILE_MARKER in unquote(segment) for segment in segments):
            continue
        if data_id in (unquote(segment) for segment in segments):
            continue
        escaped.append(f"{record.method} {raw} {record.query or ''}".strip())
    return escaped


class StoreConformance:
    """Checks every store must pass. Subclass it and provide a ``store`` fixture."""

    #: A data id the store serves; opened with ``open_params``.
    data_id: ClassVar[str]
    #: Open parameters that make opening ``data_id`` cheap (small area, short time).
    open_params: ClassVar[dict[str, Any]] = {}
    #: Common parameters the open schema of ``data_id`` must offer.
    required_open_params: ClassVar[tuple[str, ...]] = ("variable_names", "bbox", "time_range")
    #: Whether unknown variable names are refused without any request. Stores that learn
    #: the variables from the data's own metadata (filesystem stores) read that first.
    variables_known_without_requests: ClassVar[bool] = True
    #: Whether the store can list its data ids quickly enough for a test.
    listable: ClassVar[bool] = True
    #: Seconds within which wrong credentials must give AuthenticationError.
    auth_deadline_s: ClassVar[float] = 30.0

    @pytest.fixture
    def emulator(self) -> Any:
        return None

    @pytest.fixture
    def secrets(self) -> list[str]:
        return []

    @pytest.fixture
    def bad_credentials_store(self) -> Any:
        return None

    @pytest.fixture
    def store_with_fake_secret(self) -> tuple[Any, str] | None:
        return None

    #: Data ids that must be refused (or not found) without any request escaping.
    hostile_data_ids: ClassVar[dict[str, str]] = HOSTILE_DATA_IDS
    #: Open parameters (merged into ``open_params``) whose grid is too big to allocate;
    #: ``None`` for stores without a grid of their own.
    oversized_open_params: ClassVar[dict[str, Any] | None] = None
    #: Whether oversized grids are refused without any request (the grid follows from the
    #: parameters alone); stores that learn the grid from the data read metadata first.
    grid_known_without_requests: ClassVar[bool] = True
    #: Threads opening and reading at once in the concurrency check.
    concurrency: ClassVar[int] = 4

    # -- schemas ----------------------------------------------------------------------------

    def test_store_params_schema_is_valid_json_schema(self, store):
        from ..schema import JsonSchema

        schema = type(store).get_data_store_params_schema()
        as_dict = schema.to_dict()
        _check_json_schema(as_dict)
        assert JsonSchema.from_dict(json.loads(json.dumps(as_dict))) == schema

    def test_open_params_schema_offers_common_params(self, store):
        schema = store.get_open_data_params_schema(self.data_id)
        _check_json_schema(schema.to_dict())
        missing = [p for p in self.required_open_params if p not in schema.properties]
        assert not missing, f"open schema of {self.data_id!r} lacks {missing}"

    def test_search_params_schema_is_valid_json_schema(self, store):
        _check_json_schema(store.get_search_params_schema().to_dict())

    # -- listing and describing ---------------------------------------------------------------

    def test_list_has_describe_agree(self, store):
        assert store.has_data(self.data_id)
        assert not store.has_data(UNKNOWN_DATA_ID)
        if self.listable:
            ids = store.list_data_ids()
            assert self.data_id in ids
            with_attrs = store.list_data_ids(include_attrs=True)
            assert all(isinstance(attrs, dict) for _, attrs in with_attrs)
            assert [i for i, _ in with_attrs] == ids
        descriptor = store.describe_data(self.data_id)
        assert descriptor.data_id == self.data_id
        assert descriptor.data_type in store.get_data_types_for_data(self.data_id)

    def test_unknown_data_id_is_data_not_found(self, store):
        with pytest.raises(DataNotFoundError):
            store.describe_data(UNKNOWN_DATA_ID)
        with pytest.raises(DataNotFoundError):
            store.open_data(UNKNOWN_DATA_ID)

    def test_descriptor_round_trips_through_json(self, store):
        from ..descriptor import DataDescriptor

        descriptor = store.describe_data(self.data_id)
        as_dict = json.loads(json.dumps(descriptor.to_dict()))
        again = DataDescriptor.from_dict(as_dict)
        assert type(again) is type(descriptor)
        assert again.to_dict() == as_dict

    # -- opening ------------------------------------------------------------------------------

    def test_open_with_no_variables_keeps_dims(self, store):
        dataset = store.open_data(self.data_id, **{**self.open_params, "variable_names": []})
        assert len(dataset.data_vars) == 0
        assert dataset.sizes, "an empty variable list must keep the requested dimensions"

    def test_open_subset_is_lazy_and_picklable(self, store):
        dataset = store.open_data(self.data_id, **self.open_params)
        assert dataset.data_vars
        name = next(iter(dataset.data_vars))
        assert dataset[name].chunks is not None, "variables must be dask-backed (lazy)"
        again = pickle.loads(pickle.dumps(dataset))
        first = dataset[name].isel({d: 0 for d in dataset[name].dims}).values
        assert again[name].isel({d: 0 for d in again[name].dims}).values.tobytes() == (
            first.tobytes()
        )

    def test_store_pickles(self, store):
        again = pickle.loads(pickle.dumps(store))
        assert type(again) is type(store)
        assert again.has_data(self.data_id)

    # -- bad input: refused before any request -------------------------------------------------

    @pytest.mark.parametrize(
        "params",
        [
            {"bbox": [10, 0, 0, 10]},
            {"bbox": [0, 0, 10]},
            {"variable_names": ["no_such_variable_8d1f"]},
            {"time_range": ["2020-13-45", "2020-01-02"]},
            {"time_range": ["2020-01-05", "2020-01-01"]},
            {"no_such_parameter_8d1f": 1},
        ],
        ids=[
            "bbox-reversed",
            "bbox-short",
            "unknown-variable",
            "bad-date",
            "time-reversed",
            "unknown-parameter",
        ],
    )
    def test_bad_input_refused_before_any_request(self, store, emulator, params):
        before = _request_count(emulator) if emulator is not None else None
        with pytest.raises(InvalidParameterError) as caught:
            store.open_data(self.data_id, **{**self.open_params, **params})
        assert caught.value.parameter or any(k in str(caught.value) for k in params)
        metadata_allowed = "variable_names" in params and not self.variables_known_without_requests
        if emulator is not None and not metadata_allowed:
            assert _request_count(emulator) == before, "bad input must fail before requests"

    # -- secrets ------------------------------------------------------------------------------

    def test_no_secrets_in_repr_or_errors(self, store, secrets):
        texts = [repr(store), str(store)]
        for call in (
            lambda: store.describe_data(UNKNOWN_DATA_ID),
            lambda: store.open_data(self.data_id, no_such_parameter_8d1f=1),
        ):
            try:
                call()
            except DataStoreError as error:
                texts.append(str(error))
                texts.append(repr(error))
        for secret in secrets:
            assert not any(secret in text for text in texts), "a secret was shown"

    # -- faults (stores backed by an emulator) ---------------------------------------------------

    def test_open_survives_injected_503s(self, store, emulator):
        if emulator is None:
            pytest.skip("no emulator: not a remote store")
        from .server import FaultProfile

        faults = FaultProfile(error_rate=0.2, error_statuses=(503,), retry_after=0, seed=7)
        _set_faults(emulator, faults)
        try:
            dataset = store.open_data(self.data_id, **self.open_params)
            dataset.load()
        finally:
            _set_faults(emulator, FaultProfile())

    def test_wrong_credentials_fail_clearly_in_time(self, bad_credentials_store):
        if bad_credentials_store is None:
            pytest.skip("the store needs no credentials")
        start = time.monotonic()
        with pytest.raises(AuthenticationError):
            bad_credentials_store.open_data(self.data_id, **self.open_params).load()
        assert time.monotonic() - start < self.auth_deadline_s

    # -- hostile and malformed data ids ----------------------------------------------------

    @pytest.mark.parametrize("kind", list(HOSTILE_DATA_IDS))
    def test_hostile_data_ids_are_refused_without_escaping(self, store, emulator, kind):
        if kind not in self.hostile_data_ids:
            pytest.skip(f"{kind!r} is a legitimate data id of this store")
        data_id = self.hostile_data_ids[kind]
        before = _request_count(emulator) if emulator is not None else 0
        try:
            found = store.has_data(data_id)
        except InvalidParameterError:
            found = False
        assert found is False, f"has_data({data_id!r}) must be False"
        for call in (
            lambda: store.describe_data(data_id),
            lambda: store.open_data(data_id, **self.open_params),
            lambda: store.get_data_types_for_data(data_id),
        ):
            with pytest.raises((DataNotFoundError, InvalidParameterError)):
                call()
        if emulator is not None:
            records = emulator.request_log[before:]
            escaped = escaped_requests(records, data_id)
            assert not escaped, f"requests escaped for {data_id!r}: {escaped}"

    @pytest.mark.parametrize("data_id", NON_STRING_DATA_IDS, ids=lambda v: type(v).__name__)
    def test_non_string_data_ids_are_invalid(self, store, emulator, data_id):
        before = _request_count(emulator) if emulator is not None else None
        for call in (
            store.has_data,
            store.describe_data,
            store.open_data,
            store.get_data_types_for_data,
            store.get_open_data_params_schema,
        ):
            with pytest.raises(InvalidParameterError) as caught:
                call(data_id)
            assert caught.value.parameter == "data_id" or "data id" in str(caught.value)
        if emulator is not None:
            assert _request_count(emulator) == before, "a non-string id must fail at once"

    # -- size limits ----------------------------------------------------------------------------

    def test_oversized_grid_is_refused_before_allocating(self, store, emulator):
        if self.oversized_open_params is None:
            pytest.skip("the store has no grid of its own")
        import tracemalloc

        before = _request_count(emulator) if emulator is not None else None
        tracemalloc.start()
        try:
            with pytest.raises(InvalidParameterError) as caught:
                store.open_data(self.data_id, **{**self.open_params, **self.oversized_open_params})
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        text = str(caught.value)
        assert caught.value.parameter in ("spatial_res", "bbox") or "spatial_res" in text
        assert "bbox" in text, "the error must say which parameters make the grid big"
        assert peak < 256 * 2**20, f"{peak} bytes were allocated before the refusal"
        if emulator is not None and self.grid_known_without_requests:
            assert _request_count(emulator) == before, "an oversized grid must fail at once"

    # -- secrets in logs ------------------------------------------------------------------------

    def test_no_secrets_in_debug_logs(self, store, secrets, store_with_fake_secret, caplog):
        cases = [(store, list(secrets))]
        if store_with_fake_secret is not None:
            fake_store, fake_secret = store_with_fake_secret
            cases.append((fake_store, [fake_secret]))
        if not any(shown for _, shown in cases):
            pytest.skip("the store was created with no secret")
        caplog.set_level(logging.DEBUG)
        for each, _ in cases:
            for call in (
                lambda s=each: s.has_data(self.data_id),
                lambda s=each: s.describe_data(self.data_id),
                lambda s=each: _first_values(s.open_data(self.data_id, **self.open_params)),
                lambda s=each: s.describe_data(UNKNOWN_DATA_ID),
            ):
                try:
                    call()
                except DataStoreError as error:
                    logging.getLogger("eostores.conformance").debug("call failed: %r", error)
        logged = caplog.text + "\n".join(
            f"{record.getMessage()} {record.exc_text or ''}" for record in caplog.records
        )
        for _, shown in cases:
            for secret in shown:
                assert secret not in logged, "a secret was logged at DEBUG level"

    # -- concurrency ----------------------------------------------------------------------------

    def test_concurrent_opens_share_one_cache(self, store):
        expected = _first_values(store.open_data(self.data_id, **self.open_params))
        stores = [store, pickle.loads(pickle.dumps(store))]  # same parameters, same cache
        barrier = threading.Barrier(self.concurrency)
        results: list[Any] = [None] * self.concurrency
        failures: list[BaseException] = []

        def work(index: int) -> None:
            try:
                barrier.wait(timeout=120)
                each = stores[index % len(stores)]
                results[index] = _first_values(each.open_data(self.data_id, **self.open_params))
            except BaseException as error:  # reported below, with the thread's error
                failures.append(error)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(self.concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert not failures, f"concurrent opens failed: {failures[0]!r}"
        assert all(result == expected for result in results)

    def test_dataset_computes_on_distributed_worker_processes(self, store, eostores_dask_cluster):
        distributed = pytest.importorskip("distributed")
        dataset = store.open_data(self.data_id, **self.open_params)
        name = next(iter(dataset.data_vars))
        expected = dataset[name].load().values
        with distributed.Client(eostores_dask_cluster) as client:
            pids = set(client.run(os.getpid).values())
            assert pids and os.getpid() not in pids, "the workers must be other processes"
            computed = dataset[name].compute().values  # the client is the scheduler now
        assert computed.tobytes() == expected.tobytes()


def _first_values(dataset: Any) -> bytes:
    """The bytes of the first element of every variable of ``dataset`` (read from the store)."""
    return b"".join(
        dataset[name].isel({d: 0 for d in dataset[name].dims}).values.tobytes()
        for name in sorted(dataset.data_vars)
    )


def _set_faults(emulator: Any, faults: Any) -> None:
    if hasattr(emulator, "set_faults"):
        emulator.set_faults(faults)
    else:
        emulator.faults = faults
