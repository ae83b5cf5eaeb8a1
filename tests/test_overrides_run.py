"""Bring your own budgets: `--overrides` on run, batch and diff, end to end, with a file as a French finance team
saves it (`;`, decimal comma, no-break spaces, a legal entity's figures split among its sites)."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pandas as pd
import pytest

from cyberbudget import config
from cyberbudget.data.registry import load_establishments
from cyberbudget.money import hamilton_exact
from cyberbudget.reports.manifest import sha256_file

pytestmark = pytest.mark.slow


def cyberbudget(*args: str | Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("cyberbudget")
    return subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def entity() -> tuple[str, list[str], list[int]]:
    """A legal entity of the default table with three or more sites, its sites and their imputed operating
    budgets in cents (the weights of the split)."""
    table = load_establishments()
    sizes = table.groupby("finess_ej")["finess"].count()
    ej = sorted(sizes[sizes >= 3].index)[0]
    sites = table[table["finess_ej"] == ej].sort_values("finess")
    return ej, list(sites["finess"]), [round(v * 100) for v in sites["operating_budget_eur"]]


@pytest.fixture(scope="module")
def french_file(tmp_path_factory, entity) -> Path:
    ej, _, _ = entity
    path = tmp_path_factory.mktemp("budgets") / "budgets_2024.csv"
    # as LibreOffice / Excel save it in French: ';', decimal comma, no-break space thousands separator, Latin-1
    text = f"finess_ej;name;it_budget_eur\n{ej};Entité synthétique (EPRD 2024);2\u00a0500\u00a0000,00\n"
    path.write_bytes(text.encode("latin-1"))
    return path


@pytest.fixture(scope="module")
def report(tmp_path_factory, french_file) -> Path:
    out = tmp_path_factory.mktemp("reports")
    proc = cyberbudget("run", "baseline", "--overrides", french_file, "--out", out)
    assert proc.returncode == 0, proc.stderr
    return out / "baseline"


def test_run_splits_a_legal_entity_s_it_budget_among_its_sites_to_the_cent(report, entity):
    ej, sites, weights = entity
    alloc = pd.read_csv(report / "allocation.csv", dtype={"finess": str})
    got = [round(v * 100) for v in alloc.set_index("finess").loc[sites, "it_budget_eur"]]
    total = 250_000_000
    expected = hamilton_exact([Fraction(total * w, sum(weights)) for w in weights], total, sites)
    assert got == expected  # pro rata to the sites' imputed operating budgets, Hamilton rounding, ties by finess


def test_the_manifest_hashes_the_overrides_file_and_verify_reproduces_the_run(report, french_file):
    manifest = json.loads((report / "manifest.json").read_text(encoding="utf-8"))
    entries = [e for e in manifest["inputs"] if e["role"] == "overrides"]
    assert len(entries) == 1 and entries[0]["sha256"] == sha256_file(french_file)
    proc = cyberbudget("verify", report)
    assert proc.returncode == 0, proc.stderr


def test_verify_reports_an_overrides_file_changed_since_the_run(tmp_path, french_file):
    changed = tmp_path / "budgets.csv"
    changed.write_bytes(french_file.read_bytes())
    assert cyberbudget("run", "baseline", "--overrides", changed, "--out", tmp_path / "r").returncode == 0
    changed.write_bytes(french_file.read_bytes().replace(b"2\xa0500\xa0000,00", b"3\xa0000\xa0000,00"))
    proc = cyberbudget("verify", tmp_path / "r" / "baseline")
    assert proc.returncode == 1
    assert "overrides" in proc.stderr


def test_a_finess_whose_leading_zero_a_spreadsheet_dropped_exits_2_with_the_correction(tmp_path):
    table = load_establishments()
    site = next(f for f in table["finess"] if f.startswith("0"))
    bad = tmp_path / "bad.csv"
    bad.write_text(f"finess;cyber_spend_eur\n{site[1:]};12 000,00\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = cyberbudget("run", "baseline", "--overrides", bad, "--out", out)
    assert proc.returncode == 2
    assert f"did you mean {site}?" in proc.stderr and "bad.csv" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not any(out.iterdir())


def test_diff_and_batch_take_the_same_overrides(tmp_path, french_file, entity):
    proc = cyberbudget("diff", "baseline", "capped", "--overrides", french_file)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "batch"
    proc = cyberbudget("batch", config.SCENARIOS_DIR / "baseline.yaml", "--overrides", french_file, "--out", out)
    assert proc.returncode == 0, proc.stderr
    ej, sites, _ = entity
    alloc = pd.read_csv(out / "baseline" / "allocation.csv", dtype={"finess": str}).set_index("finess")
    assert round(alloc.loc[sites, "it_budget_eur"].sum() * 100) == 250_000_000
    assert json.loads((out / "batch.json").read_text(encoding="utf-8"))["overrides"] == str(french_file)
