"""The sessions of the asynchronous filesystem copy behind a zarr store are closed with it."""

from __future__ import annotations

import time

import pytest

pytest.importorskip("aiohttp")


def _wait_closed(session, seconds: float = 5.0) -> bool:
    ends = time.monotonic() + seconds
    while not session.closed and time.monotonic() < ends:
        time.sleep(0.01)
    return session.closed


def _store_over_http():
    from fsspec.implementations.http import HTTPFileSystem

    from eostores.fs.zarr import zarr_store

    fs = HTTPFileSystem(skip_instance_cache=True)  # synchronous: the store makes its own copy
    return zarr_store(fs, "http://127.0.0.1:9/cube.zarr")


def test_sessions_close_when_the_store_is_collected():
    from zarr.core.sync import sync

    holder = [_store_over_http()]
    session = sync(holder[0].fs.set_session())
    holder.clear()
    assert _wait_closed(session)


def test_sessions_close_when_the_store_is_collected_on_zarrs_own_loop():
    """zarr's event loop thread may be where the last reference goes (a read finishing
    there), and no thread can wait on that loop from inside it."""
    from zarr.core.sync import sync

    holder = [_store_over_http()]
    fs = holder[0].fs

    async def open_then_drop_the_store():
        session = await fs.set_session()
        holder.clear()  # the last reference: the store is collected here, on zarr's loop
        return session

    session = sync(open_then_drop_the_store())
    assert _wait_closed(session)
