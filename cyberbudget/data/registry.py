"""Loading establishments: table files, the DREES SAE 2023 import and the synthetic default table.

- :func:`load_establishments` reads and validates a table (the committed synthetic default when no path);
- :func:`import_sae` builds the real registry from the DREES SAE 2023 open-data files (one row per
  establishment with beds, places or HAD places), its GHT membership and support establishments, and imputes
  the budgets (:mod:`cyberbudget.data.finance`);
- :func:`synthesize` generates the committed default table from the SAE aggregates of
  ``data/reference/sae2023_marginals.yaml`` (written by :func:`sae_marginals`): same counts by region x
  status x category, same capacity distribution per category, the 135 GHT and their support establishments,
  fictitious names and visibly synthetic FINESS (``<department>99<number>``, ``98`` for medico-social).
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from cyberbudget import config
from cyberbudget.data import finance, reference
from cyberbudget.data.schema import MONEY_COLUMNS, OPTIONAL_COLUMNS, REQUIRED_COLUMNS, validate_table
from cyberbudget.data.tableio import read_table, write_csv
from cyberbudget.errors import Problem, TableError

__all__ = [
    "import_sae", "load_establishments", "read_table", "sae_marginals", "summarize_table", "synthesize",
    "write_marginals", "write_table",
]

#: Reference file holding the SAE aggregates the synthetic table is drawn from.
MARGINALS_NAME = "sae2023_marginals"
#: Token of ``imputed`` marking a synthetic row.
SYNTHETIC_TOKEN = "synthetic"

_SAE_FILES = ("ID_2023r.csv", "MCO_2023r.csv", "PSY_2023r.csv", "SSR_2023r.csv", "USLD_2023r.csv",
              "HAD_2023r.csv", "GHT_2023r.csv", "ORG_2023r.csv")
_GHT_DECLARATION_COLUMNS = ("ORG_A19", "ORG_A20", "ORG_A21", "ORG_A22")
_STOPWORDS = frozenset({"GHT", "GROUPEMENT", "HOSPITALIER", "HOSPITALIERE", "TERRITOIRE", "DE", "DU", "DES", "LA",
                        "LE", "LES", "L", "D", "ET", "EN", "SUR", "CH", "CHU"})


# --------------------------------------------------------------------------------------------------------------
# Files
# --------------------------------------------------------------------------------------------------------------

def load_establishments(path: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Read and validate an establishment table.

    Parameters
    ----------
    path : str or PathLike, optional
        CSV (UTF-8 or Latin-1, ``,`` or ``;``), Parquet or ``.xlsx``; default ``config.DEFAULT_TABLE`` (the
        committed synthetic table).

    Returns
    -------
    DataFrame
        The normalised table (see :func:`cyberbudget.data.schema.validate_table`), sorted by ``finess``.

    Raises
    ------
    TableError
        The file cannot be read, or breaks a rule of the schema (every problem listed).
    """
    path = Path(path) if path is not None else config.DEFAULT_TABLE
    return validate_table(read_table(path), source=str(path))


def write_table(df: pd.DataFrame, path: str | os.PathLike[str]) -> Path:
    """Validate ``df`` and write it as a deterministic CSV, atomically.

    UTF-8, ``,``, LF, booleans ``true``/``false``, counts as integers, euro columns with 2 decimals, rows sorted
    by ``finess``, DESIGN.md column order then optional and extra columns. The same table always gives the
    same bytes.

    Returns
    -------
    Path
        The file written.
    """
    table = validate_table(df, source=str(path))
    return write_csv(table, path, money_columns=MONEY_COLUMNS)


def summarize_table(df: pd.DataFrame) -> str:
    """One line of counts for ``cyberbudget validate`` and the ``data`` commands.

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"status": ["public", "private_forprofit"], "ght": ["ARA-01", ""],
    ...                   "ose": [True, False], "medico_social": [False, False],
    ...                   "it_budget_eur": [1000.0, 0.0], "cyber_spend_eur": [60.0, 0.0],
    ...                   "beds": [10, 5], "places": [1, 0]})
    >>> summarize_table(t)
    '2 establishments (1 public, 0 private non-profit, 1 private for-profit; 0 medico-social), 16 beds and places, 1 GHT, 1 OSE, 1 with cyber spend >= 5 % of IT budget'
    """
    n = len(df)
    status = df["status"].astype(str)
    medico = int(df["medico_social"].astype(bool).sum()) if "medico_social" in df else 0
    ght = df["ght"].astype(str).replace("", np.nan).dropna().nunique() if "ght" in df else 0
    ose = int(df["ose"].astype(bool).sum()) if "ose" in df else 0
    it = df["it_budget_eur"].to_numpy(dtype="float64")
    cyber = df["cyber_spend_eur"].to_numpy(dtype="float64")
    with np.errstate(divide="ignore", invalid="ignore"):
        at_five = int(np.sum((it > 0) & (cyber / np.where(it > 0, it, 1.0) >= 0.05)))
    capacity = int(df["beds"].sum() + df["places"].sum())
    return (
        f"{n:,} establishments ({int((status == 'public').sum()):,} public, "
        f"{int((status == 'private_nonprofit').sum()):,} private non-profit, "
        f"{int((status == 'private_forprofit').sum()):,} private for-profit; {medico:,} medico-social), "
        f"{capacity:,} beds and places, {ght:,} GHT, {ose:,} OSE, "
        f"{at_five:,} with cyber spend >= 5 % of IT budget"
    )


# --------------------------------------------------------------------------------------------------------------
# SAE import
# --------------------------------------------------------------------------------------------------------------

def _read_sae(sae_dir: Path, name: str) -> pd.DataFrame:
    path = sae_dir / name
    if not path.exists():
        raise TableError(f"{path}: SAE file not found (expected {', '.join(_SAE_FILES)} in {sae_dir})",
                         source=str(path))
    df = read_table(path)
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _require(df: pd.DataFrame, columns: Iterable[str], path: Path) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise TableError(f"{path}: expected SAE columns {', '.join(missing)}, not found",
                         [Problem(f"{path}, column {c}", "required SAE column missing") for c in missing],
                         source=str(path))


def _num(series: pd.Series) -> np.ndarray:
    text = series.astype(str).str.strip().str.replace(",", ".", regex=False)
    return pd.to_numeric(text.where(text != "", None), errors="coerce").fillna(0).to_numpy(dtype="float64")


def normalize_name(text: str) -> str:
    """Upper-case ASCII words of a GHT name, without accents, punctuation or filler words ("GHT", "DE", ...).

    Examples
    --------
    >>> normalize_name("GHT Océan-Indien")
    'OCEAN INDIEN'
    """
    ascii_text = unicodedata.normalize("NFKD", str(text)).encode("ascii", "ignore").decode().upper()
    words = re.sub(r"[^A-Z0-9]+", " ", ascii_text).split()
    return " ".join(w for w in words if w not in _STOPWORDS)


def _capacities(sae_dir: Path) -> pd.DataFrame:
    mco = _read_sae(sae_dir, "MCO_2023r.csv")
    psy = _read_sae(sae_dir, "PSY_2023r.csv")
    ssr = _read_sae(sae_dir, "SSR_2023r.csv")
    usld = _read_sae(sae_dir, "USLD_2023r.csv")
    had = _read_sae(sae_dir, "HAD_2023r.csv")
    _require(mco, ("FI", "LIT_MCO", "PLA_MCO"), sae_dir / "MCO_2023r.csv")
    _require(psy, ("FI", "DIS", "CAP_HTP", "CAP_HDJ", "CAP_HDN"), sae_dir / "PSY_2023r.csv")
    _require(ssr, ("FI", "GDE", "LIT", "PLA"), sae_dir / "SSR_2023r.csv")
    _require(usld, ("FI", "LIT"), sae_dir / "USLD_2023r.csv")
    _require(had, ("FI", "PLATOT"), sae_dir / "HAD_2023r.csv")
    psy = psy[psy["DIS"].astype(str).str.strip() == "TOT"]
    ssr = ssr[ssr["GDE"].astype(str).str.strip() == "SSR_TOT"]
    zero = 0.0
    parts = [
        pd.DataFrame({"finess": mco["FI"], "beds": _num(mco["LIT_MCO"]), "places": _num(mco["PLA_MCO"]), "had": zero}),
        pd.DataFrame({"finess": psy["FI"], "beds": _num(psy["CAP_HTP"]),
                      "places": _num(psy["CAP_HDJ"]) + _num(psy["CAP_HDN"]), "had": zero}),
        pd.DataFrame({"finess": ssr["FI"], "beds": _num(ssr["LIT"]), "places": _num(ssr["PLA"]), "had": zero}),
        pd.DataFrame({"finess": usld["FI"], "beds": _num(usld["LIT"]), "places": zero, "had": zero}),
        pd.DataFrame({"finess": had["FI"], "beds": zero, "places": zero, "had": _num(had["PLATOT"])}),
    ]
    cap = pd.concat(parts, ignore_index=True)
    cap["finess"] = cap["finess"].astype(str).str.strip()
    cap = cap.groupby("finess", sort=True)[["beds", "places", "had"]].sum()
    return cap[(cap["beds"] + cap["places"] + cap["had"]) > 0].round().astype("int64")


def _ght_table(sae_dir: Path, codes: dict[str, Any]) -> pd.DataFrame:
    path = sae_dir / "GHT_2023r.csv"
    ght = _read_sae(sae_dir, "GHT_2023r.csv")
    count_cols = tuple(codes["ght_member_type"])
    _require(ght, ("NOM_COURT_GHT", "NOM_COMPLET_GHT") + count_cols, path)
    out = pd.DataFrame({"code": ght["NOM_COURT_GHT"].astype(str).str.strip().str.upper(),
                        "name": ght["NOM_COMPLET_GHT"].astype(str).str.strip()})
    out["key"] = out["name"].map(normalize_name)
    prefixes = codes["ght_prefix_regions"]
    regions = []
    problems = []
    for i, code in enumerate(out["code"]):
        prefix = code.split("-")[0]
        if prefix not in prefixes:
            problems.append(Problem(f"{path}, row {i + 2}, column NOM_COURT_GHT",
                                    f"expected a known region prefix ({', '.join(prefixes)}), found {code!r}"))
            regions.append([])
        else:
            regions.append(list(prefixes[prefix]))
    if problems:
        raise TableError(f"{path}: unknown GHT codes", problems, source=str(path))
    out["regions"] = regions
    for c in count_cols:
        out[c] = _num(ght[c]).astype("int64")
    return out


def _declared_ght(sae_dir: Path, ght: pd.DataFrame) -> dict[str, str]:
    """finess -> GHT code from ORG_A19..A22 (the first declared name that matches a GHT wins)."""
    org = _read_sae(sae_dir, "ORG_2023r.csv")
    _require(org, ("FI",) + _GHT_DECLARATION_COLUMNS, sae_dir / "ORG_2023r.csv")
    exact = dict(zip(ght["key"], ght["code"], strict=True))
    keys = list(exact)

    def match(name: str) -> str | None:
        key = normalize_name(name)
        if not key:
            return None
        if key in exact:
            return exact[key]
        # Declared names are often longer or shorter forms of the official one: accept a unique containment.
        words = set(key.split())
        hits = [k for k in keys if words >= set(k.split()) or words <= set(k.split())]
        return exact[hits[0]] if len(hits) == 1 else None

    out: dict[str, str] = {}
    cache: dict[str, str | None] = {}
    for row in org[["FI", *_GHT_DECLARATION_COLUMNS]].itertuples(index=False):
        finess = str(row[0]).strip()
        for name in row[1:]:
            name = str(name).strip()
            if not name:
                continue
            if name not in cache:
                cache[name] = match(name)
            if cache[name] is not None:
                out.setdefault(finess, cache[name])
                break
    return out


def assign_ght(table: pd.DataFrame, ght: pd.DataFrame, declared: dict[str, str] | None = None,
               type_map: dict[str, list[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """GHT membership of public establishments: declarations first, then a top-up by member counts.

    Parameters
    ----------
    table : DataFrame
        ``finess, region, status, category, beds, places`` (and optionally ``had_places``).
    ght : DataFrame
        One row per GHT: ``code``, ``regions`` (list of region codes), and member counts by type (the keys
        of ``type_map``).
    declared : dict, optional
        finess -> GHT code declared by the establishment; only public establishments become members.
    type_map : dict, optional
        Member-count column -> categories it counts (default: ``categories.yaml`` ``ght_member_type``).

    Returns
    -------
    (codes, topped_up)
        ``codes``: GHT code per row ("" outside any GHT); ``topped_up``: rows assigned by the top-up.

    Notes
    -----
    The top-up serves the GHT of a region in turn (round robin, in code order): each takes the largest
    (beds + places, then finess) undeclared public establishment of its region of a type it still lacks,
    until its counts are reached or no candidate is left.
    """
    if type_map is None:
        type_map = reference.load_reference("categories")["ght_member_type"]
    n = len(table)
    codes = np.full(n, "", dtype=object)
    public = table["status"].astype(str).to_numpy() == "public"
    finess = table["finess"].astype(str).to_numpy()
    known = set(ght["code"])
    for i in np.flatnonzero(public):
        code = (declared or {}).get(finess[i])
        if code in known:
            codes[i] = code
    topped = np.zeros(n, dtype=bool)
    category = table["category"].astype(str).to_numpy()
    region = table["region"].astype(str).to_numpy()
    size = (table["beds"].to_numpy(dtype="int64") + table["places"].to_numpy(dtype="int64"))
    cat_type = {c: t for t, cats in type_map.items() for c in cats}
    types = np.array([cat_type.get(c, "") for c in category], dtype=object)
    need: dict[tuple[str, str], int] = {}
    for row in ght.itertuples(index=False):
        for t in type_map:
            have = int(np.sum((codes == row.code) & (types == t)))
            need[(row.code, t)] = max(0, int(getattr(row, t)) - have)
    region_sets = {row.code: set(row.regions) for row in ght.itertuples(index=False)}
    all_regions = sorted({r for rs in region_sets.values() for r in rs})
    order = np.lexsort((finess, -size))  # largest first, ties by finess
    for reg in all_regions:
        ghts = sorted(code for code, rs in region_sets.items() if reg in rs)
        for t in type_map:
            pool = [i for i in order if public[i] and codes[i] == "" and region[i] == reg and types[i] == t]
            pos = 0
            while pos < len(pool):
                served = False
                for code in ghts:
                    if pos >= len(pool):
                        break
                    if need[(code, t)] > 0:
                        i = pool[pos]
                        codes[i] = code
                        topped[i] = True
                        need[(code, t)] -= 1
                        pos += 1
                        served = True
                if not served:
                    break
    return codes, topped


def ght_support(table: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """Support establishment of each GHT: its largest CHR/CHU member, else its largest member.

    Size is beds + places + HAD places; ties go to the smaller finess.
    """
    support = np.zeros(len(table), dtype=bool)
    finess = table["finess"].astype(str).to_numpy()
    category = table["category"].astype(str).to_numpy()
    had = table["had_places"].to_numpy(dtype="int64") if "had_places" in table else 0
    size = table["beds"].to_numpy(dtype="int64") + table["places"].to_numpy(dtype="int64") + had
    members: dict[str, list[int]] = {}
    for i, code in enumerate(codes):
        if code:
            members.setdefault(code, []).append(i)
    for rows in members.values():
        chu = [i for i in rows if category[i] == "chu"]
        pool = chu or rows
        best = min(pool, key=lambda i: (-size[i], finess[i]))
        support[best] = True
    return support


def _read_membership(path: str | os.PathLike[str], table: pd.DataFrame, ght_codes: set[str]) -> dict[str, str]:
    raw = read_table(path)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    source = str(path)
    if "finess" not in raw.columns or "ght" not in raw.columns:
        raise TableError(f"{source}: expected columns finess and ght, found {', '.join(raw.columns)}",
                         source=source)
    status = dict(zip(table["finess"], table["status"], strict=True))
    problems: list[Problem] = []
    out: dict[str, str] = {}
    for i, (f, g) in enumerate(zip(raw["finess"].astype(str).str.strip(), raw["ght"].astype(str).str.strip().str.upper(),
                                   strict=True)):
        row = i + 2
        if f in out:
            problems.append(Problem(f"{source}, row {row}, column finess", f"expected each finess once, found {f!r} again"))
        elif f not in status:
            problems.append(Problem(f"{source}, row {row}, column finess",
                                    f"expected a finess of the SAE registry, found {f!r} (unknown establishment)"))
        elif g and g not in ght_codes:
            problems.append(Problem(f"{source}, row {row}, column ght",
                                    f"expected one of the 135 GHT short codes (e.g. ARA-01), found {g!r}"))
        elif g and status[f] != "public":
            problems.append(Problem(f"{source}, row {row}, column ght",
                                    f"expected a public establishment (GHT members are public), found {status[f]}"))
        else:
            out[f] = g
    if problems:
        raise TableError(f"{source}: {len(problems)} problem(s) in the GHT membership file", problems[:50],
                         source=source)
    return out


def sae_registry(sae_dir: str | os.PathLike[str] = config.SAE_DIR) -> pd.DataFrame:
    """Identity and capacity rows of the SAE 2023 files, before GHT and budgets.

    One row per establishment (``ID_2023r.csv`` ``fi``) with beds, places or HAD places: ``finess, name,
    region, department, status, category, beds, places, had_places``, plus the SAE ``catr`` and ``cat``.
    Mapping rules: ``data/reference/categories.yaml``.
    """
    sae_dir = Path(sae_dir)
    if not sae_dir.is_dir():
        raise TableError(f"{sae_dir}: SAE folder not found (expected {', '.join(_SAE_FILES)})", source=str(sae_dir))
    codes = reference.load_reference("categories")
    ident = _read_sae(sae_dir, "ID_2023r.csv")
    _require(ident, ("fi", "rs", "stjr", "cat", "catr", "reg", "dep"), sae_dir / "ID_2023r.csv")
    ident = ident.assign(fi=ident["fi"].astype(str).str.strip()).drop_duplicates("fi").set_index("fi")
    cap = _capacities(sae_dir)
    unknown = sorted(set(cap.index) - set(ident.index))
    if unknown:
        raise TableError(f"{sae_dir}: {len(unknown)} establishment(s) with capacity missing from ID_2023r.csv "
                         f"(first: {', '.join(unknown[:5])})", source=str(sae_dir))
    rows = ident.loc[cap.index]
    stjr = rows["stjr"].astype(str).str.strip()
    status = stjr.map(codes["status"])
    catr = rows["catr"].astype(str).str.strip()
    cat = rows["cat"].astype(str).str.strip()
    category = catr.map(codes["catr"])
    category = category.where(~cat.isin(codes["had_cat"]), "had")
    only_had = ((cap["beds"] + cap["places"]) == 0) & (cap["had"] > 0)
    category = category.where(~only_had.to_numpy(), "had")
    problems = []
    for i, (f, s, c) in enumerate(zip(rows.index, status, category, strict=True)):
        if pd.isna(s):
            problems.append(Problem(f"ID_2023r.csv, finess {f}, column stjr",
                                    f"expected 1, 2 or 3, found {stjr.iloc[i]!r}"))
        if pd.isna(c):
            problems.append(Problem(f"ID_2023r.csv, finess {f}, column catr",
                                    f"expected a code of categories.yaml, found {catr.iloc[i]!r}"))
    if problems:
        raise TableError(f"{sae_dir}: codes not in data/reference/categories.yaml", problems[:50], source=str(sae_dir))
    dep = rows["dep"].astype(str).str.strip().replace(codes["department"])
    region = rows["reg"].astype(str).str.strip().str.zfill(2)
    return pd.DataFrame({
        "finess": cap.index.to_numpy(dtype=object),
        "name": rows["rs"].astype(str).str.strip().to_numpy(dtype=object),
        "region": region.to_numpy(dtype=object),
        "department": dep.to_numpy(dtype=object),
        "status": status.to_numpy(dtype=object),
        "category": category.to_numpy(dtype=object),
        "beds": cap["beds"].to_numpy(dtype="int64"),
        "places": cap["places"].to_numpy(dtype="int64"),
        "had_places": cap["had"].to_numpy(dtype="int64"),
        "catr": catr.to_numpy(dtype=object),
        "cat": cat.to_numpy(dtype=object),
    })


def import_sae(sae_dir: str | os.PathLike[str], ght_membership: str | os.PathLike[str] | None = None,
               overrides: str | os.PathLike[str] | None = None, seed: int = config.DEFAULT_SEED) -> pd.DataFrame:
    """Build the real establishment registry from the DREES SAE 2023 files.

    Parameters
    ----------
    sae_dir : str or PathLike
        Folder with ``ID_2023r.csv``, ``MCO``, ``PSY``, ``SSR``, ``USLD``, ``HAD``, ``GHT`` and ``ORG`` files
        (``;``-separated, Latin-1, as published).
    ght_membership : path, optional
        Table with columns ``finess, ght`` (e.g. from the official DGOS list): when given it *is* the
        membership (declarations and top-up are not used); an empty ``ght`` cell means no GHT.
    overrides : path, optional
        Real budgets for some establishments (see :func:`cyberbudget.data.finance.apply_overrides`).
    seed : int
        Seed of the budget imputation.

    Returns
    -------
    DataFrame
        The validated table: one row per establishment with beds, places or HAD places (3,126 in 2023: the
        2,962 with beds or places and 164 with HAD places only, category ``had``). Capacities: MCO
        ``LIT_MCO``/``PLA_MCO``; PSY rows ``DIS == 'TOT'`` ``CAP_HTP`` beds, ``CAP_HDJ + CAP_HDN`` places; SSR
        rows ``GDE == 'SSR_TOT'`` ``LIT``/``PLA``; USLD ``LIT``; HAD ``PLATOT``. GHT: the first GHT an
        establishment names in ``ORG_A19``-``ORG_A22`` (public establishments only), then a top-up to the
        member counts of ``GHT_2023r.csv`` (flagged ``ght`` in ``imputed``); support = largest CHR/CHU member,
        else largest member; ``ght_support = ose = True``. Budgets imputed (flagged) unless overridden.
    """
    sae_dir = Path(sae_dir)
    codes = reference.load_reference("categories")
    table = sae_registry(sae_dir)
    ght = _ght_table(sae_dir, codes)
    if ght_membership is not None:
        membership = _read_membership(ght_membership, table, set(ght["code"]))
        ght_codes = np.array([membership.get(f, "") for f in table["finess"]], dtype=object)
        topped = np.zeros(len(table), dtype=bool)
    else:
        declared = _declared_ght(sae_dir, ght)
        ght_codes, topped = assign_ght(table, ght, declared, codes["ght_member_type"])
    support = ght_support(table, ght_codes)
    table = table.drop(columns=["catr", "cat"])
    table["ght"] = ght_codes
    table["ght_support"] = support
    table["ose"] = support.copy()
    table["medico_social"] = False
    table["imputed"] = np.where(topped, "ght", "")
    table = finance.impute_budgets(table, seed=seed)
    table = validate_table(table[list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)], source=f"SAE import of {sae_dir}")
    if overrides is not None:
        table = finance.apply_overrides(table, overrides)
    return table


# --------------------------------------------------------------------------------------------------------------
# Marginals and the synthetic table
# --------------------------------------------------------------------------------------------------------------

#: Quantile levels stored per category x status for beds, places and HAD places.
QUANTILE_LEVELS: tuple[float, ...] = tuple(round(q, 3) for q in np.linspace(0, 1, 41))


def sae_marginals(sae_dir: str | os.PathLike[str] = config.SAE_DIR) -> dict[str, Any]:
    """Aggregates of the SAE import that :func:`synthesize` reproduces (no FINESS, no name).

    Returns
    -------
    dict
        ``counts``: establishments by region x status x category; ``departments``: by region x department;
        ``capacity``: per category x status, the number of establishments, total beds, places and HAD places
        and their quantiles at :data:`QUANTILE_LEVELS`; ``ght``: the 135 GHT (public short code, regions,
        member counts by type, members obtained by the import).
    """
    sae_dir = Path(sae_dir)
    table = import_sae(sae_dir)
    codes = reference.load_reference("categories")
    ght = _ght_table(sae_dir, codes)
    counts = (table.groupby(["region", "status", "category"]).size().reset_index(name="n")
              .sort_values(["region", "status", "category"]))
    deps = table.groupby(["region", "department"]).size().reset_index(name="n").sort_values(["region", "department"])
    capacity = []
    for (cat, st), grp in table.groupby(["category", "status"], sort=True):
        entry: dict[str, Any] = {"category": cat, "status": st, "n": len(grp)}
        for col in ("beds", "places", "had_places"):
            v = grp[col].to_numpy(dtype="float64")
            entry[f"{col}_total"] = int(v.sum())
            entry[f"{col}_quantiles"] = [round(float(x), 1) for x in np.quantile(v, QUANTILE_LEVELS)]
        capacity.append(entry)
    members = table[table["ght"] != ""].groupby("ght").size()
    ghts = []
    for row in ght.itertuples(index=False):
        ghts.append({
            "code": row.code, "regions": list(row.regions),
            **{t: int(getattr(row, t)) for t in codes["ght_member_type"]},
            "members_in_import": int(members.get(row.code, 0)),
        })
    return {
        "counts": [[r.region, r.status, r.category, int(r.n)] for r in counts.itertuples(index=False)],
        "departments": [[r.region, r.department, int(r.n)] for r in deps.itertuples(index=False)],
        "capacity": capacity,
        "ght": ghts,
        "totals": {
            "establishments": len(table),
            "with_beds_or_places": int(((table["beds"] + table["places"]) > 0).sum()),
            "beds": int(table["beds"].sum()), "places": int(table["places"].sum()),
            "had_places": int(table["had_places"].sum()),
        },
    }


def write_marginals(sae_dir: str | os.PathLike[str] = config.SAE_DIR, path: str | os.PathLike[str] | None = None) -> Path:
    """Compute :func:`sae_marginals` and write them to ``data/reference/sae2023_marginals.yaml``."""
    path = Path(path) if path is not None else reference.reference_path(MARGINALS_NAME)
    data = sae_marginals(sae_dir)
    header = {
        "kind": "aggregates",
        "description": "Aggregates of the DREES SAE 2023 registry (cyberbudget.data.registry.import_sae) from which "
                       "the synthetic default table is drawn. No FINESS and no name: counts, capacity totals "
                       "and quantiles, GHT short codes and member counts. Regenerate with "
                       "`python -c 'from cyberbudget.data.registry import write_marginals; write_marginals()'`.",
        "source": "DREES, SAE 2023 bases statistiques (ID, MCO, PSY, SSR, USLD, HAD, GHT, ORG files), Licence Ouverte",
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


def _stratified_capacity(quantiles: list[float], total: int, u: np.ndarray) -> np.ndarray:
    """Values at levels ``u`` of the piecewise-linear quantile function, rescaled to sum to ``total``."""
    values = np.interp(u, QUANTILE_LEVELS, np.asarray(quantiles, dtype="float64"))
    if total <= 0:
        return np.zeros(len(u), dtype="int64")
    positive = values > 0
    if not positive.any():
        values = np.ones(len(u))
        positive = values > 0
    scaled = _hamilton(np.where(positive, values, 0.0), total)
    return scaled


def _synthetic_finess(departments: np.ndarray, block: str) -> np.ndarray:
    """``<department><block><sequence>``: 2-character departments + block + 5 digits; overseas ``97d`` + 4."""
    out = np.empty(len(departments), dtype=object)
    counters: dict[str, int] = {}
    for i, dep in enumerate(departments):
        counters[dep] = counters.get(dep, 0) + 1
        k = counters[dep]
        if len(dep) == 3:
            out[i] = f"{dep}{block}{k:04d}"
        else:
            out[i] = f"{dep}{block}{k:05d}"
    return out


def synthesize(seed: int = config.DEFAULT_SEED, medico_social: bool = False) -> pd.DataFrame:
    """Generate the synthetic establishment table (the committed default).

    Parameters
    ----------
    seed : int
        All draws derive from ``numpy.random.SeedSequence(seed)``: the same seed gives the same table, byte
        for byte once written with :func:`write_table`.
    medico_social : bool
        Also generate the medico-social layer (about 35,000 ESMS of which about 7,500 EHPAD, calibrated from
        ``data/reference/medico_social.yaml``), ``medico_social = true``.

    Returns
    -------
    DataFrame
        The validated table. Hospitals: exactly the SAE 2023 counts by region x status x category
        (``sae2023_marginals.yaml``), capacities drawn per category x status from the SAE quantiles at
        stratified levels and rescaled to the SAE totals, departments in proportion to the SAE counts of each
        region, the 135 GHT filled to their member counts by type (support = largest CHR/CHU member, else
        largest member; OSE), budgets imputed. Names ``Établissement synthétique NNNN``; FINESS
        ``<department>99<number>`` (medico-social: ``98``), none of which is a real FINESS. Every row's
        ``imputed`` holds the token ``synthetic``.
    """
    marg = reference.load_reference(MARGINALS_NAME)
    codes = reference.load_reference("categories")
    root = np.random.SeedSequence(int(seed))
    ss_layout, ss_capacity, ss_budget, ss_medico = root.spawn(4)
    rng = np.random.default_rng(ss_layout)

    rows = []
    for region, status, category, n in marg["counts"]:
        rows.extend([(region, status, category)] * int(n))
    table = pd.DataFrame(rows, columns=["region", "status", "category"])

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

    # Capacities per category x status.
    cap_rng = np.random.default_rng(ss_capacity)
    for col in ("beds", "places", "had_places"):
        table[col] = 0
    for entry in marg["capacity"]:
        mask = (table["category"] == entry["category"]) & (table["status"] == entry["status"])
        idx = np.flatnonzero(mask.to_numpy())
        n = len(idx)
        if n == 0:
            continue
        u = (np.arange(n) + 0.5) / n
        order = cap_rng.permutation(n)
        u_beds = u[order]
        # Places and HAD places follow the establishment's size with noise (large hospitals have more of both).
        u_places = np.clip(u_beds + cap_rng.normal(0, 0.15, n), 0, 1)
        u_had = cap_rng.permutation(u)
        beds = _stratified_capacity(entry["beds_quantiles"], entry["beds_total"], u_beds)
        places = _stratified_capacity(entry["places_quantiles"], entry["places_total"], np.sort(u_places))
        places = places[np.argsort(np.argsort(u_places, kind="stable"), kind="stable")]
        had = _stratified_capacity(entry["had_places_quantiles"], entry["had_places_total"], np.sort(u_had))
        had = had[np.argsort(np.argsort(u_had, kind="stable"), kind="stable")]
        # Every non-HAD row has beds or places (HAD rows: HAD places), as in the SAE selection; the units
        # given to empty rows are taken from the largest rows so that the totals stay those of the SAE.
        fill = places if entry["category"] != "had" else had
        empty = ((beds + places) if entry["category"] != "had" else (beds + places + had)) == 0
        for _ in range(int(empty.sum())):
            donor = int(np.argmax(fill))
            if fill[donor] <= 1:
                break
            fill[donor] -= 1
        fill[empty] = 1
        table.loc[table.index[idx], "beds"] = beds
        table.loc[table.index[idx], "places"] = places
        table.loc[table.index[idx], "had_places"] = had

    # Identifiers: ordered by department then by size, so numbers look like a register.
    table = table.sort_values(["department", "category", "status", "beds"], kind="stable").reset_index(drop=True)
    table["finess"] = _synthetic_finess(table["department"].to_numpy(dtype=object), "99")
    table["medico_social"] = False

    if medico_social:
        table = pd.concat([table, _synthesize_medico_social(ss_medico, table, marg)], ignore_index=True)

    table = table.sort_values("finess", kind="stable").reset_index(drop=True)
    table["name"] = [f"Établissement synthétique {i + 1:0{max(4, len(str(len(table))))}d}" for i in range(len(table))]

    ght = pd.DataFrame(marg["ght"])
    hospitals = ~table["medico_social"].to_numpy(dtype=bool)
    codes_h, _ = assign_ght(table[hospitals].reset_index(drop=True), ght, None, codes["ght_member_type"])
    ght_codes = np.full(len(table), "", dtype=object)
    ght_codes[hospitals] = codes_h
    support = ght_support(table, ght_codes)
    table["ght"] = ght_codes
    table["ght_support"] = support
    table["ose"] = support.copy()
    table["imputed"] = SYNTHETIC_TOKEN
    budget_seed = int(ss_budget.generate_state(1, dtype=np.uint32)[0])
    table = finance.impute_budgets(table, seed=budget_seed)
    table = table[list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)]
    return validate_table(table, source=f"synthetic table (seed {seed})")


def _synthesize_medico_social(ss: np.random.SeedSequence, hospitals: pd.DataFrame, marg: dict[str, Any]) -> pd.DataFrame:
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
    table["medico_social"] = True
    return table
