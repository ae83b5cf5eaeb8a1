"""``cyberbudget verify``: re-run a report from its manifest and compare the deterministic files byte for byte.

:func:`verify` locates the inputs recorded in ``DIR/NAME/manifest.json`` (absolute path, else relative to the
project root), checks their SHA-256 (a changed table or scenario is a difference; a changed template only a
warning, since the template shapes the report, not the numbers), warns when package versions differ from the
manifest's, recomputes, and compares ``allocation.csv`` and ``summary.json`` with the recorded ones, saying
which lines or keys differ.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cyberbudget.errors import InputError, Problem
from cyberbudget.reports import manifest
from cyberbudget.reports.computed import compute
from cyberbudget.reports.inputs import PathArg
from cyberbudget.reports.outputs import write_outputs

__all__ = ["VerifyResult", "verify"]


@dataclass
class VerifyResult:
    """Outcome of :func:`verify`.

    Attributes
    ----------
    ok : bool
        allocation.csv and summary.json re-run byte-identical, and no recorded input changed.
    differences : list of str
        What differs (changed inputs, lines of allocation.csv, keys of summary.json).
    warnings : list of str
        Package versions that differ from the manifest's; a changed template.
    """

    ok: bool
    differences: list[str]
    warnings: list[str]


def _describe_csv(name: str, recorded: bytes, rerun: bytes, limit: int = 3) -> list[str]:
    a, b = recorded.decode("utf-8", "replace").split("\n"), rerun.decode("utf-8", "replace").split("\n")
    out = []
    n_diff = sum(1 for x, y in zip(a, b, strict=False) if x != y) + abs(len(a) - len(b))
    out.append(f"{name}: {n_diff} line(s) differ ({len(a)} recorded vs {len(b)} re-run)")
    shown = 0
    for i, (x, y) in enumerate(zip(a, b, strict=False), start=1):
        if x != y:
            out.append(f"{name}: line {i}: recorded {x[:160]!r}, re-run {y[:160]!r}")
            shown += 1
            if shown >= limit:
                break
    return out


def _json_paths(x: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(x, dict):
        out: dict[str, Any] = {}
        for k, v in x.items():
            out.update(_json_paths(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(x, list):
        out = {}
        for i, v in enumerate(x):
            out.update(_json_paths(v, f"{prefix}[{i}]"))
        return out
    return {prefix: x}


def _describe_json(name: str, recorded: bytes, rerun: bytes, limit: int = 5) -> list[str]:
    try:
        a = _json_paths(json.loads(recorded))
        b = _json_paths(json.loads(rerun))
    except ValueError:
        return _describe_csv(name, recorded, rerun)
    keys = sorted(set(a) | set(b))
    diff = [k for k in keys if a.get(k, "<missing>") != b.get(k, "<missing>")]
    if not diff:
        return [f"{name}: same values, different bytes (formatting)"]
    out = [f"{name}: {len(diff)} key(s) differ"]
    out += [f"{name}: {k}: recorded {a.get(k, '<missing>')!r}, re-run {b.get(k, '<missing>')!r}"
            for k in diff[:limit]]
    return out


def verify(path: PathArg) -> VerifyResult:
    """Re-run a report from its manifest and compare ``allocation.csv`` and ``summary.json`` byte for byte.

    Inputs are located from the manifest (absolute path, else relative to the project root) and their
    SHA-256 checked: a changed input is reported as a difference. Package versions that differ from the
    manifest's are warnings.

    Raises
    ------
    InputError
        No such folder, no manifest, or a recorded input is missing (exit 2).
    """
    folder = Path(path)
    man = manifest.read_manifest(folder)
    differences: list[str] = []
    warnings: list[str] = []
    located: dict[str, Path] = {}
    missing = []
    for entry in man["inputs"]:
        p = manifest.locate_input(entry)
        if p is None:
            missing.append(Problem(f"{folder / manifest.MANIFEST_NAME}: inputs ({entry['role']})",
                                   f"expected the file {entry['path']}, found nothing"))
            continue
        located.setdefault(entry["role"], p)
        now = manifest.sha256_file(p)
        if now != entry["sha256"]:
            message = (f"input changed since the run: {entry['role']} {p} "
                       f"(sha256 {entry['sha256'][:12]}… recorded, {now[:12]}… now)")
            # The template shapes the report, not allocation.csv / summary.json: a warning, not a difference.
            (warnings if entry["role"] == "template" else differences).append(message)
    if missing:
        raise InputError(f"{folder}: inputs recorded in the manifest are missing", missing, source=str(folder))
    now_versions = manifest.package_versions(man["packages"].keys() - {"python"})  # python always included
    for pkg, was in sorted(man["packages"].items()):
        now = now_versions.get(pkg)
        if now != was:
            warnings.append(f"{pkg} {now} installed, the report was made with {was}")
    computed = compute(located["scenario"], located["table"], located.get("overrides"))
    with tempfile.TemporaryDirectory(prefix="cyberbudget-verify-") as tmp:
        outputs = write_outputs(computed, tmp, xlsx=False)
        for name, rerun_path in outputs.items():
            recorded_path = folder / name
            rerun = rerun_path.read_bytes()
            if not recorded_path.is_file():
                differences.append(f"{name}: missing from {folder}")
                continue
            recorded = recorded_path.read_bytes()
            if recorded != rerun:
                describe = _describe_json if name.endswith(".json") else _describe_csv
                differences += describe(name, recorded, rerun)
    return VerifyResult(ok=not differences, differences=differences, warnings=warnings)
