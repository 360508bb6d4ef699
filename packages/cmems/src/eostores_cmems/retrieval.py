"""Planning an open: version, part and ARCO service, with the toolbox's own rules.

The toolbox's models pick the version and part, its chunk calculator counts the chunks a
request needs from each ARCO service (the automatic choice takes the service needing
fewer, as ``copernicusmarine.open_dataset`` does), and its bounds check refuses requests
entirely outside the dataset. The result is a toolbox ``SubsetRequest`` whose parameter
objects drive the toolbox's subsetting.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from eostores.errors import InvalidParameterError

from .catalog import ARCO_SERVICES
from .config import STORE_ID
from .schema import AUTO, OpenRequest

if TYPE_CHECKING:
    from copernicusmarine import (
        CopernicusMarineDataset,
        CopernicusMarinePart,
        CopernicusMarineService,
    )

__all__ = ["Plan", "plan_open"]

#: How the dimensions are named in bounds errors -> the open parameter to blame.
_PARAMETER_OF_DIMENSION = {
    "time": "time_range",
    "depth": "depth_range",
    "elevation": "depth_range",
    "latitude": "bbox",
    "longitude": "bbox",
}
SELECTION_METHOD = "inside"


@dataclass
class Plan:
    """What to open and how to cut it."""

    service: CopernicusMarineService
    version: str
    part: CopernicusMarinePart
    subset_request: Any  # copernicusmarine's SubsetRequest
    axis_mapping: dict[str, str]
    chunks_needed: int | None

    @property
    def service_name(self) -> str:
        return str(self.service.service_name)

    @property
    def asset(self) -> str:
        """The STAC asset key of the chosen service (``timeChunked``/``geoChunked``)."""
        return ARCO_SERVICES[self.service_name]

    def subset_arguments(self) -> dict[str, Any]:
        """Keyword arguments of the toolbox's ``subset_xarray.subset``."""
        request = self.subset_request
        return {
            "variables": request.variables,
            "geographical_parameters": request.get_geographical_parameters(
                self.axis_mapping, self.part.name == "originalGrid"
            ),
            "temporal_parameters": request.get_temporal_parameters(self.axis_mapping),
            "depth_parameters": request.get_depth_parameters(self.axis_mapping),
            "coordinates_selection_method": SELECTION_METHOD,
        }


def _utc(moment: datetime | None) -> datetime | None:
    return None if moment is None else moment.replace(tzinfo=UTC)


def _valid_start(service: CopernicusMarineService) -> datetime | None:
    """The first valid time of the service (the toolbox starts every request there)."""
    from copernicusmarine.core_functions.utils import timestamp_or_datestring_to_datetime

    for variable in service.variables:
        for coordinate in variable.coordinates:
            if coordinate.coordinate_id != "time":
                continue
            first = coordinate.minimum_value
            if first is None and coordinate.values:
                first = min(coordinate.values)
            if first is not None:
                moment = timestamp_or_datestring_to_datetime(first)
                return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return None


def _extent(service: CopernicusMarineService, axis: str) -> tuple[Any, Any] | None:
    from copernicusmarine.core_functions.utils import timestamp_or_datestring_to_datetime

    for variable in service.variables:
        for coordinate in variable.coordinates:
            if coordinate.axis != axis:
                continue
            values = coordinate.values or []
            low = coordinate.minimum_value if coordinate.minimum_value is not None else None
            high = coordinate.maximum_value if coordinate.maximum_value is not None else None
            low = min(values) if low is None and values else low
            high = max(values) if high is None and values else high
            if low is None or high is None:
                return None
            if axis == "t":
                low, high = (timestamp_or_datestring_to_datetime(v) for v in (low, high))
                low, high = (v if v.tzinfo else v.replace(tzinfo=UTC) for v in (low, high))
            return low, high
    return None


def _clamp_to_extent(subset_request: Any, service: CopernicusMarineService) -> None:
    """Cut requested ranges that overlap the data to the data's extent.

    Selection is inclusive by coordinate value, so the result is the same; the toolbox
    would otherwise warn that a range whose end date covers a whole day "exceeds" data
    stamped at midnight. Ranges entirely outside are left for the bounds check to refuse.
    """
    for axis, low_name, high_name in (
        ("t", "start_datetime", "end_datetime"),
        ("z", "minimum_depth", "maximum_depth"),
        ("y", "minimum_y", "maximum_y"),
    ):
        extent = _extent(service, axis)
        if extent is None:
            continue
        low, high = getattr(subset_request, low_name), getattr(subset_request, high_name)
        overlaps = (low is None or low <= extent[1]) and (high is None or high >= extent[0])
        if not overlaps:
            continue
        if low is not None and low < extent[0]:
            setattr(subset_request, low_name, extent[0])
        if high is not None and high > extent[1]:
            setattr(subset_request, high_name, extent[1])


def _choose_service(
    part: CopernicusMarinePart, request: OpenRequest, subset_request: Any, data_id: str
) -> tuple[CopernicusMarineService, int | None]:
    from copernicusmarine.download_functions.chunk_calculator import get_dataset_chunking

    available = {
        str(s.service_name): s
        for s in part.services
        if s.service_name in ARCO_SERVICES and s.service_format == "zarr"
    }
    if not available:
        raise InvalidParameterError(
            f"part {part.name!r} has no ARCO service",
            store_id=STORE_ID,
            data_id=data_id,
            parameter="dataset_part",
        )
    counts: dict[str, int] = {}
    for name in available:
        counts[name] = get_dataset_chunking(subset_request, name, part).number_chunks
    if request.service != AUTO:
        if request.service not in available:
            raise InvalidParameterError(
                f"service = {request.service!r} is not offered by this dataset part; "
                f"available: {', '.join(available)}",
                store_id=STORE_ID,
                data_id=data_id,
                parameter="service",
            )
        return available[request.service], counts.get(request.service)
    geo, series = "arco-geo-series", "arco-time-series"
    if len(available) == 1:
        (name,) = available
        return available[name], counts[name]
    # The toolbox's rule: the time-series service only when it needs fewer chunks.
    if counts[series] >= 0 and (counts[geo] < 0 or counts[series] < counts[geo]):
        return available[series], counts[series]
    return available[geo], counts[geo] if counts[geo] >= 0 else None


def plan_open(
    dataset: CopernicusMarineDataset, request: OpenRequest, data_id: str, username: str
) -> Plan:
    """Version, part, service and the toolbox request for ``request``."""
    from copernicusmarine.catalogue_parser.models import (
        DatasetVersionNotFound,
        DatasetVersionPartNotFound,
    )
    from copernicusmarine.core_functions.exceptions import CoordinatesOutOfDatasetBounds
    from copernicusmarine.core_functions.request_structure import SubsetRequest
    from copernicusmarine.download_functions.subset_xarray import check_dataset_subset_bounds

    try:
        version = dataset.get_version(request.dataset_version)
        part = version.get_part(request.dataset_part)
    except (DatasetVersionNotFound, DatasetVersionPartNotFound) as error:
        raise InvalidParameterError(
            str(error),
            store_id=STORE_ID,
            data_id=data_id,
            parameter="dataset_part" if request.dataset_part else "dataset_version",
        ) from None
    bbox = request.bbox
    depth = request.depth_range
    subset_request = SubsetRequest(
        dataset_id=data_id,
        username=username,
        dataset_version=version.label,
        dataset_part=part.name,
        variables=request.variable_names or None,
        minimum_x=bbox[0] if bbox else None,
        minimum_y=bbox[1] if bbox else None,
        maximum_x=bbox[2] if bbox else None,
        maximum_y=bbox[3] if bbox else None,
        minimum_depth=depth[0] if depth else None,
        maximum_depth=depth[1] if depth else None,
        start_datetime=_utc(request.start),
        end_datetime=_utc(request.end),
        coordinates_selection_method=SELECTION_METHOD,
    )
    service, chunks = _choose_service(part, request, subset_request, data_id)
    axis_mapping = service.get_axis_coordinate_id_mapping()
    _clamp_to_extent(subset_request, service)
    try:
        check_dataset_subset_bounds(
            service=service,
            part=part,
            dataset_subset=subset_request,
            coordinates_selection_method=SELECTION_METHOD,
            axis_coordinate_id_mapping=axis_mapping,
        )
    except CoordinatesOutOfDatasetBounds as error:
        message = str(error)
        parameter = next(
            (p for dim, p in _PARAMETER_OF_DIMENSION.items() if f"for the {dim} " in message),
            None,
        )
        raise InvalidParameterError(
            message, store_id=STORE_ID, data_id=data_id, parameter=parameter
        ) from None
    # As the toolbox does once the request is checked: start no earlier than the data.
    valid_start = _valid_start(service)
    if valid_start is not None and (
        subset_request.start_datetime is None or subset_request.start_datetime < valid_start
    ):
        subset_request.start_datetime = valid_start
    return Plan(
        service=service,
        version=version.label,
        part=part,
        subset_request=subset_request,
        axis_mapping=axis_mapping,
        chunks_needed=chunks,
    )
