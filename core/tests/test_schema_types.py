"""Schema classes: JSON Schema output, parsing, validation and its error messages."""

from __future__ import annotations

import copy
import json
import pickle
from datetime import date, datetime, timedelta, timezone

import jsonschema
import pytest

from eostores.errors import InvalidParameterError
from eostores.schema import (
    JSON_SCHEMA_DIALECT,
    UNDEFINED,
    JsonArraySchema,
    JsonBooleanSchema,
    JsonComplexSchema,
    JsonDateSchema,
    JsonDatetimeSchema,
    JsonIntegerSchema,
    JsonNullSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonSchema,
    JsonStringSchema,
    parse_datetime_string,
)


def _example_schemas() -> dict[str, JsonSchema]:
    return {
        "any": JsonSchema(),
        "null": JsonNullSchema(title="Nothing"),
        "boolean": JsonBooleanSchema(default=True, description="A flag"),
        "string": JsonStringSchema(
            pattern="^[a-z]+$", min_length=1, max_length=8, examples=["abc"], nullable=True
        ),
        "string_enum": JsonStringSchema(enum=["a", "b", None], default="a"),
        "date": JsonDateSchema("2000-01-01", "2020-12-31", nullable=True, default=None),
        "datetime": JsonDatetimeSchema(
            min_datetime="2000-01-01T00:00:00Z", max_datetime=datetime(2020, 12, 31, 12)
        ),
        "number": JsonNumberSchema(
            minimum=-1.5, exclusive_maximum=10, multiple_of=0.5, const=2.5, title="n"
        ),
        "integer": JsonIntegerSchema(exclusive_minimum=0, maximum=100, enum=[1, 2, 3]),
        "array": JsonArraySchema(
            items=JsonIntegerSchema(), min_items=1, max_items=3, unique_items=True
        ),
        "tuple": JsonArraySchema(items=(JsonStringSchema(), JsonNumberSchema()), default=("x", 1)),
        "date_range": JsonDateSchema.new_range("2000-01-01", "2020-12-31"),
        "datetime_range": JsonDatetimeSchema.new_range(nullable=True),
        "object": JsonObjectSchema(
            properties=dict(
                name=JsonStringSchema(default="x"),
                size=JsonIntegerSchema(minimum=0),
                options=JsonObjectSchema(additional_properties=JsonBooleanSchema()),
            ),
            required=["size"],
            additional_properties=False,
            min_properties=1,
            max_properties=5,
        ),
        "one_of": JsonComplexSchema(
            one_of=[JsonIntegerSchema(), JsonStringSchema(const="auto")], default="auto"
        ),
        "any_of": JsonComplexSchema(any_of=[JsonNumberSchema(), JsonNullSchema()]),
        "all_of": JsonComplexSchema(
            all_of=[JsonNumberSchema(minimum=0), JsonNumberSchema(maximum=1)], title="unit"
        ),
    }


EXAMPLES = _example_schemas()


@pytest.mark.parametrize("name", EXAMPLES)
def test_to_dict_is_a_valid_2020_12_schema(name):
    schema = EXAMPLES[name]
    jsonschema.Draft202012Validator.check_schema(schema.to_dict())
    rooted = schema.to_dict(root=True)
    assert rooted["$schema"] == JSON_SCHEMA_DIALECT
    assert "$schema" not in json.dumps(schema.to_dict())
    jsonschema.validators.validator_for(rooted).check_schema(rooted)
    assert jsonschema.validators.validator_for(rooted) is jsonschema.Draft202012Validator


@pytest.mark.parametrize("name", EXAMPLES)
def test_round_trip_through_json_is_exact(name):
    schema = EXAMPLES[name]
    text = json.dumps(schema.to_dict(root=True))
    parsed = JsonSchema.from_dict(json.loads(text))
    assert parsed == schema
    assert type(parsed) is type(schema)
    assert json.dumps(parsed.to_dict(root=True)) == text


@pytest.mark.parametrize("name", EXAMPLES)
def test_schemas_pickle_and_copy(name):
    schema = EXAMPLES[name]
    assert pickle.loads(pickle.dumps(schema)) == schema
    assert schema.copy() == schema
    assert schema.copy() is not schema


def test_undefined_is_a_falsy_singleton_that_survives_pickling():
    assert not UNDEFINED
    assert repr(UNDEFINED) == "UNDEFINED"
    assert pickle.loads(pickle.dumps(UNDEFINED)) is UNDEFINED
    assert copy.deepcopy(UNDEFINED) is UNDEFINED
    assert type(UNDEFINED)() is UNDEFINED
    schema = pickle.loads(pickle.dumps(JsonStringSchema()))
    assert schema.default is UNDEFINED


def test_nullable_emits_a_type_list_and_null_in_enum():
    schema = JsonStringSchema(enum=["a", "b"], nullable=True)
    assert schema.to_dict() == {"type": ["string", "null"], "enum": ["a", "b", None]}
    assert JsonStringSchema(enum=["a", None, "b"]) == schema
    assert schema.validate_instance(None) is None


def test_equality_is_on_content():
    assert JsonStringSchema(title="a") == JsonStringSchema(title="a")
    assert JsonStringSchema(title="a") != JsonStringSchema(title="b")
    assert JsonNumberSchema(const=1) != JsonBooleanSchema(const=True)
    assert JsonStringSchema() != "string"


def test_repr_is_short_and_names_what_is_set():
    text = repr(EXAMPLES["object"])
    assert text.startswith("JsonObjectSchema(properties=[name, size, options]")
    assert "required=['size']" in text and "additional_properties=False" in text
    assert repr(JsonStringSchema()) == "JsonStringSchema()"
    assert "min_date='2000-01-01'" in repr(EXAMPLES["date"])
    assert len(repr(JsonStringSchema(enum=[str(i) for i in range(100)]))) < 120


# -- agreement with the reference validator ---------------------------------------------------

AGREEMENT_SCHEMA = JsonObjectSchema(
    properties=dict(
        name=JsonStringSchema(pattern="^[a-z]", min_length=2, max_length=5),
        kind=JsonStringSchema(enum=["a", "b"], nullable=True),
        count=JsonIntegerSchema(minimum=0, exclusive_maximum=10, multiple_of=2),
        ratio=JsonNumberSchema(exclusive_minimum=0, maximum=1),
        flags=JsonArraySchema(items=JsonBooleanSchema(), unique_items=True, max_items=2),
        pair=JsonArraySchema(items=[JsonStringSchema(), JsonNumberSchema()]),
        day=JsonDateSchema(),
        instant=JsonDatetimeSchema(),
        size=JsonComplexSchema(one_of=[JsonIntegerSchema(), JsonStringSchema(const="auto")]),
        extra=JsonObjectSchema(additional_properties=JsonNumberSchema(), max_properties=1),
    ),
    required=["name"],
    additional_properties=False,
)

AGREEMENT_INSTANCES = [
    {"name": "ab"},
    {"name": "ab", "kind": None},
    {"name": "ab", "kind": "c"},
    {"name": "a"},
    {"name": "Abc"},
    {"name": "abcdef"},
    {},
    {"name": "ab", "other": 1},
    {"name": "ab", "count": 4},
    {"name": "ab", "count": 3},
    {"name": "ab", "count": 10},
    {"name": "ab", "count": -2},
    {"name": "ab", "count": True},
    {"name": "ab", "count": 4.0},
    {"name": "ab", "ratio": 0},
    {"name": "ab", "ratio": 1},
    {"name": "ab", "ratio": "1"},
    {"name": "ab", "flags": [True, False]},
    {"name": "ab", "flags": [True, True]},
    {"name": "ab", "flags": [True, False, True]},
    {"name": "ab", "flags": [1]},
    {"name": "ab", "pair": ["x", 1.5]},
    {"name": "ab", "pair": ["x"]},
    {"name": "ab", "pair": ["x", 1, 2]},
    {"name": "ab", "pair": [1, "x"]},
    {"name": "ab", "day": "2020-02-29"},
    {"name": "ab", "day": "2021-02-29"},
    {"name": "ab", "day": "2020-2-1"},
    {"name": "ab", "instant": "2020-01-01T12:30:00Z"},
    {"name": "ab", "instant": "2020-01-01T12:30:00.123+05:30"},
    {"name": "ab", "instant": "2020-01-01 12:30:00Z"},
    {"name": "ab", "instant": "2020-01-01T12:30Z"},
    {"name": "ab", "instant": "2020-01-01T24:30:00Z"},
    {"name": "ab", "size": 3},
    {"name": "ab", "size": "auto"},
    {"name": "ab", "size": "big"},
    {"name": "ab", "extra": {"x": 1}},
    {"name": "ab", "extra": {"x": "1"}},
    {"name": "ab", "extra": {"x": 1, "y": 2}},
]


@pytest.mark.parametrize("instance", AGREEMENT_INSTANCES, ids=lambda i: json.dumps(i))
def test_validation_agrees_with_jsonschema(instance):
    validator = jsonschema.Draft202012Validator(
        AGREEMENT_SCHEMA.to_dict(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    expected = validator.is_valid(instance)
    try:
        AGREEMENT_SCHEMA.validate_instance(instance)
        ours = True
    except InvalidParameterError:
        ours = False
    assert ours == expected


def test_validation_accepts_tuples_as_arrays_and_keeps_the_type():
    schema = JsonArraySchema(items=JsonIntegerSchema())
    assert schema.validate_instance((1, 2)) == (1, 2)
    assert isinstance(schema.validate_instance((1, 2)), tuple)
    assert schema.validate_instance([1, 2.0]) == [1, 2]
    with pytest.raises(InvalidParameterError):
        schema.validate_instance("12")


def test_bool_is_not_a_number_and_non_finite_numbers_are_rejected():
    for schema in (JsonNumberSchema(), JsonIntegerSchema()):
        with pytest.raises(InvalidParameterError, match="must be a"):
            schema.validate_instance(True)
    with pytest.raises(InvalidParameterError, match="finite"):
        JsonNumberSchema().validate_instance(float("nan"))
    with pytest.raises(InvalidParameterError, match="an integer"):
        JsonIntegerSchema().validate_instance(1.5)
    assert JsonNumberSchema(multiple_of=0.1).validate_instance(0.3) == 0.3


# -- defaults ---------------------------------------------------------------------------------


def test_defaults_are_filled_recursively_without_mutating_the_input():
    schema = JsonObjectSchema(
        properties=dict(
            crs=JsonStringSchema(default="EPSG:4326"),
            storage_options=JsonObjectSchema(
                properties=dict(
                    anon=JsonBooleanSchema(default=True),
                    retries=JsonIntegerSchema(default=3),
                    client=JsonObjectSchema(
                        properties=dict(region=JsonStringSchema(default="eu-west-1"))
                    ),
                ),
            ),
            layers=JsonArraySchema(
                items=JsonObjectSchema(properties=dict(opacity=JsonNumberSchema(default=1.0)))
            ),
            options=JsonObjectSchema(
                properties=dict(level=JsonIntegerSchema(default=0)), default={}
            ),
            no_default=JsonStringSchema(),
        )
    )
    given = {"storage_options": {"retries": 5, "client": {}}, "layers": [{}, {"opacity": 0.5}]}
    snapshot = copy.deepcopy(given)
    result = schema.validate_instance(given)
    assert given == snapshot
    assert result == {
        "storage_options": {"retries": 5, "client": {"region": "eu-west-1"}, "anon": True},
        "layers": [{"opacity": 1.0}, {"opacity": 0.5}],
        "crs": "EPSG:4326",
        "options": {"level": 0},
    }
    result["options"]["level"] = 9
    assert schema.validate_instance({})["options"] == {"level": 0}


def test_validate_params_reports_store_and_data():
    schema = JsonObjectSchema(
        properties=dict(limit=JsonIntegerSchema(minimum=1, default=10)),
        additional_properties=False,
    )
    assert schema.validate_params(None) == {"limit": 10}
    with pytest.raises(InvalidParameterError) as info:
        schema.validate_params({"limit": 0}, store_id="cds", data_id="era5")
    error = info.value
    assert (error.store_id, error.data_id, error.parameter) == ("cds", "era5", "limit")
    assert str(error).startswith("store 'cds', data 'era5': limit = 0: must be >= 1")


# -- error messages ---------------------------------------------------------------------------


def _error(schema: JsonSchema, instance, **kwargs) -> InvalidParameterError:
    with pytest.raises(InvalidParameterError) as info:
        schema.validate_instance(instance, **kwargs)
    return info.value


def test_errors_name_path_value_and_what_is_allowed():
    schema = JsonObjectSchema(
        properties=dict(
            storage_options=JsonObjectSchema(
                properties=dict(anon=JsonBooleanSchema()), additional_properties=False
            ),
            time_range=JsonDateSchema.new_range(max_date="2020-12-31"),
            mode=JsonStringSchema(enum=["a", "b", "c"]),
        ),
        additional_properties=False,
    )
    error = _error(schema, {"storage_options": {"anon": "yes"}})
    assert error.parameter == "storage_options"
    assert "storage_options.anon = 'yes': must be a boolean" in str(error)

    error = _error(schema, {"time_range": ["2020-01-01", "2030-01-01"]})
    assert error.parameter == "time_range"
    assert "time_range[1] = '2030-01-01'" in str(error)
    assert "on or before 2020-12-31" in str(error)

    error = _error(schema, {"mode": "d"})
    assert "mode = 'd': must be one of 'a', 'b', 'c'" in str(error)

    error = _error(schema, {"storage_options": {"anno": True}})
    assert "unknown parameter 'storage_options.anno'" in str(error)
    assert "did you mean 'anon'?" in str(error)
    assert error.parameter == "storage_options"


def test_unknown_parameter_lists_allowed_names_and_suggests_the_closest():
    schema = JsonObjectSchema(
        properties=dict(variable_names=JsonSchema(), bbox=JsonSchema(), crs=JsonSchema()),
        additional_properties=False,
    )
    error = _error(schema, {"variabel_names": None})
    assert error.parameter == "variabel_names"
    assert "unknown parameter 'variabel_names'" in str(error)
    assert "allowed: variable_names, bbox, crs" in str(error)
    assert "did you mean 'variable_names'?" in str(error)
    assert "did you mean" not in str(_error(schema, {"zzz": 1}))


def test_missing_required_parameter_is_named():
    schema = JsonObjectSchema(
        properties=dict(inner=JsonObjectSchema(required=["key_id"])), required=["inner"]
    )
    error = _error(schema, {})
    assert error.parameter == "inner"
    assert "missing required parameter 'inner'" in str(error)
    assert "missing required parameter 'inner.key_id'" in str(_error(schema, {"inner": {}}))


def test_long_enums_and_long_values_are_shortened():
    names = [f"var_{i:03d}" for i in range(25)]
    error = _error(JsonStringSchema(enum=names), "nope", name="variable")
    assert "'var_000', 'var_001'" in str(error)
    assert "'var_009', ... (15 more)" in str(error)
    assert "var_010" not in str(error)
    error = _error(JsonIntegerSchema(), "x" * 500, name="count")
    assert "..." in str(error)
    assert len(str(error)) < 150


def test_numeric_and_length_messages():
    assert "must be >= 0" in str(_error(JsonNumberSchema(minimum=0), -1, name="n"))
    assert "must be < 5" in str(_error(JsonNumberSchema(exclusive_maximum=5), 5, name="n"))
    assert "multiple of 3" in str(_error(JsonIntegerSchema(multiple_of=3), 4, name="n"))
    assert "at least 2 characters" in str(_error(JsonStringSchema(min_length=2), "a", name="s"))
    assert "at least 2 items" in str(_error(JsonArraySchema(min_items=2), [1], name="a"))
    assert "repeated" in str(_error(JsonArraySchema(unique_items=True), [1, 1.0], name="a"))


def test_format_messages_show_an_example():
    error = _error(JsonDatetimeSchema(), "2020-01-01", name="start")
    assert "start = '2020-01-01': must be a date-time such as 2020-01-01T00:00:00Z" in str(error)
    error = _error(JsonDateSchema(), "2020-13-01", name="day")
    assert "must be a date such as 2020-01-01" in str(error)


def test_secret_values_are_not_shown_in_errors():
    schema = JsonObjectSchema(
        properties=dict(
            secret=JsonStringSchema(min_length=40),
            password=JsonIntegerSchema(),
            pin=JsonStringSchema(format="password", max_length=2),
        )
    )
    for params in ({"secret": "hunter2-short"}, {"password": "hunter2-short"}, {"pin": "hunter2"}):
        message = str(_error(schema, params))
        assert "hunter2" not in message
        assert "<hidden>" in message


def test_complex_schema_errors():
    size = JsonComplexSchema(
        one_of=[JsonIntegerSchema(minimum=1), JsonStringSchema(enum=["auto", "native"])]
    )
    error = _error(size, "autp", name="chunks")
    assert "chunks = 'autp': must be one of 'auto', 'native'" in str(error)
    assert "did you mean 'auto'?" in str(error)
    assert "must be >= 1" in str(_error(size, 0, name="chunks"))
    assert "an integer or a string" in str(_error(size, [1], name="chunks"))
    overlapping = JsonComplexSchema(one_of=[JsonNumberSchema(), JsonIntegerSchema()])
    assert "exactly one" in str(_error(overlapping, 1, name="x"))
    both = JsonComplexSchema(all_of=[JsonNumberSchema(minimum=0), JsonNumberSchema(maximum=1)])
    assert "must be <= 1" in str(_error(both, 2, name="x"))
    assert both.validate_instance(0.5) == 0.5


# -- dates and time limits --------------------------------------------------------------------


def test_time_limits_are_enforced():
    schema = JsonDatetimeSchema(min_datetime="2000-01-01", max_datetime="2020-12-31T12:00:00Z")
    assert schema.validate_instance("2020-06-01T00:00:00Z")
    assert "on or before 2020-12-31T12:00:00Z" in str(_error(schema, "2030-01-01T00:00:00Z"))
    # instants are compared in UTC: 13:00+02:00 is 11:00Z, inside the limit
    assert schema.validate_instance("2020-12-31T13:00:00+02:00")
    with pytest.raises(InvalidParameterError):
        schema.validate_instance("2020-12-31T12:00:01Z")
    # a date limit against a date-time value compares on the date
    assert schema.validate_instance("2000-01-01T00:00:00Z")
    assert "on or after 2000-01-01" in str(_error(schema, "1999-12-31T23:59:59Z"))
    dates = JsonDateSchema(min_date=date(2000, 1, 1), max_date="2020-12-31")
    assert dates.to_dict()["min_datetime"] == "2000-01-01"
    assert dates.to_dict()["max_datetime"] == "2020-12-31"
    assert dates.validate_instance("2020-12-31") == "2020-12-31"
    assert "on or before 2020-12-31" in str(_error(dates, "2021-01-01"))


def test_datetime_without_offset_means_utc():
    assert JsonDatetimeSchema().validate_instance("2020-01-01T00:00:00") == "2020-01-01T00:00:00"
    assert parse_datetime_string("2020-01-01T00:00:00") == parse_datetime_string(
        "2020-01-01T01:00:00+01:00"
    )
    assert parse_datetime_string("2020-01-01T00:00:00.123456789Z") == datetime(
        2020, 1, 1, 0, 0, 0, 123456
    )
    assert parse_datetime_string("2020-01-01T00:00:00+24:00") is None


def test_date_and_datetime_objects_are_accepted_as_iso_strings():
    dates = JsonDateSchema()
    assert dates.validate_instance(date(2020, 5, 17)) == "2020-05-17"
    with pytest.raises(InvalidParameterError):
        dates.validate_instance(datetime(2020, 5, 17, 1))
    instants = JsonDatetimeSchema(max_datetime="2020-12-31")
    aware = datetime(2020, 5, 17, 3, tzinfo=timezone(timedelta(hours=2)))
    assert instants.validate_instance(aware) == "2020-05-17T01:00:00Z"
    assert instants.validate_instance(datetime(2020, 5, 17)) == "2020-05-17T00:00:00Z"
    with pytest.raises(InvalidParameterError, match="on or before"):
        instants.validate_instance(datetime(2021, 1, 1))


def test_invalid_limits_are_rejected_when_building_the_schema():
    with pytest.raises(InvalidParameterError):
        JsonDatetimeSchema(min_datetime="yesterday")
    with pytest.raises(InvalidParameterError):
        JsonDateSchema(max_date=12)
    # limits are emitted in RFC 3339 form, which requires an offset
    emitted = JsonDatetimeSchema(max_datetime="2020-01-01T00:00:00").to_dict()["max_datetime"]
    assert parse_datetime_string(emitted) == datetime(2020, 1, 1)
    assert emitted.endswith("Z")


def test_new_range_allows_open_ends():
    schema = JsonDatetimeSchema.new_range("2000-01-01T00:00:00Z", "2020-12-31T00:00:00Z")
    assert schema.validate_instance(["2001-01-01T00:00:00Z", None]) == [
        "2001-01-01T00:00:00Z",
        None,
    ]
    with pytest.raises(InvalidParameterError, match="exactly 2 items"):
        schema.validate_instance(["2001-01-01T00:00:00Z"])
    with pytest.raises(InvalidParameterError):
        schema.validate_instance(None)
    assert JsonDateSchema.new_range(nullable=True).validate_instance(None) is None


# -- parsing hand-written schemas -------------------------------------------------------------


def test_from_dict_reads_hand_written_schemas():
    schema = JsonSchema.from_dict(
        {
            "$schema": "http://json-schema.org/draft-07/schema#",
            "type": "object",
            "properties": {
                "a": {
                    "type": ["null", "integer"],
                    "minimum": 0,
                    "exclusiveMaximum": True,
                    "maximum": 5,
                },
                "b": {"enum": ["x", 1]},
                "c": {"type": ["string", "number"]},
                "d": {"type": "array", "items": [{"type": "string"}, {"type": "number"}]},
                "e": {"type": "string", "format": "date", "maxDate": "2020-12-31"},
                "f": {"properties": {"g": {"type": "boolean", "default": False}}},
            },
        }
    )
    assert isinstance(schema, JsonObjectSchema)
    a = schema.properties["a"]
    assert isinstance(a, JsonIntegerSchema) and a.nullable and a.exclusive_maximum == 5
    assert a.validate_instance(None) is None
    assert schema.properties["b"].validate_instance(1) == 1
    with pytest.raises(InvalidParameterError):
        schema.properties["b"].validate_instance("y")
    c = schema.properties["c"]
    assert c.validate_instance("s") == "s" and c.validate_instance(2) == 2
    with pytest.raises(InvalidParameterError):
        c.validate_instance(None)
    assert schema.properties["d"].validate_instance(["s", 1]) == ["s", 1]
    e = schema.properties["e"]
    assert isinstance(e, JsonDateSchema) and e.max_date == "2020-12-31"
    assert schema.validate_instance({"f": {}}) == {"f": {"g": False}}


def test_from_dict_rejects_what_it_cannot_represent():
    with pytest.raises(InvalidParameterError, match=r"\$ref"):
        JsonSchema.from_dict({"$ref": "#/$defs/x"})
    with pytest.raises(InvalidParameterError, match="JsonStringSchema"):
        JsonObjectSchema.from_dict({"type": "string"})


def test_with_properties_and_without_return_new_schemas():
    base = JsonObjectSchema(
        properties=dict(a=JsonStringSchema(), b=JsonIntegerSchema()), required=["a", "b"]
    )
    extended = base.with_properties(c=JsonBooleanSchema(), a=JsonStringSchema(min_length=2))
    assert list(extended.properties) == ["a", "b", "c"]
    assert extended.properties["a"].min_length == 2
    assert list(base.properties) == ["a", "b"] and base.properties["a"].min_length is None
    reduced = extended.without("b", "missing")
    assert list(reduced.properties) == ["a", "c"]
    assert reduced.required == ["a"]
    assert base.required == ["a", "b"]


def test_constructor_misuse_is_reported():
    with pytest.raises(TypeError):
        JsonComplexSchema(one_of=[JsonSchema()], any_of=[JsonSchema()])
    with pytest.raises(TypeError):
        JsonArraySchema(items=[{"type": "string"}])
    with pytest.raises(InvalidParameterError):
        JsonSchema("text")
    with pytest.raises(InvalidParameterError):
        JsonStringSchema(default=object())
