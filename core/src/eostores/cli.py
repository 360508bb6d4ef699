"""The ``eostores`` command line: list stores and data, describe, search, open, preload, demo,
emulate.

Errors print one line (``error: ...``) and exit with status 1; ``--debug`` shows tracebacks.
``--json`` and ``--debug`` may stand before or after the command.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import DataStoreError, InvalidParameterError


def _parse_pairs(pairs: Sequence[str] | None, schema: Any, option: str) -> dict[str, Any]:
    """``name=value`` pairs; values are JSON, or coerced after the parameter's schema."""
    result: dict[str, Any] = {}
    for pair in pairs or ():
        key, sep, text = pair.partition("=")
        if not sep or not key:
            raise InvalidParameterError(
                f"{option} expects NAME=VALUE, got {pair!r}", parameter=option
            )
        result[key] = _coerce(text, _property(schema, key))
    return result


def _property(schema: Any, key: str) -> Any:
    properties = getattr(schema, "properties", None) or {}
    return properties.get(key)


def _schema_type(schema: Any) -> str | None:
    if schema is None:
        return None
    if getattr(schema, "any_of", None) or getattr(schema, "one_of", None):
        types = {_schema_type(s) for s in (schema.any_of or schema.one_of)} - {None, "null"}
        return "array" if "array" in types else (types.pop() if len(types) == 1 else None)
    return getattr(schema, "type", None)


_BOOLEAN_WORDS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _coerce(text: str, schema: Any) -> Any:
    """A command-line value: JSON where it parses, else read after the parameter's type.

    Strings stay as typed unless quoted as JSON; arrays may be comma-separated; booleans
    also accept yes/no; what does not fit the type is passed on as text for validation.
    """
    kind = _schema_type(schema)
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    if kind == "string":
        return value if isinstance(value, str) else text
    if not isinstance(value, str):
        return value
    if kind == "array":
        items = getattr(schema, "items", None)
        item = items[0] if isinstance(items, list) and items else items
        return [_coerce(part.strip(), item) for part in text.split(",")] if text else []
    if kind in ("number", "integer"):
        try:
            return int(text) if kind == "integer" else float(text)
        except ValueError:
            return text
    if kind == "boolean" and text.lower() in _BOOLEAN_WORDS:
        return _BOOLEAN_WORDS[text.lower()]
    return value


def _store_params(args: argparse.Namespace) -> dict[str, Any]:
    from .registry import get_data_store_params_schema

    params: dict[str, Any] = {}
    if args.store_params_file:
        import yaml

        loaded = yaml.safe_load(Path(args.store_params_file).read_text())
        if not isinstance(loaded, dict):
            raise InvalidParameterError(
                f"{args.store_params_file} must hold a mapping of store parameters",
                parameter="--store-params-file",
            )
        params.update(loaded)
    if args.store_param:
        params.update(
            _parse_pairs(args.store_param, get_data_store_params_schema(args.store), "-s")
        )
    return params


def _new_store(args: argparse.Namespace) -> Any:
    from .registry import new_data_store

    return new_data_store(args.store, **_store_params(args))


def _print(args: argparse.Namespace, value: Any, text: str | None = None) -> None:
    from .descriptor import to_json_value

    if args.json or text is None:
        print(json.dumps(to_json_value(value), indent=2))
    else:
        print(text)


def cmd_stores(args: argparse.Namespace) -> None:
    from .registry import list_data_store_ids

    details = list_data_store_ids(detail=True)
    lines = [f"{name:<14} {meta['package']} {meta['version']}" for name, meta in details.items()]
    _print(args, details, "\n".join(lines))


def cmd_ids(args: argparse.Namespace) -> None:
    store = _new_store(args)
    ids = store.list_data_ids(data_type=args.type)
    _print(args, ids, "\n".join(map(str, ids)))


def cmd_describe(args: argparse.Namespace) -> None:
    descriptor = _new_store(args).describe_data(args.data_id, data_type=args.type)
    text = json.dumps(
        {k: v for k, v in descriptor.to_dict().items() if k != "open_params_schema"}, indent=2
    )
    _print(args, descriptor.to_dict(), text)


def cmd_schema(args: argparse.Namespace) -> None:
    from .registry import get_data_store_params_schema

    if args.data_id is None:
        schema = get_data_store_params_schema(args.store)
    else:
        schema = _new_store(args).get_open_data_params_schema(args.data_id)
    _print(args, schema.to_dict(), json.dumps(schema.to_dict(), indent=2))


def cmd_search(args: argparse.Namespace) -> None:
    store = _new_store(args)
    params = _parse_pairs(args.param, store.get_search_params_schema(args.type), "-p")
    results = [d.to_dict() for d in store.search_data(data_type=args.type, **params)]
    for result in results:
        result.pop("open_params_schema", None)
    _print(args, results, "\n".join(r["data_id"] for r in results))


def cmd_open(args: argparse.Namespace) -> None:
    if args.output:
        _check_output(Path(args.output), args.overwrite)
    store = _new_store(args)
    params = _parse_pairs(args.param, store.get_open_data_params_schema(args.data_id), "-p")
    data = store.open_data(args.data_id, data_type=args.type, **params)
    if not args.output:
        print(data)
        return
    _write_output(data, Path(args.output), args.overwrite, quiet=args.json)
    _print(
        args,
        {"output": args.output, "sizes": dict(getattr(data, "sizes", {}))},
        f"wrote {args.output}",
    )


def _check_output(output: Path, overwrite: bool) -> None:
    """Refuse a bad or existing output before any data is opened."""
    if output.suffix not in (".zarr", ".nc"):
        raise InvalidParameterError("-o must end in .zarr or .nc", parameter="-o")
    if output.exists() and not overwrite:
        raise _exists_error(output)


def _exists_error(output: Path) -> InvalidParameterError:
    return InvalidParameterError(
        f"{output} exists; add --overwrite to replace it", parameter="--overwrite"
    )


def _write_output(data: Any, output: Path, overwrite: bool, quiet: bool) -> None:
    from .fs.stores import FileDataStore

    _check_output(output, overwrite)
    target = FileDataStore(root=str(output.parent.resolve()))
    try:
        if quiet or not sys.stderr.isatty():
            target.write_data(data, output.name, replace=overwrite)
            return
        from .progress import dask_progress

        with dask_progress(f"writing {output.name}"):
            target.write_data(data, output.name, replace=overwrite)
    except InvalidParameterError as error:
        if error.parameter == "replace":  # created by someone else meanwhile
            raise _exists_error(output) from None
        raise


def cmd_preload(args: argparse.Namespace) -> None:
    store = _new_store(args)
    schema = store.get_preload_data_params_schema()
    params = _parse_pairs(args.param, schema, "-p")
    properties = getattr(schema, "properties", None) or {}
    for control in ("blocking", "silent"):
        if control in params:
            raise InvalidParameterError(
                f"-p {control}=... is set by the command: it waits and shows progress, "
                "or returns at once with --no-wait",
                parameter="-p",
            )
    schema.validate_params(params, store_id=store.store_id)  # bad input fails here, at once
    if args.no_wait:
        _preload_in_background(args)
        return
    if "silent" in properties:
        params["silent"] = False
    if "blocking" in properties:
        params["blocking"] = True
    handle = store.preload_data(*args.data_ids, **params)
    handle.wait()
    _report_preload(args, handle)


def _report_preload(args: argparse.Namespace, handle: Any) -> None:
    cache = handle.store
    cache_id = getattr(cache, "store_id", None)
    cache_params = _plain_params(cache) if cache_id else {}
    states = [
        {
            "data_id": state.data_id,
            "status": str(state.status),
            "message": state.message,
            "data_ids": list(state.data_ids),
        }
        for state in handle.states
    ]
    if args.json:
        _print(
            args,
            {
                "data_ids": handle.data_ids,
                "store": {"store_id": cache_id, "store_params": cache_params},
                "states": states,
            },
        )
    else:
        lines = [handle.table()]
        if handle.data_ids and cache_id:
            options = "".join(f" -s {shlex.quote(f'{k}={v}')}" for k, v in cache_params.items())
            lines.append("open the results with:")
            lines += [
                f"  eostores open {cache_id} {shlex.quote(data_id)}{options}"
                for data_id in handle.data_ids
            ]
        print("\n".join(lines))
    failures = [s for s in states if s["status"] != "completed"]
    for state in failures:
        print(
            f"error: preloading {state['data_id']!r} {state['status']}: {state['message']}",
            file=sys.stderr,
        )
    if failures:
        raise _Failed


class _Failed(Exception):
    """Raised after the failures were reported: exit with status 1, print nothing more."""


def _plain_params(store: Any) -> dict[str, Any]:
    """The store parameters other than their defaults that fit on a command line (no
    secrets, no nested values)."""
    from .credentials import is_secret_name

    schema = store.get_data_store_params_schema()
    properties = getattr(schema, "properties", None) or {}
    plain = {}
    for key, value in getattr(store, "store_params", {}).items():
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            continue
        if is_secret_name(key):
            continue
        if key in properties and getattr(properties[key], "default", None) == value:
            continue
        plain[key] = value
    return plain


def _preload_in_background(args: argparse.Namespace) -> None:
    """Run the same preload in a detached process that outlives this one; log to a file."""
    from .cache import default_cache_dir

    log = (
        Path(args.log)
        if args.log
        else default_cache_dir("logs")
        / f"preload-{args.store}-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"
    )
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "eostores.cli", "preload", args.store, *args.data_ids]
    for pair in args.store_param or ():
        command += ["-s", pair]
    if args.store_params_file:
        command += ["--store-params-file", str(Path(args.store_params_file).resolve())]
    if args.type:
        command += ["-t", args.type]
    for pair in args.param or ():
        command += ["-p", pair]
    with open(log, "ab") as output:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
    _print(
        args,
        {"pid": process.pid, "log": str(log)},
        f"preloading in the background (process {process.pid}); progress and result: {log}",
    )


def cmd_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(workdir=args.workdir, names=args.names)


def cmd_emulate(args: argparse.Namespace) -> None:
    from .registry import get_emulator_class
    from .testing.faults import coerce_faults
    from .testing.runner import run_emulator

    try:
        faults = coerce_faults(args.faults) if args.faults else None
    except ValueError as error:
        raise InvalidParameterError(
            f'{error}; expected e.g. \'{{"error_rate": 0.2, "error_statuses": [503]}}\'',
            parameter="--faults",
        ) from None
    run_emulator(
        get_emulator_class(args.name), port=args.port, latency_ms=args.latency_ms, faults=faults
    )


#: Commands of other distributions that the CLI names even when they are not installed.
OPTIONAL_COMMANDS = {
    "ui": ("serve the web application in a browser", "eostores[ui]"),
}


def _run_plugin_command(extension: Any) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        status = extension.load()(args.arguments)
        if status:
            raise _Failed

    return run


def _not_installed(name: str, extra: str) -> Callable[[argparse.Namespace], None]:
    def refuse(args: argparse.Namespace) -> None:
        raise DataStoreError(f"the command {name!r} is not installed: pip install {extra!r}")

    return refuse


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eostores",
        description="Reach Earth-observation and climate data services the same way.",
    )
    _global_flags(parser, False)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        sub = commands.add_parser(name, help=help)
        _global_flags(sub, argparse.SUPPRESS)  # the flags work after the command too
        return sub

    def with_store(name: str, help: str, data_id: str | None = None) -> argparse.ArgumentParser:
        sub = command(name, help)
        sub.add_argument("store", help="store id, see 'eostores stores'")
        if data_id == "required":
            sub.add_argument("data_id")
        elif data_id == "optional":
            sub.add_argument("data_id", nargs="?")
        elif data_id == "many":
            sub.add_argument("data_ids", nargs="+", metavar="DATA_ID")
        sub.add_argument(
            "-s",
            "--store-param",
            action="append",
            metavar="NAME=VALUE",
            help="store parameter (repeatable)",
        )
        sub.add_argument(
            "--store-params-file", metavar="FILE", help="JSON or YAML file with store parameters"
        )
        sub.add_argument("-t", "--type", help="data type: dataset, mldataset, geodataframe")
        sub.set_defaults(handler=globals()[f"cmd_{name}"])
        return sub

    command("stores", "list the installed stores").set_defaults(handler=cmd_stores)
    with_store("ids", "list the data ids of a store")
    with_store("describe", "describe data from its metadata", "required")
    with_store("schema", "store parameters, or the open parameters of a data id", "optional")
    search = with_store("search", "search a store")
    search.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="search parameter, e.g. bbox=0,40,10,50",
    )
    open_ = with_store("open", "open data; print it or write it to -o", "required")
    open_.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="open parameter, e.g. time_range=2024-01-01,2024-01-31",
    )
    open_.add_argument("-o", "--output", metavar="OUT.zarr|OUT.nc")
    open_.add_argument("--overwrite", action="store_true", help="replace an existing output")
    preload = with_store(
        "preload", "prepare data that cannot be opened lazily, with a progress display", "many"
    )
    preload.add_argument(
        "-p",
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="preload parameter (see the store's docs), e.g. target_format=zarr",
    )
    preload.add_argument(
        "--no-wait",
        action="store_true",
        help="preload in a background process and return at once; see --log",
    )
    preload.add_argument(
        "--log",
        metavar="FILE",
        help="with --no-wait: where the progress and the result are written "
        "(default: a new file in the eostores cache folder, printed)",
    )
    demo = command("demo", "run the offline demo")
    demo.add_argument("names", nargs="*", help="the demos to run (default: all installed)")
    demo.add_argument("--workdir", help="where the temporary demo folder is made")
    demo.set_defaults(handler=cmd_demo)
    emulate = command("emulate", "run a service emulator in the foreground")
    emulate.add_argument("name", help="emulator name (a store package's service)")
    emulate.add_argument("--port", type=int, default=0)
    emulate.add_argument("--latency-ms", type=float, default=0)
    emulate.add_argument(
        "--faults",
        metavar="JSON",
        help='fault profile, e.g. \'{"error_rate": 0.2, "error_statuses": [503]}\'',
    )
    emulate.set_defaults(handler=cmd_emulate)
    from .registry import find_command_extensions

    installed = {extension.name: extension for extension in find_command_extensions()}
    for name in sorted({*installed, *OPTIONAL_COMMANDS}):
        summary, extra = OPTIONAL_COMMANDS.get(name, (None, None))
        extension = installed.get(name)
        if extension is not None:
            summary = summary or extension.description or f"from {extension.package}"
            handler = _run_plugin_command(extension)
        else:
            summary = f"{summary} (pip install {extra})"
            handler = _not_installed(name, str(extra))
        plugin = commands.add_parser(name, help=summary, add_help=False)
        plugin.set_defaults(handler=handler, plugin_command=True)
    return parser


def _global_flags(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument(
        "--debug", action="store_true", default=default, help="show tracebacks and debug logs"
    )
    parser.add_argument(
        "--json", action="store_true", default=default, help="machine-readable JSON output"
    )


def _configure_logging(debug: bool) -> None:
    """eostores' warnings (e.g. retries) as ``warning: ...`` lines on stderr; with --debug,
    every library's debug log."""
    if debug:
        logging.basicConfig(level=logging.DEBUG)
        return
    logger = logging.getLogger("eostores")
    if not any(isinstance(handler, _WarningLines) for handler in logger.handlers):
        logger.addHandler(_WarningLines(logging.WARNING))


class _WarningLines(logging.Handler):
    """Log records as ``warning: message`` on the current standard error."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            print(f"warning: {record.getMessage()}", file=sys.stderr)
        except Exception:
            self.handleError(record)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args, _ = parser.parse_known_args(argv)
    if getattr(args, "plugin_command", False):  # its arguments are its own, options included
        position = next(i for i, arg in enumerate(argv) if not arg.startswith("-"))
        args.arguments = argv[position + 1 :]
    else:
        args = parser.parse_args(argv)
    _configure_logging(args.debug)
    try:
        args.handler(args)
        sys.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except _Failed:
        return 1
    except (DataStoreError, OSError) as error:
        if args.debug:
            raise
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


def _closed_pipe() -> int:
    """The reader of our output went away (``eostores ids ... | head``): stop quietly.

    Standard output is pointed at the null device so that the interpreter's final flush
    does not fail again; the status is the shell's for a process ended by SIGPIPE.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    return 128 + 13


if __name__ == "__main__":
    sys.exit(main())
