"""Seeded, vectorised, chunked Monte Carlo simulation of the uncertain inputs.

Every budget figure per establishment is imputed, uptake is a behavioural guess and incidents are random:
:func:`simulate` draws the uncertain inputs jointly, recomputes eligibility, the allocation and the risk for each
draw, and returns the distribution of the results (:class:`MonteCarloResult`).

What is uncertain
-----------------
The ranges are scenario keys (``uncertainty:``, see :class:`cyberbudget.policy.scenario.Uncertainty`), their defaults
are in ``data/reference/uncertainty.yaml`` with their sources (most are marked ``source: assumption``).

Common factors, one value per draw, drawn from their range (uniform, or uniform in log for ``loguniform``):

- ``it_budget_factor``: multiplies every *imputed* IT budget (rows whose ``imputed`` names ``it_budget_eur``);
  an imputed cyber spend moves with it (the imputed cyber *share* is unchanged);
- ``cyber_share_factor``: multiplies every imputed cyber share (rows whose ``imputed`` names
  ``cyber_spend_eur``); an observed cyber spend is never changed;
- ``uptake_slope_factor``, ``uptake_midpoint_factor``: multiply the scenario's logistic uptake ``slope`` and
  ``midpoint`` (only when ``uptake.model: logistic``);
- ``frequency_factor``, ``magnitude_factor``: multiply every establishment's incident frequency and loss
  magnitude.

Idiosyncratic noise, one value per establishment and draw, on the imputed rows only: a multiplicative lognormal
factor with mean 1, ``exp(sigma Z - sigma**2 / 2)``, of ``it_budget_sigma`` on the IT budget and
``cyber_share_sigma`` on the cyber share (a share is never above 1), the two independent. Incidents are random:
given a draw, each establishment has a Poisson number of incidents with mean threat rate x frequency factor x
awareness factor x breach probability after the policy, each with a lognormal loss (risk.py's magnitude models)
times the magnitude factor; they are drawn sparsely (:func:`_sample_incidents`).

Per draw, the policy is recomputed on the drawn budgets by the very functions the exact allocation calls
(:mod:`cyberbudget.policy.eligibility`: the corridor of DESIGN.md on the drawn shares, then the uptake model and
the OSE obligation with the scenario's ``uptake.damping``, ``tolerance`` and ``max_iterations``;
:mod:`cyberbudget.policy.rules`: the rule's amounts, water-filling, tiers, the cents handed out), then the risk
model (the Gordon–Loeb function :func:`cyberbudget.risk.model.gordon_loeb_breach`).

Work per establishment and draw
-------------------------------
Only the establishments that the scenario's filters allow (``it_budget > 0``, ``statuses``, ``medico_social``:
``Layout.allowed``) can take up, be eligible or receive a grant; for the others (``Layout.rest``, e.g. the
medico-social layer under ``eligibility.medico_social: false``) a draw only computes the cyber share and the risk
(breach probability, expected loss and incidents), which do not depend on their IT budget. So the IT-budget noise
is drawn only where it can change a result — imputed IT budgets of allowed establishments, and rows of the rest
with an observed cyber spend over an imputed IT budget (their share moves against the budget) — and eligibility,
uptake and the allocation run over the allowed establishments only. This is not an approximation: the outputs
have exactly the distribution they would have with noise drawn on every imputed row. Sums over establishments
(expected loss, incidents) are computed without BLAS (``numpy.einsum``): a multi-threaded BLAS call costs more
in thread synchronisation than it saves on a shared machine.

Incidents are drawn by thinning a Poisson process. The breach probability never exceeds the vulnerability
``v`` (Gordon–Loeb with ``x >= 0``), so for each group (allowed, rest) and draw, a Poisson number of candidates
with mean ``f A v sum(T)`` is drawn, each an establishment picked with probability ``T_i / sum(T)`` (Walker's
alias table of the threat rates, built once: the base rates do not vary per draw), and kept with probability
``S_after / v``. The candidates kept are exactly independent Poisson counts with the rates above; the cost is a
few operations per candidate (about twice the number of incidents) instead of a pass over every establishment.

The allocation in a draw
------------------------
A batch of draws is a ``(D, n)`` array computation of the built-in rules (``proportional``, ``matching``,
``gap``, ``tiered``, ``forfait``; :data:`cyberbudget.policy.registry.BUILTIN_RULES`) — the same functions as
:func:`cyberbudget.policy.allocation.allocate`, which is the case ``D = 1`` with the cent rounding on top. Grants
of a draw are the exact amounts before rounding (euros); ``allocated_cents`` follows DESIGN.md's rounding rule
(:func:`cyberbudget.policy.rules.handout_cents`): the whole envelope when an eligible establishment stays below
its cap, else ``floor`` of the sum of exact amounts. With every factor at 1, no noise and the exact path's
uptake uniforms, a draw reproduces ``allocate`` (tests/test_parity.py): the same eligible set and handed-out
cents, exact amounts within float precision. Rules defined only on the table (``optimal``, registered rules) have
no array definition: :func:`simulate` refuses them with a :class:`~cyberbudget.errors.ScenarioError` naming
``allocation.rule``. A draw whose logistic uptake does not converge within ``uptake.max_iterations`` is kept with
the probabilities of its last iteration and flagged (``uptake_converged``), where ``allocate`` raises
:class:`~cyberbudget.errors.ConvergenceError`.

Funding units (``allocation.unit: legal_entity | ght``): ``Layout.allowed`` holds the members of the units the
filters allow, sorted by unit then ``finess``; per batch of draws each unit's IT budget and cyber spend are its
members' drawn values summed with one ``numpy.add.reduceat``, the policy runs on the units (uptake uniforms:
one per allowed unit, in unit-key order), and the grants go back to the members pro rata to the base, the
induced spend pro rata to their IT budgets — the split of :mod:`cyberbudget.policy.units`, in exact amounts.
Noise and risk stay per establishment.

Seeding contract (DESIGN.md, "Monte Carlo seeding")
-------------------------------------------------
Draws come in fixed blocks of ``config.MC_BLOCK_SIZE`` = 1,024 (the last block may be shorter). Block ``b``
uses the generator ``numpy.random.default_rng(numpy.random.SeedSequence(seed).spawn(n_blocks)[b])`` (built as
``SeedSequence(seed, spawn_key=(b,))``, which is the same sequence, :func:`block_rng`). Inside a block the draws
are processed in fixed sub-batches of :data:`SUB_BATCH` = 128 draws, and each sub-batch takes, in this order:
the common factors (``random((d, k))``); if ``it_budget_sigma > 0`` the IT-budget noise
(``standard_normal((d, m))`` for the imputed IT budgets of ``Layout.allowed``, then for the rows of
``Layout.rest`` whose share depends on the IT budget); if ``cyber_share_sigma > 0`` the cyber-share noise (the
imputed shares of ``Layout.allowed``, then of ``Layout.rest``); the uptake uniforms (``random((d, a))`` over
``Layout.allowed``, or over its units under a funding unit; logistic uptake only); then the incidents: for ``Layout.allowed`` then ``Layout.rest``,
``poisson`` candidate counts, ``random`` picks and ``random`` acceptances; then for the incidents kept,
``random`` types and ``standard_normal`` log-magnitudes. ``Layout.allowed`` is in category then finess order
(unit then finess order under a funding unit),
``Layout.rest`` in finess order (a fixed rule of the table and scenario). Memory chunks (``chunk_blocks``) and Dask tasks group
whole blocks and never split them, and per-establishment float sums are reduced block by block in block order,
so results do not depend on the chunk size, the number of workers or the scheduling: only on ``seed`` and
``draws``.

Per-establishment quantiles
---------------------------
Grant P5/P50/P95 are exact (``numpy.quantile``, linear interpolation, over every draw) up to
:data:`EXACT_QUANTILES_MAX` = 5,000 establishments. Establishments outside ``Layout.allowed`` never get a grant:
their quantiles are exactly 0. Above, a streaming approximation with bounded memory: a
fixed-bin histogram per establishment — a count of draws with no grant, then :data:`HIST_BINS` = 400 bins
equally spaced in ``log2(grant / scale)`` over ``[-16, 16]`` where ``scale`` is the establishment's share of
the envelope pro rata to its central IT budget (values outside are clamped to the end bins). A quantile is read
by linear interpolation inside its bin in log scale: its relative error is below one bin width,
``2**(32 / 400) - 1`` = 5.7 %, and histograms of different blocks add exactly (integer counts).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.errors import OptionError, Problem, ScenarioError
from cyberbudget.policy import registry, rules
from cyberbudget.policy.eligibility import corridor_masks, uptake
from cyberbudget.policy.parameters import PolicyParameters
from cyberbudget.policy.scenario import Scenario, as_scenario
from cyberbudget.policy.units import build_units, unit_table
from cyberbudget.risk.model import (
    establishment_risk,
    gordon_loeb_breach,
    magnitude_models,
    require_columns,
    risk_parameters,
)

#: Draws per sub-batch inside a block (fixed: part of the seeding contract).
SUB_BATCH: int = 128
#: Exact per-establishment quantiles up to this many establishments; a histogram approximation above.
EXACT_QUANTILES_MAX: int = 5_000
#: Histogram approximation: number of bins and range of ``log2(grant / scale)``.
HIST_BINS: int = 400
HIST_LOG2_RANGE: tuple[float, float] = (-16.0, 16.0)
#: Names of the uncertain common factors, in the order of the columns of ``theta``.
PARAMETER_NAMES: tuple[str, ...] = (
    "it_budget_factor",
    "cyber_share_factor",
    "uptake_slope_factor",
    "uptake_midpoint_factor",
    "frequency_factor",
    "magnitude_factor",
)
#: The per-draw outputs (columns of :attr:`MonteCarloResult.draws` besides ``draw`` and the factors).
OUTPUTS: tuple[str, ...] = (
    "eligible",
    "allocated_cents",
    "unallocated_cents",
    "induced_spend_eur",
    "avoided_loss_eur",
    "expected_loss_eur",
    "sector_loss_eur",
    "incidents",
)

ProgressCallback = Callable[[int, int], None]


# --------------------------------------------------------------------------------------------------- seeding


def block_seed_sequence(seed: int, block: int) -> np.random.SeedSequence:
    """The seed sequence of block ``block``: ``SeedSequence(seed).spawn(n_blocks)[block]`` for any ``n_blocks``.

    Parameters
    ----------
    seed : int
        The simulation's seed (non-negative).
    block : int
        Block index, from 0.

    Returns
    -------
    numpy.random.SeedSequence

    Examples
    --------
    >>> import numpy as np
    >>> a = np.random.default_rng(block_seed_sequence(7, 3)).random()
    >>> b = np.random.default_rng(np.random.SeedSequence(7).spawn(5)[3]).random()
    >>> a == b
    True
    """
    return np.random.SeedSequence(seed, spawn_key=(block,))


def block_rng(seed: int, block: int) -> np.random.Generator:
    """The generator of block ``block`` (see the seeding contract in the module docstring)."""
    return np.random.default_rng(block_seed_sequence(seed, block))


def plan_blocks(draws: int, block_size: int = config.MC_BLOCK_SIZE) -> list[tuple[int, int, int]]:
    """Split ``draws`` into fixed blocks.

    Parameters
    ----------
    draws : int
        Number of draws (> 0).
    block_size : int
        Draws per block (``config.MC_BLOCK_SIZE``).

    Returns
    -------
    list of (block, first_draw, size)

    Examples
    --------
    >>> plan_blocks(2500)
    [(0, 0, 1024), (1, 1024, 1024), (2, 2048, 452)]
    """
    n_blocks = -(-draws // block_size)
    return [(b, b * block_size, min(block_size, draws - b * block_size)) for b in range(n_blocks)]


# ------------------------------------------------------------------------------------------------ parameters


@dataclass(frozen=True)
class UncertainParameter:
    """One uncertain common factor: its range, distribution and central value.

    Attributes
    ----------
    name : str
        Key under ``uncertainty:`` (one of :data:`PARAMETER_NAMES`).
    low, high : float
        Range (``low <= high``).
    distribution : str
        ``uniform`` or ``loguniform`` (uniform in log).
    base : float
        Central value (1.0: every factor multiplies the scenario's own value).
    description : str
        What it multiplies.
    """

    name: str
    low: float
    high: float
    distribution: str = "uniform"
    base: float = 1.0
    description: str = ""

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map uniforms in [0, 1) to the parameter's distribution."""
        if self.distribution == "loguniform":
            lo, hi = math.log(self.low), math.log(self.high)
            return np.exp(lo + u * (hi - lo))
        return self.low + u * (self.high - self.low)


_DESCRIPTIONS = {
    "it_budget_factor": "multiplies imputed IT budgets (imputed cyber spend moves with them)",
    "cyber_share_factor": "multiplies imputed cyber shares of the IT budget",
    "uptake_slope_factor": "multiplies the logistic uptake slope",
    "uptake_midpoint_factor": "multiplies the logistic uptake midpoint",
    "frequency_factor": "multiplies every incident frequency",
    "magnitude_factor": "multiplies every loss magnitude",
}


def uncertain_parameters(scenario: Scenario, *, all_parameters: bool = False) -> list[UncertainParameter]:
    """The uncertain common factors of a scenario, in :data:`PARAMETER_NAMES` order.

    Parameters
    ----------
    scenario : Scenario
        A loaded scenario (its ``uncertainty`` section, whose defaults come from
        ``data/reference/uncertainty.yaml``); a mapping or path is loaded first.
    all_parameters : bool
        ``False`` (default): only the factors that can change a result under this scenario (the uptake factors
        only with ``uptake.model: logistic``). ``True``: all of them.

    Returns
    -------
    list of UncertainParameter
    """
    scenario = as_scenario(scenario)
    unc = scenario.uncertainty
    logistic = scenario.uptake.model == "logistic"
    out = []
    for name in PARAMETER_NAMES:
        if not all_parameters and name.startswith("uptake_") and not logistic:
            continue
        r = getattr(unc, name)
        out.append(UncertainParameter(name, float(r.low), float(r.high), str(r.distribution), 1.0,
                                      _DESCRIPTIONS[name]))
    return out


def default_uncertainty() -> dict[str, Any]:
    """Default ranges and sigmas from ``data/reference/uncertainty.yaml``.

    Returns
    -------
    dict
        ``{factor name: (low, high, distribution)}`` and ``it_budget_sigma``, ``cyber_share_sigma`` (floats).
    """
    from cyberbudget.data.reference import load_reference

    ref = load_reference("uncertainty")
    out: dict[str, Any] = {}
    for name in PARAMETER_NAMES:
        fig = ref["factors"][name]
        out[name] = (float(fig["low"]), float(fig["high"]), str(fig.get("distribution", "uniform")))
    out["it_budget_sigma"] = float(ref["noise"]["it_budget_sigma"]["value"])
    out["cyber_share_sigma"] = float(ref["noise"]["cyber_share_sigma"]["value"])
    return out


# ---------------------------------------------------------------------------------------------------- inputs


@dataclass(frozen=True)
class UnitInputs:
    """The funding units of ``allocation.unit`` (:mod:`cyberbudget.policy.units`) for the simulation.

    Unit arrays (U,) are in unit-key order; ``of_row`` and ``member_base`` are per establishment in ``finess``
    order. The unit's budgets are the sums of its members' *drawn* budgets, computed per draw.

    Attributes
    ----------
    kind : str
    keys : ndarray (U,)
    of_row : ndarray of int (n,)
        Unit of each establishment.
    allowed, ose : ndarray of bool (U,)
        The unit passes the status, medico-social and IT-budget filters; the unit is an OSE.
    base, tier_group, forfait : ndarray (U,) or None
        The unit's rule inputs (:class:`cyberbudget.policy.rules.RuleInputs`; ``base`` only for a base column
        other than ``it_budget_eur`` / ``cyber_spend_eur``, summed over the members).
    member_base : ndarray (n,) or None
        The members' ``allocation.base`` column, the weights of the split (None for ``it_budget_eur`` /
        ``cyber_spend_eur``: the drawn values are used).
    """

    kind: str
    keys: np.ndarray
    of_row: np.ndarray
    allowed: np.ndarray
    ose: np.ndarray
    base: np.ndarray | None
    tier_group: np.ndarray | None
    forfait: np.ndarray | None
    member_base: np.ndarray | None


@dataclass
class ModelInputs:
    """Everything a draw needs, as arrays (built once by :func:`prepare_inputs`, shipped to Dask workers).

    Arrays are per establishment in the order of the table sorted by ``finess``. ``policy`` holds the scenario's
    policy parameters (:class:`cyberbudget.policy.parameters.PolicyParameters`); ``base``, ``tier_group`` and
    ``forfait`` are the per-establishment inputs of the rule (:class:`cyberbudget.policy.rules.RuleInputs`).
    """

    finess: np.ndarray
    category: np.ndarray
    status: np.ndarray
    region: np.ndarray
    it0: np.ndarray
    share0: np.ndarray
    cyber0: np.ndarray
    imp_it: np.ndarray
    imp_cyber: np.ndarray
    allowed: np.ndarray
    ose: np.ndarray
    policy: PolicyParameters
    base: np.ndarray | None
    tier_group: np.ndarray | None
    forfait: np.ndarray | None
    it_budget_sigma: float
    cyber_share_sigma: float
    parameters: list[UncertainParameter]
    # risk model (risk.py): threat rate, Gordon–Loeb loss L, magnitudes
    threat: np.ndarray
    mean_loss: np.ndarray
    vulnerability: float
    beta: float
    kind: str
    alpha_share: float
    additionality: float
    awareness: float
    ransomware_share: float
    ransom_mu: np.ndarray
    ransom_sigma: float
    other_mu: np.ndarray
    other_sigma: float
    hist_scale: np.ndarray = field(default_factory=lambda: np.zeros(0))
    units: UnitInputs | None = None

    @property
    def n(self) -> int:
        """Number of establishments."""
        return len(self.finess)

    @property
    def gl_loss(self) -> np.ndarray:
        """Gordon–Loeb loss ``L_i`` = threat rate x mean loss of an incident (euros a year)."""
        return self.threat * self.mean_loss

    def theta_index(self, name: str) -> int | None:
        """Column of factor ``name`` in ``theta`` (None when the factor does not apply)."""
        for i, p in enumerate(self.parameters):
            if p.name == name:
                return i
        return None


def _imputed_flags(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    if "imputed" not in table.columns:
        z = np.zeros(len(table), dtype=bool)
        return z, z.copy()
    text = table["imputed"].fillna("").astype(str)  # space-separated column names

    def names(column: str) -> np.ndarray:
        return text.str.contains(rf"(?:^|\s){column}(?:\s|$)", regex=True).to_numpy(dtype=bool)

    return names("it_budget_eur"), names("cyber_spend_eur")


def prepare_inputs(table: pd.DataFrame, scenario: Scenario) -> ModelInputs:
    """Arrays of the model for ``table`` under ``scenario`` (validated; rows sorted by ``finess``).

    Parameters
    ----------
    table : DataFrame
        The establishment table (DESIGN.md).
    scenario : Scenario
        A loaded scenario (a mapping or path is loaded first).

    Returns
    -------
    ModelInputs

    Raises
    ------
    ScenarioError
        The rule is not one of the built-in rules computed on arrays (e.g. ``optimal``).
    InputError
        The table lacks a column the model needs, or the ``allocation.base`` column is invalid.
    """
    scenario = as_scenario(scenario)
    require_columns(
        table, ("finess", "status", "category", "beds", "places", "it_budget_eur", "cyber_spend_eur"),
        "the Monte Carlo simulation",
    )
    params = PolicyParameters.of(scenario)
    src = str(scenario.source or "<scenario>")
    if not registry.is_builtin(params.rule):
        supported = ", ".join(registry.BUILTIN_RULES)
        raise ScenarioError(
            f"{src}: allocation.rule: the Monte Carlo simulation supports {supported}; found {params.rule!r}",
            [Problem(f"{src}: allocation.rule", f"expected one of {supported} (rules computed on arrays), "
                     f"found {params.rule!r}")],
            source=src,
        )
    t = table.sort_values("finess", kind="stable").reset_index(drop=True)
    for col, default in (("ose", False), ("ght_support", False), ("medico_social", False)):
        if col not in t.columns:
            t[col] = default
    it0 = t["it_budget_eur"].to_numpy(dtype=float)
    cyber0 = t["cyber_spend_eur"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        share0 = np.where(it0 > 0, cyber0 / np.where(it0 > 0, it0, 1.0), 0.0)
    imp_it, imp_cy = _imputed_flags(t)
    medico = t["medico_social"].to_numpy(dtype=bool)
    units = None
    if params.unit == "establishment":
        allowed = np.isin(t["status"].to_numpy(), params.statuses) & (it0 > 0) & (~medico | params.medico_social)
        inputs = rules.rule_inputs(t, params, allowed)
    else:
        base_rows = rules.base_values(t, params.base, None, key="allocation.base")
        built = build_units(t, params.unit, base_rows)
        ut = unit_table(t, built, tuple(c for c in (params.base, params.forfait_column) if c))
        u_it = ut["it_budget_eur"].to_numpy(dtype=float)
        u_allowed = (np.isin(ut["status"].to_numpy(), params.statuses) & (u_it > 0)
                     & (~ut["medico_social"].to_numpy(dtype=bool) | params.medico_social))
        u_inputs = rules.rule_inputs(ut, params, u_allowed)
        units = UnitInputs(
            kind=params.unit, keys=built.keys, of_row=built.of_row, allowed=u_allowed,
            ose=ut["ose"].to_numpy(dtype=bool), base=u_inputs.base, tier_group=u_inputs.tier_group,
            forfait=u_inputs.forfait,
            member_base=None if params.base in ("it_budget_eur", "cyber_spend_eur") else base_rows,
        )
        allowed = u_allowed[built.of_row]
        inputs = rules.RuleInputs()

    p = risk_parameters(scenario)
    r = establishment_risk(t, scenario)
    ransom, other = magnitude_models(r["size"].to_numpy(dtype=float), p)
    total_it = float(it0[allowed].sum()) or float(it0.sum()) or 1.0
    hist_scale = np.maximum(it0, 1.0) / total_it * (params.envelope_cents / 100.0)
    unc = scenario.uncertainty
    return ModelInputs(
        finess=t["finess"].to_numpy().astype(str),
        category=t["category"].to_numpy().astype(str),
        status=t["status"].to_numpy().astype(str),
        region=(t["region"].to_numpy().astype(str) if "region" in t.columns else np.full(len(t), "")),
        it0=it0, share0=np.minimum(share0, 1.0), cyber0=cyber0, imp_it=imp_it, imp_cyber=imp_cy, allowed=allowed,
        ose=t["ose"].to_numpy(dtype=bool), policy=params,
        base=inputs.base, tier_group=inputs.tier_group, forfait=inputs.forfait,
        it_budget_sigma=float(unc.it_budget_sigma), cyber_share_sigma=float(unc.cyber_share_sigma),
        parameters=uncertain_parameters(scenario),
        threat=r["threat_rate"].to_numpy(dtype=float), mean_loss=r["mean_loss_eur"].to_numpy(dtype=float),
        vulnerability=float(p.vulnerability), beta=float(p.beta), kind=str(p.kind), alpha_share=float(p.alpha_share),
        additionality=float(p.grant_additionality), awareness=float(p.awareness_factor),
        ransomware_share=float(p.ransomware_share),
        ransom_mu=np.broadcast_to(np.asarray(ransom.mu, dtype=float), it0.shape).copy(),
        ransom_sigma=float(np.asarray(ransom.sigma).ravel()[0]),
        other_mu=np.broadcast_to(np.asarray(other.mu, dtype=float), it0.shape).copy(),
        other_sigma=float(np.asarray(other.sigma).ravel()[0]),
        hist_scale=hist_scale, units=units,
    )


# --------------------------------------------------------------------------------------------------- a draw

#: Per-establishment arrays of :class:`ModelInputs` (restricted together by :func:`_subset`).
_PER_ESTABLISHMENT: tuple[str, ...] = (
    "finess", "category", "status", "region", "it0", "share0", "cyber0", "imp_it", "imp_cyber", "allowed", "ose",
    "base", "tier_group", "forfait", "threat", "mean_loss", "ransom_mu", "other_mu", "hist_scale",
)


def _subset(inp: ModelInputs, idx: np.ndarray) -> ModelInputs:
    """The same model restricted to the establishments ``idx`` (scalars unchanged)."""
    n = inp.n
    return replace(inp, **{name: getattr(inp, name)[idx] for name in _PER_ESTABLISHMENT
                           if getattr(inp, name) is not None and len(getattr(inp, name)) == n})


def _alias_table(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Walker's alias table (Vose's construction) of the weights ``w`` >= 0.

    Index ``i`` is picked with probability ``w_i / sum(w)`` as: ``j = floor(n u)``, then ``j`` when the
    fractional part of ``n u`` is below ``prob[j]``, else ``alias[j]`` (one uniform ``u``). Built once.

    Examples
    --------
    >>> prob, alias = _alias_table(np.array([1.0, 3.0]))
    >>> (prob.tolist(), alias.tolist())
    ([0.5, 1.0], [1, 1])
    """
    n = w.size
    total = float(w.sum())
    if n == 0 or total <= 0:
        return np.ones(n), np.arange(n, dtype=np.intp)
    p = (w * (n / total)).tolist()
    prob = [1.0] * n
    alias = list(range(n))
    small = [i for i in range(n) if p[i] < 1.0]
    large = [i for i in range(n) if p[i] >= 1.0]
    while small and large:
        s, g = small.pop(), large.pop()
        prob[s], alias[s] = p[s], g
        p[g] = (p[g] + p[s]) - 1.0
        (small if p[g] < 1.0 else large).append(g)
    return np.asarray(prob, dtype=float), np.asarray(alias, dtype=np.intp)


@dataclass
class Group:
    """One group of establishments of a :class:`Layout` and what the incident sampler needs about it.

    Attributes
    ----------
    index : ndarray of int
        Positions of the group's establishments in the table (finess order).
    inp : ModelInputs
        The model restricted to the group.
    threat_total : float
        Sum of the group's threat rates.
    alias_prob, alias_index : ndarray
        Walker alias table of the group's threat rates (:func:`_alias_table`; empty when the layout was made
        without incidents).
    """

    index: np.ndarray
    inp: ModelInputs
    threat_total: float
    alias_prob: np.ndarray
    alias_index: np.ndarray

    @classmethod
    def of(cls, inp: ModelInputs, index: np.ndarray, incidents: bool = True) -> Group:
        """The group ``index`` of ``inp`` (with its alias table when ``incidents``)."""
        sub = _subset(inp, index)
        prob, alias = _alias_table(sub.threat) if incidents else (np.zeros(0), np.zeros(0, dtype=np.intp))
        return cls(index, sub, float(sub.threat.sum()), prob, alias)


@dataclass
class Layout:
    """How the establishments of a draw are split (module docstring, "Work per establishment and draw").

    Attributes
    ----------
    allowed : Group
        The establishments the scenario's filters allow (``it_budget > 0``, ``statuses``, ``medico_social``),
        sorted by category: the only ones that can be eligible, take up or receive a grant.
    rest : Group
        The others: only their cyber share and their risk are computed.
    categories : ndarray of str
        Sorted categories of the whole table; ``runs`` / ``run_codes``: start in ``allowed`` and code of each
        run of one category.
    it_noise_rest : ndarray of bool
        Rows of ``rest`` whose share depends on the IT budget (observed cyber spend, imputed IT budget).
    log_share_k_rest : ndarray
        ``log(share0 / alpha_share)`` of ``rest``.
    category_order, unit_index, unit_starts, member_unit : ndarray or None
        Under ``allocation.unit`` other than ``establishment``: ``allowed`` is sorted by unit then ``finess``
        (a unit's members contiguous); ``category_order`` sorts it by category (``runs`` refer to that order),
        ``unit_index`` are the allowed units (unit-key order), ``unit_starts`` their first member in
        ``allowed``, ``member_unit`` the position in ``unit_index`` of each member.
    """

    allowed: Group
    rest: Group
    categories: np.ndarray
    runs: np.ndarray
    run_codes: np.ndarray
    it_noise_rest: np.ndarray
    log_share_k_rest: np.ndarray
    category_order: np.ndarray | None = None
    unit_index: np.ndarray | None = None
    unit_starts: np.ndarray | None = None
    member_unit: np.ndarray | None = None

    @property
    def m_it(self) -> tuple[int, int]:
        """Columns of the IT-budget noise: imputed IT budgets of ``allowed``; ``it_noise_rest`` rows."""
        return int(self.allowed.inp.imp_it.sum()), int(self.it_noise_rest.sum())

    @property
    def m_cyber(self) -> tuple[int, int]:
        """Columns of the cyber-share noise: imputed shares of ``allowed``; of ``rest``."""
        return int(self.allowed.inp.imp_cyber.sum()), int(self.rest.inp.imp_cyber.sum())


def make_layout(inp: ModelInputs, incidents: bool = True) -> Layout:
    """Split the establishments of ``inp`` into those that may be eligible and the rest (see :class:`Layout`).

    Parameters
    ----------
    inp : ModelInputs
    incidents : bool
        Build the alias tables that the incident sampler needs (not needed by :func:`evaluate` alone).

    Returns
    -------
    Layout
    """
    cats, code = np.unique(inp.category, return_inverse=True)
    a = np.flatnonzero(inp.allowed)
    rest = np.flatnonzero(~inp.allowed)
    units = inp.units
    extra: dict[str, Any] = {}
    if units is None:
        a = a[np.argsort(code[a], kind="stable")]
        ca = code[a]
    else:
        a = a[np.argsort(units.of_row[a], kind="stable")]  # by unit, then finess
        unit_index, member_unit = np.unique(units.of_row[a], return_inverse=True)
        sizes = np.bincount(member_unit, minlength=unit_index.size)
        cat_order = np.argsort(code[a], kind="stable")
        ca = code[a][cat_order]
        extra = {"category_order": cat_order, "unit_index": unit_index, "unit_starts": np.cumsum(sizes) - sizes,
                 "member_unit": member_unit}
    runs = np.flatnonzero(np.r_[True, ca[1:] != ca[:-1]]) if a.size else np.zeros(0, dtype=np.intp)
    g_a, g_r = Group.of(inp, a, incidents), Group.of(inp, rest, incidents)
    with np.errstate(divide="ignore"):
        log_share_k = np.log(g_r.inp.share0 / inp.alpha_share)
    return Layout(
        allowed=g_a, rest=g_r, categories=cats, runs=runs, run_codes=ca[runs],
        it_noise_rest=g_r.inp.imp_it & ~g_r.inp.imp_cyber, log_share_k_rest=log_share_k, **extra,
    )


@dataclass
class DrawOutputs:
    """What :func:`evaluate` computes for a batch of draws.

    Attributes
    ----------
    per_draw : dict of ndarray (D,)
        ``eligible``, ``allocated_cents``, ``unallocated_cents``, ``induced_spend_eur``, ``avoided_loss_eur``
        (annual, expected), ``expected_loss_eur`` (annual, after the policy), ``expected_incidents``.
    cents_allowed : ndarray (D, a)
        Exact grants (cents, unrounded, whole envelope) of the establishments ``layout.allowed`` (the others get
        nothing); ``grants_allowed`` is the same in euros (property).
    eligible_allowed : ndarray of bool (D, a)
    breach_allowed, breach_rest : ndarray (D, a), (D, r)
        Gordon–Loeb breach probability after the policy of ``layout.allowed`` and ``layout.rest``.
    layout : Layout
    grants, eligible, breach_after : ndarray (D, n)
        The same over every establishment in finess order (properties, built on demand).
    """

    per_draw: dict[str, np.ndarray]
    cents_allowed: np.ndarray
    eligible_allowed: np.ndarray
    breach_allowed: np.ndarray
    breach_rest: np.ndarray
    layout: Layout

    def _full(self, part_a: np.ndarray, part_r: np.ndarray | None, dtype: Any) -> np.ndarray:
        lay = self.layout
        out = np.zeros((part_a.shape[0], lay.allowed.index.size + lay.rest.index.size), dtype=dtype)
        out[:, lay.allowed.index] = part_a
        if part_r is not None:
            out[:, lay.rest.index] = part_r
        return out

    @property
    def grants_allowed(self) -> np.ndarray:
        """Exact grants (D, a) of ``layout.allowed``, euros."""
        return self.cents_allowed / 100.0

    @property
    def grants(self) -> np.ndarray:
        """Exact grants (D, n), euros, finess order."""
        return self._full(self.grants_allowed, None, float)

    @property
    def eligible(self) -> np.ndarray:
        """Eligible establishments (D, n), finess order."""
        return self._full(self.eligible_allowed, None, bool)

    @property
    def breach_after(self) -> np.ndarray:
        """Breach probability after the policy (D, n), finess order."""
        return self._full(self.breach_allowed, self.breach_rest, float)


def _factor(inp: ModelInputs, theta: np.ndarray, name: str) -> np.ndarray:
    j = inp.theta_index(name)
    return np.ones(theta.shape[0]) if j is None else theta[:, j]


def _noisy(base: np.ndarray, mask: np.ndarray, factor: np.ndarray, z: np.ndarray | None, sigma: float) -> np.ndarray:
    """``base`` broadcast to (D, n), rows of ``mask`` multiplied by ``factor_d x exp(sigma z - sigma²/2)``.

    ``z`` (the standard normals of the masked rows) is used as scratch space and overwritten.
    """
    d = factor.shape[0]
    if not mask.any():
        out = np.empty((d, base.shape[0]))
        out[:] = base
        return out
    if z is not None and sigma > 0:
        z *= sigma
        z += (np.log(factor) - sigma * sigma / 2.0)[:, None]
        np.exp(z, out=z)
        mult = z
    else:
        mult = np.broadcast_to(factor[:, None], (d, int(mask.sum())))
    if mask.all():
        return np.multiply(mult, base, out=mult if mult is z else None)
    out = np.empty((d, base.shape[0]))
    out[:] = base
    out[:, mask] *= mult
    return out


def _share_of_rest(inp: ModelInputs, lay: Layout, theta: np.ndarray, z_it: np.ndarray | None,
                   z_share: np.ndarray | None) -> np.ndarray:
    """``x = min(share, 1) / alpha_share`` of the establishments that cannot be eligible (D, r).

    Fast path (every row has an imputed share, noise on): ``exp(sigma z + log(share0 / k) + log f - sigma²/2)``
    in place on ``z_share``; otherwise as for the allowed establishments.
    """
    r = lay.rest.inp
    sigma = inp.cyber_share_sigma
    f_cy = _factor(inp, theta, "cyber_share_factor")
    k = inp.alpha_share
    if (z_share is not None and sigma > 0 and r.n and bool(r.imp_cyber.all())
            and not lay.it_noise_rest.any()):
        x = z_share
        x *= sigma
        x += lay.log_share_k_rest
        x += (np.log(f_cy) - sigma * sigma / 2.0)[:, None]
        np.exp(x, out=x)
        np.minimum(x, 1.0 / k, out=x)
        return x
    share = _noisy(r.share0, r.imp_cyber, f_cy, z_share, sigma)
    oc = lay.it_noise_rest
    if oc.any():  # observed spend, imputed IT budget: the share moves against the budget
        it_oc = _noisy(r.it0[oc], np.ones(int(oc.sum()), dtype=bool), _factor(inp, theta, "it_budget_factor"),
                       z_it, inp.it_budget_sigma)
        num = np.broadcast_to(r.cyber0[oc], it_oc.shape)
        share[:, oc] = np.divide(num, it_oc, out=np.zeros_like(it_oc), where=it_oc > 0)
    np.minimum(share, 1.0, out=share)
    share /= k
    return share


def _rowdot(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``x @ w`` (one value per row) without BLAS: ``numpy.einsum``'s own loop, single-threaded. A
    multi-threaded BLAS call costs more in thread synchronisation than it saves on a shared machine."""
    return np.einsum("ij,j->i", x, w)


def _split(z: np.ndarray | None, m: tuple[int, int]) -> tuple[np.ndarray | None, np.ndarray | None]:
    if z is None:
        return None, None
    return np.ascontiguousarray(z[:, :m[0]]), np.ascontiguousarray(z[:, m[0]:m[0] + m[1]])


def evaluate(
    inp: ModelInputs,
    theta: np.ndarray,
    z_it: np.ndarray | None = None,
    z_share: np.ndarray | None = None,
    u_uptake: np.ndarray | None = None,
    *,
    layout: Layout | None = None,
) -> DrawOutputs:
    """Eligibility, uptake, allocation and expected risk for a batch of draws.

    Only the establishments the scenario's filters allow (:class:`Layout`) go through uptake, eligibility and
    the allocation; for the others only the cyber share and the risk are computed (they get no grant and their
    share does not move). The policy steps are those of the exact path (:mod:`cyberbudget.policy.eligibility`,
    :mod:`cyberbudget.policy.rules`): with every factor at 1, no noise and the uniforms of
    :func:`cyberbudget.policy.eligibility.uptake_uniforms`, a draw reproduces
    :func:`cyberbudget.policy.allocation.allocate` (its eligible set and handed-out cents exactly, its exact
    amounts to float precision).

    Parameters
    ----------
    inp : ModelInputs
    theta : ndarray (D, k)
        The common factors, columns in the order of ``inp.parameters``.
    z_it : ndarray (D, sum(layout.m_it)), optional
        Standard normals of the IT-budget noise: first the imputed IT budgets of ``layout.allowed`` (in that
        order), then the rows ``layout.it_noise_rest`` of ``layout.rest``. None: no idiosyncratic noise (the
        sensitivity analysis uses that).
    z_share : ndarray (D, sum(layout.m_cyber)), optional
        Standard normals of the cyber-share noise: the imputed shares of ``layout.allowed``, then of
        ``layout.rest``.
    u_uptake : ndarray (D, n), optional
        Uniforms deciding logistic uptake, one per establishment in ``finess`` order (e.g.
        ``uptake_uniforms(seed, n)`` for the exact path's draw) — under ``allocation.unit`` other than
        ``establishment``, one per unit in unit-key order (``uptake_uniforms(seed, n_units)``); None: comply
        when the probability is at least 1/2.
    layout : Layout, optional
        ``make_layout(inp)`` (computed, without alias tables, when not given).

    Returns
    -------
    DrawOutputs
    """
    lay = make_layout(inp, incidents=False) if layout is None else layout
    za_it, zr_it = _split(z_it, lay.m_it)
    za_cy, zr_cy = _split(z_share, lay.m_cyber)
    u = None
    if u_uptake is not None:
        pick = lay.allowed.index if inp.units is None else lay.unit_index
        u = np.atleast_2d(np.asarray(u_uptake, dtype=np.float64))[:, pick]
    return _evaluate(inp, lay, theta, za_it, zr_it, za_cy, zr_cy, u)


def _evaluate(
    inp: ModelInputs, lay: Layout, theta: np.ndarray, za_it: np.ndarray | None, zr_it: np.ndarray | None,
    za_cy: np.ndarray | None, zr_cy: np.ndarray | None, u_uptake: np.ndarray | None,
    breach_a: np.ndarray | None = None, breach_r: np.ndarray | None = None,
) -> DrawOutputs:
    """:func:`evaluate` on the noise of each group (contiguous arrays, overwritten: scratch space) and the
    uptake uniforms of ``layout.allowed`` (layout order); the breach probabilities after the policy go to
    ``breach_a`` / ``breach_r`` when given."""
    a = lay.allowed.inp
    pol = inp.policy
    v, beta, kind = inp.vulnerability, inp.beta, inp.kind
    # the rest: share and risk only (s_before = s_after: no grant, no uptake)
    x_rest = _share_of_rest(inp, lay, theta, zr_it, zr_cy)
    s_rest = gordon_loeb_breach(x_rest, v, beta, kind, out=x_rest if breach_r is None else breach_r)
    loss_rest = _rowdot(s_rest, lay.rest.inp.gl_loss)
    inc_rest = _rowdot(s_rest, lay.rest.inp.threat)

    it = _noisy(a.it0, a.imp_it, _factor(inp, theta, "it_budget_factor"), za_it, inp.it_budget_sigma)
    share = _noisy(a.share0, a.imp_cyber, _factor(inp, theta, "cyber_share_factor"), za_cy, inp.cyber_share_sigma)
    observed_cyber = a.imp_it & ~a.imp_cyber
    if observed_cyber.any():  # observed spend, imputed IT budget: the share moves against the budget
        share[:, observed_cyber] = a.cyber0[observed_cyber] / it[:, observed_cyber]  # allowed: it > 0
    np.minimum(share, 1.0, out=share)
    cyber = None  # the cyber spend, when the policy reads it (uptake, need, demand, a cyber base, units)
    if (pol.uptake_model != "none" or pol.ose_obligation or rules.needs_cyber(pol)
            or inp.units is not None):
        cyber = share * it
        observed = observed_cyber | ~(a.imp_it | a.imp_cyber)
        if observed.any():  # an observed cyber spend is never changed
            cyber[:, observed] = a.cyber0[observed]
    # the policy: corridor, uptake, rule (cyberbudget.policy, the steps allocate runs), on establishments or on
    # the funding units (their members' sums, one np.add.reduceat per draw batch)
    units = inp.units
    if units is None:
        app_it, app_cyber, app_share = it, cyber, share
        ose, base, tier_group, forfait = a.ose, a.base, a.tier_group, a.forfait
    else:
        assert lay.unit_starts is not None and lay.unit_index is not None and lay.member_unit is not None
        starts, index, mu = lay.unit_starts, lay.unit_index, lay.member_unit
        app_it = np.add.reduceat(it, starts, axis=1)
        app_cyber = np.add.reduceat(cyber, starts, axis=1)
        app_share = app_cyber / app_it  # an allowed unit has an IT budget
        ose = units.ose[index]
        base, tier_group, forfait = (None if x is None else x[index] for x in (units.base, units.tier_group,
                                                                              units.forfait))
    eligible0, candidate = corridor_masks(app_share, app_it, True, pol.min_share, pol.max_share,
                                          pol.exclude_above_max)
    slope = midpoint = None
    if pol.uptake_model == "logistic":
        slope = pol.slope * _factor(inp, theta, "uptake_slope_factor")[:, None]
        midpoint = pol.midpoint * _factor(inp, theta, "uptake_midpoint_factor")[:, None]

    def expected(rows: np.ndarray, raised: np.ndarray, participation: np.ndarray) -> np.ndarray:
        return rules.expected_grants(pol, app_it[rows], raised, participation, base=base, tier_group=tier_group,
                                     forfait=forfait, compact=False)

    up = uptake(pol, app_it, app_cyber, eligible0, candidate, ose, expected=expected, uniforms=u_uptake,
                slope=slope, midpoint=midpoint, strict=False)
    app_eligible = eligible0 | up.complied
    res = rules.apply_rule(pol, app_it, up.cyber, app_eligible, base=base, tier_group=tier_group, forfait=forfait,
                           compact=False)
    allocated = rules.handout_cents(res.exact, res.everyone_capped, app_eligible, pol.envelope_cents)
    complied = up.complied.any()
    if units is None:
        cents = res.exact
        eligible = app_eligible
        share_after = np.where(up.complied, up.cyber / it, share) if complied else share
    else:
        # back to the members: the unit's induced spend pro rata to IT budgets, its grant pro rata to the base
        member_cyber = cyber
        if complied:
            member_cyber = cyber + (up.cyber - app_cyber)[:, mu] * (it / app_it[:, mu])
        if pol.base == "it_budget_eur":
            weights = it
        elif pol.base == "cyber_spend_eur":
            weights = member_cyber
        else:
            assert units.member_base is not None
            weights = np.broadcast_to(units.member_base[lay.allowed.index], it.shape)
        total_w = np.add.reduceat(weights, starts, axis=1)[:, mu]
        sizes = np.diff(np.r_[starts, it.shape[1]])[mu]
        with np.errstate(divide="ignore", invalid="ignore"):
            part = np.where(total_w > 0, weights / np.where(total_w > 0, total_w, 1.0), 1.0 / sizes)
        cents = res.exact[:, mu] * part
        eligible = app_eligible[:, mu]
        if complied:
            with np.errstate(divide="ignore", invalid="ignore"):
                share_after = np.where(it > 0, member_cyber / np.where(it > 0, it, 1.0), share)
        else:
            share_after = share
    # risk: x = alpha z = cyber share / alpha_share (+ additionality x annual grant / (alpha_share x IT))
    k = inp.alpha_share
    f = _factor(inp, theta, "frequency_factor")
    m = _factor(inp, theta, "magnitude_factor")
    gl_a = a.gl_loss
    x0 = share / k
    s0 = gordon_loeb_breach(x0, v, beta, kind, out=x0)
    loss_before = (_rowdot(s0, gl_a) + loss_rest) * f * m
    if units is None:
        x1 = np.divide(cents, it, out=s0)  # allowed establishments have an IT budget > 0
    else:  # a member without IT budget has no lever (alpha = 0)
        x1 = np.divide(cents, it, out=s0, where=it > 0)
        x1[it <= 0] = 0.0
    x1 *= inp.additionality / (pol.n_years * 100.0)  # cents over the envelope to euros a year
    x1 += share_after
    x1 /= k
    s1 = gordon_loeb_breach(x1, v, beta, kind, out=x1 if breach_a is None else breach_a)
    loss_after = (_rowdot(s1, gl_a) + loss_rest) * f * m * inp.awareness
    incidents = (_rowdot(s1, a.threat) + inc_rest) * f * inp.awareness
    per_draw = {
        "eligible": eligible.sum(axis=1).astype(np.int64),
        "allocated_cents": allocated,
        "unallocated_cents": pol.envelope_cents - allocated,
        "induced_spend_eur": up.induced.sum(axis=1) if complied else np.zeros(theta.shape[0]),
        "avoided_loss_eur": loss_before - loss_after,
        "expected_loss_eur": loss_after,
        "expected_incidents": incidents,
        "uptake_converged": up.converged,
    }
    return DrawOutputs(per_draw, cents, eligible, s1, s_rest, lay)


# ------------------------------------------------------------------------------------------------ the blocks


@dataclass
class _BlockResult:
    block: int
    start: int
    per_draw: dict[str, np.ndarray]
    elig_count: np.ndarray  # over layout.allowed
    grant_sum: np.ndarray  # over layout.allowed, cents
    grants: np.ndarray | None  # (size, allowed), cents, when quantiles are exact
    by_category: np.ndarray
    eligible_by_category: np.ndarray


@dataclass
class _ChunkResult:
    blocks: list[_BlockResult]
    hist: np.ndarray | None  # (allowed, HIST_BINS)


def _incident_candidates(
    inp: ModelInputs, group: Group, breach: np.ndarray, rng: np.random.Generator, f: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Incidents of one group by thinning (see :func:`_sample_incidents`): draw index and column of each."""
    d, n = breach.shape
    v = float(inp.vulnerability)
    counts = rng.poisson(f * (inp.awareness * v * group.threat_total))
    tot = int(counts.sum())
    u_pick = rng.random(tot)
    u_keep = rng.random(tot)
    if tot == 0 or n == 0:
        return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.intp)
    owner = np.repeat(np.arange(d, dtype=np.intp), counts)
    u_pick *= n
    j = u_pick.astype(np.intp)
    u_pick -= j  # its fractional part, uniform on [0, 1)
    np.minimum(j, n - 1, out=j)
    col = np.where(u_pick < group.alias_prob[j], j, group.alias_index[j])
    flat = owner * n
    flat += col
    u_keep *= v
    keep = u_keep < breach.reshape(-1)[flat]
    return owner[keep], col[keep]


def _sample_incidents(
    inp: ModelInputs, lay: Layout, rng: np.random.Generator, out: DrawOutputs, f: np.ndarray, mfac: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Realised incidents and sector loss per draw, drawn sparsely by thinning.

    The expected incidents of establishment ``i`` in draw ``d`` are ``T_i f_d A S_after[d, i]`` (threat rate x
    frequency factor x awareness factor x breach probability after the policy). The breach probability never
    exceeds the vulnerability ``v`` (Gordon–Loeb with ``x >= 0``, ``beta > 0``, ``v`` in [0, 1]), so, for each
    group of the layout (allowed, then rest) and draw: a Poisson count of candidates with mean
    ``f_d A v sum(T)``; each candidate is an establishment picked with probability ``T_i / sum(T)`` (one
    uniform, Walker's alias table of the threat rates, built once) and kept with probability
    ``S_after[d, i] / v`` (one uniform). The candidates kept are exactly independent Poisson counts with the
    rates above (thinning of a Poisson process). Then, for each incident kept (allowed group first), whether it
    is ransomware (probability ``rho``, one uniform) and its lognormal loss (risk.py's magnitude models, one
    normal) times the draw's magnitude factor.
    """
    d = f.shape[0]
    own_a, col_a = _incident_candidates(inp, lay.allowed, out.breach_allowed, rng, f)
    own_r, col_r = _incident_candidates(inp, lay.rest, out.breach_rest, rng, f)
    owner = np.concatenate([own_a, own_r])
    n_kept = owner.size
    ransom = rng.random(n_kept) < inp.ransomware_share
    loss = rng.standard_normal(n_kept)
    loss *= np.where(ransom, inp.ransom_sigma, inp.other_sigma)
    loss += np.where(ransom, np.concatenate([lay.allowed.inp.ransom_mu[col_a], lay.rest.inp.ransom_mu[col_r]]),
                     np.concatenate([lay.allowed.inp.other_mu[col_a], lay.rest.inp.other_mu[col_r]]))
    np.exp(loss, out=loss)
    loss *= mfac[owner]
    sector = np.bincount(owner, weights=loss, minlength=d)
    return sector, np.bincount(owner, minlength=d).astype(np.int64)


def _hist_codes(grants: np.ndarray, inv_scale: np.ndarray) -> np.ndarray:
    """Flat histogram cell ``column x HIST_BINS + bin`` of each positive grant of a sub-batch.

    The bin is computed in float32 (``log2`` to about 1e-7, far below the bin width of 0.08).
    """
    n = grants.shape[1]
    flat = np.flatnonzero(grants > 0)
    cols = flat % n
    pos = grants.reshape(-1).take(flat)
    pos *= inv_scale.take(cols)
    x = pos.astype(np.float32)
    np.log2(x, out=x)
    lo, hi = HIST_LOG2_RANGE
    x -= np.float32(lo)
    x *= np.float32(HIST_BINS / (hi - lo))
    np.clip(x, 0, HIST_BINS - 1, out=x)
    cols *= HIST_BINS
    cols += x.astype(np.int64)
    return cols


def _run_block(inp: ModelInputs, lay: Layout, seed: int, block: int, start: int, size: int, exact: bool,
               hist: np.ndarray | None) -> _BlockResult:
    rng = block_rng(seed, block)
    na, nr = lay.allowed.index.size, lay.rest.index.size
    k = len(inp.parameters)
    rows = min(SUB_BATCH, size)

    def buffer(m: int, on: bool) -> np.ndarray | None:  # preallocated, reused by every sub-batch
        return np.empty((rows, m)) if (on and m) else None

    m_it, m_cy = lay.m_it, lay.m_cyber
    bufs = (buffer(m_it[0], inp.it_budget_sigma > 0), buffer(m_it[1], inp.it_budget_sigma > 0),
            buffer(m_cy[0], inp.cyber_share_sigma > 0), buffer(m_cy[1], inp.cyber_share_sigma > 0))
    breach_a, breach_r = np.empty((rows, na)), np.empty((rows, nr))
    cols: dict[str, list[np.ndarray]] = {}
    elig_count = np.zeros(na, dtype=np.int64)
    grant_sum = np.zeros(na)
    grants_all = np.empty((size, na)) if exact else None
    n_cat = lay.categories.size
    by_cat = np.zeros((size, n_cat))
    elig_cat = np.zeros((size, n_cat), dtype=np.int64)
    hist_flat = hist.reshape(-1) if hist is not None else None
    scale = lay.allowed.inp.hist_scale
    inv_scale = np.divide(0.01, scale, out=np.zeros_like(scale), where=scale > 0)  # cents to scale; 0: no grant
    for s0 in range(0, size, SUB_BATCH):
        d = min(SUB_BATCH, size - s0)
        u = rng.random((d, k))
        theta = np.column_stack([p.from_unit(u[:, j]) for j, p in enumerate(inp.parameters)]) if k else u
        za_it, zr_it, za_cy, zr_cy = (None if b is None else rng.standard_normal(out=b[:d]) for b in bufs)
        n_up = na if lay.unit_index is None else lay.unit_index.size
        u_up = rng.random((d, n_up)) if inp.policy.uptake_model == "logistic" else None
        out = _evaluate(inp, lay, theta, za_it, zr_it, za_cy, zr_cy, u_up, breach_a[:d], breach_r[:d])
        f = _factor(inp, theta, "frequency_factor")
        mfac = _factor(inp, theta, "magnitude_factor")
        sector, n_inc = _sample_incidents(inp, lay, rng, out, f, mfac)
        for j, p in enumerate(inp.parameters):
            cols.setdefault(p.name, []).append(theta[:, j])
        for key, val in out.per_draw.items():
            cols.setdefault(key, []).append(val)
        cols.setdefault("sector_loss_eur", []).append(sector)
        cols.setdefault("incidents", []).append(n_inc)
        grants = out.cents_allowed  # cents: converted to euros once reduced
        elig_u8 = out.eligible_allowed.view(np.uint8)
        elig_count += np.add.reduce(elig_u8, axis=0, dtype=np.int64)
        grant_sum += grants.sum(axis=0)
        if grants_all is not None:
            grants_all[s0:s0 + d] = grants
        if na:
            by_c = grants if lay.category_order is None else grants[:, lay.category_order]
            el_c = out.eligible_allowed if lay.category_order is None else out.eligible_allowed[:, lay.category_order]
            by_cat[s0:s0 + d, lay.run_codes] = np.add.reduceat(by_c, lay.runs, axis=1) / 100.0
            for code, lo, hi in zip(lay.run_codes, lay.runs, np.r_[lay.runs[1:], na], strict=True):
                elig_cat[s0:s0 + d, code] = np.count_nonzero(el_c[:, lo:hi], axis=1)
        if hist_flat is not None:
            np.add.at(hist_flat, _hist_codes(grants, inv_scale), 1)
    per_draw = {key: np.concatenate(v) for key, v in cols.items()}
    return _BlockResult(block, start, per_draw, elig_count, grant_sum, grants_all, by_cat, elig_cat)


def _run_chunk(inp: ModelInputs, seed: int, blocks: list[tuple[int, int, int]], exact: bool,
               lay: Layout | None = None, hist: np.ndarray | None = None) -> _ChunkResult:
    """Run whole blocks (a memory chunk or one Dask task); histogram counts are added to ``hist`` (int64, a new
    one if None)."""
    lay = make_layout(inp) if lay is None else lay
    if hist is None and not exact:
        hist = np.zeros((lay.allowed.index.size, HIST_BINS), dtype=np.int64)
    results = [_run_block(inp, lay, seed, b, start, size, exact, hist) for b, start, size in blocks]
    return _ChunkResult(results, hist)


# --------------------------------------------------------------------------------------------------- results


def _hist_quantiles(hist: np.ndarray, zeros: np.ndarray, draws: int, qs: Sequence[float]) -> np.ndarray:
    """Quantiles (n, len(qs)) from per-establishment counts: ``zeros`` draws at 0, then the log2 bins."""
    lo, hi = HIST_LOG2_RANGE
    width = (hi - lo) / HIST_BINS
    cum = np.cumsum(hist, axis=1, dtype=np.int64) + zeros[:, None]
    out = np.zeros((hist.shape[0], len(qs)))
    for j, q in enumerate(qs):
        target = q * draws
        at_zero = zeros >= target
        b = np.argmax(cum >= target, axis=1)
        before = np.where(b > 0, cum[np.arange(len(b)), np.maximum(b - 1, 0)], zeros)
        count = hist[np.arange(len(b)), b]
        frac = np.clip(np.divide(target - before, count, out=np.zeros(len(b)), where=count > 0), 0.0, 1.0)
        out[:, j] = np.where(at_zero, 0.0, 2.0 ** (lo + (b + frac) * width))
    return out


@dataclass
class MonteCarloResult:
    """The distribution of a scenario's results (see :func:`simulate`).

    Attributes
    ----------
    draws : DataFrame
        One row per draw: ``draw``, the common factors drawn (``it_budget_factor``, ...), then ``eligible``,
        ``allocated_cents``, ``unallocated_cents`` (int64, as the cent-exact allocator reports them),
        ``induced_spend_eur`` (extra cyber spend from uptake over the envelope's years, as ``allocate``), ``avoided_loss_eur`` (expected annual loss
        avoided), ``expected_loss_eur`` (expected annual sector loss after the policy), ``expected_incidents``,
        ``sector_loss_eur`` and ``incidents`` (one simulated year of the sector after the policy), and
        ``uptake_converged`` (bool: the logistic fixed point converged within ``uptake.max_iterations`` in this
        draw; a draw that did not is kept, with the probabilities of its last iteration, and counted in
        :meth:`summary`).
    establishments : DataFrame
        One row per establishment (sorted by finess): ``finess, category, status, region, p_eligible,
        grant_mean_eur, grant_p5_eur, grant_p50_eur, grant_p95_eur``.
    quantile_method : str
        ``exact`` or ``histogram`` (module docstring).
    grants_by_category, eligible_by_category : DataFrame
        One row per draw, one column per category: total exact grants (euros) and eligible establishments.
    seed : int
    parameters : list of UncertainParameter
    scenario_name : str
    elapsed_s : float
    """

    draws: pd.DataFrame
    establishments: pd.DataFrame
    quantile_method: str
    seed: int
    parameters: list[UncertainParameter]
    scenario_name: str = ""
    elapsed_s: float = 0.0
    grants_by_category: pd.DataFrame = field(default_factory=pd.DataFrame)
    eligible_by_category: pd.DataFrame = field(default_factory=pd.DataFrame)

    def var(self, level: float = 0.95, column: str = "sector_loss_eur") -> float:
        """Value at risk: the ``level`` quantile of the annual sector loss (euros)."""
        _check_level(level)
        return float(np.quantile(self.draws[column].to_numpy(dtype=float), level))

    def cvar(self, level: float = 0.95, column: str = "sector_loss_eur") -> float:
        """Conditional value at risk (expected shortfall): mean loss in the worst ``1 - level`` of draws.

        Computed on the sorted draws as the mean of the ``ceil((1 - level) x N)`` largest losses.
        """
        _check_level(level)
        x = np.sort(self.draws[column].to_numpy(dtype=float))
        k = max(1, math.ceil((1.0 - level) * len(x) - 1e-9))
        return float(x[-k:].mean())

    def loss_exceedance(self, points: int = 200, column: str = "sector_loss_eur") -> pd.DataFrame:
        """Loss-exceedance curve: ``probability`` that the annual loss exceeds ``loss_eur``.

        Returns
        -------
        DataFrame
            ``loss_eur`` (increasing, from 0 to the largest draw) and ``probability`` (non-increasing).
        """
        x = np.sort(self.draws[column].to_numpy(dtype=float))
        grid = np.linspace(0.0, float(x[-1]) if len(x) else 0.0, int(points))
        prob = 1.0 - np.searchsorted(x, grid, side="right") / len(x)
        return pd.DataFrame({"loss_eur": grid, "probability": prob})

    def quantiles(self, qs: Sequence[float] = (0.05, 0.5, 0.95)) -> pd.DataFrame:
        """Mean and quantiles of every per-draw output (rows: outputs; columns ``mean``, ``p5``...)."""
        rows = {}
        for c in OUTPUTS + ("expected_incidents",):
            if c in self.draws.columns:
                x = self.draws[c].to_numpy(dtype=float)
                rows[c] = {"mean": float(x.mean()), **{f"p{round(q * 100):g}": float(np.quantile(x, q)) for q in qs}}
        return pd.DataFrame.from_dict(rows, orient="index")

    def eligibility_by(self, column: str = "category") -> pd.DataFrame:
        """Probability of eligibility by group: establishments, expected eligible, mean/min/max probability."""
        df = self.establishments
        g = df.groupby(column, sort=True, observed=True)["p_eligible"]
        return pd.DataFrame({
            "establishments": g.size(), "expected_eligible": g.sum(), "mean_p_eligible": g.mean(),
            "share_certain": df.assign(c=df["p_eligible"] >= 1.0).groupby(column, sort=True)["c"].mean(),
            "share_never": df.assign(c=df["p_eligible"] <= 0.0).groupby(column, sort=True)["c"].mean(),
        }).reset_index()

    def summary(self) -> dict[str, Any]:
        """JSON-able summary: draws, seed, method, the share of draws whose logistic uptake did not converge,
        per-output mean and P5/P50/P95, VaR and CVaR at 95 / 99 %."""
        converged = self.draws["uptake_converged"].to_numpy(dtype=bool) if "uptake_converged" in self.draws else None
        return {
            "scenario": self.scenario_name,
            "draws": int(len(self.draws)),
            "seed": int(self.seed),
            "quantile_method": self.quantile_method,
            "uptake_not_converged_share": float(1.0 - converged.mean()) if converged is not None and len(converged)
            else 0.0,
            "outputs": self.quantiles().to_dict(orient="index"),
            "var_95_eur": self.var(0.95), "cvar_95_eur": self.cvar(0.95),
            "var_99_eur": self.var(0.99), "cvar_99_eur": self.cvar(0.99),
            "parameters": {p.name: {"low": p.low, "high": p.high, "distribution": p.distribution}
                           for p in self.parameters},
        }


def _check_level(level: float) -> None:
    if not (0.0 < float(level) < 1.0):
        raise OptionError(f"level: expected a probability strictly between 0 and 1, found {level!r}")


def _check_options(draws: Any, seed: Any, chunk_blocks: Any) -> None:
    problems = []
    if isinstance(draws, bool) or not isinstance(draws, (int, np.integer)) or draws < 1:
        problems.append(Problem("draws", f"expected an integer >= 1, found {draws!r}"))
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        problems.append(Problem("seed", f"expected an integer >= 0 (or None for the scenario's seed), found {seed!r}"))
    if chunk_blocks is not None and (isinstance(chunk_blocks, bool) or not isinstance(chunk_blocks, (int, np.integer))
                                     or chunk_blocks < 1):
        problems.append(Problem("chunk_blocks", f"expected an integer >= 1 or None, found {chunk_blocks!r}"))
    if problems:
        raise OptionError(f"simulate: {len(problems)} invalid option(s)", problems)


def simulate(
    table: pd.DataFrame,
    scenario: Scenario,
    draws: int | None = None,
    seed: int | None = None,
    *,
    chunk_blocks: int | None = None,
    client: Any = None,
    progress: ProgressCallback | None = None,
    exact_quantiles_max: int = EXACT_QUANTILES_MAX,
) -> MonteCarloResult:
    """Simulate the uncertain inputs jointly and recompute eligibility, allocation and risk for each draw.

    Parameters
    ----------
    table : DataFrame
        The establishment table (DESIGN.md), e.g. ``load_establishments()``.
    scenario : Scenario
        A loaded scenario; its ``uncertainty:`` section gives the ranges (module docstring).
    draws : int, optional
        Number of draws; default ``scenario.uncertainty.draws`` (10,000).
    seed : int, optional
        Default: the scenario's ``seed``. The results depend only on ``seed`` and ``draws`` (seeding contract in
        the module docstring), never on ``chunk_blocks``, ``client`` or scheduling.
    chunk_blocks : int, optional
        Blocks of 1,024 draws per memory chunk / Dask task (default 1 locally; with a client, about four tasks
        per worker).
    client : dask.distributed.Client, optional
        Spread the chunks over a Dask cluster (``cyberbudget run --dask ADDRESS``).
    progress : callable, optional
        ``progress(done_draws, total_draws)`` after each chunk.
    exact_quantiles_max : int
        Per-establishment grant quantiles are exact up to this many establishments, else approximated by
        histograms (module docstring).

    Returns
    -------
    MonteCarloResult

    Raises
    ------
    OptionError
        ``draws``, ``seed`` or ``chunk_blocks`` invalid.
    ScenarioError
        The rule has no Monte Carlo path (``optimal``).

    Examples
    --------
    >>> mc = simulate(table, scenario, draws=2_048, seed=7)   # doctest: +SKIP
    >>> mc.draws[["eligible", "avoided_loss_eur"]].describe()  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    scenario = as_scenario(scenario)
    if draws is None:
        draws = int(scenario.uncertainty.draws)
    if seed is None:
        seed = int(scenario.seed)
    _check_options(draws, seed, chunk_blocks)
    draws, seed = int(draws), int(seed)
    inp = prepare_inputs(table, scenario)
    exact = inp.n <= exact_quantiles_max
    blocks = plan_blocks(draws)
    if chunk_blocks is None:
        n_workers = len(client.scheduler_info().get("workers", {})) if client is not None else 1
        chunk_blocks = max(1, len(blocks) // (4 * max(n_workers, 1))) if client is not None else 1
    chunks = [blocks[i:i + chunk_blocks] for i in range(0, len(blocks), chunk_blocks)]
    results: list[_ChunkResult] = []
    lay = make_layout(inp)
    hist = None if exact else np.zeros((lay.allowed.index.size, HIST_BINS), dtype=np.int64)
    done = 0

    def absorb(res: _ChunkResult) -> None:
        nonlocal done
        if hist is not None and res.hist is not None and res.hist is not hist:
            np.add(hist, res.hist, out=hist)
            res.hist = None
        results.append(res)
        done += sum(len(b.per_draw["eligible"]) for b in res.blocks)
        if progress is not None:
            progress(done, draws)

    if client is None:
        for chunk in chunks:
            absorb(_run_chunk(inp, seed, chunk, exact, lay, hist))  # counts added in place
    else:
        from distributed import as_completed

        inp_future = client.scatter(inp, broadcast=True)
        lay_future = client.scatter(lay, broadcast=True)
        futures = [client.submit(_run_chunk, inp_future, seed, chunk, exact, lay_future, pure=False)
                   for chunk in chunks]
        for fut in as_completed(futures):
            absorb(fut.result())
            fut.release()
    block_results = sorted((b for r in results for b in r.blocks), key=lambda b: b.block)

    per_draw = {key: np.concatenate([b.per_draw[key] for b in block_results]) for key in block_results[0].per_draw}
    df = pd.DataFrame({"draw": np.arange(draws, dtype=np.int64)})
    for p in inp.parameters:
        df[p.name] = per_draw[p.name]
    for key in ("eligible", "allocated_cents", "unallocated_cents", "induced_spend_eur", "avoided_loss_eur",
                "expected_loss_eur", "expected_incidents", "sector_loss_eur", "incidents", "uptake_converged"):
        df[key] = per_draw[key]

    elig_count_a = np.zeros(lay.allowed.index.size, dtype=np.int64)
    grant_sum_a = np.zeros(lay.allowed.index.size)
    for b in block_results:  # block order: float sums identical whatever the chunking
        elig_count_a += b.elig_count
        grant_sum_a += b.grant_sum
    grant_sum_a /= 100.0  # cents to euros
    elig_count = np.zeros(inp.n, dtype=np.int64)
    grant_sum = np.zeros(inp.n)
    elig_count[lay.allowed.index] = elig_count_a
    grant_sum[lay.allowed.index] = grant_sum_a
    qs = (0.05, 0.5, 0.95)
    quant = np.zeros((inp.n, len(qs)))  # the establishments the filters exclude never get a grant
    if exact:
        allg = np.concatenate([b.grants for b in block_results], axis=0)
        quant[lay.allowed.index] = np.quantile(allg, qs, axis=0).T / 100.0
        del allg
    else:
        zeros = draws - hist.sum(axis=1)
        quant[lay.allowed.index] = _hist_quantiles(hist, zeros, draws, qs) * lay.allowed.inp.hist_scale[:, None]
    est = pd.DataFrame({
        "finess": inp.finess, "category": inp.category, "status": inp.status, "region": inp.region,
        "p_eligible": elig_count / draws, "grant_mean_eur": grant_sum / draws,
        "grant_p5_eur": quant[:, 0], "grant_p50_eur": quant[:, 1], "grant_p95_eur": quant[:, 2],
    })
    cats = lay.categories
    by_cat = pd.DataFrame(np.concatenate([b.by_category for b in block_results]), columns=cats)
    el_cat = pd.DataFrame(np.concatenate([b.eligible_by_category for b in block_results]), columns=cats)
    return MonteCarloResult(
        grants_by_category=by_cat, eligible_by_category=el_cat,
        draws=df, establishments=est, quantile_method="exact" if exact else "histogram", seed=seed,
        parameters=list(inp.parameters), scenario_name=scenario.name,
        elapsed_s=time.perf_counter() - t0,
    )


def report_markdown(mc: MonteCarloResult, lang: str = "en") -> str:
    """Headline of the uncertainty report: draws, seed, and the main results with their 90 % intervals."""
    q = mc.quantiles()

    def rng_eur(col: str, scale: float = 1e6) -> str:
        r = q.loc[col]
        return f"{r['p50'] / scale:,.1f} M€ [{r['p5'] / scale:,.1f} – {r['p95'] / scale:,.1f}]"

    e = q.loc["eligible"]
    un = q.loc["unallocated_cents"]
    lines = [
        f"# How sure are we — {mc.scenario_name}",
        "",
        f"{len(mc.draws):,} draws (seed {mc.seed}); medians with the 90 % interval [P5 – P95] in brackets.",
        "",
        f"- Eligible establishments: {e['p50']:,.0f} [{e['p5']:,.0f} – {e['p95']:,.0f}]",
        f"- Unallocated: {un['p50'] / 1e8:,.1f} M€ [{un['p5'] / 1e8:,.1f} – {un['p95'] / 1e8:,.1f}]",
        f"- Induced cyber spend (uptake, over the envelope's years): {rng_eur('induced_spend_eur')}",
        f"- Expected loss avoided a year: {rng_eur('avoided_loss_eur')}",
        f"- Annual sector loss after the policy: {rng_eur('sector_loss_eur')}; VaR 95 % "
        f"{mc.var(0.95) / 1e6:,.1f} M€, CVaR 95 % {mc.cvar(0.95) / 1e6:,.1f} M€",
    ]
    share = mc.summary()["uptake_not_converged_share"]
    if share > 0:
        lines.append(f"- Draws whose logistic uptake did not converge (kept, last iteration): {share * 100:.2f} %")
    if lang == "fr":
        lines = [ln.replace(",", "\u202f") for ln in lines]
    return "\n".join(lines)


__all__ = [
    "EXACT_QUANTILES_MAX", "OUTPUTS", "PARAMETER_NAMES", "SUB_BATCH", "DrawOutputs", "Group", "Layout",
    "ModelInputs", "MonteCarloResult", "UncertainParameter", "UnitInputs", "block_rng", "block_seed_sequence",
    "default_uncertainty", "evaluate", "make_layout", "plan_blocks", "prepare_inputs", "report_markdown",
    "simulate", "uncertain_parameters",
]
