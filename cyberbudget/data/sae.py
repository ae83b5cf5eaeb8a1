"""The real registry from the DREES SAE 2023 open-data files (Statistique annuelle des établissements de santé).

DREES publishes the SAE "bases statistiques" every year as open data (Licence Ouverte): one ``;``-separated,
Latin-1 file per questionnaire. :func:`import_sae` reads the files of :data:`SAE_FILES` from one folder and
builds one row per SAE entity (FINESS of the site) that has beds, day places, HAD places, dialysis stations or
staff, with its legal entity, GHT membership, capacities, staff and imputed budgets.

Mapping rules are in ``data/reference/categories.yaml``; budget figures in ``data/reference/finance.yaml``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cyberbudget import config
from cyberbudget.data import finance, reference
from cyberbudget.data.ght import assign_ght, ght_support, legal_entities, normalize_name
from cyberbudget.data.schema import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, validate_table
from cyberbudget.data.tableio import read_table
from cyberbudget.errors import Problem, TableError

__all__ = ["SAE_FILES", "import_sae", "sae_registry"]

#: The SAE 2023 files the import reads.
SAE_FILES: tuple[str, ...] = (
    "ID_2023r.csv", "MCO_2023r.csv", "PSY_2023r.csv", "SSR_2023r.csv", "USLD_2023r.csv", "HAD_2023r.csv",
    "DIALYSE_2023r.csv", "Q20_2023r.csv", "Q24_2023r.csv", "GHT_2023r.csv", "ORG_2023r.csv",
)
_GHT_DECLARATION_COLUMNS = ("ORG_A19", "ORG_A20", "ORG_A21", "ORG_A22")
#: Staff rows holding the totals: all medical staff (Q20) and all disciplines (Q24).
MEDICAL_TOTAL, NON_MEDICAL_TOTAL = "M9999", "9999"
#: DIALYSE rows holding other totals (stations are on the per-kind rows).
DIALYSIS_TOTAL = "TOT"


def _read_sae(sae_dir: Path, name: str) -> pd.DataFrame:
    path = sae_dir / name
    if not path.exists():
        raise TableError(f"{path}: SAE file not found (expected {', '.join(SAE_FILES)} in {sae_dir})",
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


def _key(series: pd.Series) -> pd.Series:
    return series.astype(str).str.strip()


def _capacities(sae_dir: Path) -> pd.DataFrame:
    """Beds, places and HAD places per FINESS (rows with any), from MCO, PSY, SSR, USLD and HAD."""
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
    psy = psy[_key(psy["DIS"]) == "TOT"]
    ssr = ssr[_key(ssr["GDE"]) == "SSR_TOT"]
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
    cap["finess"] = _key(cap["finess"])
    cap = cap.groupby("finess", sort=True)[["beds", "places", "had"]].sum()
    return cap[(cap["beds"] + cap["places"] + cap["had"]) > 0].round().astype("int64")


def _staff(sae_dir: Path) -> pd.DataFrame:
    """Staff per FINESS: salaried medical FTE and headcount, self-employed medical headcount (Q20, ``M9999``) and
    non-medical FTE (Q24, ``9999``)."""
    q20 = _read_sae(sae_dir, "Q20_2023r.csv")
    q24 = _read_sae(sae_dir, "Q24_2023r.csv")
    _require(q20, ("FI", "PERSO", "EFFSAL", "ETPSAL", "EFFLIB"), sae_dir / "Q20_2023r.csv")
    _require(q24, ("FI", "DISCI", "ETPPNM"), sae_dir / "Q24_2023r.csv")
    q20 = q20[_key(q20["PERSO"]) == MEDICAL_TOTAL]
    q24 = q24[_key(q24["DISCI"]) == NON_MEDICAL_TOTAL]
    medical = pd.DataFrame({"finess": _key(q20["FI"]), "medical_salaried": _num(q20["EFFSAL"]),
                            "medical_fte": _num(q20["ETPSAL"]), "medical_self_employed": _num(q20["EFFLIB"])})
    non_medical = pd.DataFrame({"finess": _key(q24["FI"]), "non_medical_fte": _num(q24["ETPPNM"])})
    staff = pd.concat([medical.groupby("finess").sum(), non_medical.groupby("finess").sum()], axis=1).fillna(0.0)
    return staff.sort_index()


def _stations(sae_dir: Path) -> pd.Series:
    """Dialysis stations per FINESS: ``CAPA`` summed over the per-kind rows of DIALYSE (``DIALY != 'TOT'``)."""
    dia = _read_sae(sae_dir, "DIALYSE_2023r.csv")
    _require(dia, ("FI", "DIALY", "CAPA"), sae_dir / "DIALYSE_2023r.csv")
    kinds = dia[_key(dia["DIALY"]) != DIALYSIS_TOTAL]
    stations = pd.Series(_num(kinds["CAPA"]), index=_key(kinds["FI"]).to_numpy()).groupby(level=0).sum()
    return stations[stations > 0].round().astype("int64")


def sae_registry(sae_dir: str | os.PathLike[str] = config.SAE_DIR) -> pd.DataFrame:
    """Identity, capacity and staff rows of the SAE 2023 files, before GHT and budgets.

    One row per entity of ``ID_2023r.csv`` (``fi``) with beds, places, HAD places, dialysis stations or staff:
    ``finess, finess_ej, name, region, department, status, category, beds, places, had_places,
    dialysis_stations, staff_fte, medical_fte, headcount``, plus the SAE ``catr`` and ``cat``.

    Notes
    -----
    Capacities: MCO ``LIT_MCO``/``PLA_MCO``; PSY rows ``DIS == 'TOT'`` ``CAP_HTP`` beds, ``CAP_HDJ + CAP_HDN``
    places; SSR rows ``GDE == 'SSR_TOT'`` ``LIT``/``PLA``; USLD ``LIT``; HAD ``PLATOT``; DIALYSE ``CAPA`` summed
    over the per-kind rows. Staff: Q20 rows ``PERSO == 'M9999'`` (``ETPSAL`` salaried medical FTE, ``EFFSAL``
    salaried and ``EFFLIB`` self-employed medical headcounts), Q24 rows ``DISCI == '9999'`` (``ETPPNM``
    non-medical FTE). ``staff_fte = ETPSAL + ETPPNM`` and ``medical_fte = ETPSAL`` (2 decimals);
    ``headcount = EFFSAL + EFFLIB + ETPPNM`` rounded half up: the salaried plus self-employed staff the CaRE
    programme sizes establishments by, with non-medical FTE standing for their headcount (the SAE publishes no
    non-medical headcount) - the closest public proxy. An entity has staff when any of the four is positive.

    Categories: an entity whose only capacity is HAD places, or of FINESS category 127, is ``had``; otherwise
    ``catr`` maps through ``categories.yaml`` (``PNL5``/``PLU5`` -> ``dialysis``; a cancer centre's
    radiotherapy site stays ``clcc``). ``finess_ej`` is ``fi_ej``.
    """
    sae_dir = Path(sae_dir)
    if not sae_dir.is_dir():
        raise TableError(f"{sae_dir}: SAE folder not found (expected {', '.join(SAE_FILES)})", source=str(sae_dir))
    codes = reference.load_reference("categories")
    ident = _read_sae(sae_dir, "ID_2023r.csv")
    _require(ident, ("fi", "fi_ej", "rs", "stjr", "cat", "catr", "reg", "dep"), sae_dir / "ID_2023r.csv")
    ident = ident.assign(fi=_key(ident["fi"])).drop_duplicates("fi").set_index("fi")
    cap = _capacities(sae_dir)
    staff = _staff(sae_dir)
    stations = _stations(sae_dir)
    staff_any = staff[(staff > 0).any(axis=1)]
    keys = sorted(set(cap.index) | set(stations.index) | set(staff_any.index))
    unknown = [k for k in keys if k not in ident.index]
    if unknown:
        raise TableError(f"{sae_dir}: {len(unknown)} entit{'ies' if len(unknown) > 1 else 'y'} with capacity, "
                         f"stations or staff missing from ID_2023r.csv (first: {', '.join(unknown[:5])})",
                         source=str(sae_dir))
    index = pd.Index(keys, name="finess")
    cap = cap.reindex(index, fill_value=0)
    staff = staff.reindex(index, fill_value=0.0)
    stations = stations.reindex(index, fill_value=0)
    rows = ident.loc[index]
    stjr = _key(rows["stjr"])
    status = stjr.map(codes["status"])
    catr = _key(rows["catr"])
    cat = _key(rows["cat"])
    category = catr.map(codes["catr"])
    category = category.where(~cat.isin(codes["had_cat"]), "had")
    only_had = ((cap["beds"] + cap["places"]) == 0) & (cap["had"] > 0)
    category = category.where(~only_had.to_numpy(), "had")
    problems = []
    for i, (f, s, c) in enumerate(zip(rows.index, status, category, strict=True)):
        if pd.isna(s):
            problems.append(Problem(f"ID_2023r.csv, finess {f}, column stjr", f"expected 1, 2 or 3, found {stjr.iloc[i]!r}"))
        if pd.isna(c):
            problems.append(Problem(f"ID_2023r.csv, finess {f}, column catr",
                                    f"expected a code of categories.yaml, found {catr.iloc[i]!r}"))
    if problems:
        raise TableError(f"{sae_dir}: codes not in data/reference/categories.yaml", problems[:50], source=str(sae_dir))
    dep = _key(rows["dep"]).replace(codes["department"])
    region = _key(rows["reg"]).str.zfill(2)
    ej = _key(rows["fi_ej"])
    medical_fte = np.round(staff["medical_fte"].to_numpy(), 2)
    staff_fte = np.round(staff["medical_fte"].to_numpy() + staff["non_medical_fte"].to_numpy(), 2)
    non_medical_hundredths = np.round(staff["non_medical_fte"].to_numpy() * 100).astype("int64")
    headcount = (np.round(staff["medical_salaried"].to_numpy() + staff["medical_self_employed"].to_numpy())
                 .astype("int64") + (non_medical_hundredths + 50) // 100)
    return pd.DataFrame({
        "finess": index.to_numpy(dtype=object),
        "finess_ej": np.where(ej == "", index.to_numpy(dtype=object), ej.to_numpy(dtype=object)),
        "name": _key(rows["rs"]).to_numpy(dtype=object),
        "region": region.to_numpy(dtype=object),
        "department": dep.to_numpy(dtype=object),
        "status": status.to_numpy(dtype=object),
        "category": category.to_numpy(dtype=object),
        "beds": cap["beds"].to_numpy(dtype="int64"),
        "places": cap["places"].to_numpy(dtype="int64"),
        "had_places": cap["had"].to_numpy(dtype="int64"),
        "dialysis_stations": stations.to_numpy(dtype="int64"),
        "staff_fte": staff_fte,
        "medical_fte": medical_fte,
        "headcount": headcount,
        "catr": catr.to_numpy(dtype=object),
        "cat": cat.to_numpy(dtype=object),
    })


def ght_table(sae_dir: str | os.PathLike[str], codes: dict[str, Any] | None = None) -> pd.DataFrame:
    """The 135 GHT of ``GHT_2023r.csv``: ``code`` (short code, upper case), ``name``, ``key`` (normalised name),
    ``regions`` and the member counts by type (``categories.yaml`` ``ght_member_type``)."""
    sae_dir = Path(sae_dir)
    codes = codes if codes is not None else reference.load_reference("categories")
    path = sae_dir / "GHT_2023r.csv"
    ght = _read_sae(sae_dir, "GHT_2023r.csv")
    count_cols = tuple(codes["ght_member_type"])
    _require(ght, ("NOM_COURT_GHT", "NOM_COMPLET_GHT") + count_cols, path)
    out = pd.DataFrame({"code": _key(ght["NOM_COURT_GHT"]).str.upper(), "name": _key(ght["NOM_COMPLET_GHT"])})
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


def declared_ght(sae_dir: str | os.PathLike[str], ght: pd.DataFrame) -> dict[str, str]:
    """finess -> GHT code from ``ORG_A19``-``ORG_A22`` (the first declared name that matches a GHT wins)."""
    sae_dir = Path(sae_dir)
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


def read_membership(path: str | os.PathLike[str], table: pd.DataFrame, ght_codes: set[str]) -> np.ndarray:
    """GHT code per row of ``table`` from a membership file (``finess,ght``), one GHT per legal entity.

    A row of the file may name a site (its ``finess``) or a legal entity (its ``finess_ej``); either way the GHT
    applies to every public site of the legal entity. An empty ``ght`` cell means no GHT.

    Raises
    ------
    TableError
        Naming the file, row and column: missing columns, an unknown or repeated FINESS, an unknown GHT code, a
        non-public establishment, or two rows giving one legal entity different GHT.
    """
    raw = read_table(path)
    raw.columns = [str(c).strip().lower() for c in raw.columns]
    source = str(path)
    if "finess" not in raw.columns or "ght" not in raw.columns:
        raise TableError(f"{source}: expected columns finess and ght, found {', '.join(raw.columns)}", source=source)
    finess = table["finess"].astype(str).to_numpy()
    status = table["status"].astype(str).to_numpy()
    ej = legal_entities(table)
    site = {f: i for i, f in enumerate(finess)}
    entity_public = {e for e, s in zip(ej, status, strict=True) if s == "public"}
    entities = set(ej)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    chosen: dict[str, tuple[str, int]] = {}
    for i, (f, g) in enumerate(zip(raw["finess"].astype(str).str.strip(),
                                   raw["ght"].astype(str).str.strip().str.upper(), strict=True)):
        row = i + 2
        if f in seen:
            problems.append(Problem(f"{source}, row {row}, column finess",
                                    f"expected each finess once, found {f!r} also on row {seen[f]}"))
            continue
        seen[f] = row
        if f in site:
            entity, public = ej[site[f]], status[site[f]] == "public"
            what = status[site[f]]
        elif f in entities:
            entity, public, what = f, f in entity_public, "a legal entity without public sites"
        else:
            fixed = "0" + f if len(f) == 8 and f.isdigit() and ("0" + f in site or "0" + f in entities) else None
            hint = f": did you mean {fixed}?" if fixed else " (unknown establishment)"
            problems.append(Problem(f"{source}, row {row}, column finess",
                                    f"expected a finess or finess_ej of the SAE registry, found {f!r}{hint}"))
            continue
        if not g and not public:
            continue  # a non-public site outside any GHT says nothing about its legal entity's public sites
        if g and g not in ght_codes:
            problems.append(Problem(f"{source}, row {row}, column ght",
                                    f"expected one of the 135 GHT short codes (e.g. ARA-01), found {g!r}"))
        elif g and not public:
            problems.append(Problem(f"{source}, row {row}, column ght",
                                    f"expected a public establishment (GHT members are public), found {what}"))
        elif entity in chosen and chosen[entity][0] != g:
            problems.append(Problem(f"{source}, row {row}, column ght",
                                    f"expected {chosen[entity][0] or 'no GHT'} like row {chosen[entity][1]} (a GHT "
                                    f"is a property of the legal entity {entity}), found {g or 'no GHT'}"))
        else:
            chosen.setdefault(entity, (g, row))
    if problems:
        raise TableError(f"{source}: {len(problems)} problem(s) in the GHT membership file", problems[:50],
                         source=source)
    return np.array([chosen.get(e, ("", 0))[0] if s == "public" else "" for e, s in zip(ej, status, strict=True)],
                    dtype=object)


def import_sae(sae_dir: str | os.PathLike[str], ght_membership: str | os.PathLike[str] | None = None,
               overrides: str | os.PathLike[str] | None = None, seed: int = config.DEFAULT_SEED) -> pd.DataFrame:
    """Build the real establishment registry from the DREES SAE 2023 files.

    Parameters
    ----------
    sae_dir : str or PathLike
        Folder with the files of :data:`SAE_FILES` (``;``-separated, Latin-1, as published).
    ght_membership : path, optional
        Table with columns ``finess, ght`` (e.g. from the official DGOS list; ``finess`` a site or a legal
        entity): when given it *is* the membership (declarations and top-up are not used).
    overrides : path, optional
        Real budgets for some establishments or legal entities (see
        :func:`cyberbudget.data.overrides.apply_overrides`).
    seed : int
        Seed of the budget imputation.

    Returns
    -------
    DataFrame
        The validated table, one row per SAE entity with beds, places, HAD places, dialysis stations or staff
        (3,913 in 2023: the 2,962 with beds or places, 164 with HAD places only, 787 with dialysis stations or
        staff only, of which 634 dialysis entities), with ``finess_ej``, ``ght_name``, ``staff_fte``,
        ``medical_fte``, ``headcount`` and ``dialysis_stations`` (see :func:`sae_registry`).

    Notes
    -----
    GHT: a public site's declaration in ``ORG_A19``-``ORG_A22`` names its GHT; the legal entity joins the GHT
    most of its public sites declare, with all its public sites; then each GHT is topped up to the member counts
    by type of ``GHT_2023r.csv`` with undeclared public legal entities of its region (flagged ``ght`` in
    ``imputed``); see :func:`cyberbudget.data.ght.assign_ght`. The support establishment is the largest site of
    the GHT's largest member by staff (:func:`cyberbudget.data.ght.ght_support`); ``ght_support = ose = True``.
    ``ght_name`` is the GHT's ``NOM_COMPLET_GHT``. Budgets are imputed (flagged) unless overridden.
    """
    sae_dir = Path(sae_dir)
    codes = reference.load_reference("categories")
    table = sae_registry(sae_dir)
    ght = ght_table(sae_dir, codes)
    if ght_membership is not None:
        ght_codes = read_membership(ght_membership, table, set(ght["code"]))
        topped = np.zeros(len(table), dtype=bool)
    else:
        declared = declared_ght(sae_dir, ght)
        ght_codes, topped = assign_ght(table, ght, declared, codes["ght_member_type"])
    support = ght_support(table, ght_codes)
    names = dict(zip(ght["code"], ght["name"], strict=True))
    table = table.drop(columns=["catr", "cat"])
    table["ght"] = ght_codes
    table["ght_name"] = [names.get(c, "") for c in ght_codes]
    table["ght_support"] = support
    table["ose"] = support.copy()
    table["medico_social"] = False
    table["imputed"] = np.where(topped, "ght", "")
    table = finance.impute_budgets(table, seed=seed)
    table = validate_table(table[list(REQUIRED_COLUMNS) + list(OPTIONAL_COLUMNS)], source=f"SAE import of {sae_dir}")
    if overrides is not None:
        table = finance.apply_overrides(table, overrides)
    return table
