"""Data ids, descriptions and item search: from the STAC API, never from the products."""

from __future__ import annotations

import json
import warnings

import pytest
from conftest import OLCI, S2, product_requests
from eostores_eopf.catalog import (
    Catalog,
    ItemLeftOutWarning,
    describe_collection,
    latest_versions,
    parse_item,
)
from eostores_eopf.products import COLLECTIONS
from eostores_eopf.testing import HOSTILE_ITEMS, EopfEmulator

from eostores import DataNotFoundError, InvalidParameterError
from eostores.descriptor import DataDescriptor


def test_data_ids_are_the_offered_collections_the_store_can_cube(store):
    ids = store.list_data_ids()
    assert ids == [S2, "sentinel-2-l1c", OLCI, "sentinel-1-l1-grd"]
    assert "sentinel-3-olci-l2-lrr" not in ids  # offered, but not a cube the store makes
    assert not store.has_data("sentinel-3-slstr-l2-lst")  # a cube, but not offered here
    with_attrs = dict(store.list_data_ids(include_attrs=["title", "product_type"]))
    assert with_attrs[S2] == {"title": "Sentinel-2 Level-2A", "product_type": "MSIL2A"}
    with pytest.raises(DataNotFoundError, match="does not offer"):
        store.open_data(
            "sentinel-3-slstr-l2-lst", bbox=[0, 0, 1, 1], time_range=["2025-06-01", "2025-06-02"]
        )


def test_describe_uses_collection_metadata_only(shared_emulator, make_store):
    store = make_store(shared_emulator)
    before = len(shared_emulator.request_log)
    descriptor = store.describe_data(S2)
    assert not product_requests(shared_emulator, before)
    assert descriptor.time_range == ("2025-06-01", "2025-06-07")
    west, south, east, north = descriptor.bbox
    assert west < 12.0 < east and south < 45.03 < north
    b02, b05, scl = (descriptor.data_vars[n] for n in ("b02", "b05", "scl"))
    assert (b02.attrs["native_resolution"], b05.attrs["native_resolution"]) == (10, 20)
    assert b02.attrs["common_name"] == "blue" and b02.attrs["stac_asset"] == "B02_10m"
    assert scl.dtype == "uint8" and "flag_meanings" in scl.attrs
    assert "vegetation" in scl.attrs["flag_meanings"]
    olci = store.describe_data(OLCI)
    radiance = olci.data_vars["oa08_radiance"]
    assert radiance.attrs["units"] == "mW.m-2.sr-1.nm-1"
    assert radiance.attrs["native_resolution"] == 300
    again = DataDescriptor.from_dict(json.loads(json.dumps(descriptor.to_dict())))
    assert again.to_dict() == descriptor.to_dict()
    assert descriptor.open_params_schema.properties["variable_names"]


def test_search_keeps_the_latest_version_and_drops_deprecated_items(store):
    found = list(store.search_data(collections=[S2], time_range=["2025-06-01", "2025-06-01"]))
    versions = {d.attrs["grid:code"]: d.attrs["processing:version"] for d in found}
    # the older 05.10 of the first tile and the deprecated 05.12 of the second are gone
    assert versions == {"MGRS-32TQR": "05.11", "MGRS-33TTL": "05.11"}
    assert all(d.data_type == "dataset" and d.bbox for d in found)


def test_search_by_bbox_query_and_limit(store):
    west = list(store.search_data(collections=[S2], bbox=[11.95, 45.0, 11.97, 45.06]))
    assert {d.attrs["grid:code"] for d in west} == {"MGRS-32TQR"}
    cloudy = list(store.search_data(collections=[S2], query={"eo:cloud_cover": {"gte": 15}}))
    assert cloudy and all(d.attrs["eo:cloud_cover"] >= 15 for d in cloudy)
    assert len(list(store.search_data(limit=3))) == 3
    everything = list(store.search_data())
    assert {d.attrs["collection"] for d in everything} == {
        S2,
        "sentinel-2-l1c",
        OLCI,
        "sentinel-1-l1-grd",
    }
    olci = [d for d in everything if d.attrs["collection"] == OLCI]
    assert len(olci) == 2 and all(d.attrs["product:timeliness_category"] == "NT" for d in olci)


def test_search_parameters_are_checked_before_any_request(shared_emulator, make_store):
    store = make_store(shared_emulator)
    before = len(shared_emulator.request_log)
    for params in (
        {"collections": ["no-such-collection"]},
        {"bbox": [10, 0, 0, 10]},
        {"time_range": ["2025-02-30", "2025-03-01"]},
        {"pattern": "*"},
    ):
        with pytest.raises(InvalidParameterError):
            store.search_data(**params)
    assert len(shared_emulator.request_log) == before


def test_a_time_range_ends_at_its_fraction_of_a_second(store):
    # the zone-33 tile is acquired at 10:15:04.25 on June 1st, the zone-32 one at 10:15:00
    found = list(
        store.search_data(
            collections=[S2], time_range=["2025-06-01T10:14:00", "2025-06-01T10:15:04.5"]
        )
    )
    assert {d.attrs["grid:code"] for d in found} == {"MGRS-32TQR", "MGRS-33TTL"}
    assert next(d for d in found if d.attrs["grid:code"] == "MGRS-33TTL").time_range[0] == (
        "2025-06-01T10:15:04.250000Z"
    )
    early = store.search_data(
        collections=[S2], time_range=["2025-06-01T10:14:00", "2025-06-01T10:15:04.2"]
    )
    assert {d.attrs["grid:code"] for d in early} == {"MGRS-32TQR"}


def test_paging_through_many_items(make_store):
    with EopfEmulator(days=60) as emulator:  # 120 tile-days: two pages of 100
        store = make_store(emulator)
        found = list(store.search_data(collections=[S2]))
        assert len(found) == 120
        pages = [r for r in emulator.request_log if r.path == "/search"]
        assert len(pages) == 2


def test_hostile_product_hrefs_are_refused_without_a_request(make_store, shared_emulator):
    with EopfEmulator(hostile=True, data_dir=str(shared_emulator.files.root)) as emulator:
        store = make_store(emulator)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            found = list(store.search_data(collections=[S2]))
            cube = store.open_data(
                S2, bbox=[11.96, 45.02, 11.99, 45.045], spatial_res=0.0005,
                time_range=["2025-06-01", "2025-06-01"], variables=["b04"],
            )  # fmt: skip
            cube.load()
        assert not {d.data_id for d in found} & set(HOSTILE_ITEMS)
        assert not {i for group in cube.attrs["stac_items_per_time"] for i in group} & set(
            HOSTILE_ITEMS
        )
        messages = [str(w.message) for w in caught if issubclass(w.category, ItemLeftOutWarning)]
        assert any(HOSTILE_ITEMS[0] in m and "leaves its folder" in m for m in messages)
        assert any(HOSTILE_ITEMS[1] in m and "http(s) or s3" in m for m in messages)
        paths = [r.raw_path for r in emulator.request_log]
        assert not [p for p in paths if "passwd" in p or ".." in p]


def _document(item_id, version, tile="MGRS-32TQR", when="2025-06-01T10:15:00Z", bbox=None, **extra):
    return {
        "id": item_id,
        "collection": S2,
        "bbox": bbox or [11.9, 45.0, 12.0, 45.1],
        "properties": {"datetime": when, "processing:version": version, "grid:code": tile, **extra},
        "assets": {"product": {"href": f"https://example.org/{item_id}.zarr"}},
    }


def test_latest_versions_per_tile_and_solar_day():
    documents = [
        _document("a", "05.10"),
        _document("b", "05.11"),
        _document("c", "05.09", tile="MGRS-33TTL"),
        _document("d", "05.10", when="2025-06-01T23:30:00Z"),  # same solar day at 12 E
        _document("e", "5.9"),
        _document("f", "05.10", when="2025-06-01T23:30:00Z", bbox=[44, 45, 46, 46]),
    ]
    items = [parse_item(d) for d in documents]
    kept = latest_versions(items, tiled=True)
    assert [i.id for i in kept] == ["b", "c", "f"]
    assert items[3].solar_day == "2025-06-01"  # 23:30 UTC is still June 1st at 12 E
    assert kept[2].solar_day == "2025-06-02"  # ... but June 2nd at 45 E (UTC+3)


def test_swath_acquisitions_prefer_non_time_critical():
    base = {"platform": "sentinel-3a", "sat:absolute_orbit": 1}
    nr = _document("S3A_NR", "004", **base, **{"product:timeliness_category": "NR"})
    nt = _document("S3A_NT", "003", **base, **{"product:timeliness_category": "NT"})
    kept = latest_versions([parse_item(nr), parse_item(nt)], tiled=False)
    assert [i.id for i in kept] == ["S3A_NT"]


def _gridded(**assets):
    document = _document("g", "05.11", **{"proj:code": "EPSG:32632"})
    document["assets"].update(assets)
    return parse_item(document)


_B02 = {"proj:shape": [360, 360], "proj:transform": [10, 0, 700000, 0, -10, 5000000]}
_B05 = {"proj:shape": [180, 180], "proj:transform": [20, 0, 700000, 0, -20, 5000000]}


@pytest.mark.parametrize(
    ("assets", "band", "resolution", "expected"),
    [
        ({"B02_10m": _B02, "B05_20m": _B05}, "b02", 10, ((10, 0, 700000, 0, -10, 5e6), (360, 360))),
        ({"B02_10m": _B02, "B05_20m": _B05}, "b02", 20, ((20, 0, 700000, 0, -20, 5e6), (180, 180))),
        ({"B02_10m": _B02}, "b02", 60, ((60, 0, 700000, 0, -60, 5e6), (60, 60))),
        # proj:bbox and proj:shape without proj:transform
        ({"B09_60m": {"proj:shape": [60, 60], "proj:bbox": [700000, 4996400, 703600, 5e6]}},
         "b02", 20, ((20, 0, 700000, 0, -20, 5e6), (180, 180))),
        ({"B02_10m": _B02}, "b02", 70, None),  # 70 m cells do not tile the extent
        ({"B02_10m": {"proj:shape": [360, 360]}}, "b02", 10, None),
        ({}, "b02", 10, None),
    ],
)  # fmt: skip
def test_band_grids_from_the_items_projection_metadata(assets, band, resolution, expected):
    from eostores_eopf.s2cube import grid_from_item

    grid = grid_from_item(_gridded(**assets), COLLECTIONS[S2].variables[band], resolution)
    if expected is None:
        assert grid is None
    else:
        assert grid.crs == "EPSG:32632"
        assert grid.transform == pytest.approx(expected[0]) and grid.shape == expected[1]


class _Documents:
    """A stand-in for the STAC API that answers every search with fixed item documents."""

    def __init__(self, documents):
        self.documents = documents

    def search(self, collections, **kwargs):
        return iter(self.documents)


def test_bboxes_with_heights_are_read_as_minx_miny_minz_maxx_maxy_maxz():
    item = parse_item(_document("h", "05.11", bbox=[11.9, 45.0, -20.0, 12.0, 45.1, 3000.0]))
    assert item.bbox == (11.9, 45.0, 12.0, 45.1)
    documents = [
        # near the antimeridian but 10 degrees wide: kept
        _document("narrow", "05.11", bbox=[-170.0, 10.0, 0.0, -160.0, 20.0, 3000.0]),
        # a footprint reported across the antimeridian (350 degrees wide): left out
        _document("wide", "05.11", tile="MGRS-01ABC", bbox=[-175.0, 10.0, 0, 175.0, 20.0, 9]),
    ]
    found = Catalog(_Documents(documents)).find_items(S2, bbox=None, time_range=None)
    assert [i.id for i in found] == ["narrow"]
    assert found[0].bbox == (-170.0, 10.0, -160.0, 20.0)
    collection = {"extent": {"spatial": {"bbox": [[10.0, 44.0, -5.0, 13.0, 46.0, 500.0]]}}}
    descriptor = describe_collection(collection, COLLECTIONS[S2], None)
    assert descriptor.bbox == (10.0, 44.0, 13.0, 46.0)
