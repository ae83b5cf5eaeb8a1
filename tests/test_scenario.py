"""Scenario files: defaults, ``extends:`` layering, and every class of bad scenario → one ScenarioError that
names the file and the key path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cyberbudget import config
from cyberbudget.errors import InputError, ScenarioError
from cyberbudget.policy.scenario import envelope_cents, euros_to_cents, load_scenario

MINIMAL = {"name": "m", "envelope": {"total_eur": 350_000_000}}


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def problems_of(spec_or_path) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        load_scenario(spec_or_path)
    return [str(p) for p in info.value.problems]


def test_defaults_are_those_of_design() -> None:
    s = load_scenario(MINIMAL)
    assert s.seed == 20210218 and s.disclosure == "aggregate" and s.extends is None
    assert s.envelope.years == (2021, 2022, 2023, 2024, 2025) and s.envelope.schedule is None
    e = s.eligibility
    assert (e.min_share, e.max_share, e.exclude_above_max, e.medico_social) == (0.05, 0.10, False, False)
    assert e.statuses == ("public", "private_nonprofit", "private_forprofit")
    a = s.allocation
    assert (a.rule, a.base, a.floor_eur, a.cap_eur, a.match_rate, a.target_share, a.tier_amount) == (
        "proportional", "it_budget_eur", 0, None, 0.5, 0.10, "need")
    assert a.tiers == ("ose", "public", "private_nonprofit", "private_forprofit")
    assert (s.uptake.model, s.uptake.slope, s.uptake.midpoint) == ("none", None, 1.0)
    assert (a.unit, a.forfait) == ("establishment", None)
    assert (s.audits.envelope_eur, s.audits.surveillance_eur, s.audits.unit_cost_eur) == (25_000_000, None, None)
    assert s.ose.obligation == "none" and s.risk.breach_function == "I" and s.uncertainty.draws == 10_000
    assert s.source is None


def test_money_is_exact_cents() -> None:
    assert envelope_cents(load_scenario(MINIMAL)) == 35_000_000_000
    assert euros_to_cents(0.1) == 10 and euros_to_cents(1234.56) == 123456 and euros_to_cents(0.29) == 29
    with pytest.raises(ValueError):
        euros_to_cents(0.001)


def test_scenario_is_frozen_and_round_trips_through_to_dict() -> None:
    s = load_scenario({**MINIMAL, "envelope": {"total_eur": 10, "years": [2021, 2022],
                                               "schedule": {2021: 0.3, 2022: 0.7}}})
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        s.name = "other"  # type: ignore[misc]
    assert load_scenario(s.to_dict()) == s


def test_extends_deep_merges_onto_a_copy_of_the_base(tmp_path: Path) -> None:
    base = write(tmp_path, "base.yaml", "name: base\nenvelope: {total_eur: 1000}\nallocation: {cap_eur: 50, floor_eur: 5}\n")
    child = write(tmp_path, "child.yaml", "extends: base\nname: child\nallocation: {cap_eur: null}\n")
    s = load_scenario(child)
    assert s.envelope.total_eur == 1000 and s.allocation.cap_eur is None and s.allocation.floor_eur == 5
    assert s.source == str(child) and s.extends_chain[0] == str(base.resolve())
    assert load_scenario(base).allocation.cap_eur == 50  # base untouched


def test_extends_by_relative_path_and_by_package_name(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    write(tmp_path, "sub/b.yaml", "name: b\nenvelope: {total_eur: 7}\n")
    s = load_scenario(write(tmp_path, "a.yaml", "extends: sub/b.yaml\nname: a\n"))
    assert s.envelope.total_eur == 7
    s2 = load_scenario(write(tmp_path, "c.yaml", "extends: baseline\nname: c\nallocation: {rule: gap}\n"))
    assert s2.envelope.total_eur == 350_000_000 and s2.allocation.rule == "gap"
    assert s2.extends_chain[0] == str((config.SCENARIOS_DIR / "baseline.yaml").resolve())


def test_a_bare_name_is_a_scenario_of_the_scenarios_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # not the repository: the name resolves in config.SCENARIOS_DIR, as `run` does
    s = load_scenario("baseline")
    assert s.name == "baseline" and s.source == str(config.SCENARIOS_DIR / "baseline.yaml")
    assert load_scenario("capped") == load_scenario(config.SCENARIOS_DIR / "capped.yaml")
    write(tmp_path, "baseline", "name: local\nenvelope: {total_eur: 1}\n")  # a file of that name wins
    assert load_scenario("baseline").name == "local"
    with pytest.raises(ScenarioError) as err:
        load_scenario("no_such_scenario")
    message = str(err.value)
    assert "not found" in message
    assert str(tmp_path / "no_such_scenario") in message  # where it looked: the working directory ...
    assert str(config.SCENARIOS_DIR / "no_such_scenario.yaml") in message  # ... and the scenarios folder


def test_extends_cycle_and_missing_base(tmp_path: Path) -> None:
    write(tmp_path, "x.yaml", "extends: y\nname: x\nenvelope: {total_eur: 1}\n")
    write(tmp_path, "y.yaml", "extends: x\nname: y\n")
    assert any("cycle" in p for p in problems_of(tmp_path / "x.yaml"))
    assert any("extends" in p and "not" in p.lower() or "expected an existing" in p
               for p in problems_of(write(tmp_path, "z.yaml", "extends: nowhere\nname: z\n")))


def test_derived_scenario_without_a_name_keeps_the_base_name_by_deep_merge(tmp_path: Path) -> None:
    p = write(tmp_path, "n.yaml", "extends: baseline\neligibility:\n  min_share: 0.06\n")
    s = load_scenario(p)
    assert (s.name, s.eligibility.min_share, s.envelope.total_eur) == ("baseline", 0.06, 350_000_000)


def test_every_problem_is_reported_at_once_with_file_and_key_path(tmp_path: Path) -> None:
    p = write(tmp_path, "bad.yaml", """
name: Bad/Name
eligibilty: {}
envelope:
  total_eur: 10.005
  years: [2021, 2022]
  schedule: {2021: 0.5, 2022: 0.6}
eligibility:
  min_share: 5
  max_share: 0.1
  statuses: [public, privat]
allocation:
  rule: proportional
  cap_eur: -3
  match_rate: 1.5
uptake: {model: sometimes}
seed: "x"
""")
    probs = problems_of(p)
    text = "\n".join(probs)
    expected_fragments = [
        "bad.yaml: name: expected lowercase",
        "bad.yaml: eligibilty: unknown key; did you mean eligibility?",
        "bad.yaml: envelope.total_eur: expected at most 2 decimals",
        "bad.yaml: envelope.schedule: expected shares summing to exactly 1",
        "bad.yaml: eligibility.min_share: expected a fraction in [0, 1] (write 5 % as 0.05), found 5",
        "bad.yaml: eligibility.statuses.1:",
        "bad.yaml: allocation.cap_eur: expected an amount in euros >= 0",
        "bad.yaml: allocation.match_rate: expected a fraction in [0, 1]",
        "bad.yaml: uptake.model:",
        "bad.yaml: seed: expected an integer",
    ]
    for frag in expected_fragments:
        assert frag in text, frag
    assert len(probs) == len(expected_fragments)


@pytest.mark.parametrize(("spec", "where", "what"), [
    ({"eligibility": {"min_share": 0.12}}, "eligibility.max_share", "expected max_share >= min_share"),
    ({"envelope": {"total_eur": -1}}, "envelope.total_eur", ">= 0"),
    ({"envelope": {"total_eur": "lots"}}, "envelope.total_eur", "found 'lots'"),
    ({"envelope": {"total_eur": True}}, "envelope.total_eur", "found True"),
    ({"envelope": {"total_eur": 1, "years": [2021, 2022], "schedule": {2021: 1.0}}}, "envelope.schedule",
     "equal to envelope.years"),
    ({"name": "../escape"}, "name", "[a-z0-9_-]+"),
    ({"allocation": {"floor_eur": 10, "cap_eur": 5}}, "allocation.cap_eur", "cap_eur >= floor_eur"),
    ({"allocation": {"floor_eur": 500_000_000}}, "allocation.floor_eur", "<= envelope.total_eur"),
    ({"allocation": {"rule": "gap", "floor_eur": 1}}, "allocation.floor_eur", "only by rule proportional"),
    ({"allocation": {"rule": "tiered", "tier_amount": "cap"}}, "allocation.tier_amount", "needs allocation.cap_eur"),
    ({"allocation": {"tiers": ["ose", "pubic"]}}, "allocation.tiers", "did you mean public?"),
    ({"allocation": {"ruel": "gap"}}, "allocation.ruel", "did you mean rule?"),
    ({"eligibility": {"exclude_above_max": "yes"}}, "eligibility.exclude_above_max", "found 'yes'"),
    ({"audits": {"surveillance_eur": 30_000_000}}, "audits", "surveillance_eur <= envelope_eur"),
    ({"uptake": {"midpoint": 0}}, "uptake.midpoint", "> 0"),
    ({"allocation": {"unit": "region"}}, "allocation.unit", "'establishment', 'legal_entity' or 'ght'"),
    ({"allocation": {"rule": "forfait"}}, "allocation.forfait", "expected {column, bands} with rule forfait"),
    ({"allocation": {"rule": "forfait", "forfait": {"bands": [[0, 500, 1], [400, None, 2]]}}},
     "allocation.forfait.bands", "band 2: expected bands in increasing order without overlap"),
    ({"allocation": {"rule": "forfait", "forfait": {"bands": [[0, None, 1], [500, None, 2]]}}},
     "allocation.forfait.bands", "band 2: expected bands in increasing order"),
    ({"allocation": {"rule": "forfait", "forfait": {"bands": [[10, 5, 1]]}}},
     "allocation.forfait.bands", "band 1: expected an upper bound > 10 or null, found 5"),
    ({"allocation": {"rule": "forfait", "forfait": {"bands": [[0, None, 0.001]]}}},
     "allocation.forfait.bands", "band 1: expected at most 2 decimals"),
    ({"allocation": {"rule": "forfait", "forfait": {"bands": [[0, 10]]}}},
     "allocation.forfait.bands", "expected [low, high, eur]"),
    ({"allocation": {"rule": "forfait", "forfait": {"colum": "headcount", "bands": [[0, None, 1]]}}},
     "allocation.forfait.colum", "did you mean column?"),
    ({"allocation": {"rule": "forfait", "floor_eur": 5, "forfait": {"bands": [[0, None, 1]]}}},
     "allocation.floor_eur", "only by rule proportional"),
])
def test_each_bad_scenario_class(spec: dict, where: str, what: str) -> None:
    from cyberbudget.policy.scenario import deep_merge

    probs = problems_of(deep_merge(MINIMAL, spec))
    assert any(f"<dict>: {where}" in p and what in p for p in probs), probs


def test_missing_required_keys_and_non_mapping(tmp_path: Path) -> None:
    probs = problems_of({"description": "no name"})
    assert any("name: required" in p for p in probs) and any("envelope: required" in p for p in probs)
    with pytest.raises(ScenarioError):
        load_scenario(write(tmp_path, "list.yaml", "- a\n- b\n"))


def test_yaml_syntax_duplicate_keys_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="not valid YAML"):
        load_scenario(write(tmp_path, "s.yaml", "name: [unclosed\n"))
    with pytest.raises(ScenarioError, match="duplicate"):
        load_scenario(write(tmp_path, "d.yaml", "name: a\nname: b\nenvelope: {total_eur: 1}\n"))
    with pytest.raises(ScenarioError, match="not found"):
        load_scenario(tmp_path / "none.yaml")
    assert issubclass(ScenarioError, InputError)


def test_two_decimals_checked_on_the_yaml_text(tmp_path: Path) -> None:
    ok = load_scenario(write(tmp_path, "ok.yaml", "name: ok\nenvelope: {total_eur: 1234.50}\n"))
    assert envelope_cents(ok) == 123450
    assert any("2 decimals" in p for p in problems_of(write(tmp_path, "no.yaml", "name: no\nenvelope: {total_eur: 0.105}\n")))


@pytest.mark.parametrize("path", sorted(config.SCENARIOS_DIR.glob("*.yaml")), ids=lambda p: p.stem)
def test_committed_scenarios_load(path: Path) -> None:
    s = load_scenario(path)
    assert s.name == path.stem and s.description
