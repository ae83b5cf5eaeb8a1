"""What the templates display, built by the library: the "not available for this rule" sections of the
simulation reports, the disclosure of simulated groups, and tables in the house style."""

from __future__ import annotations

import html
from pathlib import Path

import pandas as pd
import pytest

from cyberbudget import config
from cyberbudget.errors import OptionError, ScenarioError
from cyberbudget.reports import allocation_sections, disclosure, risk_tables, tables
from cyberbudget.reports import uncertainty_sections as sections
from cyberbudget.reports.computed import compute
from cyberbudget.reports.published import publish


@pytest.fixture
def files(tmp_path, small_table) -> dict[str, Path]:
    """The 30-establishment table as a file, and the baseline under the `optimal` rule."""
    from cyberbudget.data.registry import write_table

    optimal = tmp_path / "optimal_rule.yaml"
    optimal.write_text(f"name: optimal_rule\nextends: {config.SCENARIOS_DIR / 'baseline.yaml'}\n"
                       "allocation:\n  rule: optimal\n", encoding="utf-8")
    return {"table": write_table(small_table, tmp_path / "small.csv"), "optimal": optimal,
            "baseline": config.SCENARIOS_DIR / "baseline.yaml"}


def markdown(obj) -> str:
    return obj._repr_markdown_() if hasattr(obj, "_repr_markdown_") else obj.data


# --------------------------------------------------------------------------------------- not available


def test_the_monte_carlo_report_says_the_optimal_rule_is_not_available(files):
    from cyberbudget.reports.inputs import load_inputs
    from cyberbudget.uncertainty.montecarlo import simulate

    loaded = load_inputs(files["optimal"], files["table"])
    scenario, table = loaded.scenario, loaded.table
    with pytest.raises(ScenarioError) as refusal:  # the simulation path refuses the rule...
        simulate(table, scenario, draws=64)
    mc = sections.simulate(files["optimal"], files["table"], draws=64)  # ...and the report says so
    assert isinstance(mc, sections.Unavailable)
    assert (mc.analysis, mc.scenario, mc.rule) == ("uncertainty", "optimal_rule", "optimal")
    assert mc.reason and mc.reason in str(refusal.value)
    title = markdown(sections.uncertainty_title(mc, "en"))
    assert title.startswith("<h1>How sure are we — optimal_rule</h1>")
    # the refusal is quoted as text (escaped, read back here)
    assert "Not available for the rule <code>optimal</code>" in title and mc.reason in html.unescape(title)
    assert str(files["optimal"]) not in title  # no local path in a published report
    for section in (sections.quantiles_table, sections.grants_by_category, sections.loss_exceedance,
                    sections.eligibility_by_category):
        assert "Not available" in markdown(section(mc, "en"))
        assert "Non disponible" in markdown(section(mc))  # French by default
    assert "Non disponible pour la règle <code>optimal</code>" in markdown(sections.uncertainty_title(mc))


def test_the_sensitivity_report_says_the_optimal_rule_is_not_available(files):
    sens = sections.analyse_sensitivity(files["optimal"], files["table"], sobol_n=8)
    assert isinstance(sens, sections.Unavailable) and sens.analysis == "sensitivity"
    assert "Not available for the rule <code>optimal</code>" in markdown(sections.sensitivity_title(sens, "en"))
    for section in (sections.tornado_figure, sections.sobol_figure):
        assert "Not available" in markdown(section(sens, "eligible", "en"))
    assert "Not available" in markdown(sections.pareto_table(sens, "en"))
    assert "Non disponible" in markdown(sections.tradeoff_figure(sens))


def test_other_errors_are_not_hidden_as_unavailable(files):
    with pytest.raises(OptionError, match="draws"):
        sections.simulate(files["baseline"], files["table"], draws=0)


def test_a_supported_rule_gives_the_analyses(files):
    mc = sections.simulate(files["baseline"], files["table"], draws=64, seed=3)
    assert not isinstance(mc, sections.Unavailable) and len(mc.draws) == 64 and mc.seed == 3
    assert "How sure are we — baseline" in markdown(sections.uncertainty_title(mc, "en"))
    assert "Quelle confiance accorder aux résultats\u202f? — baseline" in markdown(sections.uncertainty_title(mc))
    sens = sections.analyse_sensitivity(files["baseline"], files["table"], sobol_n=8)
    assert not isinstance(sens, sections.Unavailable)
    assert set(sens.tornado["output"]) >= {"avoided_loss_eur", "eligible"}
    html = sections.pareto_table(sens).data
    assert "cb-table" in html and "%" in html  # min_share as a percentage


# --------------------------------------------------------------------------------------- disclosure


def test_simulated_figures_by_category_show_only_publishable_categories(files, small_table):
    mc = sections.simulate(files["baseline"], files["table"], draws=64)
    counts = small_table["category"].value_counts()
    shown = disclosure.simulated_groups(mc.establishments, "category")
    assert shown and all(counts[c] >= config.MIN_CELL_SIZE for c in shown)
    fan = sections.grants_by_category(mc)
    eligibility = sections.eligibility_by_category(mc)
    for fig in (fan, eligibility):
        labels = {str(x) for trace in fig.data for x in (trace.x if trace.x is not None else [])}
        assert len(labels) == len(shown)


def test_simulated_groups_suppress_small_groups_and_protect_them():
    est = pd.DataFrame({"category": ["ch"] * 6 + ["chu"] * 2 + ["mco"] * 7 + ["ssr"] * 5,
                        "p_eligible": [0.5] * 20})
    assert disclosure.simulated_groups(est, "category") == ["ch", "mco"]  # chu primary, ssr secondary
    never = est.copy()
    never.loc[never["category"] == "mco", "p_eligible"] = 0.0
    never.loc[8, "p_eligible"] = 0.4  # one mco only can be eligible: its distribution is one establishment's
    assert "mco" not in disclosure.simulated_groups(never, "category")


def test_count_tables_suppress_small_counts_and_a_partner():
    t = pd.DataFrame({"region": ["11", "84", "93", "94"], "n_establishments": [40, 30, 20, 3],
                      "n_audited": [12, 9, 6, 1]})
    shown = disclosure.count_table(t, "n_audited")
    assert shown["n_audited"].isna().tolist() == [False, False, True, True]  # 94: primary; 93: its partner
    assert t["n_audited"].tolist() == [12, 9, 6, 1]  # the input is not modified
    # a partner with no audit would leave the hidden total at 1: a second partner is needed
    zero = disclosure.count_table(t.assign(n_audited=[12, 9, 0, 1]), "n_audited")
    assert zero["n_audited"].isna().tolist() == [False, True, True, True]


def test_audit_counts_in_the_published_tables_are_suppressed(files):
    pub = publish(compute(files["baseline"], files["table"]))
    by_region = pub.audits["by_region"]
    hidden = by_region["n_audited"].isna()
    assert hidden.any()
    assert not ((by_region["n_audited"] > 0) & (by_region["n_audited"] < config.MIN_CELL_SIZE)).any()
    assert len(allocation_sections.audits_figures(pub)) == 2


# --------------------------------------------------------------------------------------- tables


def test_html_tables_format_numbers_in_the_report_language():
    frame = pd.DataFrame({"group": ["a", "b"], "n": [1234, 5], "share": [0.055, None], "x": [0.3, 12345.6]})
    html = tables.html_table(frame, {"share": tables.percent(1, "fr")}, lang="fr")
    assert "1\u202f234" in html and "5,5\u202f%" in html and "0,3" in html and "12\u202f346" in html
    assert "–" in html and 'class="dataframe cb-table"' in html and "<th>group</th>" in html


def test_risk_key_figures_are_written_for_their_unit(files):
    from cyberbudget.risk.model import assess

    c = compute(files["baseline"], files["table"])
    html = risk_tables.key_figures_html(assess(c.result, c.scenario), "en")
    assert "cb-table" in html and "share of staff" in html and " %" in html
    html = risk_tables.key_figures_html(assess(c.result, c.scenario))
    assert "part du personnel" in html and "\u202f%" in html and "<th>Chiffre</th>" in html
