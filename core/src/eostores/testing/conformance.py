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
enables request-log and fault-injection checks), ``secrets`` (strings that must never be
shown) and ``bad_credentials_store`` (a store configured with wrong credentials).
"""

from __future__ import annotations

import json
import pickle
import time
from typing import Any, ClassVar

import pytest

from ..errors import AuthenticationError, DataNotFoundError, DataStoreError, InvalidParameterError

UNKNOWN_DATA_ID = "no-such-data-id-8d1f"


def _check_json_schema(schema_dict: dict[str, Any]) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    jsonschema.Draft202012Validator.check_schema(schema_dict)


def _request_count(emulator: Any) -> int:
    return len(emulator.request_log)


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


def _set_faults(emulator: Any, faults: Any) -> None:
    if hasattr(emulator, "set_faults"):
        emulator.set_faults(faults)
    else:
        emulator.faults = faults
