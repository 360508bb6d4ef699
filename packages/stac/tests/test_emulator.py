"""The emulator against the STAC specification: schemas, paging, search extensions, modes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pystac_client
import pytest
import requests

# the official STAC schemas, kept in the repository (tests/data/stac-schemas)
SCHEMAS = Path(__file__).resolve().parents[3] / "tests" / "data" / "stac-schemas"
_GEOMETRY = {
    "type": "object",
    "required": ["type"],
    "properties": {"type": {"type": "string"}, "coordinates": {"type": "array"}},
}
_FEATURE = {
    "type": "object",
    "required": ["type", "geometry", "properties"],
    "properties": {"type": {"const": "Feature"}},
}


def _schema_files():
    """The stored schemas, and the STAC 1.1.0 core schemas that pystac ships."""
    from importlib.resources import files

    yield from SCHEMAS.rglob("*.json")
    core_11 = files("pystac.validation") / "jsonschemas" / "stac-spec" / "v1.1.0"
    yield from (path for path in core_11.iterdir() if path.name.endswith(".json"))


def _registry():
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT7

    resources = []
    for path in _schema_files():
        document = json.loads(path.read_text())
        # published next to the schemas that refer to it, under its file name
        uri = document["$id"].rsplit("/", 1)[0] + "/" + path.name
        resources.append((uri, Resource.from_contents(document, default_specification=DRAFT7)))
    for uri, contents in (
        ("https://geojson.org/schema/Feature.json", _FEATURE),
        ("https://geojson.org/schema/Geometry.json", _GEOMETRY),
        ("https://proj.org/schemas/v0.7/projjson.schema.json", {"type": "object"}),
    ):
        resources.append((uri, DRAFT7.create_resource(contents)))
    import jsonschema_specifications

    return Registry().with_resources(resources).combine(jsonschema_specifications.REGISTRY)


@pytest.fixture(scope="module")
def validate():
    if not SCHEMAS.is_dir():
        pytest.skip(f"the STAC schemas are not at {SCHEMAS}")
    import jsonschema

    registry = _registry()

    def check(document: dict) -> list[str]:
        """Validate against the core schema and every extension schema we have; return them."""
        kind = "item" if document["type"] == "Feature" else "collection"
        version = document["stac_version"]
        core = f"https://schemas.stacspec.org/v{version}/{kind}-spec/json-schema/{kind}.json"
        checked = []
        for uri in [core, *document.get("stac_extensions", [])]:
            try:
                schema = registry.contents(uri)
            except Exception:
                continue  # an extension whose schema is not stored offline
            validator = jsonschema.Draft7Validator(schema, registry=registry)
            errors = sorted(validator.iter_errors(document), key=str)
            assert not errors, f"{document['id']} fails {uri}: {errors[0].message}"
            checked.append(uri)
        return checked

    return check


def test_scene_items_and_collection_validate_against_stac_schemas(api_emulator, validate):
    item = requests.get(
        f"{api_emulator.root}/collections/sentinel-2-l2a/items/"
        + api_emulator.data.scenes[0].item_id,
        timeout=10,
    ).json()
    checked = validate(item)
    assert len(checked) == 5, checked  # core + projection, raster, eo, mgrs
    collection = requests.get(f"{api_emulator.root}/collections/sentinel-2-l2a", timeout=10).json()
    assert len(validate(collection)) == 2  # core + item-assets
    page = requests.get(f"{api_emulator.root}/collections/many-items/items?limit=3", timeout=10)
    for feature in page.json()["features"]:
        validate(feature)


@pytest.mark.parametrize(
    ("mode", "schemas"),
    # cdse: STAC 1.1 core, projection and mgrs (raster v2 and eo v2 are not stored)
    [("cdse_emulator", 3), ("static_emulator", 5), ("cachea_emulator", 5)],
)
def test_items_of_other_modes_validate(request, mode, schemas, validate):
    emulator = request.getfixturevalue(mode)
    headers = {}
    if emulator.mode == "cachea":
        headers["Authorization"] = f"Bearer {emulator.issue_token()}"
    scene = emulator.data.scenes[1]
    if emulator.mode == "cachea":  # items are found by search only
        url = f"{emulator.root}/search?ids={scene.item_id}"
        item = requests.get(url, headers=headers, timeout=10).json()["features"][0]
    else:
        url = f"{emulator.root}/{emulator.item_data_id(scene.item_id)}"
        item = requests.get(url, headers=headers, timeout=10).json()
    assert len(validate(item)) == schemas


def test_cdse_serves_stac_1_1_with_raster_v2(cdse_emulator, validate):
    collection = requests.get(f"{cdse_emulator.root}/collections/sentinel-2-l2a", timeout=10)
    collection = collection.json()
    assert collection["stac_version"] == "1.1.0"
    assert validate(collection) == [
        "https://schemas.stacspec.org/v1.1.0/collection-spec/json-schema/collection.json"
    ]
    scene = cdse_emulator.data.scenes[0]
    item = requests.get(
        f"{cdse_emulator.root}/{cdse_emulator.item_data_id(scene.item_id)}", timeout=10
    )
    assets = item.json()["assets"]
    assert "raster:bands" not in assets["B04"] and "eo:bands" not in assets["B04"]
    assert assets["B04"]["raster:scale"] == collection["item_assets"]["B04"]["raster:scale"]
    assert assets["B04"]["bands"][0]["eo:common_name"] == "red"
    assert assets["aot"]["bands"][0]["data_type"] == "float32"


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_pystac_client_pages_through_all_items(api_emulator, method):
    client = pystac_client.Client.open(api_emulator.catalog_url)
    search = client.search(collections=["many-items"], limit=250, method=method)
    ids = [item["id"] for item in search.items_as_dicts()]
    assert len(ids) == 1200 == len(set(ids))
    assert search.matched() == 1200


def test_items_endpoint_pages_with_page_numbers(api_emulator):
    client = pystac_client.Client.open(api_emulator.catalog_url)
    collection = client.get_collection("many-items")
    ids = [item.id for item in collection.get_items()]
    assert len(ids) == 1200


def test_query_filter_and_sortby(api_emulator):
    client = pystac_client.Client.open(api_emulator.catalog_url)
    by_query = client.search(
        collections=["many-items"], query={"eo:cloud_cover": {"lt": 20}}, max_items=None
    )
    clouds = [i["properties"]["eo:cloud_cover"] for i in by_query.items_as_dicts()]
    assert clouds and max(clouds) < 20 and len(clouds) == 240
    text = client.search(collections=["many-items"], filter="eo:cloud_cover < 20", method="GET")
    as_json = client.search(
        collections=["many-items"],
        filter={"op": "<", "args": [{"property": "eo:cloud_cover"}, 20]},
        method="POST",
    )
    assert {i["id"] for i in text.items_as_dicts()} == {i["id"] for i in as_json.items_as_dicts()}
    ordered = client.search(
        collections=["many-items"], sortby="-properties.eo:cloud_cover", max_items=5
    )
    values = [i["properties"]["eo:cloud_cover"] for i in ordered.items_as_dicts()]
    assert values == sorted(values, reverse=True) and values[0] == 99


def test_search_by_bbox_intersects_datetime_ids(api_emulator):
    client = pystac_client.Client.open(api_emulator.catalog_url)
    scenes = api_emulator.data.scenes
    west = [s for s in scenes if s.zone == 32]
    box = [11.86, 50.05, 11.9, 50.1]  # only the zone-32 tile
    found = {i.id for i in client.search(collections=["sentinel-2-l2a"], bbox=box).items()}
    assert found == {s.item_id for s in west}
    polygon = {
        "type": "Polygon",
        "coordinates": [
            [[11.86, 50.05], [11.9, 50.05], [11.9, 50.1], [11.86, 50.1], [11.86, 50.05]]
        ],
    }
    assert {i.id for i in client.search(intersects=polygon).items()} == found
    first_day = client.search(collections=["sentinel-2-l2a"], datetime="2024-06-01")
    assert {i.id for i in first_day.items()} == {s.item_id for s in scenes if s.day == 0}
    ids = [scenes[0].item_id, scenes[3].item_id]
    assert {i.id for i in client.search(ids=ids).items()} == set(ids)


def test_bad_search_is_answered_with_400(api_emulator):
    for params in ({"filter": "eo:cloud_cover <<< 3"}, {"bbox": "1,2,3"}, {"limit": "zero"}):
        response = requests.get(f"{api_emulator.root}/search", params=params, timeout=10)
        assert response.status_code == 400
        assert response.json()["code"] == "InvalidParameterValue"


def test_static_catalog_uses_relative_links(static_emulator):
    catalog = requests.get(static_emulator.catalog_url, timeout=10).json()
    assert all(not link["href"].startswith("http") for link in catalog["links"])
    scene = static_emulator.data.scenes[0]
    item = requests.get(
        f"{static_emulator.root}/{static_emulator.item_data_id(scene.item_id)}", timeout=10
    ).json()
    assert item["assets"]["B04"]["href"] == "./B04.tif"
    folder = static_emulator.item_data_id(scene.item_id).rsplit("/", 1)[0]
    asset = requests.get(
        f"{static_emulator.root}/{folder}/B04.tif",
        headers={"Range": "bytes=0-3"},
        timeout=10,
    )
    assert asset.status_code == 206 and asset.content[:2] in (b"II", b"MM")


def test_cachea_needs_a_token_and_limits_parallel_downloads(cachea_emulator):
    root = cachea_emulator.root
    assert requests.get(f"{root}/collections", timeout=10).status_code == 401
    token = cachea_emulator.issue_token()
    headers = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{root}/collections", headers=headers, timeout=10).status_code == 200
    query = requests.get(f"{root}/search", params={"query": "{}"}, headers=headers, timeout=10)
    assert query.status_code == 400
    wrong = requests.get(
        f"{root}/search", params={"filter": "platform = 'x'"}, headers=headers, timeout=10
    )
    assert wrong.status_code == 400
    unequal = requests.get(
        f"{root}/search", params={"filter": "eo:cloud_cover <> 20"}, headers=headers, timeout=10
    )
    assert unequal.status_code == 400, "only =, <, <=, > and >= are documented"
    scene = cachea_emulator.data.scenes[0]
    by_post = requests.post(f"{root}/search", json={}, headers=headers, timeout=10)
    assert by_post.status_code == 405, "search by GET only, as documented"
    endpoint = requests.get(
        f"{root}/{cachea_emulator.item_data_id(scene.item_id)}", headers=headers, timeout=10
    )
    assert endpoint.status_code == 404, "no features item endpoint is documented"
    page = requests.get(
        f"{root}/search", params={"ids": scene.item_id}, headers=headers, timeout=10
    )
    (item,) = page.json()["features"]
    href = item["assets"]["B02"]["href"]
    assert requests.get(href, headers=headers, timeout=10).status_code == 405
    statuses: list[int] = []
    lock = threading.Lock()

    def download() -> None:
        status = requests.post(href, headers=headers, timeout=30).status_code
        with lock:
            statuses.append(status)

    threads = [threading.Thread(target=download) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(200) >= 2 and statuses.count(429) >= 1
    assert set(statuses) <= {200, 429}


def test_xcube_server_s3_interface_lists_and_serves(xcube_emulator):
    import s3fs

    fs = s3fs.S3FileSystem(anon=True, client_kwargs={"endpoint_url": f"{xcube_emulator.url}/s3"})
    assert "datasets/demo.zarr" in fs.ls("datasets")
    assert fs.cat("datasets/demo.zarr/.zgroup")
    with pytest.raises(FileNotFoundError):
        fs.cat("datasets/missing.zarr/.zgroup")


def test_every_served_document_validates(
    xcube_emulator, static_emulator, cachea_emulator, api_emulator, validate
):
    for path in ("datacubes/items/demo", "demo/items/datacube"):
        xcube_item = requests.get(f"{xcube_emulator.root}/collections/{path}", timeout=10)
        assert validate(xcube_item.json())  # datetime null with start and end
    for emulator, headers in (
        (api_emulator, {}),
        (cachea_emulator, {"Authorization": f"Bearer {cachea_emulator.issue_token()}"}),
    ):
        listing = requests.get(f"{emulator.root}/collections", headers=headers, timeout=10)
        for collection in listing.json()["collections"]:
            assert validate(collection)
        page = requests.get(f"{emulator.root}/search", headers=headers, timeout=10).json()
        assert page["type"] == "FeatureCollection" and page["numberReturned"] == len(
            page["features"]
        )
        for feature in page["features"]:
            assert validate(feature)
    collection_url = f"{static_emulator.root}/sentinel-2-l2a/collection.json"
    assert validate(requests.get(collection_url, timeout=10).json())


def test_landing_page_links_the_service_description(api_emulator):
    landing = requests.get(f"{api_emulator.root}/", timeout=10).json()
    rels = {link["rel"] for link in landing["links"]}
    assert {"self", "root", "service-desc", "conformance", "data", "search"} <= rels
    described = next(link for link in landing["links"] if link["rel"] == "service-desc")
    response = requests.get(described["href"], timeout=10)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/vnd.oai.openapi+json")
    document = response.json()
    assert document["openapi"].startswith("3.")
    assert {"/search", "/collections/{collectionId}/items"} <= set(document["paths"])


def test_search_by_datetime_meets_item_intervals():
    from eostores_stac.testing import StacEmulator

    with StacEmulator(mode="xcube", item_search=True) as emulator:  # items with intervals
        client = pystac_client.Client.open(emulator.catalog_url)
        inside = client.search(collections=["datacubes"], datetime="2024-01-03")
        assert [i.id for i in inside.items()] == ["demo"]
        before = client.search(collections=["datacubes"], datetime="2023-12-01/2023-12-31")
        assert not list(before.items())


def test_xcube_server_has_no_item_search_and_keys_extents_by_dataset(xcube_emulator):
    """As xcube's STAC controllers: no item-search class, /search answers {}, the datacubes
    collection's extent is keyed by dataset id, a dataset's own collection has a flat bbox."""
    landing = requests.get(f"{xcube_emulator.root}/", timeout=10).json()
    assert not [c for c in landing["conformsTo"] if "item-search" in c]
    assert "https://api.stacspec.org/v1.0.0/ogcapi-features" in landing["conformsTo"]
    assert requests.get(f"{xcube_emulator.root}/search", timeout=10).json() == {}
    assert requests.post(f"{xcube_emulator.root}/search", json={}, timeout=10).json() == {}
    listing = requests.get(f"{xcube_emulator.root}/collections", timeout=10).json()
    extents = {c["id"]: c["extent"] for c in listing["collections"]}
    assert set(extents) == {"datacubes", "demo"}
    assert extents["datacubes"]["spatial"]["bbox"] == {"demo": [0.0, 50.0, 3.0, 52.0]}
    assert set(extents["datacubes"]["temporal"]["interval"]) == {"demo"}
    assert extents["demo"]["spatial"]["bbox"] == [0.0, 50.0, 3.0, 52.0]
    own = requests.get(f"{xcube_emulator.root}/collections/demo/items", timeout=10).json()
    assert [f["id"] for f in own["features"]] == ["datacube"]


def test_items_and_searches_are_geojson(api_emulator):
    scene = api_emulator.data.scenes[0]
    for url in (
        f"{api_emulator.root}/collections/sentinel-2-l2a/items/{scene.item_id}",
        f"{api_emulator.root}/collections/sentinel-2-l2a/items",
        f"{api_emulator.root}/search?limit=2",
    ):
        response = requests.get(url, timeout=10)
        assert response.headers["Content-Type"] == "application/geo+json", url
