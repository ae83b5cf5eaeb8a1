"""The house rules of the code (docs/architecture.md): one package per layer, lower layers never import higher
ones, no import cycles, no private name used across modules, every package names its public API."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cyberbudget import config

ROOT = config.ROOT
PACKAGE = ROOT / "cyberbudget"
LAYERS = ("data", "policy", "risk", "uncertainty", "reports")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _modules() -> dict[str, Path]:
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).with_suffix("")
        parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
        out[".".join(parts)] = path
    return out


def _private_uses(module: str, path: Path, modules: set[str]) -> list[str]:
    """``from cyberbudget.x import _name`` and ``alias._name`` where ``alias`` is another cyberbudget module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    aliases: dict[str, str] = {}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cyberbudget"):
            for a in node.names:
                target = f"{node.module}.{a.name}"
                if target in modules:  # a module imported by name
                    aliases[a.asname or a.name] = target
                elif a.name.startswith("_") and not a.name.startswith("__") and node.module != module:
                    found.append(f"{module}: from {node.module} import {a.name} (line {node.lineno})")
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("cyberbudget") and a.asname:
                    aliases[a.asname] = a.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
                and node.attr.startswith("_") and not node.attr.startswith("__")
                and aliases[node.value.id] != module):
            found.append(f"{module}: {node.value.id}.{node.attr} (line {node.lineno})")
    return found


def test_no_module_uses_another_modules_private_names():
    modules = _modules()
    found = [use for name, path in modules.items() for use in _private_uses(name, path, set(modules))]
    assert found == []


def test_the_private_name_check_catches_both_forms(tmp_path):
    """The check above is not vacuous: both ways of reaching a private name are reported."""
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from cyberbudget.policy import allocation as alloc\n"
        "from cyberbudget.money import _hidden\n"
        "x = alloc._sorted_table\n",
        encoding="utf-8",
    )
    uses = _private_uses("cyberbudget.probe", probe, set(_modules()))
    assert len(uses) == 2
    assert any("import _hidden" in u for u in uses) and any("alloc._sorted_table" in u for u in uses)


@pytest.mark.parametrize("layer", LAYERS)
def test_every_layer_is_a_package_that_names_its_public_api(layer):
    init = PACKAGE / layer / "__init__.py"
    tree = ast.parse(init.read_text(encoding="utf-8"))
    assert ast.get_docstring(tree), f"cyberbudget/{layer}/__init__.py has no docstring saying what the layer owns"
    names = [t.id for node in tree.body if isinstance(node, ast.Assign) for t in node.targets
             if isinstance(t, ast.Name)]
    assert "__all__" in names, f"cyberbudget/{layer}/__init__.py does not name its public API (__all__)"


def test_only_the_cli_parses_arguments_or_prints():
    offenders = []
    for name, path in _modules().items():
        if name == "cyberbudget.cli":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
                offenders.append(f"{name}: print (line {node.lineno})")
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if any(m.split(".")[0] in {"argparse", "typer", "click"} for m in mods):
                    offenders.append(f"{name}: imports {mods} (line {node.lineno})")
    assert offenders == []


def _lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}
    return subprocess.run([str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_the_layer_contract_holds_and_fails_on_an_upward_import(tmp_path):
    """`lint-imports` passes on the repository, and the same contract rejects a copy in which the data layer
    imports the reports layer."""
    ok = _lint_imports(ROOT)
    assert ok.returncode == 0, ok.stdout + ok.stderr

    copy = tmp_path / "repo"
    shutil.copytree(PACKAGE, copy / "cyberbudget", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", copy / "pyproject.toml")
    schema = copy / "cyberbudget" / "data" / "schema.py"
    schema.write_text(schema.read_text(encoding="utf-8") + "\nfrom cyberbudget.reports import plots  # noqa\n",
                      encoding="utf-8")
    broken = _lint_imports(copy)
    assert broken.returncode != 0
    assert "cyberbudget.data is not allowed to import cyberbudget.reports" in broken.stdout
