"""Multi-level datasets stored as one zarr per level: the ``.levels`` directory format.

Layout of ``<name>.levels/``:

- ``.zlevels``: a JSON document ``{"version": "1.0", "num_levels": N, "tile_size": [w, h],
  "agg_methods": {...}, "use_saved_levels": bool}``, written last;
- ``0.zarr`` ... ``<N-1>.zarr``: the levels, level 0 the finest, chunked by ``tile_size``;
- instead of ``0.zarr``, a ``0.link`` file may hold the path of an existing zarr dataset,
  relative to the directory that contains the ``.levels`` directory, which then serves as
  level 0 (written with the ``base_dataset_id`` parameter, so the base is not copied).
"""

from __future__ import annotations

import json
import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import DataNotFoundError, DataStoreError, InvalidParameterError
from .formats import FormatHandler
from .paths import is_absolute
from .xarray_params import dataset_open_params_schema
from .zarr import ZarrHandler, is_zarr

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

    from ..descriptor import DataDescriptor
    from ..schema import JsonObjectSchema

LEVELS_FILE = ".zlevels"
LINK_FILE = "0.link"
FORMAT_VERSION = "1.0"

_LEVEL_NAME = re.compile(r"^(\d+)\.zarr$")
_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*://)(.*)$")


@dataclass(frozen=True)
class LevelsInfo:
    """The content of ``.zlevels`` (or what the directory listing says without one)."""

    num_levels: int
    tile_size: tuple[int, int] | None = None
    agg_methods: dict[str, str] | None = None
    use_saved_levels: bool = False

    def to_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {"version": FORMAT_VERSION, "num_levels": self.num_levels}
        if self.tile_size is not None:
            result["tile_size"] = list(self.tile_size)
        if self.agg_methods is not None:
            result["agg_methods"] = dict(self.agg_methods)
        result["use_saved_levels"] = self.use_saved_levels
        return result


def read_levels_info(fs: AbstractFileSystem, path: str) -> LevelsInfo:
    """Read ``.zlevels``; without it, count the consecutive level directories."""
    if not fs.exists(path):
        raise DataNotFoundError(f"no levels dataset at {path!r}")
    levels_file = f"{path}/{LEVELS_FILE}"
    if fs.exists(levels_file):
        try:
            document = json.loads(fs.cat_file(levels_file))
            num_levels = int(document["num_levels"])
            tile_size = document.get("tile_size")
            if isinstance(tile_size, int):
                tile_size = [tile_size, tile_size]
            info = LevelsInfo(
                num_levels=num_levels,
                tile_size=tuple(int(v) for v in tile_size) if tile_size else None,
                agg_methods=document.get("agg_methods"),
                use_saved_levels=bool(document.get("use_saved_levels", False)),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise DataStoreError(f"invalid {LEVELS_FILE} in {path!r}: {error}") from error
        if info.num_levels < 1:
            raise DataStoreError(f"invalid {LEVELS_FILE} in {path!r}: num_levels < 1")
        return info
    names = {posixpath.basename(p.rstrip("/")) for p in fs.ls(path, detail=False)}
    indexes = {int(m.group(1)) for m in map(_LEVEL_NAME.match, names) if m}
    if LINK_FILE in names:
        indexes.add(0)
    count = 0
    while count in indexes:
        count += 1
    if count == 0:
        raise DataStoreError(f"{path!r} holds no levels (no {LEVELS_FILE}, no 0.zarr)")
    return LevelsInfo(num_levels=count)


def _resolve(base: str, relative: str) -> str:
    """``relative`` resolved against the directory ``base`` (a path or a URL)."""
    match = _URL.match(base)
    prefix, rest = (match.group(1), match.group(2)) if match else ("", base)
    joined = posixpath.normpath(posixpath.join(rest, relative))
    if rest.startswith("/") or not joined.startswith(".."):
        return prefix + joined
    raise InvalidParameterError(
        f"the link {relative!r} leads outside the filesystem", parameter="base_dataset_id"
    )


def level_path(fs: AbstractFileSystem, path: str, level: int) -> str:
    """The zarr path of ``level``, following ``0.link`` for level 0."""
    if level == 0 and fs.exists(f"{path}/{LINK_FILE}"):
        link = fs.cat_file(f"{path}/{LINK_FILE}").decode("utf-8").strip()
        return _resolve(posixpath.dirname(path.rstrip("/")), link)
    return f"{path}/{level}.zarr"


@dataclass
class LevelOpener:
    """Opens one level lazily as a zarr and applies the common parameters (picklable)."""

    fs: Any
    path: str
    params: dict[str, Any]

    def __call__(self, level: int) -> Any:
        from .subset import apply_common_params

        zarr_path = level_path(self.fs, self.path, level)
        if not self.fs.exists(zarr_path):
            raise DataNotFoundError(f"level {level} is missing: no zarr at {zarr_path!r}")
        dataset = ZarrHandler().open(self.fs, zarr_path, "dataset", self.params)
        return apply_common_params(dataset, self.params)


def chunk_tile_size(dataset: Any) -> tuple[int, int] | None:
    """The chunk size of ``dataset`` in x and y: of the first data variable chunked (by dask
    or, as stored, in its encoding) along both; None when there is none."""
    from ..mldataset import spatial_dims

    try:
        x_dim, y_dim = spatial_dims(dataset)
    except InvalidParameterError:
        return None
    for variable in dataset.data_vars.values():
        if x_dim not in variable.dims or y_dim not in variable.dims:
            continue
        x_index, y_index = variable.dims.index(x_dim), variable.dims.index(y_dim)
        if variable.chunks:
            return int(variable.chunks[x_index][0]), int(variable.chunks[y_index][0])
        stored = variable.encoding.get("chunks")
        if stored and len(stored) == variable.ndim:
            return int(stored[x_index]), int(stored[y_index])
    return None


class LevelsHandler(FormatHandler):
    format_id = "levels"
    data_types = ("mldataset", "dataset")
    extensions = (".levels",)
    writable_types = ("mldataset", "dataset")
    is_directory = True

    def get_open_params_schema(self, data_type: str) -> JsonObjectSchema:
        from ..schema import JsonBooleanSchema, JsonIntegerSchema, bbox_schema

        properties: dict[str, Any] = dict(
            bbox=bbox_schema(
                crs_units="units",
                description="xmin, ymin, xmax, ymax in the units of the x/y (or lon/lat) "
                "coordinates; applied to every level.",
            ),
            consolidated=JsonBooleanSchema(
                title="Use consolidated metadata",
                description="Default: use it when present, else read each array's metadata.",
            ),
            cache_size=JsonIntegerSchema(
                minimum=0, title="In-memory cache of recently read chunks per level, in bytes"
            ),
        )
        if data_type == "dataset":
            properties["level"] = JsonIntegerSchema(
                minimum=0, default=0, title="The level to open; 0 is the finest resolution"
            )
        return dataset_open_params_schema(**properties)

    def open(self, fs: AbstractFileSystem, path: str, data_type: str, params: Mapping) -> Any:
        info = read_levels_info(fs, path)
        opener = LevelOpener(fs, path, {k: v for k, v in params.items() if k != "level"})
        if data_type == "dataset":
            level = params.get("level", 0)
            if not 0 <= level < info.num_levels:
                raise InvalidParameterError(
                    f"level {level} does not exist; allowed: 0 to {info.num_levels - 1}",
                    parameter="level",
                )
            return opener(level)
        from ..mldataset import LazyMultiLevelDataset

        return LazyMultiLevelDataset(
            opener, info.num_levels, ds_id=posixpath.basename(path.rstrip("/"))
        )

    def describe(
        self, fs: AbstractFileSystem, path: str, data_id: str, data_type: str
    ) -> DataDescriptor:
        """Describe level 0 from its metadata, with the number of levels."""
        from ..descriptor import DatasetDescriptor, MultiLevelDatasetDescriptor

        info = read_levels_info(fs, path)
        base = LevelOpener(fs, path, {})(0)
        if data_type == "dataset":
            return DatasetDescriptor.from_dataset(data_id, base)
        return MultiLevelDatasetDescriptor.from_dataset(data_id, base, num_levels=info.num_levels)

    def get_write_params_schema(self) -> JsonObjectSchema:
        from ..mldataset import AGG_METHODS
        from ..schema import (
            JsonArraySchema,
            JsonBooleanSchema,
            JsonComplexSchema,
            JsonIntegerSchema,
            JsonObjectSchema,
            JsonStringSchema,
        )

        positive = JsonIntegerSchema(minimum=1)
        method = JsonStringSchema(enum=list(AGG_METHODS))
        return JsonObjectSchema(
            properties=dict(
                tile_size=JsonComplexSchema(
                    any_of=[positive, JsonArraySchema(items=[positive, positive])],
                    title="Tile size in pixels: one number or [width, height]",
                    description="The zarr chunk size of every level. Default: the data's "
                    "chunk size in x and y, else 512.",
                ),
                num_levels=JsonIntegerSchema(
                    minimum=1,
                    title="Number of levels",
                    description="Default: halving the resolution until the coarsest level "
                    "fits into one tile.",
                ),
                agg_methods=JsonComplexSchema(
                    any_of=[method, JsonObjectSchema(additional_properties=method)],
                    title="How blocks of pixels are aggregated, per variable or for all",
                    description="Default: mean for floating-point variables, first for "
                    "integer and flag variables.",
                ),
                use_saved_levels=JsonBooleanSchema(
                    default=False,
                    title="Compute each level from the level written before it",
                    description="Faster for large data; for partial blocks at the edges, "
                    "averages may then differ slightly from averaging the base.",
                ),
                base_dataset_id=JsonStringSchema(
                    min_length=1,
                    title="An existing zarr to link as level 0 instead of copying it",
                    description="Its path relative to the directory holding the .levels "
                    "directory; the data written must be that dataset.",
                ),
            ),
            additional_properties=False,
        )

    def write(self, data: Any, fs: AbstractFileSystem, path: str, params: Mapping) -> None:
        import xarray as xr

        from ..mldataset import (
            BaseMultiLevelDataset,
            MultiLevelDataset,
            coarsen_dataset,
            normalize_tile_size,
            spatial_dims,
        )

        tile_size = params.get("tile_size")
        if tile_size is None:
            base = data if isinstance(data, xr.Dataset) else None
            if base is None and isinstance(data, MultiLevelDataset):
                base = data.get_dataset(0)
            tile_size = chunk_tile_size(base) if base is not None else None
        tile_size = normalize_tile_size(tile_size)
        use_saved = bool(params.get("use_saved_levels", False))
        if isinstance(data, xr.Dataset):
            computed = BaseMultiLevelDataset(
                data, params.get("num_levels"), tile_size, params.get("agg_methods")
            )
            levels: MultiLevelDataset = computed
            agg_methods: dict[str, str] | None = computed.agg_methods
            num_levels = computed.num_levels
        elif isinstance(data, MultiLevelDataset):
            for name in ("agg_methods", "use_saved_levels"):
                if params.get(name):
                    raise InvalidParameterError(
                        f"{name} applies when writing an xarray.Dataset, whose levels are "
                        "computed; a MultiLevelDataset brings its own levels",
                        parameter=name,
                    )
            levels, agg_methods = data, None
            num_levels = params.get("num_levels") or data.num_levels
            if num_levels > data.num_levels:
                raise InvalidParameterError(
                    f"num_levels {num_levels} exceeds the {data.num_levels} levels of the data",
                    parameter="num_levels",
                )
        else:
            raise InvalidParameterError(
                f"cannot write {type(data).__name__} as levels", parameter="data"
            )

        fs.makedirs(path, exist_ok=True)
        base_id = params.get("base_dataset_id")
        if base_id:
            self._link_base(fs, path, base_id)
        zarr = ZarrHandler()
        for level in range(num_levels):
            if level == 0 and base_id:
                continue
            if use_saved and level > 0:
                previous = LevelOpener(fs, path, {})(level - 1)
                dataset = coarsen_dataset(previous, 2, agg_methods)
            else:
                dataset = levels.get_dataset(level)
            x_dim, y_dim = spatial_dims(dataset)
            dataset = dataset.chunk({x_dim: tile_size[0], y_dim: tile_size[1]})
            zarr.write(dataset, fs, f"{path}/{level}.zarr", {})
        info = LevelsInfo(num_levels, tile_size, agg_methods, use_saved)
        fs.pipe_file(f"{path}/{LEVELS_FILE}", json.dumps(info.to_dict(), indent=2).encode())

    @staticmethod
    def _link_base(fs: AbstractFileSystem, path: str, base_id: str) -> None:
        text = base_id.replace("\\", "/").strip()
        if is_absolute(text):
            raise InvalidParameterError(
                f"base_dataset_id must be a relative path, got {base_id!r}",
                parameter="base_dataset_id",
            )
        target = _resolve(posixpath.dirname(path.rstrip("/")), text)
        if not (fs.exists(target) and is_zarr(fs, target)):
            raise DataNotFoundError(
                f"base_dataset_id {base_id!r} is not an existing zarr dataset",
                parameter="base_dataset_id",
            )
        fs.pipe_file(f"{path}/{LINK_FILE}", text.encode("utf-8"))
