"""``eostores ui``: a local web application generated from the stores' parameter schemas.

Pick a store, fill in its parameters, search its data ids, read the description, set the
open parameters, open, look at the summary and the quicklook, copy the Python that does
the same, and download the result as NetCDF or Zarr. The forms are generated from
``get_data_store_params_schema`` and ``get_open_data_params_schema`` after the store
conventions; every script, style and icon is served by this package (it works offline).

``eostores`` imports nothing of this package: its CLI finds :func:`main` through the
``eostores.commands`` entry point ``ui``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .__about__ import __version__

__all__ = ["__version__", "build_parser", "main", "serve"]


def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    open_browser: bool = True,
    token: str | None = None,
    *,
    output_dir: str | None = None,
) -> None:
    """Serve the application until interrupted (Ctrl+C).

    Only 127.0.0.1 is served without a token; on any other ``host`` a token is required
    in the URL (a random one unless ``token`` is given; an empty one is refused). Files
    from Download are written to ``output_dir`` (default: the current folder).
    """
    from .server import UiServer

    server = UiServer(host, port, token=token, output_dir=output_dir)
    print(f"eostores ui: serving on {server.url}", flush=True)
    if not server.loopback:
        print(
            f"  listening on {host}: anyone who can reach it and has the token can use it",
            flush=True,
        )
    print(f"  downloads are written to {server.app.output_dir}", flush=True)
    print("  press Ctrl+C to stop", flush=True)
    if open_browser:
        import threading
        import webbrowser

        threading.Timer(0.3, webbrowser.open, args=(server.url,)).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("eostores ui: stopped", flush=True)


def build_parser(parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
    """The options of ``eostores ui`` (added to ``parser`` when one is given)."""
    if parser is None:
        parser = argparse.ArgumentParser(
            prog="eostores ui", description="Serve the eostores web application."
        )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="interface to listen on (default 127.0.0.1; any other requires a token)",
    )
    parser.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    parser.add_argument(
        "--no-browser", action="store_true", help="do not open a web browser on start"
    )
    parser.add_argument(
        "--token", default=None, help="the token required in the URL (default: a random one)"
    )
    parser.add_argument(
        "--output-dir", default=None, help="where Download writes (default: current folder)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``eostores ui`` with command-line arguments ``argv``; returns the exit status."""
    from eostores.errors import DataStoreError

    args = build_parser().parse_args(argv)
    try:
        serve(
            args.host,
            args.port,
            open_browser=not args.no_browser,
            token=args.token,
            output_dir=args.output_dir,
        )
    except DataStoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:
        print(f"error: cannot serve on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
