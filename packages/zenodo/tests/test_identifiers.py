"""Parsing the root parameter: record ids, DOIs and record URLs."""

from __future__ import annotations

import pytest
from eostores_zenodo.config import parse_root

from eostores.errors import InvalidParameterError


@pytest.mark.parametrize(
    "root",
    [
        "7000002",
        7000002,
        " 07000002 ",
        "10.5281/zenodo.7000002",
        "doi:10.5281/zenodo.7000002",
        "DOI:10.5281/ZENODO.7000002",
        "https://doi.org/10.5281/zenodo.7000002",
        "https://zenodo.org/records/7000002",
        "https://zenodo.org/records/7000002/files/temperature.nc?download=1",
        "https://zenodo.org/record/7000002",
        "https://zenodo.org/api/records/7000002",
        "https://zenodo.org/doi/10.5281/zenodo.7000002",
        "https://sandbox.zenodo.org/records/7000002",
        "10.5072/zenodo.7000002",
        "https%3A%2F%2Fzenodo.org%2Frecords%2F7000002",
    ],
)
def test_record_references_give_the_record_id(root):
    reference = parse_root(root)
    assert reference.record_id == "7000002"
    assert reference.doi is None


@pytest.mark.parametrize(
    "root",
    [
        "10.5194/essd-12-345-2020",
        "doi:10.5194/essd-12-345-2020",
        "https://doi.org/10.5194/essd-12-345-2020",
    ],
)
def test_other_dois_are_kept_for_a_lookup(root):
    reference = parse_root(root)
    assert reference.record_id is None
    assert reference.doi == "10.5194/essd-12-345-2020"


@pytest.mark.parametrize(
    "root", ["", "   ", "not a record", "https://example.org/datasets/12", "10.5281"]
)
def test_other_roots_are_refused_naming_the_parameter(root):
    with pytest.raises(InvalidParameterError) as caught:
        parse_root(root)
    assert caught.value.parameter == "root"
