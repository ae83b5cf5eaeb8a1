"""The synthetic default table, drawn from the aggregates of the SAE 2023 registry.

- :func:`sae_marginals` computes, from the real import (:func:`cyberbudget.data.sae.import_sae`), the aggregates
  the synthetic table reproduces - counts, capacity, staff and station totals and quantiles, legal-entity sizes,
  GHT codes and member counts; no FINESS and no name - and :func:`write_marginals` commits them to
  ``data/reference/sae2023_marginals.yaml``;
- :func:`synthesize` draws the table from that file and a seed: fictitious names and visibly synthetic FINESS
  (``<department>99<number>`` for sites, ``<department>999<number>`` for legal entities, ``98`` for the
  medico-social layer).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from cyberbudget import config
from cyberbudget.data import finance, reference
from cyberbudget.data.ght import assign_ght, ght_support, legal_entities, size_order
from cyberbudget.data.sae import ght_table, import_sae
from cyberbudget.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, validate_table

__all__ = ["MARGINALS_NAME", "QUANTILE_LEVELS", "SYNTHETIC_TOKEN", "sae_marginals", "synthesize", "write_marginals"]

#: Reference file holding the SAE aggregates the synthetic table is drawn from.
MARGINALS_NAME = "sae2023_marginals"
#: Token of ``imputed`` marking a synthetic row.
SYNTHETIC_TOKEN = "synthetic"
#: Quantile levels stored per group for each size quantity.
QUANTILE_LEVELS: tuple[float, ...] = tuple(round(q, 3) for q in np.linspace(0, 1, 41))
#: Size quantities of a group, with the number of decimals they are drawn to.
QUANTITIES: dict[str, int] = {
    "beds": 0, "places": 0, "had_places": 0, "dialysis_stations": 0,
    "non_medical_fte": 2, "medical_fte": 2, "medical_headcount": 0,
}


def _with_capacity(table: pd.DataFrame) -> np.ndarray:
    return ((table["beds"] + table["places"] + table["had_places"]) > 0).to_numpy()


def _derived_staff(table: pd.DataFrame) -> pd.DataFrame:
    """Non-medical FTE and medical headcount (salaried + self-employed) recovered from the table's columns."""
    non_medical = np.round(table["staff_fte"].to_numpy() - table["medical_fte"].to_numpy(), 2)
    medical_headcount = np.floor(table["headcount"].to_numpy() - non_medical + 0.5 - 1e-6).astype("int64")
    return table.assign(non_medical_fte=non_medical, medical_headcount=np.maximum(medical_headcount, 0))


def sae_marginals(sae_dir: str | os.PathLike[str] = config.SAE_DIR) -> dict[str, Any]:
    """Aggregates of the SAE import that :func:`synthesize` reproduces (no FINESS, no name).

    Returns
    -------
    dict
        ``counts``: ``[region, status, category, n with capacity, n without]`` (capacity = beds, places or HAD
        places); ``departments``: establishments by region x department; ``groups``: per category x status x
        capacity, the number of establishments and, for each of :data:`QUANTITIES`, its total and its quantiles
        at :data:`QUANTILE_LEVELS`; ``legal_entities``: ``[status, home region, sites with capacity, other
        sites, number of legal entities]`` (home region: that of the largest site; a legal entity whose sites
        differ in status counts once per status);
        ``ght``: the 135 GHT (short code, regions, member counts by type, members in the import); ``totals``.
    """
    sae_dir = Path(sae_dir)
    table = _derived_staff(import_sae(sae_dir))
    codes = reference.load_reference("categories")
    ght = ght_table(sae_dir, codes)
    table["with_capacity"] = _with_capacity(table)
    key = ["region", "status", "category"]
    counts = (table.groupby(key + ["with_capacity"]).size().unstack(fill_value=0)
              .reindex(columns=[True, False], fill_value=0).reset_index().sort_values(key))
    deps = table.groupby(["region", "department"]).size().reset_index(name="n").sort_values(["region", "department"])
    groups = []
    for (cat, st, cap), grp in table.groupby(["category", "status", "with_capacity"], sort=True):
        entry: dict[str, Any] = {"category": cat, "status": st, "with_capacity": bool(cap), "n": len(grp)}
        for col, decimals in QUANTITIES.items():
            v = grp[col].to_numpy(dtype="float64")
            total = round(float(v.sum()), decimals)
            entry[f"{col}_total"] = int(total) if decimals == 0 else total
            entry[f"{col}_quantiles"] = [round(float(x), 2) for x in np.quantile(v, QUANTILE_LEVELS)]
        groups.append(entry)
    # Legal entities: per status, sites with and without capacity, by home region (that of the largest site).
    ranked = table.assign(ej=legal_entities(table)).iloc[size_order(table)]
    pieces = ranked.groupby(["status", "ej"], sort=False).agg(
        region=("region", "first"), cap=("with_capacity", "sum"), size=("with_capacity", "size")).reset_index()
    pieces["other"] = pieces["size"] - pieces["cap"]
    hist = (pieces.groupby(["status", "region", "cap", "other"]).size().reset_index(name="n")
            .sort_values(["status", "region", "cap", "other"]))
    members = table[table["ght"] != ""].groupby("ght").size()
    ghts = []
    for row in ght.itertuples(index=False):
        ghts.append({
            "code": row.code, "regions": list(row.regions),
            **{t: int(getattr(row, t)) for t in codes["ght_member_type"]},
            "members_in_import": int(members.get(row.code, 0)),
        })
    return {
        "counts": [[r[0], r[1], r[2], int(r[3]), int(r[4])] for r in counts.itertuples(index=False)],
        "departments": [[r.region, r.department, int(r.n)] for r in deps.itertuples(index=False)],
        "groups": groups,
        "legal_entities": [[r.status, r.region, int(r.cap), int(r.other), int(r.n)] for r in hist.itertuples(index=False)],
        "ght": ghts,
        "totals": {
            "establishments": len(table),
            "with_capacity": int(table["with_capacity"].sum()),
            "with_beds_or_places": int(((table["beds"] + table["places"]) > 0).sum()),
            "legal_entities": int(pd.Series(legal_entities(table)).nunique()),
            "beds": int(table["beds"].sum()), "places": int(table["places"].sum()),
            "had_places": int(table["had_places"].sum()),
            "dialysis_stations": int(table["dialysis_stations"].sum()),
            "staff_fte": round(float(table["staff_fte"].sum()), 2),
            "medical_fte": round(float(table["medical_fte"].sum()), 2),
            "headcount": int(table["headcount"].sum()),
        },
    }


def write_marginals(sae_dir: str | os.PathLike[str] = config.SAE_DIR, path: str | os.PathLike[str] | None = None) -> Path:
    """Compute :func:`sae_marginals` and write them to ``data/reference/sae2023_marginals.yaml``."""
    path = Path(path) if path is not None else reference.reference_path(MARGINALS_NAME)
    data = sae_marginals(sae_dir)
    header = {
        "kind": "aggregates",
        "description": "Aggregates of the DREES SAE 2023 registry (cyberbudget.data.sae.import_sae) from which the "
                       "synthetic default table is drawn. No FINESS and no name: counts, capacity, station and "
                       "staff totals and quantiles, legal-entity sizes, GHT short codes and member counts. "
                       "Regenerate with `python -c 'from cyberbudget.data.synthetic import write_marginals; "
                       "write_marginals()'`.",
        "source": "DREES, SAE 2023 bases statistiques (ID, MCO, PSY, SSR, USLD, HAD, DIALYSE, Q20, Q24, GHT, ORG "
                  "files), Licence Ouverte",
        "year": 2023,
    }
    text = yaml.safe_dump({**header, **data}, sort_keys=False, allow_unicode=True, default_flow_style=None, width=120)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _hamilton(weights: np.ndarray, total: int) -> np.ndarray:
    """Integers proportional to ``weights`` summing to ``total`` (largest remainders, ties to the first)."""
    weights = np.asarray(weights, dtype="float64")
    if total <= 0 or weights.sum() <= 0:
        return np.zeros(len(weights), dtype="int64")
    exact = weights / weights.sum() * total
    base = np.floor(exact).astype("int64")
    rest = total - int(base.sum())
    if rest > 0:
        order = np.lexsort((np.arange(len(weights)), -(exact - base)))
        base[order[:rest]] += 1
    return base


def _stratified(quantiles: list[float], total: int, u: np.ndarray) -> np.ndarray:
    """Values at levels ``u`` of the piecewise-linear quantile function, rescaled to integers summing to ``total``."""
    if total <= 0 or len(u) == 0:
        return np.zeros(len(u), dtype="int64")
    values = np.interp(u, QUANTILE_LEVELS, np.asarray(quantiles, dtype="float64"))
    if not (values > 0).any():
        values = np.ones(len(u))
    return _hamilton(np.where(values > 0, values, 0.0), total)


def _at_levels(quantiles: list[float], total: int, levels: np.ndarray) -> np.ndarray:
    """:func:`_stratified` for arbitrary levels: values follow the order of ``levels``."""
    order = np.argsort(levels, kind="stable")
    out = np.empty(len(levels), dtype="int64")
    out[order] = _stratified(quantiles, total, np.sort(levels))
    return out


def _synthetic_finess(departments: np.ndarray, block: str, start: int = 1) -> np.ndarray:
    """``<department><block><sequence>``: 2-character departments + block + 5 digits; overseas ``97d`` + 4 digits
    (a 3-character block leaves one digit less)."""
    out = np.empty(len(departments), dtype=object)
    counters: dict[str, int] = {}
    for i, dep in enumerate(departments):
        counters[dep] = counters.get(dep, start - 1) + 1
        width = 9 - len(dep) - len(block)
        out[i] = f"{dep}{block}{counters[dep]:0{width}d}"
    return out


def _draw_group(entry: dict[str, Any], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Sizes of the ``n`` rows of one category x status x capacity group (see :func:`synthesize`)."""
    u = (np.arange(n) + 0.5) / n
    u_size = u[rng.permutation(n)]

    def near(levels: np.ndarray, sigma: float) -> np.ndarray:
        return np.clip(levels + rng.normal(0, sigma, n), 0, 1)

    def draw(col: str, levels: np.ndarray) -> np.ndarray:
        scale = 10 ** QUANTITIES[col]
        total = int(round(float(entry[f"{col}_total"]) * scale))
        quantiles = [q * scale for q in entry[f"{col}_quantiles"]]
        return _at_levels(quantiles, total, levels)

    out: dict[str, np.ndarray] = {}
    out["beds"] = draw("beds", u_size)
    # Places, HAD places and stations follow the size with noise (large hospitals have more of each).
    out["places"] = draw("places", near(u_size, 0.15))
    out["had_places"] = draw("had_places", rng.permutation(u))
    # Without beds or places, dialysis stations are the size.
    out["dialysis_stations"] = draw("dialysis_stations", near(u_size, 0.15) if entry["with_capacity"] else u_size)
    out["non_medical_fte"] = draw("non_medical_fte", near(u_size, 0.10))
    medical_levels = near(u_size, 0.15)
    out["medical_fte"] = draw("medical_fte", medical_levels)
    out["medical_headcount"] = draw("medical_headcount", near(medical_levels, 0.10))
    if entry["with_capacity"]:
        # Every row of the group has beds or places (HAD rows: HAD places), as in the SAE selection; the units
        # given to empty rows are taken from the largest rows so that the totals stay those of the SAE.
        had_group = entry["category"] == "had"
        fill = out["had_places"] if had_group else out["places"]
        empty = (out["beds"] + out["places"] + (out["had_places"] if had_group else 0)) == 0
        _fill_empty(fill, empty)
    else:
        # Every row without capacity has dialysis stations or staff, as in the SAE selection.
        present = [c for c in ("dialysis_stations", "non_medical_fte", "medical_headcount") if entry[f"{c}_total"] > 0]
        if present:
            empty = sum(out[c] for c in present) == 0
            _fill_empty(out[max(present, key=lambda c: entry[f"{c}_quantiles"][20])], empty)
    return out


def _fill_empty(values: np.ndarray, empty: np.ndarray) -> None:
    """Give one unit to each ``empty`` row, taken from the largest rows (the total is unchanged)."""
    for _ in range(int(empty.sum())):
        donor = int(np.argmax(values))
        if values[donor] <= 1:
            break
        values[donor] -= 1
    values[empty] = np.maximum(values[empty], 1)


def _legal_entities(table: pd.DataFrame, marg: dict[str, Any], rng: np.random.Generator) -> np.ndarray:
    """Legal entity label per row, with the SAE's legal-entity sizes by status and home region.

    For each status, each region's rows are ordered by department, category and a random key; the region's
    legal entities (in random order) take their sites with and without capacity from the front of that order.
    Sites left over in a region (in the SAE they belong to legal entities based elsewhere) then complete, region
    by region, the legal entities that lacked sites - which thereby span two regions, as some do in the SAE.
    """
    label = np.full(len(table), -1, dtype="int64")
    specs: dict[str, dict[str, list[tuple[int, int]]]] = {}
    for status, region, n_cap, n_other, count in marg["legal_entities"]:
        specs.setdefault(status, {}).setdefault(region, []).extend([(int(n_cap), int(n_other))] * int(count))
    capacity = table["with_capacity"].to_numpy()
    next_label = 0
    for status in sorted(specs):
        pending: list[tuple[int, bool, int]] = []
        leftovers: dict[bool, list[int]] = {True: [], False: []}
        for region in sorted(set(table.loc[table["status"] == status, "region"]) | set(specs[status])):
            rows = table.index[(table["region"] == region) & (table["status"] == status)].to_numpy()
            noise = rng.random(len(rows))
            ordered = rows[np.lexsort((noise, table.loc[rows, "category"].to_numpy(),
                                       table.loc[rows, "department"].to_numpy()))]
            queues = {True: [int(i) for i in ordered if capacity[i]], False: [int(i) for i in ordered if not capacity[i]]}
            sizes = specs[status].get(region, [])
            for k in rng.permutation(len(sizes)):
                for flag, m in zip((True, False), sizes[k], strict=True):
                    got, queues[flag] = queues[flag][:m], queues[flag][m:]
                    label[got] = next_label
                    if len(got) < m:
                        pending.append((next_label, flag, m - len(got)))
                next_label += 1
            for flag in (True, False):
                leftovers[flag].extend(queues[flag])
        for entity, flag, m in pending:
            got, leftovers[flag] = leftovers[flag][:m], leftovers[flag][m:]
            label[got] = entity
    if (label < 0).any():
        raise ValueError("sae2023_marginals.yaml: legal_entities do not cover the counts (regenerate the marginals)")
    return label


def synthesize(seed: int = config.DEFAULT_SEED, medico_social: bool = False) -> pd.DataFrame:
    """Generate the synthetic establishment table (the committed default).

    Parameters
    ----------
    seed : int
        All draws derive from ``numpy.random.SeedSequence(seed)``: the same seed gives the same table, byte
        for byte once written with :func:`cyberbudget.data.registry.write_table`.
    medico_social : bool
        Also generate the medico-social layer (about 35,000 ESMS of which about 7,500 EHPAD, calibrated from
        ``data/reference/medico_social.yaml``), ``medico_social = true``.

    Returns
    -------
    DataFrame
        The validated table. Hospitals: exactly the SAE 2023 counts by region x status x category, with and
        without capacity (``sae2023_marginals.yaml``); per category x status x capacity, beds, places, HAD places,
        dialysis stations, non-medical FTE, medical FTE and medical headcount drawn at stratified levels of the
        SAE quantiles (staff and stations following the row's size with noise) and rescaled to the SAE totals;
        departments in proportion to the SAE counts of each region; legal entities with the SAE's numbers of
        sites per region x status; the 135 GHT filled with public legal entities to their member counts by type
        (support = the largest site of the largest member by staff; OSE); budgets imputed. Names
        ``Établissement synthétique NNNN``; FINESS ``<department>99<number>``, legal entities
        ``<department>999<number>`` (medico-social: ``98``, each its own legal entity), none of which is a real
        FINESS; ``ght_name`` ``GHT synthétique <code>``. Every row's ``imputed`` holds the token ``synthetic``.
    """
    marg = reference.load_reference(MARGINALS_NAME)
    codes = reference.load_reference("categories")
    root = np.random.SeedSequence(int(seed))
    ss_layout, ss_capacity, ss_budget, ss_medico, ss_entities = root.spawn(5)
    rng = np.random.default_rng(ss_layout)

    rows = []
    for region, status, category, n_cap, n_other in marg["counts"]:
        rows.extend([(region, status, category, True)] * int(n_cap))
        rows.extend([(region, status, category, False)] * int(n_other))
    table = pd.DataFrame(rows, columns=["region", "status", "category", "with_capacity"])

    # Departments: each region's rows split across its departments in proportion to the SAE counts.
    deps_by_region: dict[str, list[tuple[str, int]]] = {}
    for region, dep, n in marg["departments"]:
        deps_by_region.setdefault(region, []).append((dep, int(n)))
    table["department"] = ""
    for region, idx in table.groupby("region").groups.items():
        deps = deps_by_region[region]
        alloc = _hamilton(np.array([n for _, n in deps]), len(idx))
        labels = np.repeat(np.array([d for d, _ in deps], dtype=object), alloc)
        table.loc[idx, "department"] = rng.permutation(labels)

    # Sizes per category x status x capacity.
    cap_rng = np.random.default_rng(ss_capacity)
    for col in QUANTITIES:
        table[col] = 0
    for entry in marg["groups"]:
        mask = ((table["category"] == entry["category"]) & (table["status"] == entry["status"])
                & (table["with_capacity"] == entry["with_capacity"]))
        idx = table.index[mask.to_numpy()]
        if len(idx) == 0:
            continue
        for col, values in _draw_group(entry, len(idx), cap_rng).items():
            table.loc[idx, col] = values
    # FTE were drawn in hundredths; headcount = medical headcount + non-medical FTE rounded half up (as the import).
    table["staff_fte"] = (table["non_medical_fte"] + table["medical_fte"]) / 100
    table["headcount"] = table["medical_headcount"] + (table["non_medical_fte"] + 50) // 100
    table["medical_fte"] = table["medical_fte"] / 100

    # Legal entities, before the rows are renumbered.
    table["entity"] = _legal_entities(table, marg, np.random.default_rng(ss_entities))

    # Identifiers: ordered by department then by size, so numbers look like a register.
    table = table.sort_values(["department", "category", "status", "beds"], kind="stable").reset_index(drop=True)
    table["finess"] = _synthetic_finess(table["department"].to_numpy(dtype=object), "99")
    firsts = table.drop_duplicates("entity")  # each legal entity's first site (rows are in finess order)
    ej_finess = _synthetic_finess(firsts["department"].to_numpy(dtype=object), "999")
    table["finess_ej"] = table["entity"].map(dict(zip(firsts["entity"], ej_finess, strict=True)))
    table["medico_social"] = False
    table = table.drop(columns=["entity", "with_capacity", "non_medical_fte", "medical_headcount"])

    if medico_social:
        table = pd.concat([table, _synthesize_medico_social(ss_medico, marg)], ignore_index=True)

    table = table.sort_values("finess", kind="stable").reset_index(drop=True)
    table["name"] = [f"Établissement synthétique {i + 1:0{max(4, len(str(len(table))))}d}" for i in range(len(table))]

    ght = pd.DataFrame(marg["ght"])
    hospitals = ~table["medico_social"].to_numpy(dtype=bool)
    codes_h, _ = assign_ght(table[hospitals].reset_index(drop=True), ght, None, codes["ght_member_type"])
    ght_codes = np.full(len(table), "", dtype=object)
    ght_codes[hospitals] = codes_h
    support = ght_support(table, ght_codes)
    table["ght"] = ght_codes
    table["ght_name"] = [f"GHT synthétique {c}" if c else "" for c in ght_codes]
    table["ght_support"] = support
    table["ose"] = support.copy()
    table["imputed"] = SYNTHETIC_TOKEN
    budget_seed = int(ss_budget.generate_state(1, dtype=np.uint32)[0])
    table = finance.impute_budgets(table, seed=budget_seed)
    table = table[list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)]
    return validate_table(table, source=f"synthetic table (seed {seed})")


def _synthesize_medico_social(ss: np.random.SeedSequence, marg: dict[str, Any]) -> pd.DataFrame:
    ms = reference.load_reference("medico_social")
    rng = np.random.default_rng(ss)
    n_total = int(ms["esms_total"]["value"])
    n_ehpad = int(ms["ehpad_count"]["value"])
    parts = []
    for category, n, status_key, size_key in (
        ("ehpad", n_ehpad, "ehpad_status_shares", "ehpad_places"),
        ("esms", n_total - n_ehpad, "esms_status_shares", "esms_places"),
    ):
        # Regions and departments in proportion to the hospital registry's departments.
        deps = pd.DataFrame(marg["departments"], columns=["region", "department", "n"])
        alloc = _hamilton(deps["n"].to_numpy(), n)
        region = np.repeat(deps["region"].to_numpy(dtype=object), alloc)
        department = np.repeat(deps["department"].to_numpy(dtype=object), alloc)
        shares = ms[status_key]["value"]
        status_alloc = _hamilton(np.array([shares[s] for s in config.STATUSES], dtype="float64"), n)
        status = rng.permutation(np.repeat(np.array(config.STATUSES, dtype=object), status_alloc))
        mean = float(ms[size_key]["value"])
        sigma = float(ms[f"{size_key}_sigma"]["value"])
        size = np.maximum(1, np.round(mean * np.exp(sigma * rng.standard_normal(n) - sigma**2 / 2))).astype("int64")
        beds = size if category == "ehpad" else np.zeros(n, dtype="int64")
        places = np.zeros(n, dtype="int64") if category == "ehpad" else size
        parts.append(pd.DataFrame({
            "region": region, "department": department, "status": status, "category": category,
            "beds": beds, "places": places, "had_places": 0,
        }))
    table = pd.concat(parts, ignore_index=True)
    table = table.sort_values(["department", "category"], kind="stable").reset_index(drop=True)
    table["finess"] = _synthetic_finess(table["department"].to_numpy(dtype=object), "98")
    table["finess_ej"] = table["finess"]
    for col in ("dialysis_stations", "headcount"):
        table[col] = 0
    for col in ("staff_fte", "medical_fte"):
        table[col] = 0.0
    table["medico_social"] = True
    return table
