"""GeoJSON and Shapefile: round trips, column/bbox/crs filters, metadata-only descriptions."""

from __future__ import annotations

import uuid

import fsspec
import geopandas as gpd
import numpy as np
import pyogrio
import pyproj
import pytest
import shapely

from eostores.descriptor import GeoDataFrameDescriptor
from eostores.errors import DataNotFoundError, DataStoreError, InvalidParameterError
from eostores.fs.formats import handler_for_path
from eostores.fs.geojson import GeoJsonHandler
from eostores.fs.shapefile import ShapefileHandler, shapefile_paths
from eostores.schema import (
    JsonBooleanSchema,
    JsonIntegerSchema,
    JsonNumberSchema,
    JsonStringSchema,
)

X0, Y0, STEP = 500_000.0, 6_000_000.0, 1_000.0
COLUMNS = 10, 5


def grid_points() -> gpd.GeoDataFrame:
    """Points on a 10 x 5 grid; ``value = 10 * iy + ix`` where x = X0 + STEP * ix."""
    ix, iy = np.meshgrid(np.arange(COLUMNS[0]), np.arange(COLUMNS[1]))
    ix, iy = ix.ravel(), iy.ravel()
    return gpd.GeoDataFrame(
        {
            "ix": ix.astype("int64"),
            "iy": iy.astype("int64"),
            "value": (10.0 * iy + ix),
            "name": [f"pünkt-{i}-{j}" for i, j in zip(ix, iy, strict=True)],
            "even": (ix % 2 == 0),
        },
        geometry=shapely.points(X0 + STEP * ix, Y0 + STEP * iy),
        crs="EPSG:32632",
    )


def check_values(gdf: gpd.GeoDataFrame) -> None:
    """Every feature still carries the values that follow from its position."""
    x, y = gdf.geometry.x.values, gdf.geometry.y.values
    np.testing.assert_array_equal(gdf["ix"].values, (x - X0) / STEP)
    np.testing.assert_array_equal(gdf["iy"].values, (y - Y0) / STEP)
    np.testing.assert_array_equal(gdf["value"].values, 10 * gdf["iy"].values + gdf["ix"].values)


@pytest.fixture(params=["file", "memory"])
def fs_root(request, tmp_path):
    fs = fsspec.filesystem(request.param)
    if request.param == "file":
        yield fs, str(tmp_path)
    else:
        root = f"/vector-test-{uuid.uuid4().hex}"
        fs.makedirs(root, exist_ok=True)
        yield fs, root
        fs.rm(root, recursive=True)


@pytest.fixture(params=["geojson", "shp", "shp.zip", "shz"])
def written(request, fs_root):
    """(handler, fs, path) of the grid points written in each vector format."""
    fs, root = fs_root
    handler = GeoJsonHandler() if request.param == "geojson" else ShapefileHandler()
    path = f"{root}/points.{request.param}"
    handler.write(grid_points(), fs, path, {})
    return handler, fs, path


def open_params(handler, **values) -> dict:
    return handler.get_open_params_schema("geodataframe").validate_instance(values)


def test_handlers_are_registered_by_extension():
    assert isinstance(handler_for_path("a/roads.geojson"), GeoJsonHandler)
    for name in ("roads.shp", "roads.SHP", "roads.shp.zip", "roads.shz"):
        assert isinstance(handler_for_path(name), ShapefileHandler)
    assert handler_for_path("roads.json") is None
    assert GeoJsonHandler.writable_types == ShapefileHandler.writable_types == ("geodataframe",)


def test_round_trip_keeps_features_values_and_crs(written):
    handler, fs, path = written
    gdf = handler.open(fs, path, "geodataframe", open_params(handler))
    assert isinstance(gdf, gpd.GeoDataFrame)
    assert len(gdf) == 50
    assert gdf.crs.to_epsg() == 32632
    assert list(gdf.columns) == ["ix", "iy", "value", "name", "even", "geometry"]
    check_values(gdf)
    assert "pünkt-3-4" in set(gdf["name"])  # text survives as UTF-8
    assert gdf["even"].tolist() == (gdf["ix"] % 2 == 0).tolist()


def test_bbox_keeps_the_features_inside(written):
    handler, fs, path = written
    bbox = [X0 + 1500, Y0 + 500, X0 + 4500, Y0 + 2500]  # ix 2..4, iy 1..2
    gdf = handler.open(fs, path, "geodataframe", open_params(handler, bbox=bbox))
    check_values(gdf)
    assert sorted(zip(gdf["ix"], gdf["iy"], strict=True)) == [
        (ix, iy) for ix in (2, 3, 4) for iy in (1, 2)
    ]


def test_columns_select_properties(written):
    handler, fs, path = written
    gdf = handler.open(fs, path, "geodataframe", open_params(handler, columns=["value"]))
    assert list(gdf.columns) == ["value", "geometry"]
    gdf = handler.open(fs, path, "geodataframe", open_params(handler, columns=[]))
    assert list(gdf.columns) == ["geometry"] and len(gdf) == 50
    with pytest.raises(InvalidParameterError, match="nope") as info:
        handler.open(fs, path, "geodataframe", open_params(handler, columns=["nope"]))
    assert info.value.parameter == "columns"


def test_crs_reprojects_and_bbox_is_then_in_that_crs(written):
    handler, fs, path = written
    gdf = handler.open(fs, path, "geodataframe", open_params(handler, crs="EPSG:4326"))
    assert gdf.crs.to_epsg() == 4326
    to_utm = pyproj.Transformer.from_crs(4326, 32632, always_xy=True)
    x, y = to_utm.transform(gdf.geometry.x.values, gdf.geometry.y.values)
    np.testing.assert_allclose(x, X0 + STEP * gdf["ix"].values, atol=1e-3)
    np.testing.assert_allclose(y, Y0 + STEP * gdf["iy"].values, atol=1e-3)

    lon, lat = gdf.geometry.x.values, gdf.geometry.y.values
    bbox = [lon.min() - 1e-6, lat.min() - 1e-6, np.median(lon), np.median(lat)]
    inside = (lon <= bbox[2]) & (lat <= bbox[3])
    subset = handler.open(
        fs, path, "geodataframe", open_params(handler, crs="EPSG:4326", bbox=bbox)
    )
    assert sorted(subset["value"]) == sorted(gdf["value"][inside])
    assert 0 < len(subset) < 50

    with pytest.raises(InvalidParameterError) as info:
        handler.open(fs, path, "geodataframe", open_params(handler, crs="EPSG:nope"))
    assert info.value.parameter == "crs"


def test_describe_from_metadata(written):
    handler, fs, path = written
    descriptor = handler.describe(fs, path, "points", "geodataframe")
    assert isinstance(descriptor, GeoDataFrameDescriptor)
    assert descriptor.num_features == 50
    assert descriptor.crs == "EPSG:32632"
    assert descriptor.bbox == pytest.approx((X0, Y0, X0 + 9 * STEP, Y0 + 4 * STEP))
    properties = descriptor.feature_schema.properties
    assert list(properties) == ["ix", "iy", "value", "name", "even"]
    assert isinstance(properties["ix"], JsonIntegerSchema)
    assert isinstance(properties["value"], JsonNumberSchema)
    assert isinstance(properties["name"], JsonStringSchema)
    assert isinstance(properties["even"], JsonBooleanSchema)
    assert GeoDataFrameDescriptor.from_dict(descriptor.to_dict()).num_features == 50


def test_missing_files(fs_root):
    fs, root = fs_root
    for handler, name in (
        (GeoJsonHandler(), "none.geojson"),
        (ShapefileHandler(), "none.shp"),
        (ShapefileHandler(), "none.shp.zip"),
    ):
        with pytest.raises(DataNotFoundError):
            handler.open(fs, f"{root}/{name}", "geodataframe", {})
        with pytest.raises(DataNotFoundError):
            handler.describe(fs, f"{root}/{name}", name, "geodataframe")


def test_geojson_bbox_tests_geometries_not_just_envelopes(fs_root):
    fs, root = fs_root
    handler = GeoJsonHandler()
    lines = gpd.GeoDataFrame(
        {"id": [1, 2]},
        geometry=[shapely.LineString([(0, 0), (10, 10)]), shapely.LineString([(0, 9), (10, 9)])],
        crs="EPSG:4326",
    )
    path = f"{root}/lines.geojson"
    handler.write(lines, fs, path, {})
    # the box lies inside the envelope of line 1 but off the line itself
    gdf = handler.open(fs, path, "geodataframe", open_params(handler, bbox=[8, 0, 10, 2]))
    assert gdf["id"].tolist() == []
    gdf = handler.open(fs, path, "geodataframe", open_params(handler, bbox=[8, 8, 10, 10]))
    assert sorted(gdf["id"]) == [1, 2]


def test_broken_geojson_is_a_data_store_error(fs_root):
    fs, root = fs_root
    path = f"{root}/broken.geojson"
    fs.pipe_file(path, b'{"type": "FeatureCollection", "features": [')
    with pytest.raises(DataStoreError, match=r"broken\.geojson"):
        GeoJsonHandler().open(fs, path, "geodataframe", {})


def test_plain_shapefile_is_written_with_its_sidecars(fs_root):
    fs, root = fs_root
    handler = ShapefileHandler()
    handler.write(grid_points(), fs, f"{root}/pts.shp", {})
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(root, detail=False))
    assert names == ["pts.cpg", "pts.dbf", "pts.prj", "pts.shp", "pts.shx"]
    assert shapefile_paths(fs, f"{root}/pts.shp")[-1] == f"{root}/pts.shp"


def test_zipped_shapefiles_are_single_files(fs_root):
    fs, root = fs_root
    handler = ShapefileHandler()
    for name in ("pts.shp.zip", "pts.shz"):
        handler.write(grid_points(), fs, f"{root}/{name}", {})
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(root, detail=False))
    assert names == ["pts.shp.zip", "pts.shz"]
    with pytest.raises(InvalidParameterError):
        handler.write(grid_points(), fs, f"{root}/pts.gpkg", {})


def test_shapefile_move_and_delete_take_the_sidecars_along(fs_root):
    fs, root = fs_root
    handler = ShapefileHandler()
    handler.write(grid_points(), fs, f"{root}/.tmp-1234-pts.shp", {})
    handler.move(fs, f"{root}/.tmp-1234-pts.shp", f"{root}/pts.shp")
    names = sorted(p.rsplit("/", 1)[-1] for p in fs.ls(root, detail=False))
    assert names == ["pts.cpg", "pts.dbf", "pts.prj", "pts.shp", "pts.shx"]
    check_values(handler.open(fs, f"{root}/pts.shp", "geodataframe", {}))
    handler.delete(fs, f"{root}/pts.shp")
    assert fs.ls(root, detail=False) == []
    with pytest.raises(DataNotFoundError):
        handler.delete(fs, f"{root}/pts.shp")


def test_shapefile_encoding_parameter_for_files_without_cpg(tmp_path):
    fs = fsspec.filesystem("file")
    gdf = gpd.GeoDataFrame({"name": ["жук"]}, geometry=[shapely.Point(1, 2)], crs="EPSG:4326")
    path = tmp_path / "cyrillic.shp"
    pyogrio.write_dataframe(gdf, path, encoding="cp1251")
    (tmp_path / "cyrillic.cpg").unlink()
    handler = ShapefileHandler()
    read = handler.open(fs, str(path), "geodataframe", open_params(handler, encoding="cp1251"))
    assert read["name"].tolist() == ["жук"]
    assert handler.open(fs, str(path), "geodataframe", {})["name"].tolist() != ["жук"]
