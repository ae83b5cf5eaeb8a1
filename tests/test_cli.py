"""The command line as a user meets it: exit codes, one clear message, never a traceback, nothing half-written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from cyberbudget import config

CLI = [sys.executable, "-m", "cyberbudget.cli"]


def cyberbudget(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CYBERBUDGET_DEBUG": ""}
    return subprocess.run(
        [*CLI, *map(str, args)], capture_output=True, text=True, cwd=cwd or config.ROOT, env=env, timeout=600
    )


def assert_clean_input_error(proc: subprocess.CompletedProcess[str], *fragments: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    for fragment in fragments:
        assert fragment in proc.stderr, proc.stderr


def test_help_lists_every_command():
    proc = cyberbudget("--help")
    assert proc.returncode == 0
    for command in ("run", "batch", "validate", "diff", "verify", "data"):
        assert command in proc.stdout


def test_an_unknown_option_is_bad_input():
    proc = cyberbudget("validate", "--no-such-option", "x.csv")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_validate_a_missing_file_names_it(tmp_path):
    assert_clean_input_error(cyberbudget("validate", tmp_path / "nope.csv"), "nope.csv")


def test_validate_the_default_table_prints_one_ok_line():
    proc = cyberbudget("validate", config.DEFAULT_TABLE)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("OK ")
    assert len(proc.stdout.strip().splitlines()) == 1


def test_validate_a_binary_file_is_bad_input_without_traceback(tmp_path):
    junk = tmp_path / "junk.csv"
    junk.write_bytes(bytes(range(256)) * 64)
    assert_clean_input_error(cyberbudget("validate", junk), "junk.csv")


def test_run_with_a_missing_scenario_writes_nothing(tmp_path):
    out = tmp_path / "out"
    assert_clean_input_error(cyberbudget("run", tmp_path / "missing.yaml", "--out", out), "missing.yaml")
    assert not out.exists() or not any(out.iterdir())


def test_run_with_a_bad_scenario_names_the_key_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nenvelope:\n  total_eur: 350000000\neligibilty:\n  min_share: 0.05\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = cyberbudget("run", bad, "--out", out)
    assert_clean_input_error(proc, "bad.yaml", "eligibilty", "eligibility")
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow  # the same case is in the bad-scenario matrix below; kept as the user's first example
def test_run_with_a_share_written_as_percent_says_so(tmp_path):
    bad = tmp_path / "pct.yaml"
    bad.write_text("name: pct\nenvelope:\n  total_eur: 1000\neligibility:\n  min_share: 5\n", encoding="utf-8")
    assert_clean_input_error(cyberbudget("run", bad, "--out", tmp_path / "o"), "pct.yaml", "eligibility.min_share")


def test_diff_with_a_bad_table_is_bad_input(tmp_path):
    table = tmp_path / "t.csv"
    table.write_text("finess,name\n123,x\n", encoding="utf-8")
    base = config.SCENARIOS_DIR / "baseline.yaml"
    assert_clean_input_error(cyberbudget("diff", base, base, "--data", table), "t.csv")


def test_verify_a_folder_without_manifest_is_bad_input(tmp_path):
    assert_clean_input_error(cyberbudget("verify", tmp_path), str(tmp_path.name))


@pytest.mark.parametrize("args", [("data", "import-sae", "/no/such/dir"), ("batch",)])
def test_missing_arguments_or_folders_exit_2(args):
    proc = cyberbudget(*args)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


BAD_SCENARIOS = {
    "unknown key": ("name: s\nenvelope:\n  total_eur: 1000\nallocation:\n  rul: gap\n", "allocation.rul"),
    "share as a percent": ("name: s\nenvelope:\n  total_eur: 1000\neligibility:\n  max_share: 10\n",
                           "eligibility.max_share"),
    "min above max": ("name: s\nenvelope:\n  total_eur: 1000\neligibility:\n  min_share: 0.2\n  max_share: 0.1\n",
                      "min_share"),
    "negative envelope": ("name: s\nenvelope:\n  total_eur: -1\n", "envelope.total_eur"),
    "three decimals": ("name: s\nenvelope:\n  total_eur: 1000.005\n", "envelope.total_eur"),
    "schedule not summing to one": (
        "name: s\nenvelope:\n  total_eur: 1000\n  years: [2021, 2022]\n  schedule: {2021: 0.5, 2022: 0.49}\n",
        "envelope.schedule"),
    "name escaping the output folder": ("name: ../escape\nenvelope:\n  total_eur: 1000\n", "name"),
    "missing envelope": ("name: s\n", "envelope"),
}


@pytest.mark.slow  # one interpreter per case; test_run_with_a_bad_scenario_names_the_key... stays in test-fast
@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_every_class_of_bad_scenario_exits_2_with_its_key_path_and_writes_nothing(tmp_path, case):
    text, key = BAD_SCENARIOS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    proc = cyberbudget("run", path, "--out", out)
    assert_clean_input_error(proc, "bad.yaml", key)
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow  # executes the comparison notebook
def test_diff_with_report_writes_the_comparison_notebook_and_a_self_contained_html(tmp_path):
    base, other = config.SCENARIOS_DIR / "baseline.yaml", config.SCENARIOS_DIR / "matching.yaml"
    proc = cyberbudget("diff", base, other, "--report", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Parameters" in proc.stdout and "allocation.rule" in proc.stdout
    folder = tmp_path / "compare-baseline-vs-matching"
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no temporary folder left
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "matching" in html and "non dépensé" in html and '<html lang="fr">' in html  # French by default
    assert not re.search(r"<script[^>]+src=[\"']?(https?:)?//", html, re.I)  # nothing fetched when opened
    assert not re.search(r"<link[^>]+href=[\"']?(https?:)?//", html, re.I)
    assert "Établissement synthétique" not in html  # aggregated: no establishment named


def test_diff_with_report_rejects_a_bad_scenario_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nenvelope:\n  total_eur: -3\n", encoding="utf-8")
    out = tmp_path / "out"
    proc = cyberbudget("diff", config.SCENARIOS_DIR / "baseline.yaml", bad, "--report", out)
    assert_clean_input_error(proc, "bad.yaml", "envelope.total_eur")
    assert not out.exists()


def test_run_with_an_unknown_scenario_name_says_where_it_looked(tmp_path):
    out = tmp_path / "out"
    proc = cyberbudget("run", "no_such_scenario", "--out", out, cwd=tmp_path)
    assert_clean_input_error(proc, "no_such_scenario", str(tmp_path / "no_such_scenario"),
                             str(config.SCENARIOS_DIR / "no_such_scenario.yaml"))
    assert not out.exists()


# ------------------------------------------------------------------------------- every template, any scenario

RUNNABLE_TEMPLATES = sorted(p.stem for p in config.TEMPLATES_DIR.glob("*.ipynb") if "comparison" not in p.stem)
#: Figures each template draws when its analysis is available.
TEMPLATE_FIGURES = {"allocation_report": 11, "risk_report": 6, "uncertainty": 3, "sensitivity": 5}


@pytest.fixture(scope="module")
def tiny_table(tmp_path_factory) -> Path:
    """Two establishments per region (36 rows, labelled synthetic by the generator)."""
    from cyberbudget.data.registry import synthesize, write_table

    return write_table(synthesize().groupby("region", sort=True).head(2), tmp_path_factory.mktemp("t") / "tiny.csv")


@pytest.fixture(scope="module")
def optimal_scenario(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("s") / "optimal_rule.yaml"
    path.write_text(f"name: optimal_rule\nextends: {config.SCENARIOS_DIR / 'baseline.yaml'}\n"
                    "allocation:\n  rule: optimal\n", encoding="utf-8")
    return path


def test_every_non_comparison_template_is_covered():
    assert set(RUNNABLE_TEMPLATES) == set(TEMPLATE_FIGURES)


@pytest.mark.slow  # one fresh kernel per run
@pytest.mark.parametrize("scenario", ["baseline", "uptake_logistic", "optimal"])
@pytest.mark.parametrize("template", RUNNABLE_TEMPLATES)
def test_every_template_runs_with_cyberbudget_run_on_any_valid_scenario(tmp_path, tiny_table, optimal_scenario,
                                                                       monkeypatch, template, scenario):
    """DESIGN.md: every template whose name does not contain `comparison` runs with `cyberbudget run SCENARIO
    --template NAME` on any valid scenario (bare scenario names resolve in scenarios/).

    The command runs in this process (typer's test runner: same arguments, same exit code, same output) to save
    an interpreter start per run; the tests above run it as a separate process."""
    from typer.testing import CliRunner

    from cyberbudget.cli import app

    given = str(optimal_scenario) if scenario == "optimal" else scenario
    out = tmp_path / "out"
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", given, "--template", template, "--data", str(tiny_table),
                                      "--out", str(out)])
    assert result.exit_code == 0, result.output + result.stderr
    folder = out / ("optimal_rule" if scenario == "optimal" else scenario)
    assert sorted(p.name for p in out.iterdir()) == [folder.name]
    assert {p.name for p in folder.iterdir()} == {"allocation.csv", "summary.json", "report.ipynb", "report.html",
                                                  "allocation.xlsx", "manifest.json"}
    html = (folder / "report.html").read_text(encoding="utf-8")
    if scenario == "optimal" and template in ("uncertainty", "sensitivity"):
        assert "Non disponible pour la règle <code>optimal</code>" in html
        assert html.count("Plotly.newPlot(") == 0
    else:
        assert "Non disponible" not in html
        assert html.count("Plotly.newPlot(") == TEMPLATE_FIGURES[template]
