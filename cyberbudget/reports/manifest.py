"""``manifest.json``: everything needed to re-run a report and check it reproduces.

A manifest records the SHA-256 of every input (the establishment table, the scenario and every file of its
``extends:`` chain, the notebook template, every ``data/reference/*.yaml``), the resolved parameters, the seed,
the versions of the packages that compute results, the git commit of the source tree (if any), the timings of
each step and the SHA-256 of the outputs. :func:`cyberbudget.reports.verification.verify` reads it back.

Paths are stored absolute and, when they lie inside the project, also relative to the project root, so a
report folder moved with its project still verifies.
"""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
from collections.abc import Iterable, Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from cyberbudget import config
from cyberbudget.errors import InputError, Problem

MANIFEST_NAME: str = "manifest.json"
FORMAT_VERSION: int = 1
#: Packages whose version can change the numbers or the report.
PACKAGES: tuple[str, ...] = (
    "cyberbudget", "numpy", "pandas", "scipy", "pydantic", "pandera", "pyyaml", "openpyxl", "pyarrow",
    "plotly", "papermill", "nbconvert", "nbformat", "ipykernel", "jupyter_client", "salib", "dask",
)
#: Packages whose version changes the numbers of allocation.csv / summary.json (verify warns on these first).
RESULT_PACKAGES: tuple[str, ...] = ("cyberbudget", "numpy", "pandas", "scipy", "pydantic", "pyyaml")


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes, hex.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"; _ = p.write_bytes(b"abc")
    >>> sha256_file(p)[:16]
    'ba7816bf8f01cfea'
    """
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def package_versions(packages: Iterable[str] = PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (``"absent"`` if not installed), plus ``python``."""
    out = {"python": platform.python_version()}
    for name in packages:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "absent"
    return out


def git_commit(root: str | Path = config.ROOT) -> dict[str, Any] | None:
    """The commit of the source tree and whether it has uncommitted changes, or None outside a git repo."""
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=10, check=False)
        if head.returncode != 0:
            return None
        status = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": head.stdout.strip(), "dirty": bool(status.stdout.strip())}


def _relative(path: Path) -> str | None:
    try:
        return path.resolve().relative_to(config.ROOT).as_posix()
    except ValueError:
        return None


def file_entry(path: str | Path, role: str) -> dict[str, Any]:
    """``{role, path, relpath, sha256, bytes}`` of one input file."""
    p = Path(path).resolve()
    return {"role": role, "path": str(p), "relpath": _relative(p), "sha256": sha256_file(p),
            "bytes": p.stat().st_size}


def extends_chain(scenario_path: str | Path) -> list[Path]:
    """The files a scenario extends, nearest first (the scenario itself excluded).

    ``extends:`` holds a path (relative to the extending file) or a scenario name, looked up as
    ``<name>.yaml`` next to the extending file, then in ``config.SCENARIOS_DIR``.
    """
    chain: list[Path] = []
    current = Path(scenario_path).resolve()
    seen = {current}
    while True:
        try:
            data = yaml.safe_load(current.read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError):
            return chain
        parent = data.get("extends") if isinstance(data, Mapping) else None
        if not parent:
            return chain
        parent = str(parent)
        candidates = [current.parent / parent]
        if not parent.endswith((".yaml", ".yml")):
            candidates = [current.parent / f"{parent}.yaml", config.SCENARIOS_DIR / f"{parent}.yaml",
                          current.parent / parent]
        found = next((c.resolve() for c in candidates if c.is_file()), None)
        if found is None or found in seen:
            return chain
        chain.append(found)
        seen.add(found)
        current = found


def input_entries(
    *, table: str | Path, scenario: str | Path, template: str | Path, reference_dir: str | Path | None = None,
    extends: Iterable[str | Path] | None = None, overrides: str | Path | None = None,
) -> list[dict[str, Any]]:
    """Hash every input of a run: table, overrides file, scenario (+ extends chain), template, reference YAML
    files.

    ``extends`` lists the files the scenario was layered from (``Scenario.extends_chain``); by default the chain
    is read from the files' ``extends:`` keys.
    """
    entries = [file_entry(table, "table")]
    if overrides is not None:
        entries.append(file_entry(overrides, "overrides"))
    entries.append(file_entry(scenario, "scenario"))
    scenario_file = Path(scenario).resolve()
    chain = [Path(p).resolve() for p in extends] if extends is not None else extends_chain(scenario)
    entries += [file_entry(p, "scenario_extends") for p in chain if p != scenario_file]
    entries.append(file_entry(template, "template"))
    ref = Path(reference_dir or config.REFERENCE_DIR)
    entries += [file_entry(p, "reference") for p in sorted(ref.glob("*.yaml"))]
    return entries


def build_manifest(
    *,
    name: str,
    inputs: list[dict[str, Any]],
    parameters: Mapping[str, Any],
    seed: int | None,
    notebook_parameters: Mapping[str, Any],
    outputs: Mapping[str, str | Path],
    timings: Mapping[str, float],
    template: str,
) -> dict[str, Any]:
    """Assemble the manifest dict (see module docstring); ``outputs`` maps file name → path to hash."""
    return {
        "format": FORMAT_VERSION,
        "name": name,
        "seed": seed,
        "template": template,
        "inputs": inputs,
        "parameters": parameters,
        "notebook_parameters": dict(notebook_parameters),
        "outputs": {k: sha256_file(v) for k, v in sorted(outputs.items())},
        "packages": package_versions(),
        "git": git_commit(),
        "platform": {"system": platform.system(), "machine": platform.machine()},
        "timings_s": {k: round(float(v), 4) for k, v in timings.items()},
    }


def write_manifest(path: str | Path, manifest: Mapping[str, Any]) -> Path:
    """Write ``manifest.json`` (UTF-8, sorted keys, 2-space indent, LF)."""
    path = Path(path)
    path.write_text(json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False, default=str) + "\n",
                    encoding="utf-8", newline="\n")
    return path


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """Read ``<folder>/manifest.json``; a missing folder, file or malformed manifest raises InputError."""
    folder = Path(folder)
    path = folder / MANIFEST_NAME
    if not folder.is_dir():
        raise InputError(f"{folder}: no such report folder (expected DIR/NAME written by `cyberbudget run`)",
                         source=str(folder))
    if not path.is_file():
        raise InputError(f"{path}: no manifest.json in this folder (expected a folder written by `cyberbudget run`)",
                         source=str(path))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"{path}: cannot read the manifest: {exc}", source=str(path)) from exc
    problems = [Problem(f"{path}: {key}", "missing key")
                for key in ("name", "inputs", "outputs", "packages", "template") if key not in data]
    if problems:
        raise InputError(f"{path}: not a cyberbudget manifest", problems, source=str(path))
    return data


def locate_input(entry: Mapping[str, Any]) -> Path | None:
    """Find an input recorded in a manifest: its absolute path, else its path relative to the project root."""
    p = Path(entry["path"])
    if p.is_file():
        return p
    rel = entry.get("relpath")
    if rel and (config.ROOT / rel).is_file():
        return config.ROOT / rel
    return None
