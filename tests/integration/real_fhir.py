"""Helpers for the tests against a real FHIR server (tools/fhir_server: Medplum's FHIR router, npm).

The server runs once per session on 127.0.0.1, with a page size cap of PAGE_CAP, so that every search
matching more resources than that is paged through `next` links, as servers with a small page size
(or a `_count` ceiling) answer. Each demo patient is loaded as its own transaction Bundle of PUT
entries (ids kept); on-treatment's omalizumab MedicationRequest and MedicationStatement are then
replaced by copies that name the drug through `medicationReference` to Medication resources on the
server, so the service has to resolve them there.
"""
from __future__ import annotations

import copy
import uuid
from typing import Any

from tests.e2e.hooks import ANCHOR, RXNORM, USER, draft, hook_request, patient_resources

PAGE_CAP = 2  # the server's largest page: every search with 3 or more matches is paged
ON_TREATMENT = "on-treatment"
REFERENCED = {  # on-treatment's omalizumab request / statement -> the Medication it will reference
    "otx-medrx-1": "otx-med-xolair-300-syringe",
    "otx-medst-1": "otx-med-xolair-300-sc",
}


def medication_reference_variant() -> list[dict]:
    """Medication resources plus on-treatment's omalizumab MedicationRequest / MedicationStatement
    rewritten to `medicationReference` (same ids: loading them replaces the inline-coded ones)."""
    out: list[dict] = []
    for resource in patient_resources(ON_TREATMENT):
        med_id = REFERENCED.get(resource["id"])
        if med_id is None:
            continue
        concept = resource["medicationCodeableConcept"]
        assert any(c.get("system") == RXNORM for c in concept.get("coding", [])), resource["id"]
        out.append({"resourceType": "Medication", "id": med_id, "status": "active",
                    "code": copy.deepcopy(concept)})
        changed = copy.deepcopy(resource)
        del changed["medicationCodeableConcept"]
        changed["medicationReference"] = {"reference": f"Medication/{med_id}"}
        out.append(changed)
    assert len(out) == 2 * len(REFERENCED)
    return out


def scenario_request(p: dict, hook: str) -> dict:
    """The hook request of one index.json scenario with the complete prefetch (tests/e2e/hooks.py)."""
    resources = patient_resources(p["slug"])
    drafts = []
    if hook != "patient-view":
        drafts = [draft(p["expected"][hook]["draft"], p["patientId"])]
    request = hook_request(hook, resources, drafts=drafts)
    assert request["context"]["userId"] == USER
    return request


def without_prefetch(request: dict, fhir_base: str) -> dict:
    """The same request with no prefetch keys at all: the service must fetch everything."""
    out = copy.deepcopy(request)
    out.pop("prefetch", None)
    out["hookInstance"] = str(uuid.uuid4())
    out["fhirServer"] = fhir_base
    return out


def comparable(value: Any) -> Any:
    """A card list with every `uuid` removed (cards and suggestions get fresh ones per call)."""
    if isinstance(value, dict):
        return {k: comparable(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [comparable(v) for v in value]
    return value


def topic(card: dict) -> str:
    return card["source"]["topic"]["code"]


def check_expected(p: dict, hook: str, cards: list[dict]) -> None:
    """index.json's expected answer (written from the clinical brief, not read back from the service)."""
    exp = p["expected"][hook]
    got = [topic(c) for c in cards]
    label = f"{p['slug']} {hook}: got {[(t, c['summary']) for t, c in zip(got, cards)]}"
    assert set(exp["must"]) <= set(got), label
    assert set(got) <= set(exp["must"]) | set(exp["may"]) | set(exp.get("anyOf", [])), label
    if exp.get("anyOf"):
        assert set(exp["anyOf"]) & set(got), label
    dose = p.get("dose")
    if hook == "patient-view" and dose:
        wanted, every = f"{dose['mg']} mg", f"every {dose['intervalWeeks']} weeks"
        assert any(wanted in c["summary"] and every in c["summary"]
                   for c in cards if topic(c) == "omalizumab-dose"), label


__all__ = ["ANCHOR", "PAGE_CAP", "ON_TREATMENT", "REFERENCED", "medication_reference_variant",
           "scenario_request", "without_prefetch", "comparable", "topic", "check_expected"]
