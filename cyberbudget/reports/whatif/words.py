"""Every word the what-if app shows, in one place (French first; English for the internal audience).

A later message catalogue can absorb this module as it is: :data:`WORDS` maps a language to ``{key: text}``,
:func:`word` looks a key up (``{placeholders}`` filled with :meth:`str.format`). Labels of statuses, categories
and regions come from :func:`cyberbudget.reports.plots.label`, numbers from :mod:`cyberbudget.formatting`.

Examples
--------
>>> word("fr", "n_eligible")
'Établissements éligibles'
>>> word("en", "saved", path="scenarios/x.yaml")
'Saved: scenarios/x.yaml'
"""

from __future__ import annotations

from cyberbudget.formatting import check_lang

__all__ = ["CHOICES", "WORDS", "choice", "word"]

WORDS: dict[str, dict[str, str]] = {
    "fr": {
        # page
        "title": "Simulateur : répartition de l'enveloppe cybersécurité",
        "intro": ("Modifiez les règles : chaque changement recalcule la répartition de l'enveloppe avec le "
                  "moteur de cyberbudget (les mêmes règles que les rapports) et la compare au scénario de "
                  "référence. Chiffres agrégés ; les cellules de moins de {k} établissements ne sont pas "
                  "diffusées."),
        "default_table": "table synthétique par défaut",
        "data_source": "Table : {source} — {n} établissements",
        # sections
        "section_reference": "Scénario de référence",
        "section_envelope": "Enveloppe et éligibilité",
        "section_rule": "Règle de répartition",
        "section_uptake": "Unité et comportement",
        "section_save": "Enregistrer comme scénario",
        # controls
        "reference": "Référence",
        "reset": "Revenir à la référence",
        "total_meur": "Enveloppe (M€)",
        "min_share": "Seuil minimal",
        "max_share": "Plafond du corridor",
        "exclude_above_max": "Exclure au-delà du plafond (« renégocier »)",
        "statuses": "Statuts éligibles",
        "medico_social": "Inclure le médico-social",
        "rule": "Règle",
        "base": "Clé de répartition",
        "match_rate": "Taux d'abondement",
        "target_share": "Part cible",
        "tiers": "Ordre des paliers",
        "tiers_help": "glisser pour réordonner, taper un groupe pour l'ajouter",
        "tier_amount": "Servi en entier",
        "floor_eur": "Plancher (€)",
        "floor_disabled": "Le plancher (par bénéficiaire, sur la période) ne s'applique qu'aux règles proportionnelle et optimale.",
        "cap_on": "Plafonner chaque bénéficiaire (sur la période)",
        "cap_eur": "Plafond (€)",
        "unit": "Unité bénéficiaire",
        "unit_only_establishment": "Unités de financement : non disponibles dans cette version du moteur",
        "uptake": "Adhésion sous le seuil",
        "save_name": "Nom du fichier",
        "save_placeholder": "ex. seuil_6_pct",
        "save_overwrite": "Écraser s'il existe",
        "save_button": "Enregistrer comme scénario",
        # key figures
        "kf_title": "Chiffres clés",
        "kf_current": "Scénario",
        "kf_reference": "Référence : {name}",
        "kf_difference": "Écart",
        "n_units_eligible": "Unités éligibles ({unit})",
        "n_eligible": "Établissements éligibles",
        "allocated": "Montant alloué",
        "unallocated": "Non alloué",
        "induced": "Dépense cyber induite (sur la période)",
        "avoided": "Pertes évitées (par an)",
        "not_disclosed": "non diffusé",
        "not_disclosed_long": "non diffusé (< {k} établissements)",
        "below_k": "< {k}",
        # units
        "unit_establishment": "établissements",
        "unit_legal_entity": "entités juridiques",
        "unit_ght": "GHT",
        # figures
        "hist_title": "{below} {what} sur {total} sont sous le seuil de {min}",
        "hist_subtitle": "Part du budget informatique consacrée à la cybersécurité avant la politique, statuts "
                         "éligibles ; barres de {width} ; barres de moins de {k} non diffusées",
        "hist_x": "Part cyber du budget informatique (%)",
        "hist_y": "Établissements",
        "hist_y_units": "Unités",
        "hist_below": "Sous le seuil",
        "hist_corridor": "Dans le corridor",
        "hist_above": "Au-delà du plafond",
        "hist_above_excluded": "Au-delà du plafond (exclus)",
        "hist_min": "seuil {value}",
        "hist_max": "plafond {value}",
        "by_region_title": "Subventions par région",
        "by_status_title": "Subventions par statut",
        "by_subtitle": "Sur toute la période, M€ ; en gris, la référence « {name} » ; cellules de moins de "
                       "{k} établissements non diffusées",
        "current": "Scénario",
        "reference_marker": "Référence",
        "meur": "M€",
        "diff_title": "Écart avec « {name} » : {text}",
        "diff_none": "aucun écart de subvention",
        "diff_most": "{group} gagne le plus ({value})",
        "diff_least": "{group} perd le plus ({value})",
        "diff_subtitle": "Subventions du scénario moins celles de la référence, M€ ; "
                         "écart non diffusé si l'une des deux cellules ne l'est pas",
        "diff_status": "Par statut",
        "diff_region": "Par région",
        # messages
        "invalid": "Scénario invalide — les chiffres affichés sont ceux du dernier scénario valide.",
        "saved": "Enregistré : {path} (cyberbudget run {path})",
        "save_invalid_name": "Nom invalide : {name!r} — lettres minuscules, chiffres, « _ » ou « - » seulement.",
        "save_exists": "Le fichier {path} existe déjà : cochez « Écraser s'il existe » pour le remplacer.",
        "save_self": "Le scénario ne peut pas porter le nom de sa référence ({name}).",
        "save_invalid_state": "Le scénario courant est invalide : corrigez-le avant de l'enregistrer.",
        "save_description": "Variante de « {reference} » créée avec le simulateur : {changes}.",
        "save_no_change": "Copie de « {reference} » créée avec le simulateur (aucune modification).",
        "save_header": "Écrit par le simulateur cyberbudget (cyberbudget app) le {date} : les clés qui "
                       "diffèrent de {reference}.",
        "yes": "oui",
        "no": "non",
        "none": "aucun",
        "updated": "Recalculé en {ms} ms",
    },
    "en": {
        "title": "What-if: how the cybersecurity envelope is shared",
        "intro": ("Change the rules: every change recomputes the allocation of the envelope with cyberbudget's "
                  "engine (the same rules as the reports) and compares it with the reference scenario. "
                  "Aggregated figures; cells of fewer than {k} establishments are not disclosed."),
        "default_table": "default synthetic table",
        "data_source": "Table: {source} — {n} establishments",
        "section_reference": "Reference scenario",
        "section_envelope": "Envelope and eligibility",
        "section_rule": "Allocation rule",
        "section_uptake": "Unit and behaviour",
        "section_save": "Save as scenario",
        "reference": "Reference",
        "reset": "Back to the reference",
        "total_meur": "Envelope (M€)",
        "min_share": "Minimum share",
        "max_share": "Corridor ceiling",
        "exclude_above_max": "Exclude above the ceiling (\"renegotiate\")",
        "statuses": "Eligible statuses",
        "medico_social": "Include medico-social",
        "rule": "Rule",
        "base": "Allocation key",
        "match_rate": "Match rate",
        "target_share": "Target share",
        "tiers": "Tier order",
        "tiers_help": "drag to reorder, type a group to add it",
        "tier_amount": "Served in full",
        "floor_eur": "Floor (€)",
        "floor_disabled": "Floor: proportional (or optimal) rule only",
        "cap_on": "Cap each recipient",
        "cap_eur": "Cap (€)",
        "unit": "Funding unit",
        "unit_only_establishment": "Funding units: not available in this version of the engine",
        "uptake": "Uptake below threshold",
        "save_name": "File name",
        "save_placeholder": "e.g. threshold_6_pct",
        "save_overwrite": "Overwrite if it exists",
        "save_button": "Save as scenario",
        "kf_title": "Key figures",
        "kf_current": "Scenario",
        "kf_reference": "Reference: {name}",
        "kf_difference": "Difference",
        "n_units_eligible": "Eligible units ({unit})",
        "n_eligible": "Eligible establishments",
        "allocated": "Allocated",
        "unallocated": "Unallocated",
        "induced": "Induced cyber spend (over the period)",
        "avoided": "Avoided losses (per year)",
        "not_disclosed": "not disclosed",
        "not_disclosed_long": "not disclosed (< {k} establishments)",
        "below_k": "< {k}",
        "unit_establishment": "establishments",
        "unit_legal_entity": "legal entities",
        "unit_ght": "GHT",
        "hist_title": "{below} of {total} {what} are below the {min} threshold",
        "hist_subtitle": "Share of the IT budget spent on cybersecurity before the policy, eligible statuses; "
                         "bars of {width}; bars of fewer than {k} not disclosed",
        "hist_x": "Cyber share of the IT budget (%)",
        "hist_y": "Establishments",
        "hist_y_units": "Units",
        "hist_below": "Below the threshold",
        "hist_corridor": "In the corridor",
        "hist_above": "Above the ceiling",
        "hist_above_excluded": "Above the ceiling (excluded)",
        "hist_min": "threshold {value}",
        "hist_max": "ceiling {value}",
        "by_region_title": "Grants by region",
        "by_status_title": "Grants by status",
        "by_subtitle": "Over the whole period, M€; in grey, the reference \"{name}\"; cells of fewer than {k} "
                       "establishments not disclosed",
        "current": "Scenario",
        "reference_marker": "Reference",
        "meur": "M€",
        "diff_title": "Difference with \"{name}\": {text}",
        "diff_none": "no difference in grants",
        "diff_most": "{group} gains most ({value})",
        "diff_least": "{group} loses most ({value})",
        "diff_subtitle": "Scenario grants minus reference grants, M€; not disclosed when either cell is not",
        "diff_status": "By status",
        "diff_region": "By region",
        "invalid": "Invalid scenario — the figures shown are those of the last valid scenario.",
        "saved": "Saved: {path}",
        "save_invalid_name": "Invalid name: {name!r} — lowercase letters, digits, '_' or '-' only.",
        "save_exists": "{path} already exists: tick \"Overwrite if it exists\" to replace it.",
        "save_self": "The scenario cannot take the name of its reference ({name}).",
        "save_invalid_state": "The current scenario is invalid: fix it before saving.",
        "save_description": "Variant of \"{reference}\" made with the what-if app: {changes}.",
        "save_no_change": "Copy of \"{reference}\" made with the what-if app (no change).",
        "save_header": "Written by the cyberbudget what-if app (cyberbudget app) on {date}: the keys that differ "
                       "from {reference}.",
        "yes": "yes",
        "no": "no",
        "none": "none",
        "updated": "Recomputed in {ms} ms",
    },
}

#: Labels of the values a control can take (codes of the scenario file → words).
CHOICES: dict[str, dict[str, dict[str, str]]] = {
    "fr": {
        "rule": {"proportional": "Proportionnelle (au prorata de la clé)", "matching": "Abondement",
                 "gap": "Écart à la cible", "tiered": "Par paliers de priorité",
                 "optimal": "Optimale (pertes évitées)"},
        "base": {"it_budget_eur": "Budget informatique", "operating_budget_eur": "Budget de fonctionnement",
                 "cyber_spend_eur": "Dépense cyber", "beds": "Lits", "places": "Places",
                 "had_places": "Places d'HAD", "staff_fte": "Effectifs (ETP)", "headcount": "Effectifs (CaRE)"},
        "tier_amount": {"need": "Besoin (écart à la part cible)", "demand": "Demande (abondement)",
                        "cap": "Plafond par bénéficiaire"},
        "unit": {"establishment": "Établissement (FINESS géographique)",
                 "legal_entity": "Entité juridique (FINESS juridique)", "ght": "GHT (membres publics)"},
        "uptake": {"none": "Aucune (dépenses inchangées)", "full": "Totale (tous montent au seuil)",
                   "logistic": "Logistique (selon subvention attendue / coût)"},
        "tier_group": {"ose": "OSE", "ght_support": "Support de GHT"},
    },
    "en": {
        "rule": {"proportional": "Proportional (pro rata to the key)", "matching": "Matching",
                 "gap": "Gap to target", "tiered": "Priority tiers", "optimal": "Optimal (avoided losses)"},
        "base": {"it_budget_eur": "IT budget", "operating_budget_eur": "Operating budget",
                 "cyber_spend_eur": "Cyber spend", "beds": "Beds", "places": "Places",
                 "had_places": "HAD places", "staff_fte": "Staff (FTE)", "headcount": "Headcount (CaRE)"},
        "tier_amount": {"need": "Need (gap to the target share)", "demand": "Demand (matching)",
                        "cap": "Cap per recipient"},
        "unit": {"establishment": "Establishment (site)", "legal_entity": "Legal entity",
                 "ght": "GHT (public members)"},
        "uptake": {"none": "None (spend unchanged)", "full": "Full (all rise to the threshold)",
                   "logistic": "Logistic (expected grant / cost)"},
        "tier_group": {"ose": "OSE", "ght_support": "GHT support"},
    },
}


def word(lang: str, key: str, **values: object) -> str:
    """The app's text ``key`` in ``lang``, placeholders filled.

    Raises
    ------
    KeyError
        No such key (every key exists in every language; a test checks it).
    """
    text = WORDS[check_lang(lang)][key]
    return text.format(**values) if values else text


def choice(lang: str, control: str, code: str) -> str:
    """Label of the value ``code`` of ``control`` (the code itself when it has no label)."""
    return CHOICES[check_lang(lang)].get(control, {}).get(code, code)
