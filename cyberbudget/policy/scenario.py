"""Typed scenarios: the pydantic model of a scenario file, YAML loading, ``extends:`` layering.

A scenario is a YAML file (DESIGN.md, "Scenario files"). Only ``name`` and ``envelope.total_eur`` are required;
every other key has the default written in DESIGN.md. A scenario may ``extends:`` another one: the base is read
(recursively), a *copy* of it is deep-merged with this file (mappings merged key by key, lists and scalars
replaced, an explicit ``null`` replaces the base value) and the result is validated as a whole.

Validation is strict and reports every problem at once in one :class:`~cyberbudget.errors.ScenarioError`,
each as ``file: key.path: expected ..., found ...``:

- unknown keys, with the nearest valid name (``eligibilty: did you mean eligibility?``);
- wrong types (a string where a number is expected, ``true`` where a number is expected, ...);
- shares outside [0, 1] (a ``5`` gets "write 5 % as 0.05");
- ``min_share > max_share``; a floor above the cap or above the envelope;
- euro amounts negative or with more than 2 decimals (checked in :class:`decimal.Decimal` on the YAML text);
- ``envelope.schedule`` keys different from ``envelope.years`` or shares not summing to exactly 1 (Decimal);
- names not matching ``[a-z0-9_-]+`` (they become output folder names).

Sections beyond DESIGN.md (documented additions):

- ``ose:`` — ``obligation: none | min_share``. Under ``min_share`` the operators of essential services
  (column ``ose``) are bound by their ANSSI designation to reach ``eligibility.min_share``: those below it
  raise their cyber spend to the threshold whatever the uptake model (the spend is counted as induced) and
  are therefore eligible; an OSE that cannot comply (no IT budget) loses eligibility. Priority for OSE is
  expressed with ``allocation.rule: tiered`` and ``ose`` first in ``tiers``.
- ``uptake:`` additional keys ``damping``, ``tolerance``, ``max_iterations`` (fixed point, see
  :mod:`cyberbudget.policy.eligibility`).
- ``risk:``, ``awareness:``, ``uncertainty:`` — parameters of the risk and Monte Carlo modules, defined by the
  three classes :class:`Risk`, :class:`Awareness`, :class:`Uncertainty` below.

Examples
--------
>>> s = load_scenario({"name": "demo", "envelope": {"total_eur": 1000.5}})
>>> envelope_cents(s), s.eligibility.min_share, s.seed
(100050, 0.05, 20210218)
>>> load_scenario({"name": "demo", "envelope": {"total_eur": 1}, "eligibilty": {}})
Traceback (most recent call last):
...
cyberbudget.errors.ScenarioError: <dict>: 1 problem(s) in the scenario
  - <dict>: eligibilty: unknown key; did you mean eligibility?
"""

from __future__ import annotations

import copy
import difflib
import math
import re
import stat
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any, Literal, get_args, get_origin

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    StrictBool,
    StrictStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from cyberbudget import config, money
from cyberbudget.errors import Problem, ScenarioError
from cyberbudget.policy import registry

__all__ = [
    "Allocation",
    "Audits",
    "Awareness",
    "Eligibility",
    "Envelope",
    "Forfait",
    "Ose",
    "Risk",
    "Scenario",
    "Uncertainty",
    "Uptake",
    "as_scenario",
    "deep_merge",
    "envelope_cents",
    "euros_to_cents",
    "load_scenario",
    "resolve_extends",
    "resolve_scenario",
    "schedule_shares",
]

NAME_PATTERN = re.compile(r"[a-z0-9_-]+")


# --------------------------------------------------------------------------------------------------------------
# YAML: keep the text of floats (for the 2-decimal check) and reject duplicate keys
# --------------------------------------------------------------------------------------------------------------


class YamlFloat(float):
    """A float read from YAML that remembers its text (``0.10`` stays ``"0.10"``)."""

    text: str

    def __new__(cls, value: float, text: str) -> YamlFloat:  # noqa: D102
        obj = super().__new__(cls, value)
        obj.text = text
        return obj

    def __reduce__(self) -> tuple:  # copy / pickle keep the text
        return (YamlFloat, (float(self), self.text))

    def __deepcopy__(self, memo: dict) -> YamlFloat:
        return self


class _Loader(yaml.SafeLoader):
    """SafeLoader keeping float text and refusing duplicate keys."""

    duplicates: list[str]


def _construct_float(loader: _Loader, node: yaml.ScalarNode) -> float:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    return YamlFloat(value, str(node.value))


def _construct_mapping(loader: _Loader, node: yaml.MappingNode, deep: bool = False) -> dict:
    seen: set = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        try:
            hashable = key in seen
        except TypeError:
            continue
        if hashable:
            loader.duplicates.append(f"line {key_node.start_mark.line + 1}: duplicate key {_clip(repr(key))}")
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


#: Deepest nesting of mappings and lists in a scenario file (a scenario nests 3 levels).
MAX_YAML_DEPTH: int = 32
#: Longest chain of ``extends:`` (a scenario extending one extending one ...).
MAX_EXTENDS_DEPTH: int = 16
#: Longest piece of a file (a key, a value, a parser message) quoted in an error message, in characters.
MAX_QUOTED: int = 120


def _clip(text: str, limit: int = MAX_QUOTED) -> str:
    """``text`` cut to ``limit`` characters with the count of the rest, so that no message grows with the input.

    Examples
    --------
    >>> _clip("x" * 500, 10)
    'xxxxxxxxxx... (490 more characters)'
    """
    text = str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}... ({len(text) - limit:,} more characters)"


def _yaml_problem(exc: BaseException) -> str:
    """A parser error as ``line L, column C: problem``, without the parser's quote of the file (it could be any
    file reached by ``extends:``) and of bounded length."""
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = exc.problem or exc.context or type(exc).__name__
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark is not None else ""
        return f"{where}{_clip(what)}"
    return _clip(str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__)


class _TooLarge(Exception):
    """The YAML node graph expands beyond the limits (raised inside :func:`_expanded_size`)."""


def _expanded_size(root: yaml.Node, limit: int) -> int:
    """Number of nodes of the document once its aliases are expanded, computed on the composed graph (where an
    alias is a second reference to the same node) in time linear in the file: each distinct node is sized once.

    Raises
    ------
    _TooLarge
        The count exceeds ``limit``, the nesting exceeds :data:`MAX_YAML_DEPTH`, or an alias refers to a node
        that contains it (a recursive structure, infinite once expanded).
    """
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: yaml.Node, depth: int) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise _TooLarge("has an alias (*name) referring to a mapping or list that contains it (a recursive "
                            "structure, infinite once expanded)")
        if depth > MAX_YAML_DEPTH:
            raise _TooLarge(f"nests mappings and lists more than {MAX_YAML_DEPTH} levels deep")
        total = 1
        if isinstance(node, yaml.SequenceNode | yaml.MappingNode):
            active.add(key)
            children = node.value if isinstance(node, yaml.SequenceNode) else [c for kv in node.value for c in kv]
            for child in children:
                total += size(child, depth + 1)
                if total > limit:
                    raise _TooLarge(f"expands to more than {limit:,} nodes (keys, values, list items) once its "
                                    f"aliases (*name) are expanded; {config.MAX_SCENARIO_NODES.hint()}")
            active.discard(key)
        sizes[key] = total
        return total

    return size(root, 0)


def _read_yaml(path: Path) -> Any:
    """Read one scenario file with bounded work: its size is checked before it is read, its YAML is composed
    (aliases stay references) and sized before anything is built from it, and no error quotes more than a few
    words of it."""
    where = str(path)
    limit = config.MAX_SCENARIO_BYTES.value()
    try:
        info = path.stat()
    except FileNotFoundError:
        raise ScenarioError(f"{where}: scenario file not found", source=where) from None
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read the scenario ({exc.strerror})", source=where) from None
    if not stat.S_ISREG(info.st_mode):
        raise ScenarioError(f"{where}: expected a scenario file, found a folder or a special file", source=where)
    if info.st_size > limit:
        raise ScenarioError(
            f"{where}: the scenario file has {info.st_size:,} bytes; {config.MAX_SCENARIO_BYTES.hint()}",
            source=where)
    try:
        with path.open("rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise ScenarioError(f"{where}: cannot read the scenario ({exc.strerror})", source=where) from None
    if len(raw) > limit:  # the file grew after stat
        raise ScenarioError(f"{where}: the scenario file has more than {limit:,} bytes; "
                            f"{config.MAX_SCENARIO_BYTES.hint()}", source=where)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ScenarioError(f"{where}: cannot read the scenario as UTF-8 text (line {line}: byte "
                            f"0x{raw[exc.start]:02x} is not UTF-8)", source=where) from None
    loader = _Loader(text)
    loader.duplicates = []
    try:
        node = loader.get_single_node()
        if node is not None:
            _expanded_size(node, config.MAX_SCENARIO_NODES.value())
        data = loader.construct_document(node) if node is not None else None
    except _TooLarge as exc:
        raise ScenarioError(f"{where}: the YAML {exc}", source=where) from None
    except yaml.YAMLError as exc:
        raise ScenarioError(f"{where}: not valid YAML ({_yaml_problem(exc)})", source=where) from None
    except RecursionError:
        raise ScenarioError(f"{where}: not valid YAML (nested too deeply)", source=where) from None
    except (ValueError, OverflowError, TypeError) as exc:  # e.g. an integer of more than 4,300 digits
        raise ScenarioError(f"{where}: not valid YAML ({_yaml_problem(exc)})", source=where) from None
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ScenarioError(
            f"{where}: duplicate keys", [Problem(where, d) for d in loader.duplicates[:20]], source=where
        )
    return data


# --------------------------------------------------------------------------------------------------------------
# Value checks used by the models
# --------------------------------------------------------------------------------------------------------------


def _decimal_of(x: Any) -> Decimal:
    """Exact decimal of a scenario number: the YAML text if known, else ``Decimal(str(x))``."""
    if isinstance(x, YamlFloat):
        try:
            return Decimal(x.text.replace("_", ""))
        except InvalidOperation:
            pass
    if isinstance(x, Decimal):
        return x
    return Decimal(str(x))


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float | Decimal) and not isinstance(x, bool)


def _plain(x: Any) -> int | float:
    """A plain int or float (drop the YamlFloat / Decimal wrapper)."""
    if isinstance(x, int):
        return int(x)
    return float(x)


def _check_share(x: Any) -> float:
    if not _is_number(x):
        raise ValueError(f"expected a fraction in [0, 1] (e.g. 0.05 for 5 %), found {x!r}")
    value = float(x)
    if not math.isfinite(value) or value < 0 or value > 1:
        hint = f" (write {_plain(x):g} % as {float(x) / 100:g})" if 1 < value <= 100 else ""
        raise ValueError(f"expected a fraction in [0, 1]{hint}, found {_plain(x)!r}")
    return value


def _check_euros(x: Any) -> int | float:
    if not _is_number(x):
        raise ValueError(f"expected an amount in euros (a number >= 0 with at most 2 decimals), found {x!r}")
    if isinstance(x, float) and not math.isfinite(x):
        raise ValueError(f"expected a finite amount in euros, found {x!r}")
    dec = _decimal_of(x)
    if dec < 0:
        raise ValueError(f"expected an amount in euros >= 0, found {_plain(x)!r}")
    if dec * 100 != (dec * 100).to_integral_value():
        raise ValueError(f"expected at most 2 decimals (whole cents), found {dec}")
    if dec == dec.to_integral_value():
        return int(dec)
    return float(x)


def _check_positive(x: Any) -> float:
    if not _is_number(x) or not math.isfinite(float(x)) or float(x) <= 0:
        raise ValueError(f"expected a number > 0, found {x!r}")
    return float(x)


def _check_nonneg(x: Any) -> float:
    if not _is_number(x) or not math.isfinite(float(x)) or float(x) < 0:
        raise ValueError(f"expected a number >= 0, found {x!r}")
    return float(x)


def _check_int(x: Any) -> int:
    if isinstance(x, bool) or not isinstance(x, int):
        if isinstance(x, float) and x.is_integer() and not isinstance(x, bool):
            return int(x)
        raise ValueError(f"expected an integer, found {x!r}")
    return int(x)


def _tuple_of_str(x: Any) -> Any:
    if isinstance(x, list | tuple):
        return tuple(x)
    raise ValueError(f"expected a list, found {x!r}")


Share = Annotated[float, BeforeValidator(_check_share)]
Euros = Annotated[int | float, BeforeValidator(_check_euros)]
PositiveFloat = Annotated[float, BeforeValidator(_check_positive)]
NonNegFloat = Annotated[float, BeforeValidator(_check_nonneg)]
Int = Annotated[int, BeforeValidator(_check_int)]
NonNegInt = Annotated[int, BeforeValidator(_check_int), Field(ge=0)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------------------------------------------
# Sections of DESIGN.md
# --------------------------------------------------------------------------------------------------------------


class Envelope(_Section):
    """``envelope:`` — the 350 M€ and its years."""

    total_eur: Euros = Field(description="whole envelope over all years, EUR, at most 2 decimals")
    years: tuple[Int, ...] = Field(default=(2021, 2022, 2023, 2024, 2025), description="years of the envelope")
    schedule: dict[int, Share] | None = Field(
        default=None, description="{year: share} summing to 1; null = equal shares"
    )

    @field_validator("years", mode="before")
    @classmethod
    def _years_list(cls, v: Any) -> Any:
        if not isinstance(v, list | tuple):
            raise ValueError(f"expected a list of years, found {v!r}")
        return tuple(v)

    @field_validator("years")
    @classmethod
    def _years_ok(cls, v: tuple[int, ...]) -> tuple[int, ...]:
        if not v:
            raise ValueError("expected at least one year, found an empty list")
        if len(set(v)) != len(v):
            raise ValueError(f"expected distinct years, found {list(v)}")
        if list(v) != sorted(v):
            raise ValueError(f"expected years in increasing order, found {list(v)}")
        return v

    @field_validator("schedule", mode="before")
    @classmethod
    def _schedule_keys(cls, v: Any) -> Any:
        if v is None:
            return None
        if not isinstance(v, Mapping):
            raise ValueError(f"expected a mapping {{year: share}} or null, found {v!r}")
        out = {}
        for key, share in v.items():
            if isinstance(key, str) and key.strip().isdigit():
                key = int(key)
            if isinstance(key, bool) or not isinstance(key, int):
                raise ValueError(f"expected integer years as keys, found {key!r}")
            out[key] = share
        return out

    @field_validator("schedule")
    @classmethod
    def _schedule_matches(cls, v: dict[int, float] | None, info: ValidationInfo) -> dict[int, float] | None:
        if v is None:
            return None
        problems = []
        years = info.data.get("years")
        if years is not None and sorted(v) != sorted(years):
            problems.append(f"expected schedule years equal to envelope.years {list(years)}, found {sorted(v)}")
        total = sum((_decimal_of(s) for s in v.values()), Decimal(0))
        if total != 1:
            problems.append(f"expected shares summing to exactly 1, found a sum of {total}")
        if problems:
            raise ValueError("; ".join(problems))
        return v


class Eligibility(_Section):
    """``eligibility:`` — the 5–10 % corridor and who may apply."""

    min_share: Share = 0.05
    max_share: Share = Field(default=0.10, validate_default=True)
    exclude_above_max: StrictBool = False
    statuses: tuple[Literal["public", "private_nonprofit", "private_forprofit"], ...] = (
        "public",
        "private_nonprofit",
        "private_forprofit",
    )
    medico_social: StrictBool = False

    _statuses_list = field_validator("statuses", mode="before")(lambda v: _tuple_of_str(v))

    @field_validator("max_share")
    @classmethod
    def _corridor(cls, v: float, info: ValidationInfo) -> float:
        lo = info.data.get("min_share")
        if lo is not None and lo > v:
            raise ValueError(f"expected max_share >= min_share ({lo:g}), found {v:g}")
        return v


TierGroup = str  # ose, a status, a category, ght_support; checked below


def _forfait_bands(v: Any) -> Any:
    """``[[low, high, eur], ...]``: non-negative bounds, ``high`` > ``low`` or null (no upper bound, last band
    only), increasing and non-overlapping bands, euros with at most 2 decimals."""
    if not isinstance(v, list | tuple) or not v:
        raise ValueError(f"expected a non-empty list of bands [low, high, eur], found {v!r}")
    out = []
    problems = []
    for k, band in enumerate(v):
        if not isinstance(band, list | tuple) or len(band) != 3:
            problems.append(f"band {k + 1}: expected [low, high, eur] (high null: no upper bound), found {band!r}")
            continue
        low, high, eur = band
        if not _is_number(low) or not math.isfinite(float(low)) or float(low) < 0:
            problems.append(f"band {k + 1}: expected a lower bound >= 0, found {low!r}")
            continue
        if high is not None and (not _is_number(high) or not float(high) > float(low)):
            problems.append(f"band {k + 1}: expected an upper bound > {_plain(low)} or null, found {high!r}")
            continue
        try:
            amount = _check_euros(eur)
        except ValueError as exc:
            problems.append(f"band {k + 1}: {exc}")
            continue
        out.append((_plain(low), None if high is None else _plain(high), amount))
    for k in range(1, len(out)):
        prev_high = out[k - 1][1]
        if prev_high is None or out[k][0] < prev_high:
            problems.append(f"band {k + 1}: expected bands in increasing order without overlap (starting at or "
                            f"above {prev_high if prev_high is not None else 'the open end of band ' + str(k)}), "
                            f"found a lower bound {out[k][0]}")
    if problems:
        raise ValueError("; ".join(problems))
    return tuple(out)


class Forfait(_Section):
    """``allocation.forfait`` — the ``forfait`` rule: a fixed amount per size band of a column.

    ``bands: [[low, high, eur], ...]``: an applicant whose ``column`` value ``x`` satisfies ``low <= x < high``
    (``high: null``: no upper bound) asks for ``eur`` euros over the envelope; in no band, nothing. Under a
    funding unit the value is the sum over the unit's members.
    """

    column: StrictStr = Field(default="headcount", description="numeric column of the table measuring size")
    bands: Annotated[tuple[tuple[float, float | None, int | float], ...], BeforeValidator(_forfait_bands)] = Field(
        description="[low, high, eur] per band, increasing, non-overlapping")


class Allocation(_Section):
    """``allocation:`` — the rule and its parameters."""

    rule: StrictStr = "proportional"
    base: StrictStr = "it_budget_eur"
    floor_eur: Euros = 0
    cap_eur: Euros | None = None
    match_rate: Share = 0.5
    target_share: Share = 0.10
    tiers: tuple[StrictStr, ...] = ("ose", "public", "private_nonprofit", "private_forprofit")
    tier_amount: Literal["need", "demand", "cap"] = "need"
    forfait: Forfait | None = Field(default=None, validate_default=True,
                                    description="the forfait rule's column and bands; required with rule forfait")
    unit: Literal["establishment", "legal_entity", "ght"] = Field(
        default="establishment", description="who applies and receives: establishment | legal_entity | ght")

    _tiers_list = field_validator("tiers", mode="before")(lambda v: _tuple_of_str(v))

    @field_validator("forfait")
    @classmethod
    def _forfait_needed(cls, v: Forfait | None, info: ValidationInfo) -> Forfait | None:
        if v is None and info.data.get("rule") == "forfait":
            raise ValueError("expected {column, bands} with rule forfait, found null")
        return v

    @field_validator("rule")
    @classmethod
    def _rule_known(cls, v: str) -> str:
        known = registry.rule_names()
        if v not in known:
            close = difflib.get_close_matches(v, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            raise ValueError(f"expected one of {', '.join(known)} (or a registered rule name){hint}, found {v!r}")
        return v

    @field_validator("tiers")
    @classmethod
    def _tiers_known(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        allowed = TIER_GROUPS
        bad = [t for t in v if t not in allowed]
        if bad:
            hints = []
            for t in bad:
                close = difflib.get_close_matches(t, allowed, n=1)
                hints.append(f"{t!r}" + (f" (did you mean {close[0]}?)" if close else ""))
            raise ValueError(f"expected groups among {', '.join(allowed)}, found {', '.join(hints)}")
        if len(set(v)) != len(v):
            raise ValueError(f"expected each group once, found {list(v)}")
        return v

    @field_validator("floor_eur")
    @classmethod
    def _floor_rule(cls, v: int | float, info: ValidationInfo) -> int | float:
        rule = info.data.get("rule")
        if v and rule is not None and rule not in ("proportional", "optimal"):
            raise ValueError(f"floor_eur is used only by rule proportional; expected 0 with rule {rule}, found {v}")
        return v

    @field_validator("cap_eur")
    @classmethod
    def _cap_above_floor(cls, v: int | float | None, info: ValidationInfo) -> int | float | None:
        floor = info.data.get("floor_eur")
        if v is not None and floor is not None and _decimal_of(floor) > _decimal_of(v):
            raise ValueError(f"expected cap_eur >= floor_eur ({floor}), found {v}")
        return v

    @field_validator("tier_amount")
    @classmethod
    def _tier_cap(cls, v: str, info: ValidationInfo) -> str:
        if v == "cap" and info.data.get("rule") == "tiered" and "cap_eur" in info.data and info.data["cap_eur"] is None:
            raise ValueError("tier_amount: cap needs allocation.cap_eur; expected a cap in euros, found cap_eur null")
        return v


TIER_GROUPS: tuple[str, ...] = ("ose", "ght_support", *config.STATUSES, *config.CATEGORIES)


class Uptake(_Section):
    """``uptake:`` — behavioural response of establishments below the threshold (see eligibility.py).

    ``slope: null`` means the reference assumption of ``data/reference/policy.yaml`` (``uptake.slope``).
    """

    model: Literal["none", "full", "logistic"] = "none"
    slope: PositiveFloat | None = None
    midpoint: PositiveFloat = 1.0
    damping: Annotated[PositiveFloat, Field(le=1)] = 0.5
    tolerance: PositiveFloat = 1e-9
    max_iterations: Annotated[Int, Field(ge=1, le=100_000)] = 500


class Audits(_Section):
    """``audits:`` — the 25 M€ France Relance envelope (nulls mean the reference default, see audits.py)."""

    envelope_eur: Euros = 25_000_000
    surveillance_eur: Euros | None = None
    unit_cost_eur: Euros | None = None
    priority: Literal["size", "risk"] = "size"

    @model_validator(mode="after")
    def _fits(self) -> Audits:
        if self.surveillance_eur is not None and _decimal_of(self.surveillance_eur) > _decimal_of(self.envelope_eur):
            raise ValueError(
                f"expected surveillance_eur <= envelope_eur, found {self.surveillance_eur} > {self.envelope_eur}"
            )
        if self.unit_cost_eur is not None and _decimal_of(self.unit_cost_eur) <= 0:
            raise ValueError(f"expected unit_cost_eur > 0, found {self.unit_cost_eur}")
        return self


class Ose(_Section):
    """``ose:`` — obligations of the operators of essential services (see the module docstring)."""

    obligation: Literal["none", "min_share"] = "none"


# --- risk: section read by risk.py --------------------
class Risk(_Section):
    """``risk:`` — parameters of the risk model (:mod:`cyberbudget.risk.model`).

    A key left ``null`` (the default) takes its value from ``data/reference/risk.yaml``, where every figure has
    its source; see :func:`cyberbudget.risk.model.risk_parameters`.
    """

    breach_function: Literal["I", "II"] = Field(
        default="I", description="Gordon-Loeb class: I  S = v/(alpha z + 1)^beta; II  S = v^(alpha z + 1)")
    beta: PositiveFloat | None = Field(default=None, description="class I exponent (> 0); null: reference (1.0)")
    alpha_per_eur: PositiveFloat | None = Field(
        default=None, description="one productivity alpha (per euro) for every establishment; null: "
        "alpha = 1 / (alpha_share x IT budget)")
    alpha_share: PositiveFloat | None = Field(
        default=None, description="k in alpha = 1 / (k x IT budget), a share of the IT budget; null: reference")
    vulnerability: float | None = Field(
        default=None, description="v, probability a threat succeeds with no investment, in (0, 1); null: reference")
    grant_additionality: Share | None = Field(
        default=None, description="share of a grant euro added to security investment; null: reference (1.0)")
    incident_rate: NonNegFloat | None = Field(
        default=None, description="declared incidents per establishment-year at reference size and cyber share")
    frequency_scale: PositiveFloat = Field(default=1.0, description="multiplier of every incident frequency")
    magnitude_scale: PositiveFloat = Field(default=1.0, description="multiplier of every loss magnitude")

    @field_validator("vulnerability", mode="before")
    @classmethod
    def _vulnerability_open(cls, v: Any) -> Any:
        if v is None:
            return v
        if not _is_number(v) or not math.isfinite(float(v)) or not 0 < float(v) < 1:
            raise ValueError(f"expected a probability strictly between 0 and 1, found {_fmt_found(v)}")
        return float(v)

    @field_validator("alpha_share", mode="after")
    @classmethod
    def _alpha_share_fraction(cls, v: float | None) -> float | None:
        if v is not None and v > 1:
            raise ValueError(f"expected a share of the IT budget in (0, 1] (write 5 % as 0.05), found {v:g}")
        return v




# --- awareness: section read by risk.py --------------------
class Awareness(_Section):
    """``awareness:`` — cyber awareness training (the strategy puts it in every health curriculum).

    Expected incidents are multiplied by ``1 − human_share x effectiveness x coverage``; ``null`` takes the value
    of ``data/reference/risk.yaml`` (``awareness.*``, assumptions).
    """

    coverage: Share = Field(default=0.0, description="share of staff trained beyond today's level, in [0, 1]")
    human_share: Share | None = Field(
        default=None, description="share of serious incidents initiated by a person; null: reference (0.5)")
    effectiveness: Share | None = Field(
        default=None, description="reduction of human-initiated incidents among trained staff; null: reference (0.4)")




# --- uncertainty: section read by montecarlo.py and sensitivity.py --------------------
def _uncertainty_default(name: str) -> Any:
    """Default of an ``uncertainty:`` key from ``data/reference/uncertainty.yaml`` (single source of truth)."""
    from cyberbudget.data.reference import load_reference

    ref = load_reference("uncertainty")
    if name in ref.get("factors", {}):
        fig = ref["factors"][name]
        return UncertainRange(low=fig["low"], high=fig["high"], distribution=fig.get("distribution", "uniform"))
    return float(ref["noise"][name]["value"])


def _range_shorthand(v: Any) -> Any:
    if isinstance(v, list | tuple):
        if len(v) != 2:
            raise ValueError(f"expected [low, high] or {{low, high, distribution}}, found {list(v)!r}")
        return {"low": v[0], "high": v[1]}
    return v


class UncertainRange(_Section):
    """Range of one uncertain factor (``[low, high]`` or ``{low, high, distribution}``); 1 = the central value."""

    low: PositiveFloat
    high: PositiveFloat
    distribution: Literal["uniform", "loguniform"] = "uniform"

    @model_validator(mode="after")
    def _ordered(self) -> UncertainRange:
        if self.low > self.high:
            raise ValueError(f"expected low <= high, found low={self.low:g} > high={self.high:g}")
        return self


Range = Annotated[UncertainRange, BeforeValidator(_range_shorthand)]
Sigma = Annotated[NonNegFloat, Field(le=3.0)]


class Uncertainty(_Section):
    """``uncertainty:`` — Monte Carlo and sensitivity settings (montecarlo.py, sensitivity.py).

    Every factor multiplies the scenario's own value; its range is drawn uniformly (or uniformly in log). The
    defaults are read from ``data/reference/uncertainty.yaml`` (with their sources; most are assumptions).
    """

    enabled: StrictBool = False
    draws: Annotated[Int, Field(ge=1, le=100_000_000)] = 10_000
    it_budget_factor: Range = Field(default_factory=lambda: _uncertainty_default("it_budget_factor"),
                                    description="factor on imputed IT budgets (imputed cyber spend moves with them)")
    cyber_share_factor: Range = Field(default_factory=lambda: _uncertainty_default("cyber_share_factor"),
                                      description="factor on imputed cyber shares of the IT budget")
    uptake_slope_factor: Range = Field(default_factory=lambda: _uncertainty_default("uptake_slope_factor"),
                                       description="factor on uptake.slope (logistic uptake only)")
    uptake_midpoint_factor: Range = Field(default_factory=lambda: _uncertainty_default("uptake_midpoint_factor"),
                                          description="factor on uptake.midpoint (logistic uptake only)")
    frequency_factor: Range = Field(default_factory=lambda: _uncertainty_default("frequency_factor"),
                                    description="factor on every incident frequency")
    magnitude_factor: Range = Field(default_factory=lambda: _uncertainty_default("magnitude_factor"),
                                    description="factor on every loss magnitude")
    it_budget_sigma: Sigma = Field(default_factory=lambda: _uncertainty_default("it_budget_sigma"),
                                   description="log-sd of the per-establishment noise on imputed IT budgets")
    cyber_share_sigma: Sigma = Field(default_factory=lambda: _uncertainty_default("cyber_share_sigma"),
                                     description="log-sd of the per-establishment noise on imputed cyber shares")




class Scenario(_Section):
    """A validated scenario (frozen). Build it with :func:`load_scenario`."""

    name: StrictStr
    description: StrictStr = ""
    extends: StrictStr | None = None
    seed: NonNegInt = config.DEFAULT_SEED
    disclosure: Literal["aggregate", "establishment"] = "aggregate"
    envelope: Envelope
    eligibility: Eligibility = Eligibility()
    allocation: Allocation = Allocation()
    uptake: Uptake = Uptake()
    audits: Audits = Audits()
    ose: Ose = Ose()
    risk: Risk = Risk()
    awareness: Awareness = Awareness()
    uncertainty: Uncertainty = Uncertainty()

    _source: str | None = PrivateAttr(default=None)
    _chain: tuple[str, ...] = PrivateAttr(default=())

    @field_validator("name")
    @classmethod
    def _name_ok(cls, v: str) -> str:
        if not NAME_PATTERN.fullmatch(v):
            raise ValueError(
                f"expected lowercase letters, digits, '_' or '-' only ([a-z0-9_-]+, used as a folder name), found {v!r}"
            )
        return v

    @model_validator(mode="after")
    def _floor_vs_envelope(self) -> Scenario:
        if _decimal_of(self.allocation.floor_eur) > _decimal_of(self.envelope.total_eur):
            raise ValueError(
                f"allocation.floor_eur: expected a floor <= envelope.total_eur ({self.envelope.total_eur}), "
                f"found {self.allocation.floor_eur}"
            )
        return self

    @property
    def source(self) -> str | None:
        """Path of the file the scenario was read from (None for a dict)."""
        return self._source

    @property
    def extends_chain(self) -> tuple[str, ...]:
        """Files merged to build this scenario, base first (empty for a dict without ``extends``)."""
        return self._chain

    @property
    def n_years(self) -> int:
        """Number of years of the envelope."""
        return len(self.envelope.years)

    def to_dict(self) -> dict[str, Any]:
        """The fully resolved scenario as JSON-able data (schedule years become strings as in JSON)."""
        return self.model_dump(mode="json")


# --------------------------------------------------------------------------------------------------------------
# Money helpers
# --------------------------------------------------------------------------------------------------------------


def euros_to_cents(x: Any) -> int:
    """Exact cents of a scenario's euro amount (the YAML text when known; :func:`cyberbudget.money.euros_to_cents`).

    Raises
    ------
    ValueError
        The amount has fractions of a cent or is not finite.

    Examples
    --------
    >>> euros_to_cents(350_000_000), euros_to_cents(0.1), euros_to_cents("12.34")
    (35000000000, 10, 1234)
    """
    if isinstance(x, bool):
        raise ValueError(f"expected an amount in euros, found {x!r}")
    return money.euros_to_cents(_decimal_of(x) if not isinstance(x, str) else x)


def envelope_cents(s: Scenario) -> int:
    """The scenario's envelope in integer cents (exact)."""
    return euros_to_cents(s.envelope.total_eur)


def schedule_shares(s: Scenario) -> list[Decimal]:
    """Share of the envelope for each year of ``s.envelope.years`` as exact decimals (equal when null).

    Equal shares are returned as ``Decimal(1) / n`` only for display; exact computations should use
    :class:`fractions.Fraction` (``1/n``) as :mod:`cyberbudget.policy.allocation` does.
    """
    years = s.envelope.years
    if s.envelope.schedule is None:
        return [Decimal(1) / len(years)] * len(years)
    return [Decimal(str(s.envelope.schedule[y])) for y in years]


# --------------------------------------------------------------------------------------------------------------
# Loading
# --------------------------------------------------------------------------------------------------------------


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy of ``base`` with ``override`` merged in (mappings recursively; other values replaced).

    Examples
    --------
    >>> deep_merge({"a": {"x": 1, "y": 2}, "b": [1]}, {"a": {"y": 3}, "b": [2]})
    {'a': {'x': 1, 'y': 3}, 'b': [2]}
    """
    out = copy.deepcopy(dict(base))
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


#: File suffixes ``extends:`` may name: only scenario files are ever read through it.
SCENARIO_SUFFIXES: tuple[str, ...] = (".yaml", ".yml")
#: A bare scenario name in ``extends:`` (a file ``<name>.yaml``): letters, digits, ``_``, ``-``, ``.``.
_BARE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,199}")


def resolve_extends(ref: str, relative_to: Path | None) -> Path:
    """Path of the scenario named by ``extends:``.

    A value with a ``/`` or ending in ``.yaml``/``.yml`` is a path, relative to the extending file's folder
    (or the working directory for a dict). Otherwise it is a name: ``<folder of the extending file>/<name>.yaml``
    if it exists, else ``scenarios/<name>.yaml`` of the package root (``config.SCENARIOS_DIR``).

    Raises
    ------
    ValueError
        ``ref`` is neither a bare name (letters, digits, ``_``, ``-``, ``.``) nor a path ending in ``.yaml`` or
        ``.yml``: ``extends:`` reads scenario files only (never, say, ``/etc/passwd``).
    """
    folder = relative_to if relative_to is not None else Path.cwd()
    if "/" in ref or "\\" in ref or ref.lower().endswith(SCENARIO_SUFFIXES):
        if not ref.lower().endswith(SCENARIO_SUFFIXES) or "\0" in ref:
            raise ValueError("expected a scenario name (e.g. baseline) or the path of a .yaml/.yml scenario file, "
                             f"found {_clip(repr(ref))}")
        p = Path(ref)
        return p if p.is_absolute() else folder / p
    if not _BARE_NAME.fullmatch(ref):
        raise ValueError("expected a scenario name (letters, digits, '_', '-') or the path of a .yaml/.yml "
                         f"scenario file, found {_clip(repr(ref))}")
    local = folder / f"{ref}.yaml"
    if relative_to is not None and local.is_file():
        return local
    return config.SCENARIOS_DIR / f"{ref}.yaml"


def resolve_scenario(ref: str | Path) -> Path:
    """The file of a scenario given by path or by bare name.

    A path that exists is taken as is. A bare name (one path part, no suffix) that is not a file of the working
    directory is looked up as ``scenarios/<name>.yaml`` of the package root (``config.SCENARIOS_DIR``), as
    ``cyberbudget run`` and ``extends:`` do.

    Raises
    ------
    ScenarioError
        Nothing found; the message lists every place looked at.

    Examples
    --------
    >>> resolve_scenario("baseline").name
    'baseline.yaml'
    """
    p = Path(ref)
    if p.is_file():
        return p
    looked = [str(p.resolve())]
    if p.suffix == "" and len(p.parts) == 1:
        named = config.SCENARIOS_DIR / f"{p.name}.yaml"
        if named.is_file():
            return named
        looked.append(str(named))
    where = str(ref)
    raise ScenarioError(
        f"{where}: scenario file not found (looked for {' and '.join(looked)})",
        [Problem(where, f"expected a scenario file or the name of one in {config.SCENARIOS_DIR}, "
                        f"found none (looked for {', '.join(looked)})")],
        source=where,
    )


def _foreign_base(data: Any) -> str | None:
    """Why a file reached by ``extends:`` is not a scenario (``None`` when it is one), in words that quote
    nothing of it: its content is never echoed, whatever the file is."""
    if not isinstance(data, Mapping):
        return f"its YAML is {'empty' if data is None else f'a {type(data).__name__}'}, not a mapping of scenario keys"
    foreign = [k for k in data if not isinstance(k, str) or k not in Scenario.model_fields]
    if foreign:
        verb = "is not a scenario key" if len(foreign) == 1 else "are not scenario keys"
        return (f"{len(foreign)} of its top-level keys {verb} "
                f"(expected keys among {', '.join(Scenario.model_fields)}); its content is not shown")
    return None


def _raw_with_extends(
    data: Any, path: Path | None, where: str, chain: list[str], files: list[str]
) -> dict[str, Any]:
    if not isinstance(data, Mapping):
        raise ScenarioError(
            f"{where}: expected a mapping of scenario keys, found {type(data).__name__}",
            [Problem(where, f"expected a mapping (name: ..., envelope: ...), found {_clip(repr(data))}")],
            source=where,
        )
    ref = data.get("extends")
    if ref is None:
        return dict(data)
    if not isinstance(ref, str) or not ref:
        raise ScenarioError(
            f"{where}: invalid extends",
            [Problem(f"{where}: extends", f"expected a scenario name or path, found {_clip(repr(ref))}")],
            source=where,
        )
    try:
        base_path = resolve_extends(ref, path.parent if path is not None else None).resolve()
    except (ValueError, OSError) as exc:
        raise ScenarioError(f"{where}: invalid extends", [Problem(f"{where}: extends", str(exc))],
                            source=where) from None
    if not base_path.name.lower().endswith(SCENARIO_SUFFIXES):  # a link named x.yaml to another file
        raise ScenarioError(
            f"{where}: invalid extends",
            [Problem(f"{where}: extends", f"expected a .yaml/.yml scenario file, found {_clip(repr(ref))} leading "
                                          f"to {_clip(str(base_path))}")], source=where)
    if len(chain) > MAX_EXTENDS_DEPTH:
        raise ScenarioError(
            f"{where}: extends chain too long",
            [Problem(f"{where}: extends", f"expected at most {MAX_EXTENDS_DEPTH} scenarios extending one another, "
                                          f"found a longer chain")], source=where)
    if str(base_path) in chain:
        raise ScenarioError(
            f"{where}: extends loop",
            [Problem(f"{where}: extends", f"expected no cycle, found {' -> '.join([*chain, str(base_path)])}")],
            source=where,
        )
    if not base_path.is_file():
        raise ScenarioError(
            f"{where}: extends: base scenario not found",
            [Problem(f"{where}: extends",
                     f"expected an existing scenario, found {_clip(repr(ref))} (looked for {_clip(str(base_path))})")],
            source=where,
        )
    files.append(str(base_path))
    base_data = _read_yaml(base_path)
    foreign = _foreign_base(base_data)
    if foreign is not None:
        raise ScenarioError(
            f"{where}: extends: {_clip(str(base_path))} is not a scenario file",
            [Problem(f"{where}: extends", f"expected a scenario file, found {_clip(str(base_path))}: {foreign}")],
            source=where)
    base_raw = _raw_with_extends(base_data, base_path, str(base_path), [*chain, str(base_path)], files)
    # A literal deep merge: a derived file without `name` keeps the base's name (and so its output folder;
    # `batch` reports two scenarios with the same name). Give derived scenarios their own name.
    return deep_merge(base_raw, data)


# --------------------------------------------------------------------------------------------------------------
# Bounds of values: sane maxima, checked on the merged YAML before the models (each names the key path)
# --------------------------------------------------------------------------------------------------------------

#: Largest euro amount anywhere in a scenario (every key ending in ``_eur``): 1,000 billion euros.
MAX_SCENARIO_EUR: int = 10**12
#: Largest magnitude of any other number (shares, factors, rates, counts), except ``seed``.
MAX_SCENARIO_NUMBER: float = 1e15
#: Largest ``seed`` (an unsigned 64-bit integer).
MAX_SEED: int = 2**64 - 1
#: Most years in ``envelope.years`` (and entries in ``envelope.schedule``), and their range.
MAX_YEARS: int = 50
YEAR_RANGE: tuple[int, int] = (1900, 2200)
#: Longest ``name`` (it becomes a folder name: the file system allows 255 bytes with the suffixes added).
MAX_NAME_LENGTH: int = 64
#: Longest ``description``, in characters.
MAX_DESCRIPTION_LENGTH: int = 10_000
#: Longest other text value (a rule, a column name, an ``extends`` path), in characters.
MAX_TEXT_LENGTH: int = 1_000
#: Most items of any list or mapping (``allocation.tiers`` has at most 18 groups).
MAX_ITEMS: int = 100

_TEXT_LIMITS: dict[str, int] = {"name": MAX_NAME_LENGTH, "description": MAX_DESCRIPTION_LENGTH}
_ITEM_LIMITS: dict[str, int] = {"envelope.years": MAX_YEARS, "envelope.schedule": MAX_YEARS}


def _bounds_problems(raw: Mapping[str, Any], where: str) -> list[Problem]:
    """Values beyond the sane maxima above, each as ``file: key.path: expected at most ..., found ...``.

    Types are left to the models (a value of the wrong type is skipped here). Runs on the merged mapping, whose
    size is bounded by :data:`cyberbudget.config.MAX_SCENARIO_NODES`.
    """
    problems: list[Problem] = []

    def at(path: str, message: str) -> None:
        problems.append(Problem(f"{where}: {_clip(path)}", message))

    def visit(value: Any, path: str, key: str) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, str):
            limit = _TEXT_LIMITS.get(path, MAX_TEXT_LENGTH)
            if len(value) > limit:
                at(path, f"expected at most {limit:,} characters, found {len(value):,}")
            return
        if _is_number(value):
            number = abs(_decimal_of(value)) if not isinstance(value, float) or math.isfinite(value) else None
            if number is None:
                return  # inf and nan: the models say what they expect
            if key.endswith("_eur") and number > MAX_SCENARIO_EUR:
                at(path, f"expected an amount of at most {MAX_SCENARIO_EUR:,} euros, found {_clip(_fmt_found(value))}")
            elif key == "seed" and path == "seed":
                if number > MAX_SEED:
                    at(path, f"expected a seed of at most {MAX_SEED:,} (2**64 - 1), found {_clip(_fmt_found(value))}")
            elif path.startswith("envelope.years"):
                if not YEAR_RANGE[0] <= value <= YEAR_RANGE[1]:
                    at(path, f"expected a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}, "
                             f"found {_clip(_fmt_found(value))}")
            elif number > MAX_SCENARIO_NUMBER:
                at(path, f"expected a number of magnitude at most {MAX_SCENARIO_NUMBER:g}, "
                         f"found {_clip(_fmt_found(value))}")
            return
        if isinstance(value, Mapping | list | tuple):
            limit = _ITEM_LIMITS.get(path, MAX_ITEMS)
            if len(value) > limit:
                at(path, f"expected at most {limit:,} {'entries' if isinstance(value, Mapping) else 'items'}, "
                         f"found {len(value):,}")
                return
            items = value.items() if isinstance(value, Mapping) else enumerate(value)
            for k, v in items:
                name = str(k)
                if isinstance(k, str) and len(k) > MAX_TEXT_LENGTH:
                    at(f"{path}.{_clip(k, 40)}" if path else _clip(k, 40),
                       f"expected a key of at most {MAX_TEXT_LENGTH:,} characters, found {len(k):,}")
                    continue
                if isinstance(value, list | tuple):
                    child = f"{path}.{k}"
                elif path.endswith("schedule"):  # year keys: the years' own bounds
                    child = f"{path}.{name}"
                    if _is_number(k) and not YEAR_RANGE[0] <= k <= YEAR_RANGE[1]:
                        at(child, f"expected a year between {YEAR_RANGE[0]} and {YEAR_RANGE[1]}")
                        continue
                else:
                    child = f"{path}.{name}" if path else name
                visit(v, child, name)

    visit(raw, "", "")
    return problems


def _merge_problems(bounds: list[Problem], others: list[Problem]) -> list[Problem]:
    """The bound problems, then the models' problems at other key paths (one message per key)."""
    flagged = {p.where for p in bounds}
    return bounds + [p for p in others
                     if not any(p.where == w or p.where.startswith(w + ".") for w in flagged)]


def _field_names(model: type[BaseModel]) -> list[str]:
    return list(model.model_fields)


def _model_at(loc: tuple) -> type[BaseModel] | None:
    """The pydantic model class found at ``loc`` inside :class:`Scenario` (None when not a model)."""
    model: Any = Scenario
    for part in loc:
        if not (isinstance(model, type) and issubclass(model, BaseModel)) or part not in model.model_fields:
            return None
        ann = model.model_fields[part].annotation
        candidates = [ann, *get_args(ann)] if get_origin(ann) is not None else [ann]
        model = next((c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)), None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _fmt_found(value: Any) -> str:
    if isinstance(value, YamlFloat):
        return _clip(value.text)
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple) and len(value) > 10:
        return f"a list of {len(value):,} items"
    return _clip(repr(value))


def _translate(exc: ValidationError, where: str) -> list[Problem]:
    problems = []
    for err in exc.errors(include_url=False):
        loc = tuple(err["loc"])
        # drop pydantic's internal loc parts (union member / function names)
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p.startswith("function-"))))
        path = ".".join(str(p) for p in loc)
        etype = err["type"]
        if etype == "extra_forbidden":
            parent = _model_at(loc[:-1])
            names = _field_names(parent) if parent else []
            close = difflib.get_close_matches(str(loc[-1]), names, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]}?" if close else f"expected one of {', '.join(names)}"
            problems.append(Problem(f"{where}: {_clip(path)}", f"unknown key; {hint}"))
            continue
        if etype == "missing":
            problems.append(Problem(f"{where}: {_clip(path)}", "required key missing"))
            continue
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, "):]
            if "found" not in msg:
                msg = f"{msg}, found {_fmt_found(err.get('input'))}"
        elif msg.startswith("Assertion failed, "):
            msg = msg[len("Assertion failed, "):]
        else:
            msg = msg.replace("Input should be ", "expected ")
            msg = f"{msg}, found {_fmt_found(err.get('input'))}"
        if not path:
            m = re.match(r"^([a-z_]+(?:\.[a-z_]+)+): (.*)$", msg)
            if m:
                path, msg = m.group(1), m.group(2)
        problems.append(Problem(f"{where}: {_clip(path)}" if path else where, _clip(msg, 4 * MAX_QUOTED)))
    # one message per location and text (unions may repeat)
    unique: dict[tuple[str, str], Problem] = {}
    for p in problems:
        unique.setdefault((p.where, p.message), p)
    return list(unique.values())


def load_scenario(path_or_dict: str | Path | Mapping[str, Any]) -> Scenario:
    """Read, layer (``extends:``) and validate a scenario.

    Parameters
    ----------
    path_or_dict : str, Path or mapping
        A YAML file; a bare name such as ``"baseline"`` (no folder, no suffix), resolved as ``run`` and
        ``extends:`` do (:func:`resolve_scenario`); or the scenario as a mapping (``extends`` then resolves
        names in ``scenarios/`` and paths against the working directory).

    Returns
    -------
    Scenario
        Frozen; ``.source`` is the file path (None for a mapping).

    Raises
    ------
    ScenarioError
        Every problem found, each as ``file: key.path: expected ..., found ...``.
    """
    if isinstance(path_or_dict, Mapping):
        where = "<dict>"
        path = None
        data: Any = path_or_dict
    else:
        path = resolve_scenario(path_or_dict)
        where = str(path)
        data = _read_yaml(path)
    chain = [str(path.resolve())] if path is not None else []
    files = list(chain)
    raw = _raw_with_extends(data, path, where, chain, files)
    bounds = _bounds_problems(raw, where)
    try:
        scenario = Scenario.model_validate(raw)
    except ValidationError as exc:
        problems = _merge_problems(bounds, _translate(exc, where))
        raise ScenarioError(f"{where}: {len(problems)} problem(s) in the scenario", problems, source=where) from None
    if bounds:
        raise ScenarioError(f"{where}: {len(bounds)} problem(s) in the scenario", bounds, source=where)
    scenario._source = str(path) if path is not None else None
    scenario._chain = tuple(files[::-1])
    return scenario


def as_scenario(scenario: Scenario | Mapping[str, Any] | str | Path) -> Scenario:
    """A :class:`Scenario` as is; a mapping, a path or a bare name through :func:`load_scenario`.

    The functions that take a scenario (risk, Monte Carlo, sensitivity, search) read it through this, with typed
    attribute access and the defaults of :class:`Scenario` only.

    Raises
    ------
    ScenarioError
        The mapping or file is not a valid scenario.
    """
    if isinstance(scenario, Scenario):
        return scenario
    if isinstance(scenario, Mapping | str | Path):
        return load_scenario(scenario)
    raise ScenarioError(
        f"expected a Scenario (load_scenario), a mapping or a path, found {type(scenario).__name__}",
        [Problem("scenario", f"expected a Scenario, a mapping or a path, found {type(scenario).__name__}")],
    )
