"""The layering of orchestration/ (pyproject.toml ``[tool.importlinter]``, docs/architecture.md) holds: no
stage imports a stage above it, lib/ imports no stage, and no module imports itself through a cycle."""

import subprocess
import sys
import tomllib
from pathlib import Path

import grimp
import networkx as nx
import pytest

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint(config: Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(config), "--no-cache"],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(cwd)},
        check=False,
    )


def test_the_import_contracts_are_kept():
    result = _lint(REPO / "pyproject.toml", REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_every_stage_folder_has_its_layer():
    """A new folder under orchestration/defs must be placed in the layers, or its imports go unchecked."""
    config = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    (layers,) = [c["layers"] for c in config["contracts"] if c["type"] == "layers"]
    stages = {
        f"orchestration.defs.{path.name}"
        for path in (REPO / "orchestration" / "defs").iterdir()
        if path.is_dir() and (path / "__init__.py").exists()
    }
    assert stages, "no stage folder found"
    assert stages - set(layers) == set()
    assert layers[-1] == "orchestration.lib"


def test_no_module_imports_itself_through_a_cycle():
    graph = grimp.build_graph("orchestration", exclude_type_checking_imports=True)
    imports = nx.DiGraph()
    for module in graph.modules:
        for imported in graph.find_modules_directly_imported_by(module):
            imports.add_edge(module, imported)
    cycles = [sorted(c) for c in nx.strongly_connected_components(imports) if len(c) > 1]
    assert cycles == []


@pytest.fixture
def violating_package(tmp_path):
    """A two-layer package whose lower layer imports the upper one, and a cycle between two helpers."""
    root = tmp_path / "pkg"
    for folder in ("lib", "defs", "defs/ingest"):
        (root / folder).mkdir(parents=True)
        (root / folder / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / "defs" / "ingest" / "assets.py").write_text("from pkg.lib import helpers\n")
    helpers = "from pkg.defs.ingest import assets\nfrom pkg.lib import other\n"
    (root / "lib" / "helpers.py").write_text(helpers)
    (root / "lib" / "other.py").write_text("from pkg.lib import helpers\n")
    config = tmp_path / "contracts.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "pkg"\n\n'
        '[[tool.importlinter.contracts]]\nname = "layers"\ntype = "layers"\n'
        'layers = ["pkg.defs.ingest", "pkg.lib"]\n\n'
        '[[tool.importlinter.contracts]]\nname = "cycles"\ntype = "acyclic_siblings"\nancestors = ["pkg"]\n'
    )
    return config


def test_a_lower_layer_importing_a_higher_one_is_reported(violating_package):
    result = _lint(violating_package, violating_package.parent)
    assert result.returncode != 0
    assert "pkg.lib is not allowed to import pkg.defs.ingest" in result.stdout
    assert "Contracts: 0 kept, 2 broken." in result.stdout
