"""Check the layout and import hygiene every package of the repository follows.

* Each store package ``packages/<name>/src/eostores_<name>/`` has the fixed anatomy of
  docs/developing.md: ``store.py api.py catalog.py schema.py convert.py config.py`` and a
  ``testing/`` package.
* No module, in the core or a store package, imports a ``_private`` name from another
  module (``from x import _name``; dunder names such as ``__version__`` are public).
* Every store package is listed in each import-linter contract of the root
  ``pyproject.toml``, so that ``lint-imports`` checks it.

Prints one line per problem and exits 1 if there is any; ``--root`` selects the repository.
``--write-contracts`` rewrites the import contracts of the root ``pyproject.toml`` (the
block between the ``BEGIN``/``END import contracts`` comments) for the packages present.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ANATOMY = ("store.py", "api.py", "catalog.py", "schema.py", "convert.py", "config.py")
TESTING_PACKAGE = "testing/__init__.py"
CONTRACTS_BEGIN = "# BEGIN import contracts"
CONTRACTS_END = "# END import contracts"


def store_packages(root: Path) -> list[Path]:
    """The import packages ``packages/*/src/eostores_*`` of the repository."""
    return sorted(p for p in root.glob("packages/*/src/eostores_*") if p.is_dir())


def applications(root: Path) -> list[Path]:
    """The import packages ``apps/*/src/eostores_*`` (applications over the registry)."""
    return sorted(p for p in root.glob("apps/*/src/eostores_*") if p.is_dir())


def declared_store_imports(root: Path) -> list[str]:
    """``"eostores_a.** -> eostores_b.**"`` for every store package ``a`` whose distribution
    depends on the store package ``b`` (the one way store packages may import each other)."""
    import re
    import tomllib

    names = {p.name for p in store_packages(root)}
    allowed = []
    for package in store_packages(root):
        pyproject = package.parent.parent / "pyproject.toml"
        dependencies = tomllib.loads(pyproject.read_text())["project"].get("dependencies", [])
        for requirement in dependencies:
            name = re.match(r"[A-Za-z0-9_.-]+", requirement).group(0).lower()
            module = name.replace("-", "_")
            if module in names and module != package.name:
                allowed.append(f"{package.name}.** -> {module}.**")
    return allowed


def anatomy_problems(package: Path) -> Iterator[str]:
    """The files of the fixed anatomy that ``package`` lacks."""
    for name in (*ANATOMY, TESTING_PACKAGE):
        if not (package / name).is_file():
            yield f"{package}: missing {name} (docs/developing.md, 'Anatomy of a store package')"


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_import_problems(path: Path, root: Path) -> Iterator[str]:
    """``from module import _name`` statements in the Python file ``path``."""
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as error:
        yield f"{path.relative_to(root)}:{error.lineno}: cannot be parsed: {error.msg}"
        return
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = "." * node.level + (node.module or "")
            for alias in node.names:
                if _is_private(alias.name):
                    yield (
                        f"{path.relative_to(root)}:{node.lineno}: imports the private name "
                        f"{alias.name!r} from {source!r}"
                    )


def source_files(root: Path) -> list[Path]:
    """The Python files of the core's, the applications' and the store packages' sources."""
    packages = [*applications(root), *store_packages(root)]
    trees = [root / "core" / "src", *(p.parent for p in packages)]
    return sorted(f for tree in trees if tree.is_dir() for f in tree.rglob("*.py"))


def contract_problems(root: Path) -> Iterator[str]:
    """Whether the import contracts of pyproject.toml are those of the packages present."""
    text = (root / "pyproject.toml").read_text()
    if CONTRACTS_BEGIN not in text or CONTRACTS_END not in text:
        yield "pyproject.toml: no import contracts (tools/check_anatomy.py --write-contracts)"
        return
    written = text[text.index(CONTRACTS_BEGIN) : text.index(CONTRACTS_END) + len(CONTRACTS_END)]
    expected = contracts_toml(root).strip()
    if written.strip() != expected:
        yield (
            "pyproject.toml: the import contracts do not cover the packages present "
            "(python tools/check_anatomy.py --write-contracts)"
        )


def _toml_list(items: list[str]) -> str:
    return "[\n" + "".join(f'    "{item}",\n' for item in items) + "]"


def contracts_toml(root: Path) -> str:
    """The import-linter configuration for the core and the store packages of ``root``.

    Packages without an ``__init__.py`` are left out (they cannot be imported yet), and so
    are those without a ``testing`` package from the contract about it; layers are optional,
    so that a module missing from one package (reported above) does not stop the checks.
    """
    importable = [p for p in store_packages(root) if (p / "__init__.py").is_file()]
    packages = [p.name for p in importable]
    tested = [p.name for p in importable if (p / TESTING_PACKAGE).is_file()]
    every = _toml_list(packages)
    every_child = _toml_list([f"{name}.*" for name in tested])
    every_testing = _toml_list([f"{name}.testing" for name in tested])
    declared = _toml_list(declared_store_imports(root))
    apps = [p.name for p in applications(root) if (p / "__init__.py").is_file()]
    return f"""{CONTRACTS_BEGIN}
# Checked by `lint-imports` in the nox `lint` session (docs/developing.md); written by
# `python tools/check_anatomy.py --write-contracts` for the packages under apps/ and packages/.
[tool.importlinter]
root_packages = {_toml_list(["eostores", *apps, *packages])}
exclude_type_checking_imports = true

[[tool.importlinter.contracts]]
id = "core-acyclic"
name = "The core has no import cycles"
type = "acyclic_siblings"
ancestors = ["eostores"]

[[tool.importlinter.contracts]]
id = "stores-acyclic"
name = "No store package has import cycles"
type = "acyclic_siblings"
ancestors = {every}

[[tool.importlinter.contracts]]
id = "apps-acyclic"
name = "No application has import cycles"
type = "acyclic_siblings"
ancestors = {_toml_list(apps)}

[[tool.importlinter.contracts]]
id = "core-without-stores"
name = "The core imports no store package and no application"
type = "forbidden"
source_modules = ["eostores"]
forbidden_modules = {_toml_list([*apps, *packages])}

[[tool.importlinter.contracts]]
id = "apps-through-registry"
name = "Applications reach the stores through the registry only"
type = "forbidden"
source_modules = {_toml_list(apps)}
forbidden_modules = {every}

[[tool.importlinter.contracts]]
id = "stores-independent"
name = "Store packages do not import each other, but for the dependencies they declare"
type = "independence"
modules = {every}
ignore_imports = {declared}

[[tool.importlinter.contracts]]
id = "runtime-without-testing"
name = "The runtime modules of a store package never import its testing package"
type = "forbidden"
source_modules = {every_child}
forbidden_modules = {every_testing}

[[tool.importlinter.contracts]]
id = "store-layers"
name = "Store packages are layered: store > schema, catalog > api | convert > config"
type = "layers"
containers = {every}
layers = ["(testing)", "(store)", "(schema) : (catalog)", "(api) | (convert)", "(config)"]
{CONTRACTS_END}
"""


def write_contracts(root: Path) -> None:
    """Replace the import contracts of ``root``'s pyproject.toml (or append them)."""
    path = root / "pyproject.toml"
    text = path.read_text()
    block = contracts_toml(root)
    if CONTRACTS_BEGIN in text and CONTRACTS_END in text:
        before = text[: text.index(CONTRACTS_BEGIN)]
        after = text[text.index(CONTRACTS_END) + len(CONTRACTS_END) :].lstrip("\n")
        text = before + block + (("\n" + after) if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def check(root: Path) -> list[str]:
    """Every problem found in the repository at ``root``."""
    packages = store_packages(root)
    problems = [p for package in packages for p in anatomy_problems(package)]
    problems += [p for path in source_files(root) for p in private_import_problems(path, root)]
    problems += list(contract_problems(root))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path(__file__).resolve().parent.parent, help="repository"
    )
    parser.add_argument(
        "--write-contracts",
        action="store_true",
        help="rewrite the import contracts in pyproject.toml for the packages present",
    )
    args = parser.parse_args(argv)
    if args.write_contracts:
        write_contracts(args.root)
    problems = check(args.root)
    for problem in problems:
        print(problem)
    packages = len(store_packages(args.root))
    if problems:
        print(f"{len(problems)} problem(s) in the core and {packages} store package(s)")
        return 1
    print(f"anatomy and imports fine: the core and {packages} store package(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
