"""Run the unmodified copernicusmarine toolbox: describe, then open_dataset per request.

Usage: python toolbox_reference.py REQUESTS.json OUTPUT_FOLDER. The environment points the
toolbox at the emulator (see eostores_cmems.testing.proxy). Writes ``ids.json`` and one
pickled, loaded dataset per request.
"""

from __future__ import annotations

import json
import pickle
import sys
from pathlib import Path


def main(requests_file: str, output: str) -> None:
    import copernicusmarine

    folder = Path(output)
    catalogue = copernicusmarine.describe(disable_progress_bar=True)
    ids = sorted(d.dataset_id for p in catalogue.products for d in p.datasets)
    (folder / "ids.json").write_text(json.dumps(ids))
    for index, request in enumerate(json.loads(Path(requests_file).read_text())):
        dataset = copernicusmarine.open_dataset(**request).load()
        (folder / f"{index}.pickle").write_bytes(pickle.dumps(dataset))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
