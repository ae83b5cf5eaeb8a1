"""What drives the results: one-at-a-time tornado and Sobol indices over the uncertain factors.

The factors are those of :func:`cyberbudget.uncertainty.montecarlo.uncertain_parameters` (``uncertainty:`` scenario keys,
defaults in ``data/reference/uncertainty.yaml``). The model evaluated is the Monte Carlo model of a draw
(:func:`cyberbudget.uncertainty.montecarlo.evaluate`: eligibility, uptake, the rule on arrays, expected risk) with
the common factors set by the analysis and **no idiosyncratic noise** (every establishment at its imputed
value times the factor), so each output is a deterministic function of the factors. Outputs are expectations
(``expected_loss_eur``, ``avoided_loss_eur``: annual; ``induced_spend_eur``: over the envelope's years),
never a random draw of incidents. With ``uptake.model: logistic`` an establishment complies when its
probability of complying is at least 1/2.

- :func:`tornado`: each factor at its ``low`` and ``high`` bound, the others at their central value 1.
- :func:`sobol`: first-order (``S1``) and total (``ST``) indices by Saltelli's scheme with SALib
  (``SALib.sample.sobol.sample`` then ``SALib.analyze.sobol.analyze``), sampling seeded from the scenario's
  seed (or ``seed``). Factors are sampled on the unit cube and mapped to their range (uniform, or uniform in
  log for ``loguniform``). :func:`sobol_indices` is the generic wiring (tested on the Ishigami function).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cyberbudget.errors import OptionError, Problem
from cyberbudget.policy.scenario import Scenario, as_scenario
from cyberbudget.uncertainty.montecarlo import ModelInputs, evaluate, prepare_inputs

#: Outputs analysed by default (per-draw outputs of the Monte Carlo model; money in euros).
SENSITIVITY_OUTPUTS: tuple[str, ...] = (
    "eligible", "allocated_eur", "unallocated_eur", "induced_spend_eur", "avoided_loss_eur", "expected_loss_eur",
)
#: Rows evaluated at once (bounds memory: rows x establishments float64 arrays).
EVAL_BATCH: int = 256


def model_outputs(inp: ModelInputs, theta: np.ndarray) -> pd.DataFrame:
    """The analysed outputs for each row of factors ``theta`` (columns in ``inp.parameters`` order).

    Parameters
    ----------
    inp : ModelInputs
        From :func:`cyberbudget.uncertainty.montecarlo.prepare_inputs`.
    theta : ndarray (N, k)

    Returns
    -------
    DataFrame
        One row per row of ``theta``, columns :data:`SENSITIVITY_OUTPUTS`.
    """
    theta = np.atleast_2d(np.asarray(theta, dtype=float))
    parts = []
    for s in range(0, theta.shape[0], EVAL_BATCH):
        out = evaluate(inp, theta[s:s + EVAL_BATCH]).per_draw
        parts.append(pd.DataFrame({
            "eligible": out["eligible"],
            "allocated_eur": out["allocated_cents"] / 100.0,
            "unallocated_eur": out["unallocated_cents"] / 100.0,
            "induced_spend_eur": out["induced_spend_eur"],
            "avoided_loss_eur": out["avoided_loss_eur"],
            "expected_loss_eur": out["expected_loss_eur"],
        }))
    return pd.concat(parts, ignore_index=True)


def _check_outputs(outputs: Sequence[str] | None) -> list[str]:
    outs = list(outputs) if outputs is not None else list(SENSITIVITY_OUTPUTS)
    bad = [o for o in outs if o not in SENSITIVITY_OUTPUTS]
    if bad:
        raise OptionError(
            f"outputs: {len(bad)} unknown output(s)",
            [Problem("outputs", f"expected among {', '.join(SENSITIVITY_OUTPUTS)}, found {b!r}") for b in bad],
        )
    return outs


def tornado(table: pd.DataFrame, scenario: Scenario, outputs: Sequence[str] | None = None) -> pd.DataFrame:
    """One-at-a-time sensitivity: each factor at its low and high bound, the others at 1.

    Parameters
    ----------
    table : DataFrame
        The establishment table.
    scenario : Scenario
    outputs : sequence of str, optional
        Among :data:`SENSITIVITY_OUTPUTS` (default: all).

    Returns
    -------
    DataFrame
        One row per (output, factor): ``output, parameter, low, high, base_value, low_value, high_value,
        swing`` (``|high_value - low_value|``), sorted by output then decreasing swing (the order of the bars).

    Examples
    --------
    >>> tornado(table, scenario, outputs=["avoided_loss_eur"])   # doctest: +SKIP
    """
    outs = _check_outputs(outputs)
    inp = prepare_inputs(table, scenario)
    params = inp.parameters
    k = len(params)
    theta = np.ones((1 + 2 * k, k))
    for j, p in enumerate(params):
        theta[1 + 2 * j, j] = p.low
        theta[2 + 2 * j, j] = p.high
    res = model_outputs(inp, theta)
    rows = []
    for out in outs:
        y = res[out].to_numpy(dtype=float)
        for j, p in enumerate(params):
            lo, hi = y[1 + 2 * j], y[2 + 2 * j]
            rows.append({"output": out, "parameter": p.name, "low": p.low, "high": p.high, "base_value": y[0],
                         "low_value": lo, "high_value": hi, "swing": abs(hi - lo)})
    df = pd.DataFrame(rows, columns=["output", "parameter", "low", "high", "base_value", "low_value",
                                     "high_value", "swing"])
    order = {o: i for i, o in enumerate(outs)}
    df = df.assign(_o=df["output"].map(order)).sort_values(["_o", "swing"], ascending=[True, False], kind="stable")
    return df.drop(columns="_o").reset_index(drop=True)


@dataclass
class SobolResult:
    """Sobol indices.

    Attributes
    ----------
    indices : DataFrame
        ``output, parameter, S1, S1_conf, ST, ST_conf`` (95 % bootstrap half-widths from SALib).
    samples : int
        Model evaluations, ``n x (k + 2)``.
    seed : int
    """

    indices: pd.DataFrame
    samples: int
    seed: int


def sobol_indices(
    func: Callable[[np.ndarray], pd.DataFrame | np.ndarray],
    names: Sequence[str],
    bounds: Sequence[tuple[float, float]],
    n: int = 1024,
    seed: int = 0,
    num_resamples: int = 100,
) -> pd.DataFrame:
    """First-order and total Sobol indices of ``func`` by Saltelli sampling (SALib), seeded.

    Parameters
    ----------
    func : callable
        ``func(X)`` with ``X`` of shape (N, k) returns an array (N,) or a DataFrame of outputs (N rows).
    names : sequence of str
        Factor names (k).
    bounds : sequence of (low, high)
        Uniform range of each factor.
    n : int
        Base sample size (a power of 2; SALib evaluates ``n x (k + 2)`` points).
    seed : int
        Seeds both the scrambled Sobol sequence and SALib's bootstrap.
    num_resamples : int
        Bootstrap resamples for the confidence intervals.

    Returns
    -------
    DataFrame
        ``output, parameter, S1, S1_conf, ST, ST_conf``.

    Examples
    --------
    >>> import numpy as np
    >>> f = lambda x: x[:, 0] + 0.0 * x[:, 1]
    >>> df = sobol_indices(f, ["a", "b"], [(0, 1), (0, 1)], n=256, seed=1)
    >>> round(float(df.loc[0, "S1"]), 2), round(float(df.loc[1, "ST"]), 2)
    (1.0, 0.0)
    """
    from SALib.analyze import sobol as sobol_analyze
    from SALib.sample import sobol as sobol_sample

    problems = []
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2 or (n & (n - 1)):
        problems.append(Problem("n", f"expected a power of 2 >= 2 (Sobol sequence), found {n!r}"))
    if len(names) != len(bounds) or not names:
        problems.append(Problem("names, bounds", f"expected as many bounds as names (>= 1), found "
                                                 f"{len(names)} names and {len(bounds)} bounds"))
    if problems:
        raise OptionError("sobol: invalid option(s)", problems)
    problem = {"num_vars": len(names), "names": list(names), "bounds": [list(map(float, b)) for b in bounds]}
    x = sobol_sample.sample(problem, int(n), calc_second_order=False, seed=int(seed))
    y = func(x)
    frame = y if isinstance(y, pd.DataFrame) else pd.DataFrame({"y": np.asarray(y, dtype=float)})
    rows = []
    for out in frame.columns:
        values = frame[out].to_numpy(dtype=float)
        if np.ptp(values) == 0:  # a constant output: no variance to share out
            s1 = st = np.zeros(len(names))
            s1c = stc = np.zeros(len(names))
        else:
            r = sobol_analyze.analyze(problem, values, calc_second_order=False, num_resamples=num_resamples,
                                      print_to_console=False, seed=int(seed))
            s1, s1c, st, stc = r["S1"], r["S1_conf"], r["ST"], r["ST_conf"]
        for j, name in enumerate(names):
            rows.append({"output": out, "parameter": name, "S1": float(s1[j]), "S1_conf": float(s1c[j]),
                         "ST": float(st[j]), "ST_conf": float(stc[j])})
    return pd.DataFrame(rows, columns=["output", "parameter", "S1", "S1_conf", "ST", "ST_conf"])


def sobol(
    table: pd.DataFrame,
    scenario: Scenario,
    n: int = 512,
    outputs: Sequence[str] | None = None,
    seed: int | None = None,
) -> SobolResult:
    """Sobol first-order and total indices of the main outputs over the uncertain factors.

    Parameters
    ----------
    table : DataFrame
    scenario : Scenario
    n : int
        Base sample (power of 2); ``n x (k + 2)`` evaluations of the model.
    outputs : sequence of str, optional
        Among :data:`SENSITIVITY_OUTPUTS` (default: all).
    seed : int, optional
        Default: the scenario's seed.

    Returns
    -------
    SobolResult
    """
    outs = _check_outputs(outputs)
    scenario = as_scenario(scenario)
    inp = prepare_inputs(table, scenario)
    params = inp.parameters
    seed = int(scenario.seed if seed is None else seed)

    def func(u: np.ndarray) -> pd.DataFrame:
        theta = np.column_stack([p.from_unit(u[:, j]) for j, p in enumerate(params)])
        return model_outputs(inp, theta)[outs]

    idx = sobol_indices(func, [p.name for p in params], [(0.0, 1.0)] * len(params), n=n, seed=seed)
    return SobolResult(idx, int(n) * (len(params) + 2), seed)


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    """The Ishigami test function ``sin x1 + a sin² x2 + b x3⁴ sin x1`` (on ``[-pi, pi]^3``).

    Its indices are known: with ``a = 7``, ``b = 0.1``: S1 = (0.314, 0.442, 0), ST = (0.558, 0.442, 0.244).
    """
    x = np.asarray(x, dtype=float)
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


__all__ = ["SENSITIVITY_OUTPUTS", "SobolResult", "ishigami", "model_outputs", "sobol", "sobol_indices", "tornado"]
