"""Parsing of item and collection documents into records: band metadata of every STAC form."""

from __future__ import annotations

import pytest
from eostores_stac.catalog import boxes_meet
from eostores_stac.records import band_fields, parse_collection, parse_item

_COG = "image/tiff; application=geotiff"


def _item(asset: dict) -> dict:
    return {
        "type": "Feature",
        "id": "x",
        "collection": "c",
        "bbox": [0, 0, 1, 1],
        "properties": {"datetime": "2024-06-01T10:30:00Z"},
        "assets": {"data": {"href": "https://example.com/x.tif", "type": _COG, **asset}},
    }


V1 = {
    "raster:bands": [
        {"data_type": "uint16", "nodata": 0, "scale": 0.0001, "offset": -0.1, "unit": "1"}
    ]
}
ON_ASSET = {
    "data_type": "uint16",
    "nodata": 0,
    "raster:scale": 0.0001,
    "raster:offset": -0.1,
    "unit": "1",
}
IN_BANDS = {"bands": [{"name": "B04", **ON_ASSET}]}


@pytest.mark.parametrize("form", [V1, ON_ASSET, IN_BANDS], ids=["raster-v1", "asset", "bands"])
def test_every_stac_form_gives_dtype_nodata_scale_offset_unit(form):
    asset = parse_item(_item(form), "d").assets["data"]
    assert (asset.dtype, asset.nodata, asset.scale, asset.offset, asset.unit) == (
        "uint16",
        0.0,
        0.0001,
        -0.1,
        "1",
    )
    assert asset.output_dtype(True) == "float32" and asset.output_dtype(False) == "uint16"


def test_each_field_comes_from_the_first_place_that_has_it():
    asset = {
        "raster:bands": [{"scale": 2.0}],
        "nodata": 7,
        "raster:scale": 3.0,
        "bands": [{"nodata": 9, "raster:offset": 1.5, "data_type": "int16"}],
    }
    assert band_fields(asset) == {"data_type": "int16", "nodata": 7, "scale": 2.0, "offset": 1.5}


def test_raster_v1_names_are_not_read_on_the_asset():
    """``scale`` on the asset itself is no raster field (raster v2 says raster:scale)."""
    assert band_fields({"scale": 2.0, "offset": 1.0}) == {}


def test_collection_item_assets_in_stac_1_1_form():
    collection = {
        "type": "Collection",
        "id": "c",
        "extent": {"spatial": {"bbox": [[0, 0, 1, 1]]}, "temporal": {"interval": [[None, None]]}},
        "item_assets": {"B04": {"type": _COG, "roles": ["data"], **ON_ASSET}},
    }
    variables = parse_collection(collection).variables
    assert variables is not None
    assert variables["B04"].scale == 0.0001 and variables["B04"].nodata == 0.0


def test_bboxes_with_elevations_keep_their_horizontal_corners():
    """6 numbers are [xmin, ymin, zmin, xmax, ymax, zmax] (STAC item and collection bbox)."""
    item = {**_item(V1), "bbox": [10.0, 50.0, -5.0, 11.0, 51.0, 300.0]}
    assert parse_item(item, "d").bbox == (10.0, 50.0, 11.0, 51.0)
    collection = {
        "type": "Collection",
        "id": "c",
        "extent": {"spatial": {"bbox": [[10.0, 50.0, -5.0, 11.0, 51.0, 300.0]]}},
    }
    box = parse_collection(collection).bbox
    assert box == (10.0, 50.0, 11.0, 51.0)
    assert boxes_meet(box, [10.5, 50.5, 12.0, 52.0])
    assert not boxes_meet(box, [-6.0, 50.5, -4.0, 52.0]), "the elevation is no longitude"


def test_the_emulator_reads_item_bboxes_with_elevations():
    from eostores_stac.testing.query import boxes_intersect

    item_box = [10.0, 50.0, -5.0, 11.0, 51.0, 300.0]
    assert boxes_intersect(item_box, [10.5, 50.5, 12.0, 52.0])
    assert not boxes_intersect(item_box, [-6.0, 50.5, -4.0, 52.0])
    assert boxes_intersect(item_box, [10.5, 50.5, 0.0, 12.0, 52.0, 10.0])


def test_collection_extents_of_an_xcube_server():
    """xcube keys the datacubes extent by dataset id, and gives a dataset's own collection
    one flat bbox; both are read (joined), not refused."""
    keyed = {
        "type": "Collection",
        "id": "datacubes",
        "extent": {
            "spatial": {"bbox": {"a": [0.0, 50.0, 3.0, 52.0], "b": [-1.0, 51.0, 2.0, 53.0]}},
            "temporal": {
                "interval": {
                    "a": ["2024-01-01T00:00:00Z", "2024-01-05T00:00:00Z"],
                    "b": ["2023-12-30T00:00:00Z", "2024-01-02T00:00:00Z"],
                }
            },
        },
    }
    record = parse_collection(keyed)
    assert record.bbox == (-1.0, 50.0, 3.0, 53.0)
    assert record.interval == ("2023-12-30T00:00:00Z", "2024-01-05T00:00:00Z")
    keyed["extent"]["temporal"]["interval"]["b"][1] = None
    assert parse_collection(keyed).interval == ("2023-12-30T00:00:00Z", None)
    flat = {**keyed, "extent": {"spatial": {"bbox": [0.0, 50.0, 3.0, 52.0]}}}
    assert parse_collection(flat).bbox == (0.0, 50.0, 3.0, 52.0)
    assert parse_collection(flat).interval is None


@pytest.mark.parametrize(
    "extent",
    [None, "x", {"spatial": [], "temporal": "x"}, {"spatial": {"bbox": {"a": "x"}}}],
)
def test_unreadable_collection_extents_give_no_extent(extent):
    record = parse_collection({"type": "Collection", "id": "c", "extent": extent})
    assert record.bbox is None and record.interval is None
