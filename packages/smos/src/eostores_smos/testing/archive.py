"""The emulated SMOS archive: which products exist, their catalogue items and their files.

Every half orbit since :data:`~.orbits.EPOCH` has a soil moisture (MIR_SMUDP2), an ocean
salinity (MIR_OSUDP2) and a Level-1C (MIR_SCLF1C, catalogue only) product, named and
filed like the real ones (``SMOS/L2SM/MIR_SMUDP2/YYYY/MM/DD/<name>/<name>.nc`` in the
bucket ``eodata``). Every seventh half orbit also has an older processing version (650
instead of 700) whose float fields are off by one, so that readers must choose. Files
are generated on first use into a folder and reused; a temporary folder of the model's own
goes with :meth:`ArchiveModel.close`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from .orbits import HalfOrbit, half_orbits_between
from .products import product_bytes

__all__ = ["BUCKET", "PRODUCT_FOLDERS", "ArchiveModel", "EmulatedProduct"]

BUCKET = "eodata"
PRODUCT_FOLDERS = {
    "MIR_SMUDP2": "SMOS/L2SM/MIR_SMUDP2",
    "MIR_OSUDP2": "SMOS/L2OS/MIR_OSUDP2",
    "MIR_SCLF1C": "SMOS/L1C/MIR_SCLF1C",
}
CURRENT_VERSION = 700
OLD_VERSION = 650


def _stamp(when: datetime) -> str:
    return when.strftime("%Y%m%dT%H%M%S")


def _iso(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.000Z")


@dataclass(frozen=True)
class EmulatedProduct:
    """One product of the archive."""

    product_type: str
    orbit: HalfOrbit
    version: int = CURRENT_VERSION

    @property
    def name(self) -> str:
        o = self.orbit
        return (
            f"SM_OPER_{self.product_type}_{_stamp(o.start)}_{_stamp(o.end)}_"
            f"{self.version:03d}_001_1"
        )

    @property
    def folder(self) -> str:
        """The product folder below the bucket."""
        return f"{PRODUCT_FOLDERS[self.product_type]}/{self.orbit.start:%Y/%m/%d}/{self.name}"

    @property
    def path(self) -> str:
        """The product file below the bucket."""
        return f"{self.folder}/{self.name}.nc"

    @property
    def has_file(self) -> bool:
        return self.product_type in ("MIR_SMUDP2", "MIR_OSUDP2")

    @property
    def old_version(self) -> bool:
        return self.version != CURRENT_VERSION

    def item(self, base_url: str, href: str | None = None) -> dict[str, Any]:
        """The STAC item of the product, as the Copernicus catalogue writes it."""
        o = self.orbit
        xmin, ymin, xmax, ymax = o.footprint_bbox()
        ring = [[xmin, ymin], [xmax, ymin], [xmax, ymax], [xmin, ymax], [xmin, ymin]]
        product_id = uuid.uuid5(uuid.NAMESPACE_URL, self.name)
        return {
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [
                "https://stac-extensions.github.io/alternate-assets/v1.1.0/schema.json",
                "https://stac-extensions.github.io/storage/v1.0.0/schema.json",
            ],
            "id": self.name,
            "collection": "SMOS",
            "bbox": [xmin, ymin, xmax, ymax],
            "geometry": {"type": "Polygon", "coordinates": [ring]},
            "properties": {
                "datetime": _iso(o.start),
                "start_datetime": _iso(o.start),
                "end_datetime": _iso(o.end),
                "productType": self.product_type,
                "platform": "SMOS",
                "instruments": ["MIRAS"],
                "processingLevel": "L1C" if self.product_type == "MIR_SCLF1C" else "L2",
                "processorVersion": f"{self.version:03d}",
                "orbitNumber": o.orbit,
                "orbitDirection": "ASCENDING" if o.ascending else "DESCENDING",
            },
            "assets": {
                "PRODUCT": {
                    "href": f"https://download.dataspace.copernicus.eu/odata/v1/Products"
                    f"({product_id})/$value",
                    "title": "Product",
                    "type": "application/octet-stream",
                    "alternate": {
                        "s3": {
                            "href": href if href is not None else f"/{BUCKET}/{self.folder}",
                            "storage:platform": "CREODIAS",
                            "storage:region": "waw3-1",
                        }
                    },
                }
            },
            "links": [
                {"rel": "self", "href": f"{base_url}/items/{self.name}"},
                {"rel": "collection", "href": base_url},
            ],
        }


def _parse_stamp(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%S")
    except ValueError:
        return None


class ArchiveModel:
    """The products of the emulated archive, and their files under ``data_dir``."""

    def __init__(self, data_dir: str | os.PathLike[str] | None = None):
        #: Whether the folder is the model's own (a temporary one, removed by close()).
        self.owns_data_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="eostores-smos-emulator-"))
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        """Remove the generated files, if the folder is the model's own."""
        if self.owns_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def products(
        self,
        start: datetime,
        end: datetime,
        bbox: tuple[float, float, float, float] | None = None,
        product_types: tuple[str, ...] = tuple(PRODUCT_FOLDERS),
    ) -> Iterator[EmulatedProduct]:
        """Products overlapping ``[start, end]`` whose swath may reach ``bbox``, in order."""
        for k in half_orbits_between(start, end):
            orbit = HalfOrbit(k)
            if orbit.start > end or orbit.end < start or not orbit.intersects(bbox):
                continue
            for product_type in product_types:
                if product_type != "MIR_SCLF1C" and k % 7 == 3:
                    yield EmulatedProduct(product_type, orbit, OLD_VERSION)
                yield EmulatedProduct(product_type, orbit)

    def product_for_path(self, path: str) -> EmulatedProduct | None:
        """The product whose file is at ``path`` below the bucket, if there is one."""
        parts = path.split("/")
        if len(parts) != 8 or parts[-1] != parts[-2] + ".nc":
            return None
        name = parts[-2]
        fields = name.split("_")
        if len(fields) != 9 or fields[0] != "SM" or fields[1] != "OPER":
            return None
        product_type = f"{fields[2]}_{fields[3]}"
        start = _parse_stamp(fields[4])
        if product_type not in PRODUCT_FOLDERS or start is None or not fields[6].isdigit():
            return None
        from .orbits import EPOCH, HALF_ORBIT

        k, rest = divmod((start - EPOCH).total_seconds(), HALF_ORBIT.total_seconds())
        if rest or k < 0:
            return None
        product = EmulatedProduct(product_type, HalfOrbit(int(k)), int(fields[6]))
        if product.path != path or not product.has_file:
            return None
        if product.old_version and not (k % 7 == 3 and product.version == OLD_VERSION):
            return None
        return product

    def file(self, product: EmulatedProduct) -> Path:
        """The product's file (generated on first use; written atomically)."""
        target = self.data_dir / product.path
        if target.exists():
            return target
        with self._lock:
            lock = self._locks.setdefault(product.path, threading.Lock())
        with lock:
            if target.exists():
                return target
            target.parent.mkdir(parents=True, exist_ok=True)
            data = product_bytes(
                product.product_type, product.orbit, product.name, product.old_version
            )
            handle, temporary = tempfile.mkstemp(prefix=".", suffix=".part", dir=target.parent)
            try:
                with os.fdopen(handle, "wb") as out:
                    out.write(data)
                os.replace(temporary, target)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        return target
