"""The conda recipes (rattler-build format) of the core, the applications and the store packages.

``python tools/recipes.py render [--release] RECIPE...`` renders each recipe with
py-rattler-build (offline: no channel is contacted) and checks it against its
distribution: package name and version, the source (the sdist of the GitHub release of the
tag ``<short name>-v<version>``, with a sha256), and run requirements covering every
dependency of the ``pyproject.toml``. ``--release`` also requires the sha256 to be filled.
Store packages and applications without a recipe are reported too.

``python tools/recipes.py fill RECIPE SDIST`` writes the sha256 of the built ``SDIST`` into
the recipe's ``sdist_sha256`` (the release workflow does this) after checking that the
sdist is the one the recipe's source URL names.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
UNFILLED = "0" * 64
#: PyPI names whose conda-forge package is called differently.
CONDA_NAMES = {"dask": "dask-core"}
#: Extras that stand for one more package (``h5netcdf[h5py]``); the core's own extras are
#: read from its pyproject.toml.
EXTRA_PACKAGES = {("h5netcdf", "h5py"): "h5py"}
_SHA256_LINE = re.compile(r'^(\s*sdist_sha256:\s*)"?[0-9a-fA-F]*"?\s*$', re.MULTILINE)
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[([^\]]*)\])?")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _core_extras() -> dict[str, list[str]]:
    pyproject = tomllib.loads((ROOT / "core" / "pyproject.toml").read_text())
    return pyproject["project"].get("optional-dependencies", {})


def conda_names(requirement: str) -> list[str]:
    """The conda package names a PEP 508 requirement stands for, its extras included."""
    match = _REQUIREMENT.match(requirement)
    if match is None:
        raise ValueError(f"cannot read the requirement {requirement!r}")
    name = _normal(match.group(1))
    extras = [_normal(e) for e in (match.group(3) or "").split(",") if e.strip()]
    names = [CONDA_NAMES.get(name, name)]
    for extra in extras:
        if name == "eostores":
            for each in _core_extras().get(extra, []):
                names += [n for n in conda_names(each) if n != "eostores"]
        elif (name, extra) in EXTRA_PACKAGES:
            names.append(EXTRA_PACKAGES[(name, extra)])
    return names


def distribution_of(recipe: Path) -> dict[str, Any]:
    """Name, version and dependencies of the distribution whose recipe is ``recipe``."""
    project_dir = recipe.parent.parent
    pyproject = tomllib.loads((project_dir / "pyproject.toml").read_text())
    project = pyproject["project"]
    version_file = project_dir / pyproject["tool"]["hatch"]["version"]["path"]
    found = re.search(r'^__version__\s*=\s*"([^"]+)"', version_file.read_text(), re.MULTILINE)
    if found is None:
        raise ValueError(f"{version_file}: no __version__")
    return {
        "name": project["name"],
        "version": found.group(1),
        "dependencies": project.get("dependencies", []),
        "tag_prefix": "eostores" if project_dir.name == "core" else project_dir.name,
    }


def render(recipe: Path) -> dict[str, Any]:
    """The recipe rendered by rattler-build, as a dict."""
    from rattler_build import Stage0Recipe

    variants = Stage0Recipe.from_file(str(recipe)).render()
    if len(variants) != 1:
        raise ValueError(f"{recipe}: {len(variants)} variants; a noarch recipe has one")
    return variants[0].recipe.to_dict()


def recipe_problems(recipe: Path, release: bool = False) -> list[str]:
    """What is wrong with ``recipe``, rendered and compared with its distribution."""
    try:
        rendered = render(recipe)
        dist = distribution_of(recipe)
    except Exception as error:
        return [f"{recipe}: cannot be rendered: {type(error).__name__}: {error}"]
    problems = []
    package = rendered["package"]
    if package["name"] != dist["name"]:
        problems.append(f"{recipe}: package {package['name']!r}, distribution {dist['name']!r}")
    if str(package["version"]) != dist["version"]:
        problems.append(f"{recipe}: version {package['version']}, distribution {dist['version']}")
    sources = rendered.get("source") or []
    source = sources[0] if len(sources) == 1 else {}
    tag = f"{dist['tag_prefix']}-v{dist['version']}"
    sdist = f"{dist['name'].replace('-', '_')}-{dist['version']}.tar.gz"
    url = source.get("url", "")
    url = url[0] if isinstance(url, list) else url
    if not url.endswith(f"/releases/download/{tag}/{sdist}"):
        problems.append(f"{recipe}: the source must be the released sdist .../{tag}/{sdist}")
    sha256 = str(source.get("sha256", ""))
    if not re.fullmatch(r"[0-9a-f]{64}", sha256):
        problems.append(f"{recipe}: the source needs a sha256")
    elif release and sha256 == UNFILLED:
        problems.append(f"{recipe}: sdist_sha256 is not filled in (tools/recipes.py fill)")
    run = {
        _normal(str(r).split()[0])
        for r in rendered.get("requirements", {}).get("run", [])
        if isinstance(r, str)
    }
    for requirement in dist["dependencies"]:
        missing = [name for name in conda_names(requirement) if name not in run]
        if missing:
            problems.append(f"{recipe}: run requirements lack {', '.join(missing)} ({requirement})")
    return problems


def missing_recipes(root: Path = ROOT) -> list[str]:
    """Store packages and applications without a recipe."""
    projects = [*root.glob("apps/*/pyproject.toml"), *root.glob("packages/*/pyproject.toml")]
    return [
        f"{package.relative_to(root)}: no recipe/recipe.yaml"
        for package in sorted(p.parent for p in projects)
        if not (package / "recipe" / "recipe.yaml").is_file()
    ]


def fill(recipe: Path, sdist: Path) -> str:
    """Write the sha256 of ``sdist`` into ``recipe``; returns the sha256."""
    dist = distribution_of(recipe)
    expected = f"{dist['name'].replace('-', '_')}-{dist['version']}.tar.gz"
    if sdist.name != expected:
        raise SystemExit(f"{sdist.name} is not the sdist of the recipe ({expected})")
    digest = hashlib.sha256(sdist.read_bytes()).hexdigest()
    text = recipe.read_text()
    filled, count = _SHA256_LINE.subn(lambda m: f'{m.group(1)}"{digest}"', text)
    if count != 1:
        raise SystemExit(f"{recipe}: expected one 'sdist_sha256:' line in its context")
    recipe.write_text(filled)
    return digest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    render_command = commands.add_parser("render", help="render and check recipes")
    render_command.add_argument("recipes", nargs="+", type=Path)
    render_command.add_argument("--release", action="store_true", help="sha256 must be set")
    fill_command = commands.add_parser("fill", help="write an sdist's sha256 into a recipe")
    fill_command.add_argument("recipe", type=Path)
    fill_command.add_argument("sdist", type=Path)
    args = parser.parse_args(argv)
    if args.command == "fill":
        print(f"{args.recipe}: sdist_sha256 {fill(args.recipe, args.sdist)}")
        return 0
    problems = missing_recipes() if not args.release else []
    for recipe in args.recipes:
        found = recipe_problems(recipe, release=args.release)
        problems += found
        if not found:
            print(f"{recipe}: rendered, matches its distribution")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
