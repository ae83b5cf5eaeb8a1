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


@pytest.mark.parametrize("case", sorted(BAD_SCENARIOS))
def test_every_class_of_bad_scenario_exits_2_with_its_key_path_and_writes_nothing(tmp_path, case):
    text, key = BAD_SCENARIOS[case]
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    proc = cyberbudget("run", path, "--out", out)
    assert_clean_input_error(proc, "bad.yaml", key)
    assert not out.exists() or not any(out.iterdir())


def test_diff_with_report_writes_the_comparison_notebook_and_a_self_contained_html(tmp_path):
    base, other = config.SCENARIOS_DIR / "baseline.yaml", config.SCENARIOS_DIR / "matching.yaml"
    proc = cyberbudget("diff", base, other, "--report", tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Parameters" in proc.stdout and "allocation.rule" in proc.stdout
    folder = tmp_path / "compare-baseline-vs-matching"
    assert sorted(p.name for p in tmp_path.iterdir()) == [folder.name]  # no temporary folder left
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "matching" in html and "unspent" in html
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
