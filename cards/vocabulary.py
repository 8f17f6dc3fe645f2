"""The project's own code systems used on cards, and the FHIR codes suggestions carry.

Two code systems are defined by this project (documented in the README):

* ``CARD_TOPIC_SYSTEM`` = ``http://omalizumab-cds.org/CodeSystem/card-topic``: ``card.source.topic.system``;
  the codes are the topics of ../shared/docs/card-contract.md (``clinical_core.decisions.TOPICS``).
* ``OVERRIDE_REASON_SYSTEM`` = ``http://omalizumab-cds.org/CodeSystem/override-reason``: the
  ``overrideReasons`` offered on every warning and critical card (``OVERRIDE_REASONS``).

Route and unit codes are clinical codes and so live with the other code sets, in
``fhir_mappings/data/codesets/routes.json``, with their sources (the mappings read drafted routes from it too).
"""
from __future__ import annotations

from functools import cache
from types import MappingProxyType
from typing import Any

CARD_TOPIC_SYSTEM = "http://omalizumab-cds.org/CodeSystem/card-topic"
OVERRIDE_REASON_SYSTEM = "http://omalizumab-cds.org/CodeSystem/override-reason"

RXNORM_SYSTEM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM_SYSTEM = "http://unitsofmeasure.org"

# Offered on every warning/critical card; the feedback endpoint receives one of these back.
# Modelled on the CDS Hooks 3.0 ballot non-adherence-reason categories, kept short for a sidebar.
OVERRIDE_REASONS: tuple[tuple[str, str], ...] = (
    ("clinical-judgement", "Clinical judgement: does not apply to this patient"),
    ("patient-declined", "Patient declined"),
    ("data-out-of-date", "Chart data is out of date or wrong"),
    ("already-discussed", "Already discussed or addressed"),
    ("not-applicable", "Not applicable to this order"),
)

# Human display of each topic code (source.topic.display).
TOPIC_DISPLAYS: dict[str, str] = {
    "omalizumab-dose": "Omalizumab dose from the label table",
    "omalizumab-dose-mismatch": "Drafted omalizumab dose differs from the label table",
    "omalizumab-not-dosable": "Omalizumab fits but no dose can be computed",
    "omalizumab-not-preferred": "Omalizumab does not fit this phenotype",
    "anti-il5-recommended": "Anti-IL-5/5R biologic fits (eosinophilic phenotype)",
    "leukotriene-modifier-recommended": "Leukotriene modifier fits (AERD)",
    "cyclosporine-unsafe": "Cyclosporine risk: kidney function or blood pressure",
    "food-allergy-omalizumab": "Omalizumab in IgE-mediated food allergy",
    "pemphigoid-itch-off-label": "Off-label omalizumab for bullous pemphigoid itch",
    "data-needed": "Data needed to decide",
    "data-unavailable": "FHIR data unavailable: partial answer",
}

SOURCE_PRODUCT = "Omalizumab CDS"


# The codings of OVERRIDE_REASONS, built once; `override_reason_codings` hands out copies. Read-only views
# (no one holds the dicts themselves): cards.validation decides once, at import, that the copies pass.
_OVERRIDE_REASON_CODINGS: tuple[MappingProxyType, ...] = tuple(
    MappingProxyType({"system": OVERRIDE_REASON_SYSTEM, "code": code, "display": display})
    for code, display in OVERRIDE_REASONS)


def override_reason_codings() -> list[dict[str, str]]:
    """The override-reason codings, as fresh dicts (a caller may change its card): copies of the table
    built once at import, by one C-level map (~9,000 -> ~2,500 instructions a warning card)."""
    return list(map(MappingProxyType.copy, _OVERRIDE_REASON_CODINGS))


@cache
def suggestion_codes() -> dict[str, Any]:
    """fhir_mappings/data/codesets/routes.json (route, dose-unit and period-unit codes), loaded once."""
    from fhir_mappings.codesets import route_table

    return route_table()


def route_coding(route: str | None) -> dict[str, str] | None:
    """SNOMED CT coding for 'subcutaneous' / 'intravenous' / 'oral', or None for an unlisted route."""
    if not route:
        return None
    data = suggestion_codes()
    entry = data["routes"].get(route.strip().lower())
    if entry is None:
        return None
    return {"system": data["system"], "code": entry["code"], "display": entry["display"]}


def dose_unit_allowed(unit: str | None) -> bool:
    return bool(unit) and unit in suggestion_codes()["dose_units"]["codes"]


def period_unit_allowed(unit: str | None) -> bool:
    return bool(unit) and unit in suggestion_codes()["period_units"]["codes"]
