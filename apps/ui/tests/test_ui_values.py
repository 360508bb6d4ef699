"""Submitted form values back into parameters: types, defaults, common semantics, errors."""

from __future__ import annotations

import pytest
from eostores_ui.forms import build_form
from eostores_ui.values import FormErrors, read_form

from eostores.schema import (
    JsonArraySchema,
    JsonBooleanSchema,
    JsonDatetimeSchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonStringSchema,
    bbox_schema,
    time_range_schema,
    variable_names_schema,
)


def form(common: bool = False, **properties):
    return build_form(JsonObjectSchema(properties=properties).to_dict(), common=common)


def test_empty_fields_and_defaults_are_left_out():
    f = form(
        a=JsonStringSchema(default="x"),
        b=JsonIntegerSchema(default=3),
        c=JsonBooleanSchema(default=True),
        d=JsonStringSchema(),
    )
    assert read_form(f, {"a": "x", "b": "3", "c": True, "d": ""}) == {}
    assert read_form(f, {"a": "y", "b": "4", "c": False, "d": " z "}) == {
        "a": "y",
        "b": 4,
        "c": False,
        "d": "z",
    }


def test_numbers_are_parsed_and_bad_text_is_reported_on_its_field():
    f = form(n=JsonNumberSchema(), i=JsonIntegerSchema())
    assert read_form(f, {"n": "0.5", "i": "7"}) == {"n": 0.5, "i": 7}
    assert read_form(f, {"n": "2", "i": "7.0"}) == {"n": 2, "i": 7}
    with pytest.raises(FormErrors) as caught:
        read_form(f, {"n": "abc", "i": "1.5"})
    assert caught.value.errors == {
        "n": "'abc' is not a number",
        "i": "'1.5' is not a whole number",
    }


def test_select_sends_the_option_value_unless_it_is_the_default():
    f = form(level=JsonIntegerSchema(enum=[500, 850], default=500))
    assert read_form(f, {"level": 850}) == {"level": 850}
    assert read_form(f, {"level": 500}) == {}
    assert read_form(f, {"level": None}) == {}
    with pytest.raises(FormErrors):
        read_form(f, {"level": 700})


def test_lists_are_comma_separated():
    f = form(
        names=JsonArraySchema(items=JsonStringSchema()), sizes=JsonArraySchema(JsonIntegerSchema())
    )
    assert read_form(f, {"names": "a, b ,c", "sizes": "1,2"}) == {
        "names": ["a", "b", "c"],
        "sizes": [1, 2],
    }


def test_json_fields_accept_json_or_plain_text():
    f = build_form(
        {
            "type": "object",
            "properties": {
                "extra": {"type": "object", "additionalProperties": True},
                "root": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
            },
        }
    )
    assert read_form(f, {"extra": '{"a": 1}', "root": "8154445"}) == {
        "extra": {"a": 1},
        "root": 8154445,
    }
    assert read_form(f, {"root": "10.5281/zenodo.1"}) == {"root": "10.5281/zenodo.1"}
    with pytest.raises(FormErrors) as caught:
        read_form(f, {"extra": "[1, 2]"})
    assert "JSON object" in caught.value.errors["extra"]


def test_datetime_pickers_give_rfc3339_utc():
    f = form(when=JsonDatetimeSchema())
    assert read_form(f, {"when": "2024-01-02T03:04"}) == {"when": "2024-01-02T03:04:00Z"}
    assert read_form(f, {"when": "2024-01-02T03:04:05"}) == {"when": "2024-01-02T03:04:05Z"}


def test_variable_names_all_ticked_means_all_and_none_ticked_means_none():
    f = form(common=True, variable_names=variable_names_schema(["a", "b", "c"]))
    assert read_form(f, {"variable_names": ["a", "b", "c"]}) == {}
    assert read_form(f, {"variable_names": ["c", "a"]}) == {"variable_names": ["a", "c"]}
    assert read_form(f, {"variable_names": []}) == {"variable_names": []}
    with pytest.raises(FormErrors):
        read_form(f, {"variable_names": ["zz"]})


def test_bbox_needs_all_four_numbers_in_order():
    f = form(common=True, bbox=bbox_schema())
    assert read_form(f, {"bbox": ["", "", "", ""]}) == {}
    assert read_form(f, {"bbox": ["0", "40.5", "10", "50"]}) == {"bbox": [0, 40.5, 10, 50]}
    with pytest.raises(FormErrors) as caught:
        read_form(f, {"bbox": ["0", "", "10", ""]})
    assert caught.value.errors == {"bbox": "give all four values; missing: ymin, ymax"}
    with pytest.raises(FormErrors) as caught:
        read_form(f, {"bbox": ["10", "40", "0", "50"]})
    assert "xmin must be less than xmax" in caught.value.errors["bbox"]
    with pytest.raises(FormErrors) as caught:
        read_form(f, {"bbox": ["x", "40", "0", "50"]})
    assert caught.value.errors == {"bbox[0]": "'x' is not a number"}


def test_time_range_open_ends_and_order():
    f = form(common=True, time_range=time_range_schema())
    assert read_form(f, {"time_range": ["", ""]}) == {}
    assert read_form(f, {"time_range": ["2024-01-01", ""]}) == {"time_range": ["2024-01-01", None]}
    assert read_form(f, {"time_range": ["2024-01-01", "2024-01-31"]}) == {
        "time_range": ["2024-01-01", "2024-01-31"]
    }
    with pytest.raises(FormErrors) as caught:
        read_form(f, {"time_range": ["2024-02-01", "2024-01-31"]})
    assert caught.value.errors == {"time_range": "the start must not be after the end"}


def test_groups_send_only_what_was_set():
    f = form(
        options=JsonObjectSchema(
            properties={"a": JsonIntegerSchema(), "b": JsonBooleanSchema(default=False)}
        )
    )
    assert read_form(f, {"options": {"a": "", "b": False}}) == {}
    assert read_form(f, {"options": {"a": "2", "b": False}}) == {"options": {"a": 2}}


def test_passwords_are_taken_as_typed():
    f = form(api_key=JsonStringSchema())
    assert read_form(f, {"api_key": " with spaces "}) == {"api_key": " with spaces "}
