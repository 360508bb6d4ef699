"""The vendored STAC schemas (tests/data/stac-schemas) are complete, valid JSON schemas."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

SCHEMAS = Path(__file__).parent / "data" / "stac-schemas"


def test_every_schema_is_a_valid_draft7_schema_with_its_published_id():
    documents = [json.loads(path.read_text()) for path in sorted(SCHEMAS.rglob("*.json"))]
    ids = [document["$id"] for document in documents]
    assert len(ids) == len(set(ids)) == 13
    for document in documents:
        jsonschema.Draft7Validator.check_schema(document)
    assert "https://schemas.stacspec.org/v1.0.0/item-spec/json-schema/item.json#" in ids
    assert (SCHEMAS / "LICENSE").read_text().lstrip().startswith("Apache License")
