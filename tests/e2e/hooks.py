"""Whole CDS Hooks requests built from the demo patients, and the checks every response must pass.

The prefetch is what a CDS client would send: every discovery template, filled with the patient id and
answered from the patient's own FHIR resources (demo/patients/*.json, dates as of the demo anchor date,
which the service also uses as CDS_CLOCK) by the project's FHIR search (demo.fhir_search, what
/demo/fhir serves). A test may edit a copy of the patient's resources first (e.g. a lower eGFR).
"""
from __future__ import annotations

import copy
import re
import uuid
from datetime import date
from typing import Any, Callable
from urllib.parse import parse_qsl

from fhir.resources.R4B.medicationrequest import MedicationRequest

ANCHOR = date(2026, 11, 1)
CLOCK = ANCHOR.isoformat()
USER = "Practitioner/demo-practitioner"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCT = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
SEVERITY = {"critical": 0, "warning": 1, "info": 2}


def patient_resources(slug: str) -> list[dict]:
    """A deep copy of the demo patient's resources as of the anchor date."""
    from demo import store
    bundle = store.store_for(ANCHOR).bundles[slug]
    return [copy.deepcopy(e["resource"]) for e in bundle["entry"]]


def patient_id_of(resources: list[dict]) -> str:
    return next(r["id"] for r in resources if r["resourceType"] == "Patient")


def draft(draft_id: str, patient_id: str, **changes: Any) -> dict:
    from demo import store
    resource = store.store_for(ANCHOR).draft_for(draft_id, patient_id)
    assert resource is not None, f"demo draft {draft_id} missing"
    for key, value in changes.items():
        if value is None:
            resource.pop(key, None)
        else:
            resource[key] = value
    return resource


def _fill(template: str, context: dict) -> str:
    return re.sub(r"\{\{\s*context\.(\w+)\s*\}\}", lambda m: str(context[m.group(1)]), template)


def _searchset(resources: list[dict]) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", "total": len(resources),
            "entry": [{"fullUrl": f"http://fhir.example.org/r4/{r['resourceType']}/{r['id']}",
                       "resource": r, "search": {"mode": "match"}} for r in resources]}


def prefetch_for(resources: list[dict], context: dict) -> dict:
    """Every discovery prefetch template, answered from `resources`."""
    import fhir_mappings
    from demo import fhir_search

    out: dict[str, Any] = {}
    for key, template in fhir_mappings.prefetch_templates().items():
        query = _fill(template, context)
        rtype, _, qs = query.partition("?")
        if not qs:
            rtype, _, rid = query.partition("/")
            out[key] = next((copy.deepcopy(r) for r in resources
                             if r["resourceType"] == rtype and r["id"] == rid), None)
            continue
        candidates = [r for r in resources if r["resourceType"] == rtype]
        result = fhir_search.search(candidates, rtype, parse_qsl(qs, keep_blank_values=True))
        out[key] = _searchset(copy.deepcopy(list(result.page)))
    return out


def hook_request(hook: str, resources: list[dict], *, drafts: list[dict] | None = None,
                 selections: list[str] | None = None, bundle_type: str | None = None,
                 extra_draft_entries: list[dict] | None = None) -> dict:
    patient_id = patient_id_of(resources)
    context: dict[str, Any] = {"userId": USER, "patientId": patient_id}
    if hook != "patient-view":
        bundle: dict[str, Any] = {"resourceType": "Bundle"}
        if bundle_type:
            bundle["type"] = bundle_type  # the hook library's examples omit `type`
        bundle["entry"] = [{"resource": d} for d in (drafts or [])] + list(extra_draft_entries or [])
        context["draftOrders"] = bundle
        if hook == "order-select":
            context["selections"] = selections if selections is not None else [
                f"MedicationRequest/{d['id']}" for d in (drafts or []) if d.get("id")]
    return {
        "hook": hook,
        "hookInstance": str(uuid.uuid4()),
        "context": context,
        "prefetch": prefetch_for(resources, context),
    }


def call(client, request: dict) -> list[dict]:
    from cds_service.services import ORDER_REVIEW_ID, PATIENT_VIEW_ID
    service = PATIENT_VIEW_ID if request["hook"] == "patient-view" else ORDER_REVIEW_ID
    response = client.post(f"/cds-services/{service}", json=request)
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True)[:2000])
    body = response.get_json()
    cards = body["cards"]
    check_response(cards)
    return cards


def check_response(cards: list[dict]) -> None:
    """What every response must satisfy, whatever the scenario."""
    from cards import validate_card
    ranks = [SEVERITY[c["indicator"]] for c in cards]
    assert ranks == sorted(ranks), "cards must be most severe first"
    ids = []
    for card in cards:
        validate_card(card)
        ids.append(card["uuid"])
        for suggestion in card.get("suggestions", []):
            ids.append(suggestion["uuid"])
            for action in suggestion["actions"]:
                if "resource" in action:
                    MedicationRequest.model_validate(action["resource"])
    assert len(ids) == len(set(ids)), "uuids must be unique"
    omalizumab_topics = [c["source"]["topic"]["code"] for c in cards
                         if c["source"]["topic"]["code"] == "omalizumab-dose"]
    assert len(omalizumab_topics) <= 1, "one omalizumab dose card at most"


# --- reading a response ----------------------------------------------------------------------------

def topics(cards: list[dict]) -> list[str]:
    return [c["source"]["topic"]["code"] for c in cards]


def the_card(cards: list[dict], topic: str) -> dict:
    found = [c for c in cards if c["source"]["topic"]["code"] == topic]
    assert len(found) == 1, f"expected one {topic} card, got topics {topics(cards)}"
    return found[0]


def actions(card: dict, action_type: str) -> list[dict]:
    return [a for s in card.get("suggestions", []) for a in s["actions"] if a["type"] == action_type]


def regimen(resource: dict) -> dict:
    """The facts of a suggested MedicationRequest a test asserts on."""
    dosage = resource["dosageInstruction"][0]
    quantity = dosage["doseAndRate"][0]["doseQuantity"]
    repeat = dosage["timing"]["repeat"]
    rx = [c["code"] for c in resource.get("medicationCodeableConcept", {}).get("coding", [])
          if c.get("system") == RXNORM]
    route = [c["code"] for c in dosage.get("route", {}).get("coding", []) if c.get("system") == SCT]
    return {"rxnorm": rx[0] if rx else None, "dose": quantity["value"], "unit": quantity["code"],
            "unit_system": quantity["system"], "frequency": repeat["frequency"], "period": repeat["period"],
            "periodUnit": repeat["periodUnit"], "route": route[0] if route else None,
            "intent": resource["intent"], "status": resource["status"]}


def edit(resources: list[dict], predicate: Callable[[dict], bool], change: Callable[[dict], None]) -> int:
    n = 0
    for r in resources:
        if predicate(r):
            change(r)
            n += 1
    return n


def has_loinc(resource: dict, *codes: str) -> bool:
    return resource["resourceType"] == "Observation" and any(
        c.get("system") == "http://loinc.org" and c.get("code") in codes
        for c in resource.get("code", {}).get("coding", []))
