"""Schemas converting values: to_instance/from_instance, factories, serializers, JsonObject."""

from __future__ import annotations

import pickle
from datetime import date, datetime

import pytest

from eostores.errors import InvalidParameterError
from eostores.schema import (
    JsonArraySchema,
    JsonBooleanSchema,
    JsonComplexSchema,
    JsonDateSchema,
    JsonDatetimeSchema,
    JsonIntegerSchema,
    JsonNullSchema,
    JsonNumberSchema,
    JsonObject,
    JsonObjectSchema,
    JsonSchema,
    JsonSimpleSchema,
    JsonStringSchema,
)


class Region(JsonObject):
    """A named box with an optional start date: a JsonObject as xcube users write them."""

    def __init__(self, name: str, bbox: list[float], start: date | None = None, level: int = 0):
        self.name = name
        self.bbox = bbox
        self.start = start
        self.level = level

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        number = JsonNumberSchema()
        return JsonObjectSchema(
            properties=dict(
                name=JsonStringSchema(min_length=1),
                bbox=JsonArraySchema(items=[number, number, number, number]),
                start=JsonDateSchema(
                    nullable=True, factory=date.fromisoformat, serializer=date.isoformat
                ),
                level=JsonIntegerSchema(minimum=0, default=0),
            ),
            required=["name", "bbox"],
            additional_properties=False,
            factory=cls,
        )


class Catalogue(JsonObject):
    """A JsonObject holding other JsonObjects; its schema names no factory."""

    def __init__(self, regions: list[Region], title: str = "untitled"):
        self.regions = regions
        self.title = title

    @classmethod
    def get_schema(cls) -> JsonObjectSchema:
        return JsonObjectSchema(
            properties=dict(
                regions=JsonArraySchema(items=Region.get_schema()),
                title=JsonStringSchema(default="untitled"),
            ),
            required=["regions"],
            additional_properties=False,
        )


def test_json_object_round_trip_builds_objects_and_fills_defaults():
    region = Region.from_dict({"name": "alps", "bbox": [5, 44, 16, 48], "start": "2020-03-01"})
    assert isinstance(region, Region)
    assert region.start == date(2020, 3, 1)
    assert region.level == 0
    assert region.to_dict() == {
        "name": "alps",
        "bbox": [5, 44, 16, 48],
        "start": "2020-03-01",
        "level": 0,
    }
    # None attributes that are not required are left out, as in a hand-written dict
    assert Region("sea", [0, 0, 1, 1]).to_dict() == {
        "name": "sea",
        "bbox": [0, 0, 1, 1],
        "level": 0,
    }


def test_nested_json_objects_without_factory_default_to_the_class():
    catalogue = Catalogue.from_dict(
        {"regions": [{"name": "a", "bbox": [0, 0, 1, 1]}, {"name": "b", "bbox": [1, 1, 2, 2]}]}
    )
    assert isinstance(catalogue, Catalogue)
    assert [type(r) for r in catalogue.regions] == [Region, Region]
    assert catalogue.title == "untitled"
    assert catalogue.to_dict()["regions"][1] == {"name": "b", "bbox": [1, 1, 2, 2], "level": 0}


def test_invalid_json_names_the_field_instead_of_a_key_error():
    with pytest.raises(InvalidParameterError, match="missing required parameter 'bbox'"):
        Region.from_dict({"name": "alps"})
    with pytest.raises(InvalidParameterError, match=r"regions\[0\]\.bbox"):
        Catalogue.from_dict({"regions": [{"name": "a", "bbox": [0, 0, 1]}]})
    with pytest.raises(InvalidParameterError, match="colour"):
        Region.from_dict({"name": "a", "bbox": [0, 0, 1, 1], "colour": "red"})
    # to_instance validates what the serializers produce
    with pytest.raises(InvalidParameterError, match="level"):
        Region("a", [0, 0, 1, 1], level=-1).to_dict()


def test_factory_and_serializer_of_simple_schemas():
    schema = JsonStringSchema(format="date", factory=date.fromisoformat, serializer=date.isoformat)
    assert schema.from_instance("2021-06-30") == date(2021, 6, 30)
    assert schema.to_instance(date(2021, 6, 30)) == "2021-06-30"
    # neither is part of the emitted schema, nor of equality
    assert schema.to_dict() == {"type": "string", "format": "date"}
    assert schema == JsonStringSchema(format="date")
    assert "factory=date.fromisoformat" in repr(schema)
    with pytest.raises(InvalidParameterError, match="factory must be callable"):
        JsonStringSchema(factory="date")
    # schemas whose functions are importable pickle
    assert pickle.loads(pickle.dumps(schema)).from_instance("2021-01-02") == date(2021, 1, 2)


def test_array_and_object_factories():
    pair = JsonArraySchema(items=[JsonIntegerSchema(), JsonIntegerSchema()], factory=tuple)
    assert pair.from_instance([1, 2]) == (1, 2)
    assert pair.to_instance((1, 2)) == [1, 2]
    options = JsonObjectSchema(
        properties=dict(size=JsonIntegerSchema(default=3)),
        additional_properties=JsonStringSchema(factory=str.upper),
        factory=dict,
    )
    assert options.from_instance({"mode": "fast"}) == {"mode": "FAST", "size": 3}


def test_complex_schemas_convert_with_the_matching_alternative():
    when = JsonComplexSchema(
        one_of=[
            JsonDateSchema(factory=date.fromisoformat, serializer=date.isoformat),
            JsonDatetimeSchema(factory=datetime.fromisoformat, serializer=datetime.isoformat),
            JsonNullSchema(),
        ]
    )
    assert when.from_instance("2020-01-02") == date(2020, 1, 2)
    assert when.from_instance("2020-01-02T03:04:05") == datetime(2020, 1, 2, 3, 4, 5)
    assert when.to_instance(date(2020, 1, 2)) == "2020-01-02"
    assert when.from_instance(None) is None
    with pytest.raises(InvalidParameterError):
        when.from_instance("yesterday")


def test_objects_that_are_not_json_objects_are_read_by_attributes_or_to_dict():
    class Plain:
        def __init__(self):
            self.name = "p"
            self.bbox = (0, 0, 1, 1)
            self._private = "hidden"

    schema = JsonObjectSchema(
        properties=dict(name=JsonStringSchema(), bbox=JsonArraySchema()),
        additional_properties=True,
    )
    assert schema.to_instance(Plain()) == {"name": "p", "bbox": [0, 0, 1, 1]}

    class WithToDict:
        def to_dict(self):
            return {"name": "d"}

    assert schema.to_instance(WithToDict()) == {"name": "d"}


def test_json_simple_schema_and_number_type():
    assert JsonSimpleSchema("string", title="t") == JsonStringSchema(title="t")
    simple = JsonSimpleSchema("boolean", default=False)
    assert simple.to_dict() == {"type": "boolean", "default": False}
    assert isinstance(JsonStringSchema(), JsonSimpleSchema)
    assert isinstance(JsonIntegerSchema(), JsonSimpleSchema)
    assert not isinstance(JsonArraySchema(), JsonSimpleSchema)
    with pytest.raises(InvalidParameterError, match="simple schema"):
        JsonSimpleSchema("array")
    integer = JsonNumberSchema(type="integer", minimum=1)
    assert integer.to_dict() == {"type": "integer", "minimum": 1}
    assert integer == JsonIntegerSchema(minimum=1)
    assert integer.validate_instance(2.0) == 2
    with pytest.raises(InvalidParameterError, match="integer"):
        integer.validate_instance(1.5)
    with pytest.raises(InvalidParameterError, match="'number' or 'integer'"):
        JsonNumberSchema(type="string")
    assert JsonBooleanSchema().from_instance(True) is True


def test_process_kwargs_subset():
    schema = JsonObjectSchema(
        properties=dict(
            variable_names=JsonArraySchema(),
            engine=JsonStringSchema(const="zarr"),
            chunks=JsonObjectSchema(default={}),
            group=JsonStringSchema(default="/"),
        ),
        required=["chunks"],
    )
    kwargs = {"variable_names": ["a"], "decode_cf": True}
    subset, rest = schema.process_kwargs_subset(kwargs, ["variable_names", "engine", "chunks"])
    assert subset == {"variable_names": ["a"], "engine": "zarr", "chunks": {}}
    assert rest == {"decode_cf": True}
    assert kwargs == {"variable_names": ["a"], "decode_cf": True}, "the input is not changed"
    # defaults of properties that are not required are not added
    assert schema.process_kwargs_subset({}, ["group"]) == ({}, {})


def test_date_limits_with_a_time_part_are_kept_not_truncated():
    schema = JsonDateSchema(min_date="2020-01-01T12:00:00", max_date=datetime(2020, 1, 31, 18))
    assert schema.to_dict()["min_datetime"] == "2020-01-01T12:00:00Z"
    assert schema.to_dict()["max_datetime"] == "2020-01-31T18:00:00Z"
    # the limits survive the JSON round trip
    assert JsonSchema.from_dict(schema.to_dict()) == schema
    # dates are compared with them on the (UTC) date: a day that overlaps is allowed
    assert schema.validate_instance("2020-01-01") == "2020-01-01"
    with pytest.raises(InvalidParameterError, match="on or after 2020-01-01T12:00:00Z"):
        schema.validate_instance("2019-12-31")
    # midnight UTC loses nothing when written as the date
    assert JsonDateSchema(max_date="2020-02-01T01:00:00+01:00").max_date == "2020-02-01"
    with pytest.raises(InvalidParameterError, match="min_date"):
        JsonDateSchema(min_date="tomorrow")


def test_new_range_takes_the_xcube_parameter_names():
    dates = JsonDateSchema.new_range(min_date="2000-01-01", max_date="2000-12-31")
    assert dates.validate_instance(["2000-02-01", "2000-03-01"]) == ["2000-02-01", "2000-03-01"]
    with pytest.raises(InvalidParameterError, match="2000-12-31"):
        dates.validate_instance(["2000-02-01", "2001-03-01"])
    times = JsonDatetimeSchema.new_range(max_datetime="2000-01-01T06:00:00Z", nullable=True)
    assert times.validate_instance(None) is None
    assert times.items[0].max_datetime == "2000-01-01T06:00:00Z"
