"""GHT membership and support establishments, at the level of the legal entity.

A GHT (groupement hospitalier de territoire) groups public health establishments; its members are legal entities
(entités juridiques, ``finess_ej``), so all public sites of one legal entity share its GHT. The functions below
work on an establishment table whose rows are sites (``finess``) tied to their legal entity by ``finess_ej``
(absent: each site is its own legal entity):

- :func:`assign_ght`: membership from declarations (a site names its GHT), lifted to the legal entity, then a
  top-up of each GHT to its published member counts by type from undeclared public legal entities of its region;
- :func:`ght_support`: the support establishment of each GHT, a site of its largest member.

Size, wherever it ranks legal entities or sites, is salaried staff (``staff_fte``), else beds and places
(``beds + places``), then HAD places; ties go to the smaller FINESS.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import numpy as np
import pandas as pd

from cyberbudget.data import reference

__all__ = ["assign_ght", "ght_support", "legal_entities", "normalize_name", "size_order"]

_STOPWORDS = frozenset({"GHT", "GROUPEMENT", "HOSPITALIER", "HOSPITALIERE", "TERRITOIRE", "DE", "DU", "DES", "LA",
                        "LE", "LES", "L", "D", "ET", "EN", "SUR", "CH", "CHU"})


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


def _numbers(table: pd.DataFrame, column: str) -> np.ndarray:
    if column not in table.columns:
        return np.zeros(len(table))
    return pd.to_numeric(table[column], errors="coerce").fillna(0).to_numpy(dtype="float64")


def legal_entities(table: pd.DataFrame) -> np.ndarray:
    """Each row's legal entity: ``finess_ej`` where given, else the row's own ``finess``."""
    finess = table["finess"].astype(str).to_numpy(dtype=object)
    if "finess_ej" not in table.columns:
        return finess
    ej = table["finess_ej"].fillna("").astype(str).str.strip().to_numpy(dtype=object)
    return np.where(ej == "", finess, ej)


def _size_keys(table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return (_numbers(table, "staff_fte"), _numbers(table, "beds") + _numbers(table, "places"),
            _numbers(table, "had_places"))


def size_order(table: pd.DataFrame) -> np.ndarray:
    """Row positions from the largest to the smallest (staff, then beds + places, then HAD places; ties by finess).

    Examples
    --------
    >>> t = pd.DataFrame({"finess": ["b", "a", "c"], "staff_fte": [10.0, 10.0, 50.0], "beds": [0, 5, 0],
    ...                   "places": [0, 0, 0]})
    >>> size_order(t).tolist()
    [2, 1, 0]
    """
    staff, capacity, had = _size_keys(table)
    return np.lexsort((table["finess"].astype(str).to_numpy(), -had, -capacity, -staff))


def _type_of(table: pd.DataFrame, type_map: dict[str, list[str]]) -> np.ndarray:
    cat_type = {c: t for t, cats in type_map.items() for c in cats}
    return np.array([cat_type.get(c, "") for c in table["category"].astype(str)], dtype=object)


def assign_ght(table: pd.DataFrame, ght: pd.DataFrame, declared: dict[str, str] | None = None,
               type_map: dict[str, list[str]] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """GHT membership of public establishments, one GHT per legal entity: declarations first, then a top-up.

    Parameters
    ----------
    table : DataFrame
        ``finess, region, status, category, beds, places``; optionally ``finess_ej``, ``had_places``,
        ``staff_fte``.
    ght : DataFrame
        One row per GHT: ``code``, ``regions`` (list of region codes), and member counts by type (the keys of
        ``type_map``), which count member sites with beds, places or HAD places.
    declared : dict, optional
        finess -> GHT code declared by the site (only public sites and known codes count).
    type_map : dict, optional
        Member-count column -> categories it counts (default: ``categories.yaml`` ``ght_member_type``).

    Returns
    -------
    (codes, topped_up)
        ``codes``: GHT code per row ("" outside any GHT; never on a non-public row); ``topped_up``: rows that
        joined by the top-up.

    Notes
    -----
    *Declarations.* A legal entity's GHT is the one most of its public sites declare (a tie goes to the
    declaration of its largest site); every public site of the legal entity joins it.

    *Top-up.* Each GHT still lacks, for each type, its published count minus its member sites with capacity of
    that type. A candidate is a public legal entity without a declared GHT that has a public site with capacity;
    its region is that of its largest public site, its type that of its largest public site with capacity.
    Region by region, type by type, the GHT of the region take candidates in turn (round robin, in code order),
    each taking the largest remaining candidate of the type while it lacks sites of that type; a candidate joins
    with all its public sites, which count against the GHT's needs of their own types.
    """
    if type_map is None:
        type_map = reference.load_reference("categories")["ght_member_type"]
    n = len(table)
    codes = np.full(n, "", dtype=object)
    topped = np.zeros(n, dtype=bool)
    if n == 0:
        return codes, topped
    public = table["status"].astype(str).to_numpy() == "public"
    finess = table["finess"].astype(str).to_numpy()
    ej = legal_entities(table)
    region = table["region"].astype(str).to_numpy()
    staff, capacity, had = _size_keys(table)
    has_capacity = (capacity + had) > 0
    types = _type_of(table, type_map)
    known = set(ght["code"])
    order = size_order(table)
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)

    # Public sites of each legal entity, largest first.
    sites_of: dict[str, list[int]] = {}
    for i in order:
        if public[i]:
            sites_of.setdefault(ej[i], []).append(int(i))

    # Declarations, lifted to the legal entity.
    if declared:
        for sites in sites_of.values():
            votes = Counter(declared[finess[i]] for i in sites if declared.get(finess[i]) in known)
            if not votes:
                continue
            best = max(votes.values())
            tied = {code for code, v in votes.items() if v == best}
            code = next(declared[finess[i]] for i in sites if declared.get(finess[i]) in tied)
            codes[sites] = code

    # Top-up.
    need: dict[tuple[str, str], int] = {}
    for row in ght.itertuples(index=False):
        for t in type_map:
            have = int(np.sum((codes == row.code) & (types == t) & has_capacity))
            need[(row.code, t)] = int(getattr(row, t)) - have
    candidates: dict[tuple[str, str], list[str]] = {}
    for entity, sites in sites_of.items():  # dict order: legal entities by their largest site, largest first
        if codes[sites[0]] != "":
            continue
        typed = [i for i in sites if has_capacity[i] and types[i] != ""]
        if not typed:
            continue
        candidates.setdefault((region[sites[0]], types[typed[0]]), []).append(entity)
    entity_rank = {e: (-staff[s].sum(), -capacity[s].sum(), -had[s].sum(), e) for e, s in sites_of.items()}
    region_sets = {row.code: set(row.regions) for row in ght.itertuples(index=False)}
    for reg in sorted({r for rs in region_sets.values() for r in rs}):
        ghts = sorted(code for code, rs in region_sets.items() if reg in rs)
        for t in type_map:
            pool = sorted(candidates.get((reg, t), []), key=entity_rank.__getitem__)
            pos = 0
            while pos < len(pool):
                served = False
                for code in ghts:
                    if pos >= len(pool):
                        break
                    if need[(code, t)] > 0:
                        sites = sites_of[pool[pos]]
                        codes[sites] = code
                        topped[sites] = True
                        for i in sites:
                            if has_capacity[i] and types[i] != "":
                                need[(code, types[i])] -= 1
                        pos += 1
                        served = True
                if not served:
                    break
    return codes, topped


def ght_support(table: pd.DataFrame, codes: np.ndarray) -> np.ndarray:
    """Support establishment of each GHT: the largest site of its largest member legal entity.

    Members are ranked by the sums over their sites in the GHT, sites by their own figures: salaried staff, else
    beds + places, then HAD places; ties go to the smaller ``finess_ej`` / ``finess``.

    Examples
    --------
    >>> t = pd.DataFrame({"finess": ["010000001", "010000002", "010000003"], "finess_ej": ["A", "A", "B"],
    ...                   "staff_fte": [100.0, 300.0, 350.0], "beds": [50, 10, 400], "places": [0, 0, 0]})
    >>> ght_support(t, np.array(["X", "X", "X"], dtype=object)).tolist()
    [False, True, False]
    """
    n = len(table)
    support = np.zeros(n, dtype=bool)
    codes = np.asarray(codes, dtype=object)
    if n == 0:
        return support
    ej = legal_entities(table)
    staff, capacity, had = _size_keys(table)
    order = size_order(table)
    members: dict[str, dict[str, list[int]]] = {}
    for i in order:
        if codes[i]:
            members.setdefault(codes[i], {}).setdefault(ej[i], []).append(int(i))
    for entities in members.values():
        best = min(entities, key=lambda e: (-staff[entities[e]].sum(), -capacity[entities[e]].sum(),
                                            -had[entities[e]].sum(), e))
        support[entities[best][0]] = True
    return support
