"""Development sessions: tests, isolated package tests, lint, docs, demo, benchmarks, recipes.

Store packages are found under ``packages/`` (any folder with a ``pyproject.toml``); a new
package is tested, isolated, linted, benchmarked and rendered without changes here.
Sessions keep their caches in their own temporary folder, so that several may run at once.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nox
import uv

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "recipes", "docs", "tests", "isolated", "ui"]
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).parent
PACKAGES = sorted(p.parent for p in (ROOT / "packages").glob("*/pyproject.toml"))
PYTHON = os.environ.get("EOSTORES_PYTHON", "3.11")
TEST_REQUIREMENTS = ["-e", "core[test]"]
#: pytest suites run at once by the tests session (EOSTORES_TEST_JOBS overrides).
TEST_JOBS = os.environ.get("EOSTORES_TEST_JOBS", "2")


def _pytest_args(session: nox.Session) -> list[str]:
    return ["-p", "no:cacheprovider", "--timeout=300", *session.posargs]


def _isolate_caches(session: nox.Session) -> None:
    """Give the session a cache folder of its own (eostores and XDG caches)."""
    tmp = Path(session.create_tmp()).resolve()  # absolute: examples run in other folders
    session.env["EOSTORES_CACHE_DIR"] = str(tmp / "eostores-cache")
    session.env["XDG_CACHE_HOME"] = str(tmp / "xdg-cache")


def _editable(packages: list[Path], extra: str | None = None) -> list[str]:
    suffix = f"[{extra}]" if extra else ""
    return [arg for p in packages for arg in ("-e", f"{p.relative_to(ROOT)}{suffix}")]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The core's tests, then the integration tests over every store package installed together.

    Both suites run and all results are shown; the session fails at the end if either failed.
    """
    session.install(*TEST_REQUIREMENTS, *_editable(PACKAGES, "test"))
    _isolate_caches(session)
    suites = ["core/tests", "tests"]
    session.run(
        "python",
        "tools/run_suites.py",
        "--jobs",
        TEST_JOBS,
        *suites,
        "--",
        *_pytest_args(session),
    )


def local_dependencies(package: Path) -> list[Path]:
    """The store packages of this repository that ``package`` depends on (not on PyPI yet)."""
    import re
    import tomllib

    project = tomllib.loads((package / "pyproject.toml").read_text())["project"]
    names = {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in project["dependencies"]}
    return [p for p in PACKAGES if f"eostores-{p.name}" in names and p != package]


@nox.session(python=PYTHON)
def isolated(session: nox.Session) -> None:
    """Each store package installed alone with only the core, in an environment of its own;
    its tests run there, two packages at a time (``nox -s isolated -- NAME...`` for some).
    """
    names = session.posargs or [p.name for p in PACKAGES]
    unknown = sorted(set(names) - {p.name for p in PACKAGES})
    if unknown:
        session.error(f"no store package {', '.join(unknown)}")
    if not names:
        session.skip("no store packages yet")
    uv_bin = uv.find_uv_bin()
    suites = []
    for name in names:
        venv = Path(session.create_tmp()) / "envs" / name
        python = venv / "bin" / "python"
        if not python.exists():
            session.run(uv_bin, "venv", "-q", "--python", PYTHON, str(venv), external=True)
        local = [f"./packages/{p.name}" for p in local_dependencies(ROOT / "packages" / name)]
        session.run(
            uv_bin,
            "pip",
            "install",
            "-q",
            "--python",
            str(python),
            "./core",
            *local,
            f"./packages/{name}[test]",
            external=True,
        )
        suites.append(f"{python}::packages/{name}/tests")
    _isolate_caches(session)
    session.run(
        "python",
        "tools/run_suites.py",
        "--jobs",
        TEST_JOBS,
        *suites,
        "--",
        "-p",
        "no:cacheprovider",
        "--timeout=300",
    )


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff, the import contracts (lint-imports) and the package anatomy; all are run.

    ``lint-imports`` reads the sources without importing them: the packages are put on the
    path, not installed.
    """
    session.install("ruff>=0.6", "import-linter>=2.1")
    projects = [*sorted(ROOT.glob("apps/*/src")), *(p / "src" for p in PACKAGES)]
    sources = ["core/src", *(str(p.relative_to(ROOT)) for p in projects)]
    env = {"PYTHONPATH": os.pathsep.join(sources)}
    checks = [
        ("ruff", "check", "."),
        ("ruff", "format", "--check", "."),
        ("lint-imports", "--no-cache"),
        ("python", "tools/check_anatomy.py"),
    ]
    failed = []
    for check in checks:
        try:
            session.run(*check, env=env)
        except nox.command.CommandFailed:
            failed.append(" ".join(check))
    if failed:
        session.error("failed: " + "; ".join(failed))


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/; strict: a broken link, a docstring that
    cannot be rendered or a gallery example that fails fails the build.

    The gallery's examples (docs/examples) run against the stores' emulators, so every
    store package is installed with the core.
    """
    session.install(
        "mkdocs>=1.6,<2",
        "mkdocs-gallery>=0.10",
        "mkdocstrings[python]>=0.26",
        "matplotlib>=3.8",
        "ruff>=0.6",  # formats the signatures in the API reference
        "-e",
        "core[all]",
        *_editable(PACKAGES, "test"),
    )
    _isolate_caches(session)
    session.env["MPLBACKEND"] = "agg"
    session.env["NO_MKDOCS_2_WARNING"] = "1"
    session.run("mkdocs", "build", "--strict", "--site-dir", "site", *session.posargs)


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Run the offline demo: every installed store against local data or its emulator."""
    session.install("-e", "core[all]", *_editable(PACKAGES, "test"))  # emulators need moto
    _isolate_caches(session)
    session.run("eostores", "demo", *session.posargs)


def benchmark_packages(script: Path) -> list[Path]:
    """The store packages a benchmark imports (``eostores_<name>`` -> packages/<name>)."""
    names = set()
    for node in ast.walk(ast.parse(script.read_text(), filename=str(script))):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    by_module = {f"eostores_{p.name}": p for p in PACKAGES}
    return sorted(by_module[name] for name in names if name in by_module)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks (``nox -s bench -- NAME`` for some); each prints ratios.

    The store packages a benchmark imports are installed with it; a failing benchmark does
    not stop the others.
    """
    scripts = sorted((ROOT / "benchmarks").glob("bench_*.py"))
    if session.posargs:
        wanted = {name.removeprefix("bench_").removesuffix(".py") for name in session.posargs}
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in wanted]
    needed = sorted({p for script in scripts for p in benchmark_packages(script)})
    session.install(*TEST_REQUIREMENTS, *_editable(needed, "test"))
    _isolate_caches(session)
    failed = []
    for script in scripts:
        session.log(f"--- {script.name}")
        try:
            session.run("python", str(script.relative_to(ROOT)))
        except nox.command.CommandFailed:
            failed.append(script.name)
    if failed:
        session.error("failed: " + ", ".join(failed))


def recipe_files() -> list[Path]:
    """The conda recipes: the core's, the applications' and every store package's."""
    core = ROOT / "core" / "recipe" / "recipe.yaml"
    apps = sorted(ROOT.glob("apps/*/recipe/recipe.yaml"))
    return [core, *apps, *sorted(ROOT.glob("packages/*/recipe/recipe.yaml"))]


@nox.session(python=PYTHON)
def recipes(session: nox.Session) -> None:
    """Render every conda recipe with rattler-build and check it against its distribution.

    Rendering is offline (no conda channel is contacted), so this runs in CI; a store
    package without a recipe fails it too.
    """
    session.install("py-rattler-build>=0.40")
    recipes = [str(p.relative_to(ROOT)) for p in recipe_files()]
    session.run("python", "tools/recipes.py", "render", *recipes, *session.posargs)


#: Debian's Chromium; Playwright drives it, it never downloads a browser of its own.
CHROMIUM = "/usr/bin/chromium"


@nox.session(python=PYTHON)
def ui(session: nox.Session) -> None:
    """The web application (apps/ui) in headless Chromium, with the cds and stac stores
    against their emulators; screenshots and timings are kept as artefacts."""
    if not Path(CHROMIUM).exists():
        session.run(
            "sh",
            "-c",
            "apt-get update && apt-get install -y chromium",
            external=True,
            env={"DEBIAN_FRONTEND": "noninteractive"},
        )
    session.install(
        "-e",
        "core[test]",
        "-e",
        "apps/ui[test]",
        "-e",
        "packages/cds[test]",
        "-e",
        "packages/stac[test]",
    )
    _isolate_caches(session)
    artefacts = Path(session.create_tmp()).resolve() / "ui-artefacts"
    session.env["EOSTORES_UI_ARTEFACTS"] = os.environ.get("EOSTORES_UI_ARTEFACTS", str(artefacts))
    session.env["EOSTORES_UI_CHROMIUM"] = CHROMIUM
    session.env["EOSTORES_UI_REQUIRE_BROWSER"] = "1"
    session.run("pytest", "apps/ui/tests", *_pytest_args(session))
    session.log(f"screenshots and timings: {session.env['EOSTORES_UI_ARTEFACTS']}")
