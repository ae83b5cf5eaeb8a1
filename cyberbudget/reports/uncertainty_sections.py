"""The uncertainty and sensitivity reports (templates ``uncertainty`` and ``sensitivity``), section by section.

:func:`simulate` and :func:`analyse_sensitivity` run the analyses of :mod:`cyberbudget.uncertainty` for one
scenario; every other function turns their result into one displayable section (Markdown, an HTML table or a
figure), with the house disclosure rules applied (:func:`cyberbudget.reports.disclosure.simulated_groups`).

Some scenarios are valid but outside what the simulation path can compute — the ``optimal`` rule solves the risk
optimum and has no Monte Carlo path. The analysis then returns :class:`Unavailable` instead of raising, and every
section says so: the report is still written, with a clear "not available for this rule" section and no
figure that would pretend otherwise.

Every word is the report's language's (``lang``, French by default; catalogue keys ``unc.*`` and ``sens.*``), and
both reports open with :func:`provenance_header` (the data's nature, see :mod:`cyberbudget.reports.provenance_line`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd

from cyberbudget import formatting
from cyberbudget.errors import ScenarioError
from cyberbudget.reports import disclosure, plots, tables
from cyberbudget.reports.escaping import html_text, markdown_text
from cyberbudget.reports.html_export import markdown_html
from cyberbudget.reports.i18n import label, t
from cyberbudget.reports.inputs import PathArg, load_inputs
from cyberbudget.reports.provenance_line import banner_html, describe

if TYPE_CHECKING:
    from IPython.display import HTML, Markdown
    from plotly.graph_objects import Figure

    from cyberbudget.policy import Scenario
    from cyberbudget.uncertainty.montecarlo import MonteCarloResult
    from cyberbudget.uncertainty.search import SearchResult
    from cyberbudget.uncertainty.sensitivity import SobolResult

__all__ = [
    "ANALYSES", "Sensitivity", "Unavailable", "analyse_sensitivity", "attempt", "eligibility_by_category",
    "grants_by_category", "headline_markdown", "loss_exceedance", "pareto_table", "provenance_header",
    "quantiles_table", "sensitivity_title", "simulate", "sobol_figure", "tornado_figure", "tradeoff_figure",
    "uncertainty_title",
]

T = TypeVar("T")

#: The analyses (what each is: the catalogue's ``analysis.<name>``).
ANALYSES: tuple[str, ...] = ("uncertainty", "sensitivity")

#: Unit of each output in the tornado charts: (divide by, catalogue key of the unit).
TORNADO_UNITS: dict[str, tuple[float, str]] = {
    "avoided_loss_eur": (1e6, "sens.unit.meur_year"),
    "eligible": (1.0, "sens.unit.establishments"),
}


def _markdown(text: str) -> Markdown:
    from IPython.display import Markdown

    return Markdown(text)


def _html(text: str) -> HTML:
    from IPython.display import HTML

    return HTML(text)


# --------------------------------------------------------------------------------------------------------------
# Availability
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unavailable:
    """An analysis that cannot run on a (valid) scenario, and why.

    Attributes
    ----------
    analysis : str
        A key of :data:`ANALYSES`.
    scenario : str
        The scenario's name.
    rule : str
        Its allocation rule.
    reason : str
        What the simulation path said, without the file name.
    """

    analysis: str
    scenario: str
    rule: str
    reason: str

    def html(self, lang: str = "fr") -> str:
        """The report section saying that the analysis is not available, and why, as HTML: the simulation path's
        own refusal quoted as it is (class ``cb-quoted``, escaped), the catalogue's Markdown rendered by
        :func:`~cyberbudget.reports.html_export.markdown_html`."""
        slot = "\ue000"  # a private-use character: where the quoted reason goes once the Markdown is rendered
        text = markdown_html(t("unc.unavailable", lang, rule=markdown_text(self.rule),
                               analysis=t(f"analysis.{self.analysis}", lang), scenario=markdown_text(self.scenario),
                               reason=slot))
        return text.replace(slot, f"<span class='cb-quoted'>{html_text(self.reason)}</span>", 1)


def _reason(exc: ScenarioError) -> str:
    """The refusal's first line without the file prefix (the report does not publish local paths)."""
    text = str(exc).splitlines()[0]
    if exc.source and text.startswith(f"{exc.source}: "):
        text = text[len(exc.source) + 2:]
    return text.rstrip(".")


def attempt(analysis: str, scenario: Scenario, func: Callable[..., T], *args: Any, **kwargs: Any) -> T | Unavailable:
    """``func(*args, **kwargs)``, or :class:`Unavailable` when the simulation path refuses the scenario.

    The scenario has been validated already: a :class:`~cyberbudget.errors.ScenarioError` raised by an analysis
    of :mod:`cyberbudget.uncertainty` then means that the analysis does not cover it (e.g. the ``optimal``
    rule). Any other error propagates.
    """
    try:
        return func(*args, **kwargs)
    except ScenarioError as exc:
        return Unavailable(analysis=analysis, scenario=scenario.name, rule=str(scenario.allocation.rule),
                           reason=_reason(exc))


def _not_available(lang: str = "fr") -> Markdown:
    return _markdown(f"*{t('unc.not_available', lang)}*")


def provenance_header(scenario_path: PathArg, data: PathArg | None = None, lang: str = "fr",
                      overrides: PathArg | None = None) -> HTML:
    """The report's first lines: the data's nature, the table, the scenario, the date and the version
    (:func:`cyberbudget.reports.provenance_line.banner_html`)."""
    inputs = load_inputs(scenario_path, data, overrides or None)
    prov = describe(inputs.table, inputs.data_path, inputs.scenario.name, overrides=inputs.overrides_path)
    return _html(banner_html(prov, lang))


# --------------------------------------------------------------------------------------------------------------
# Uncertainty (Monte Carlo)
# --------------------------------------------------------------------------------------------------------------


@contextmanager
def _dask_client(address: str) -> Iterator[Any]:
    if not address:
        yield None
        return
    from distributed import Client

    with Client(address, timeout="30s") as client:  # the default client while it is open: futures need one
        yield client


def simulate(scenario_path: PathArg, data: PathArg | None = None, *, draws: int, seed: int = -1,
             dask_address: str = "", overrides: PathArg | None = None) -> MonteCarloResult | Unavailable:
    """The Monte Carlo simulation of a scenario (:func:`cyberbudget.uncertainty.montecarlo.simulate`).

    Parameters
    ----------
    scenario_path, data : path
        As in :func:`cyberbudget.reports.inputs.load_inputs`.
    draws : int
        Number of draws.
    seed : int
        Seed of the draws; negative: the scenario's seed.
    dask_address : str
        Address of a Dask scheduler to spread the blocks over; empty: in this process.
    overrides : path, optional
        Real budget figures applied to the table (empty: none).

    Returns
    -------
    MonteCarloResult or Unavailable
    """
    from cyberbudget.uncertainty import montecarlo

    inputs = load_inputs(scenario_path, data, overrides or None)
    with _dask_client(dask_address) as client:
        return attempt("uncertainty", inputs.scenario, montecarlo.simulate, inputs.table, inputs.scenario,
                       draws=draws, seed=None if seed < 0 else seed, client=client)


def uncertainty_title(mc: MonteCarloResult | Unavailable, lang: str = "fr") -> Markdown | HTML:
    """The report's title and headline: draws, seed, medians and 90 % intervals (or why there are none)."""
    if isinstance(mc, Unavailable):
        return _html(markdown_html(f"# {t('unc.title', lang, scenario=markdown_text(mc.scenario))}") + mc.html(lang))
    return _markdown(headline_markdown(mc, lang))


def headline_markdown(mc: MonteCarloResult, lang: str = "fr") -> str:
    """Title and headline of the uncertainty report: draws, seed, and the main results with their 90 % intervals."""
    q = mc.quantiles()
    f = formatting

    meur = f"{formatting.NNBSP if lang == 'fr' else ' '}M€"

    def interval(col: str, scale: float = 1e6, decimals: int = 1, unit: str = meur) -> str:
        r = q.loc[col]
        return (f"{f.fmt_number(r['p50'] / scale, decimals, lang)}{unit} [{f.fmt_number(r['p5'] / scale, decimals, lang)}"
                f" – {f.fmt_number(r['p95'] / scale, decimals, lang)}]")

    lines = [
        f"# {t('unc.title', lang, scenario=mc.scenario_name)}", "",
        t("unc.draws", lang, n=f.fmt_int(len(mc.draws), lang), seed=mc.seed), "",
        f"- {t('unc.eligible', lang)}{t('plot.colon', lang)}{interval('eligible', 1.0, 0, '')}",
        f"- {t('unc.unallocated', lang)}{t('plot.colon', lang)}{interval('unallocated_cents', 1e8)}",
        f"- {t('unc.induced', lang)}{t('plot.colon', lang)}{interval('induced_spend_eur')}",
        f"- {t('unc.avoided', lang)}{t('plot.colon', lang)}{interval('avoided_loss_eur')}",
        f"- {t('unc.sector', lang)}{t('plot.colon', lang)}{interval('sector_loss_eur')}"
        + t("unc.var", lang, var=f.fmt_number(mc.var(0.95) / 1e6, 1, lang), cvar=f.fmt_number(mc.cvar(0.95) / 1e6, 1, lang),
            level=f.fmt_pct(0.95, lang, 0)),
    ]
    share = mc.summary()["uptake_not_converged_share"]
    if share > 0:
        lines.append(f"- {t('unc.not_converged', lang)}{t('plot.colon', lang)}{f.fmt_pct(share, lang, 2)}")
    return "\n".join(lines)


def quantiles_table(mc: MonteCarloResult | Unavailable, lang: str = "fr") -> HTML | Markdown:
    """Mean, P5, P50 and P95 of every sector-wide output, as an HTML table."""
    if isinstance(mc, Unavailable):
        return _not_available(lang)
    q = mc.quantiles()
    frame = q.rename_axis("output").reset_index()
    frame["output"] = [label("output", o, lang) for o in frame["output"]]
    return _html(tables.html_table(frame, {c: tables.number(0, lang) for c in q.columns}, lang=lang))


def grants_by_category(mc: MonteCarloResult | Unavailable, lang: str = "fr") -> Figure | Markdown:
    """Fan chart of the total grant per category across draws (publishable categories only)."""
    if isinstance(mc, Unavailable):
        return _not_available(lang)
    shown = set(disclosure.simulated_groups(mc.establishments, "category"))
    columns = [c for c in mc.grants_by_category.columns if str(c) in shown]
    return plots.mc_fan_by(mc.grants_by_category[columns], "category", lang=lang)


def loss_exceedance(mc: MonteCarloResult | Unavailable, lang: str = "fr", level: float = 0.95) -> Figure | Markdown:
    """The sector's loss-exceedance curve, with the value at risk and expected shortfall at ``level``."""
    if isinstance(mc, Unavailable):
        return _not_available(lang)
    return plots.loss_exceedance_curve(mc.loss_exceedance(), mc.var(level), mc.cvar(level), level=level, lang=lang)


def eligibility_by_category(mc: MonteCarloResult | Unavailable, lang: str = "fr") -> Figure | Markdown:
    """Probability of being eligible by category (publishable categories only)."""
    if isinstance(mc, Unavailable):
        return _not_available(lang)
    shown = disclosure.simulated_groups(mc.establishments, "category")
    by = mc.eligibility_by("category")
    return plots.eligibility_probability_by(by[by["category"].astype(str).isin(shown)], "category", lang=lang)


# --------------------------------------------------------------------------------------------------------------
# Sensitivity (tornado, Sobol, parameter search)
# --------------------------------------------------------------------------------------------------------------


@dataclass
class Sensitivity:
    """The sensitivity analyses of one scenario.

    Attributes
    ----------
    scenario : str
        The scenario's name.
    tornado : DataFrame
        :func:`cyberbudget.uncertainty.sensitivity.tornado`.
    sobol : SobolResult
        :func:`cyberbudget.uncertainty.sensitivity.sobol`.
    search : SearchResult
        :func:`cyberbudget.uncertainty.search.grid_search`.
    """

    scenario: str
    tornado: pd.DataFrame
    sobol: SobolResult
    search: SearchResult


def analyse_sensitivity(scenario_path: PathArg, data: PathArg | None = None, *, sobol_n: int = 256,
                        seed: int = -1, tier_orders: bool = True, overrides: PathArg | None = None,
                        ) -> Sensitivity | Unavailable:
    """Tornado, Sobol indices and the parameter search of a scenario.

    Parameters
    ----------
    scenario_path, data : path
        As in :func:`cyberbudget.reports.inputs.load_inputs`.
    sobol_n : int
        Sobol base sample (a power of 2).
    seed : int
        Seed of the Sobol sampling; negative: the scenario's seed.
    tier_orders : bool
        With rule ``tiered``, search every order of ``allocation.tiers``.
    overrides : path, optional
        Real budget figures applied to the table (empty: none).

    Returns
    -------
    Sensitivity or Unavailable
    """
    from cyberbudget.uncertainty import search, sensitivity

    loaded = load_inputs(scenario_path, data, overrides or None)
    scenario, table = loaded.scenario, loaded.table

    def run() -> Sensitivity:
        return Sensitivity(
            scenario=scenario.name,
            tornado=sensitivity.tornado(table, scenario),
            sobol=sensitivity.sobol(table, scenario, n=sobol_n, seed=None if seed < 0 else seed),
            search=search.grid_search(table, scenario, tier_orders=tier_orders),
        )

    return attempt("sensitivity", scenario, run)


def sensitivity_title(sens: Sensitivity | Unavailable, lang: str = "fr") -> Markdown | HTML:
    """The report's title (and, when the analysis cannot run, why)."""
    if isinstance(sens, Unavailable):
        return _html(markdown_html(f"# {t('sens.title', lang, scenario=markdown_text(sens.scenario))}")
                     + sens.html(lang))
    return _markdown(f"# {t('sens.title', lang, scenario=sens.scenario)}")


def tornado_figure(sens: Sensitivity | Unavailable, output: str, lang: str = "fr") -> Figure | Markdown:
    """One output's tornado chart (each factor at its bounds, the others central); units in :data:`TORNADO_UNITS`."""
    if isinstance(sens, Unavailable):
        return _not_available(lang)
    scale, unit = TORNADO_UNITS.get(output, (1.0, ""))
    return plots.tornado_chart(sens.tornado, output, unit_scale=scale, unit=t(unit, lang) if unit else "", lang=lang)


def sobol_figure(sens: Sensitivity | Unavailable, output: str, lang: str = "fr") -> Figure | Markdown:
    """One output's Sobol indices (first order and total)."""
    if isinstance(sens, Unavailable):
        return _not_available(lang)
    return plots.sobol_bars(sens.sobol.indices, output, lang=lang)


def pareto_table(sens: Sensitivity | Unavailable, lang: str = "fr") -> HTML | Markdown:
    """The settings on the trade-off curve (Pareto front) between unspent money and avoided loss."""
    if isinstance(sens, Unavailable):
        return _not_available(lang)
    pareto = sens.search.pareto.drop(columns=["pareto"], errors="ignore").rename(columns={"eligible": "n_eligible"})
    if "tiers" in pareto:
        pareto = pareto.assign(tiers=[" > ".join(label("tier", g.strip(), lang) for g in str(x).split(">"))
                                      for x in pareto["tiers"]])
    formats = {c: tables.number(0, lang) for c in pareto.columns if c.endswith("_eur")}
    formats["min_share"] = tables.percent(1, lang)
    return _html(tables.html_table(pareto, formats, lang=lang))


def tradeoff_figure(sens: Sensitivity | Unavailable, lang: str = "fr") -> Figure | Markdown:
    """Every setting of the parameter search, with the Pareto front."""
    if isinstance(sens, Unavailable):
        return _not_available(lang)
    return plots.tradeoff_curve(sens.search.grid, lang=lang)
