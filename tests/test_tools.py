"""The repository tools: anatomy check, suite runner, recipe checks; and their verdicts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
sys.path.insert(0, str(TOOLS))

import check_anatomy  # noqa: E402
import run_suites  # noqa: E402


def _package(root: Path, name: str, files: dict[str, str]) -> Path:
    package = root / "packages" / name / "src" / f"eostores_{name}"
    package.mkdir(parents=True, exist_ok=True)
    (root / "packages" / name / "pyproject.toml").write_text(
        f'[project]\nname = "eostores-{name}"\ndependencies = ["eostores>=0.1,<0.2"]\n'
    )
    for relative, text in files.items():
        path = package / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return package


@pytest.fixture
def repository(tmp_path):
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 100\n")
    (tmp_path / "core" / "src" / "eostores").mkdir(parents=True)
    (tmp_path / "core" / "src" / "eostores" / "__init__.py").write_text(
        "from .__about__ import __version__\n"
    )
    anatomy = {name: "" for name in check_anatomy.ANATOMY}
    _package(tmp_path, "good", {"__init__.py": "", **anatomy, "testing/__init__.py": ""})
    check_anatomy.write_contracts(tmp_path)
    return tmp_path


def test_anatomy_of_a_complete_repository_is_fine(repository):
    assert check_anatomy.check(repository) == []
    assert check_anatomy.main(["--root", str(repository)]) == 0


def test_anatomy_finds_missing_files_private_imports_and_uncovered_packages(repository):
    _package(
        repository,
        "bad",
        {
            "store.py": "from .api import _session\nfrom .api import __version__\n",
            "api.py": "",
        },
    )
    problems = "\n".join(check_anatomy.check(repository))
    for missing in ("catalog.py", "schema.py", "convert.py", "config.py", "testing/__init__.py"):
        assert f"missing {missing}" in problems
    assert "imports the private name '_session'" in problems
    assert "__version__" not in problems
    assert "do not cover the packages present" not in problems  # no __init__.py yet
    assert check_anatomy.main(["--root", str(repository)]) == 1


def test_the_repository_itself_names_every_package_in_its_contracts():
    assert list(check_anatomy.contract_problems(ROOT)) == []


def test_write_contracts_covers_new_packages(repository):
    check_anatomy.write_contracts(repository)
    assert check_anatomy.check(repository) == []
    anatomy = {name: "" for name in check_anatomy.ANATOMY}
    _package(repository, "new", {"__init__.py": "", **anatomy, "testing/__init__.py": ""})
    assert any("--write-contracts" in p for p in check_anatomy.check(repository))
    check_anatomy.write_contracts(repository)
    text = (repository / "pyproject.toml").read_text()
    assert '"eostores_new.testing"' in text and text.count("# BEGIN import contracts") == 1
    assert check_anatomy.check(repository) == []


def test_run_suites_runs_every_suite_and_fails_at_the_end(tmp_path, capsys):
    (tmp_path / "test_fails.py").write_text("def test_no():\n    assert False\n")
    (tmp_path / "test_passes.py").write_text("def test_yes():\n    assert True\n")
    code = run_suites.main(
        [
            "--jobs",
            "2",
            str(tmp_path / "test_fails.py"),
            str(tmp_path / "test_passes.py"),
            "--",
            "-p",
            "no:cacheprovider",
            "-q",
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert "FAILED" in out and "1 of 2 suites failed" in out
    assert "1 passed" in out and "1 failed" in out  # the passing suite ran and is shown
    assert "1 passed, 1 failed, 0 skipped" in out.splitlines()


def test_run_suites_runs_a_suite_with_the_interpreter_it_names(tmp_path, capsys):
    (tmp_path / "test_which.py").write_text(
        f"import sys\n\ndef test_python():\n    assert sys.executable == {sys.executable!r}\n"
    )
    code = run_suites.main(
        [f"{sys.executable}::{tmp_path / 'test_which.py'}", "--", "-p", "no:cacheprovider"]
    )
    assert code == 0
    assert "1 passed, 0 failed, 0 skipped" in capsys.readouterr().out.splitlines()


def test_recipes_render_and_match_their_distributions():
    pytest.importorskip("rattler_build")
    result = subprocess.run(
        [sys.executable, str(TOOLS / "recipes.py"), "render", "core/recipe/recipe.yaml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "core/recipe/recipe.yaml: rendered, matches its distribution" in result.stdout


def test_conda_names_of_requirements():
    import recipes

    assert recipes.conda_names("dask>=2024.8") == ["dask-core"]
    assert recipes.conda_names("h5netcdf[h5py]>=1.3") == ["h5netcdf", "h5py"]
    assert set(recipes.conda_names("eostores[s3,geotiff]>=0.1,<0.2")) == {
        "eostores",
        "s3fs",
        "rioxarray",
    }


def test_run_suites_fails_a_suite_that_leaves_an_aiohttp_session_open(tmp_path, capsys):
    (tmp_path / "test_leaks.py").write_text(
        "import asyncio, aiohttp\n"
        "SESSIONS = []\n"
        "def test_opens_a_session():\n"
        "    async def make():\n"
        "        SESSIONS.append(aiohttp.ClientSession())\n"
        "    asyncio.run(make())\n"
    )
    code = run_suites.main([str(tmp_path / "test_leaks.py"), "--", "-p", "no:cacheprovider"])
    out = capsys.readouterr().out
    assert code == 1
    assert "1 passed" in out and "unclosed aiohttp session(s) or connector(s) reported" in out
