"""Development sessions: tests, isolated package tests, lint, docs, demo, benchmarks."""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests", "isolated"]
nox.options.reuse_venv = "yes"

ROOT = Path(__file__).parent
PACKAGES = sorted(p.parent for p in (ROOT / "packages").glob("*/pyproject.toml"))
PYTHON = os.environ.get("EOSTORES_PYTHON", "3.11")
TEST_REQUIREMENTS = ["-e", "core[test]"]


def _pytest_args(session: nox.Session) -> list[str]:
    return ["-p", "no:cacheprovider", "--timeout=300", *session.posargs]


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """The core and every store package in one environment, then the integration tests."""
    session.install(*TEST_REQUIREMENTS, *[a for p in PACKAGES for a in ("-e", f"{p}[test]")])
    session.run("pytest", "core/tests", *_pytest_args(session))
    for package in PACKAGES:
        session.run("pytest", str(package / "tests"), *_pytest_args(session))
    session.run("pytest", "tests", *_pytest_args(session))


@nox.session(python=PYTHON)
@nox.parametrize("package", [p.name for p in PACKAGES] or [None])
def isolated(session: nox.Session, package: str | None) -> None:
    """Each store package installed alone with only the core; its own tests run there."""
    if package is None:
        session.skip("no store packages yet")
    session.install("./core", f"./packages/{package}[test]")
    session.run("pytest", f"packages/{package}/tests", *_pytest_args(session))


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole repository."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def docs(session: nox.Session) -> None:
    """Build the documentation site into site/ (strict: broken links fail)."""
    session.install("mkdocs>=1.6", "-e", "core")
    session.run("mkdocs", "build", "--strict", "--site-dir", "site")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Run the offline demo: every installed store against local data or its emulator."""
    session.install("-e", "core[all]", *[a for p in PACKAGES for a in ("-e", str(p))])
    session.run("eostores", "demo", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run the benchmarks; each prints its measurements as ratios."""
    session.install(*TEST_REQUIREMENTS)
    for script in sorted((ROOT / "benchmarks").glob("bench_*.py")):
        session.log(f"--- {script.name}")
        session.run("python", str(script), *session.posargs)
