"""What the money buys: incident frequency x loss magnitude, and the Gordon–Loeb breach functions.

The model, per establishment *i* and year (every figure in ``data/reference/risk.yaml``):

* **Size** ``s_i = beds + places + had_places`` (at least 1).
* **Security investment** ``z_i`` (euros a year) = cyber spend + ``additionality`` x grant / number of envelope
  years. Its effect goes through a Gordon & Loeb (2002) breach function ``S(z, v)``: class I
  ``v / (α z + 1)^β`` or class II ``v^(α z + 1)``, with ``v`` the vulnerability at zero investment and
  ``α_i = 1 / (k x IT budget_i)`` (``k = alpha_share``), so that ``α z`` is the cyber share divided by ``k``
  (``α = 0`` when the IT budget is 0: no lever).
* **Frequency** of declared serious incidents (Poisson):
  ``f_i = r x (s_i / s_ref)^γ x m_i x S(z_i, v) / S(z_ref, v) x A``, where ``r`` is the rate of a reference
  establishment spending the reference share (calibrated so that the SAE 2023 registry gives the ANS / CERT Santé
  observatory's ~664 declared incidents a year), ``m_i`` a factor for medico-social rows and ``A`` the awareness
  factor ``1 − human_share x effectiveness x coverage``. A share ``ρ`` (≈ 5.8 %) of incidents are ransomware.
  The *threat rate* ``T_i = f_i / S(z_i, v)`` is what investment does not change.
* **Magnitude** (lognormal, fitted from a 90 % interval, riskquant-style): ransomware
  ``[2,000 ; 12,000] € per bed or place x s_ref x (s_i/s_ref)^δ``, other incidents a smaller interval.
  ``M̄_i = ρ E[ransomware] + (1 − ρ) E[other]``.
* **Expected annual loss** ``EL_i(z) = L_i S(z, v)`` with the Gordon–Loeb loss ``L_i = T_i M̄_i``; the optimal
  investment of the 2002 paper is :func:`gordon_loeb_optimum` and never exceeds ``v L / e``.

For an allocation (:func:`assess`): before = pre-policy spend, no awareness change; after = spend after uptake
plus the grant, awareness lever applied. Avoided loss is split into awareness, uptake and grant parts; avoided
loss per euro is the grant part over the annual grant.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import ndtri

from cyberbudget.data import reference
from cyberbudget.errors import InputError, Problem
from cyberbudget.policy.scenario import Envelope, Scenario, as_scenario

KINDS: tuple[str, ...] = ("I", "II")
_SOURCE = "risk model"


# --------------------------------------------------------------------------------------------------------------
# Gordon–Loeb breach functions (pure, vectorised)
# --------------------------------------------------------------------------------------------------------------


def _out(x: np.ndarray) -> float | np.ndarray:
    """Scalars in → Python float out; arrays stay arrays."""
    return float(x) if np.ndim(x) == 0 else x


def _check_gl(v: Any, alpha: Any, beta: Any, kind: str, loss: Any = None) -> list[Problem]:
    problems: list[Problem] = []
    if kind not in KINDS:
        problems.append(Problem("kind", f"expected one of 'I', 'II', found {kind!r}"))
    va = np.asarray(v, dtype=float)
    if np.any(~np.isfinite(va)) or np.any((va < 0) | (va > 1)):
        problems.append(Problem("v", f"expected a vulnerability in [0, 1], found {va[(va < 0) | (va > 1) | ~np.isfinite(va)].ravel()[:3].tolist()}"))
    aa = np.asarray(alpha, dtype=float)
    if np.any(~np.isfinite(aa)) or np.any(aa < 0):
        problems.append(Problem("alpha", f"expected alpha >= 0 (per euro), found {aa[(aa < 0) | ~np.isfinite(aa)].ravel()[:3].tolist()}"))
    ba = np.asarray(beta, dtype=float)
    if np.any(~np.isfinite(ba)) or np.any(ba <= 0):
        problems.append(Problem("beta", f"expected beta > 0, found {ba[(ba <= 0) | ~np.isfinite(ba)].ravel()[:3].tolist()}"))
    if loss is not None:
        la = np.asarray(loss, dtype=float)
        if np.any(~np.isfinite(la)) or np.any(la < 0):
            problems.append(Problem("loss", f"expected a loss >= 0 (euros), found {la[(la < 0) | ~np.isfinite(la)].ravel()[:3].tolist()}"))
    return problems


def _raise(problems: list[Problem], what: str) -> None:
    if problems:
        raise InputError(f"{what}: {len(problems)} invalid argument(s)", problems, source=_SOURCE)


def _floats(*xs: Any) -> tuple[np.ndarray, ...]:
    """The arguments as float64 arrays (scalars become 0-d arrays; :func:`_out` turns results back)."""
    return tuple(np.asarray(x, dtype=float) for x in xs)


def gordon_loeb_breach(x: Any, v: Any, beta: Any = 1.0, kind: str = "I", out: np.ndarray | None = None) -> np.ndarray:
    """The Gordon–Loeb breach function as a function of the effort ``x = α z`` (the one definition of ``S``).

    Class I ``S = v / (x + 1)^β``, class II ``S = v^(x + 1)``. No argument checking (callers check, see
    :func:`breach_probability`): this is the kernel that :func:`breach_probability` and the Monte Carlo
    simulation share, vectorised and able to write into ``out`` (which may be ``x`` itself).

    Parameters
    ----------
    x : array_like
        ``α z``, ≥ 0.
    v : float or array_like
        Vulnerability in [0, 1].
    beta : float or array_like
        Class I exponent (> 0).
    kind : {"I", "II"}
    out : ndarray, optional
        Where to write the result (shaped like ``x``; ``v`` and ``beta`` then scalars).

    Returns
    -------
    ndarray

    Examples
    --------
    >>> gordon_loeb_breach(np.array([1.0]), 0.5).tolist(), gordon_loeb_breach(np.array([1.0]), 0.5, kind="II").tolist()
    ([0.25], [0.25])
    """
    if out is None:
        y = np.asarray(x, dtype=np.float64) + 1.0
    else:
        y = np.add(x, 1.0, out=out)
    if kind == "I":
        if np.ndim(beta) or float(beta) != 1.0:
            y = y ** beta if out is None else np.power(y, beta, out=y)
        return v / y if out is None else np.divide(v, y, out=y)
    return v ** y if out is None else np.power(v, y, out=y)


def breach_probability(
    z: Any, v: Any, alpha: Any, beta: Any = 1.0, kind: str = "I"
) -> float | np.ndarray:
    """Gordon–Loeb probability that a threat becomes a breach after investing ``z`` euros.

    Parameters
    ----------
    z : float or array_like
        Security investment (euros, ≥ 0).
    v : float or array_like
        Vulnerability with no investment, in [0, 1].
    alpha : float or array_like
        Productivity of investment (per euro, ≥ 0).
    beta : float or array_like, default 1.0
        Class I exponent (> 0); ignored by class II.
    kind : {"I", "II"}
        Class I ``S = v / (α z + 1)^β``; class II ``S = v^(α z + 1)``.

    Returns
    -------
    float or ndarray
        ``S(z, v)``, broadcast over the arguments.

    Examples
    --------
    >>> breach_probability(1.0, 0.5, 1.0)
    0.25
    >>> breach_probability(1.0, 0.5, 1.0, kind="II")
    0.25
    """
    _raise(_check_gl(v, alpha, beta, kind), "breach_probability")
    z, v, alpha, beta = _floats(z, v, alpha, beta)
    return _out(gordon_loeb_breach(alpha * z, v, beta, kind))


def breach_marginal(z: Any, v: Any, alpha: Any, beta: Any = 1.0, kind: str = "I") -> float | np.ndarray:
    """Marginal reduction of the breach probability, ``−∂S/∂z`` (per euro, ≥ 0).

    Class I: ``α β v (α z + 1)^(−β−1)``; class II: ``−α ln(v) v^(α z + 1)`` (0 at ``v`` = 0 or 1).

    Examples
    --------
    >>> breach_marginal(0.0, 0.5, 1.0)
    0.5
    """
    _raise(_check_gl(v, alpha, beta, kind), "breach_marginal")
    z, v, alpha, beta = _floats(z, v, alpha, beta)
    if kind == "I":
        return _out(alpha * beta * v * (alpha * z + 1.0) ** (-beta - 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        lnv = np.where(v > 0, np.log(np.where(v > 0, v, 1.0)), 0.0)
        out = np.where(v > 0, -alpha * lnv * v ** (alpha * z + 1.0), 0.0)
    return _out(out + 0.0 * z)


def investment_at_marginal(
    mu: Any, v: Any, loss: Any, alpha: Any, beta: Any = 1.0, kind: str = "I"
) -> float | np.ndarray:
    """Investment ``z ≥ 0`` at which the marginal avoided loss ``L (−∂S/∂z)`` equals ``mu``.

    The inverse of the (decreasing) marginal benefit, clipped at 0: class I
    ``z = ((α β v L / μ)^(1/(β+1)) − 1) / α``; class II ``z = ln(−μ / (α v L ln v)) / (α ln v)``.
    With ``mu = 1`` this is the Gordon–Loeb optimum. Rows with no lever (``α = 0``, ``L = 0``, ``v`` = 0, or
    ``v`` = 1 for class II) give 0.

    Parameters
    ----------
    mu : float or array_like
        Marginal value (euros of avoided loss per euro invested, > 0).
    v, loss, alpha, beta, kind
        As in :func:`gordon_loeb_optimum`.

    Returns
    -------
    float or ndarray
    """
    _raise(_check_gl(v, alpha, beta, kind, loss), "investment_at_marginal")
    mu = np.asarray(mu, dtype=float)
    if np.any(~(mu > 0)):
        _raise([Problem("mu", f"expected a marginal value > 0, found {mu[~(mu > 0)].ravel()[:3].tolist()}")], "investment_at_marginal")
    v, loss, alpha, beta = (np.asarray(x, dtype=float) for x in (v, loss, alpha, beta))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "I":
            lever = (alpha > 0) & (v > 0) & (loss > 0)
            a = np.where(lever, alpha, 1.0)
            z = ((a * beta * v * loss / mu) ** (1.0 / (beta + 1.0)) - 1.0) / a
        else:
            lever = (alpha > 0) & (v > 0) & (v < 1) & (loss > 0)
            a = np.where(lever, alpha, 1.0)
            vv = np.where(lever, v, 0.5)
            lnv = np.log(vv)
            ll = np.where(lever, loss, 1.0)
            z = np.log(-mu / (a * vv * ll * lnv)) / (a * lnv)
        z = np.where(lever & (z > 0), z, 0.0)
    return _out(z)


def gordon_loeb_optimum(v: Any, loss: Any, alpha: Any, beta: Any = 1.0, kind: str = "I") -> float | np.ndarray:
    """Optimal security investment of Gordon & Loeb (2002), closed forms, vectorised.

    Maximises the expected net benefit ``(v − S(z, v)) L − z`` over ``z ≥ 0``:

    * class I, ``S = v / (α z + 1)^β``: ``z* = ((v β α L)^(1/(β+1)) − 1) / α``;
    * class II, ``S = v^(α z + 1)``: ``z* = ln(−1 / (α v L ln v)) / (α ln v)``;

    clipped at 0 (no investment pays when ``v β α L ≤ 1``, resp. ``−α v L ln v ≤ 1``). The optimum never exceeds
    ``v L / e`` (the paper's 1/e rule).

    Parameters
    ----------
    v : float or array_like
        Vulnerability with no investment, in [0, 1] (class II: in (0, 1) for a non-zero optimum).
    loss : float or array_like
        Loss ``L`` if the threat succeeds (euros, ≥ 0).
    alpha : float or array_like
        Productivity of investment (per euro, ≥ 0).
    beta : float or array_like, default 1.0
        Class I exponent (> 0).
    kind : {"I", "II"}

    Returns
    -------
    float or ndarray
        ``z*`` in euros; a float when every argument is a scalar.

    Raises
    ------
    InputError
        ``v`` outside [0, 1], negative ``loss`` or ``alpha``, ``beta ≤ 0``, unknown ``kind``.

    Examples
    --------
    >>> round(gordon_loeb_optimum(v=0.5, loss=2e6, alpha=1e-5), 2)   # (sqrt(10) - 1) / 1e-5
    216227.77
    >>> gordon_loeb_optimum(v=0.5, loss=2e6, alpha=1e-5) <= 0.5 * 2e6 / math.e
    True
    """
    _raise(_check_gl(v, alpha, beta, kind, loss), "gordon_loeb_optimum")
    v, loss, alpha, beta = (np.asarray(x, dtype=float) for x in (v, loss, alpha, beta))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if kind == "I":
            lever = (alpha > 0) & (v > 0) & (loss > 0)
            a = np.where(lever, alpha, 1.0)
            z = ((v * beta * a * loss) ** (1.0 / (beta + 1.0)) - 1.0) / a
        else:
            lever = (alpha > 0) & (v > 0) & (v < 1) & (loss > 0)
            a = np.where(lever, alpha, 1.0)
            vv = np.where(lever, v, 0.5)
            ll = np.where(lever, loss, 1.0)
            lnv = np.log(vv)
            z = np.log(-1.0 / (a * vv * ll * lnv)) / (a * lnv)
        z = np.where(lever & (z > 0), z, 0.0)
    return _out(z)


# --------------------------------------------------------------------------------------------------------------
# Frequency and magnitude models (riskquant / Open FAIR)
# --------------------------------------------------------------------------------------------------------------


def _check_rng(rng: Any) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"rng: expected a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), found {type(rng).__name__}",
            source=_SOURCE,
        )
    return rng


@dataclass(frozen=True)
class PoissonFrequency:
    """Number of loss events in a year, Poisson with mean ``rate`` (scalar or array, ≥ 0).

    Examples
    --------
    >>> f = PoissonFrequency(0.2)
    >>> f.mean()
    0.2
    >>> f.draw(3, np.random.default_rng(1)).shape
    (3,)
    """

    rate: float | np.ndarray

    def __post_init__(self) -> None:
        r = np.asarray(self.rate, dtype=float)
        if np.any(~np.isfinite(r)) or np.any(r < 0):
            raise InputError(f"PoissonFrequency: expected rate >= 0 (events per year), found {self.rate!r}", source=_SOURCE)

    def mean(self) -> float | np.ndarray:
        """Expected number of events per year."""
        return _out(np.asarray(self.rate, dtype=float))

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` yearly counts (shape ``(n,) + shape(rate)``), from the given generator."""
        rate = np.asarray(self.rate, dtype=float)
        return _check_rng(rng).poisson(rate, size=(int(n),) + rate.shape)


@dataclass(frozen=True)
class LognormalMagnitude:
    """Loss of one event, lognormal with log-mean ``mu`` and log-sd ``sigma`` (scalars or arrays).

    Build it from an expert's interval with :meth:`from_interval`.

    Examples
    --------
    >>> m = LognormalMagnitude.from_interval(1_000, 100_000, level=0.90)
    >>> round(m.median())
    10000
    >>> round(float(np.quantile(m.draw(200_000, np.random.default_rng(0)), 0.95)), -3)
    100000.0
    """

    mu: float | np.ndarray
    sigma: float | np.ndarray

    def __post_init__(self) -> None:
        s = np.asarray(self.sigma, dtype=float)
        m = np.asarray(self.mu, dtype=float)
        if np.any(~np.isfinite(s)) or np.any(s < 0) or np.any(~np.isfinite(m)):
            raise InputError(
                f"LognormalMagnitude: expected a finite mu and sigma >= 0, found mu={self.mu!r}, sigma={self.sigma!r}",
                source=_SOURCE,
            )

    @classmethod
    def from_interval(cls, low: Any, high: Any, level: float = 0.90) -> LognormalMagnitude:
        """Lognormal whose central ``level`` interval is ``[low, high]`` (euros, 0 < low ≤ high).

        ``mu = (ln low + ln high) / 2``, ``sigma = (ln high − ln low) / (2 Φ⁻¹((1 + level) / 2))``.
        """
        lo = np.asarray(low, dtype=float)
        hi = np.asarray(high, dtype=float)
        problems = []
        if np.any(~(lo > 0)) or np.any(~np.isfinite(hi)) or np.any(hi < lo):
            problems.append(Problem("low, high", f"expected 0 < low <= high (euros), found low={low!r}, high={high!r}"))
        if not (0 < level < 1):
            problems.append(Problem("level", f"expected a probability in (0, 1), found {level!r}"))
        _raise(problems, "LognormalMagnitude.from_interval")
        zq = float(ndtri(0.5 + level / 2.0))
        mu = (np.log(lo) + np.log(hi)) / 2.0
        sigma = (np.log(hi) - np.log(lo)) / (2.0 * zq)
        return cls(_out(mu), _out(sigma))

    def scaled(self, factor: Any) -> LognormalMagnitude:
        """The same distribution multiplied by ``factor`` (> 0, broadcast)."""
        return LognormalMagnitude(_out(np.asarray(self.mu) + np.log(np.asarray(factor, dtype=float))), self.sigma)

    def median(self) -> float | np.ndarray:
        """Median loss, ``exp(mu)``."""
        return _out(np.exp(np.asarray(self.mu, dtype=float)))

    def mean(self) -> float | np.ndarray:
        """Expected loss of one event, ``exp(mu + sigma² / 2)``."""
        return _out(np.exp(np.asarray(self.mu, dtype=float) + np.asarray(self.sigma, dtype=float) ** 2 / 2.0))

    def draw(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` losses (shape ``(n,) + broadcast shape(mu, sigma)``), from the given generator."""
        mu, sigma = np.broadcast_arrays(np.asarray(self.mu, dtype=float), np.asarray(self.sigma, dtype=float))
        return _check_rng(rng).lognormal(mu, sigma, size=(int(n),) + mu.shape)


def annual_loss_draws(
    frequency: PoissonFrequency, magnitude: LognormalMagnitude, n: int, rng: np.random.Generator
) -> np.ndarray:
    """``n`` draws of one year's total loss: a Poisson number of events, each an independent magnitude.

    Scalar ``frequency`` and ``magnitude`` only (the per-establishment simulation is montecarlo's job). The mean
    of the draws tends to ``frequency.mean() x magnitude.mean()``.
    """
    rng = _check_rng(rng)
    if np.ndim(frequency.rate) or np.ndim(magnitude.mu) or np.ndim(magnitude.sigma):
        raise InputError("annual_loss_draws: expected scalar frequency and magnitude parameters", source=_SOURCE)
    counts = frequency.draw(n, rng)
    total = int(counts.sum())
    losses = magnitude.draw(total, rng)
    owner = np.repeat(np.arange(int(n)), counts)
    return np.bincount(owner, weights=losses, minlength=int(n))


# --------------------------------------------------------------------------------------------------------------
# Parameters: data/reference/risk.yaml, overridden by the scenario's `risk:` and `awareness:` sections
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RiskParameters:
    """Every number of the risk model, resolved (reference values overridden by the scenario).

    Attributes mirror ``data/reference/risk.yaml``; see the module docstring for the formulas.
    """

    kind: str
    beta: float
    vulnerability: float
    alpha_share: float
    grant_additionality: float
    rate_at_reference: float
    reference_size: float
    size_exponent: float
    reference_cyber_share: float
    medico_social_factor: float
    ransomware_share: float
    level: float
    ransomware_per_capacity_low: float
    ransomware_per_capacity_high: float
    magnitude_size_exponent: float
    other_low: float
    other_high: float
    other_size_exponent: float
    human_share: float
    awareness_effectiveness: float
    awareness_coverage: float = 0.0
    frequency_scale: float = 1.0
    magnitude_scale: float = 1.0
    alpha_per_eur: float | None = None
    n_years: int = 5
    provenance: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def awareness_factor(self) -> float:
        """Multiplier of incident frequency after the awareness lever: ``1 − human_share x effectiveness x coverage``."""
        return 1.0 - self.human_share * self.awareness_effectiveness * self.awareness_coverage

    def to_dict(self) -> dict[str, Any]:
        """JSON-able resolved parameters (without provenance)."""
        d = asdict(self)
        d.pop("provenance")
        return d


#: parameter name → dotted key of data/reference/risk.yaml
_REFERENCE_KEYS: dict[str, str] = {
    "kind": "gordon_loeb.kind",
    "beta": "gordon_loeb.beta",
    "vulnerability": "gordon_loeb.vulnerability",
    "alpha_share": "gordon_loeb.alpha_share",
    "grant_additionality": "gordon_loeb.grant_additionality",
    "rate_at_reference": "frequency.rate_at_reference",
    "reference_size": "frequency.reference_size",
    "size_exponent": "frequency.size_exponent",
    "reference_cyber_share": "frequency.reference_cyber_share",
    "medico_social_factor": "frequency.medico_social_factor",
    "ransomware_share": "frequency.ransomware_share",
    "level": "magnitude.level",
    "ransomware_per_capacity_low": "magnitude.ransomware_per_capacity_low",
    "ransomware_per_capacity_high": "magnitude.ransomware_per_capacity_high",
    "magnitude_size_exponent": "magnitude.size_exponent",
    "other_low": "magnitude.other_low",
    "other_high": "magnitude.other_high",
    "other_size_exponent": "magnitude.other_size_exponent",
    "human_share": "awareness.human_share",
    "awareness_effectiveness": "awareness.effectiveness",
}

#: scenario `risk:` field → parameter (a field left null keeps the reference value)
RISK_OVERRIDES: dict[str, str] = {
    "breach_function": "kind",
    "alpha_per_eur": "alpha_per_eur",
    "beta": "beta",
    "vulnerability": "vulnerability",
    "alpha_share": "alpha_share",
    "grant_additionality": "grant_additionality",
    "incident_rate": "rate_at_reference",
    "frequency_scale": "frequency_scale",
    "magnitude_scale": "magnitude_scale",
}
#: scenario `awareness:` field → parameter
AWARENESS_OVERRIDES: dict[str, str] = {
    "coverage": "awareness_coverage",
    "human_share": "human_share",
    "effectiveness": "awareness_effectiveness",
}


def risk_parameters(scenario: Scenario | Mapping[str, Any] | None = None, reference_name: str = "risk") -> RiskParameters:
    """Resolve the risk model's parameters: ``data/reference/risk.yaml``, then the scenario's overrides.

    Parameters
    ----------
    scenario : Scenario, mapping or None
        Its ``risk`` and ``awareness`` sections override the reference figures where a field is not null
        (``risk.kind``, ``risk.beta``, ``risk.vulnerability``, ``risk.alpha_share``, ``risk.grant_additionality``,
        ``risk.incident_rate``, ``risk.frequency_scale``, ``risk.magnitude_scale``; ``awareness.coverage``,
        ``awareness.human_share``, ``awareness.effectiveness``); ``envelope.years`` gives the number of years.
    reference_name : str
        Reference file stem (tests may point elsewhere).

    Returns
    -------
    RiskParameters

    Raises
    ------
    InputError
        A reference figure or an override is out of range (all problems listed).
    """
    ref = reference.load_reference(reference_name)
    values: dict[str, Any] = {}
    prov: dict[str, str] = {}
    for name, key in _REFERENCE_KEYS.items():
        node: Any = ref
        for part in key.split("."):
            node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            raise InputError(f"{reference_name}.yaml: missing figure '{key}'", source=str(reference.reference_path(reference_name)))
        values[name] = node["value"]
        prov[name] = f"{reference_name}.yaml: {key} ({node['source']})"
    typed = None if scenario is None else as_scenario(scenario)
    if typed is not None:
        for section, mapping in (("risk", RISK_OVERRIDES), ("awareness", AWARENESS_OVERRIDES)):
            node = getattr(typed, section)
            for fname, pname in mapping.items():
                val = getattr(node, fname)
                if val is not None:
                    values[pname] = val
                    prov[pname] = f"scenario: {section}.{fname}"
    values["kind"] = str(values["kind"])
    values["n_years"] = typed.n_years if typed is not None else len(Envelope.model_fields["years"].default)
    params = RiskParameters(
        **{k: (float(v) if k not in ("kind", "n_years") and v is not None else v) for k, v in values.items()},
        provenance=prov,
    )
    _validate_parameters(params)
    return params


def _validate_parameters(p: RiskParameters) -> None:
    problems: list[Problem] = []

    def where(name: str) -> str:
        return p.provenance.get(name, name)

    if p.kind not in KINDS:
        problems.append(Problem(where("kind"), f"expected 'I' or 'II', found {p.kind!r}"))
    for name in ("beta", "alpha_share", "reference_size", "level", "ransomware_per_capacity_low",
                 "ransomware_per_capacity_high", "other_low", "other_high", "frequency_scale", "magnitude_scale"):
        val = getattr(p, name)
        if not (math.isfinite(val) and val > 0):
            problems.append(Problem(where(name), f"expected a number > 0, found {val!r}"))
    for name in ("rate_at_reference", "size_exponent", "magnitude_size_exponent", "other_size_exponent",
                 "medico_social_factor", "reference_cyber_share"):
        val = getattr(p, name)
        if not (math.isfinite(val) and val >= 0):
            problems.append(Problem(where(name), f"expected a number >= 0, found {val!r}"))
    for name in ("grant_additionality", "ransomware_share", "human_share", "awareness_effectiveness",
                 "awareness_coverage"):
        val = getattr(p, name)
        if not (0.0 <= val <= 1.0):
            problems.append(Problem(where(name), f"expected a fraction in [0, 1], found {val!r}"))
    if not (0.0 < p.vulnerability < 1.0):
        problems.append(Problem(where("vulnerability"), f"expected a probability in (0, 1), found {p.vulnerability!r}"))
    if not (0.0 < p.level < 1.0):
        problems.append(Problem(where("level"), f"expected a probability in (0, 1), found {p.level!r}"))
    if p.ransomware_per_capacity_low > p.ransomware_per_capacity_high:
        problems.append(Problem(where("ransomware_per_capacity_low"), "expected low <= high"))
    if p.other_low > p.other_high:
        problems.append(Problem(where("other_low"), "expected low <= high"))
    if p.alpha_per_eur is not None and not (math.isfinite(p.alpha_per_eur) and p.alpha_per_eur > 0):
        problems.append(Problem(where("alpha_per_eur"), f"expected a number > 0 (per euro), found {p.alpha_per_eur!r}"))
    if p.n_years < 1:
        problems.append(Problem("envelope.years", "expected at least one year"))
    _raise(problems, "risk parameters")


# --------------------------------------------------------------------------------------------------------------
# Per-establishment model
# --------------------------------------------------------------------------------------------------------------


def _col(table: pd.DataFrame, name: str, default: Any) -> np.ndarray:
    if name in table.columns:
        return table[name].to_numpy()
    return np.full(len(table), default)


def require_columns(table: pd.DataFrame, columns: tuple[str, ...], what: str) -> None:
    """Raise one :class:`InputError` naming every column of ``columns`` that ``table`` lacks (``what`` needs them)."""
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise InputError(
            f"{what}: the table lacks column(s) {', '.join(missing)} (expected the establishment table of DESIGN.md)",
            [Problem(f"column {c}", "expected, not found") for c in missing],
            source="<table>",
        )


def _alpha(it_budget: np.ndarray, p: RiskParameters) -> np.ndarray:
    """α per row: ``1 / (alpha_share x IT budget)`` (0 without IT budget), or the scenario's ``alpha_per_eur``."""
    it = np.asarray(it_budget, dtype=float)
    if p.alpha_per_eur is not None:
        return np.full(it.shape, p.alpha_per_eur)
    with np.errstate(divide="ignore"):
        return np.where(it > 0, 1.0 / (p.alpha_share * np.where(it > 0, it, 1.0)), 0.0)


def _reference_breach(it_budget: np.ndarray, alpha: np.ndarray, p: RiskParameters) -> np.ndarray:
    """``S(z_ref, v)`` per row, ``z_ref = reference_cyber_share x IT budget`` (the state the rate refers to).

    With the default ``α = 1 / (k x IT)`` it is the same for every row: ``α z_ref = reference share / k``.
    """
    z_ref = p.reference_cyber_share * np.asarray(it_budget, dtype=float)
    return np.asarray(breach_probability(z_ref, p.vulnerability, alpha, p.beta, p.kind), dtype=float)


def magnitude_models(size: Any, p: RiskParameters) -> tuple[LognormalMagnitude, LognormalMagnitude]:
    """Loss of one ransomware attack and of one other serious incident, per establishment of ``size``.

    Ransomware: the 90 % interval per bed or place times ``s_ref x (size / s_ref)^δ``; other incidents: the
    reference interval times ``(size / s_ref)^δ_other``; both times ``magnitude_scale``.
    """
    rel = np.maximum(np.asarray(size, dtype=float), 1.0) / p.reference_size
    ransom = LognormalMagnitude.from_interval(
        p.ransomware_per_capacity_low * p.reference_size, p.ransomware_per_capacity_high * p.reference_size, p.level
    ).scaled(rel ** p.magnitude_size_exponent * p.magnitude_scale)
    other = LognormalMagnitude.from_interval(p.other_low, p.other_high, p.level).scaled(
        rel ** p.other_size_exponent * p.magnitude_scale
    )
    return ransom, other


def _model(table: pd.DataFrame, spend: np.ndarray, p: RiskParameters) -> dict[str, np.ndarray]:
    """Threat rate, loss and GL parameters per row (``spend`` = the security investment the rates refer to)."""
    beds = np.asarray(_col(table, "beds", 0), dtype=float)
    places = np.asarray(_col(table, "places", 0), dtype=float)
    had = np.asarray(_col(table, "had_places", 0), dtype=float)
    size = np.maximum(beds + places + had, 1.0)
    medico = np.asarray(_col(table, "medico_social", False), dtype=bool)
    it = table["it_budget_eur"].to_numpy(dtype=float)
    alpha = _alpha(it, p)
    s_ref = _reference_breach(it, alpha, p)
    # threat events per year: the expected incident rate at the reference share, divided by S(z_ref)
    threat = (
        p.rate_at_reference * p.frequency_scale * (size / p.reference_size) ** p.size_exponent
        * np.where(medico, p.medico_social_factor, 1.0) / s_ref
    )
    ransom, other = magnitude_models(size, p)
    mean_loss = p.ransomware_share * np.asarray(ransom.mean()) + (1 - p.ransomware_share) * np.asarray(other.mean())
    breach = np.asarray(breach_probability(spend, p.vulnerability, alpha, p.beta, p.kind), dtype=float)
    return {
        "size": size, "alpha": alpha, "threat_rate": threat, "mean_loss_eur": mean_loss,
        "ransomware_loss_eur": np.asarray(ransom.mean(), dtype=float) * np.ones_like(size),
        "loss_eur": threat * mean_loss, "breach_probability": breach,
    }


def establishment_risk(table: pd.DataFrame, scenario: Scenario | Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Risk of each establishment at its current cyber spend (no grant, no awareness change).

    Parameters
    ----------
    table : DataFrame
        The establishment table (DESIGN.md): ``finess, beds, places, it_budget_eur, cyber_spend_eur`` at least;
        ``had_places`` and ``medico_social`` used when present.
    scenario : Scenario, mapping or None
        Overrides of the reference parameters (see :func:`risk_parameters`).

    Returns
    -------
    DataFrame
        One row per establishment in the table's order: ``finess, size, alpha, vulnerability, threat_rate,
        breach_probability, incidents, ransomware, ransomware_loss_eur, mean_loss_eur, loss_eur`` (the
        Gordon–Loeb ``L``: expected loss a year if every threat succeeded), ``expected_loss_eur``,
        ``investment_eur`` (current cyber spend), ``gl_optimum_eur`` (the Gordon–Loeb optimal investment
        ``z*``, euros a year) and ``marginal_value`` (expected loss avoided by one more euro of investment).
    """
    require_columns(table, ("finess", "beds", "places", "it_budget_eur", "cyber_spend_eur"), "establishment_risk")
    p = risk_parameters(scenario)
    spend = table["cyber_spend_eur"].to_numpy(dtype=float)
    m = _model(table, spend, p)
    incidents = m["threat_rate"] * m["breach_probability"]
    return pd.DataFrame({
        "finess": table["finess"].to_numpy(),
        "size": m["size"],
        "alpha": m["alpha"],
        "vulnerability": np.full(len(table), p.vulnerability),
        "threat_rate": m["threat_rate"],
        "breach_probability": m["breach_probability"],
        "incidents": incidents,
        "ransomware": incidents * p.ransomware_share,
        "ransomware_loss_eur": m["ransomware_loss_eur"],
        "mean_loss_eur": m["mean_loss_eur"],
        "loss_eur": m["loss_eur"],
        "expected_loss_eur": m["loss_eur"] * m["breach_probability"],
        "investment_eur": spend,
        "gl_optimum_eur": np.asarray(
            gordon_loeb_optimum(p.vulnerability, m["loss_eur"], m["alpha"], p.beta, p.kind), dtype=float),
        "marginal_value": m["loss_eur"] * np.asarray(
            breach_marginal(spend, p.vulnerability, m["alpha"], p.beta, p.kind), dtype=float),
    }, index=table.index)


def expected_incidents(table: pd.DataFrame, scenario: Scenario | Mapping[str, Any] | None = None) -> dict[str, float]:
    """Expected declared incidents and ransomware attacks a year over ``table`` at current spend.

    Returns
    -------
    dict
        ``{"incidents": ..., "ransomware": ..., "expected_loss_eur": ...}``; compare with the observatory's
        581–749 declared incidents and 32–47 ransomware attacks a year (``risk.yaml``, ``frequency.*``).
    """
    r = establishment_risk(table, scenario)
    return {
        "incidents": float(r["incidents"].sum()),
        "ransomware": float(r["ransomware"].sum()),
        "expected_loss_eur": float(r["expected_loss_eur"].sum()),
    }


# --------------------------------------------------------------------------------------------------------------
# Benefit of a grant (used by assess and by the optimal rule in optimize.py)
# --------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantBenefit:
    """Expected avoided loss as a function of each establishment's grant (the optimal rule's objective).

    For establishment *i* with grant ``g`` euros over the whole envelope, the annual investment becomes
    ``z_i + a g / n`` and the expected loss avoided over the ``n`` years is
    ``B_i(g) = n x L_i x (S(z_i) − S(z_i + a g / n))``, concave and increasing; its derivative (euros avoided per
    euro of grant) is ``B_i'(g) = a L_i (−∂S/∂z)(z_i + a g / n)``.

    Attributes
    ----------
    loss : ndarray
        ``L_i`` after the awareness factor (euros a year).
    investment : ndarray
        ``z_i`` before the grant (euros a year).
    alpha : ndarray
    vulnerability, beta, kind, additionality, n_years
    """

    loss: np.ndarray
    investment: np.ndarray
    alpha: np.ndarray
    vulnerability: float
    beta: float
    kind: str
    additionality: float
    n_years: int

    def _z(self, grant_eur: Any) -> np.ndarray:
        return self.investment + self.additionality * np.asarray(grant_eur, dtype=float) / self.n_years

    def avoided(self, grant_eur: Any) -> np.ndarray:
        """``B_i(g)``: expected loss avoided over the envelope years (euros)."""
        s0 = breach_probability(self.investment, self.vulnerability, self.alpha, self.beta, self.kind)
        s1 = breach_probability(self._z(grant_eur), self.vulnerability, self.alpha, self.beta, self.kind)
        return self.n_years * self.loss * (np.asarray(s0) - np.asarray(s1))

    def marginal(self, grant_eur: Any) -> np.ndarray:
        """``B_i'(g)``: expected loss avoided per additional euro of grant."""
        return self.additionality * self.loss * np.asarray(
            breach_marginal(self._z(grant_eur), self.vulnerability, self.alpha, self.beta, self.kind), dtype=float)

    def grant_at_marginal(self, mu: float) -> np.ndarray:
        """Unclipped-above grant ``g ≥ 0`` (euros) at which ``B_i'(g) = mu`` (0 where even the first euro is worth
        less); closed-form inverse of the class I / II marginal."""
        if self.additionality <= 0:
            return np.zeros_like(self.loss)
        z = np.asarray(investment_at_marginal(mu / self.additionality, self.vulnerability, self.loss, self.alpha,
                                              self.beta, self.kind), dtype=float)
        return np.maximum(z - self.investment, 0.0) * self.n_years / self.additionality


def grant_benefit(table: pd.DataFrame, scenario: Scenario | Mapping[str, Any] | None = None, spend_column: str = "cyber_spend_eur") -> GrantBenefit:
    """The :class:`GrantBenefit` of each row of ``table`` under ``scenario`` (awareness lever applied).

    ``spend_column`` is the annual security spend before the grant (after uptake when the table comes from
    eligibility or allocation).
    """
    require_columns(table, ("beds", "places", "it_budget_eur", spend_column), "grant_benefit")
    p = risk_parameters(scenario)
    spend = table[spend_column].to_numpy(dtype=float)
    m = _model(table, spend, p)
    return GrantBenefit(
        loss=m["loss_eur"] * p.awareness_factor, investment=spend, alpha=m["alpha"], vulnerability=p.vulnerability,
        beta=p.beta, kind=p.kind, additionality=p.grant_additionality, n_years=p.n_years,
    )


# --------------------------------------------------------------------------------------------------------------
# Assessment of an allocation
# --------------------------------------------------------------------------------------------------------------


@dataclass
class RiskResult:
    """Expected losses before and after an allocation.

    Attributes
    ----------
    table : DataFrame
        Per establishment (sorted by finess): identity columns, ``eligible``, ``grant_cents``, ``size``,
        ``vulnerability``, ``alpha``, ``loss_eur`` (Gordon–Loeb ``L``), ``investment_before_eur``,
        ``investment_after_eur``, ``incidents_before``, ``incidents_after``, ``ransomware_before``,
        ``ransomware_after``, ``expected_loss_before_eur``, ``expected_loss_after_eur``, ``avoided_eur``,
        ``avoided_awareness_eur``, ``avoided_uptake_eur``, ``avoided_grant_eur`` (all annual),
        ``avoided_per_euro`` (grant part / annual grant; NaN without a grant), ``marginal_value`` (avoided loss
        per extra euro of grant) and ``gl_optimum_eur``.
    summary : dict
        JSON-able: totals, ``parameters``, and ``by_region``, ``by_status``, ``by_category`` (each group:
        ``n``, ``n_eligible``, ``n_granted``, ``grant_eur_per_year``, ``expected_loss_before_eur``,
        ``expected_loss_after_eur``, ``avoided_eur``, ``avoided_grant_eur``, ``avoided_per_euro``,
        ``incidents_before``, ``incidents_after``).
    parameters : RiskParameters
    """

    table: pd.DataFrame
    summary: dict[str, Any]
    parameters: RiskParameters


_SUM_COLUMNS = (
    "expected_loss_before_eur", "expected_loss_after_eur", "avoided_eur", "avoided_awareness_eur",
    "avoided_uptake_eur", "avoided_grant_eur", "incidents_before", "incidents_after", "ransomware_before",
    "ransomware_after",
)


def group_summary(df: pd.DataFrame) -> dict[str, Any]:
    """Totals of a group of rows of :attr:`RiskResult.table` (counts, grants, losses before and after, avoided)."""
    grant_year = float(df["grant_eur_per_year"].sum())
    out: dict[str, Any] = {
        "n": int(len(df)),
        "n_eligible": int(df["eligible"].sum()),
        "n_granted": int((df["grant_cents"] > 0).sum()),
        "grant_eur_per_year": grant_year,
    }
    for c in _SUM_COLUMNS:
        out[c] = float(df[c].sum())
    out["avoided_per_euro"] = float(out["avoided_grant_eur"] / grant_year) if grant_year > 0 else None
    return out


def _breakdown(df: pd.DataFrame, column: str) -> dict[str, Any]:
    if column not in df.columns:
        return {}
    return {str(k): group_summary(g) for k, g in df.groupby(column, sort=True, observed=True)}


def assess(allocation_result: Any, scenario: Scenario | Mapping[str, Any] | None = None) -> RiskResult:
    """Expected annual losses before and after an allocation, and what each euro of grant avoids.

    Parameters
    ----------
    allocation_result : AllocationResult or DataFrame
        ``allocation.allocate(...)`` result (its ``.table``: ``finess, eligible, grant_cents, beds, places,
        it_budget_eur, cyber_spend_eur`` (after uptake) and, when present, ``cyber_spend_before_eur``,
        ``had_places``, ``medico_social`` (else taken from ``allocation_result.eligibility.table``), ``region``,
        ``status``, ``category``), or such a table.
    scenario : Scenario, mapping or None
        Default: ``allocation_result.scenario``.

    Returns
    -------
    RiskResult

    Notes
    -----
    Before: pre-policy spend ``z0 = cyber_spend_before_eur`` (``cyber_spend_eur`` when absent), today's awareness. After: ``z1 = cyber_spend``
    (after uptake) ``+ a x grant / n_years`` and the awareness factor ``A``. With ``L`` the Gordon–Loeb loss:
    ``avoided = L S(z0) − A L S(z1)`` = awareness ``(1 − A) L S(z0)`` + uptake ``A L (S(z0) − S(zu))`` + grant
    ``A L (S(zu) − S(z1))``.
    """
    table = allocation_result.table if hasattr(allocation_result, "table") else allocation_result
    if scenario is None:
        scenario = getattr(allocation_result, "scenario", None)
    require_columns(table, ("finess", "eligible", "grant_cents", "beds", "places", "it_budget_eur", "cyber_spend_eur"),
              "assess")
    p = risk_parameters(scenario)
    table = table.sort_values("finess", kind="stable").reset_index(drop=True)
    source = getattr(getattr(allocation_result, "eligibility", None), "table", None)
    missing = [c for c in ("had_places", "medico_social") if c not in table.columns]
    if missing and isinstance(source, pd.DataFrame) and set(missing) <= set(source.columns):
        extra = source.set_index("finess")[missing]
        table = table.join(extra, on="finess")
    spend_after_uptake = table["cyber_spend_eur"].to_numpy(dtype=float)
    if "cyber_spend_before_eur" in table.columns:
        spend_before = table["cyber_spend_before_eur"].to_numpy(dtype=float)
    else:
        spend_before = spend_after_uptake
    grant_cents = table["grant_cents"].to_numpy(dtype=np.int64)
    grant_year = grant_cents.astype(float) / 100.0 / p.n_years
    m = _model(table, spend_before, p)
    a_fac = p.awareness_factor
    z_after = spend_after_uptake + p.grant_additionality * grant_year
    gl = (p.vulnerability, m["alpha"], p.beta, p.kind)
    s0 = m["breach_probability"]
    su = np.asarray(breach_probability(spend_after_uptake, *gl), dtype=float)
    s1 = np.asarray(breach_probability(z_after, *gl), dtype=float)
    loss = m["loss_eur"]
    out = pd.DataFrame({"finess": table["finess"].to_numpy()})
    for c in ("name", "region", "department", "status", "category", "ght", "ose"):
        if c in table.columns:
            out[c] = table[c].to_numpy()
    out["eligible"] = table["eligible"].to_numpy(dtype=bool)
    out["grant_cents"] = grant_cents
    out["grant_eur_per_year"] = grant_year
    out["size"] = m["size"]
    out["vulnerability"] = p.vulnerability
    out["alpha"] = m["alpha"]
    out["loss_eur"] = loss
    out["investment_before_eur"] = spend_before
    out["investment_after_eur"] = z_after
    out["incidents_before"] = m["threat_rate"] * s0
    out["incidents_after"] = m["threat_rate"] * a_fac * s1
    out["ransomware_before"] = out["incidents_before"] * p.ransomware_share
    out["ransomware_after"] = out["incidents_after"] * p.ransomware_share
    out["expected_loss_before_eur"] = loss * s0
    out["expected_loss_after_eur"] = a_fac * loss * s1
    out["avoided_awareness_eur"] = (1.0 - a_fac) * loss * s0
    out["avoided_uptake_eur"] = a_fac * loss * (s0 - su)
    out["avoided_grant_eur"] = a_fac * loss * (su - s1)
    out["avoided_eur"] = out["expected_loss_before_eur"] - out["expected_loss_after_eur"]
    with np.errstate(divide="ignore", invalid="ignore"):
        out["avoided_per_euro"] = np.where(grant_year > 0, out["avoided_grant_eur"] / grant_year, np.nan)
    out["marginal_value"] = p.grant_additionality * a_fac * loss * np.asarray(breach_marginal(z_after, *gl), dtype=float)
    out["gl_optimum_eur"] = np.asarray(gordon_loeb_optimum(p.vulnerability, a_fac * loss, m["alpha"], p.beta, p.kind),
                                       dtype=float)

    total = group_summary(out)
    elig_marg = out.loc[out["eligible"], "marginal_value"]
    summary: dict[str, Any] = {
        "n_establishments": total.pop("n"),
        **total,
        "n_years": p.n_years,
        "grant_eur": float(grant_cents.sum()) / 100.0,
        "avoided_grant_eur_over_years": float(out["avoided_grant_eur"].sum()) * p.n_years,
        "marginal_value_max_eligible": float(elig_marg.max()) if len(elig_marg) else None,
        "marginal_value_median_eligible": float(elig_marg.median()) if len(elig_marg) else None,
        "awareness_factor": a_fac,
        "parameters": p.to_dict(),
        "by_region": _breakdown(out, "region"),
        "by_status": _breakdown(out, "status"),
        "by_category": _breakdown(out, "category"),
    }
    return RiskResult(table=out, summary=summary, parameters=p)


def provenance_frame() -> pd.DataFrame:
    """Every figure of ``data/reference/risk.yaml`` with its unit, source and year (assumptions flagged)."""
    prov = reference.provenance()
    return prov[prov["file"] == "risk.yaml"].reset_index(drop=True)


__all__ = [
    "KINDS", "GrantBenefit", "LognormalMagnitude", "PoissonFrequency", "RiskParameters", "RiskResult",
    "annual_loss_draws", "assess", "breach_marginal", "breach_probability", "establishment_risk",
    "expected_incidents", "gordon_loeb_breach", "gordon_loeb_optimum", "grant_benefit", "group_summary", "provenance_frame", "investment_at_marginal", "magnitude_models",
    "risk_parameters",
]
