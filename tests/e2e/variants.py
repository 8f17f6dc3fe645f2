"""Edits of a demo patient's FHIR resources for the boundary walk and the hook-consistency matrix.

Each helper changes a copy of the resources the way a chart would differ (a result value, an age, a
diagnosis removed), with codes read from the mappings' own code-set files, so a test never restates a
code the service would not recognise.
"""
from __future__ import annotations

import re
from datetime import date
from typing import Iterable

from tests.e2e.hooks import ANCHOR, has_loinc

UCUM = "http://unitsofmeasure.org"


def loinc_of(*concepts: str) -> tuple[str, ...]:
    from fhir_mappings import codesets
    return codesets.loinc_codes_for(*concepts)


def set_quantity(resources: list[dict], concepts: Iterable[str], value: float, unit: str) -> int:
    """Every Observation of these LOINC concepts gets this value and UCUM unit (so the newest one has it)."""
    codes = loinc_of(*concepts)
    n = 0
    for r in resources:
        if has_loinc(r, *codes) and "valueQuantity" in r:
            r["valueQuantity"] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
            n += 1
    assert n, f"no Observation of {concepts} to edit"
    return n


def drop(resources: list[dict], *, ids: Iterable[str] = (), loinc: Iterable[str] = ()) -> None:
    """Remove resources by id, or Observations by LOINC concept."""
    ids, codes = set(ids), loinc_of(*loinc) if loinc else ()
    resources[:] = [r for r in resources if r.get("id") not in ids and not (codes and has_loinc(r, *codes))]


def drop_text(resources: list[dict], resource_type: str, pattern: str) -> None:
    """Remove resources of a type whose code / medication text matches a pattern (case-insensitive)."""
    rx = re.compile(pattern, re.IGNORECASE)

    def text(r: dict) -> str:
        concept = r.get("code") or r.get("medicationCodeableConcept") or {}
        return " ".join([concept.get("text") or ""] + [c.get("display") or "" for c in concept.get("coding", [])])

    resources[:] = [r for r in resources if not (r["resourceType"] == resource_type and rx.search(text(r)))]


def set_age(resources: list[dict], years: int) -> None:
    """Birth date so that the patient is exactly `years` old at the anchor date (the birthday is today)."""
    for r in resources:
        if r["resourceType"] == "Patient":
            r["birthDate"] = date(ANCHOR.year - years, ANCHOR.month, ANCHOR.day).isoformat()


def set_bp(resources: list[dict], systolic: float, diastolic: float) -> None:
    """Every blood-pressure panel reads systolic/diastolic (newest and the recent ones alike)."""
    sys_codes, dia_codes = loinc_of("bp-systolic"), loinc_of("bp-diastolic")
    n = 0
    for r in resources:
        for comp in r.get("component", []) if r["resourceType"] == "Observation" else []:
            codes = {c.get("code") for c in comp.get("code", {}).get("coding", [])}
            if codes & set(sys_codes):
                comp["valueQuantity"] = {"value": systolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
                n += 1
            elif codes & set(dia_codes):
                comp["valueQuantity"] = {"value": diastolic, "unit": "mmHg", "system": UCUM, "code": "mm[Hg]"}
    assert n, "no blood-pressure panel to edit"


def set_condition_code(resources: list[dict], resource_id: str, system: str, code: str, display: str) -> None:
    for r in resources:
        if r.get("id") == resource_id:
            r["code"] = {"coding": [{"system": system, "code": code, "display": display}], "text": display}
            return
    raise AssertionError(f"no resource {resource_id}")
