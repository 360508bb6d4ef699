"""The schema -> form generator: conversion rules, the common parameters, every store."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from eostores_ui.forms import COMMON_LABELS, COMMON_ORDER, KINDS, Field, Form, build_form
from eostores_ui.values import read_form

from eostores.credentials import is_secret_name
from eostores.errors import InvalidParameterError
from eostores.registry import (
    find_data_store_extensions,
    find_emulator_extensions,
    get_data_store_params_schema,
    list_data_store_ids,
    new_data_store,
)
from eostores.schema import (
    JsonArraySchema,
    JsonBooleanSchema,
    JsonDateSchema,
    JsonDatetimeSchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonObjectSchema,
    JsonStringSchema,
    bbox_schema,
    crs_schema,
    force_cube_schema,
    spatial_res_schema,
    time_period_schema,
    time_range_schema,
    variable_names_schema,
)


def form_of(**properties: Any) -> Form:
    return build_form(JsonObjectSchema(properties=properties).to_dict())


def only(form: Form) -> Field:
    assert len(form.fields) == 1
    return form.fields[0]


# -- the generalized conversion ---------------------------------------------------------------


def test_boolean_is_a_checkbox_with_its_default():
    field = only(form_of(flag=JsonBooleanSchema(default=True, title="A flag")))
    assert (field.kind, field.label, field.default, field.has_default) == (
        "checkbox",
        "A flag",
        True,
        True,
    )


def test_string_is_a_text_field_with_title_description_examples_and_default():
    schema = JsonStringSchema(
        title="Name", description="What it is called", examples=["x1", "x2"], default="x0"
    )
    field = only(form_of(name=schema))
    assert field.kind == "text"
    assert field.label == "Name"
    assert field.tooltip == "What it is called"
    assert field.placeholder == "x1"
    assert field.default == "x0"


def test_the_key_is_the_label_without_a_title():
    field = only(form_of(some_key=JsonStringSchema()))
    assert field.label == "some_key"
    assert field.tooltip is None


def test_enum_is_a_drop_down_of_its_values():
    field = only(form_of(mode=JsonStringSchema(enum=["a", "b", "c"], default="b")))
    assert field.kind == "select"
    assert [o["value"] for o in field.options] == ["a", "b", "c"]
    assert field.default == "b"


def test_numeric_enum_is_a_drop_down_too():
    field = only(form_of(level=JsonIntegerSchema(enum=[500, 850, 1000])))
    assert field.kind == "select"
    assert field.value_type == "integer"
    assert [o["value"] for o in field.options] == [500, 850, 1000]


def test_single_value_is_a_constant():
    field = only(form_of(crs=JsonStringSchema(enum=["EPSG:4326"])))
    assert field.kind == "const"
    assert field.default == "EPSG:4326"
    assert read_form(form_of(crs=JsonStringSchema(enum=["EPSG:4326"])), {"crs": "x"}) == {}


@pytest.mark.parametrize(
    ("schema", "kind"),
    [
        (JsonDateSchema(), "date"),
        (JsonDatetimeSchema(), "datetime"),
        (JsonStringSchema(format="date"), "date"),
        (JsonStringSchema(format="date-time"), "datetime"),
    ],
)
def test_dates_get_date_pickers(schema, kind):
    assert only(form_of(when=schema)).kind == kind


def test_date_limits_are_the_pickers_limits():
    field = only(form_of(when=JsonDateSchema(min_date="2000-01-01", max_date="2000-12-31")))
    assert (field.min_date, field.max_date) == ("2000-01-01", "2000-12-31")


def test_unique_enumerated_array_is_checkboxes():
    schema = JsonArraySchema(items=JsonStringSchema(enum=["u", "v", "w"]), unique_items=True)
    field = only(form_of(levels=schema))
    assert field.kind == "checkboxes"
    assert [o["value"] for o in field.options] == ["u", "v", "w"]


def test_enumerated_array_that_allows_repeats_is_a_list():
    schema = JsonArraySchema(items=JsonStringSchema(enum=["u", "v"]))
    assert only(form_of(levels=schema)).kind == "list"


@pytest.mark.parametrize("schema_class", [JsonNumberSchema, JsonIntegerSchema])
def test_numbers_with_limits(schema_class):
    field = only(form_of(n=schema_class(minimum=1, maximum=10, default=2)))
    assert field.kind == schema_class(minimum=1).type
    assert (field.minimum, field.maximum, field.default) == (1, 10, 2)


def test_exclusive_limits_are_kept_for_the_messages():
    field = only(form_of(n=JsonNumberSchema(exclusive_minimum=0)))
    assert field.exclusive_minimum == 0
    assert field.minimum is None


def test_object_is_a_nested_group_in_schema_order():
    schema = JsonObjectSchema(
        properties={"b": JsonIntegerSchema(), "a": JsonBooleanSchema(default=False)},
        required=["b"],
        title="Options",
    )
    field = only(form_of(options=schema))
    assert field.kind == "group"
    assert field.label == "Options"
    assert [(c.name, c.path, c.kind, c.required) for c in field.children] == [
        ("b", "options.b", "integer", True),
        ("a", "options.a", "checkbox", False),
    ]


def test_free_form_object_is_json_text():
    field = only(form_of(extra=JsonObjectSchema(additional_properties=True)))
    assert field.kind == "json"
    assert field.object_value


def test_list_of_plain_values_is_comma_separated_text():
    field = only(form_of(names=JsonArraySchema(items=JsonStringSchema())))
    assert (field.kind, field.value_type) == ("list", "string")
    field = only(form_of(sizes=JsonArraySchema(items=JsonIntegerSchema())))
    assert (field.kind, field.value_type) == ("list", "integer")


def test_a_value_or_a_list_of_values_is_a_list():
    form = build_form(
        {
            "type": "object",
            "properties": {
                "includes": {
                    "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]
                }
            },
        }
    )
    assert (only(form).kind, only(form).value_type) == ("list", "string")


def test_a_fixed_tuple_gets_one_field_per_item():
    schema = JsonArraySchema(items=[JsonIntegerSchema(title="width"), JsonIntegerSchema()])
    field = only(form_of(size=schema))
    assert field.kind == "tuple"
    assert [(c.label, c.path, c.kind) for c in field.children] == [
        ("width", "size[0]", "integer"),
        ("size[1]", "size[1]", "integer"),
    ]


def test_other_unions_are_json_text():
    form = build_form(
        {
            "type": "object",
            "properties": {
                "tile": {
                    "anyOf": [
                        {"type": "integer"},
                        {"type": "array", "prefixItems": [{"type": "integer"}] * 2},
                    ]
                }
            },
        }
    )
    assert only(form).kind == "json"


@pytest.mark.parametrize("name", ["api_key", "client_secret", "password", "access_token"])
def test_secrets_are_password_fields_whose_defaults_are_never_sent(name):
    field = only(form_of(**{name: JsonStringSchema(default="s3cr3t-value")}))
    assert field.kind == "password"
    assert field.secret
    assert "default" not in field.to_json()


def test_password_format_is_a_password_field():
    assert only(form_of(word=JsonStringSchema(format="password"))).kind == "password"


def test_headers_are_hidden_like_secrets():
    schema = JsonObjectSchema(additional_properties=JsonStringSchema())
    field = only(form_of(headers=schema))
    assert (field.kind, field.object_value) == ("password", True)


def test_nullable_types_keep_their_control():
    form = build_form(
        {"type": "object", "properties": {"n": {"type": ["integer", "null"], "minimum": 1}}}
    )
    field = only(form)
    assert (field.kind, field.nullable, field.minimum) == ("integer", True, 1)


# -- the common parameters --------------------------------------------------------------------


def open_schema(**extra: Any) -> dict[str, Any]:
    properties = dict(
        zeta=JsonStringSchema(title="Last in the schema"),
        time_period=time_period_schema(),
        force_cube=force_cube_schema(),
        alpha=JsonBooleanSchema(),
        crs=crs_schema(),
        time_range=time_range_schema("2020-01-01", "2020-12-31"),
        spatial_res=spatial_res_schema(0.25),
        bbox=bbox_schema(),
        variable_names=variable_names_schema(["t", "u"]),
    )
    properties.update(extra)
    return JsonObjectSchema(properties=properties).to_dict()


def test_common_parameters_come_first_in_the_conventions_order_then_schema_order():
    form = build_form(open_schema(), common=True)
    assert [f.name for f in form.fields] == [*COMMON_ORDER, "zeta", "alpha"]
    assert [f.common for f in form.fields] == [True] * 7 + [False, False]


def test_without_common_handling_the_schema_order_is_kept():
    form = build_form(open_schema())
    assert [f.name for f in form.fields][:3] == ["zeta", "time_period", "force_cube"]
    assert form.get("bbox").kind == "tuple"


def test_common_parameters_get_friendly_labels_and_tooltips_when_the_schema_has_none():
    bare = {
        "type": "object",
        "properties": {
            "bbox": {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 4},
            "time_period": {"type": "string"},
            "force_cube": {"type": "boolean"},
        },
    }
    form = build_form(bare, common=True)
    for field in form.fields:
        assert (field.label, field.tooltip) == COMMON_LABELS[field.name]


def test_store_titles_win_over_the_friendly_labels():
    form = build_form(open_schema(), common=True)
    assert form.get("variable_names").label == "Variable names"
    assert form.get("bbox").label == "Bounding box"


def test_bbox_has_four_number_fields_with_limits_and_the_data_extent():
    descriptor = {"bbox": [-10, 30, 40, 70], "crs": "EPSG:4326"}
    field = build_form(open_schema(), common=True, descriptor=descriptor).get("bbox")
    assert field.kind == "bbox"
    assert [(c.label, c.path) for c in field.children] == [
        ("xmin", "bbox[0]"),
        ("ymin", "bbox[1]"),
        ("xmax", "bbox[2]"),
        ("ymax", "bbox[3]"),
    ]
    assert [(c.minimum, c.maximum) for c in field.children] == [
        (-180, 360),
        (-90, 90),
        (-180, 360),
        (-90, 90),
    ]
    assert field.extent == [-10.0, 30.0, 40.0, 70.0]
    assert field.crs == "EPSG:4326"


def test_time_range_has_two_date_pickers_with_the_schema_limits():
    field = build_form(open_schema(), common=True).get("time_range")
    assert field.kind == "time_range"
    assert field.date_kind == "date"
    assert [(c.label, c.kind, c.min_date, c.max_date) for c in field.children] == [
        ("Start", "date", "2020-01-01", "2020-12-31"),
        ("End", "date", "2020-01-01", "2020-12-31"),
    ]


def test_time_range_limits_fall_back_on_the_described_time_range():
    schema = open_schema(time_range=time_range_schema())
    descriptor = {"time_range": ["2024-01-01", "2024-01-10"]}
    field = build_form(schema, common=True, descriptor=descriptor).get("time_range")
    assert (field.min_date, field.max_date) == ("2024-01-01", "2024-01-10")
    field = build_form(schema, common=True).get("time_range")
    assert (field.min_date, field.max_date) == (None, None)


def test_time_range_of_date_times_only_gets_date_time_pickers():
    schema = open_schema(
        time_range=JsonArraySchema(
            items=[JsonDatetimeSchema(min_datetime="2020-01-01T00:00:00Z")] * 2
        )
    )
    field = build_form(schema, common=True).get("time_range")
    assert field.date_kind == "datetime"
    assert field.min_date == "2020-01-01T00:00:00Z"


def test_variable_names_are_checkboxes_from_the_schema_enum():
    field = build_form(open_schema(), common=True).get("variable_names")
    assert field.kind == "checkboxes"
    assert [o["value"] for o in field.options] == ["t", "u"]
    assert field.all_means_none


def test_variable_names_with_titles_show_the_titles():
    schema = open_schema(
        variable_names=variable_names_schema(["t2m"], titles={"t2m": "2m temperature [K]"})
    )
    field = build_form(schema, common=True).get("variable_names")
    assert field.options == [{"value": "t2m", "label": "2m temperature [K]"}]


def test_variable_names_fall_back_on_the_described_variables():
    schema = open_schema(variable_names=variable_names_schema())
    descriptor = {
        "data_vars": {
            "sst": {"attrs": {"units": "degC", "long_name": "sea surface temperature"}},
            "chl": {},
        }
    }
    field = build_form(schema, common=True, descriptor=descriptor).get("variable_names")
    assert field.kind == "checkboxes"
    assert field.options == [
        {"value": "sst", "label": "sst (sea surface temperature) [degC]"},
        {"value": "chl", "label": "chl"},
    ]
    assert build_form(schema, common=True).get("variable_names").kind == "list"


def test_errors_are_placed_on_the_field_they_name():
    form = build_form(open_schema(opts=JsonObjectSchema(properties={"n": JsonIntegerSchema()})))
    assert form.field_for_error("opts.n = 'x': must be an integer", "opts") == "opts.n"
    assert form.field_for_error("bbox[0] = 500: must be at most 360", "bbox") == "bbox[0]"
    assert form.field_for_error("bbox = [1, 2]: must have 4 items", "bbox") == "bbox"
    assert form.field_for_error("missing required parameter 'zeta'", "zeta") == "zeta"
    assert form.field_for_error("something broke", None) is None


# -- every installed store --------------------------------------------------------------------


def check_form(form: Form, schema: dict[str, Any], *, common: bool) -> None:
    """The rules every generated form keeps, whatever the store."""
    properties = schema.get("properties") or {}
    names = [f.name for f in form.fields]
    assert sorted(names) == sorted(properties)
    if common:
        present = [n for n in COMMON_ORDER if n in properties]
        assert names[: len(present)] == present
        rest = [n for n in properties if n not in COMMON_ORDER]
        assert names[len(present) :] == rest
    else:
        assert names == list(properties)
    for field in form.fields:
        sub = properties[field.name]
        assert field.kind in KINDS
        expected = sub.get("title") or (
            COMMON_LABELS[field.name][0] if common and field.name in COMMON_LABELS else field.name
        )
        assert field.label == expected
        assert field.has_default == ("default" in sub) or field.kind == "const"
        if is_secret_name(field.name):
            assert field.kind == "password"
            assert "default" not in field.to_json()
        if sub.get("type") == "boolean":
            assert field.kind == "checkbox"
    for field in form.walk():
        assert field.label, field.path
    # an untouched form sends nothing: the store's defaults apply
    untouched = {f.name: untouched_value(f) for f in form.fields}
    assert read_form(form, untouched) == {}


def untouched_value(field: Field) -> Any:
    """What the page sends for a field nobody touched."""
    kind = field.kind
    if kind == "checkbox":
        return field.default is True
    if kind == "checkboxes":
        if isinstance(field.default, list):
            return field.default
        return [o["value"] for o in field.options or ()]
    if kind == "select":
        return field.default if field.has_default else None
    if kind in ("bbox", "time_range"):
        default = field.default if isinstance(field.default, list) else []
        return [("" if v is None else str(v)) for v in default] or [""] * len(field.children)
    if kind == "tuple":
        return [untouched_value(c) for c in field.children]
    if kind == "group":
        return {c.name: untouched_value(c) for c in field.children}
    if kind == "password":
        return ""
    if not field.has_default or field.default is None:
        return ""
    if kind in ("json",) or (kind == "password" and field.object_value):
        import json

        return field.default if isinstance(field.default, str) else json.dumps(field.default)
    if kind == "list":
        return ", ".join(str(v) for v in field.default)
    return str(field.default).lower() if isinstance(field.default, bool) else str(field.default)


@pytest.mark.parametrize("store_id", list_data_store_ids())
def test_store_parameter_forms_of_every_installed_store(store_id):
    schema = get_data_store_params_schema(store_id).to_dict()
    form = build_form(schema)
    check_form(form, schema, common=False)
    assert form.to_json()["fields"] is not None


def test_file_store_open_parameters(tmp_path, cube):
    store = new_data_store("file", root=str(tmp_path))
    store.write_data(cube, "cube.zarr")
    descriptor = store.describe_data("cube.zarr").to_dict()
    schema = store.get_open_data_params_schema("cube.zarr").to_dict()
    form = build_form(schema, common=True, descriptor=descriptor)
    check_form(form, schema, common=True)
    assert form.get("variable_names").kind == "checkboxes"
    assert sorted(o["value"] for o in form.get("variable_names").options) == ["chl", "sst"]
    assert form.get("time_range").min_date == descriptor["time_range"][0]


EMULATED = sorted(e.name for e in find_emulator_extensions())


def emulated_store(emulator_name: str, params: dict[str, Any]) -> Any:
    """The store an emulator serves: the store of its name, else the first store of the
    same package that takes its store parameters."""
    if emulator_name in list_data_store_ids():
        return new_data_store(emulator_name, **params)
    package = next(e.package for e in find_emulator_extensions() if e.name == emulator_name)
    for extension in sorted(find_data_store_extensions(), key=lambda e: e.name):
        if extension.package != package:
            continue
        try:
            return new_data_store(extension.name, **params)
        except InvalidParameterError:
            continue
    raise AssertionError(f"no store of {package} takes the parameters of {emulator_name!r}")


@pytest.mark.parametrize("emulator_name", EMULATED)
def test_open_parameter_forms_of_every_emulated_store(emulator_name, eostores_emulator):
    emulator = eostores_emulator(emulator_name)
    store = emulated_store(emulator_name, emulator.store_params())
    for data_id in itertools.islice(store.get_data_ids(), 2):
        descriptor = store.describe_data(data_id).to_dict()
        descriptor.pop("open_params_schema", None)
        schema = store.get_open_data_params_schema(data_id).to_dict()
        form = build_form(schema, common=True, descriptor=descriptor)
        check_form(form, schema, common=True)
        if "variable_names" in schema.get("properties", {}):
            # checkboxes where the names are known, from the schema or the description
            items = schema["properties"]["variable_names"].get("items") or {}
            known = bool(descriptor.get("data_vars")) or "enum" in items or "oneOf" in items
            expected = "checkboxes" if known else "list"
            assert form.get("variable_names").kind == expected
        if "time_range" in schema.get("properties", {}):
            assert form.get("time_range").kind == "time_range"
        if "bbox" in schema.get("properties", {}):
            assert form.get("bbox").kind == "bbox"
